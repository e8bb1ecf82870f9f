// The anywidget model as this view uses it, and throttled writes of two-way traits: a held
// arrow key moves 60 frames a second, the kernel needs only a few updates of `frame`.

export interface Model {
  get(name: string): any;
  set(name: string, value: unknown): void;
  save_changes(): void;
  on(event: string, cb: (...args: any[]) => void): void;
  off(event?: string | null, cb?: ((...args: any[]) => void) | null): void;
  send(content: Record<string, unknown>, callbacks?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): void;
}

export interface Clock {
  now(): number;
  setTimeout(cb: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (cb, ms) => setTimeout(cb, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class TraitWriter<T> {
  /** true while our own model.set runs, so change handlers can tell our echo from the kernel */
  writing = false;
  private lastSentAt = -Infinity;
  private pending: { value: T } | null = null;
  private timer: unknown = null;

  constructor(
    private readonly model: Model,
    private readonly name: string,
    private readonly intervalMs = 150,
    private readonly clock: Clock = realClock,
  ) {}

  /** Write now if the last write is old enough, else keep the latest value for the trailing write. */
  write(value: T): void {
    const wait = this.lastSentAt + this.intervalMs - this.clock.now();
    if (wait <= 0 && this.timer === null) {
      this.commit(value);
      return;
    }
    this.pending = { value };
    if (this.timer === null) {
      this.timer = this.clock.setTimeout(() => {
        this.timer = null;
        this.flush();
      }, Math.max(0, wait));
    }
  }

  flush(): void {
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer);
      this.timer = null;
    }
    const p = this.pending;
    this.pending = null;
    if (p) this.commit(p.value);
  }

  /** Drop a pending write (the kernel or a cell set the trait meanwhile; theirs wins). */
  cancel(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
  }

  get hasPending(): boolean {
    return this.pending !== null;
  }

  /** The value the model will hold once the pending write lands, else what it holds. */
  value(): T {
    return this.pending ? this.pending.value : (this.model.get(this.name) as T);
  }

  private commit(value: T): void {
    this.lastSentAt = this.clock.now();
    this.writing = true;
    try {
      this.model.set(this.name, value);
      this.model.save_changes();
    } finally {
      this.writing = false;
    }
  }
}

/** The model's traits as the view uses them: reads that see values still being throttled,
 *  throttled writes, and change listeners that do not hear the view's own writes. */
export class Traits {
  private readonly writers = new Map<string, TraitWriter<unknown>>();
  private readonly offs: (() => void)[] = [];

  constructor(
    readonly model: Model,
    /** trait -> minimum ms between writes (0: every write goes at once) */
    intervals: Record<string, number>,
    clock: Clock = realClock,
  ) {
    for (const [name, ms] of Object.entries(intervals)) this.writers.set(name, new TraitWriter(model, name, ms, clock));
  }

  get(name: string): any {
    const w = this.writers.get(name);
    return w ? w.value() : this.model.get(name);
  }

  write(name: string, value: unknown): void {
    const w = this.writers.get(name);
    if (!w) throw new Error(`trait ${name} is not writable from the view`);
    w.write(value);
  }

  /** Send a throttled value now (a held key was released). */
  flush(name: string): void {
    this.writers.get(name)?.flush();
  }

  /** Drop a throttled value: the kernel or a cell set the trait meanwhile. */
  cancel(name: string): void {
    this.writers.get(name)?.cancel();
  }

  /** Call `cb` when any of the traits changes, except by the view's own write. */
  on(names: string[], cb: () => void): void {
    for (const name of names) {
      const writer = this.writers.get(name);
      const handler = () => {
        if (!writer?.writing) cb();
      };
      this.model.on(`change:${name}`, handler);
      this.offs.push(() => this.model.off(`change:${name}`, handler));
    }
  }

  onMessage(cb: (msg: unknown, buffers?: unknown[]) => void): void {
    this.model.on("msg:custom", cb);
    this.offs.push(() => this.model.off("msg:custom", cb));
  }

  /** Land pending writes, stop listening. */
  dispose(): void {
    for (const w of this.writers.values()) w.flush();
    for (const off of this.offs.splice(0)) off();
  }
}
