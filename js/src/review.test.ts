import { describe, expect, it } from "vitest";
import { applyReviewPatch, BUCKETS, codeRGBA, currentItem, drawStrip, emptyReview, itemLabel, queueItems, stepItem, stripCodes, stripPixels, type ReviewState } from "./review";

function state(): ReviewState {
  return {
    sequence: "s",
    version: 3,
    error: "",
    entities: {
      a: { frames: [2, 5, 9], suspicion: [0.2, 0.9, 0.5], reasons: ["", "temporal,area_jump", "presence"] },
      b: { frames: [5, 7], suspicion: [0.9, 0.6], reasons: ["overlap", "score"] },
    },
  };
}

/** A 2D context that records what is drawn: fills, images put and drawn. */
function recorder() {
  const log = { fillRects: 0, puts: [] as { data: Uint8ClampedArray; w: number; h: number }[], draws: [] as number[][] };
  const scratch = {
    width: 0,
    height: 0,
    getContext: () => ({ putImageData: (img: { data: Uint8ClampedArray; width: number; height: number }) => log.puts.push({ data: img.data, w: img.width, h: img.height }) }),
  };
  const ctx = {
    fillStyle: "",
    imageSmoothingEnabled: true,
    clearRect() {},
    fillRect() {
      log.fillRects++;
    },
    drawImage(_img: unknown, ...args: number[]) {
      log.draws.push(args);
    },
  };
  return { ctx: ctx as unknown as CanvasRenderingContext2D, log, scratch: { canvas: scratch as unknown as HTMLCanvasElement } };
}

describe("the review queue", () => {
  it("lists the rows some signal fired on, worst first, ties by frame then entity order", () => {
    const items = queueItems(state(), "", ["b", "a"]);
    expect(items.map((i) => [i.frame, i.entity])).toEqual([
      [5, "b"], // 0.9, b listed first
      [5, "a"],
      [7, "b"],
      [9, "a"],
    ]); // frame 2 of a has no reason: not to review
    expect(queueItems(state(), "a", []).map((i) => i.frame)).toEqual([5, 9]);
    expect(queueItems(state(), "", ["a", "b"], new Set([`5\u0000a`])).map((i) => `${i.frame}${i.entity}`)).toEqual(["5b", "7b", "9a"]);
    expect(queueItems(state(), "zebra", [])).toEqual([]);
  });

  it("N from off the queue starts at the worst, Shift+N at the least suspicious; both go round", () => {
    expect(stepItem(4, -1, 1)).toBe(0);
    expect(stepItem(4, -1, -1)).toBe(3);
    expect(stepItem(4, 3, 1)).toBe(0);
    expect(stepItem(4, 0, -1)).toBe(3);
    expect(stepItem(4, 1, 1)).toBe(2);
    expect(stepItem(0, -1, 1)).toBe(-1);
  });

  it("the item under review is the cursor's while it stays on its frame, else the worst on the frame", () => {
    const items = queueItems(state(), "", ["a", "b"]); // [5a, 5b, 7b, 9a]
    expect(currentItem(items, 5, { frame: 5, entity: "b" })).toBe(1);
    expect(currentItem(items, 5, null)).toBe(0);
    expect(currentItem(items, 5, { frame: 7, entity: "b" })).toBe(0);
    expect(currentItem(items, 3, null)).toBe(-1);
  });

  it("labels an item with its frame, entity, reasons and suspicion", () => {
    const [item] = queueItems(state(), "a", []);
    expect(itemLabel(item!, "person")).toBe("frame 5 · person: temporal, area jump · 0.90");
  });

  it("patches are applied in place and twice give the same queue", () => {
    const s = state();
    const patch = { a: { set: [[3, 0.7, "flicker"], [9, 0.1, ""]] as [number, number, string][], remove: [5] }, b: null };
    applyReviewPatch(s, patch, 4);
    const once = JSON.stringify(s);
    applyReviewPatch(s, patch, 4);
    expect(JSON.stringify(s)).toBe(once);
    expect(s.entities.a).toEqual({ frames: [2, 3, 9], suspicion: [0.2, 0.7, 0.1], reasons: ["", "flicker", ""] });
    expect(s.entities.b).toBeUndefined();
    expect(s.version).toBe(4);
    applyReviewPatch(s, { c: { set: [[0, 1, "presence"]], remove: [] } }, 2, "oops");
    expect(s.entities.c!.frames).toEqual([0]);
    expect([s.version, s.error]).toEqual([4, "oops"]); // a version never goes back
  });
});

describe("the review strip", () => {
  it("codes each frame by its worst row; fired rows above any quiet one", () => {
    const codes = stripCodes(state(), "", 10);
    expect(codes[0]).toBe(-1);
    expect(codes[2]).toBe(2); // 0.2, nothing fired
    expect(codes[5]).toBe(BUCKETS + 9); // 0.9 fired (a and b)
    expect(codes[9]).toBe(BUCKETS + 5);
    expect(stripCodes(state(), "b", 10)[9]).toBe(-1);
    expect(stripCodes(state(), "", 10, new Set([`7\u0000b`]))[7]).toBe(-1);
    expect(stripCodes(state(), "", 6).length).toBe(6); // rows past the end are ignored
    const [r, g, , a] = codeRGBA(BUCKETS + 9);
    expect(r).toBeGreaterThan(200);
    expect(g).toBeLessThan(60);
    expect(a).toBeGreaterThan(230); // red, opaque
    const q = codeRGBA(0);
    expect(q[1]).toBeGreaterThan(q[0]);
    expect(q[3]).toBeLessThan(100); // green, faint
    const low = codeRGBA(BUCKETS); // flagged, however slightly: amber, never green
    expect(low[0]).toBeGreaterThan(low[1]);
    expect(low[3]).toBeGreaterThan(230);
  });

  it("is an image of the worst code per pixel column: flagged columns full, quiet ones a middle band", () => {
    const codes = new Int8Array([-1, 3, 3, 3, -1, 15, 15, 3]);
    const px = stripPixels(codes, 8);
    const at = (row: number, col: number) => Array.from(px.slice((row * 8 + col) * 4, (row * 8 + col) * 4 + 4));
    expect(at(1, 0)).toEqual([0, 0, 0, 0]);
    expect(at(0, 1)).toEqual([0, 0, 0, 0]); // quiet: the middle row only
    expect(at(1, 1)).toEqual(codeRGBA(3));
    expect([at(0, 5), at(1, 5), at(2, 5)]).toEqual([codeRGBA(15), codeRGBA(15), codeRGBA(15)]);
    // 10,000 frames on 100 columns: each column the highest code of its 100 frames
    const many = new Int8Array(10_000).fill(1);
    many[4_321] = 17;
    const dense = stripPixels(many, 100);
    const col = (c: number) => Array.from(dense.slice(c * 4, c * 4 + 4));
    expect(col(43)).toEqual(codeRGBA(17));
    expect(col(42)).toEqual([0, 0, 0, 0]);
    expect(Array.from(dense.slice((100 + 42) * 4, (100 + 42) * 4 + 4))).toEqual(codeRGBA(1));
  });

  it("draws one image, whatever the number of frames", () => {
    (globalThis as any).ImageData ??= class {
      readonly data: Uint8ClampedArray;
      constructor(
        readonly width: number,
        readonly height: number,
      ) {
        this.data = new Uint8ClampedArray(width * height * 4);
      }
    };
    const codes = new Int8Array(3_000);
    for (let f = 0; f < codes.length; f++) codes[f] = (f * 7) % (2 * BUCKETS);
    const { ctx, log, scratch } = recorder();
    drawStrip(ctx, 600, 10, codes, 1200, scratch);
    expect(log.puts.map((p) => [p.w, p.h])).toEqual([[1200, 3]]);
    expect(log.draws).toEqual([[0, 0, 600, 10]]);
    expect(log.fillRects).toBe(1); // the background
    expect(ctx.imageSmoothingEnabled).toBe(false);
    const empty = recorder();
    drawStrip(empty.ctx, 600, 10, stripCodes(emptyReview(), "", 0), 1200, empty.scratch);
    expect(empty.log.puts).toEqual([]);
  });
});
