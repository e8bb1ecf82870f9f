// Transport (play, step, keyframe jumps), the scrubber with its frame label, and one track
// bar per entity. The play head over the bars is a positioned line, so moving it redraws
// no canvas; bars redraw only when tracks, entities, selection or width change. On a bar,
// a click selects and seeks (a drag scrubs), a drag from a segment's end trims or extends
// it (shown live, sent on release), a right-click (or the Menu key / Shift+F10 on a focused
// bar) asks for the tracklet menu. Above the bars, the review strip: the frames still to
// review coloured by suspicion (review.ts), drawn like a bar; with the counter and the reasons
// of the frame under review in the transport row.

import { h } from "./dom";
import { drawStrip, type Scratch } from "./review";
import { drawTrack, frameCenter, xToFrame, type Tracks } from "./timeline";
import { dragSpan, hitSegment, trackletAt, type Edge } from "./tracklets";

export interface EntityInfo {
  id: string;
  name: string;
  category: string;
  color: string;
  index: number;
}

export interface TimelineCallbacks {
  onSeek(frame: number): void;
  onStep(delta: number): void;
  onKeyframe(dir: -1 | 1): void;
  onPlay(): void;
  onTrackClick(entity: string, frame: number): void;
  /** a click (or drag) on the review strip */
  onStripSeek(frame: number): void;
  /** right-click on tracklet `index` of `entity` at `frame`; (x, y) in client pixels */
  onTrackMenu(entity: string, index: number, frame: number, x: number, y: number): void;
  /** an end was dragged: the new inclusive span; the live preview stays until this settles */
  onSpan(tracklet: string, start: number, end: number): Promise<unknown>;
}

interface EndDrag {
  entity: string;
  id: string;
  index: number;
  edge: Edge;
  pointer: number | undefined;
  from: [number, number];
  span: [number, number];
}

export class TimelineView {
  readonly transport: HTMLDivElement;
  readonly tracksEl: HTMLDivElement;
  readonly scrubber: HTMLInputElement;
  readonly label: HTMLSpanElement;
  readonly play: HTMLButtonElement;
  readonly reviewCount: HTMLSpanElement;
  readonly reviewReason: HTMLSpanElement;
  readonly strip: HTMLCanvasElement;
  private stripLabel: HTMLDivElement;
  private stripCodes: Int8Array = new Int8Array(0);
  private scratch: Scratch = { canvas: null };
  private labels: HTMLDivElement;
  private lanes: HTMLDivElement;
  private playhead: HTMLDivElement;
  private rows = new Map<string, HTMLCanvasElement>();
  private count = 0;
  private frame = 0;
  private entities: EntityInfo[] = [];
  private tracks: Tracks = {};
  private selected = "";
  private drag: EndDrag | null = null;
  /** spans shown for one entity in place of its tracks' (an end drag, until the kernel answers) */
  private preview: { entity: string; spans: [number, number][] } | null = null;

  constructor(private readonly cb: TimelineCallbacks) {
    const btn = (cls: string, text: string, title: string, on: () => void) =>
      h("button", { class: cls, title, type: "button", onclick: on }, text);
    this.play = btn("vl-play", "▶ Play", "Play / pause (Space)", () => cb.onPlay());
    this.scrubber = h("input", { class: "vl-scrubber", type: "range", min: 0, max: 0, step: 1, value: "0", title: "Frame" });
    this.scrubber.addEventListener("input", () => cb.onSeek(Number(this.scrubber.value)));
    this.label = h("span", { class: "vl-frame-label" }, "0 / 0");
    this.reviewCount = h("span", { class: "vl-review-count", title: "Frames some quality signal flagged, not yet reviewed (N / Shift+N: next / previous, Y: accept)" });
    this.reviewReason = h("span", { class: "vl-review-reason" });
    this.transport = h(
      "div",
      { class: "vl-transport" },
      btn("vl-prev-key", "◆◀", "Previous keyframe (,)", () => cb.onKeyframe(-1)),
      btn("vl-prev", "◀", "Previous frame (← / A)", () => cb.onStep(-1)),
      this.play,
      btn("vl-next", "▶", "Next frame (→ / D)", () => cb.onStep(1)),
      btn("vl-next-key", "▶◆", "Next keyframe (.)", () => cb.onKeyframe(1)),
      this.scrubber,
      this.label,
      this.reviewCount,
      this.reviewReason,
    );
    this.labels = h("div", { class: "vl-track-labels" });
    this.playhead = h("div", { class: "vl-playhead" });
    this.strip = h("canvas", { class: "vl-review-strip", hidden: true, title: "Review: frames coloured by suspicion (red: likely wrong); click to seek" });
    this.stripLabel = h("div", { class: "vl-track-label vl-review-label", hidden: true }, "review");
    this.lanes = h("div", { class: "vl-track-lanes" }, this.strip, this.playhead);
    this.labels.append(this.stripLabel);
    this.tracksEl = h("div", { class: "vl-tracks" }, this.labels, this.lanes);
    this.bindStrip();
  }

  /** The review strip's cells (review.ts `stripCodes`), or null to hide it (review off). */
  setReview(codes: Int8Array | null, count: string, reason: string): void {
    const shown = codes !== null;
    this.strip.hidden = this.stripLabel.hidden = !shown;
    this.stripCodes = codes ?? new Int8Array(0);
    if (shown) this.redrawStrip(); // before the text changes, so its size is read without a new layout
    this.reviewCount.textContent = count;
    this.reviewReason.textContent = reason;
  }

  redrawStrip(): void {
    if (this.strip.hidden) return;
    const ctx = this.sized(this.strip);
    if (ctx) drawStrip(ctx.ctx, ctx.w, ctx.h, this.stripCodes, this.strip.width, this.scratch);
  }

  /** ms per draw of the strip and of one bar (the mean over the bars), each drawn `repeats` times. */
  drawCost(repeats: number): { strip: number; bar: number } {
    const time = (draw: () => void) => {
      const t0 = performance.now();
      for (let i = 0; i < repeats; i++) draw();
      return (performance.now() - t0) / Math.max(1, repeats);
    };
    const s = this.sized(this.strip);
    const strip = s ? time(() => drawStrip(s.ctx, s.w, s.h, this.stripCodes, this.strip.width, this.scratch)) : NaN;
    const bars: number[] = [];
    for (const e of this.entities) {
      const canvas = this.rows.get(e.id);
      const b = canvas && this.sized(canvas);
      if (!b) continue;
      const paint = { track: this.tracks[e.id], count: this.count, frame: null, color: e.color, selected: e.id === this.selected };
      bars.push(time(() => drawTrack(b.ctx, b.w, b.h, paint)));
    }
    return { strip, bar: bars.length ? bars.reduce((a, b) => a + b, 0) / bars.length : NaN };
  }

  /** The canvas sized to its CSS box in device pixels, and its 2D context in CSS pixels. */
  private sized(canvas: HTMLCanvasElement): { ctx: CanvasRenderingContext2D; w: number; h: number } | null {
    const dpr = globalThis.devicePixelRatio || 1;
    const w = canvas.clientWidth || 300;
    const hh = canvas.clientHeight || 14;
    if (canvas.width !== Math.round(w * dpr)) canvas.width = Math.round(w * dpr);
    if (canvas.height !== Math.round(hh * dpr)) canvas.height = Math.round(hh * dpr);
    let ctx: CanvasRenderingContext2D | null = null;
    try {
      ctx = canvas.getContext("2d");
    } catch {
      ctx = null;
    }
    if (!ctx) return null;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { ctx, w, h: hh };
  }

  private bindStrip(): void {
    const frameAt = (ev: MouseEvent) => {
      const { x, w } = this.local(this.strip, ev);
      return xToFrame(x, this.count, w);
    };
    this.strip.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      this.cb.onStripSeek(frameAt(ev));
      try {
        this.strip.setPointerCapture(ev.pointerId);
      } catch {
        /* synthetic events cannot be captured */
      }
    });
    this.strip.addEventListener("pointermove", (ev) => {
      if (ev.buttons & 1 && this.strip.hasPointerCapture?.(ev.pointerId)) this.cb.onStripSeek(frameAt(ev));
    });
  }

  setCount(count: number): void {
    this.count = count;
    this.scrubber.max = String(Math.max(0, count - 1));
    this.setFrame(this.frame);
    this.redraw();
  }

  /** The strip and every bar (the width changed); the strip otherwise redraws only in setReview. */
  redraw(): void {
    this.redrawStrip();
    this.redrawTracks();
  }

  setFrame(frame: number): void {
    this.frame = frame;
    if (this.scrubber.value !== String(frame)) this.scrubber.value = String(frame);
    this.label.textContent = `${frame} / ${Math.max(0, this.count - 1)}`;
    this.playhead.style.left = `${this.count > 0 ? ((frame + 0.5) / this.count) * 100 : 0}%`;
  }

  setPlaying(playing: boolean): void {
    this.play.textContent = playing ? "❚❚ Pause" : "▶ Play";
    this.play.classList.toggle("vl-active", playing);
  }

  setTracks(entities: EntityInfo[], tracks: Tracks, selected: string): void {
    const ids = entities.map((e) => e.id).join("\n");
    if (ids !== this.entities.map((e) => e.id).join("\n")) this.rebuild(entities);
    this.entities = entities;
    this.tracks = tracks;
    this.selected = selected;
    const d = this.drag;
    if (d && tracks[d.entity]?.ids?.[d.index] !== d.id) this.cancelDrag(); // edited under the drag
    for (const [i, e] of entities.entries()) {
      const lab = this.labels.children[i + 1] as HTMLElement | undefined; // the review strip's comes first
      if (lab) {
        lab.textContent = e.name;
        lab.style.color = e.color;
        lab.style.fontWeight = e.id === selected ? "700" : "400";
      }
    }
    this.redrawTracks();
  }

  /** Some entities' bars changed (a `changed` event's patch): only theirs are redrawn. */
  patchTracks(tracks: Tracks, ids: readonly string[]): void {
    this.tracks = tracks;
    const d = this.drag;
    if (d && tracks[d.entity]?.ids?.[d.index] !== d.id) this.cancelDrag(); // edited under the drag
    this.redrawTracks(new Set(ids));
  }

  /** Canvases are sized to their CSS width in device pixels, then drawn (all, or those of `only`). */
  redrawTracks(only?: ReadonlySet<string>): void {
    for (const e of this.entities) {
      if (only && !only.has(e.id)) continue;
      const canvas = this.rows.get(e.id);
      if (!canvas) continue;
      const sized = this.sized(canvas);
      if (!sized) continue;
      const { ctx, w, h: hh } = sized;
      const spans = this.preview?.entity === e.id ? this.preview.spans : undefined;
      drawTrack(ctx, w, hh, { track: this.tracks[e.id], spans, count: this.count, frame: null, color: e.color, selected: e.id === this.selected });
    }
  }

  /** Pointer x within a bar and the bar's width, in CSS pixels. */
  private local(canvas: HTMLCanvasElement, ev: MouseEvent): { x: number; w: number } {
    const r = canvas.getBoundingClientRect();
    return { x: ev.clientX - r.left, w: r.width };
  }

  private bindBar(canvas: HTMLCanvasElement, entity: string): void {
    const frameAt = (ev: MouseEvent) => {
      const { x, w } = this.local(canvas, ev);
      return xToFrame(x, this.count, w);
    };
    const hit = (ev: MouseEvent) => {
      const { x, w } = this.local(canvas, ev);
      return hitSegment(this.tracks[entity]?.tracklets ?? [], x, this.count, w);
    };
    canvas.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      const on = hit(ev);
      const track = this.tracks[entity];
      const id = on ? track?.ids?.[on.index] : undefined;
      if (on && on.part !== "body" && track && id) {
        const span = track.tracklets[on.index] as [number, number];
        this.drag = { entity, id, index: on.index, edge: on.part, pointer: ev.pointerId, from: [span[0], span[1]], span: [span[0], span[1]] };
        this.cb.onTrackClick(entity, on.part === "start" ? span[0] : span[1]);
      } else this.cb.onTrackClick(entity, frameAt(ev));
      try {
        canvas.setPointerCapture(ev.pointerId); // dragging along the bar scrubs (or moves the end)
      } catch {
        /* synthetic events cannot be captured */
      }
    });
    canvas.addEventListener("pointermove", (ev) => {
      const d = this.drag;
      if (d && d.entity === entity && d.pointer === ev.pointerId) return this.moveEnd(d, ev, canvas);
      if (ev.buttons & 1 && canvas.hasPointerCapture?.(ev.pointerId)) return this.cb.onSeek(frameAt(ev));
      if (!ev.buttons) {
        const on = hit(ev);
        canvas.style.cursor = on && on.part !== "body" && this.tracks[entity]?.ids ? "ew-resize" : "";
      }
    });
    canvas.addEventListener("pointerup", (ev) => {
      const d = this.drag;
      if (d && d.entity === entity && d.pointer === ev.pointerId) this.endDrag(d);
    });
    canvas.addEventListener("pointercancel", () => this.cancelDrag());
    canvas.addEventListener("contextmenu", (ev) => {
      ev.preventDefault();
      ev.stopPropagation();
      const on = hit(ev);
      if (on) this.cb.onTrackMenu(entity, on.index, frameAt(ev), ev.clientX, ev.clientY);
    });
    canvas.addEventListener("keydown", (ev) => {
      if (!(ev.key === "ContextMenu" || (ev.key === "F10" && ev.shiftKey))) return;
      ev.preventDefault();
      ev.stopPropagation();
      const i = trackletAt(this.tracks[entity]?.tracklets ?? [], this.frame);
      if (i < 0) return;
      const r = canvas.getBoundingClientRect();
      this.cb.onTrackMenu(entity, i, this.frame, r.left + frameCenter(this.frame, this.count, r.width), r.bottom);
    });
  }

  private moveEnd(d: EndDrag, ev: MouseEvent, canvas: HTMLCanvasElement): void {
    const tracklets = this.tracks[d.entity]?.tracklets;
    if (!tracklets) return;
    const { x, w } = this.local(canvas, ev);
    const span = dragSpan(tracklets, d.index, d.edge, x, this.count, w);
    if (span[0] === d.span[0] && span[1] === d.span[1]) return;
    d.span = span;
    this.preview = { entity: d.entity, spans: tracklets.map((t, i) => (i === d.index ? span : t)) };
    this.redrawTracks();
    this.cb.onSeek(d.edge === "start" ? span[0] : span[1]); // show the frame the end is at
  }

  private endDrag(d: EndDrag): void {
    this.drag = null;
    if (d.span[0] === d.from[0] && d.span[1] === d.from[1]) return this.clearPreview();
    const shown = this.preview;
    void this.cb.onSpan(d.id, d.span[0], d.span[1]).finally(() => {
      if (this.preview === shown) this.clearPreview();
    });
  }

  private cancelDrag(): void {
    if (!this.drag) return;
    this.drag = null;
    this.clearPreview();
  }

  private clearPreview(): void {
    if (!this.preview) return;
    this.preview = null;
    this.redrawTracks();
  }

  /** The end drag in progress, if any (for tests and the view). */
  get dragging(): boolean {
    return this.drag !== null;
  }

  private rebuild(entities: EntityInfo[]): void {
    for (const c of this.rows.values()) c.remove();
    this.rows.clear();
    this.labels.replaceChildren(this.stripLabel);
    for (const e of entities) {
      const canvas = h("canvas", {
        class: "vl-track",
        "data-entity": e.id,
        tabindex: "0",
        "data-jp-suppress-context-menu": "",
        title: `${e.name}: click to select and seek, drag a segment's end to trim or extend it, right-click for the tracklet menu`,
      });
      this.bindBar(canvas, e.id);
      this.rows.set(e.id, canvas);
      this.lanes.insertBefore(canvas, this.playhead);
      const label = h("div", { class: "vl-track-label", "data-entity": e.id, title: e.name }, e.name);
      label.addEventListener("click", () => this.cb.onTrackClick(e.id, this.frame));
      this.labels.append(label);
    }
    this.tracksEl.hidden = entities.length === 0;
  }
}

