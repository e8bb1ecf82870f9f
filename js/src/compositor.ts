// Overlays per frame, built once and reused: RLE is decoded once per (frame, entity,
// generation of the frame's masks), and the composited RGBA goes into an offscreen surface
// that painting only has to draw. Style changes (opacity, outline, hidden, colours, the
// selected entity) drop the surfaces but keep the decoded masks.

import { LruCache } from "./cache";
import type { FrameMasks } from "./frames";
import { compositeOverlay, type Layer, type OverlayStyle, type Rgb } from "./overlay";
import { decodeMask } from "./rle";

/** Something paintable that can take RGBA pixels. */
export interface Surface {
  readonly source: CanvasImageSource;
  put(rgba: Uint8ClampedArray, width: number, height: number): void;
}

export type SurfaceFactory = (width: number, height: number) => Surface | null;

interface Decoded {
  gen: number;
  masks: Map<string, Uint8Array>;
}

interface Built {
  gen: number;
  styleKey: string;
  /** null: nothing visible on this frame */
  surface: Surface | null;
}

export class Compositor {
  private decoded: LruCache<number, Decoded>;
  private built: LruCache<number, Built>;
  private scratch: Uint8ClampedArray | null = null;
  /** how many RLE decodes ran (tests check decoding happens once) */
  decodes = 0;

  constructor(
    private readonly makeSurface: SurfaceFactory,
    decodedBudget = 96 * 1024 * 1024,
    overlayBudget = 128 * 1024 * 1024,
  ) {
    this.decoded = new LruCache(decodedBudget);
    this.built = new LruCache(overlayBudget);
  }

  /** Decoded layers of a frame's masks in entity order (entities not listed are skipped). */
  layers(frame: number, fm: FrameMasks, colors: ReadonlyMap<string, Rgb>, order: readonly string[]): Layer[] {
    let d = this.decoded.get(frame);
    if (!d || d.gen !== fm.gen) {
      d = { gen: fm.gen, masks: new Map() };
    }
    let bytes = 0;
    const byEntity = new Map(fm.masks.map((m) => [m.entity, m]));
    const out: Layer[] = [];
    for (const id of order) {
      const rec = byEntity.get(id);
      const color = colors.get(id);
      if (!rec || !color) continue;
      let mask = d.masks.get(id);
      if (!mask) {
        try {
          mask = decodeMask(rec.counts, rec.height, rec.width);
        } catch {
          continue; // a corrupt mask is left out rather than breaking the frame
        }
        this.decodes += 1;
        d.masks.set(id, mask);
      }
      out.push({ entity: id, mask, color });
    }
    for (const m of d.masks.values()) bytes += m.length;
    this.decoded.set(frame, d, bytes + 64);
    return out;
  }

  /** The overlay surface of a frame under a style, built on first use. */
  overlay(
    frame: number,
    fm: FrameMasks,
    width: number,
    height: number,
    colors: ReadonlyMap<string, Rgb>,
    order: readonly string[],
    style: OverlayStyle,
    styleKey: string,
  ): Surface | null {
    const hit = this.built.get(frame);
    if (hit && hit.gen === fm.gen && hit.styleKey === styleKey) return hit.surface;
    const layers = this.layers(frame, fm, colors, order).filter(
      (l) => !style.hidden.has(l.entity) && l.mask.length === width * height,
    );
    let surface: Surface | null = null;
    if (layers.length) {
      const n = width * height * 4;
      if (!this.scratch || this.scratch.length !== n) this.scratch = new Uint8ClampedArray(n);
      const rgba = compositeOverlay(layers, width, height, style, this.scratch);
      // reuse the surface this frame had under the previous style
      surface = hit?.surface ?? this.makeSurface(width, height);
      surface?.put(rgba, width, height);
    }
    this.built.set(frame, { gen: fm.gen, styleKey, surface }, surface ? width * height * 4 : 64);
    return surface;
  }

  /** Forget built overlays (not decoded masks) of every frame. */
  restyle(): void {
    this.built.clear();
  }

  clear(): void {
    this.built.clear();
    this.decoded.clear();
  }
}

/** Surfaces backed by OffscreenCanvas where there is one, else a detached <canvas>. */
export function canvasSurfaces(doc: Document | null): SurfaceFactory {
  return (width, height) => {
    let canvas: OffscreenCanvas | HTMLCanvasElement;
    if (typeof OffscreenCanvas !== "undefined") canvas = new OffscreenCanvas(width, height);
    else if (doc) {
      canvas = doc.createElement("canvas");
      canvas.width = width;
      canvas.height = height;
    } else return null;
    const ctx = canvas.getContext("2d") as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
    if (!ctx || typeof ImageData === "undefined") return null;
    return {
      source: canvas,
      put(rgba, w, h) {
        ctx.putImageData(new ImageData(rgba as Uint8ClampedArray<ArrayBuffer>, w, h), 0, 0);
      },
    };
  };
}
