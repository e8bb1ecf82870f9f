import { describe, expect, it } from "vitest";
import { frameCenter, keyframesOf, nextKeyframe, prevKeyframe, segmentSpan, xToFrame, type Tracks } from "./timeline";

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
