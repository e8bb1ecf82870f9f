// Tracklet editing on a track bar, the pure parts: what the pointer is on (a segment's end,
// which a drag trims or extends, or its body), the span while an end is dragged, and which
// context-menu actions make sense for a segment.

import { frameLeft, type Track } from "./timeline";

export type Edge = "start" | "end";

export interface Hit {
  /** index into the track's tracklets (and ids) */
  index: number;
  /** an end within reach (drag it), or the body */
  part: Edge | "body";
}

/** Pixels either side of a segment's end that grab it. */
export const END_SLOP = 4;

/** What x (CSS px along a bar `width` wide showing `count` frames) is on. A segment's end grabs
 *  within `slop` px outside it and at most a third of the segment's width inside, so a narrow
 *  segment keeps a body to click; the nearest end wins between neighbours. */
export function hitSegment(tracklets: readonly [number, number][], x: number, count: number, width: number, slop = END_SLOP): Hit | null {
  let best: Hit | null = null;
  let bestD = Infinity;
  let body: Hit | null = null;
  for (const [index, [s, e]] of tracklets.entries()) {
    const x0 = frameLeft(s, count, width);
    const x1 = frameLeft(e + 1, count, width);
    const inner = Math.min(slop, (x1 - x0) / 3);
    for (const [part, edge, inside] of [["start", x0, x >= x0], ["end", x1, x <= x1]] as const) {
      const d = Math.abs(x - edge);
      // between touching tracklets the one the pointer is inside wins a tie
      const rank = d + (inside ? 0 : 1e-3);
      if (d <= (inside ? inner : slop) && rank < bestD) {
        best = { index, part };
        bestD = rank;
      }
    }
    if (x >= x0 && x < x1) body = { index, part: "body" };
  }
  return best ?? body;
}

/** The index of the tracklet holding `frame`, or -1. */
export function trackletAt(tracklets: readonly [number, number][], frame: number): number {
  return tracklets.findIndex(([s, e]) => s <= frame && frame <= e);
}

/** The span of tracklet `index` while its `edge` is dragged to x: the end snaps to the nearest
 *  frame boundary, keeps at least one frame, and stops at the neighbouring tracklets and the
 *  sequence's ends (the kernel would refuse an overlap). */
export function dragSpan(tracklets: readonly [number, number][], index: number, edge: Edge, x: number, count: number, width: number): [number, number] {
  const [s, e] = tracklets[index] as [number, number];
  const boundary = width > 0 ? Math.round((x / width) * count) : 0;
  let lo = 0;
  let hi = count - 1;
  for (const [i, [ts, te]] of tracklets.entries()) {
    if (i === index) continue;
    if (te < s) lo = Math.max(lo, te + 1);
    if (ts > e) hi = Math.min(hi, ts - 1);
  }
  if (edge === "start") return [Math.min(e, Math.max(lo, boundary)), e];
  return [s, Math.max(s, Math.min(hi, boundary - 1))];
}

export interface MenuState {
  /** the tracklet's id; "" when the kernel sent none (no tracklet edits possible) */
  id: string;
  span: [number, number];
  /** frame under the pointer */
  frame: number;
  split: boolean;
  gluePrevious: boolean;
  glueNext: boolean;
  /** other entities of the sequence to relink to */
  relinkTargets: string[];
  /** a relink "from here" differs from the whole tracklet */
  relinkFromHere: boolean;
  /** box interpolation is on */
  interpolate: boolean;
}

/** What the tracklet menu offers for tracklet `index` of `entity`, opened at `frame`. */
export function menuState(track: Track, index: number, frame: number, entity: string, entities: readonly string[]): MenuState {
  const span = track.tracklets[index] as [number, number];
  const id = track.ids?.[index] ?? "";
  const [s, e] = span;
  const f = Math.min(e, Math.max(s, frame));
  const others = track.tracklets.filter((_t, i) => i !== index);
  return {
    id,
    span: [s, e],
    frame: f,
    split: !!id && f > s,
    gluePrevious: !!id && others.some(([, te]) => te < s),
    glueNext: !!id && others.some(([ts]) => ts > e),
    relinkTargets: id ? entities.filter((x) => x !== entity) : [],
    relinkFromHere: !!id && f > s,
    interpolate: track.interpolate?.[index] ?? true,
  };
}
