import { describe, expect, it } from "vitest";
import { TraitWriter, type Clock, type Model } from "./sync";

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
