// The review queue as the browser holds it (the `review` trait, patched by `review` events;
// protocol.md): per entity, the frames still to review with their suspicion and reasons.
// N / Shift+N and the counter answer from this copy, never from the kernel; the strip draws
// it as cheaply as a track bar (one pass over the frames, one fill per colour).

export interface EntityQueue {
  /** ascending frames */
  frames: number[];
  /** in [0, 1], parallel to `frames` */
  suspicion: number[];
  /** signal names that fired, strongest first, comma-separated ("" when none), parallel too */
  reasons: string[];
}

export interface ReviewState {
  sequence: string;
  /** the dataset version the queue was computed from (-1 before the first) */
  version: number;
  entities: Record<string, EntityQueue>;
  /** why the queue could not be computed ("" when it could) */
  error: string;
}

/** A `review` event's part for one entity: rows `[frame, suspicion, reasons]` to set, frames to drop. */
export interface QueuePatch {
  set: [number, number, string][];
  remove: number[];
}

export interface ReviewItem {
  frame: number;
  entity: string;
  suspicion: number;
  reasons: string;
}

export function emptyReview(): ReviewState {
  return { sequence: "", version: -1, entities: {}, error: "" };
}

export function readReview(v: unknown): ReviewState {
  const r = (v ?? {}) as Partial<ReviewState>;
  return {
    sequence: String(r.sequence ?? ""),
    version: typeof r.version === "number" ? r.version : -1,
    entities: (r.entities ?? {}) as Record<string, EntityQueue>,
    error: String(r.error ?? ""),
  };
}

/** Apply a `review` event to `state` in place (idempotent: every view of a model applies it to the
 *  model's one copy); the ids of the entities it touched. */
export function applyReviewPatch(state: ReviewState, patch: Record<string, QueuePatch | null>, version: number, error = ""): string[] {
  const touched: string[] = [];
  for (const [id, p] of Object.entries(patch)) {
    touched.push(id);
    if (p === null) {
      delete state.entities[id];
      continue;
    }
    const rows = new Map<number, [number, string]>();
    const q = state.entities[id];
    if (q) for (let i = 0; i < q.frames.length; i++) rows.set(q.frames[i]!, [q.suspicion[i]!, q.reasons[i]!]);
    for (const f of p.remove) rows.delete(f);
    for (const [f, s, r] of p.set) rows.set(f, [s, r]);
    const frames = [...rows.keys()].sort((a, b) => a - b);
    state.entities[id] = { frames, suspicion: frames.map((f) => rows.get(f)![0]), reasons: frames.map((f) => rows.get(f)![1]) };
  }
  state.version = Math.max(state.version, version);
  state.error = error;
  return touched;
}

const key = (frame: number, entity: string) => `${frame}\u0000${entity}`;

/** What to review, worst first: the suspicious rows (some signal fired) of `entity`, or of every
 *  entity when it is "" (in `order`), leaving out those accepted but not yet re-read (`skip`).
 *  Ties go to the earlier frame, then to the entity listed first. */
export function queueItems(state: ReviewState, entity: string, order: readonly string[], skip: ReadonlySet<string> = new Set()): ReviewItem[] {
  const ids = entity ? [entity] : [...order, ...Object.keys(state.entities).filter((e) => !order.includes(e))];
  const rank = new Map(ids.map((e, i) => [e, i]));
  const out: ReviewItem[] = [];
  for (const e of ids) {
    const q = state.entities[e];
    if (!q) continue;
    for (let i = 0; i < q.frames.length; i++) {
      if (!q.reasons[i]) continue;
      const frame = q.frames[i]!;
      if (skip.size && skip.has(key(frame, e))) continue;
      out.push({ frame, entity: e, suspicion: q.suspicion[i]!, reasons: q.reasons[i]! });
    }
  }
  out.sort((a, b) => b.suspicion - a.suspicion || a.frame - b.frame || rank.get(a.entity)! - rank.get(b.entity)!);
  return out;
}

export function itemKey(item: { frame: number; entity: string }): string {
  return key(item.frame, item.entity);
}

/** The item under review: `cursor` while it is still queued on `frame`, else the worst item on `frame`. */
export function currentItem(items: readonly ReviewItem[], frame: number, cursor: { frame: number; entity: string } | null): number {
  if (cursor && cursor.frame === frame) {
    const i = items.findIndex((it) => it.frame === frame && it.entity === cursor.entity);
    if (i >= 0) return i;
  }
  return items.findIndex((it) => it.frame === frame);
}

/** The next (`dir` 1) or previous (-1) item from `at` in queue order, round the ends; from no item
 *  (-1), N starts at the worst and Shift+N at the least suspicious. -1 when the queue is empty. */
export function stepItem(count: number, at: number, dir: 1 | -1): number {
  if (count === 0) return -1;
  if (at < 0) return dir > 0 ? 0 : count - 1;
  return (at + dir + count) % count;
}

/** "frame 132 · person: temporal, area jump · 0.83" */
export function itemLabel(item: ReviewItem, name: string): string {
  const why = item.reasons
    .split(",")
    .map((r) => r.trim().replace(/_/g, " "))
    .filter(Boolean)
    .join(", ");
  return `frame ${item.frame} · ${name}: ${why} · ${item.suspicion.toFixed(2)}`;
}

// ---- the strip ------------------------------------------------------------------------------

/** Colour buckets: a cell's code is its bucket, plus BUCKETS when some signal fired there. */
export const BUCKETS = 10;

/** Per frame, the code of the row drawn there (-1: nothing to review): the entity's own rows, or
 *  the highest code over every entity when `entity` is "". */
export function stripCodes(state: ReviewState, entity: string, count: number, skip: ReadonlySet<string> = new Set()): Int8Array {
  const codes = new Int8Array(Math.max(0, count)).fill(-1);
  const ids = entity ? [entity] : Object.keys(state.entities);
  for (const e of ids) {
    const q = state.entities[e];
    if (!q) continue;
    for (let i = 0; i < q.frames.length; i++) {
      const f = q.frames[i]!;
      if (f < 0 || f >= count || (skip.size && skip.has(key(f, e)))) continue;
      const s = Math.min(1, Math.max(0, q.suspicion[i]!));
      const c = Math.min(BUCKETS - 1, Math.floor(s * BUCKETS)) + (q.reasons[i] ? BUCKETS : 0);
      if (c > codes[f]!) codes[f] = c;
    }
  }
  return codes;
}

/** RGBA of a code's colour (see codeColor), alpha 0..255. */
export function codeRGBA(code: number): [number, number, number, number] {
  const fired = code >= BUCKETS;
  const s = ((code % BUCKETS) + 0.5) / BUCKETS;
  // hsl(hue, 85%, 48%): a flagged row from amber (hue 50) to red (0), so that flagged never reads as
  // green, "fine"; a row no signal flagged from green (120) towards red, faint
  const hue = (fired ? 50 : 120) * (1 - s);
  const c = (1 - Math.abs(2 * 0.48 - 1)) * 0.85;
  const x = c * (1 - Math.abs(((hue / 60) % 2) - 1));
  const m = 0.48 - c / 2;
  const [r, g] = hue < 60 ? [c, x] : [x, c];
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round(m * 255), fired ? 242 : 77];
}

// The colours as 32-bit pixels (laid out through bytes, so whatever the platform's byte order).
const PALETTE = new Uint32Array(2 * BUCKETS);
new Uint8ClampedArray(PALETTE.buffer).set(Array.from({ length: 2 * BUCKETS }, (_, c) => codeRGBA(c)).flat());

/** The strip as a cols x 3 image: per pixel column the highest code of the frames under it; a
 *  flagged code fills the column, a quiet one only its middle row (a thin band). O(frames + cols)
 *  whatever the number of rows, one 32-bit write per pixel: the strip costs one small image. */
export function stripPixels(codes: Int8Array, cols: number, into?: Uint8ClampedArray): Uint8ClampedArray {
  cols = Math.max(0, cols);
  const size = cols * 3 * 4;
  const out = into && into.length === size ? into : new Uint8ClampedArray(size);
  const px32 = new Uint32Array(out.buffer, out.byteOffset, cols * 3);
  px32.fill(0);
  const n = codes.length;
  if (n === 0 || cols === 0) return out;
  for (let px = 0; px < cols; px++) {
    const f0 = Math.floor((px * n) / cols);
    const f1 = Math.min(n, Math.max(f0 + 1, Math.floor(((px + 1) * n) / cols)));
    let c = codes[f0]!;
    for (let f = f0 + 1; f < f1; f++) if (codes[f]! > c) c = codes[f]!;
    if (c < 0) continue;
    const v = PALETTE[c]!;
    px32[cols + px] = v;
    if (c >= BUCKETS) px32[px] = px32[2 * cols + px] = v;
  }
  return out;
}

/** Where the strip's image is put before it is scaled onto the strip (one per strip). */
export interface Scratch {
  canvas: HTMLCanvasElement | OffscreenCanvas | null;
  image?: ImageData;
}

/** Draw the strip: a faint background, then its image scaled to the strip (`cols` device pixels
 *  across), without smoothing. */
export function drawStrip(ctx: CanvasRenderingContext2D, width: number, height: number, codes: Int8Array, cols: number, scratch: Scratch): void {
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = "rgba(128,128,128,0.10)";
  ctx.fillRect(0, 0, width, height);
  cols = Math.max(1, Math.round(cols));
  if (!codes.length) return;
  let off = scratch.canvas;
  if (!off) {
    off = scratch.canvas = typeof OffscreenCanvas !== "undefined" ? new OffscreenCanvas(cols, 3) : ctx.canvas.ownerDocument.createElement("canvas");
  }
  if (off.width !== cols) off.width = cols;
  if (off.height !== 3) off.height = 3;
  const g = off.getContext("2d") as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
  if (!g) return;
  let img = scratch.image;
  if (!img || img.width !== cols) img = scratch.image = new ImageData(cols, 3);
  stripPixels(codes, cols, img.data);
  g.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, width, height);
}
