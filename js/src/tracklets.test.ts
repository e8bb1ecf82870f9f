import { describe, expect, it } from "vitest";
import type { Track } from "./timeline";
import { dragSpan, hitSegment, menuState, trackletAt } from "./tracklets";

// 100 frames on a 1000 px bar: a frame is 10 px, tracklet [10, 19] covers x 100..200
const T: [number, number][] = [
  [10, 19],
  [20, 20],
  [40, 59],
];

describe("hitSegment", () => {
  it("grabs an end within 4 px, the body elsewhere inside, nothing outside", () => {
    expect(hitSegment(T, 100, 100, 1000)).toEqual({ index: 0, part: "start" });
    expect(hitSegment(T, 97, 100, 1000)).toEqual({ index: 0, part: "start" });
    expect(hitSegment(T, 103.5, 100, 1000)).toEqual({ index: 0, part: "start" });
    expect(hitSegment(T, 95, 100, 1000)).toBeNull();
    expect(hitSegment(T, 150, 100, 1000)).toEqual({ index: 0, part: "body" });
    expect(hitSegment(T, 598, 100, 1000)).toEqual({ index: 2, part: "end" });
    expect(hitSegment(T, 603, 100, 1000)).toEqual({ index: 2, part: "end" });
    expect(hitSegment(T, 300, 100, 1000)).toBeNull();
  });

  it("the nearest end wins between touching tracklets", () => {
    // [10,19] ends at x 200 where the one-frame [20,20] starts (200..210)
    const at = hitSegment(T, 201, 100, 1000);
    expect(at).toEqual({ index: 1, part: "start" });
    expect(hitSegment(T, 199, 100, 1000)).toEqual({ index: 0, part: "end" });
  });

  it("a narrow segment keeps a body: ends reach a third of it inside", () => {
    // [20,20] is 10 px wide: ends grab 3.33 px inside, the middle is body
    expect(hitSegment([[20, 20]], 205, 100, 1000)).toEqual({ index: 0, part: "body" });
    expect(hitSegment([[20, 20]], 202, 100, 1000)).toEqual({ index: 0, part: "start" });
    expect(hitSegment([[20, 20]], 208, 100, 1000)).toEqual({ index: 0, part: "end" });
  });

  it("scales with the bar's width", () => {
    // 1000 frames on 500 px: [10,19] covers 5..10 px; the body is 5 px wide
    expect(hitSegment([[10, 19]], 7.5, 1000, 500)).toEqual({ index: 0, part: "body" });
    expect(hitSegment([[10, 19]], 12, 1000, 500)).toEqual({ index: 0, part: "end" });
  });
});

describe("dragSpan", () => {
  it("snaps a dragged end to the nearest frame boundary", () => {
    expect(dragSpan(T, 0, "start", 64, 100, 1000)).toEqual([6, 19]);
    expect(dragSpan(T, 0, "start", 155, 100, 1000)).toEqual([16, 19]); // 15.5 rounds to 16
    expect(dragSpan(T, 2, "end", 702, 100, 1000)).toEqual([40, 69]);
    expect(dragSpan(T, 2, "end", 450, 100, 1000)).toEqual([40, 44]);
  });

  it("keeps at least one frame and stops at neighbours and the sequence's ends", () => {
    expect(dragSpan(T, 0, "start", 900, 100, 1000)).toEqual([19, 19]);
    expect(dragSpan(T, 0, "end", 0, 100, 1000)).toEqual([10, 10]);
    expect(dragSpan(T, 0, "end", 500, 100, 1000)).toEqual([10, 19]); // [20,20] is next
    expect(dragSpan(T, 2, "start", 0, 100, 1000)).toEqual([21, 59]);
    expect(dragSpan(T, 2, "end", 5000, 100, 1000)).toEqual([40, 99]);
    expect(dragSpan(T, 0, "start", -50, 100, 1000)).toEqual([0, 19]);
  });
});

describe("menuState", () => {
  const track: Track = { tracklets: T, keyframes: [], ids: ["e1#0", "e1#1", "e1#2"], interpolate: [true, true, false] };

  it("split needs a frame after the start; glue needs a neighbour on that side", () => {
    const first = menuState(track, 0, 15, "e1", ["e1", "e2", "e3"]);
    expect(first).toMatchObject({ id: "e1#0", span: [10, 19], frame: 15, split: true, gluePrevious: false, glueNext: true });
    expect(first.relinkTargets).toEqual(["e2", "e3"]);
    expect(first.relinkFromHere).toBe(true);
    expect(menuState(track, 0, 10, "e1", ["e1"])).toMatchObject({ split: false, relinkFromHere: false, relinkTargets: [] });
    expect(menuState(track, 2, 50, "e1", ["e1"])).toMatchObject({ gluePrevious: true, glueNext: false, interpolate: false });
  });

  it("clamps the frame into the tracklet (a right-click just beside an end)", () => {
    expect(menuState(track, 2, 61, "e1", []).frame).toBe(59);
    expect(menuState(track, 2, 38, "e1", []).frame).toBe(40);
  });

  it("offers nothing that needs an id when the kernel sent none", () => {
    const old: Track = { tracklets: T, keyframes: [] };
    expect(menuState(old, 0, 15, "e1", ["e1", "e2"])).toMatchObject({ id: "", split: false, glueNext: false, relinkTargets: [], interpolate: true });
  });
});

describe("trackletAt", () => {
  it("finds the tracklet holding a frame", () => {
    expect(trackletAt(T, 19)).toBe(0);
    expect(trackletAt(T, 20)).toBe(1);
    expect(trackletAt(T, 30)).toBe(-1);
  });
});
