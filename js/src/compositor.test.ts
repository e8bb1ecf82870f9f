import { describe, expect, it } from "vitest";
import { Compositor, type Surface } from "./compositor";
import type { FrameMasks } from "./frames";
import type { OverlayStyle, Rgb } from "./overlay";

const enc = (s: string) => new TextEncoder().encode(s);
// 4x5, rows 1-2 x columns 1-3 set (pycocotools: b"5220003")
const fm = (gen: number, entities = ["a"]): FrameMasks => ({
  gen,
  stale: false,
  masks: entities.map((entity) => ({ entity, height: 4, width: 5, counts: enc("5220003"), source: null, score: null, keyframe: false })),
});
const style = (over: Partial<OverlayStyle> = {}): OverlayStyle => ({ opacity: 1, outline: false, hidden: new Set(), highlight: null, lineWidth: 1, ...over });
const colors = new Map<string, Rgb>([["a", [10, 20, 30]], ["b", [40, 50, 60]]]);

function factory() {
  const puts: Uint8ClampedArray[] = [];
  let made = 0;
  const make = (): Surface => {
    made += 1;
    return { source: {} as CanvasImageSource, put: (rgba) => puts.push(rgba.slice()) };
  };
  return { make, puts, made: () => made };
}

describe("Compositor", () => {
  it("decodes each mask once and reuses the built overlay for the same style", () => {
    const f = factory();
    const c = new Compositor(f.make);
    const s1 = c.overlay(0, fm(1), 5, 4, colors, ["a"], style(), "k1");
    const s2 = c.overlay(0, fm(1), 5, 4, colors, ["a"], style(), "k1");
    expect(s1).not.toBeNull();
    expect(s2).toBe(s1);
    expect(c.decodes).toBe(1);
    expect(f.puts).toHaveLength(1);
    // cropped to the mask's box: rows 1-2, columns 1-3, all inside
    expect(s1!.rect).toEqual({ x: 1, y: 1, w: 3, h: 2 });
    expect(f.puts[0]!.length).toBe(3 * 2 * 4);
    for (let i = 0; i < 6; i++) expect(Array.from(f.puts[0]!.subarray(i * 4, i * 4 + 4))).toEqual([10, 20, 30, 255]);
  });

  it("a new style recomposites without decoding again; new masks decode again", () => {
    const f = factory();
    const c = new Compositor(f.make);
    c.overlay(0, fm(1), 5, 4, colors, ["a"], style(), "k1");
    c.overlay(0, fm(1), 5, 4, colors, ["a"], style({ opacity: 0.5 }), "k2");
    expect(c.decodes).toBe(1);
    expect(f.puts).toHaveLength(2);
    expect(f.made()).toBe(1); // the surface is reused
    c.overlay(0, fm(2), 5, 4, colors, ["a"], style({ opacity: 0.5 }), "k2");
    expect(c.decodes).toBe(2);
  });

  it("returns null when nothing is visible, and skips entities it has no colour for", () => {
    const f = factory();
    const c = new Compositor(f.make);
    expect(c.overlay(0, fm(1), 5, 4, colors, ["a"], style({ hidden: new Set(["a"]) }), "h")).toBeNull();
    expect(c.overlay(1, fm(1, ["zzz"]), 5, 4, colors, ["zzz"], style(), "k")).toBeNull();
    expect(c.overlay(2, fm(1, []), 5, 4, colors, ["a"], style(), "k")).toBeNull();
    expect(f.made()).toBe(0);
  });

  it("the box covers every visible mask and leaves the rest transparent", () => {
    const f = factory();
    const c = new Compositor(f.make);
    const two: FrameMasks = {
      gen: 1,
      stale: false,
      masks: [
        { entity: "a", height: 4, width: 5, counts: enc("5220003"), source: null, score: null, keyframe: false },
        // 4x5 with only the bottom-right pixel set: 19 background, 1 foreground
        { entity: "b", height: 4, width: 5, counts: enc("c01"), source: null, score: null, keyframe: false },
      ],
    };
    const p = c.overlay(0, two, 5, 4, colors, ["a", "b"], style(), "k")!;
    expect(p.rect).toEqual({ x: 1, y: 1, w: 4, h: 3 });
    const px = (x: number, y: number) => Array.from(f.puts[0]!.subarray(((y - 1) * 4 + x - 1) * 4, ((y - 1) * 4 + x - 1) * 4 + 4));
    expect(px(4, 3)).toEqual([40, 50, 60, 255]);
    expect(px(1, 3)).toEqual([0, 0, 0, 0]);
    expect(px(3, 2)).toEqual([10, 20, 30, 255]);
    expect(c.has(0, 1, "k")).toBe(true);
    expect(c.has(0, 1, "other")).toBe(false);
  });

  it("layers follow the entity order given, not the order of the masks", () => {
    const c = new Compositor(factory().make);
    const layers = c.layers(0, fm(1, ["b", "a"]), colors, ["a", "b"]);
    expect(layers.map((l) => l.entity)).toEqual(["a", "b"]);
  });
});
