// What shows frames: the frame store (requests, caches, prefetch), the overlay compositor,
// the canvas, playback, and the page-visible paint log (protocol.md). The view around it
// owns the controls and the model.

import type { Client } from "./client";
import { canvasSurfaces, Compositor, type SurfaceFactory } from "./compositor";
import { cancelRaf, raf } from "./dom";
import { decodeImage, FrameStore, type ImageLike } from "./frames";
import { readLook, type Look } from "./look";
import { Player } from "./player";
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
}

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

  constructor(client: Client, stage: StageCallbacks, private readonly host: ViewerHost, opts: ViewOptions, doc: Document) {
    this.compositor = new Compositor(opts.surfaces ?? canvasSurfaces(doc));
    this.store = new FrameStore<Img>({
      request: (fields) => client.request("frames", fields, { timeoutMs: 20_000 }),
      decode: opts.decode ?? decodeImage,
      onLoaded: (frames) => {
        if (frames.includes(this.frame)) this.paint();
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
      isReady: (f) => this.store.isReady(f),
      seek: (f) => this.seek(f, "player"),
      onChange: () => host.playing(this.player.playing),
    });
    this.stage = new Stage(stage);
  }

  /** Start the paint log on the view's root (window.__vidlabel gets one entry per view). */
  attach(root: HTMLElement): void {
    this.root = root;
    this.hook = { created: performance.now(), paints: [], el: root };
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
    this.compositor.clear();
    this.store.reset(sequence, this.info?.num_frames ?? 0, this.info?.width ?? 0, this.info?.height ?? 0);
    this.stage.setImageSize(this.info?.width ?? 0, this.info?.height ?? 0);
    this.stage.draw(null, null);
    this.frame = -1;
    this.layout();
  }

  setLook(look: Look): void {
    const changed = look.key !== this.look.key;
    this.look = look;
    if (changed) this.paint();
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
    const img = this.store.image(f) as Img;
    const l = this.look;
    const overlay = this.compositor.overlay(f, this.store.masksOf(f)!, info.width, info.height, l.colors, l.order, l.style, l.key);
    this.stage.draw(img, overlay?.source ?? null);
    this.stage.badge.hidden = true;
    this.painted += 1;
    if (this.root) {
      this.root.dataset.frame = String(f);
      this.root.dataset.painted = String(this.painted);
    }
    this.hook?.paints.push({ frame: f, t: performance.now() });
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
    this.store.dispose();
    this.compositor.clear();
  }
}
