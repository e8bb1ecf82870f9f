import { describe, expect, it } from "vitest";
import { LruCache } from "./cache";

describe("LruCache", () => {
  it("evicts least recently used entries once the bytes exceed the budget", () => {
    const evicted: string[] = [];
    const c = new LruCache<string, number>(100, (k) => evicted.push(k));
    c.set("a", 1, 40);
    c.set("b", 2, 40);
    c.get("a"); // a is now newer than b
    c.set("c", 3, 40);
    expect(evicted).toEqual(["b"]);
    expect(c.keys()).toEqual(["a", "c"]);
    expect(c.bytes).toBe(80);
  });

  it("peek does not refresh recency", () => {
    const c = new LruCache<string, number>(80);
    c.set("a", 1, 40);
    c.set("b", 2, 40);
    expect(c.peek("a")).toBe(1);
    c.set("c", 3, 40);
    expect(c.has("a")).toBe(false);
    expect(c.has("b")).toBe(true);
  });

  it("evicts several small entries for one big one, but keeps an entry bigger than the budget", () => {
    const evicted: string[] = [];
    const c = new LruCache<string, number>(100, (k) => evicted.push(k));
    for (const k of ["a", "b", "c", "d"]) c.set(k, 0, 25);
    c.set("big", 0, 90);
    expect(evicted).toEqual(["a", "b", "c", "d"]);
    c.set("huge", 0, 500);
    expect(c.keys()).toEqual(["huge"]);
    expect(c.bytes).toBe(500);
  });

  it("replacing a key updates its size and releases the old value", () => {
    const released: number[] = [];
    const c = new LruCache<string, number>(100, (_k, v) => released.push(v));
    c.set("a", 1, 10);
    c.set("a", 2, 30);
    expect(c.bytes).toBe(30);
    expect(released).toEqual([1]);
    expect(c.get("a")).toBe(2);
  });

  it("delete and clear release values and reset the byte count", () => {
    const released: number[] = [];
    const c = new LruCache<string, number>(100, (_k, v) => released.push(v));
    c.set("a", 1, 10);
    c.set("b", 2, 20);
    expect(c.delete("a")).toBe(true);
    expect(c.delete("a")).toBe(false);
    expect(c.bytes).toBe(20);
    c.clear();
    expect(released).toEqual([1, 2]);
    expect(c.bytes).toBe(0);
    expect(c.size).toBe(0);
  });
});
