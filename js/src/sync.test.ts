import { describe, expect, it } from "vitest";
import { TraitWriter, Traits, type Clock, type Model } from "./sync";

function fakeClock() {
  let t = 0;
  let timers: { at: number; cb: () => void; id: number }[] = [];
  let ids = 0;
  const clock: Clock = {
    now: () => t,
    setTimeout: (cb, ms) => {
      const id = ids++;
      timers.push({ at: t + ms, cb, id });
      return id;
    },
    clearTimeout: (h) => {
      timers = timers.filter((x) => x.id !== h);
    },
  };
  const advance = (ms: number) => {
    t += ms;
    for (const x of timers.filter((x) => x.at <= t)) {
      timers = timers.filter((y) => y !== x);
      x.cb();
    }
  };
  return { clock, advance };
}

function fakeModel() {
  const saved: unknown[] = [];
  let value: unknown;
  let writingSeen = false;
  const model = {
    get: () => value,
    set: (_n: string, v: unknown) => {
      value = v;
      writingSeen = writer?.writing ?? false;
    },
    save_changes: () => saved.push(value),
    on: () => {},
    off: () => {},
    send: () => {},
  } as Model;
  let writer: TraitWriter<number> | undefined;
  return { model, saved, bind: (w: TraitWriter<number>) => (writer = w), writingSeen: () => writingSeen };
}

describe("TraitWriter", () => {
  it("writes the first value at once and throttles a burst to one write per interval plus the last value", () => {
    const { clock, advance } = fakeClock();
    const m = fakeModel();
    const w = new TraitWriter<number>(m.model, "frame", 150, clock);
    m.bind(w);
    w.write(1);
    expect(m.saved).toEqual([1]);
    expect(m.writingSeen()).toBe(true);
    for (let f = 2; f <= 30; f++) {
      advance(16);
      w.write(f);
    }
    // 29 writes over ~464 ms: at most one per 150 ms
    expect(m.saved.length).toBeLessThanOrEqual(5);
    advance(200);
    expect(m.saved[m.saved.length - 1]).toBe(30);
    expect(w.hasPending).toBe(false);
  });

  it("flush writes the pending value immediately, cancel drops it", () => {
    const { clock, advance } = fakeClock();
    const m = fakeModel();
    const w = new TraitWriter<number>(m.model, "frame", 150, clock);
    w.write(1);
    w.write(2);
    w.flush();
    expect(m.saved).toEqual([1, 2]);
    w.write(3);
    w.cancel();
    advance(1000);
    expect(m.saved).toEqual([1, 2]);
  });
});

describe("Traits", () => {
  function model() {
    const attrs: Record<string, unknown> = { frame: 0, tool: "point" };
    const handlers = new Map<string, Set<() => void>>();
    const m: Model = {
      get: (n) => attrs[n],
      set: (n, v) => {
        const old = attrs[n];
        attrs[n] = v;
        if (old !== v) for (const cb of handlers.get(`change:${n}`) ?? []) cb();
      },
      save_changes: () => {},
      on: (ev, cb) => {
        if (!handlers.has(ev)) handlers.set(ev, new Set());
        handlers.get(ev)!.add(cb);
      },
      off: (ev, cb) => {
        if (ev && cb) handlers.get(ev)?.delete(cb);
      },
      send: () => {},
    };
    return { m, attrs, handlers };
  }

  it("listeners hear the kernel's changes but not the view's own writes", () => {
    const { m } = model();
    const { clock } = fakeClock();
    const t = new Traits(m, { tool: 0 }, clock);
    let heard = 0;
    t.on(["tool"], () => heard++);
    t.write("tool", "box");
    expect(heard).toBe(0);
    m.set("tool", "point"); // from the kernel
    expect(heard).toBe(1);
  });

  it("reads see a throttled value before it is written, dispose writes it and unhooks", () => {
    const { m, attrs, handlers } = model();
    const { clock } = fakeClock();
    const t = new Traits(m, { frame: 150 }, clock);
    t.on(["frame"], () => {});
    t.write("frame", 1);
    t.write("frame", 2);
    expect(attrs.frame).toBe(1);
    expect(t.get("frame")).toBe(2);
    t.dispose();
    expect(attrs.frame).toBe(2);
    expect(handlers.get("change:frame")!.size).toBe(0);
    expect(() => t.write("entities", [])).toThrow(/not writable/);
  });
});
