import { describe, expect, it } from "vitest";
import { applyTracksPatch, drawTrack, frameCenter, hatchLines, keyStrip, keyframesOf, nextKeyframe, prevKeyframe, runRects, segmentSpan, xToFrame, type Track, type TrackPatch, type Tracks } from "./timeline";

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

/** A 2D context that rasterises fillRect (solid colours with alpha) into RGBA rows; paths are
 *  ignored. Enough to see what colour each column of a bar ends up. */
class Raster {
  px: Float64Array;
  fillStyle = "#000";
  strokeStyle = "#000";
  globalAlpha = 1;
  lineWidth = 1;
  constructor(readonly w: number, readonly h: number) {
    this.px = new Float64Array(w * h * 4);
  }
  clearRect(): void {
    this.px.fill(0);
  }
  fillRect(x: number, y: number, w: number, h: number): void {
    const [r, g, b, a0] = parse(this.fillStyle);
    const a = a0 * this.globalAlpha;
    for (let yy = Math.max(0, Math.round(y)); yy < Math.min(this.h, Math.round(y + h)); yy++) {
      for (let xx = Math.max(0, Math.floor(x)); xx < Math.min(this.w, Math.ceil(x + w)); xx++) {
        const cover = Math.min(xx + 1, x + w) - Math.max(xx, x); // partial columns blend by coverage
        const k = (yy * this.w + xx) * 4;
        const t = a * cover;
        for (const [i, v] of [r, g, b].entries()) this.px[k + i] = (this.px[k + i] ?? 0) * (1 - t) + v * t;
        this.px[k + 3] = (this.px[k + 3] ?? 0) * (1 - t) + t;
      }
    }
  }
  strokeRect(): void {}
  beginPath(): void {}
  arc(): void {}
  fill(): void {}
  stroke(): void {}
  moveTo(): void {}
  lineTo(): void {}
  rgb(x: number, y: number): [number, number, number] {
    const k = (y * this.w + x) * 4;
    return [this.px[k] ?? 0, this.px[k + 1] ?? 0, this.px[k + 2] ?? 0];
  }
}

function parse(c: string): [number, number, number, number] {
  if (c.startsWith("#")) return [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16), 1];
  const [r = 0, g = 0, b = 0, a = 1] = c.replace(/[^\d.,]/g, "").split(",").map(Number);
  return [r, g, b, a];
}

const near = (a: number[], b: number[], tol: number) => a.every((v, i) => Math.abs(v - (b[i] ?? NaN)) <= tol);

describe("a fully keyframed bar of a long sequence", () => {
  const n = 3000;
  const all = Array.from({ length: n }, (_, i) => i);
  const red = [220, 30, 30];
  const paint = (track: Track) => {
    const ctx = new Raster(300, 14);
    drawTrack(ctx as unknown as CanvasRenderingContext2D, 300, 14, { track, count: n, frame: null, color: "#dc1e1e", selected: false });
    return ctx;
  };

  it("still shows the entity's colour along the whole body, and reads as keyed", () => {
    const ctx = paint({ tracklets: [[0, n - 1]], keyframes: all, box_keyframes: all });
    const strip = keyStrip(14);
    const keyed = strip.y; // a row of the key strip
    for (let x = 0; x < 300; x++) {
      for (const y of [6, 7]) expect(near(ctx.rgb(x, y), red, 40), `body at x=${x} y=${y}: ${ctx.rgb(x, y)}`).toBe(true);
      expect(near(ctx.rgb(x, keyed), [255, 255, 255], 20), `key strip at x=${x}`).toBe(true);
      expect(near(ctx.rgb(x, 14 - 1 - strip.y), [255, 255, 255], 20), `box key strip at x=${x}`).toBe(true);
    }
  });

  it("a bar without keyframes has no strip, and keyed runs show exactly where they are", () => {
    const none = paint({ tracklets: [[0, n - 1]], keyframes: [] });
    const y = keyStrip(14).y;
    expect(near(none.rgb(150, y), [255, 255, 255], 60)).toBe(false);
    const half = paint({ tracklets: [[0, n - 1]], keyframes: all.slice(0, n / 2) });
    expect(near(half.rgb(40, y), [255, 255, 255], 20)).toBe(true);
    expect(near(half.rgb(260, y), [255, 255, 255], 60)).toBe(false);
    for (const x of [40, 260]) expect(near(half.rgb(x, 7), red, 40)).toBe(true);
  });
});

describe("track patches from changed events", () => {
  it("replace arrays, edit keyframe sets and flag runs, drop and add entities, idempotently", () => {
    const tracks: Tracks = {
      a: { tracklets: [[0, 9]], keyframes: [0, 3, 9], flags: [[2, 4]] },
      b: { tracklets: [[5, 5]], keyframes: [5] },
    };
    const patch = {
      a: { tracklets: [[0, 12]], keyframes: { add: [12], remove: [3] }, flags: { add: [[5, 6]], remove: [[2, 2]] } },
      b: null,
      c: { tracklets: [[1, 1]], ids: ["c#1"], keyframes: [1] },
    } as Record<string, TrackPatch | null>;
    expect(applyTracksPatch(tracks, patch).sort()).toEqual(["a", "b", "c"]);
    const once = JSON.parse(JSON.stringify(tracks));
    expect(once).toEqual({
      a: { tracklets: [[0, 12]], keyframes: [0, 9, 12], flags: [[3, 6]] },
      c: { tracklets: [[1, 1]], ids: ["c#1"], keyframes: [1] },
    });
    applyTracksPatch(tracks, patch); // a second view applying the same event changes nothing
    expect(tracks).toEqual(once);
  });
});
