import { describe, expect, it } from "vitest";
import { decodeCounts, decodeMask } from "./rle";
import cases from "./fixtures/rle_cases.json";

const enc = (s: string) => new TextEncoder().encode(s);

describe("COCO RLE", () => {
  // pycocotools.mask.encode of a 4x5 mask with rows 1-2, columns 1-3 set gives b"5220003"
  it("decodes the runs pycocotools writes", () => {
    expect(decodeCounts(enc("5220003"))).toEqual([5, 2, 2, 2, 2, 2, 5]);
  });
  it("decodes to a row-major mask", () => {
    const m = decodeMask(enc("5220003"), 4, 5);
    const rows = [0, 1, 2, 3].map((r) => Array.from(m.slice(r * 5, r * 5 + 5)).join(""));
    expect(rows).toEqual(["00000", "01110", "01110", "00000"]);
  });
  it("refuses counts that do not cover the mask", () => {
    expect(() => decodeMask(enc("52"), 4, 5)).toThrow(/covers/);
  });
  it("refuses counts that cover more than the mask", () => {
    expect(() => decodeMask(enc("5220003"), 3, 5)).toThrow(/covers/);
  });
  it("refuses counts cut inside a multi-character run", () => {
    expect(() => decodeCounts(enc("d"))).toThrow(/inside a run/);
  });

  // Masks encoded by pycocotools (fixtures/make_rle_fixtures.py); tests/test_frontend.py keeps them current.
  for (const c of cases) {
    it(`matches pycocotools: ${c.name} (${c.height}x${c.width})`, () => {
      const m = decodeMask(enc(c.counts), c.height, c.width);
      const rows = [];
      for (let r = 0; r < c.height; r++) rows.push(Array.from(m.subarray(r * c.width, (r + 1) * c.width)).join(""));
      expect(rows).toEqual(c.rows);
    });
  }
});
