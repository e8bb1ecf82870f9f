import { describe, expect, it } from "vitest";
import { applyReviewPatch, BUCKETS, codeColor, currentItem, drawStrip, emptyReview, itemLabel, queueItems, stepItem, stripCodes, stripRects, type ReviewState } from "./review";

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

/** A 2D context that records fills: how many paths were filled, with which colours, how many rects. */
function recorder() {
  const log = { fills: [] as string[], rects: 0, fillRects: 0 };
  const ctx = {
    fillStyle: "",
    clearRect() {},
    fillRect() {
      log.fillRects++;
    },
    beginPath() {},
    rect() {
      log.rects++;
    },
    fill() {
      log.fills.push(String(ctx.fillStyle));
    },
  };
  return { ctx: ctx as unknown as CanvasRenderingContext2D, log };
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
    expect(codeColor(BUCKETS + 9)).toMatch(/^hsla\(6, .*0\.95\)$/); // red, opaque
    expect(codeColor(0)).toMatch(/^hsla\(114, .*0\.3\)$/); // green, faint
  });

  it("merges equal neighbours into one rect, and per pixel column when frames outnumber pixels", () => {
    const codes = new Int8Array([-1, 3, 3, 3, -1, 15, 15, 3]);
    const rects = stripRects(codes, 80);
    expect(rects.get(3)).toEqual([
      { x: 10, w: 30 },
      { x: 70, w: 10 },
    ]);
    expect(rects.get(15)).toEqual([{ x: 50, w: 20 }]);
    expect(rects.has(-1)).toBe(false);
    // 10,000 frames on 100 px: one column per 100 frames, each the highest code in it
    const many = new Int8Array(10_000).fill(1);
    many[4_321] = 17;
    const dense = stripRects(many, 100);
    expect(dense.get(17)).toEqual([{ x: 43, w: 1 }]);
    expect(dense.get(1)).toEqual([
      { x: 0, w: 43 },
      { x: 44, w: 56 },
    ]);
  });

  it("draws one filled path per colour, whatever the number of frames", () => {
    const codes = new Int8Array(3_000);
    for (let f = 0; f < codes.length; f++) codes[f] = (f * 7) % (2 * BUCKETS);
    const { ctx, log } = recorder();
    drawStrip(ctx, 600, 10, codes);
    expect(log.fills.length).toBe(new Set(log.fills).size);
    expect(log.fills.length).toBeLessThanOrEqual(2 * BUCKETS);
    expect(log.rects).toBeLessThanOrEqual(600);
    expect(log.fillRects).toBe(1); // the background
    const empty = recorder();
    drawStrip(empty.ctx, 600, 10, stripCodes(emptyReview(), "", 3_000));
    expect(empty.log.fills).toEqual([]);
  });
});
