// The browser's caches of one sequence: decoded frame images (an LRU bounded by bytes) and
// the masks of each frame as the kernel sends them (RLE counts, small). The store decides
// what to ask for next around the play head and keeps at most a few requests in flight.

import { parseBoxes, type BoxRecord } from "./boxes";
import { LruCache } from "./cache";
import type { Json, Reply } from "./client";
import { Need, planRequests, windowFor, type FrameRange } from "./prefetch";

export interface MaskRecord {
  entity: string;
  height: number;
  width: number;
  counts: Uint8Array;
  source: string | null;
  score: number | null;
  keyframe: boolean;
}

export interface FrameMasks {
  masks: MaskRecord[];
  /** the frame's bounding boxes (they come with the masks) */
  boxes?: BoxRecord[];
  /** local generation, new every time this frame's masks are replaced (keys decoded caches) */
  gen: number;
  /** invalidated by a `changed` event; still shown until the fresh masks arrive */
  stale: boolean;
}

export interface ImageLike {
  width: number;
  height: number;
  close?: () => void;
}

export interface StoreOptions<I extends ImageLike> {
  request(fields: Json): Promise<Reply>;
  decode(bytes: Uint8Array, mime: string): Promise<I>;
  /** called when frames' images or masks arrived (the view repaints if one is on screen) */
  onLoaded(frames: number[]): void;
  onError(message: string): void;
  imageBudget?: number;
  chunk?: number;
  maxInFlight?: number;
  now?: () => number;
}

const RETRY_MS = 3000;

export class FrameStore<I extends ImageLike = ImageLike> {
  sequence = "";
  count = 0;
  head = 0;
  direction: 1 | -1 = 1;
  /** no new requests (the sequence is being switched; the kernel would answer for the new one) */
  paused = false;
  readonly chunk: number;
  readonly maxInFlight: number;
  private images: LruCache<number, I>;
  private masks = new Map<number, FrameMasks>();
  private pendingImage = new Set<number>();
  private pendingMasks = new Set<number>();
  private invalidAt = new Map<number, number>();
  private invalidAllAt = -Infinity;
  private failedUntil = new Map<number, number>();
  private inFlight = 0;
  private gen = 0;
  private epoch = 0;
  private window = { ahead: 48, behind: 8 };
  private readonly now: () => number;

  constructor(private readonly o: StoreOptions<I>) {
    this.images = new LruCache<number, I>(o.imageBudget ?? 288 * 1024 * 1024, (_k, img) => img.close?.());
    this.chunk = o.chunk ?? 12;
    this.maxInFlight = o.maxInFlight ?? 3;
    this.now = o.now ?? (() => performance.now());
  }

  /** A new sequence (or the first): forget everything, replies to old requests are dropped. */
  reset(sequence: string, count: number, width: number, height: number): void {
    this.epoch += 1;
    this.images.clear();
    this.masks.clear();
    this.pendingImage.clear();
    this.pendingMasks.clear();
    this.invalidAt.clear();
    this.failedUntil.clear();
    this.invalidAllAt = -Infinity;
    this.inFlight = 0;
    this.paused = false;
    this.sequence = sequence;
    this.count = count;
    this.head = Math.min(this.head, Math.max(0, count - 1));
    this.window = windowFor(Math.max(1, width * height * 4), this.images.budget);
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }

  get imageBytes(): number {
    return this.images.bytes;
  }

  /** The image to paint (marks it recently used). */
  image(frame: number): I | undefined {
    return this.images.get(frame);
  }

  hasImage(frame: number): boolean {
    return this.images.has(frame);
  }

  masksOf(frame: number): FrameMasks | undefined {
    return this.masks.get(frame);
  }

  /** Image and current masks cached: the frame can be shown as it is now. */
  isReady(frame: number): boolean {
    const m = this.masks.get(frame);
    return this.images.has(frame) && m !== undefined && !m.stale;
  }

  /** Image and some masks (maybe stale, refreshing): good enough to stay on screen. */
  canShow(frame: number): boolean {
    return this.images.has(frame) && this.masks.has(frame);
  }

  need(frame: number): Need {
    const until = this.failedUntil.get(frame);
    if (until !== undefined && until > this.now()) return Need.None;
    if (!this.images.has(frame)) return this.pendingImage.has(frame) ? Need.None : Need.Image;
    const m = this.masks.get(frame);
    if ((!m || m.stale) && !this.pendingMasks.has(frame)) return Need.Masks;
    return Need.None;
  }

  /** Move the play head and ask for what it now needs. */
  setHead(frame: number, direction: 1 | -1 = this.direction): void {
    this.head = frame;
    this.direction = direction;
    this.pump();
  }

  /** A `changed` event: these frames' masks (null: all) changed at `revision`. */
  invalidate(frames: readonly number[] | null, revision: number): void {
    if (frames === null) {
      this.invalidAllAt = Math.max(this.invalidAllAt, revision);
      for (const m of this.masks.values()) m.stale = true;
    } else {
      for (const f of frames) {
        this.invalidAt.set(f, Math.max(this.invalidAt.get(f) ?? -Infinity, revision));
        const m = this.masks.get(f);
        if (m) m.stale = true;
      }
    }
    this.pump();
  }

  /** Send as many requests as there are free slots, nearest the play head first. */
  pump(): void {
    if (this.count <= 0 || !this.sequence || this.paused) return;
    const ranges = planRequests({
      frame: this.head,
      count: this.count,
      direction: this.direction,
      ahead: this.window.ahead,
      behind: this.window.behind,
      chunk: this.chunk,
      slots: this.maxInFlight - this.inFlight,
      need: (f) => this.need(f),
    });
    for (const r of ranges) this.send(r);
    // The frame on screen may jump the queue by one extra slot: a seek or an edit must not
    // wait behind prefetch chunks.
    const n = this.need(this.head);
    if (n !== Need.None && this.inFlight < this.maxInFlight + 1) {
      this.send({ start: this.head, stop: this.head + 1, images: n === Need.Image });
    }
  }

  dispose(): void {
    this.epoch += 1;
    this.images.clear();
    this.masks.clear();
    this.count = 0;
  }

  private send(r: FrameRange): void {
    const epoch = this.epoch;
    const frames: number[] = [];
    for (let f = r.start; f < r.stop; f++) {
      frames.push(f);
      if (r.images) this.pendingImage.add(f);
      this.pendingMasks.add(f);
    }
    this.inFlight += 1;
    const done = () => {
      if (epoch !== this.epoch) return;
      this.inFlight -= 1;
      for (const f of frames) {
        if (r.images) this.pendingImage.delete(f);
        this.pendingMasks.delete(f);
      }
      this.pump();
    };
    this.o
      .request({ start: r.start, stop: r.stop, images: r.images, masks: true })
      .then((reply) => (epoch === this.epoch ? this.receive(reply, r.images) : undefined))
      .catch((e: unknown) => {
        if (epoch !== this.epoch) return;
        const until = this.now() + RETRY_MS;
        for (const f of frames) this.failedUntil.set(f, until);
        const msg = e instanceof Error ? e.message : String(e);
        if (!(e instanceof Error && "reason" in e && (e as { reason: string }).reason === "closed")) this.o.onError(msg);
      })
      .finally(done);
  }

  private async receive(reply: Reply, images: boolean): Promise<void> {
    const c = reply.content;
    if (c.sequence !== this.sequence) return; // answered for a sequence we left
    const revision = typeof c.revision === "number" ? c.revision : -Infinity;
    const items = Array.isArray(c.items) ? (c.items as Json[]) : [];
    const epoch = this.epoch;
    const loaded: number[] = [];
    const decodes: Promise<void>[] = [];
    for (const item of items) {
      const f = item.frame;
      if (typeof f !== "number") continue;
      // Masks computed before a change we have already heard of are stale: keep waiting.
      const fresh = revision >= Math.max(this.invalidAt.get(f) ?? -Infinity, this.invalidAllAt);
      if (fresh && Array.isArray(item.masks)) {
        this.masks.set(f, { masks: parseMasks(item.masks as Json[], reply.buffers), boxes: parseBoxes(item.boxes), gen: ++this.gen, stale: false });
        this.failedUntil.delete(f);
        loaded.push(f);
      }
      const idx = item.image;
      if (images && typeof idx === "number" && reply.buffers[idx]) {
        const mime = typeof item.mime === "string" ? item.mime : "image/jpeg";
        decodes.push(
          this.o.decode(reply.buffers[idx] as Uint8Array, mime).then(
            (img) => {
              if (epoch !== this.epoch) {
                img.close?.();
                return;
              }
              this.images.set(f, img, img.width * img.height * 4);
              this.o.onLoaded([f]);
            },
            (e: unknown) => {
              this.failedUntil.set(f, this.now() + RETRY_MS);
              this.o.onError(`frame ${f}: the image could not be decoded (${e instanceof Error ? e.message : String(e)})`);
            },
          ),
        );
      }
    }
    if (loaded.length) this.o.onLoaded(loaded);
    await Promise.all(decodes);
  }
}

function parseMasks(items: Json[], buffers: Uint8Array[]): MaskRecord[] {
  const out: MaskRecord[] = [];
  for (const m of items) {
    const counts = typeof m.counts === "number" ? buffers[m.counts] : undefined;
    if (!counts || typeof m.entity !== "string") continue;
    out.push({
      entity: m.entity,
      height: Number(m.height),
      width: Number(m.width),
      counts: counts.slice(), // own copy: the message's buffer can then be collected
      source: typeof m.source === "string" ? m.source : null,
      score: typeof m.score === "number" ? m.score : null,
      keyframe: m.keyframe === true,
    });
  }
  return out;
}

/** Decode encoded frame bytes off the main thread where the browser can (createImageBitmap). */
export async function decodeImage(bytes: Uint8Array, mime: string): Promise<ImageLike & CanvasImageSource> {
  const blob = new Blob([bytes as Uint8Array<ArrayBuffer>], { type: mime });
  if (typeof createImageBitmap === "function") return createImageBitmap(blob);
  const url = URL.createObjectURL(blob);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    return img;
  } finally {
    URL.revokeObjectURL(url);
  }
}
