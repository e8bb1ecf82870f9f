import { describe, expect, it } from "vitest";
import type { Json, Reply } from "./client";
import { FrameStore, type ImageLike } from "./frames";
import { Need } from "./prefetch";

interface Call {
  fields: Json;
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
}

const enc = (s: string) => new TextEncoder().encode(s);

function rig(opts: { count?: number; budget?: number } = {}) {
  const calls: Call[] = [];
  const loaded: number[] = [];
  const errors: string[] = [];
  const closed: number[] = [];
  let t = 0;
  const store = new FrameStore<ImageLike & { frame: number }>({
    request: (fields) => new Promise<Reply>((resolve, reject) => calls.push({ fields, resolve, reject })),
    decode: async (bytes) => {
      const frame = bytes[0] as number;
      return { width: 10, height: 10, frame, close: () => closed.push(frame) };
    },
    onLoaded: (fs) => loaded.push(...fs),
    onError: (m) => errors.push(m),
    imageBudget: opts.budget ?? 400 * 100,
    chunk: 4,
    maxInFlight: 2,
    now: () => t,
  });
  store.reset("seq", opts.count ?? 20, 10, 10);
  /** Answer a call the way the kernel would: one image buffer per frame (its first byte is the
   *  frame number) and one mask per frame for entity "e". */
  const answer = (c: Call, over: Json = {}) => {
    const buffers: Uint8Array[] = [];
    const items: Json[] = [];
    const { start, stop, images } = c.fields as { start: number; stop: number; images: boolean };
    for (let f = start; f < stop; f++) {
      let image: number | null = null;
      if (images) {
        image = buffers.length;
        buffers.push(new Uint8Array([f]));
      }
      const counts = buffers.length;
      buffers.push(enc("d1"));
      items.push({ frame: f, image, mime: "image/jpeg", masks: [{ entity: "e", height: 10, width: 10, counts, source: "prompt", score: 0.9, keyframe: f === start }] });
    }
    c.resolve({ content: { kind: "reply", ok: true, sequence: "seq", revision: 1, items, ...over }, buffers });
  };
  const flush = () => new Promise((r) => setTimeout(r, 0));
  return { store, calls, loaded, errors, closed, answer, flush, advance: (ms: number) => (t += ms) };
}

describe("FrameStore", () => {
  it("asks for the play head alone first, then a chunk ahead, within the in-flight limit", () => {
    const r = rig();
    r.store.setHead(5, 1);
    expect(r.calls.map((c) => [c.fields.start, c.fields.stop, c.fields.images])).toEqual([
      [5, 6, true],
      [6, 10, true],
    ]);
    expect(r.store.requestsInFlight).toBe(2);
  });

  it("caches images and masks from replies, then asks for the next ranges", async () => {
    const r = rig();
    r.store.setHead(0, 1);
    r.answer(r.calls[0]!);
    await r.flush();
    expect(r.store.isReady(0)).toBe(true);
    expect(r.store.masksOf(0)!.masks[0]).toMatchObject({ entity: "e", keyframe: true, score: 0.9 });
    expect(new TextDecoder().decode(r.store.masksOf(0)!.masks[0]!.counts)).toBe("d1");
    expect(r.loaded).toContain(0);
    // the slot freed up: a third request went out
    expect(r.calls).toHaveLength(3);
    expect(r.calls[2]!.fields).toMatchObject({ start: 5, stop: 9 });
  });

  it("a changed event makes masks stale (still showable) and refetches them masks-only", async () => {
    const r = rig();
    r.store.setHead(0, 1);
    r.answer(r.calls[0]!);
    r.answer(r.calls[1]!);
    await r.flush();
    const before = r.calls.length;
    r.store.invalidate([0], 2);
    expect(r.store.isReady(0)).toBe(false);
    expect(r.store.canShow(0)).toBe(true);
    expect(r.store.need(0)).toBe(Need.None); // already re-requested
    const again = r.calls.slice(before).find((c) => c.fields.start === 0)!;
    expect(again.fields).toMatchObject({ start: 0, images: false });
    r.answer(again, { revision: 2 });
    await r.flush();
    expect(r.store.isReady(0)).toBe(true);
  });

  it("drops masks computed before a change it has already heard of", async () => {
    const r = rig();
    r.store.setHead(0, 1);
    const first = r.calls[0]!;
    r.store.invalidate([0], 5); // the change lands while the request is out
    r.answer(first, { revision: 4 });
    await r.flush();
    expect(r.store.hasImage(0)).toBe(true);
    expect(r.store.masksOf(0)).toBeUndefined();
    expect(r.store.need(0)).toBe(Need.None); // asked again already
    const retry = r.calls.find((c) => c.fields.start === 0 && c.fields.images === false)!;
    r.answer(retry, { revision: 5 });
    await r.flush();
    expect(r.store.isReady(0)).toBe(true);
  });

  it("invalidating every frame (null) marks all masks stale", async () => {
    const r = rig();
    r.store.setHead(0, 1);
    r.answer(r.calls[0]!);
    r.answer(r.calls[1]!);
    await r.flush();
    r.store.invalidate(null, 3);
    expect(r.store.isReady(0)).toBe(false);
    expect(r.store.isReady(2)).toBe(false);
  });

  it("ignores replies for another sequence and replies that arrive after a reset", async () => {
    const r = rig();
    r.store.setHead(0, 1);
    r.answer(r.calls[0]!, { sequence: "other" });
    await r.flush();
    expect(r.store.hasImage(0)).toBe(false);
    const old = r.calls[1]!;
    r.store.reset("seq", 20, 10, 10);
    r.answer(old);
    await r.flush();
    expect(r.store.hasImage(6)).toBe(false);
  });

  it("evicts images by bytes and closes them", async () => {
    const r = rig({ budget: 400 * 3 }); // three 10x10 RGBA frames
    let answered = 0;
    for (let h = 0; h < 12; h++) {
      r.store.setHead(h, 1);
      while (answered < r.calls.length) r.answer(r.calls[answered++]!);
      await r.flush();
    }
    expect(r.store.imageBytes).toBeLessThanOrEqual(1200);
    expect(r.store.hasImage(11)).toBe(true);
    expect(r.store.hasImage(0)).toBe(false);
    expect(r.closed).toContain(0);
  });

  it("the frame on screen gets an extra slot when prefetch fills the others", () => {
    const r = rig();
    r.store.setHead(0, 1);
    expect(r.calls).toHaveLength(2);
    r.store.setHead(15, 1);
    expect(r.calls).toHaveLength(3);
    expect(r.calls[2]!.fields).toMatchObject({ start: 15, stop: 16, images: true });
    r.store.setHead(17, 1); // no more than one extra
    expect(r.calls).toHaveLength(3);
  });

  it("reports a refused request once and backs off before asking for those frames again", async () => {
    const r = rig();
    r.store.setHead(0, 1);
    r.calls[0]!.reject(new Error("frames: out of range"));
    await r.flush();
    expect(r.errors).toEqual(["frames: out of range"]);
    expect(r.store.need(0)).toBe(Need.None);
    r.advance(5000);
    expect(r.store.need(0)).toBe(Need.Image);
  });
});
