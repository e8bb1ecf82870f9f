// Track bar geometry: frame cells laid out evenly across the bar's width, so a tracklet
// [s, e] covers [x(s), x(e + 1)) and a click at x picks the cell under it.

export interface Track {
  tracklets: [number, number][];
  keyframes: number[];
}

export type Tracks = Record<string, Track>;

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

export interface TrackPaint {
  track: Track | undefined;
  count: number;
  /** play head to draw, or null when it is drawn elsewhere */
  frame: number | null;
  color: string;
  selected: boolean;
}

/** Draw one bar: background, tracklets in the entity colour, keyframe dots, the play head line. */
export function drawTrack(ctx: CanvasRenderingContext2D, width: number, height: number, p: TrackPaint): void {
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = p.selected ? "rgba(128,128,128,0.28)" : "rgba(128,128,128,0.14)";
  ctx.fillRect(0, 0, width, height);
  const mid = height / 2;
  ctx.fillStyle = p.color;
  ctx.globalAlpha = 0.85;
  for (const [s, e] of p.track?.tracklets ?? []) {
    const { x, w } = segmentSpan(s, e, p.count, width);
    ctx.fillRect(x, mid - height * 0.22, w, height * 0.44);
  }
  ctx.globalAlpha = 1;
  const r = Math.max(2, Math.min(height * 0.3, 4));
  const cell = p.count > 0 ? width / p.count : width;
  const keys = p.track?.keyframes ?? [];
  if (cell < 2 * r + 2) {
    // too dense for dots: one tick per keyframe, so a fully keyed track still reads as keyed
    ctx.fillStyle = "rgba(255,255,255,0.9)";
    for (const k of keys) ctx.fillRect(Math.floor(frameLeft(k, p.count, width)), mid - height * 0.35, Math.max(1, cell * 0.5), height * 0.7);
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
