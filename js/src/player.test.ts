import { describe, expect, it } from "vitest";
import { Player } from "./player";

function rig(count = 100, ready: (f: number) => boolean = () => true) {
  let t = 0;
  let frame = 0;
  let queued: ((t: number) => void) | null = null;
  const seeks: number[] = [];
  const player = new Player({
    now: () => t,
    requestFrame: (cb) => {
      queued = cb;
      return 1;
    },
    cancelFrame: () => {
      queued = null;
    },
    count: () => count,
    current: () => frame,
    isReady: ready,
    seek: (f) => {
      frame = f;
      seeks.push(f);
    },
  });
  /** run animation frames for `ms` at 60 Hz */
  const run = (ms: number) => {
    const end = t + ms;
    while (t < end) {
      t += 1000 / 60;
      const cb = queued;
      queued = null;
      cb?.(t);
    }
  };
  return { player, seeks, run, frame: () => frame, setFrame: (f: number) => (frame = f) };
}

describe("Player: held keys", () => {
  it("steps once at once, waits the delay, then steps every animation frame", () => {
    const r = rig();
    r.player.hold(1);
    expect(r.seeks).toEqual([1]);
    r.run(150);
    expect(r.frame()).toBe(1);
    r.run(1000);
    // ~0.8 s of stepping at 60 Hz
    expect(r.frame()).toBeGreaterThan(40);
    r.player.release();
    const at = r.frame();
    r.run(500);
    expect(r.frame()).toBe(at);
  });

  it("ignores the OS's key repeats", () => {
    const r = rig();
    r.player.hold(1);
    r.player.hold(1);
    r.player.hold(1);
    expect(r.seeks).toEqual([1]);
  });

  it("only moves onto ready frames while held", () => {
    const r = rig(100, (f) => f <= 10);
    r.player.hold(1);
    r.run(3000);
    expect(r.frame()).toBe(10);
  });

  it("stops at the ends", () => {
    const r = rig(5);
    r.player.hold(-1);
    expect(r.seeks).toEqual([]);
    r.player.release();
    r.player.hold(10);
    expect(r.frame()).toBe(4);
  });
});

describe("Player: playback", () => {
  it("advances at the fps and pauses at the end", () => {
    const r = rig(100);
    r.player.play(10);
    r.run(1000);
    expect(r.frame()).toBeGreaterThanOrEqual(9);
    expect(r.frame()).toBeLessThanOrEqual(11);
    r.run(20_000);
    expect(r.frame()).toBe(99);
    expect(r.player.playing).toBe(false);
  });

  it("waits for frames that are not ready instead of skipping them", () => {
    let limit = 3;
    const r = rig(100, (f) => f <= limit);
    r.player.play(30);
    r.run(2000);
    expect(r.frame()).toBe(3);
    limit = 5;
    r.run(2000);
    expect(r.frame()).toBe(5);
    expect(r.seeks).toEqual([1, 2, 3, 4, 5]);
  });

  it("restarts from the first frame when played at the end", () => {
    const r = rig(10);
    r.setFrame(9);
    r.player.play(10);
    expect(r.frame()).toBe(0);
  });

  it("a held key pauses playback", () => {
    const r = rig(100);
    r.player.play(10);
    r.player.hold(1);
    expect(r.player.playing).toBe(false);
  });
});
