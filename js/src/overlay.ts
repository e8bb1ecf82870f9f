// Compositing masks into one RGBA overlay per frame: fills at the chosen opacity, or
// outlines only; hidden entities are skipped; later entities paint over earlier ones.
// Fills are written straight from the RLE runs, one 32-bit store per foreground pixel, so
// the cost follows the objects' area rather than the frame's (this runs on every new frame
// while a key is held).

import { forEachSegment, runsToMask } from "./rle";

export type Rgb = [number, number, number];

export interface Layer {
  entity: string;
  color: Rgb;
  height: number;
  width: number;
  /** COCO runs (background first), covering height*width */
  runs: ArrayLike<number>;
  /** row-major mask, decoded on first need (outlines) and kept */
  mask?: Uint8Array;
  /** bounding box of the foreground, computed on first need; null when empty */
  box?: Rect | null;
}

/** A rectangle of image pixels: x, y of its top-left pixel, width, height. */
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export function layerBox(layer: Layer): Rect | null {
  if (layer.box !== undefined) return layer.box;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -1;
  let y1 = -1;
  forEachSegment(layer.runs, layer.height, layer.width, (_start, length, row, col) => {
    if (col < x0) x0 = col;
    if (col > x1) x1 = col;
    if (row < y0) y0 = row;
    if (row + length - 1 > y1) y1 = row + length - 1;
  });
  layer.box = x1 < 0 ? null : { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
  return layer.box;
}

/** The smallest rectangle holding every box (null when there is none). */
export function unionBox(boxes: readonly (Rect | null)[]): Rect | null {
  let u: Rect | null = null;
  for (const b of boxes) {
    if (!b) continue;
    if (!u) u = { ...b };
    else {
      const x1 = Math.max(u.x + u.w, b.x + b.w);
      const y1 = Math.max(u.y + u.h, b.y + b.h);
      u.x = Math.min(u.x, b.x);
      u.y = Math.min(u.y, b.y);
      u.w = x1 - u.x;
      u.h = y1 - u.y;
    }
  }
  return u;
}

export interface OverlayStyle {
  /** fill opacity 0..1 */
  opacity: number;
  outline: boolean;
  hidden: ReadonlySet<string>;
  /** entity whose outline is drawn over its fill (the selected one), or null */
  highlight: string | null;
  /** outline thickness in image pixels */
  lineWidth: number;
}

export function parseColor(hex: string): Rgb {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex.trim());
  if (!m) return [255, 255, 255];
  const v = parseInt(m[1] as string, 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** One RGBA pixel as the Uint32 that stores it in this machine's byte order. */
export function packRgba(r: number, g: number, b: number, a: number): number {
  return LITTLE_ENDIAN ? ((a << 24) | (b << 16) | (g << 8) | r) >>> 0 : ((r << 24) | (g << 16) | (b << 8) | a) >>> 0;
}

export function layerMask(layer: Layer): Uint8Array {
  layer.mask ??= runsToMask(layer.runs, layer.height, layer.width);
  return layer.mask;
}

/** Pixels inside the mask within `lineWidth` (4-neighbour steps) of the outside or of the
 *  image border, so an object cut by the frame edge still gets a closed outline. */
export function edgeMask(mask: Uint8Array, width: number, height: number, lineWidth = 1): Uint8Array {
  const out = new Uint8Array(width * height);
  const d = Math.max(1, Math.round(lineWidth));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (mask[i] && isEdge(mask, i, x, y, width, height, d)) out[i] = 1;
    }
  }
  return out;
}

function isEdge(mask: Uint8Array, i: number, x: number, y: number, width: number, height: number, d: number): boolean {
  for (let k = 1; k <= d; k++) {
    if (x - k < 0 || x + k >= width || y - k < 0 || y + k >= height) return true;
    if (!mask[i - k] || !mask[i + k] || !mask[i - k * width] || !mask[i + k * width]) return true;
  }
  return false;
}

/** RGBA pixels of the overlay over `rect` of the frame (default: the whole frame, width*height*4
 *  bytes; else rect.w*rect.h*4); transparent where no visible entity is. Layers must lie inside
 *  `rect` (callers pass the union of the visible layers' boxes). */
export function compositeOverlay(
  layers: readonly Layer[],
  width: number,
  height: number,
  style: OverlayStyle,
  out?: Uint8ClampedArray,
  rect: Rect = { x: 0, y: 0, w: width, h: height },
): Uint8ClampedArray {
  const bw = rect.w;
  const buf = out ?? new Uint8ClampedArray(bw * rect.h * 4);
  const px = new Uint32Array(buf.buffer, buf.byteOffset, bw * rect.h);
  px.fill(0);
  const alpha = Math.round(Math.min(1, Math.max(0, style.opacity)) * 255);
  const d = Math.max(1, Math.round(style.lineWidth));
  for (const layer of layers) {
    if (style.hidden.has(layer.entity) || layer.height !== height || layer.width !== width) continue;
    const [r, g, b] = layer.color;
    if (!style.outline && alpha > 0) {
      const c = packRgba(r, g, b, alpha);
      forEachSegment(layer.runs, height, width, (_start, length, row, col) => {
        for (let k = 0, o = (row - rect.y) * bw + col - rect.x; k < length; k++, o += bw) px[o] = c;
      });
    }
    if (style.outline || layer.entity === style.highlight) {
      const c = packRgba(r, g, b, 255);
      const mask = layerMask(layer);
      forEachSegment(layer.runs, height, width, (start, length, row, col) => {
        for (let k = 0, i = start, o = (row - rect.y) * bw + col - rect.x; k < length; k++, i += width, o += bw)
          if (isEdge(mask, i, col, row + k, width, height, d)) px[o] = c;
      });
    }
  }
  return buf;
}

/** The DAVIS / PASCAL VOC palette colour of a 1-based entity index (as vidlabel/palette.py). */
export function davisColor(index: number): string {
  let c = ((index - 1) % 254 + 254) % 254 + 1;
  let r = 0;
  let g = 0;
  let b = 0;
  for (let j = 0; j < 8; j++) {
    r |= (c & 1) << (7 - j);
    g |= ((c >> 1) & 1) << (7 - j);
    b |= ((c >> 2) & 1) << (7 - j);
    c >>= 3;
  }
  return "#" + [r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("");
}
