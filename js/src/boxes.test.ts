import { describe, expect, it } from "vitest";
import { boxOf, boxShapes, boxStyle, parseBoxes, promptBox } from "./boxes";

describe("boxes", () => {
  it("parses the reply's boxes, skipping malformed ones", () => {
    const got = parseBoxes([
      { entity: "e1", x: 1, y: 2, w: 3, h: 4, source: "human", keyframe: true },
      { entity: "e2", x: "a", y: 0, w: 1, h: 1 },
      { x: 0, y: 0, w: 1, h: 1 },
      null,
    ]);
    expect(got).toEqual([{ entity: "e1", x: 1, y: 2, w: 3, h: 4, source: "human", keyframe: true }]);
    expect(parseBoxes(undefined)).toEqual([]);
  });

  it("keyframe boxes are solid, interpolated ones dashed; the selected entity's bolder", () => {
    expect(boxStyle({ source: "human" }, false)).toEqual({ dash: [], lineWidth: 1.5 });
    expect(boxStyle({ source: "interpolated" }, false).dash.length).toBeGreaterThan(0);
    expect(boxStyle({ source: null }, true).lineWidth).toBeGreaterThan(1.5);
  });

  it("draws visible entities only, in their colour, the selected last", () => {
    const boxes = parseBoxes([
      { entity: "a", x: 0, y: 0, w: 1, h: 1, source: "interpolated", keyframe: false },
      { entity: "b", x: 0, y: 0, w: 2, h: 2, source: "human", keyframe: true },
      { entity: "c", x: 0, y: 0, w: 3, h: 3, source: "human", keyframe: true },
      { entity: "gone", x: 0, y: 0, w: 3, h: 3, source: "human", keyframe: true },
    ]);
    const colors = new Map([["a", "#ff0000"], ["b", "#00ff00"], ["c", "#0000ff"]]);
    const shapes = boxShapes(boxes, colors, new Set(["c"]), "a");
    expect(shapes.map((s) => s.color)).toEqual(["#00ff00", "#ff0000"]);
    expect(shapes[1]!.dash.length).toBeGreaterThan(0);
  });

  it("finds the entity's box and turns it into a prompt box", () => {
    const boxes = parseBoxes([{ entity: "a", x: 1, y: 2, w: 3, h: 4, source: "human", keyframe: true }]);
    expect(boxOf(boxes, "b")).toBeUndefined();
    expect(boxOf(boxes, "")).toBeUndefined();
    expect(promptBox(boxOf(boxes, "a")!)).toEqual([1, 2, 4, 6]);
  });
});
