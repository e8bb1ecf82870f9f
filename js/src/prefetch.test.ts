import { describe, expect, it } from "vitest";
import { Need, planRequests, priorityOrder, windowFor, type PlanInput } from "./prefetch";

const base = (over: Partial<PlanInput>): PlanInput => ({
  frame: 10,
  count: 100,
  direction: 1,
  ahead: 20,
  behind: 4,
  chunk: 8,
  slots: 10,
  need: () => Need.Image,
  ...over,
});

describe("priorityOrder", () => {
  it("puts the play head first, then ahead in travel order, then behind", () => {
    expect(priorityOrder(5, 100, 1, 3, 2)).toEqual([5, 6, 7, 8, 4, 3]);
    expect(priorityOrder(5, 100, -1, 3, 2)).toEqual([5, 4, 3, 2, 6, 7]);
  });
  it("stops at the sequence's ends", () => {
    expect(priorityOrder(1, 3, -1, 5, 5)).toEqual([1, 0, 2]);
  });
});

describe("planRequests", () => {
  it("asks for the play head alone, then chunks ahead, then behind", () => {
    const r = planRequests(base({}));
    expect(r[0]).toEqual({ start: 10, stop: 11, images: true });
    expect(r[1]).toEqual({ start: 11, stop: 19, images: true });
    expect(r[2]).toEqual({ start: 19, stop: 27, images: true });
    // 27..30 is far and not yet a whole chunk: it waits; the frames behind are near
    expect(r[3]).toEqual({ start: 6, stop: 10, images: true });
    expect(r).toHaveLength(4);
  });

  it("far from the play head, sends whole chunks only, so a sliding window is not asked frame by frame", () => {
    const cached = (upTo: number) => (f: number) => (f <= upTo ? Need.None : Need.Image);
    // window 11..30 ahead; everything up to 29 is cached: frame 30 alone is far -> nothing
    expect(planRequests(base({ behind: 0, need: cached(29) }))).toEqual([]);
    // up to 22 cached: 23..30 is a whole chunk (8) -> sent
    expect(planRequests(base({ behind: 0, need: cached(22) }))).toEqual([{ start: 23, stop: 31, images: true }]);
    // near the play head even a single frame goes at once
    expect(planRequests(base({ behind: 0, need: (f) => (f === 12 ? Need.Masks : Need.None) }))).toEqual([{ start: 12, stop: 13, images: false }]);
    // a short run at the end of the sequence goes too
    expect(planRequests(base({ frame: 90, behind: 0, need: cached(96) }))).toEqual([{ start: 97, stop: 100, images: true }]);
  });

  it("respects the number of free slots", () => {
    expect(planRequests(base({ slots: 2 }))).toHaveLength(2);
    expect(planRequests(base({ slots: 0 }))).toEqual([]);
  });

  it("skips cached or requested frames and splits runs around them", () => {
    const have = new Set([10, 11, 12, 15]);
    const r = planRequests(base({ ahead: 8, behind: 0, need: (f) => (have.has(f) ? Need.None : Need.Image) }));
    expect(r).toEqual([
      { start: 13, stop: 15, images: true },
      { start: 16, stop: 19, images: true },
    ]);
  });

  it("asks masks-only for frames whose image is cached, separately from frames lacking images", () => {
    const r = planRequests(
      base({ ahead: 5, behind: 0, need: (f) => (f <= 12 ? Need.Masks : Need.Image) }),
    );
    // a masks-only play head is not sent alone: it is cheap
    expect(r).toEqual([
      { start: 10, stop: 13, images: false },
      { start: 13, stop: 16, images: true },
    ]);
  });

  it("plans backwards runs as ascending ranges when travelling backwards", () => {
    const r = planRequests(base({ frame: 20, direction: -1, ahead: 10, behind: 0, chunk: 4, urgent: 10 }));
    expect(r).toEqual([
      { start: 20, stop: 21, images: true },
      { start: 16, stop: 20, images: true },
      { start: 12, stop: 16, images: true },
      { start: 10, stop: 12, images: true },
    ]);
  });

  it("clamps at the end of the sequence", () => {
    const r = planRequests(base({ frame: 97, ahead: 10, behind: 0 }));
    expect(r).toEqual([
      { start: 97, stop: 98, images: true },
      { start: 98, stop: 100, images: true },
    ]);
  });
});

describe("windowFor", () => {
  it("keeps the window inside the image budget", () => {
    const mb = 1024 * 1024;
    const small = windowFor(1.6 * mb, 288 * mb);
    expect(small.ahead).toBeGreaterThanOrEqual(100);
    expect(small.ahead + small.behind).toBeLessThanOrEqual(288 / 1.6);
    const big = windowFor(8.3 * mb, 256 * mb);
    expect(big.ahead + big.behind).toBeLessThanOrEqual(Math.floor(256 / 8.3));
    expect(big.ahead).toBeGreaterThan(big.behind);
  });
});
