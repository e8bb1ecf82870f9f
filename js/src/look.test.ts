import { describe, expect, it } from "vitest";
import { readLook } from "./look";

const traits = (over: Record<string, unknown> = {}) => {
  const t: Record<string, unknown> = {
    entities: [
      { id: "a", name: "A", category: "", color: "#ff0000", index: 1 },
      { id: "b", name: "B", category: "", color: "#0000ff", index: 2 },
    ],
    entity: "a",
    hidden: [],
    opacity: 0.4,
    outline: false,
    ...over,
  };
  return (n: string) => t[n];
};

describe("readLook", () => {
  it("reads entities, colours, selection and style", () => {
    const l = readLook(traits(), 2);
    expect(l.order).toEqual(["a", "b"]);
    expect(l.colors.get("b")).toEqual([0, 0, 255]);
    expect(l.style).toMatchObject({ opacity: 0.4, outline: false, highlight: "a", lineWidth: 2 });
  });

  it("the key changes with every input that changes pixels, and only then", () => {
    const base = readLook(traits(), 1).key;
    expect(readLook(traits(), 1).key).toBe(base);
    for (const over of [{ opacity: 0.5 }, { outline: true }, { hidden: ["b"] }, { entity: "b" }, { entities: [{ id: "a", name: "A", category: "", color: "#00ff00", index: 1 }] }])
      expect(readLook(traits(over), 1).key).not.toBe(base);
    expect(readLook(traits({ hidden: ["a", "b"] }), 1).key).toBe(readLook(traits({ hidden: ["b", "a"] }), 1).key);
  });

  it("falls back on missing or bad values", () => {
    const l = readLook(() => undefined, 1);
    expect(l.entities).toEqual([]);
    expect(l.selected).toBe("");
    expect(l.style.opacity).toBe(0.5);
    expect(readLook(traits({ opacity: 7 }), 1).style.opacity).toBe(1);
  });
});
