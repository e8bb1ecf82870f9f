// Zoom and pan of the frame on the canvas: screen = image * scale + offset, in CSS pixels.

export const MIN_SCALE = 0.05;
export const MAX_SCALE = 40;

export class ViewTransform {
  scale = 1;
  tx = 0;
  ty = 0;
  /** true until the person zooms or pans; a resize then refits instead of keeping a stale view */
  fitted = true;

  /** Centre the whole image in the view, as large as fits. */
  fit(viewW: number, viewH: number, imageW: number, imageH: number): void {
    if (viewW <= 0 || viewH <= 0 || imageW <= 0 || imageH <= 0) return;
    this.scale = clamp(Math.min(viewW / imageW, viewH / imageH), MIN_SCALE, MAX_SCALE);
    this.tx = (viewW - imageW * this.scale) / 2;
    this.ty = (viewH - imageH * this.scale) / 2;
    this.fitted = true;
  }

  toImage(sx: number, sy: number): [number, number] {
    return [(sx - this.tx) / this.scale, (sy - this.ty) / this.scale];
  }

  toScreen(ix: number, iy: number): [number, number] {
    return [ix * this.scale + this.tx, iy * this.scale + this.ty];
  }

  /** Zoom by `factor` keeping the image point under (sx, sy) where it is. */
  zoomAt(sx: number, sy: number, factor: number): void {
    const next = clamp(this.scale * factor, MIN_SCALE, MAX_SCALE);
    const [ix, iy] = this.toImage(sx, sy);
    this.scale = next;
    this.tx = sx - ix * next;
    this.ty = sy - iy * next;
    this.fitted = false;
  }

  panBy(dx: number, dy: number): void {
    this.tx += dx;
    this.ty += dy;
    this.fitted = false;
  }
}

export function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/** Wheel delta to a zoom factor: one notch (~100 px) is about x1.2, trackpads scroll finer. */
export function wheelFactor(deltaY: number, deltaMode: number): number {
  const px = deltaMode === 1 ? deltaY * 33 : deltaMode === 2 ? deltaY * 400 : deltaY;
  return Math.exp(-clamp(px, -300, 300) * 0.0018);
}
