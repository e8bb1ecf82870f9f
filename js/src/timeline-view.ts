// Transport (play, step, keyframe jumps), the scrubber with its frame label, and one track
// bar per entity. The play head over the bars is a positioned line, so moving it redraws
// no canvas; bars redraw only when tracks, entities, selection or width change.

import { h } from "./dom";
import { drawTrack, xToFrame, type Tracks } from "./timeline";

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
}

export class TimelineView {
  readonly transport: HTMLDivElement;
  readonly tracksEl: HTMLDivElement;
  readonly scrubber: HTMLInputElement;
  readonly label: HTMLSpanElement;
  readonly play: HTMLButtonElement;
  private labels: HTMLDivElement;
  private lanes: HTMLDivElement;
  private playhead: HTMLDivElement;
  private rows = new Map<string, HTMLCanvasElement>();
  private count = 0;
  private frame = 0;
  private entities: EntityInfo[] = [];
  private tracks: Tracks = {};
  private selected = "";

  constructor(private readonly cb: TimelineCallbacks) {
    const btn = (cls: string, text: string, title: string, on: () => void) =>
      h("button", { class: cls, title, type: "button", onclick: on }, text);
    this.play = btn("vl-play", "▶ Play", "Play / pause (Space)", () => cb.onPlay());
    this.scrubber = h("input", { class: "vl-scrubber", type: "range", min: 0, max: 0, step: 1, value: "0", title: "Frame" });
    this.scrubber.addEventListener("input", () => cb.onSeek(Number(this.scrubber.value)));
    this.label = h("span", { class: "vl-frame-label" }, "0 / 0");
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
    );
    this.labels = h("div", { class: "vl-track-labels" });
    this.playhead = h("div", { class: "vl-playhead" });
    this.lanes = h("div", { class: "vl-track-lanes" }, this.playhead);
    this.tracksEl = h("div", { class: "vl-tracks" }, this.labels, this.lanes);
  }

  setCount(count: number): void {
    this.count = count;
    this.scrubber.max = String(Math.max(0, count - 1));
    this.setFrame(this.frame);
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
    for (const [i, e] of entities.entries()) {
      const lab = this.labels.children[i] as HTMLElement | undefined;
      if (lab) {
        lab.textContent = e.name;
        lab.style.color = e.color;
        lab.style.fontWeight = e.id === selected ? "700" : "400";
      }
    }
    this.redrawTracks();
  }

  /** Canvases are sized to their CSS width in device pixels, then drawn. */
  redrawTracks(): void {
    const dpr = globalThis.devicePixelRatio || 1;
    for (const e of this.entities) {
      const canvas = this.rows.get(e.id);
      if (!canvas) continue;
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
      if (!ctx) continue;
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      drawTrack(ctx, w, hh, { track: this.tracks[e.id], count: this.count, frame: null, color: e.color, selected: e.id === this.selected });
    }
  }

  private rebuild(entities: EntityInfo[]): void {
    for (const c of this.rows.values()) c.remove();
    this.rows.clear();
    this.labels.replaceChildren();
    for (const e of entities) {
      const canvas = h("canvas", { class: "vl-track", "data-entity": e.id, title: `${e.name}: click to select and seek` });
      const frameAt = (ev: MouseEvent) => {
        const r = canvas.getBoundingClientRect();
        return xToFrame(ev.clientX - r.left, this.count, r.width);
      };
      canvas.addEventListener("pointerdown", (ev) => {
        if (ev.button !== 0) return;
        this.cb.onTrackClick(e.id, frameAt(ev));
        try {
          canvas.setPointerCapture(ev.pointerId); // dragging along the bar scrubs
        } catch {
          /* synthetic events cannot be captured */
        }
      });
      canvas.addEventListener("pointermove", (ev) => {
        if (ev.buttons & 1 && canvas.hasPointerCapture?.(ev.pointerId)) this.cb.onSeek(frameAt(ev));
      });
      this.rows.set(e.id, canvas);
      this.lanes.insertBefore(canvas, this.playhead);
      const label = h("div", { class: "vl-track-label", "data-entity": e.id, title: e.name }, e.name);
      label.addEventListener("click", () => this.cb.onTrackClick(e.id, this.frame));
      this.labels.append(label);
    }
    this.tracksEl.hidden = entities.length === 0;
  }
}

