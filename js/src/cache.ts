// A least-recently-used map bounded by the bytes its values hold (decoded frames are
// ~1.6 MB each at 854x480, so a count bound would be wrong by orders of magnitude
// between sequences of different sizes).

export class LruCache<K, V> {
  private readonly map = new Map<K, { value: V; bytes: number }>();
  private total = 0;

  /** `onEvict` runs for every value that leaves the cache (evicted, replaced, deleted, cleared),
   *  so owners can release what the value holds (e.g. ImageBitmap.close()). */
  constructor(
    public budget: number,
    private readonly onEvict?: (key: K, value: V) => void,
  ) {}

  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.map.size;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Read and mark as most recently used. */
  get(key: K): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  /** Read without touching the recency order (prefetch checks must not keep frames alive). */
  peek(key: K): V | undefined {
    return this.map.get(key)?.value;
  }

  /** Insert or replace; evicts the least recently used entries until the total fits the budget.
   *  A value larger than the whole budget is still kept alone (the frame on screen must stay). */
  set(key: K, value: V, bytes: number): void {
    const old = this.map.get(key);
    if (old) {
      this.map.delete(key);
      this.total -= old.bytes;
      if (old.value !== value) this.onEvict?.(key, old.value);
    }
    this.map.set(key, { value, bytes });
    this.total += bytes;
    this.trim(key);
  }

  delete(key: K): boolean {
    const e = this.map.get(key);
    if (!e) return false;
    this.map.delete(key);
    this.total -= e.bytes;
    this.onEvict?.(key, e.value);
    return true;
  }

  clear(): void {
    const entries = [...this.map];
    this.map.clear();
    this.total = 0;
    for (const [k, e] of entries) this.onEvict?.(k, e.value);
  }

  keys(): K[] {
    return [...this.map.keys()];
  }

  /** Evict oldest-first until within budget, never the entry just written. */
  private trim(keep: K): void {
    for (const [k, e] of this.map) {
      if (this.total <= this.budget) break;
      if (k === keep) continue;
      this.map.delete(k);
      this.total -= e.bytes;
      this.onEvict?.(k, e.value);
    }
  }
}
