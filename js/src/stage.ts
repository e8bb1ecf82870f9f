// The frame canvas: painting (image, overlay, bounding boxes, pending prompt marks) under the
// zoom/pan transform, and the pointer gestures: click = point, right/Alt-click = negative
// point, drag = box prompt (with the bbox tool: a stored box instead, clicks do nothing),
// middle or Shift drag = pan, wheel = zoom at the cursor.

import { drawBoxes, type BoxShape } from "./boxes";
import { h } from "./dom";
import { ViewTransform, wheelFactor } from "./transform";

export interface Mark {
  x: number;
  y: number;
  label: 0 | 1;
}

export interface Marks {
  points: readonly Mark[];
  box: readonly [number, number, number, number] | null;
}

/** An overlay image covering `rect` (image pixels) of the frame. */
export interface StageOverlay {
  source: CanvasImageSource;
  rect: { x: number; y: number; w: number; h: number };
}

export type Tool = "point" | "box" | "bbox";

export interface StageCallbacks {
  tool(): Tool;
  onPoint(x: number, y: number, label: 0 | 1): void;
  onBox(box: [number, number, number, number]): void;
  /** a box drawn with the bbox tool: to be stored as the entity's box on this frame */
  onKeyBox(box: [number, number, number, number]): void;
}

type Gesture =
  | { kind: "pan"; id: number; x: number; y: number }
  | { kind: "press"; id: number; x: number; y: number; label: 0 | 1; box: boolean }
  | null;

export class Stage {
  readonly el: HTMLDivElement;
  readonly canvas: HTMLCanvasElement;
  readonly badge: HTMLDivElement;
  readonly transform = new ViewTransform();
  private ctx: CanvasRenderingContext2D | null;
  private imageW = 0;
  private imageH = 0;
  private image: CanvasImageSource | null = null;
  private overlay: StageOverlay | null = null;
  private boxes: readonly BoxShape[] = [];
  private marks: Marks = { points: [], box: null };
  private drag: [number, number, number, number] | null = null;
  private gesture: Gesture = null;
  private cssW = 0;
  private cssH = 0;

  constructor(private readonly cb: StageCallbacks) {
    this.canvas = h("canvas", { class: "vl-canvas", "data-jp-suppress-context-menu": "" });
    this.badge = h("div", { class: "vl-loading-badge", hidden: true }, "loading…");
    this.el = h("div", { class: "vl-stage" }, this.canvas, this.badge);
    let ctx: CanvasRenderingContext2D | null = null;
    try {
      ctx = this.canvas.getContext("2d");
    } catch {
      ctx = null; // jsdom without a canvas implementation
    }
    this.ctx = ctx;
    const c = this.canvas;
    c.addEventListener("pointerdown", this.onDown);
    c.addEventListener("pointermove", this.onMove);
    c.addEventListener("pointerup", this.onUp);
    c.addEventListener("pointercancel", this.onCancel);
    c.addEventListener("wheel", this.onWheel, { passive: false });
    c.addEventListener("contextmenu", (e) => {
      e.preventDefault();
      e.stopPropagation();
    });
    // middle-button autoscroll / paste on Linux
    c.addEventListener("auxclick", (e) => e.preventDefault());
  }

  setImageSize(width: number, height: number): void {
    this.imageW = width;
    this.imageH = height;
    this.fit();
  }

  /** Match the canvas's backing store to its CSS size and device pixels. */
  resize(): void {
    const w = this.el.clientWidth;
    const hgt = this.el.clientHeight;
    if (w === this.cssW && hgt === this.cssH) return;
    this.cssW = w;
    this.cssH = hgt;
    const dpr = globalThis.devicePixelRatio || 1;
    this.canvas.width = Math.max(1, Math.round(w * dpr));
    this.canvas.height = Math.max(1, Math.round(hgt * dpr));
    if (this.transform.fitted) this.fit();
    else this.redraw();
  }

  fit(): void {
    this.transform.fit(this.cssW, this.cssH, this.imageW, this.imageH);
    this.redraw();
  }

  zoomCenter(factor: number): void {
    this.transform.zoomAt(this.cssW / 2, this.cssH / 2, factor);
    this.redraw();
  }

  /** Show a frame: its image, overlay (null: none visible) and boxes. */
  draw(image: CanvasImageSource | null, overlay: StageOverlay | null, boxes: readonly BoxShape[] = []): void {
    this.image = image;
    this.overlay = overlay;
    this.boxes = boxes;
    this.redraw();
  }

  setMarks(marks: Marks): void {
    this.marks = marks;
    this.redraw();
  }

  redraw(): void {
    const ctx = this.ctx;
    if (!ctx) return;
    const dpr = globalThis.devicePixelRatio || 1;
    const t = this.transform;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.setTransform(dpr * t.scale, 0, 0, dpr * t.scale, dpr * t.tx, dpr * t.ty);
    // pixels stay crisp when zoomed in: annotators need to see mask edges exactly
    ctx.imageSmoothingEnabled = dpr * t.scale < 2;
    try {
      if (this.image) ctx.drawImage(this.image, 0, 0, this.imageW, this.imageH);
      const o = this.overlay;
      if (o) ctx.drawImage(o.source, o.rect.x, o.rect.y, o.rect.w, o.rect.h);
    } catch {
      // a closed ImageBitmap (evicted under us): the next paint brings a live one
      this.image = null;
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    if (this.image) drawBoxes(ctx, this.boxes, (x, y) => t.toScreen(x, y));
    const box = this.drag ?? this.marks.box;
    if (box) {
      const [x0, y0] = t.toScreen(box[0], box[1]);
      const [x1, y1] = t.toScreen(box[2], box[3]);
      ctx.setLineDash(this.drag && this.cb.tool() === "bbox" ? [] : [5, 4]);
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = "#ffeb3b";
      ctx.strokeRect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
      ctx.setLineDash([]);
    }
    for (const p of this.marks.points) {
      const [x, y] = t.toScreen(p.x, p.y);
      ctx.beginPath();
      ctx.arc(x, y, 5, 0, Math.PI * 2);
      ctx.fillStyle = p.label === 1 ? "#2ecc40" : "#ff4136";
      ctx.fill();
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = "#fff";
      ctx.stroke();
    }
  }

  /** Pointer position in CSS pixels of the canvas. */
  private local(e: { clientX: number; clientY: number }): [number, number] {
    const r = this.canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  private inImage(x: number, y: number): boolean {
    return x >= 0 && y >= 0 && x < this.imageW && y < this.imageH;
  }

  private readonly onDown = (e: PointerEvent): void => {
    if (this.gesture) return;
    const [x, y] = this.local(e);
    if (e.button === 1 || (e.button === 0 && e.shiftKey)) {
      e.preventDefault();
      this.gesture = { kind: "pan", id: e.pointerId, x, y };
      this.el.classList.add("vl-panning");
    } else if (e.button === 0 || (e.button === 2 && this.cb.tool() !== "bbox")) {
      const label: 0 | 1 = e.button === 2 || e.altKey ? 0 : 1;
      this.gesture = { kind: "press", id: e.pointerId, x, y, label, box: false };
    } else return;
    try {
      this.canvas.setPointerCapture(e.pointerId);
    } catch {
      /* not capturable (synthetic events) */
    }
  };

  private readonly onMove = (e: PointerEvent): void => {
    const g = this.gesture;
    if (!g || g.id !== e.pointerId) return;
    const [x, y] = this.local(e);
    if (g.kind === "pan") {
      this.transform.panBy(x - g.x, y - g.y);
      g.x = x;
      g.y = y;
      this.redraw();
      return;
    }
    if (g.label !== 1) return; // right-drag is still a negative click
    const threshold = this.cb.tool() === "point" ? 5 : 2;
    if (!g.box && Math.hypot(x - g.x, y - g.y) > threshold) g.box = true;
    if (g.box) {
      const [ax, ay] = this.transform.toImage(g.x, g.y);
      const [bx, by] = this.transform.toImage(x, y);
      this.drag = [ax, ay, bx, by];
      this.redraw();
    }
  };

  private readonly onUp = (e: PointerEvent): void => {
    const g = this.gesture;
    if (!g || g.id !== e.pointerId) return;
    this.gesture = null;
    this.el.classList.remove("vl-panning");
    if (g.kind === "pan") return;
    const [x, y] = this.local(e);
    if (g.box) {
      const [ax, ay] = this.transform.toImage(g.x, g.y);
      const [bx, by] = this.transform.toImage(x, y);
      this.drag = null;
      const clampX = (v: number) => Math.min(this.imageW, Math.max(0, v));
      const clampY = (v: number) => Math.min(this.imageH, Math.max(0, v));
      const box: [number, number, number, number] = [
        clampX(Math.min(ax, bx)),
        clampY(Math.min(ay, by)),
        clampX(Math.max(ax, bx)),
        clampY(Math.max(ay, by)),
      ];
      if (box[2] - box[0] >= 1 && box[3] - box[1] >= 1) {
        if (this.cb.tool() === "bbox") this.cb.onKeyBox(box);
        else this.cb.onBox(box);
      }
      this.redraw();
      return;
    }
    if (this.cb.tool() === "bbox") return; // a click draws no box
    const [ix, iy] = this.transform.toImage(g.x, g.y);
    if (this.inImage(ix, iy)) this.cb.onPoint(ix, iy, g.label);
  };

  private readonly onCancel = (): void => {
    this.gesture = null;
    this.drag = null;
    this.el.classList.remove("vl-panning");
    this.redraw();
  };

  private readonly onWheel = (e: WheelEvent): void => {
    e.preventDefault();
    const [x, y] = this.local(e);
    this.transform.zoomAt(x, y, wheelFactor(e.deltaY, e.deltaMode));
    this.redraw();
  };
}
