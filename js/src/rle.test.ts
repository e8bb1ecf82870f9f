import { describe, expect, it } from "vitest";
import { decodeCounts, decodeMask } from "./rle";

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
});
