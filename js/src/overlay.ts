// Compositing decoded masks into one RGBA overlay per frame: fills at the chosen opacity,
// or outlines only; hidden entities are skipped; later entities paint over earlier ones.

export type Rgb = [number, number, number];

export interface Layer {
  entity: string;
  /** row-major, 1 = inside, width*height */
  mask: Uint8Array;
  color: Rgb;
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

/** Pixels inside the mask within `lineWidth` (4-neighbour steps) of the outside or of the
 *  image border, so an object cut by the frame edge still gets a closed outline. */
export function edgeMask(mask: Uint8Array, width: number, height: number, lineWidth = 1): Uint8Array {
  const out = new Uint8Array(width * height);
  const d = Math.max(1, Math.round(lineWidth));
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      if (!mask[i]) continue;
      let edge = false;
      for (let k = 1; k <= d && !edge; k++) {
        edge =
          x - k < 0 || x + k >= width || y - k < 0 || y + k >= height ||
          !mask[i - k] || !mask[i + k] || !mask[i - k * width] || !mask[i + k * width];
      }
      if (edge) out[i] = 1;
    }
  }
  return out;
}

/** RGBA pixels (width*height*4) of the overlay; transparent where no visible entity is. */
export function compositeOverlay(
  layers: readonly Layer[],
  width: number,
  height: number,
  style: OverlayStyle,
  out: Uint8ClampedArray = new Uint8ClampedArray(width * height * 4),
): Uint8ClampedArray {
  out.fill(0);
  const n = width * height;
  const fillAlpha = Math.round(Math.min(1, Math.max(0, style.opacity)) * 255);
  for (const layer of layers) {
    if (style.hidden.has(layer.entity) || layer.mask.length !== n) continue;
    const [r, g, b] = layer.color;
    const outlined = style.outline || layer.entity === style.highlight;
    if (!style.outline && fillAlpha > 0) paint(out, layer.mask, r, g, b, fillAlpha);
    if (outlined) paint(out, edgeMask(layer.mask, width, height, style.lineWidth), r, g, b, 255);
  }
  return out;
}

function paint(out: Uint8ClampedArray, mask: Uint8Array, r: number, g: number, b: number, a: number): void {
  for (let i = 0, o = 0; i < mask.length; i++, o += 4) {
    if (mask[i]) {
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = b;
      out[o + 3] = a;
    }
  }
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
