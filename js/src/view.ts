// One view of the Annotator: builds the DOM, wires the model's traits and messages to the
// caches, the canvas and the controls. The kernel's dataset is the source of truth; this
// view only caches frames and masks and sends requests (protocol.md).

import { AttributePanel, readFields } from "./attrs";
import { boxOf, promptBox } from "./boxes";
import { Client, type Json } from "./client";
import { h } from "./dom";
import { Editor } from "./editing";
import { readLook, type Look } from "./look";
import { ErrorBanner, HelpOverlay } from "./overlays";
import { EntityPanel } from "./panel";
import { bindKeys } from "./keyboard";
import { ReviewPanel } from "./review-view";
import type { Action } from "./shortcuts";
import { injectStyle } from "./style";
import { Traits, type Model } from "./sync";
import { applyTracksPatch, keyframesOf, nextKeyframe, prevKeyframe, type TrackPatch, type Tracks } from "./timeline";
import { TimelineView } from "./timeline-view";
import { Toolbar, type Progress } from "./toolbar";
import { TrackMenu } from "./trackmenu";
import { menuState, trackletAt } from "./tracklets";
import type { Tool } from "./stage";
import { FrameViewer, type Info, type SeekFrom, type ViewOptions } from "./viewer";

export type { ViewOptions };

export class AnnotatorView {
  readonly root: HTMLDivElement;
  readonly client: Client;
  readonly viewer: FrameViewer;
  private timeline: TimelineView;
  private panel: EntityPanel;
  private toolbar: Toolbar;
  private banner: ErrorBanner;
  private help: HelpOverlay;
  private attrs: AttributePanel;
  private menu: TrackMenu;
  private t: Traits;
  private off: (() => void)[] = [];
  private sequence = "";
  private infoKey = "";
  private look: Look = readLook(() => undefined, 1);
  private tracks: Tracks = {};
  private progress: Progress | null = null;
  private editor: Editor;
  private localError = "";
  private review: ReviewPanel;
  private resetQueued = false;
  private findPending = false;

  constructor(private readonly model: Model, el: HTMLElement, opts: ViewOptions = {}) {
    injectStyle(el.ownerDocument);
    this.client = new Client((c) => model.send(c));
    // the kernel hears a held arrow key or a dragged slider a few times a second, not 60
    this.t = new Traits(model, { frame: 150, opacity: 100, entity: 0, tool: 0, outline: 0, hidden: 0, sequence: 0, error: 0 });

    this.editor = new Editor(this.client, {
      frame: () => this.frame,
      // with no entity selected, clicks and Delete go to the entity under review (after N)
      selected: () => this.look.selected || this.review.reviewing(this.frame),
      hasSequence: () => this.info !== null,
      scope: () => this.toolbar.scope.value,
      setMarks: (m) => this.viewer.stage.setMarks(m),
      adopt: (id) => {
        // hold it in the model too, whichever of the reply and the kernel's trait update comes first
        this.t.write("entity", id);
        this.readLook();
      },
      showError: (m) => this.showError(m),
      status: (t) => (this.toolbar.status.textContent = t),
    });
    this.viewer = new FrameViewer(
      this.client,
      {
        tool: () => toolOf(model.get("tool")),
        onPoint: (x, y, label) => void this.editor.prompt((s) => s.addPoint(x, y, label)),
        onBox: (box) => void this.editor.prompt((s) => s.addBox(box)),
        onKeyBox: (box) => void this.editor.setBox(box),
      },
      {
        moved: (f, from) => this.moved(f, from),
        playing: (p) => this.timeline.setPlaying(p),
        error: (m) => this.showError(m),
        painted: () => this.readBoxes(),
      },
      opts,
      el.ownerDocument,
    );
    this.timeline = new TimelineView({
      onSeek: (f) => this.seek(f),
      onStep: (d) => this.seek(this.frame + d),
      onKeyframe: (d) => this.jumpKeyframe(d),
      onPlay: () => this.viewer.player.toggle(this.info?.fps ?? 24),
      onTrackClick: (id, f) => {
        this.select(id);
        this.seek(f);
      },
      onStripSeek: (f) => this.seek(f),
      onTrackMenu: (id, i, f, x, y) => this.openMenu(id, i, f, x, y),
      onSpan: (tracklet, start, end) => this.editor.request("set_tracklet_span", { tracklet, start, end }).catch(() => undefined),
    });
    this.menu = new TrackMenu((kind, fields) => this.editor.edit(kind, fields));
    this.attrs = new AttributePanel({
      onSet: (values, start, stop) => {
        const entity = this.look.selected;
        if (entity) this.editor.edit("set_state", { entity, start, stop, values });
      },
      onError: (m) => this.showError(m),
    });
    this.panel = new EntityPanel({
      onSelect: (id) => this.select(id),
      onToggleHidden: (id) => this.toggleHidden(id),
      onAdd: (fields) => void this.editor.createEntity(fields),
      onEdit: (id, fields) => this.editor.edit("set_entity", { entity: id, ...fields }),
      onDelete: (id) => this.editor.edit("delete_entity", { entity: id }),
    });
    this.toolbar = new Toolbar({
      onSequence: (id) => this.switchSequence(id),
      onTool: (t) => this.setTool(t),
      onPropagate: (d) => this.editor.propagate(d),
      onCancel: () => this.editor.edit("cancel"),
      onFind: (text, scope) => this.find(text, scope),
      onErase: () => this.editor.erase(this.frame, this.frame),
      onEraseRange: (a, b) => this.editor.erase(a, b),
      onBoxFromMask: () => this.boxFromMask(),
      onMaskFromBox: () => this.maskFromBox(),
      onRemoveBox: () => this.removeBox(),
      onUndo: () => this.editor.edit("undo"),
      onRedo: () => this.editor.edit("redo"),
      onOpacity: (v) => this.setLook(v, this.look.style.outline),
      onOutline: (v) => this.setLook(this.look.style.opacity, v),
      onFit: () => this.viewer.stage.fit(),
      onHelp: () => this.help.toggle(),
    });
    this.toolbar.defaults = () => ({ from: this.frame, to: this.frame, max: Math.max(0, (this.info?.num_frames ?? 1) - 1) });
    this.review = new ReviewPanel(this.client, this.timeline, {
      frame: () => this.frame,
      count: () => this.info?.num_frames ?? 0,
      selected: () => this.look.selected,
      entities: () => this.look.entities,
      seek: (f) => this.seek(f),
      showError: (m) => this.showError(m),
    });
    this.banner = new ErrorBanner(() => this.dismissError());
    this.help = new HelpOverlay(() => this.help.toggle(false));

    this.root = h(
      "div",
      { class: "vidlabel-annotator", tabindex: "0", "data-lm-suppress-shortcuts": "true", "data-frame": "-1", "data-painted": "0" },
      this.banner.el,
      this.toolbar.el,
      this.toolbar.eraseForm,
      h("div", { class: "vl-main" }, this.viewer.stage.el, this.panel.el),
      this.timeline.transport,
      this.timeline.tracksEl,
      this.help.el,
      this.menu.el,
    );
    this.panel.el.append(this.attrs.el);
    el.appendChild(this.root);
    this.viewer.attach(this.root, {
      request: (kind, fields = {}) => this.client.request(kind, fields).catch((e: unknown) => String(e)),
      sendRaw: (msg) => this.model.send(msg as Record<string, unknown>),
      review: this.review,
      drawCost: (repeats) => this.timeline.drawCost(repeats),
    });

    this.off.push(
      bindKeys(this.root, {
        run: (a) => this.run(a),
        holding: () => this.viewer.player.holding,
        release: () => {
          if (!this.viewer.player.holding) return;
          this.viewer.player.release();
          this.t.flush("frame"); // a finished hold lands the final frame in the kernel at once
        },
      }),
    );
    if (typeof ResizeObserver !== "undefined") {
      const ro = new ResizeObserver(() => this.layout());
      ro.observe(this.root);
      this.off.push(() => ro.disconnect());
    }

    this.t.onMessage((msg, buffers) => this.client.handleMessage(msg, buffers));
    this.client.onEvent((m) => this.onEvent(m));
    this.client.onOrphanError((e) => this.showError(e));
    const on = (names: string[], cb: () => void) => this.t.on(names, cb);
    on(["sequence", "info"], () => this.queueReset());
    on(["sequences"], () => this.toolbar.setSequences(model.get("sequences") ?? [], this.sequence));
    on(["frame"], () => {
      this.t.cancel("frame");
      this.seek(Number(model.get("frame")) || 0, "model");
    });
    on(["entities", "entity", "hidden", "opacity", "outline"], () => this.readLook());
    on(["tracks"], () => this.readTracks());
    on(["review"], () => this.review.read(model.get("review")));
    on(["tool"], () => this.toolbar.setTool(model.get("tool")));
    on(["state_fields", "state"], () => this.readAttrs());
    on(["progress"], () => {
      this.toolbar.setProgress((this.progress = model.get("progress") ?? null));
      this.readBusy();
    });
    on(["busy"], () => {
      this.toolbar.status.textContent = model.get("busy") ? `${model.get("busy")}…` : "";
      this.readBusy();
    });
    on(["can_find"], () => this.toolbar.find.setAvailable(!!model.get("can_find")));
    on(["error"], () => {
      if (this.model.get("error")) this.localError = ""; // the newest error is the one shown
      this.renderError();
    });
    on(["can_undo", "can_redo", "undo_label", "redo_label"], () => this.readUndo());

    this.toolbar.setSequences(model.get("sequences") ?? [], model.get("sequence") ?? "");
    this.toolbar.setTool(model.get("tool"));
    this.toolbar.setProgress((this.progress = model.get("progress") ?? null));
    this.toolbar.find.setAvailable(!!model.get("can_find"));
    this.readBusy();
    this.readUndo();
    this.renderError();
    this.review.read(model.get("review"));
    this.reset();
    this.layout();
  }

  dispose(): void {
    this.menu.close(false);
    this.t.dispose();
    for (const f of this.off.splice(0)) f();
    this.editor.dispose();
    this.client.dispose();
    this.viewer.dispose();
    this.root.remove();
  }

  // ---- model wiring -------------------------------------------------------------------

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
    if (key === this.infoKey) {
      this.viewer.store.paused = false;
      this.viewer.store.pump();
      return;
    }
    this.infoKey = key;
    this.sequence = seq;
    this.root.dataset.sequence = seq;
    this.toolbar.setSequences(this.model.get("sequences") ?? [], seq);
    this.editor.endSession();
    this.viewer.setSequence(seq, info);
    this.timeline.setCount(this.viewer.info?.num_frames ?? 0);
    this.review.refresh();
    this.readLook();
    this.timeline.redrawTracks();
    this.seek(Number(this.model.get("frame")) || 0, "model");
  }

  /** Re-read the overlay's look from the traits (values still being throttled count as written). */
  private readLook(): void {
    const look = readLook((n) => this.t.get(n), this.viewer.lineWidth);
    if (look.selected !== this.look.selected) this.editor.endSession();
    const changed = look.key !== this.look.key;
    this.look = look;
    this.toolbar.setOpacity(look.style.opacity, look.style.outline);
    this.panel.update(look.entities, look.selected, look.hidden);
    this.timeline.setTracks(look.entities, this.tracks, look.selected);
    this.review.scope();
    if (changed) this.viewer.setLook(look);
    this.readAttrs();
    this.readBoxes();
  }

  private readTracks(): void {
    this.tracks = (this.model.get("tracks") ?? {}) as Tracks;
    this.timeline.setTracks(this.look.entities, this.tracks, this.look.selected);
    this.readAttrs();
  }

  /** The attribute panel follows the selection, the frame, the tracks and the `state` trait. */
  private readAttrs(): void {
    const entity = this.look.selected;
    const tracklets = this.tracks[entity]?.tracklets ?? [];
    const span = tracklets[trackletAt(tracklets, this.frame)] ?? null;
    this.attrs.update(readFields(this.model.get("state_fields")), (this.model.get("state") ?? {}) as Record<string, unknown>, entity, Math.max(0, this.frame), span);
  }

  /** The box buttons follow the selected entity's box on the frame shown. */
  private readBoxes(): void {
    const entity = this.look.selected;
    this.toolbar.setBoxState(!!entity, !!boxOf(this.viewer.boxesAt(this.frame), entity));
  }

  /** The find box waits while the kernel is busy, or its own request is on the way there. */
  private readBusy(): void {
    this.toolbar.find.setBusy(!!this.model.get("busy") || this.findPending, !!this.progress?.running);
  }

  private readUndo(): void {
    const m = this.model;
    this.toolbar.setUndo(!!m.get("can_undo"), !!m.get("can_redo"), String(m.get("undo_label") ?? ""), String(m.get("redo_label") ?? ""));
  }

  private onEvent(m: Json): void {
    if (m.kind === "review") return this.review.patch(m, this.model.get("review"));
    if (m.kind !== "changed") return;
    const patch = m.tracks as Record<string, TrackPatch | null> | undefined;
    const tracks = this.model.get("tracks") as Tracks | null;
    // Track bars change by patches, applied to the model's own copy (every view of the model
    // applies the same event: idempotent), so a view made later starts from the current bars.
    if (patch && tracks && m.sequence === this.model.get("sequence")) {
      const touched = applyTracksPatch(tracks, patch);
      this.tracks = tracks;
      this.timeline.patchTracks(tracks, touched);
      this.readAttrs();
    }
    if (m.sequence !== this.sequence) return;
    const frames = Array.isArray(m.frames) ? (m.frames as number[]) : null;
    this.viewer.store.invalidate(frames, typeof m.revision === "number" ? m.revision : Infinity);
  }

  // ---- frames ---------------------------------------------------------------------------

  private get frame(): number {
    return this.viewer.frame;
  }

  private get info(): Info | null {
    return this.viewer.info;
  }

  seek(frame: number, from: SeekFrom = "user"): void {
    this.viewer.seek(frame, from);
  }

  /** The play head moved: the controls follow, a prompt being built ends, the kernel hears. */
  private moved(f: number, from: SeekFrom): void {
    this.timeline.setFrame(f);
    this.review.moved();
    this.editor.endSession();
    if (from !== "model") this.t.write("frame", f);
    this.readAttrs();
    this.readBoxes();
  }

  private layout(): void {
    this.viewer.layout();
    this.timeline.redraw();
  }

  // ---- editing ------------------------------------------------------------------------

  /** The picker chose another sequence: stop asking for frames until the kernel's new `info`
   *  arrives (it would answer for the new sequence), and un-pause if it never does. */
  private switchSequence(id: string): void {
    if (id === this.sequence) return;
    this.viewer.store.paused = true;
    this.viewer.player.stop();
    this.t.write("sequence", id);
    const timer = setTimeout(() => this.queueReset(), 3000);
    this.off.push(() => clearTimeout(timer));
  }

  private find(text: string, scope: string): void {
    if (this.findPending) return;
    this.findPending = true;
    this.readBusy();
    void this.editor.find(text, scope).finally(() => {
      this.findPending = false;
      this.readBusy();
    });
  }

  private select(id: string): void {
    if (id === this.look.selected) return;
    this.t.write("entity", id);
    this.readLook();
  }

  private toggleHidden(id: string): void {
    if (!id) return;
    const next = new Set(this.look.hidden);
    if (!next.delete(id)) next.add(id);
    this.t.write("hidden", [...next]);
    this.readLook();
  }

  private setTool(tool: Tool): void {
    this.t.write("tool", tool);
    this.toolbar.setTool(tool);
  }

  private setLook(opacity: number, outline: boolean): void {
    if (opacity !== this.look.style.opacity) this.t.write("opacity", opacity);
    if (outline !== this.look.style.outline) this.t.write("outline", outline);
    this.readLook();
  }

  // ---- tracklets, boxes -----------------------------------------------------------------

  /** The tracklet menu for tracklet `index` of `entity`, opened at client (x, y). */
  private openMenu(entity: string, index: number, frame: number, x: number, y: number): void {
    const track = this.tracks[entity];
    if (!track?.tracklets[index]) return;
    const ids = this.look.entities.map((e) => e.id);
    const names = new Map(this.look.entities.map((e) => [e.id, e.name]));
    const r = this.root.getBoundingClientRect();
    this.menu.show(menuState(track, index, frame, entity, ids), names, x - r.left, y - r.top);
  }

  private boxFromMask(): void {
    const entity = this.look.selected;
    if (!entity) return this.showError("Select an entity first.");
    this.editor.edit("box_from_mask", { entity, start: this.frame, stop: this.frame + 1 });
  }

  private maskFromBox(): void {
    const entity = this.look.selected;
    const box = boxOf(this.viewer.boxesAt(this.frame), entity);
    if (!entity || !box) return this.showError("The selected entity has no box on this frame.");
    this.editor.promptWithBox(this.frame, entity, promptBox(box));
  }

  private removeBox(): void {
    const entity = this.look.selected;
    if (!entity) return this.showError("Select an entity first.");
    this.editor.edit("remove_box", { frame: this.frame, entity });
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
    if (this.model.get("error")) this.t.write("error", "");
    this.renderError();
  }

  private jumpKeyframe(dir: -1 | 1): void {
    const keys = keyframesOf(this.tracks, this.look.selected || null);
    const k = dir < 0 ? prevKeyframe(keys, this.frame) : nextKeyframe(keys, this.frame);
    if (k !== null) this.seek(k);
  }

  run(a: Action): void {
    const n = this.info?.num_frames ?? 0;
    switch (a.type) {
      case "togglePlay":
        return this.viewer.player.toggle(this.info?.fps ?? 24);
      case "step":
        return this.viewer.player.hold(a.delta);
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
        return this.editor.edit(a.type);
      case "propagate":
        return this.editor.propagate(a.direction);
      case "escape":
        if (this.menu.open) return this.menu.close();
        if (this.progress?.running) return this.editor.edit("cancel");
        if (this.help.open) return this.help.toggle(false);
        if (this.panel.formOpen) return this.panel.closeForm();
        if (this.toolbar.eraseFormOpen) return this.toolbar.closeEraseForm();
        if (this.banner.message) return this.dismissError();
        return this.editor.endSession();
      case "selectEntity": {
        const e = this.look.entities[a.index];
        return e ? this.select(e.id) : undefined;
      }
      case "cycleEntity": {
        const list = this.look.entities;
        if (!list.length) return;
        const i = list.findIndex((e) => e.id === this.look.selected);
        const next = i < 0 ? (a.delta > 0 ? 0 : list.length - 1) : (i + a.delta + list.length) % list.length;
        return this.select(list[next]!.id);
      }
      case "newEntity":
        return this.panel.openForm(null);
      case "review":
        return this.review.step(a.dir);
      case "accept":
        return this.review.accept();
      case "erase":
        return this.editor.erase(this.frame, this.frame);
      case "tool":
        return this.setTool(a.tool);
      case "toggleHidden":
        return this.toggleHidden(this.look.selected);
      case "toggleOutline":
        return this.setLook(this.look.style.opacity, !this.look.style.outline);
      case "fit":
        return this.viewer.stage.fit();
      case "zoom":
        return this.viewer.stage.zoomCenter(a.factor);
      case "help":
        return this.help.toggle();
    }
  }
}

function toolOf(v: unknown): Tool {
  return v === "box" || v === "bbox" ? v : "point";
}
