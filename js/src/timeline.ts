// Track bar geometry: frame cells laid out evenly across the bar's width, so a tracklet
// [s, e] covers [x(s), x(e + 1)) and a click at x picks the cell under it.

export interface Track {
  tracklets: [number, number][];
  keyframes: number[];
  /** tracklet ids, parallel to `tracklets` (absent from older kernels: no tracklet edits then) */
  ids?: string[];
  /** box interpolation switch per tracklet (default on) */
  interpolate?: boolean[];
  /** frames holding a keyframe box */
  box_keyframes?: number[];
  /** inclusive runs where a boolean state of the entity (e.g. occluded) is true: drawn hatched */
  flags?: [number, number][];
}

export type Tracks = Record<string, Track>;

/** Frames (or, for `flags`, inclusive runs) to add and remove: a `changed` event's track delta. */
export interface SetDelta<T> {
  add: T[];
  remove: T[];
}

/** One entity's part of a `changed` event's `tracks`: a field given as an array replaces the
 *  field, one given as `{add, remove}` edits it; a null entry means the entity is gone. */
export type TrackPatch = Record<string, unknown[] | SetDelta<number> | SetDelta<[number, number]>>;

/** Apply a `changed` event's `tracks` to `tracks` in place; the ids of the entities it touched.
 *  Idempotent (every view of a model applies the same event to the same object). */
export function applyTracksPatch(tracks: Tracks, patch: Record<string, TrackPatch | null>): string[] {
  const touched: string[] = [];
  for (const [id, p] of Object.entries(patch)) {
    touched.push(id);
    if (p === null) {
      delete tracks[id];
      continue;
    }
    const t: Record<string, unknown> = { ...(tracks[id] ?? { tracklets: [], keyframes: [] }) };
    for (const [name, v] of Object.entries(p)) {
      if (Array.isArray(v)) t[name] = v;
      else if (name === "flags") t[name] = editRuns((t[name] as [number, number][]) ?? [], v as SetDelta<[number, number]>);
      else t[name] = editFrames((t[name] as number[]) ?? [], v as SetDelta<number>);
    }
    tracks[id] = t as unknown as Track;
  }
  return touched;
}

function editFrames(frames: readonly number[], d: SetDelta<number>): number[] {
  const out = new Set(frames);
  for (const f of d.add) out.add(f);
  for (const f of d.remove) out.delete(f);
  return [...out].sort((a, b) => a - b);
}

function editRuns(spans: readonly [number, number][], d: SetDelta<[number, number]>): [number, number][] {
  const on = new Set<number>();
  for (const [s, e] of spans) for (let f = s; f <= e; f++) on.add(f);
  for (const [s, e] of d.add) for (let f = s; f <= e; f++) on.add(f);
  for (const [s, e] of d.remove) for (let f = s; f <= e; f++) on.delete(f);
  return framesToRuns([...on].sort((a, b) => a - b));
}

/** Sorted frames as inclusive runs. */
export function framesToRuns(frames: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const f of frames) {
    const last = out[out.length - 1];
    if (last && last[1] === f - 1) last[1] = f;
    else out.push([f, f]);
  }
  return out;
}

export function frameLeft(frame: number, count: number, width: number): number {
  return count > 0 ? (frame * width) / count : 0;
}

export function frameCenter(frame: number, count: number, width: number): number {
  return count > 0 ? ((frame + 0.5) * width) / count : 0;
}

export function xToFrame(x: number, count: number, width: number): number {
  if (count <= 0 || width <= 0) return 0;
  return Math.min(count - 1, Math.max(0, Math.floor((x / width) * count)));
}

/** Pixel span of an inclusive tracklet, at least 1 px wide so one-frame tracklets show. */
export function segmentSpan(start: number, end: number, count: number, width: number): { x: number; w: number } {
  const x = frameLeft(start, count, width);
  return { x, w: Math.max(1, frameLeft(end + 1, count, width) - x) };
}

/** Sorted distinct keyframes of one entity, or of every entity when `entity` is null/unknown. */
export function keyframesOf(tracks: Tracks, entity: string | null): number[] {
  const own = entity ? tracks[entity] : undefined;
  const src = own ? [own] : Object.values(tracks);
  const all = new Set<number>();
  for (const t of src) for (const k of t.keyframes ?? []) all.add(k);
  return [...all].sort((a, b) => a - b);
}

export function prevKeyframe(keyframes: readonly number[], frame: number): number | null {
  let best: number | null = null;
  for (const k of keyframes) if (k < frame && (best === null || k > best)) best = k;
  return best;
}

export function nextKeyframe(keyframes: readonly number[], frame: number): number | null {
  let best: number | null = null;
  for (const k of keyframes) if (k > frame && (best === null || k < best)) best = k;
  return best;
}

export const KEY_STRIP = "rgba(255,255,255,0.95)";

/** Rows of the dense keyframe strip: from the top edge down to just above the tracklet body
 *  (which spans the middle 44% of the bar), never over it. */
export function keyStrip(height: number): { y: number; h: number } {
  const bodyTop = height / 2 - height * 0.22;
  const y = Math.max(0, Math.floor(height * 0.06));
  return { y, h: Math.max(1, Math.floor(bodyTop) - y) };
}

/** Inclusive runs as pixel rects across the bar, clamped to the sequence (unsorted is fine). */
export function runRects(runs: readonly [number, number][], count: number, width: number): { x: number; w: number }[] {
  const out: { x: number; w: number }[] = [];
  for (const [s0, e0] of runs) {
    const s = Math.max(0, s0);
    const e = Math.min(count - 1, e0);
    if (e < s) continue;
    out.push(segmentSpan(s, e, count, width));
  }
  return out;
}

/** Diagonal hatch lines (bottom-left to top-right) clipped to the rect [x, x + w] x [0, height],
 *  `spacing` px apart along x, anchored at x = 0 so neighbouring runs line up. */
export function hatchLines(x: number, w: number, height: number, spacing = 4): [number, number, number, number][] {
  const out: [number, number, number, number][] = [];
  if (w <= 0 || height <= 0) return out;
  const x1 = x + w;
  // a line through (c, height) and (c + height, 0): it meets the rect when c < x1 and c + height > x
  for (let c = Math.floor((x - height) / spacing) * spacing; c < x1; c += spacing) {
    if (c + height <= x) continue;
    // clip the parameter t in [0, height] (x = c + t, y = height - t) to x..x1
    const t0 = Math.max(0, x - c);
    const t1 = Math.min(height, x1 - c);
    if (t1 <= t0) continue;
    out.push([c + t0, height - t0, c + t1, height - t1]);
  }
  return out;
}

export interface TrackPaint {
  track: Track | undefined;
  /** tracklets to draw instead of the track's own (an end being dragged) */
  spans?: [number, number][];
  count: number;
  /** play head to draw, or null when it is drawn elsewhere */
  frame: number | null;
  color: string;
  selected: boolean;
}

/** Draw one bar: background, tracklets in the entity colour, flagged runs hatched, box
 *  keyframes as squares under the mask keyframe dots, the play head line. */
export function drawTrack(ctx: CanvasRenderingContext2D, width: number, height: number, p: TrackPaint): void {
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = p.selected ? "rgba(128,128,128,0.28)" : "rgba(128,128,128,0.14)";
  ctx.fillRect(0, 0, width, height);
  const mid = height / 2;
  ctx.fillStyle = p.color;
  ctx.globalAlpha = 0.85;
  for (const [s, e] of p.spans ?? p.track?.tracklets ?? []) {
    const { x, w } = segmentSpan(s, e, p.count, width);
    ctx.fillRect(x, mid - height * 0.22, w, height * 0.44);
  }
  ctx.globalAlpha = 1;
  drawHatch(ctx, runRects(p.track?.flags ?? [], p.count, width), height);
  const r = Math.max(2, Math.min(height * 0.3, 4));
  const cell = p.count > 0 ? width / p.count : width;
  drawBoxKeys(ctx, p.track?.box_keyframes ?? [], p.count, width, height, cell);
  const keys = p.track?.keyframes ?? [];
  if (cell < 2 * r + 2) {
    // Too dense for dots: runs of keyframes become a white strip along the bar's top edge, above
    // the coloured body, so a fully keyed track reads as keyed and still shows its colour.
    ctx.fillStyle = KEY_STRIP;
    const band = keyStrip(height);
    for (const { x, w } of runRects(framesToRuns(keys), p.count, width)) ctx.fillRect(x, band.y, w, band.h);
  } else {
    for (const k of keys) {
      ctx.beginPath();
      ctx.arc(frameCenter(k, p.count, width), mid, r, 0, Math.PI * 2);
      ctx.fillStyle = p.color;
      ctx.fill();
      ctx.lineWidth = 1;
      ctx.strokeStyle = "#fff";
      ctx.stroke();
    }
  }
  if (p.frame === null) return;
  const x = Math.round(frameCenter(p.frame, p.count, width)) + 0.5;
  ctx.strokeStyle = "rgba(255,60,60,0.95)";
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(x, 0);
  ctx.lineTo(x, height);
  ctx.stroke();
}

function drawHatch(ctx: CanvasRenderingContext2D, rects: { x: number; w: number }[], height: number): void {
  if (!rects.length) return;
  ctx.strokeStyle = "rgba(20,20,20,0.75)";
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (const { x, w } of rects) {
    for (const [ax, ay, bx, by] of hatchLines(x, w, height)) {
      ctx.moveTo(ax, ay);
      ctx.lineTo(bx, by);
    }
  }
  ctx.stroke();
}

/** Box keyframes: small white squares with a dark edge (mask keyframes are round dots). */
function drawBoxKeys(ctx: CanvasRenderingContext2D, keys: readonly number[], count: number, width: number, height: number, cell: number): void {
  if (!keys.length) return;
  const side = Math.max(3, Math.min(height * 0.5, 7));
  if (cell < side + 1) {
    // too dense for squares: runs of box keyframes as a strip along the bottom edge, under the body
    const band = keyStrip(height);
    ctx.fillStyle = KEY_STRIP;
    for (const { x, w } of runRects(framesToRuns(keys), count, width)) ctx.fillRect(x, height - band.y - band.h, w, band.h);
    return;
  }
  ctx.fillStyle = "#fff";
  ctx.strokeStyle = "rgba(0,0,0,0.85)";
  ctx.lineWidth = 1;
  for (const k of keys) {
    const w = side;
    const x = Math.round(frameCenter(k, count, width) - w / 2) + 0.5;
    const y = Math.round(height - side - 0.5) + 0.5;
    ctx.fillRect(x, y, w, side);
    ctx.strokeRect(x, y, w, side);
  }
}
