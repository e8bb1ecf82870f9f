import { describe, expect, it } from "vitest";
import { frameCenter, hatchLines, keyframesOf, nextKeyframe, prevKeyframe, runRects, segmentSpan, xToFrame, type Tracks } from "./timeline";

describe("timeline geometry", () => {
  it("maps x to the frame cell under it, clamped", () => {
    expect(xToFrame(0, 50, 500)).toBe(0);
    expect(xToFrame(9.99, 50, 500)).toBe(0);
    expect(xToFrame(10, 50, 500)).toBe(1);
    expect(xToFrame(499.9, 50, 500)).toBe(49);
    expect(xToFrame(700, 50, 500)).toBe(49);
    expect(xToFrame(-5, 50, 500)).toBe(0);
  });

  it("a frame's centre maps back to the frame", () => {
    for (const n of [1, 7, 50, 1000]) {
      for (const f of [0, Math.floor(n / 2), n - 1]) expect(xToFrame(frameCenter(f, n, 333), n, 333)).toBe(f);
    }
  });

  it("tracklet spans are inclusive and at least a pixel", () => {
    expect(segmentSpan(10, 19, 100, 1000)).toEqual({ x: 100, w: 100 });
    expect(segmentSpan(3, 3, 10000, 100).w).toBe(1);
  });
});

describe("keyframes", () => {
  const tracks: Tracks = {
    a: { tracklets: [[0, 10]], keyframes: [0, 8] },
    b: { tracklets: [[5, 30]], keyframes: [5, 30, 8] },
  };
  it("uses the selected entity's keyframes, else all of them", () => {
    expect(keyframesOf(tracks, "a")).toEqual([0, 8]);
    expect(keyframesOf(tracks, null)).toEqual([0, 5, 8, 30]);
    expect(keyframesOf(tracks, "gone")).toEqual([0, 5, 8, 30]);
  });
  it("finds the previous and next keyframe strictly around a frame", () => {
    const k = [0, 5, 8, 30];
    expect(prevKeyframe(k, 8)).toBe(5);
    expect(nextKeyframe(k, 8)).toBe(30);
    expect(prevKeyframe(k, 0)).toBeNull();
    expect(nextKeyframe(k, 30)).toBeNull();
    expect(nextKeyframe(k, 6)).toBe(8);
  });
});

describe("hatched flag runs", () => {
  it("runs become pixel rects, clamped to the sequence", () => {
    expect(runRects([[10, 19], [95, 120], [200, 210]], 100, 1000)).toEqual([
      { x: 100, w: 100 },
      { x: 950, w: 50 },
    ]);
  });

  it("hatch lines are 45° diagonals kept inside the rect, spaced evenly", () => {
    const lines = hatchLines(100, 40, 14, 4);
    expect(lines.length).toBeGreaterThanOrEqual(10);
    for (const [ax, ay, bx, by] of lines) {
      for (const x of [ax, bx]) expect(x >= 100 - 1e-9 && x <= 140 + 1e-9).toBe(true);
      for (const y of [ay, by]) expect(y >= -1e-9 && y <= 14 + 1e-9).toBe(true);
      expect(bx - ax).toBeCloseTo(ay - by); // slope -1 in canvas coordinates (rising to the right)
      expect(bx).toBeGreaterThan(ax);
    }
    // anchored at x = 0: two touching runs continue the same lines
    const left = hatchLines(0, 20, 14, 4).map((l) => l[2] + l[3]);
    const right = hatchLines(20, 20, 14, 4).map((l) => l[0] + l[1]);
    expect(new Set(right.map((v) => v % 4))).toEqual(new Set(left.map((v) => v % 4)));
  });

  it("a one-pixel run still gets a hatch stroke; an empty one none", () => {
    expect(hatchLines(10, 1, 14, 4).length).toBeGreaterThan(0);
    expect(hatchLines(10, 0, 14, 4)).toEqual([]);
  });
});
