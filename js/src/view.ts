// One view of the Annotator: builds the DOM, wires the model's traits and messages to the
// caches, the canvas and the controls. The kernel's dataset is the source of truth; this
// view only caches frames and masks and sends requests (protocol.md).

import { Client, RequestError, type Json } from "./client";
import { canvasSurfaces, Compositor, type SurfaceFactory } from "./compositor";
import { cancelRaf, h, isEditable, raf } from "./dom";
import { FrameStore, type ImageLike } from "./frames";
import { ErrorBanner, HelpOverlay } from "./overlays";
import { parseColor, type OverlayStyle, type Rgb } from "./overlay";
import { EntityPanel, type EntityFields } from "./panel";
import { Player } from "./player";
import { PromptSession } from "./prompts";
import { actionFor, type Action, type Direction } from "./shortcuts";
import { Stage } from "./stage";
import { injectStyle } from "./style";
import { TraitWriter, type Model } from "./sync";
import { keyframesOf, nextKeyframe, prevKeyframe, type Tracks } from "./timeline";
import { TimelineView, type EntityInfo } from "./timeline-view";
import { Toolbar, type Progress } from "./toolbar";

type Img = ImageLike & CanvasImageSource;

export interface ViewOptions {
  decode?: (bytes: Uint8Array, mime: string) => Promise<Img>;
  surfaces?: SurfaceFactory;
  imageBudget?: number;
}

interface Info {
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

async function decodeImage(bytes: Uint8Array, mime: string): Promise<Img> {
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

const STEP_KEYS = new Set(["ArrowLeft", "ArrowRight", "a", "A", "d", "D"]);

export class AnnotatorView {
  readonly root: HTMLDivElement;
  readonly client: Client;
  readonly store: FrameStore<Img>;
  readonly player: Player;
  private compositor: Compositor;
  private stage: Stage;
  private timeline: TimelineView;
  private panel: EntityPanel;
  private toolbar: Toolbar;
  private banner: ErrorBanner;
  private help: HelpOverlay;
  private hook: PaintHook;
  private w: Record<"frame" | "entity" | "tool" | "opacity" | "outline" | "hidden" | "sequence" | "error", TraitWriter<unknown>>;
  private off: (() => void)[] = [];
  private sequence = "";
  private infoKey = "";
  private info: Info | null = null;
  private frame = 0;
  private entities: EntityInfo[] = [];
  private colors = new Map<string, Rgb>();
  private selected = "";
  private hidden = new Set<string>();
  private tracks: Tracks = {};
  private progress: Progress | null = null;
  private styleKey = "";
  private style: OverlayStyle = { opacity: 0.5, outline: false, hidden: new Set(), highlight: null, lineWidth: 1 };
  private session: PromptSession | null = null;
  private creating: Promise<string | null> | null = null;
  private localError = "";
  private painted = 0;
  private resetQueued = false;

  constructor(private readonly model: Model, el: HTMLElement, opts: ViewOptions = {}) {
    injectStyle(el.ownerDocument);
    this.client = new Client((c) => model.send(c));
    this.compositor = new Compositor(opts.surfaces ?? canvasSurfaces(el.ownerDocument));
    this.store = new FrameStore<Img>({
      request: (fields) => this.client.request("frames", fields, { timeoutMs: 20_000 }),
      decode: opts.decode ?? decodeImage,
      onLoaded: (frames) => {
        if (frames.includes(this.frame)) this.paint();
      },
      onError: (m) => this.showError(m),
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
      onChange: () => this.timeline.setPlaying(this.player.playing),
    });
    const writer = (name: string, ms = 0) => new TraitWriter<unknown>(model, name, ms);
    this.w = {
      frame: writer("frame", 150),
      entity: writer("entity"),
      tool: writer("tool"),
      opacity: writer("opacity", 100),
      outline: writer("outline"),
      hidden: writer("hidden"),
      sequence: writer("sequence"),
      error: writer("error"),
    };

    this.stage = new Stage({
      tool: () => (model.get("tool") === "box" ? "box" : "point"),
      onPoint: (x, y, label) => void this.prompt((s) => s.addPoint(x, y, label)),
      onBox: (box) => void this.prompt((s) => s.addBox(box)),
    });
    this.timeline = new TimelineView({
      onSeek: (f) => this.seek(f),
      onStep: (d) => this.seek(this.frame + d),
      onKeyframe: (d) => this.jumpKeyframe(d),
      onPlay: () => this.player.toggle(this.info?.fps ?? 24),
      onTrackClick: (id, f) => {
        this.select(id);
        this.seek(f);
      },
    });
    this.panel = new EntityPanel({
      onSelect: (id) => this.select(id),
      onToggleHidden: (id) => this.toggleHidden(id),
      onAdd: (fields) => void this.createEntity(fields),
      onEdit: (id, fields) => this.edit("set_entity", { entity: id, ...fields }),
      onDelete: (id) => this.edit("delete_entity", { entity: id }),
    });
    this.toolbar = new Toolbar({
      onSequence: (id) => this.w.sequence.write(id),
      onTool: (t) => this.setTool(t),
      onPropagate: (d) => this.propagate(d),
      onCancel: () => this.edit("cancel", {}),
      onErase: () => this.erase(this.frame, this.frame),
      onEraseRange: (a, b) => this.erase(a, b),
      onUndo: () => this.edit("undo", {}),
      onRedo: () => this.edit("redo", {}),
      onOpacity: (v) => this.setLook(v, this.style.outline),
      onOutline: (v) => this.setLook(this.style.opacity, v),
      onFit: () => this.stage.fit(),
      onHelp: () => this.help.toggle(),
    });
    this.toolbar.defaults = () => ({ from: this.frame, to: this.frame, max: Math.max(0, (this.info?.num_frames ?? 1) - 1) });
    this.banner = new ErrorBanner(() => this.dismissError());
    this.help = new HelpOverlay(() => this.help.toggle(false));

    this.root = h(
      "div",
      { class: "vidlabel-annotator", tabindex: "0", "data-lm-suppress-shortcuts": "true", "data-frame": "-1", "data-painted": "0" },
      this.banner.el,
      this.toolbar.el,
      this.toolbar.eraseForm,
      h("div", { class: "vl-main" }, this.stage.el, this.panel.el),
      this.timeline.transport,
      this.timeline.tracksEl,
      this.help.el,
    );
    el.appendChild(this.root);
    this.hook = { created: performance.now(), paints: [], el: this.root };
    const win = el.ownerDocument.defaultView;
    if (win) (win.__vidlabel ??= []).push(this.hook);

    this.listen(this.root, "keydown", (e) => this.onKeyDown(e as KeyboardEvent));
    this.listen(this.root, "keyup", (e) => this.onKeyUp(e as KeyboardEvent));
    this.listen(this.root, "focusout", (e) => {
      if (!this.root.contains((e as FocusEvent).relatedTarget as Node | null)) this.player.release();
    });
    this.listen(this.root, "pointerdown", (e) => {
      if (!isEditable(e.target)) this.root.focus({ preventScroll: true });
    });
    if (win) this.listen(win, "blur", () => this.player.release());
    if (typeof ResizeObserver !== "undefined") {
      const ro = new ResizeObserver(() => this.layout());
      ro.observe(this.root);
      this.off.push(() => ro.disconnect());
    }

    const onMsg = (msg: unknown, buffers?: unknown[]) => this.client.handleMessage(msg, buffers);
    model.on("msg:custom", onMsg);
    this.off.push(() => model.off("msg:custom", onMsg));
    this.client.onEvent((m) => this.onEvent(m));
    this.client.onOrphanError((e) => this.showError(e));
    for (const name of ["sequence", "info"]) this.onTrait(name, () => this.queueReset());
    this.onTrait("sequences", () => this.toolbar.setSequences(model.get("sequences") ?? [], this.sequence));
    this.onTrait("frame", () => {
      if (this.w.frame.writing) return;
      this.w.frame.cancel();
      this.seek(Number(model.get("frame")) || 0, "model");
    });
    for (const name of ["entities", "entity", "hidden", "opacity", "outline"]) this.onTrait(name, () => this.readLook());
    this.onTrait("tracks", () => this.readTracks());
    this.onTrait("tool", () => this.toolbar.setTool(model.get("tool")));
    this.onTrait("progress", () => this.toolbar.setProgress((this.progress = model.get("progress") ?? null)));
    this.onTrait("busy", () => (this.toolbar.status.textContent = model.get("busy") ? `${model.get("busy")}…` : ""));
    this.onTrait("error", () => this.renderError());
    for (const name of ["can_undo", "can_redo", "undo_label", "redo_label"]) this.onTrait(name, () => this.readUndo());

    this.toolbar.setSequences(model.get("sequences") ?? [], model.get("sequence") ?? "");
    this.toolbar.setTool(model.get("tool"));
    this.toolbar.setProgress((this.progress = model.get("progress") ?? null));
    this.readUndo();
    this.renderError();
    this.reset();
    this.layout();
  }

  dispose(): void {
    this.player.stop();
    for (const w of Object.values(this.w)) w.flush();
    for (const f of this.off.splice(0)) f();
    this.session?.close();
    this.client.dispose();
    this.store.dispose();
    this.compositor.clear();
    this.root.remove();
  }

  // ---- model wiring -------------------------------------------------------------------

  private onTrait(name: string, cb: () => void): void {
    const writer = (this.w as Record<string, TraitWriter<unknown> | undefined>)[name];
    const handler = () => {
      if (!writer?.writing) cb();
    };
    this.model.on(`change:${name}`, handler);
    this.off.push(() => this.model.off(`change:${name}`, handler));
  }

  private listen(target: EventTarget, type: string, cb: (e: Event) => void): void {
    target.addEventListener(type, cb);
    this.off.push(() => target.removeEventListener(type, cb));
  }

  private queueReset(): void {
    if (this.resetQueued) return;
    this.resetQueued = true;
    queueMicrotask(() => {
      this.resetQueued = false;
      this.reset();
    });
  }

  /** (Re)start on the model's sequence: caches are per sequence. */
  private reset(): void {
    const seq = String(this.model.get("sequence") ?? "");
    const info = this.model.get("info") as Info | null;
    const key = JSON.stringify([seq, info]);
    this.readLook();
    this.readTracks();
    if (key === this.infoKey) return;
    this.infoKey = key;
    this.sequence = seq;
    this.info = info && info.num_frames > 0 ? info : null;
    this.root.dataset.sequence = seq;
    this.toolbar.setSequences(this.model.get("sequences") ?? [], seq);
    this.endSession();
    this.player.stop();
    this.timeline.setPlaying(false);
    this.compositor.clear();
    const n = this.info?.num_frames ?? 0;
    this.store.reset(seq, n, this.info?.width ?? 0, this.info?.height ?? 0);
    this.style.lineWidth = Math.max(1, Math.round(Math.min(this.info?.width ?? 0, this.info?.height ?? 0) / 360));
    this.stage.setImageSize(this.info?.width ?? 0, this.info?.height ?? 0);
    this.stage.draw(null, null);
    this.timeline.setCount(n);
    this.frame = -1;
    this.layout();
    this.seek(Number(this.model.get("frame")) || 0, "model");
  }

  private readLook(): void {
    const m = this.model;
    this.entities = (m.get("entities") ?? []) as EntityInfo[];
    this.colors = new Map(this.entities.map((e) => [e.id, parseColor(e.color)]));
    const selected = String(m.get("entity") ?? "");
    if (selected !== this.selected) this.endSession();
    this.selected = selected;
    this.hidden = new Set((m.get("hidden") ?? []) as string[]);
    const opacity = Number(m.get("opacity") ?? 0.5);
    const outline = !!m.get("outline");
    this.toolbar.setOpacity(opacity, outline);
    this.panel.update(this.entities, this.selected, this.hidden);
    this.timeline.setTracks(this.entities, this.tracks, this.selected);
    this.restyle(opacity, outline);
  }

  private restyle(opacity: number, outline: boolean): void {
    this.style = { ...this.style, opacity, outline, hidden: this.hidden, highlight: this.selected || null };
    const key = JSON.stringify([opacity, outline, [...this.hidden].sort(), this.entities.map((e) => [e.id, e.color]), this.selected]);
    if (key === this.styleKey) return;
    this.styleKey = key;
    this.paint();
  }

  private readTracks(): void {
    this.tracks = (this.model.get("tracks") ?? {}) as Tracks;
    this.timeline.setTracks(this.entities, this.tracks, this.selected);
  }

  private readUndo(): void {
    const m = this.model;
    this.toolbar.setUndo(!!m.get("can_undo"), !!m.get("can_redo"), String(m.get("undo_label") ?? ""), String(m.get("redo_label") ?? ""));
  }

  private onEvent(m: Json): void {
    if (m.kind !== "changed" || m.sequence !== this.sequence) return;
    const frames = Array.isArray(m.frames) ? (m.frames as number[]) : null;
    this.store.invalidate(frames, typeof m.revision === "number" ? m.revision : Infinity);
  }

  // ---- frames and painting ------------------------------------------------------------

  seek(frame: number, from: "user" | "model" | "player" = "user"): void {
    if (!this.info) return;
    const f = Math.min(this.info.num_frames - 1, Math.max(0, Math.round(frame)));
    const moved = f !== this.frame;
    const dir: 1 | -1 = from === "player" ? this.player.direction : f >= this.frame ? 1 : -1;
    this.frame = f;
    if (moved) this.endSession();
    this.timeline.setFrame(f);
    this.store.setHead(f, dir);
    if (moved && from !== "model") this.w.frame.write(f);
    if (this.store.canShow(f)) this.paint();
    else this.stage.badge.hidden = false;
  }

  /** Paint the current frame with its overlay, if both are cached (else keep what is shown). */
  private paint(): void {
    const info = this.info;
    const f = this.frame;
    if (!info || !this.store.canShow(f)) return;
    const img = this.store.image(f) as Img;
    const fm = this.store.masksOf(f)!;
    const order = this.entities.map((e) => e.id);
    const overlay = this.compositor.overlay(f, fm, info.width, info.height, this.colors, order, this.style, this.styleKey);
    this.stage.draw(img, overlay?.source ?? null);
    this.stage.badge.hidden = true;
    this.painted += 1;
    this.root.dataset.frame = String(f);
    this.root.dataset.painted = String(this.painted);
    this.hook.paints.push({ frame: f, t: performance.now() });
  }

  /** Stage height follows the frame's aspect ratio within the notebook's width. */
  private layout(): void {
    const w = this.stage.el.clientWidth;
    if (w > 0 && this.info) {
      const maxH = Math.max(240, (globalThis.innerHeight || 800) * 0.7);
      const hgt = Math.round(Math.min(maxH, Math.max(200, (w * this.info.height) / this.info.width)));
      if (this.stage.el.style.height !== `${hgt}px`) this.stage.el.style.height = `${hgt}px`;
    }
    this.stage.resize();
    this.timeline.redrawTracks();
  }

  // ---- editing ------------------------------------------------------------------------

  private endSession(): void {
    if (!this.session) return;
    this.session.close();
    this.session = null;
    this.stage.setMarks({ points: [], box: null });
  }

  private async prompt(add: (s: PromptSession) => void): Promise<void> {
    const entity = this.selected || (await this.createEntity({}));
    if (!entity || !this.info) return;
    if (!this.session || this.session.frame !== this.frame || this.session.entity !== entity) {
      this.endSession();
      const s = new PromptSession(
        this.frame,
        entity,
        (fields) => this.request("prompt", { ...fields }, 120_000),
        () => {
          if (this.session === s) this.stage.setMarks({ points: s.marks, box: s.box });
        },
      );
      this.session = s;
    }
    add(this.session);
  }

  /** add_entity; the kernel selects the new entity. Concurrent callers share one creation. */
  private createEntity(fields: EntityFields): Promise<string | null> {
    if (this.creating) return this.creating;
    this.creating = this.request("add_entity", { ...fields })
      .then((r) => {
        const id = typeof r.entity === "string" ? r.entity : null;
        if (id) {
          // hold it in the model too, whichever of the reply and the kernel's trait update comes first
          this.w.entity.write(id);
          this.selected = id;
          this.panel.update(this.entities, id, this.hidden);
        }
        return id;
      })
      .catch(() => null)
      .finally(() => (this.creating = null));
    return this.creating;
  }

  private select(id: string): void {
    if (id === this.selected) return;
    this.w.entity.write(id);
    this.readLook();
  }

  private toggleHidden(id: string): void {
    if (!id) return;
    const next = new Set(this.hidden);
    if (!next.delete(id)) next.add(id);
    this.w.hidden.write([...next]);
    this.readLook();
  }

  private setTool(tool: "point" | "box"): void {
    this.w.tool.write(tool);
    this.toolbar.setTool(tool);
  }

  private setLook(opacity: number, outline: boolean): void {
    if (opacity !== this.style.opacity) this.w.opacity.write(opacity);
    if (outline !== this.style.outline) this.w.outline.write(outline);
    this.toolbar.setOpacity(opacity, outline);
    this.restyle(opacity, outline);
  }

  private erase(first: number, last: number): void {
    if (!this.selected) return this.showError("Select an entity to erase first.");
    this.endSession();
    this.edit("erase", { entity: this.selected, start: first, stop: last + 1 });
  }

  private propagate(direction: Direction): void {
    const entities = this.toolbar.scope.value === "all" || !this.selected ? "all" : "selected";
    this.endSession();
    this.request("propagate", { direction, entities, frame: this.frame }, 0).then(
      (r) => {
        const what = r.cancelled ? "cancelled" : "done";
        this.toolbar.status.textContent = `propagation ${what}: ${r.written ?? 0} written, ${r.kept ?? 0} kept`;
      },
      () => undefined,
    );
  }

  private edit(kind: string, fields: Json): void {
    if (kind === "undo" || kind === "redo") this.endSession();
    void this.request(kind, fields).catch(() => undefined);
  }

  /** A request whose failure is shown in the banner (and rethrown for the caller). */
  private async request(kind: string, fields: Json, timeoutMs?: number): Promise<Json> {
    try {
      const r = await this.client.request(kind, fields, timeoutMs === undefined ? {} : { timeoutMs });
      return r.content;
    } catch (e) {
      if (!(e instanceof RequestError && e.reason === "closed")) this.showError(e instanceof Error ? e.message : String(e));
      throw e;
    }
  }

  // ---- errors, keys ---------------------------------------------------------------------

  private showError(message: string): void {
    this.localError = message;
    this.renderError();
  }

  private renderError(): void {
    this.banner.set(this.localError || String(this.model.get("error") ?? ""));
  }

  private dismissError(): void {
    this.localError = "";
    if (this.model.get("error")) this.w.error.write("");
    this.renderError();
  }

  private jumpKeyframe(dir: -1 | 1): void {
    const keys = keyframesOf(this.tracks, this.selected || null);
    const k = dir < 0 ? prevKeyframe(keys, this.frame) : nextKeyframe(keys, this.frame);
    if (k !== null) this.seek(k);
  }

  private onKeyDown(e: KeyboardEvent): void {
    if (e.target !== this.root && isEditable(e.target)) return; // typing in our own inputs
    const a = actionFor(e);
    if (!a) return;
    e.preventDefault();
    e.stopPropagation();
    if (a.type === "step" && e.repeat && this.player.holding) return;
    this.run(a);
  }

  private onKeyUp(e: KeyboardEvent): void {
    if (STEP_KEYS.has(e.key) || e.key === "Shift") {
      if (this.player.holding) {
        e.preventDefault();
        e.stopPropagation();
        // a finished hold lands the final frame in the kernel at once
        if (STEP_KEYS.has(e.key)) {
          this.player.release();
          this.w.frame.flush();
        }
      }
    }
  }

  run(a: Action): void {
    const n = this.info?.num_frames ?? 0;
    switch (a.type) {
      case "togglePlay":
        return this.player.toggle(this.info?.fps ?? 24);
      case "step":
        return this.player.hold(a.delta);
      case "seekStart":
        return this.seek(0);
      case "seekEnd":
        return this.seek(n - 1);
      case "prevKey":
        return this.jumpKeyframe(-1);
      case "nextKey":
        return this.jumpKeyframe(1);
      case "undo":
      case "redo":
        return this.edit(a.type, {});
      case "propagate":
        return this.propagate(a.direction);
      case "escape":
        if (this.progress?.running) return this.edit("cancel", {});
        if (this.help.open) return this.help.toggle(false);
        if (this.panel.formOpen) return this.panel.closeForm();
        if (this.toolbar.eraseFormOpen) return this.toolbar.closeEraseForm();
        if (this.banner.message) return this.dismissError();
        return this.endSession();
      case "selectEntity": {
        const e = this.entities[a.index];
        return e ? this.select(e.id) : undefined;
      }
      case "cycleEntity": {
        if (!this.entities.length) return;
        const i = this.entities.findIndex((e) => e.id === this.selected);
        const next = i < 0 ? (a.delta > 0 ? 0 : this.entities.length - 1) : (i + a.delta + this.entities.length) % this.entities.length;
        return this.select(this.entities[next]!.id);
      }
      case "newEntity":
        return this.panel.openForm(null);
      case "erase":
        return this.erase(this.frame, this.frame);
      case "tool":
        return this.setTool(a.tool);
      case "toggleHidden":
        return this.toggleHidden(this.selected);
      case "toggleOutline":
        return this.setLook(this.style.opacity, !this.style.outline);
      case "fit":
        return this.stage.fit();
      case "zoom":
        return this.stage.zoomCenter(a.factor);
      case "help":
        return this.help.toggle();
    }
  }
}
