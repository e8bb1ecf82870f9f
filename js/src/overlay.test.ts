import { describe, expect, it } from "vitest";
import { compositeOverlay, davisColor, edgeMask, parseColor, type Layer, type OverlayStyle, type Rgb } from "./overlay";

/** Column-major runs of a row-major mask, as COCO RLE holds them (background first). */
function runsOf(mask: Uint8Array, h: number, w: number): number[] {
  const runs: number[] = [];
  let value = 0;
  let n = 0;
  for (let x = 0; x < w; x++)
    for (let y = 0; y < h; y++) {
      const v = mask[y * w + x] ? 1 : 0;
      if (v !== value) {
        runs.push(n);
        n = 0;
        value = v;
      }
      n++;
    }
  runs.push(n);
  return runs;
}
const layer = (entity: string, mask: Uint8Array, color: Rgb, h = 5, w = 5): Layer => ({ entity, color, height: h, width: w, runs: runsOf(mask, h, w) });

const style = (over: Partial<OverlayStyle> = {}): OverlayStyle => ({
  opacity: 0.5,
  outline: false,
  hidden: new Set(),
  highlight: null,
  lineWidth: 1,
  ...over,
});

// 5x5 with a 3x3 square in the middle
const square = (): Uint8Array => {
  const m = new Uint8Array(25);
  for (let y = 1; y <= 3; y++) for (let x = 1; x <= 3; x++) m[y * 5 + x] = 1;
  return m;
};
const px = (rgba: Uint8ClampedArray, x: number, y: number, w = 5) => Array.from(rgba.subarray((y * w + x) * 4, (y * w + x) * 4 + 4));

describe("overlay", () => {
  it("parses #rrggbb colours", () => {
    expect(parseColor("#ff8000")).toEqual([255, 128, 0]);
    expect(parseColor("bogus")).toEqual([255, 255, 255]);
  });

  it("fills the mask in the entity colour at the opacity, and leaves the rest transparent", () => {
    const out = compositeOverlay([layer("a", square(), [200, 10, 20])], 5, 5, style({ opacity: 0.4 }));
    expect(px(out, 2, 2)).toEqual([200, 10, 20, 102]);
    expect(px(out, 0, 0)).toEqual([0, 0, 0, 0]);
    expect(px(out, 4, 2)).toEqual([0, 0, 0, 0]);
  });

  it("paints later entities over earlier ones where they overlap", () => {
    const b = new Uint8Array(25);
    b[12] = 1;
    const layers: Layer[] = [
      layer("a", square(), [255, 0, 0]),
      layer("b", b, [0, 0, 255]),
    ];
    const out = compositeOverlay(layers, 5, 5, style({ opacity: 1 }));
    expect(px(out, 2, 2)).toEqual([0, 0, 255, 255]);
    expect(px(out, 1, 1)).toEqual([255, 0, 0, 255]);
  });

  it("skips hidden entities without hiding the others under them", () => {
    const b = new Uint8Array(25);
    b[12] = 1;
    const layers: Layer[] = [
      layer("a", square(), [255, 0, 0]),
      layer("b", b, [0, 0, 255]),
    ];
    const out = compositeOverlay(layers, 5, 5, style({ opacity: 1, hidden: new Set(["b"]) }));
    expect(px(out, 2, 2)).toEqual([255, 0, 0, 255]);
    const none = compositeOverlay(layers, 5, 5, style({ hidden: new Set(["a", "b"]) }));
    expect(none.every((v) => v === 0)).toBe(true);
  });

  it("outline mode paints only the border ring, opaque", () => {
    const out = compositeOverlay([layer("a", square(), [0, 255, 0])], 5, 5, style({ outline: true }));
    expect(px(out, 1, 1)).toEqual([0, 255, 0, 255]);
    expect(px(out, 3, 2)).toEqual([0, 255, 0, 255]);
    expect(px(out, 2, 2)).toEqual([0, 0, 0, 0]); // interior
    expect(px(out, 0, 0)).toEqual([0, 0, 0, 0]);
  });

  it("the highlighted entity gets its outline over its fill", () => {
    const out = compositeOverlay([layer("a", square(), [0, 255, 0])], 5, 5, style({ highlight: "a", opacity: 0.2 }));
    expect(px(out, 1, 1)[3]).toBe(255);
    expect(px(out, 2, 2)[3]).toBe(51);
  });

  it("edges touch the image border and thicken with lineWidth", () => {
    const full = new Uint8Array(49).fill(1);
    const e1 = edgeMask(full, 7, 7, 1);
    expect(e1[0]).toBe(1);
    expect(e1[3 * 7 + 3]).toBe(0);
    expect(e1[1 * 7 + 1]).toBe(0);
    const e2 = edgeMask(full, 7, 7, 2);
    expect(e2[1 * 7 + 3]).toBe(1);
    expect(e2[3 * 7 + 3]).toBe(0);
  });

  it("fills and outlines from runs agree with the row-major mask on a non-square random mask", () => {
    const h = 7;
    const w = 11;
    let seed = 3;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const m = new Uint8Array(h * w).map(() => (rand() > 0.45 ? 1 : 0));
    const fill = compositeOverlay([layer("a", m, [9, 9, 9], h, w)], w, h, style({ opacity: 1 }));
    for (let i = 0; i < h * w; i++) expect(fill[i * 4 + 3], `pixel ${i}`).toBe(m[i] ? 255 : 0);
    const lines = compositeOverlay([layer("a", m, [9, 9, 9], h, w)], w, h, style({ outline: true }));
    const edges = edgeMask(m, w, h, 1);
    for (let i = 0; i < h * w; i++) expect((lines[i * 4 + 3] ?? 0) > 0 ? 1 : 0, `pixel ${i}`).toBe(edges[i]);
  });

  it("ignores a mask whose size does not match the frame", () => {
    const out = compositeOverlay([layer("a", new Uint8Array(4).fill(1), [1, 2, 3], 2, 2)], 5, 5, style());
    expect(out.every((v) => v === 0)).toBe(true);
  });

  it("davisColor follows the DAVIS palette", () => {
    expect(davisColor(1)).toBe("#800000");
    expect(davisColor(2)).toBe("#008000");
    expect(davisColor(3)).toBe("#808000");
    expect(davisColor(4)).toBe("#000080");
  });
});
