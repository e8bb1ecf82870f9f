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
