import { describe, expect, it } from "vitest";
import { PromptSession, type PromptFields } from "./prompts";

function rig() {
  const sent: { fields: PromptFields; resolve: () => void; reject: (e: Error) => void }[] = [];
  let changes = 0;
  const s = new PromptSession(
    7,
    "e1",
    (fields) => new Promise<void>((resolve, reject) => sent.push({ fields, resolve, reject })),
    () => changes++,
  );
  const flush = () => new Promise((r) => setTimeout(r, 0));
  return { s, sent, flush, changes: () => changes };
}

describe("PromptSession", () => {
  it("the first request clears, later ones add, one at a time in order", async () => {
    const r = rig();
    r.s.addPoint(10, 20, 1);
    r.s.addPoint(30, 40, 0);
    expect(r.sent).toHaveLength(1);
    expect(r.sent[0]!.fields).toEqual({ frame: 7, entity: "e1", points: [[10, 20]], labels: [1], box: null, clear: true });
    r.sent[0]!.resolve();
    await r.flush();
    expect(r.sent).toHaveLength(2);
    expect(r.sent[1]!.fields).toMatchObject({ points: [[30, 40]], labels: [0], clear: false });
    expect(r.s.marks.map((m) => m.label)).toEqual([1, 0]);
  });

  it("a box is sent as its own prompt and shown", async () => {
    const r = rig();
    r.s.addBox([1, 2, 3, 4]);
    expect(r.sent[0]!.fields).toMatchObject({ points: [], labels: [], box: [1, 2, 3, 4], clear: true });
    expect(r.s.box).toEqual([1, 2, 3, 4]);
  });

  it("a refused first request drops its mark and the next one clears again", async () => {
    const r = rig();
    r.s.addPoint(1, 1, 1);
    r.sent[0]!.reject(new Error("busy"));
    await r.flush();
    expect(r.s.marks).toEqual([]);
    r.s.addPoint(2, 2, 1);
    expect(r.sent[1]!.fields.clear).toBe(true);
  });

  it("closing drops what is queued", async () => {
    const r = rig();
    r.s.addPoint(1, 1, 1);
    r.s.addPoint(2, 2, 1);
    r.s.close();
    r.sent[0]!.resolve();
    await r.flush();
    expect(r.sent).toHaveLength(1);
    r.s.addPoint(3, 3, 1);
    expect(r.sent).toHaveLength(1);
  });
});
