import { afterEach, describe, expect, it, vi } from "vitest";
import { Client, RequestError, toBytes, type Json } from "./client";

function setup(timeoutMs = 1000) {
  const sent: Json[] = [];
  const client = new Client((c) => sent.push(c), { timeoutMs });
  return { sent, client };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("Client", () => {
  it("sends kind, a fresh id and the fields", () => {
    const { sent, client } = setup();
    void client.request("frames", { start: 0, stop: 8 });
    void client.request("undo");
    expect(sent[0]).toMatchObject({ kind: "frames", start: 0, stop: 8 });
    expect(typeof sent[0]!.id).toBe("number");
    expect(sent[1]!.id).not.toBe(sent[0]!.id);
    expect(client.inFlight).toBe(2);
  });

  it("matches out-of-order replies to their requests by id", async () => {
    const { sent, client } = setup();
    const a = client.request("frames", { start: 0, stop: 1 });
    const b = client.request("frames", { start: 1, stop: 2 });
    client.handleMessage({ kind: "reply", id: sent[1]!.id, ok: true, which: "b" }, []);
    client.handleMessage({ kind: "reply", id: sent[0]!.id, ok: true, which: "a" }, []);
    expect((await a).content.which).toBe("a");
    expect((await b).content.which).toBe("b");
    expect(client.inFlight).toBe(0);
  });

  it("rejects ok:false replies with the kernel's message", async () => {
    const { sent, client } = setup();
    const p = client.request("erase", { entity: "x", start: 0, stop: 1 });
    client.handleMessage({ kind: "reply", id: sent[0]!.id, ok: false, error: "busy: propagate" });
    await expect(p).rejects.toThrow("busy: propagate");
    await expect(p).rejects.toBeInstanceOf(RequestError);
  });

  it("hands DataView, ArrayBuffer and typed-array buffers over as bytes of the right window", async () => {
    const { sent, client } = setup();
    const p = client.request("frames");
    const backing = new Uint8Array([9, 1, 2, 3, 9]).buffer;
    client.handleMessage({ kind: "reply", id: sent[0]!.id, ok: true }, [
      new DataView(backing, 1, 3),
      new Uint8Array([4, 5]).buffer,
      new Uint16Array([0x0201]),
    ]);
    const r = await p;
    expect(Array.from(r.buffers[0]!)).toEqual([1, 2, 3]);
    expect(Array.from(r.buffers[1]!)).toEqual([4, 5]);
    expect(r.buffers[2]!.length).toBe(2);
    expect(() => toBytes("nope")).toThrow(TypeError);
  });

  it("ignores replies to ids it did not send (another view's) and duplicate replies", async () => {
    const { sent, client } = setup();
    const p = client.request("undo");
    expect(client.handleMessage({ kind: "reply", id: 987654, ok: true })).toBe(false);
    expect(client.handleMessage({ kind: "reply", id: sent[0]!.id, ok: true, done: true })).toBe(true);
    expect(client.handleMessage({ kind: "reply", id: sent[0]!.id, ok: false, error: "late" })).toBe(false);
    expect((await p).content.done).toBe(true);
  });

  it("passes events to listeners and unreadable-message errors to the orphan listener", () => {
    const { client } = setup();
    const events: Json[] = [];
    const orphans: string[] = [];
    client.onEvent((m) => events.push(m));
    client.onOrphanError((e) => orphans.push(e));
    client.handleMessage({ kind: "changed", sequence: "s", frames: [1], revision: 3 });
    client.handleMessage({ kind: "reply", id: null, ok: false, error: "message.id: expected an integer" });
    client.handleMessage(null);
    expect(events).toEqual([{ kind: "changed", sequence: "s", frames: [1], revision: 3 }]);
    expect(orphans).toEqual(["message.id: expected an integer"]);
  });

  it("times out a request that gets no reply, and a late reply is then ignored", async () => {
    vi.useFakeTimers();
    const { sent, client } = setup(500);
    const p = client.request("frames");
    const caught = p.catch((e: RequestError) => e);
    vi.advanceTimersByTime(501);
    const err = await caught;
    expect(err).toBeInstanceOf(RequestError);
    expect((err as RequestError).reason).toBe("timeout");
    expect(client.handleMessage({ kind: "reply", id: sent[0]!.id, ok: true })).toBe(false);
  });

  it("a per-request timeout of 0 waits forever (propagation replies when the run ends)", async () => {
    vi.useFakeTimers();
    const { sent, client } = setup(500);
    const p = client.request("propagate", {}, { timeoutMs: 0 });
    vi.advanceTimersByTime(60_000);
    client.handleMessage({ kind: "reply", id: sent[0]!.id, ok: true, frames: 10 });
    expect((await p).content.frames).toBe(10);
  });

  it("dispose rejects pending and later requests", async () => {
    const { client } = setup();
    const p = client.request("undo");
    client.dispose();
    await expect(p).rejects.toThrow(/closed/);
    await expect(client.request("redo")).rejects.toThrow(/closed/);
  });
});
