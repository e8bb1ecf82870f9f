// Overlays per frame, built once and reused: RLE is decoded once per (frame, entity,
// generation of the frame's masks) into runs (and into a mask only for outlines), and the composited RGBA goes into an offscreen surface
// that painting only has to draw. Style changes (opacity, outline, hidden, colours, the
// selected entity) drop the surfaces but keep the decoded masks.

import { LruCache } from "./cache";
import type { FrameMasks } from "./frames";
import { compositeOverlay, layerBox, unionBox, type Layer, type OverlayStyle, type Rect, type Rgb } from "./overlay";
import { decodeRuns } from "./rle";

/** Something paintable that can take RGBA pixels. */
export interface Surface {
  readonly source: CanvasImageSource;
  put(rgba: Uint8ClampedArray, width: number, height: number): void;
}

export type SurfaceFactory = (width: number, height: number) => Surface | null;

interface Decoded {
  gen: number;
  /** per entity: its runs, and its row-major mask once an outline needed it */
  layers: Map<string, Layer>;
}

/** An overlay ready to draw: its surface covers `rect` of the frame (the visible masks' box). */
export interface Placed {
  surface: Surface;
  rect: Rect;
}

interface Built {
  gen: number;
  styleKey: string;
  /** null: nothing visible on this frame */
  placed: Placed | null;
}

export class Compositor {
  private decoded: LruCache<number, Decoded>;
  private cache: LruCache<number, Built>;
  private scratch = new Uint8ClampedArray(0);
  /** how many RLE decodes ran (tests check decoding happens once) */
  decodes = 0;
  /** how many overlays were composited */
  built = 0;

  constructor(
    private readonly makeSurface: SurfaceFactory,
    decodedBudget = 96 * 1024 * 1024,
    overlayBudget = 128 * 1024 * 1024,
  ) {
    this.decoded = new LruCache(decodedBudget);
    this.cache = new LruCache(overlayBudget);
  }

  /** Decoded layers of a frame's masks in entity order (entities not listed are skipped). */
  layers(frame: number, fm: FrameMasks, colors: ReadonlyMap<string, Rgb>, order: readonly string[]): Layer[] {
    let d = this.decoded.get(frame);
    if (!d || d.gen !== fm.gen) d = { gen: fm.gen, layers: new Map() };
    const byEntity = new Map(fm.masks.map((m) => [m.entity, m]));
    const out: Layer[] = [];
    for (const id of order) {
      const rec = byEntity.get(id);
      const color = colors.get(id);
      if (!rec || !color) continue;
      let layer = d.layers.get(id);
      if (!layer) {
        try {
          layer = { entity: id, color, height: rec.height, width: rec.width, runs: decodeRuns(rec.counts, rec.height * rec.width) };
        } catch {
          continue; // a corrupt mask is left out rather than breaking the frame
        }
        this.decodes += 1;
        d.layers.set(id, layer);
      }
      layer.color = color; // colours change without the masks changing
      out.push(layer);
    }
    this.decoded.set(frame, d, decodedBytes(d));
    return out;
  }

  /** Whether the frame's overlay under this style is built already (idle work skips it). */
  has(frame: number, gen: number, styleKey: string): boolean {
    const hit = this.cache.peek(frame);
    return !!hit && hit.gen === gen && hit.styleKey === styleKey;
  }

  /** The overlay of a frame under a style, built on first use, cropped to the visible masks. */
  overlay(
    frame: number,
    fm: FrameMasks,
    width: number,
    height: number,
    colors: ReadonlyMap<string, Rgb>,
    order: readonly string[],
    style: OverlayStyle,
    styleKey: string,
  ): Placed | null {
    const hit = this.cache.get(frame);
    if (hit && hit.gen === fm.gen && hit.styleKey === styleKey) return hit.placed;
    const layers = this.layers(frame, fm, colors, order).filter(
      (l) => !style.hidden.has(l.entity) && l.height === height && l.width === width,
    );
    let placed: Placed | null = null;
    const rect = unionBox(layers.map(layerBox));
    if (rect) {
      const n = rect.w * rect.h * 4;
      if (this.scratch.length < n) this.scratch = new Uint8ClampedArray(n);
      const rgba = compositeOverlay(layers, width, height, style, this.scratch.subarray(0, n), rect);
      // reuse the surface this frame had under the previous style when the box is the same
      const old = hit?.placed;
      const surface = old && old.rect.w === rect.w && old.rect.h === rect.h ? old.surface : this.makeSurface(rect.w, rect.h);
      if (surface) {
        surface.put(rgba, rect.w, rect.h);
        placed = { surface, rect };
      }
    }
    this.built += 1;
    this.cache.set(frame, { gen: fm.gen, styleKey, placed }, placed ? rect!.w * rect!.h * 4 + 64 : 64);
    // outlines may have decoded masks: account for them
    const d = this.decoded.peek(frame);
    if (d) this.decoded.set(frame, d, decodedBytes(d));
    return placed;
  }

  /** Bytes the built overlays hold, and how many. */
  get overlayBytes(): number {
    return this.cache.bytes;
  }

  get overlayBudget(): number {
    return this.cache.budget;
  }

  /** Forget built overlays (not decoded masks) of every frame. */
  restyle(): void {
    this.cache.clear();
  }

  clear(): void {
    this.cache.clear();
    this.decoded.clear();
  }
}

function decodedBytes(d: Decoded): number {
  let bytes = 64;
  for (const l of d.layers.values()) bytes += l.runs.length * 4 + (l.mask?.length ?? 0) + 64;
  return bytes;
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
