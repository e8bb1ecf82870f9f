// Request/reply over the widget's custom messages (protocol.md): every request carries an
// id, the kernel answers exactly once with {kind: "reply", id, ok, ...}; anything else that
// arrives (e.g. `changed`) is an event.

export type Json = Record<string, unknown>;

export interface Reply {
  content: Json;
  /** The reply's binary buffers as bytes, whatever view type the transport handed us. */
  buffers: Uint8Array[];
}

/** The kernel refused a request (`ok: false`), or it timed out, or the view went away. */
export class RequestError extends Error {
  constructor(
    message: string,
    readonly kind: string,
    readonly reason: "refused" | "timeout" | "closed",
  ) {
    super(message);
    this.name = "RequestError";
  }
}

/** Normalise one transport buffer: ipywidgets hands DataViews, others ArrayBuffers or typed arrays. */
export function toBytes(b: unknown): Uint8Array {
  if (b instanceof Uint8Array) return b;
  if (b instanceof ArrayBuffer) return new Uint8Array(b);
  if (ArrayBuffer.isView(b)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  throw new TypeError(`unexpected message buffer: ${Object.prototype.toString.call(b)}`);
}

// Ids are unique across every view on the page: all views of one model receive every reply.
let nextId = 0;

interface Pending {
  kind: string;
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout> | null;
}

export interface ClientOptions {
  /** Default timeout per request in ms; 0 disables. */
  timeoutMs?: number;
}

export class Client {
  private readonly pending = new Map<number, Pending>();
  private readonly eventListeners = new Set<(msg: Json) => void>();
  private readonly orphanListeners = new Set<(error: string) => void>();
  private closed = false;
  private readonly timeoutMs: number;

  constructor(
    private readonly send: (content: Json, buffers?: ArrayBuffer[]) => void,
    options: ClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Send `{kind, id, ...fields}`; resolves with the `ok: true` reply, rejects on `ok: false`. */
  request(kind: string, fields: Json = {}, options: { timeoutMs?: number } = {}): Promise<Reply> {
    if (this.closed) return Promise.reject(new RequestError("the widget view is closed", kind, "closed"));
    const id = nextId++;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return new Promise<Reply>((resolve, reject) => {
      const entry: Pending = { kind, resolve, reject, timer: null };
      if (timeoutMs > 0) {
        entry.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new RequestError(`${kind}: no reply from the kernel after ${timeoutMs / 1000} s`, kind, "timeout"));
        }, timeoutMs);
      }
      this.pending.set(id, entry);
      try {
        this.send({ ...fields, kind, id });
      } catch (e) {
        this.settle(id);
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  /** Feed every `msg:custom` here. Returns true when the message was one of our replies. */
  handleMessage(msg: unknown, buffers?: readonly unknown[] | null): boolean {
    if (typeof msg !== "object" || msg === null) return false;
    const m = msg as Json;
    if (m.kind !== "reply") {
      for (const cb of this.eventListeners) cb(m);
      return false;
    }
    if (m.id === null || m.id === undefined) {
      // The kernel could not read some message at all; nobody can be matched, say it anyway.
      if (m.ok === false) for (const cb of this.orphanListeners) cb(String(m.error ?? "unreadable message"));
      return false;
    }
    if (typeof m.id !== "number") return false;
    const entry = this.settle(m.id);
    if (!entry) return false; // another view's request, or one that timed out
    if (m.ok === true) {
      entry.resolve({ content: m, buffers: (buffers ?? []).map(toBytes) });
    } else {
      entry.reject(new RequestError(String(m.error ?? `${entry.kind} failed`), entry.kind, "refused"));
    }
    return true;
  }

  onEvent(cb: (msg: Json) => void): () => void {
    this.eventListeners.add(cb);
    return () => this.eventListeners.delete(cb);
  }

  onOrphanError(cb: (error: string) => void): () => void {
    this.orphanListeners.add(cb);
    return () => this.orphanListeners.delete(cb);
  }

  /** Reject everything pending; later requests reject at once. */
  dispose(): void {
    this.closed = true;
    for (const id of [...this.pending.keys()]) {
      const entry = this.settle(id);
      entry?.reject(new RequestError("the widget view is closed", entry.kind, "closed"));
    }
    this.eventListeners.clear();
    this.orphanListeners.clear();
  }

  private settle(id: number): Pending | undefined {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    if (entry.timer !== null) clearTimeout(entry.timer);
    return entry;
  }
}
