// What shows frames: the frame store (requests, caches, prefetch), the overlay compositor,
// the canvas, playback, and the page-visible paint log (protocol.md). The view around it
// owns the controls and the model.

import { boxShapes, type BoxRecord } from "./boxes";
import type { Client } from "./client";
import { canvasSurfaces, Compositor, type SurfaceFactory } from "./compositor";
import { cancelIdle, cancelRaf, idle, raf, type IdleDeadlineLike } from "./dom";
import { decodeImage, FrameStore, type ImageLike } from "./frames";
import { readLook, type Look } from "./look";
import { Player } from "./player";
import { priorityOrder } from "./prefetch";
import { Stage, type StageCallbacks } from "./stage";

export type Img = ImageLike & CanvasImageSource;

export interface ViewOptions {
  decode?: (bytes: Uint8Array, mime: string) => Promise<Img>;
  surfaces?: SurfaceFactory;
  imageBudget?: number;
}

export interface Info {
  name: string;
  num_frames: number;
  width: number;
  height: number;
  fps: number;
}

export interface PaintHook {
  created: number;
  paints: { frame: number; t: number }[];
  el: HTMLElement;
  /** diagnostics for benchmarks: time spent painting, and how often playback waited for data */
  stats: { paintMs: number; overlayMs: number; overlays: number; waits: number };
  /** for tests: send a request as the view would (any kind and fields) and get the kernel's reply */
  request?: (kind: string, fields?: Record<string, unknown>) => Promise<unknown>;
  /** for tests: send anything at all as a custom message (malformed input must be refused) */
  sendRaw?: (msg: unknown) => void;
  /** for benchmarks: ms per draw of the review strip and of one track bar, as drawn now, each drawn
   *  `repeats` times in a row (the draw calls only; canvas sizing is shared) */
  drawCost?: (repeats: number) => { strip: number; bar: number };
  /** the review: rows left in the scope, and ms the last N / Shift+N / Y took (without the paint) */
  review?: { readonly left: number; readonly lastMs: number };
}

declare global {
  interface Window {
    __vidlabel?: PaintHook[];
  }
}

/** who moved the play head: the person, the kernel (or a cell), or playback */
export type SeekFrom = "user" | "model" | "player";

export interface ViewerHost {
  moved(frame: number, from: SeekFrom): void;
  playing(playing: boolean): void;
  error(message: string): void;
  /** a frame was painted (what is on screen, e.g. its boxes, may have changed) */
  painted(frame: number): void;
}

/** Overlays built ahead of the play head in idle time (within the overlay cache's budget). */
const WARM_AHEAD = 48;
const WARM_BEHIND = 4;

export class FrameViewer {
  readonly store: FrameStore<Img>;
  readonly player: Player;
  readonly stage: Stage;
  info: Info | null = null;
  frame = 0;
  private look: Look = readLook(() => undefined, 1);
  private compositor: Compositor;
  private hook: PaintHook | null = null;
  private root: HTMLElement | null = null;
  private painted = 0;
  private warmHandle: unknown = null;

  constructor(client: Client, stage: StageCallbacks, private readonly host: ViewerHost, opts: ViewOptions, doc: Document) {
    this.compositor = new Compositor(opts.surfaces ?? canvasSurfaces(doc));
    this.store = new FrameStore<Img>({
      request: (fields) => client.request("frames", fields, { timeoutMs: 20_000 }),
      decode: opts.decode ?? decodeImage,
      onLoaded: (frames) => {
        if (frames.includes(this.frame)) this.paint();
        this.scheduleWarm();
      },
      onError: (m) => host.error(m),
      imageBudget: opts.imageBudget,
    });
    this.player = new Player({
      now: () => performance.now(),
      requestFrame: raf,
      cancelFrame: cancelRaf,
      count: () => this.info?.num_frames ?? 0,
      current: () => this.frame,
      isReady: (f) => {
        const ok = this.store.isReady(f);
        if (!ok && this.hook) this.hook.stats.waits += 1;
        return ok;
      },
      seek: (f) => this.seek(f, "player"),
      onChange: () => host.playing(this.player.playing),
    });
    this.stage = new Stage(stage);
  }

  /** Start the paint log on the view's root (window.__vidlabel gets one entry per view). */
  attach(root: HTMLElement, extra: Partial<PaintHook> = {}): void {
    this.root = root;
    this.hook = {
      created: performance.now(),
      paints: [],
      el: root,
      stats: { paintMs: 0, overlayMs: 0, overlays: 0, waits: 0 },
      ...extra,
    };
    const win = root.ownerDocument.defaultView;
    if (win) (win.__vidlabel ??= []).push(this.hook);
  }

  /** Outline thickness in image pixels: about one screen pixel at typical fits. */
  get lineWidth(): number {
    return Math.max(1, Math.round(Math.min(this.info?.width ?? 0, this.info?.height ?? 0) / 360));
  }

  /** A new sequence (or its size changed): drop every cache and fit the new frame. */
  setSequence(sequence: string, info: Info | null): void {
    this.info = info && info.num_frames > 0 ? info : null;
    this.player.stop();
    this.host.playing(false);
    this.stage.draw(null, null); // before the bitmaps it shows are closed
    this.compositor.clear();
    this.store.reset(sequence, this.info?.num_frames ?? 0, this.info?.width ?? 0, this.info?.height ?? 0);
    this.stage.setImageSize(this.info?.width ?? 0, this.info?.height ?? 0);
    this.frame = -1;
    this.layout();
  }

  setLook(look: Look): void {
    const changed = look.key !== this.look.key;
    this.look = look;
    if (changed) {
      this.paint();
      this.scheduleWarm();
    }
  }

  seek(frame: number, from: SeekFrom = "user"): void {
    if (!this.info) return;
    const f = Math.min(this.info.num_frames - 1, Math.max(0, Math.round(frame)));
    const moved = f !== this.frame;
    const dir: 1 | -1 = from === "player" ? this.player.direction : f >= this.frame ? 1 : -1;
    this.frame = f;
    if (moved) this.host.moved(f, from);
    this.store.setHead(f, dir);
    if (this.store.canShow(f)) this.paint();
    else this.stage.badge.hidden = false;
  }

  /** Paint the current frame with its overlay, if both are cached (else keep what is shown). */
  paint(): void {
    const info = this.info;
    const f = this.frame;
    if (!info || !this.store.canShow(f)) return;
    const t0 = performance.now();
    const img = this.store.image(f) as Img;
    const l = this.look;
    const built = this.compositor.built;
    const fm = this.store.masksOf(f)!;
    const overlay = this.compositor.overlay(f, fm, info.width, info.height, l.colors, l.order, l.style, l.key);
    const t1 = performance.now();
    const boxes = boxShapes(fm.boxes ?? [], l.hex, l.hidden, l.selected);
    this.stage.draw(img, overlay ? { source: overlay.surface.source, rect: overlay.rect } : null, boxes);
    if (this.hook) {
      const st = this.hook.stats;
      if (this.compositor.built !== built) {
        st.overlays += 1;
        st.overlayMs += t1 - t0;
      }
      st.paintMs += performance.now() - t0;
    }
    this.stage.badge.hidden = true;
    this.painted += 1;
    if (this.root) {
      this.root.dataset.frame = String(f);
      this.root.dataset.painted = String(this.painted);
    }
    this.hook?.paints.push({ frame: f, t: performance.now() });
    this.host.painted(f);
    this.scheduleWarm();
  }

  /** The boxes cached for a frame (those on screen when it is the current one). */
  boxesAt(frame: number): BoxRecord[] | undefined {
    return this.store.masksOf(frame)?.boxes;
  }

  private scheduleWarm(): void {
    if (this.warmHandle !== null || !this.info) return;
    this.warmHandle = idle((d) => {
      this.warmHandle = null;
      this.warm(d);
    });
  }

  /** Build the overlays of cached frames near the play head, nearest first in the direction
   *  of travel, so painting them is a draw only; stops when the idle slice runs out. */
  private warm(deadline: IdleDeadlineLike): void {
    const info = this.info;
    if (!info) return;
    const l = this.look;
    for (const f of priorityOrder(this.frame, info.num_frames, this.store.direction, WARM_AHEAD, WARM_BEHIND)) {
      const fm = this.store.masksOf(f);
      if (!fm || fm.stale || !this.store.hasImage(f) || this.compositor.has(f, fm.gen, l.key)) continue;
      if (deadline.timeRemaining() < 3) return this.scheduleWarm();
      this.compositor.overlay(f, fm, info.width, info.height, l.colors, l.order, l.style, l.key);
    }
  }

  /** Stage height follows the frame's aspect ratio within the notebook's width. */
  layout(): void {
    const w = this.stage.el.clientWidth;
    if (w > 0 && this.info) {
      const maxH = Math.max(240, (globalThis.innerHeight || 800) * 0.7);
      const hgt = Math.round(Math.min(maxH, Math.max(200, (w * this.info.height) / this.info.width)));
      if (this.stage.el.style.height !== `${hgt}px`) this.stage.el.style.height = `${hgt}px`;
    }
    this.stage.resize();
  }

  dispose(): void {
    this.player.stop();
    if (this.warmHandle !== null) cancelIdle(this.warmHandle);
    this.warmHandle = null;
    this.store.dispose();
    this.compositor.clear();
  }
}
