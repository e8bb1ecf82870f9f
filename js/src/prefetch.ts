// Which `frames` requests to send next: the frame on screen first (alone, so it paints as
// soon as possible), then a window ahead of the play head in the direction of travel, then
// a little behind it; contiguous missing frames go out in chunks.

/** What a frame lacks: nothing, only its masks (image cached), or its image (and so its masks). */
export const enum Need {
  None = 0,
  Masks = 1,
  Image = 2,
}

export interface FrameRange {
  start: number;
  /** exclusive */
  stop: number;
  /** false: a masks-only request (`images: false`) */
  images: boolean;
}

export interface PlanInput {
  frame: number;
  count: number;
  /** +1 playing/stepping forward, -1 backward */
  direction: 1 | -1;
  ahead: number;
  behind: number;
  chunk: number;
  /** how many requests may be sent now */
  slots: number;
  /** Need of a frame; frames already requested must answer Need.None. */
  need: (frame: number) => Need;
  /** Beyond this many frames from the play head a range goes out only once it is a full chunk
   *  (or reaches the window's end at the sequence's end): as the window slides one frame per
   *  step, this sends one request per chunk instead of one per frame. Default: chunk. */
  urgent?: number;
}

/** Frames in priority order: the play head, then ahead in travel order, then behind. */
export function priorityOrder(frame: number, count: number, direction: 1 | -1, ahead: number, behind: number): number[] {
  const out: number[] = [];
  if (frame >= 0 && frame < count) out.push(frame);
  for (let k = 1; k <= ahead; k++) {
    const f = frame + direction * k;
    if (f < 0 || f >= count) break;
    out.push(f);
  }
  for (let k = 1; k <= behind; k++) {
    const f = frame - direction * k;
    if (f < 0 || f >= count) break;
    out.push(f);
  }
  return out;
}

export function planRequests(p: PlanInput): FrameRange[] {
  const ranges: FrameRange[] = [];
  if (p.slots <= 0 || p.count <= 0) return ranges;
  const order = priorityOrder(p.frame, p.count, p.direction, p.ahead, p.behind);
  const inWindow = new Set(order);
  const taken = new Set<number>();
  const needOf = (f: number): Need => (taken.has(f) || !inWindow.has(f) ? Need.None : p.need(f));

  for (const f of order) {
    if (ranges.length >= p.slots) break;
    const n = needOf(f);
    if (n === Need.None) continue;
    // The play head's own image goes alone: one small reply paints sooner than a chunk.
    const limit = f === p.frame && n === Need.Image ? 1 : p.chunk;
    // Grow away from the play head in the direction this frame lies from it (ahead or behind).
    const step = f === p.frame ? p.direction : Math.sign(f - p.frame) || p.direction;
    let lo = f;
    let hi = f;
    taken.add(f);
    while (hi - lo + 1 < limit) {
      const g = step > 0 ? hi + 1 : lo - 1;
      if (needOf(g) !== n) break;
      taken.add(g);
      if (step > 0) hi = g;
      else lo = g;
    }
    const far = Math.abs(f - p.frame) > (p.urgent ?? p.chunk);
    const atEnd = lo === 0 || hi === p.count - 1;
    if (far && hi - lo + 1 < limit && !atEnd) {
      // leave it for when a whole chunk is missing; frames further out in this run wait too
      for (let g = lo; g <= hi; g++) taken.delete(g);
      continue;
    }
    ranges.push({ start: lo, stop: hi + 1, images: n === Need.Image });
  }
  return ranges;
}

/** How many frames ahead to prefetch so the window fits comfortably in the image budget. */
export function windowFor(frameBytes: number, budgetBytes: number, maxAhead = 128, maxBehind = 16): { ahead: number; behind: number } {
  const fit = Math.max(2, Math.floor((budgetBytes / Math.max(1, frameBytes)) * 0.7));
  const behind = Math.min(maxBehind, Math.max(1, Math.floor(fit / 6)));
  const ahead = Math.min(maxAhead, Math.max(1, fit - behind));
  return { ahead, behind };
}
