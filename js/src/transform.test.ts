import { describe, expect, it } from "vitest";
import { MAX_SCALE, ViewTransform, wheelFactor } from "./transform";

describe("ViewTransform", () => {
  it("fits a wide image centred vertically", () => {
    const t = new ViewTransform();
    t.fit(800, 600, 854, 480);
    expect(t.scale).toBeCloseTo(800 / 854);
    expect(t.tx).toBeCloseTo(0);
    expect(t.ty).toBeCloseTo((600 - 480 * (800 / 854)) / 2);
    expect(t.toScreen(854, 480)[0]).toBeCloseTo(800);
  });

  it("converts screen to image and back", () => {
    const t = new ViewTransform();
    t.fit(500, 400, 854, 480);
    t.zoomAt(120, 80, 3.1);
    t.panBy(-37, 12);
    for (const [sx, sy] of [[0, 0], [123.5, 77.25], [499, 399]] as const) {
      const [ix, iy] = t.toImage(sx, sy);
      const [bx, by] = t.toScreen(ix, iy);
      expect(bx).toBeCloseTo(sx, 9);
      expect(by).toBeCloseTo(sy, 9);
    }
  });

  it("zooming keeps the point under the cursor fixed", () => {
    const t = new ViewTransform();
    t.fit(854, 480, 854, 480);
    const before = t.toImage(300, 200);
    t.zoomAt(300, 200, 2);
    expect(t.scale).toBeCloseTo(2);
    const after = t.toImage(300, 200);
    expect(after[0]).toBeCloseTo(before[0]);
    expect(after[1]).toBeCloseTo(before[1]);
    expect(t.fitted).toBe(false);
  });

  it("clamps the scale", () => {
    const t = new ViewTransform();
    t.zoomAt(0, 0, 1e6);
    expect(t.scale).toBe(MAX_SCALE);
  });

  it("panning moves image points by the screen delta", () => {
    const t = new ViewTransform();
    t.fit(100, 100, 50, 50);
    const [x0] = t.toScreen(10, 10);
    t.panBy(15, 0);
    expect(t.toScreen(10, 10)[0]).toBeCloseTo(x0 + 15);
  });

  it("wheel up zooms in, wheel down zooms out", () => {
    expect(wheelFactor(-100, 0)).toBeGreaterThan(1);
    expect(wheelFactor(100, 0)).toBeLessThan(1);
    expect(wheelFactor(-3, 1)).toBeCloseTo(wheelFactor(-99, 0));
  });
});
