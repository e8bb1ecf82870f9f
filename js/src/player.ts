// Playback and held-key stepping, driven by animation frames: OS key repeat is slow and
// uneven, so a held arrow steps one frame per animation frame after a short delay, and
// only onto frames that are ready (image and masks cached), never past the prefetch.

export interface PlayerDeps {
  now(): number;
  requestFrame(cb: (t: number) => void): unknown;
  cancelFrame(handle: unknown): void;
  count(): number;
  current(): number;
  isReady(frame: number): boolean;
  /** Move the play head (paints when the frame is ready). */
  seek(frame: number): void;
  onChange?(): void;
}

export class Player {
  holdDelayMs = 200;
  private holdDelta = 0;
  private holdStart = 0;
  private playingFps = 0;
  private lastAdvance = 0;
  private handle: unknown = null;

  constructor(private readonly d: PlayerDeps) {}

  get playing(): boolean {
    return this.playingFps > 0;
  }

  get holding(): boolean {
    return this.holdDelta !== 0;
  }

  /** Direction of travel, for prefetching. */
  get direction(): 1 | -1 {
    return this.holdDelta < 0 ? -1 : 1;
  }

  /** Key down: one step at once, then continuous stepping after the delay. Repeats of the
   *  same key (OS auto-repeat) are ignored. */
  hold(delta: number): void {
    if (delta === 0 || delta === this.holdDelta) return;
    if (this.playing) this.pause();
    this.holdDelta = delta;
    this.holdStart = this.d.now();
    this.stepBy(delta, false);
    this.schedule();
    this.d.onChange?.();
  }

  release(): void {
    if (!this.holding) return;
    this.holdDelta = 0;
    this.d.onChange?.();
  }

  play(fps: number): void {
    if (this.holding) this.holdDelta = 0;
    const n = this.d.count();
    if (n <= 1) return;
    if (this.d.current() >= n - 1) this.d.seek(0);
    this.playingFps = fps > 0 && Number.isFinite(fps) ? fps : 24;
    this.lastAdvance = this.d.now();
    this.schedule();
    this.d.onChange?.();
  }

  pause(): void {
    if (!this.playing) return;
    this.playingFps = 0;
    this.d.onChange?.();
  }

  toggle(fps: number): void {
    if (this.playing) this.pause();
    else this.play(fps);
  }

  stop(): void {
    this.holdDelta = 0;
    this.playingFps = 0;
    if (this.handle !== null) this.d.cancelFrame(this.handle);
    this.handle = null;
  }

  /** One animation frame; public so tests can drive it. Times come from `now()`, not the
   *  callback's timestamp, whose origin differs outside browsers (jsdom). */
  tick(): void {
    this.handle = null;
    const t = this.d.now();
    if (this.holding) {
      if (t - this.holdStart >= this.holdDelayMs) this.stepBy(this.holdDelta, true);
    } else if (this.playing) {
      const period = 1000 / this.playingFps;
      // a few ms of slack: animation frames jitter around the period
      if (t - this.lastAdvance >= period - 4) {
        const next = this.d.current() + 1;
        if (next >= this.d.count()) {
          this.pause();
        } else if (this.d.isReady(next)) {
          this.d.seek(next);
          // keep the cadence, but do not burst to catch up after a stall
          this.lastAdvance = Math.max(this.lastAdvance + period, t - period);
        }
      }
    }
    if (this.holding || this.playing) this.schedule();
  }

  private stepBy(delta: number, gated: boolean): void {
    const cur = this.d.current();
    const target = Math.min(this.d.count() - 1, Math.max(0, cur + delta));
    if (target === cur) return;
    if (gated && !this.d.isReady(target)) return;
    this.d.seek(target);
  }

  private schedule(): void {
    if (this.handle === null) this.handle = this.d.requestFrame(() => this.tick());
  }
}
