// @vitest-environment jsdom
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Surface } from "./compositor";
import { AnnotatorView } from "./view";

type Cb = (...args: any[]) => void;
const enc = (s: string) => new TextEncoder().encode(s);

/** The anywidget model as the view sees it, plus a stand-in kernel that answers `frames`. */
class FakeModel {
  attrs: Record<string, any>;
  handlers = new Map<string, Set<Cb>>();
  sent: Record<string, any>[] = [];
  autoFrames = true;
  /** boxes the stand-in kernel sends with each frame */
  boxesFor: (frame: number) => any[] = () => [];
  constructor(over: Record<string, any> = {}) {
    this.attrs = {
      sequence: "s1",
      sequences: [{ id: "s1", name: "bear", num_frames: 50 }],
      info: { name: "bear", num_frames: 50, width: 5, height: 4, fps: 24 },
      frame: 0,
      entity: "",
      entities: [
        { id: "e1", name: "bear", category: "animal", color: "#ff0000", index: 1 },
        { id: "e2", name: "ball", category: "", color: "#00ff00", index: 2 },
      ],
      tracks: { e1: { tracklets: [[0, 10]], keyframes: [0, 5] }, e2: { tracklets: [], keyframes: [] } },
      tool: "point",
      opacity: 0.5,
      outline: false,
      hidden: [],
      engine_name: "flow",
      busy: "",
      progress: { running: false, done: 0, total: 0, label: "", cancelled: false },
      error: "",
      can_undo: false,
      can_redo: false,
      undo_label: "",
      redo_label: "",
      revision: 1,
      ...over,
    };
  }
  get(n: string) {
    return this.attrs[n];
  }
  set(n: string, v: any) {
    const old = this.attrs[n];
    this.attrs[n] = v;
    if (old !== v) this.emit(`change:${n}`);
  }
  save_changes() {}
  on(ev: string, cb: Cb) {
    if (!this.handlers.has(ev)) this.handlers.set(ev, new Set());
    this.handlers.get(ev)!.add(cb);
  }
  off(ev?: string | null, cb?: Cb | null) {
    if (ev && cb) this.handlers.get(ev)?.delete(cb);
  }
  emit(ev: string, ...args: any[]) {
    for (const cb of [...(this.handlers.get(ev) ?? [])]) cb(...args);
  }
  send(content: Record<string, any>) {
    this.sent.push(content);
    if (content.kind === "frames" && this.autoFrames) queueMicrotask(() => this.answerFrames(content));
  }
  answerFrames(c: Record<string, any>, revision = 1) {
    const buffers: Uint8Array[] = [];
    const items = [];
    for (let f = c.start; f < c.stop; f++) {
      let image = null;
      if (c.images) {
        image = buffers.length;
        buffers.push(new Uint8Array([f]));
      }
      const counts = buffers.length;
      buffers.push(enc("5220003"));
      const masks = [{ entity: "e1", height: 4, width: 5, counts, source: "prompt", score: 1, keyframe: false }];
      items.push({ frame: f, image, mime: "image/jpeg", masks, boxes: this.boxesFor(f) });
    }
    const dv = buffers.map((b) => new DataView(b.buffer, b.byteOffset, b.byteLength));
    this.reply(c.id, { sequence: this.attrs.sequence, revision, items }, dv);
  }
  reply(id: number, content: Record<string, any>, buffers: unknown[] = []) {
    this.emit("msg:custom", { kind: "reply", id, ok: true, ...content }, buffers);
  }
  fail(id: number, error: string) {
    this.emit("msg:custom", { kind: "reply", id, ok: false, error });
  }
  /** the kernel setting a trait (not our echo) */
  kernelSet(n: string, v: any) {
    this.set(n, v);
  }
  last(kind: string): Record<string, any> {
    return [...this.sent].reverse().find((m) => m.kind === kind) as Record<string, any>;
  }
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
};

const surfaces = (): Surface => ({ source: {} as CanvasImageSource, put: () => {} });

let views: AnnotatorView[] = [];
function mount(over: Record<string, any> = {}) {
  const model = new FakeModel(over);
  const el = document.createElement("div");
  document.body.appendChild(el);
  const view = new AnnotatorView(model as any, el, {
    decode: async (bytes) => ({ width: 5, height: 4, frame: bytes[0] }) as any,
    surfaces,
  });
  views.push(view);
  const root = el.querySelector(".vidlabel-annotator") as HTMLElement;
  const q = <T extends Element = HTMLElement>(sel: string) => root.querySelector(sel) as T;
  const key = (key: string, init: KeyboardEventInit = {}, target: Element = root) => {
    const e = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...init });
    target.dispatchEvent(e);
    target.dispatchEvent(new KeyboardEvent("keyup", { key, bubbles: true, cancelable: true, ...init }));
    return e;
  };
  return { model, view, root, q, key, el };
}

beforeAll(() => {
  // jsdom has no canvas: the view must cope with a null context
  HTMLCanvasElement.prototype.getContext = (() => null) as any;
});

afterEach(() => {
  for (const v of views) v.dispose();
  views = [];
  document.body.replaceChildren();
});

describe("AnnotatorView (jsdom, fake model)", () => {
  it("builds the documented structure and hooks", () => {
    const { root, q } = mount();
    expect(root.tabIndex).toBe(0);
    expect(root.getAttribute("data-lm-suppress-shortcuts")).toBe("true");
    expect(root.dataset.sequence).toBe("s1");
    expect(q(".vl-canvas").hasAttribute("data-jp-suppress-context-menu")).toBe(true);
    expect(q<HTMLInputElement>(".vl-scrubber").type).toBe("range");
    expect(q<HTMLInputElement>(".vl-scrubber").max).toBe("49");
    expect(q(".vl-frame-label").textContent).toBe("0 / 49");
    expect(root.querySelectorAll(".vl-entity[data-entity]")).toHaveLength(2);
    expect(root.querySelectorAll(".vl-entity .vl-eye")).toHaveLength(2);
    expect(root.querySelectorAll(".vl-track[data-entity]")).toHaveLength(2);
    expect(root.querySelectorAll(".vl-propagate[data-direction]")).toHaveLength(3);
    expect(root.querySelectorAll(".vl-tool[data-tool]")).toHaveLength(3);
    for (const cls of ["vl-find", "vl-find-text", "vl-find-scope", "vl-find-ok", "vl-tool-bbox", "vl-box-from-mask", "vl-mask-from-box", "vl-remove-box", "vl-menu", "vl-attrs", "vl-play", "vl-prev", "vl-next", "vl-prev-key", "vl-next-key", "vl-cancel", "vl-undo", "vl-redo", "vl-erase", "vl-erase-range", "vl-delete-entity", "vl-add-entity", "vl-help", "vl-opacity", "vl-outline", "vl-progress", "vl-error", "vl-help-overlay", "vl-sequence"])
      expect(q(`.${cls}`), cls).not.toBeNull();
    expect(q(".vl-sequence").hidden).toBe(true);
    expect(q<HTMLInputElement>(".vl-find-text").disabled).toBe(true); // the flow engine cannot find
    expect(q(".vl-find").title).toContain('vl.segment.load("sam3"');
    expect(window.__vidlabel!.some((h) => h.el === root)).toBe(true);
  });

  it("shows the sequence picker with more than one sequence and writes the choice", () => {
    const { q, model } = mount({ sequences: [{ id: "s1", name: "bear", num_frames: 50 }, { id: "s2", name: "car", num_frames: 9 }] });
    const sel = q<HTMLSelectElement>(".vl-sequence");
    expect(sel.hidden).toBe(false);
    sel.value = "s2";
    sel.dispatchEvent(new Event("change"));
    expect(model.attrs.sequence).toBe("s2");
  });

  it("asks for the current frame alone first and paints it with its overlay", async () => {
    const { model, root } = mount({ frame: 12 });
    const first = model.sent.find((m) => m.kind === "frames")!;
    expect(first).toMatchObject({ start: 12, stop: 13, images: true, masks: true });
    await flush();
    expect(root.dataset.frame).toBe("12");
    expect(root.dataset.painted).toBe("1");
    const hook = window.__vidlabel!.find((h) => h.el === root)!;
    expect(hook.paints.map((p) => p.frame)).toEqual([12]);
    // then the prefetch window
    expect(model.sent.filter((m) => m.kind === "frames").length).toBeGreaterThan(1);
  });

  it("arrow keys step, are swallowed, and write the frame trait", async () => {
    const { model, root, key, q, el } = mount();
    await flush();
    let leaked = 0;
    el.parentElement!.addEventListener("keydown", () => leaked++);
    const e = key("ArrowRight");
    expect(e.defaultPrevented).toBe(true);
    expect(leaked).toBe(0);
    expect(model.attrs.frame).toBe(1);
    expect(q(".vl-frame-label").textContent).toBe("1 / 49");
    await flush();
    expect(root.dataset.frame).toBe("1");
    key("End");
    expect(q<HTMLInputElement>(".vl-scrubber").value).toBe("49");
    key("Home");
    expect(q<HTMLInputElement>(".vl-scrubber").value).toBe("0");
    key("D", { shiftKey: true });
    expect(q<HTMLInputElement>(".vl-scrubber").value).toBe("10");
  });

  it("typing in its own inputs does not trigger shortcuts", () => {
    const { key, q } = mount();
    key("e");
    const name = q<HTMLInputElement>(".vl-entity-name");
    expect(name.closest("form")!.hidden).toBe(false);
    let leaked = 0;
    document.body.addEventListener("keydown", () => leaked++);
    const e = key("d", {}, name);
    expect(e.defaultPrevented).toBe(false);
    expect(q(".vl-frame-label").textContent).toBe("0 / 49");
    key("Enter", {}, name);
    expect(leaked).toBe(0); // JupyterLab never sees keys typed into our fields
  });

  it("the find box: its keys are its own, Enter sends find on this frame, it waits while busy, the answer shows", async () => {
    const { model, key, q } = mount({ frame: 7, engine_name: "sam3", can_find: true });
    await flush();
    expect([q(".vl-find").hidden, q<HTMLInputElement>(".vl-find-text").disabled]).toEqual([false, false]);
    const input = q<HTMLInputElement>(".vl-find-text");
    const ok = q<HTMLButtonElement>(".vl-find-ok");
    expect(q<HTMLSelectElement>(".vl-find-scope").value).toBe("frame");
    let leaked = 0;
    document.body.addEventListener("keydown", () => leaked++);
    for (const k of ["d", "p", "e", "n", "y", "Delete", " ", "1", "ArrowRight"]) expect(key(k, {}, input).defaultPrevented, k).toBe(false);
    expect(q(".vl-frame-label").textContent).toBe("7 / 49");
    for (const kind of ["propagate", "erase", "mark_reviewed", "find"]) expect(model.last(kind), kind).toBeUndefined();
    expect(q(".vl-entity-form").hidden).toBe(true);
    expect(model.attrs.entity).toBe("");
    expect(ok.disabled).toBe(true); // nothing typed yet
    input.value = "dog";
    input.dispatchEvent(new Event("input"));
    key("Enter", {}, input);
    expect(leaked).toBe(0);
    const sent = model.last("find");
    expect(sent).toMatchObject({ kind: "find", text: "dog", scope: "frame", frame: 7 });
    expect(ok.disabled).toBe(true); // its request is on the way
    key("Enter", {}, input);
    expect(model.sent.filter((m) => m.kind === "find")).toHaveLength(1);
    model.kernelSet("busy", "find");
    expect(q(".vl-status").textContent).toBe("find…");
    model.kernelSet("busy", "");
    expect(ok.disabled).toBe(true); // until the answer
    model.reply(sent.id, { text: "dog", frame: 7, scope: "frame", entities: [], new: 0, matched: 0, message: "no 'dog' found on frame 7" });
    await flush();
    expect(q(".vl-status").textContent).toBe("no 'dog' found on frame 7");
    expect(ok.disabled).toBe(false);
    model.kernelSet("busy", "prompt"); // the kernel busy with something else: the button waits too
    expect(ok.disabled).toBe(true);
  });

  it("find over the video: the run shows, Esc cancels it, found entities land in the list and bars; a refusal shows", async () => {
    const { model, key, q, root } = mount({ frame: 3, engine_name: "sam3", can_find: true });
    await flush();
    const input = q<HTMLInputElement>(".vl-find-text");
    input.value = "person";
    input.dispatchEvent(new Event("input"));
    q<HTMLSelectElement>(".vl-find-scope").value = "video";
    q<HTMLButtonElement>(".vl-find-ok").click();
    const sent = model.last("find");
    expect(sent).toMatchObject({ text: "person", scope: "video", frame: 3 });
    expect(q(".vl-status").textContent).toBe("finding 'person'…");
    model.kernelSet("busy", "find");
    model.kernelSet("progress", { running: true, done: 0, total: 0, label: "sam3: finding 'person' on frame 3", cancelled: false });
    expect(q(".vl-progress-label").textContent).toBe("sam3: finding 'person' on frame 3…");
    // the found entities land as any edit's do: the entity list, then their bars' patch
    model.autoFrames = false; // (the stand-in kernel would answer frame 3's masks at an older revision)
    const entities = [...model.attrs.entities, { id: "e3", name: "3", category: "person", color: "#0000ff", index: 3 }];
    model.kernelSet("entities", entities);
    model.emit("msg:custom", { kind: "changed", sequence: "s1", frames: [3], revision: 2, tracks: { e3: { tracklets: [[3, 3]], keyframes: [3] } } });
    expect(root.querySelector('.vl-entity[data-entity="e3"]')).not.toBeNull();
    expect(root.querySelector('.vl-track[data-entity="e3"]')).not.toBeNull();
    model.kernelSet("progress", { running: true, done: 2, total: 10, label: "sam3: find and track 'person' both ways from frame 3", cancelled: false });
    expect(q<HTMLProgressElement>(".vl-progress").value).toBe(2);
    expect(q(".vl-progress-label").textContent).toBe("sam3: find and track 'person' both ways from frame 3 2/10");
    expect(q<HTMLButtonElement>(".vl-find-ok").disabled).toBe(true);
    key("Escape", {}, input); // Esc in the text cancels the run
    expect(model.last("cancel")).toBeDefined();
    model.kernelSet("progress", { running: false, done: 3, total: 10, label: "sam3: find and track 'person' both ways from frame 3", cancelled: true });
    model.kernelSet("busy", "");
    const message = "found 1 'person' on frame 3: 1 new; tracking cancelled after 3 frames";
    model.reply(sent.id, { entities: ["e3"], new: 1, matched: 0, frames: 3, cancelled: true, message });
    await flush();
    expect(q(".vl-status").textContent).toBe(message);
    expect(q(".vl-progress-label").textContent).toContain("(cancelled)");
    // a refusal (an engine that cannot find) goes to the banner; the box is usable again
    key("Enter", {}, input);
    const refused = model.last("find");
    expect(refused.id).not.toBe(sent.id);
    model.fail(refused.id, "find: the 'flow' engine cannot find objects from a text; load the 'sam3' engine for that");
    await flush();
    expect(q(".vl-error").hidden).toBe(false);
    expect(q(".vl-error").textContent).toContain("load the 'sam3' engine");
    expect(q(".vl-status").textContent).toBe("");
    expect(q<HTMLButtonElement>(".vl-find-ok").disabled).toBe(false);
  });

  it("the find box is usable only while the engine can find; disabled, it says what to load and sends nothing", async () => {
    const { model, key, q } = mount({ can_find: false });
    await flush();
    const box = q<HTMLFormElement>(".vl-find");
    const input = q<HTMLInputElement>(".vl-find-text");
    expect([box.hidden, input.disabled, q<HTMLButtonElement>(".vl-find-ok").disabled]).toEqual([false, true, true]);
    expect(input.placeholder).toBe("find: needs sam3");
    expect(input.title).toContain('vl.segment.load("sam3", ...)');
    input.value = "dog";
    input.dispatchEvent(new Event("input"));
    key("Enter", {}, input);
    box.requestSubmit();
    expect(model.last("find")).toBeUndefined();
    model.kernelSet("can_find", true);
    expect([input.disabled, input.placeholder]).toEqual([false, "find… (e.g. dog)"]);
    key("Enter", {}, input);
    expect(model.last("find")).toMatchObject({ text: "dog", scope: "frame", frame: 0 });
  });

  it("follows the kernel's frame and sequence changes", async () => {
    const { model, q, root } = mount({ info: { name: "bear", num_frames: 500, width: 5, height: 4, fps: 24 } });
    await flush();
    model.kernelSet("frame", 300);
    expect(q<HTMLInputElement>(".vl-scrubber").value).toBe("300");
    expect(model.sent.some((m) => m.kind === "frames" && m.start === 300 && m.stop === 301)).toBe(true);
    await flush();
    expect(root.dataset.frame).toBe("300");
    model.attrs.sequence = "s2";
    model.kernelSet("info", { name: "car", num_frames: 9, width: 5, height: 4, fps: 10 });
    model.kernelSet("frame", 0);
    await flush();
    expect(root.dataset.sequence).toBe("s2");
    expect(q(".vl-frame-label").textContent).toBe("0 / 8");
  });

  it("shows kernel errors and refused replies; dismiss clears the trait", async () => {
    const { model, q } = mount();
    model.kernelSet("error", "erase: no such entity");
    expect(q(".vl-error").hidden).toBe(false);
    expect(q(".vl-error").textContent).toContain("no such entity");
    q<HTMLButtonElement>(".vl-error-dismiss").click();
    expect(model.attrs.error).toBe("");
    expect(q(".vl-error").hidden).toBe(true);
    q<HTMLButtonElement>(".vl-undo").disabled = false;
    q<HTMLButtonElement>(".vl-undo").click();
    model.fail(model.last("undo").id, "nothing to undo");
    await flush();
    expect(q(".vl-error").textContent).toContain("nothing to undo");
  });

  it("shows the newest error: a kernel error after a local one replaces it", async () => {
    const { model, q } = mount();
    model.emit("msg:custom", { kind: "reply", id: null, ok: false, error: "message: expected a JSON object" });
    await flush();
    expect(q(".vl-error").textContent).toContain("expected a JSON object");
    model.kernelSet("error", "prompt.frame: frame 999 is out of range");
    expect(q(".vl-error").textContent).toContain("frame 999 is out of range");
    expect(q(".vl-error").textContent).not.toContain("JSON object");
  });

  it("a click on the frame sends a positive point in image pixels; the next one adds to it", async () => {
    const { model, q } = mount({ entity: "e1" });
    await flush();
    const canvas = q(".vl-canvas");
    const click = (x: number, y: number, button = 0, extra: MouseEventInit = {}) => {
      canvas.dispatchEvent(new MouseEvent("pointerdown", { button, clientX: x, clientY: y, bubbles: true, ...extra }));
      canvas.dispatchEvent(new MouseEvent("pointerup", { button, clientX: x, clientY: y, bubbles: true, ...extra }));
    };
    click(2, 1);
    const p1 = model.last("prompt");
    expect(p1).toMatchObject({ frame: 0, entity: "e1", points: [[2, 1]], labels: [1], box: null, clear: true });
    model.reply(p1.id, { frame: 0, entity: "e1", score: 0.9 });
    await flush();
    click(3, 2, 2); // right button: negative
    const p2 = model.last("prompt");
    expect(p2).toMatchObject({ points: [[3, 2]], labels: [0], clear: false });
    const ctx = new MouseEvent("contextmenu", { bubbles: true, cancelable: true });
    canvas.dispatchEvent(ctx);
    expect(ctx.defaultPrevented).toBe(true);
    click(9, 9); // outside the 5x4 frame: ignored
    expect(model.sent.filter((m) => m.kind === "prompt")).toHaveLength(2);
  });

  it("a click with no entity selected creates one first, then prompts it", async () => {
    const { model } = mount();
    await flush();
    const canvas = document.querySelector(".vl-canvas")!;
    canvas.dispatchEvent(new MouseEvent("pointerdown", { button: 0, clientX: 1, clientY: 1, bubbles: true }));
    canvas.dispatchEvent(new MouseEvent("pointerup", { button: 0, clientX: 1, clientY: 1, bubbles: true }));
    const add = model.last("add_entity");
    expect(add).toBeDefined();
    expect(model.last("prompt")).toBeUndefined();
    model.reply(add.id, { entity: "e9" });
    await flush();
    expect(model.last("prompt")).toMatchObject({ entity: "e9", points: [[1, 1]], clear: true });
    expect(model.attrs.entity).toBe("e9");
  });

  it("a drag sends a box", async () => {
    const { model, q } = mount({ entity: "e2" });
    await flush();
    const canvas = q(".vl-canvas");
    canvas.dispatchEvent(new MouseEvent("pointerdown", { button: 0, clientX: 0.5, clientY: 0.5, bubbles: true }));
    canvas.dispatchEvent(new MouseEvent("pointermove", { button: 0, clientX: 4, clientY: 3.5, bubbles: true }));
    canvas.dispatchEvent(new MouseEvent("pointermove", { button: 0, clientX: 10, clientY: 10, bubbles: true }));
    canvas.dispatchEvent(new MouseEvent("pointerup", { button: 0, clientX: 10, clientY: 10, bubbles: true }));
    expect(model.last("prompt")).toMatchObject({ entity: "e2", points: [], box: [0.5, 0.5, 5, 4], clear: true });
  });

  it("the new-entity form sends only what was filled in", () => {
    const { model, key, q } = mount();
    key("e");
    q<HTMLInputElement>(".vl-entity-name").value = "dog";
    q<HTMLFormElement>(".vl-entity-form").dispatchEvent(new Event("submit", { cancelable: true }));
    const add = model.last("add_entity");
    expect(add.name).toBe("dog");
    expect("category" in add).toBe(false);
    expect("color" in add).toBe(false);
  });

  it("delete needs two clicks and no dialog", () => {
    const { model, q } = mount({ entity: "e2" });
    const del = q<HTMLButtonElement>(".vl-delete-entity");
    del.click();
    expect(model.last("delete_entity")).toBeUndefined();
    expect(del.textContent).toContain("ball");
    del.click();
    expect(model.last("delete_entity")).toMatchObject({ entity: "e2" });
  });

  it("a changed event for the frame on screen re-requests its masks", async () => {
    const { model } = mount();
    await flush();
    const before = model.sent.length;
    model.autoFrames = false;
    model.emit("msg:custom", { kind: "changed", sequence: "s1", frames: [0], revision: 2 });
    const again = model.sent.slice(before).find((m) => m.kind === "frames" && m.start === 0);
    expect(again).toMatchObject({ images: false, masks: true });
    model.emit("msg:custom", { kind: "changed", sequence: "other", frames: [1], revision: 3 });
    expect(model.sent.slice(before).filter((m) => m.kind === "frames" && m.start <= 1 && m.stop > 1)).toHaveLength(0);
  });

  it("a changed event's track patch edits the model's bars in place; keyframe jumps follow it", async () => {
    const { model, q } = mount({ frame: 5 });
    await flush();
    const tracks = model.attrs.tracks;
    const patch = { e1: { keyframes: { add: [20], remove: [0] }, tracklets: [[0, 30]] }, e2: null };
    model.emit("msg:custom", { kind: "changed", sequence: "s1", frames: [], revision: 1, tracks: patch });
    expect(model.attrs.tracks).toBe(tracks); // no local set of the trait: nothing would echo to the kernel
    expect(tracks).toEqual({ e1: { tracklets: [[0, 30]], keyframes: [5, 20] } });
    q<HTMLButtonElement>(".vl-next-key").click();
    await flush();
    expect(model.attrs.frame).toBe(20);
    // a patch for another sequence (the model moved on) is not applied
    model.emit("msg:custom", { kind: "changed", sequence: "other", frames: [], revision: 3, tracks: { e1: null } });
    expect(tracks.e1).toBeDefined();
  });

  it("entity keys, hide, outline, tool and undo state follow and write the traits", () => {
    const { model, key, q, root } = mount({ can_undo: true, undo_label: "prompt on frame 3" });
    key("2");
    expect(model.attrs.entity).toBe("e2");
    expect(root.querySelector(".vl-entity.vl-selected")!.getAttribute("data-entity")).toBe("e2");
    key("h");
    expect(model.attrs.hidden).toEqual(["e2"]);
    key("o");
    expect(model.attrs.outline).toBe(true);
    key("b");
    expect(model.attrs.tool).toBe("box");
    expect(q(".vl-tool.vl-active").getAttribute("data-tool")).toBe("box");
    expect(q<HTMLButtonElement>(".vl-undo").disabled).toBe(false);
    expect(q(".vl-undo").title).toContain("prompt on frame 3");
    expect(q<HTMLButtonElement>(".vl-redo").disabled).toBe(true);
    key("z", { ctrlKey: true });
    expect(model.last("undo")).toBeDefined();
  });

  it("propagation: P sends it, progress shows, Esc cancels a running one", () => {
    const { model, key, q } = mount({ entity: "e1" });
    key("p");
    expect(model.last("propagate")).toMatchObject({ direction: "forward", entities: "selected", frame: 0 });
    key("P", { shiftKey: true });
    expect(model.last("propagate")).toMatchObject({ direction: "backward" });
    const bar = q<HTMLProgressElement>(".vl-progress");
    // the engine preparing the sequence: nothing counted yet, an indeterminate bar with its label
    model.kernelSet("progress", { running: true, done: 0, total: 0, label: "sam2: preparing bear", cancelled: false });
    expect(bar.hidden).toBe(false);
    expect(bar.hasAttribute("value")).toBe(false);
    expect(q(".vl-progress-label").textContent).toBe("sam2: preparing bear…");
    model.kernelSet("progress", { running: true, done: 3, total: 10, label: "propagate", cancelled: false });
    expect(bar.hidden).toBe(false);
    expect(bar.value).toBe(3);
    expect(bar.max).toBe(10);
    expect(q<HTMLButtonElement>(".vl-cancel").disabled).toBe(false);
    key("Escape");
    expect(model.last("cancel")).toBeDefined();
  });

  it("erase sends the selected entity's current frame; the range form sends an inclusive range", () => {
    const { model, key, q } = mount({ entity: "e1", frame: 4 });
    key("Delete");
    expect(model.last("erase")).toMatchObject({ entity: "e1", start: 4, stop: 5 });
    q<HTMLButtonElement>(".vl-erase-range").click();
    q<HTMLInputElement>(".vl-erase-from").value = "10";
    q<HTMLInputElement>(".vl-erase-to").value = "20";
    q<HTMLFormElement>(".vl-erase-form").dispatchEvent(new Event("submit", { cancelable: true }));
    expect(model.last("erase")).toMatchObject({ start: 10, stop: 21 });
  });

  it("the help overlay opens with ? and lists the shortcuts", () => {
    const { key, q } = mount();
    expect(q(".vl-help-overlay").hidden).toBe(true);
    key("?");
    expect(q(".vl-help-overlay").hidden).toBe(false);
    expect(q(".vl-help-overlay").textContent).toContain("Undo");
    key("Escape");
    expect(q(".vl-help-overlay").hidden).toBe(true);
  });

  it("switching sequence stops frame requests until the kernel's new info arrives", async () => {
    const { model, q, root } = mount({ sequences: [{ id: "s1", name: "bear", num_frames: 50 }, { id: "s2", name: "car", num_frames: 9 }] });
    await flush();
    model.autoFrames = false;
    const sel = q<HTMLSelectElement>(".vl-sequence");
    sel.value = "s2";
    sel.dispatchEvent(new Event("change"));
    const before = model.sent.length;
    // a reply or a scrub meanwhile must not ask the kernel (now on s2) for s1's frames
    (root.querySelector(".vl-scrubber") as HTMLInputElement).value = "40";
    q(".vl-scrubber").dispatchEvent(new Event("input"));
    expect(model.sent.slice(before).filter((m) => m.kind === "frames")).toHaveLength(0);
    model.kernelSet("info", { name: "car", num_frames: 9, width: 5, height: 4, fps: 10 });
    model.kernelSet("frame", 0);
    await flush();
    expect(model.sent.slice(before).find((m) => m.kind === "frames")).toMatchObject({ start: 0, stop: 1 });
    expect(root.dataset.sequence).toBe("s2");
  });

  it("keeps the painted frame until the new one is cached", async () => {
    const { model, root, q } = mount({ info: { name: "bear", num_frames: 500, width: 5, height: 4, fps: 24 } });
    await flush();
    model.autoFrames = false;
    const scrub = q<HTMLInputElement>(".vl-scrubber");
    scrub.value = "400";
    scrub.dispatchEvent(new Event("input"));
    expect(q(".vl-frame-label").textContent).toBe("400 / 499");
    expect(root.dataset.frame).toBe("0");
    expect(q(".vl-loading-badge").hidden).toBe(false);
    const req = model.sent.find((m) => m.kind === "frames" && m.start === 400)!;
    model.answerFrames(req);
    await flush();
    expect(root.dataset.frame).toBe("400");
    expect(q(".vl-loading-badge").hidden).toBe(true);
  });

  it("a held arrow steps until keyup, and the final frame reaches the model", async () => {
    const { model, root } = mount();
    await flush();
    root.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true, cancelable: true }));
    expect(model.attrs.frame).toBe(1);
    await new Promise((r) => setTimeout(r, 450));
    root.dispatchEvent(new KeyboardEvent("keyup", { key: "ArrowRight", bubbles: true, cancelable: true }));
    const at = Number(root.dataset.frame);
    expect(at).toBeGreaterThan(2);
    expect(model.attrs.frame).toBe(at);
    await new Promise((r) => setTimeout(r, 100));
    expect(Number(root.dataset.frame)).toBe(at);
  });

  it("a click on a track bar selects its entity and seeks to the frame under the pointer", () => {
    const { model, q } = mount();
    const bar = q(".vl-track[data-entity='e2']");
    bar.getBoundingClientRect = () => ({ left: 0, top: 0, width: 500, height: 14, right: 500, bottom: 14, x: 0, y: 0, toJSON: () => ({}) }) as DOMRect;
    bar.dispatchEvent(new MouseEvent("pointerdown", { button: 0, clientX: 255, clientY: 5, bubbles: true }));
    expect(model.attrs.entity).toBe("e2");
    expect(q(".vl-frame-label").textContent).toBe("25 / 49");
  });

  it("a dragged opacity slider is not put back by a trait update while its write is throttled", () => {
    const { model, q } = mount();
    const slider = q<HTMLInputElement>(".vl-opacity");
    slider.value = "0.2";
    slider.dispatchEvent(new Event("input"));
    slider.value = "0.3";
    slider.dispatchEvent(new Event("input"));
    expect(model.attrs.opacity).toBe(0.2);
    model.kernelSet("entities", [...model.attrs.entities]);
    expect(slider.value).toBe("0.3");
  });

  it("dispose stops listening to the model", () => {
    const { model, view } = mount();
    view.dispose();
    views = [];
    for (const [ev, set] of model.handlers) expect(set.size, ev).toBe(0);
  });
});

describe("AnnotatorView temporal editing (jsdom, fake model)", () => {
  const TRACKS = {
    e1: { tracklets: [[0, 10], [20, 30]], ids: ["e1#0", "e1#1"], interpolate: [true, false], keyframes: [0], box_keyframes: [20], flags: [[22, 25]] },
    e2: { tracklets: [], ids: [], interpolate: [], keyframes: [], box_keyframes: [], flags: [] },
  };
  /** 50 frames on a 500 px bar: 10 px a frame */
  const bar = (root: HTMLElement, entity: string) => {
    const b = root.querySelector(`.vl-track[data-entity='${entity}']`) as HTMLElement;
    b.getBoundingClientRect = () => ({ left: 0, top: 100, width: 500, height: 14, right: 500, bottom: 114, x: 0, y: 100, toJSON: () => ({}) }) as DOMRect;
    return b;
  };
  const pointer = (el: Element, type: string, x: number, button = 0, buttons = 0) =>
    el.dispatchEvent(new MouseEvent(type, { button, buttons, clientX: x, clientY: 105, bubbles: true, cancelable: true }));
  const rightClick = (el: Element, x: number) => {
    pointer(el, "pointerdown", x, 2, 2);
    pointer(el, "pointerup", x, 2);
    const e = new MouseEvent("contextmenu", { button: 2, clientX: x, clientY: 105, bubbles: true, cancelable: true });
    el.dispatchEvent(e);
    return e;
  };

  it("right-click on a segment opens its menu; Split sends split_tracklet at the frame under the pointer", () => {
    const { model, root, q } = mount({ tracks: TRACKS });
    const menu = q(".vl-menu");
    expect(menu.hidden).toBe(true);
    const e = rightClick(bar(root, "e1"), 255);
    expect(e.defaultPrevented).toBe(true);
    expect(menu.hidden).toBe(false);
    expect(q<HTMLButtonElement>(".vl-menu-glue-prev").disabled).toBe(false);
    expect(q<HTMLButtonElement>(".vl-menu-glue-next").disabled).toBe(true);
    expect(q(".vl-menu-interp-boxes").textContent).toContain("off");
    expect(document.activeElement?.classList.contains("vl-menu-split")).toBe(true); // keyboard lands in the menu
    q<HTMLButtonElement>(".vl-menu-split").click();
    expect(model.last("split_tracklet")).toMatchObject({ kind: "split_tracklet", tracklet: "e1#1", frame: 25 });
    expect(menu.hidden).toBe(true);
    // a right-click off any segment opens nothing
    rightClick(bar(root, "e1"), 155);
    expect(menu.hidden).toBe(true);
  });

  it("each menu item sends its request", () => {
    const { model, root, q } = mount({ tracks: TRACKS });
    const pick = (cls: string) => {
      rightClick(bar(root, "e1"), 55);
      q<HTMLButtonElement>(cls).click();
    };
    pick(".vl-menu-glue-next");
    expect(model.last("glue_tracklet")).toMatchObject({ tracklet: "e1#0", side: "next" });
    pick(".vl-menu-delete");
    expect(model.last("delete_tracklet")).toMatchObject({ tracklet: "e1#0" });
    pick(".vl-menu-interp-masks");
    expect(model.last("interpolate_masks")).toMatchObject({ tracklet: "e1#0" });
    pick(".vl-menu-interp-boxes");
    expect(model.last("set_tracklet_interpolation")).toMatchObject({ tracklet: "e1#0", on: false });
    rightClick(bar(root, "e1"), 255);
    q<HTMLButtonElement>(".vl-menu-interp-boxes").click();
    expect(model.last("set_tracklet_interpolation")).toMatchObject({ tracklet: "e1#1", on: true });
  });

  it("Relink to… lists the other entities: the whole tracklet or from the frame under the pointer", () => {
    const { model, root, q } = mount({ tracks: TRACKS });
    rightClick(bar(root, "e1"), 255);
    const list = q(".vl-menu-relink-list");
    expect(list.hidden).toBe(true);
    q<HTMLButtonElement>(".vl-menu-relink").click();
    expect(list.hidden).toBe(false);
    const rows = list.querySelectorAll(".vl-menu-entity");
    expect(Array.from(rows).map((r) => r.getAttribute("data-entity"))).toEqual(["e2"]);
    (rows[0]!.querySelector(".vl-menu-relink-here") as HTMLButtonElement).click();
    expect(model.last("relink_tracklet")).toMatchObject({ tracklet: "e1#1", entity: "e2", start: 25 });
    rightClick(bar(root, "e1"), 255);
    q<HTMLButtonElement>(".vl-menu-relink").click();
    q<HTMLButtonElement>(".vl-menu-relink-all").click();
    const whole = model.last("relink_tracklet");
    expect(whole).toMatchObject({ tracklet: "e1#1", entity: "e2" });
    expect("start" in whole).toBe(false);
  });

  it("Esc or a click elsewhere closes the menu; keys in it do not reach the shortcuts", () => {
    const { model, root, q } = mount({ tracks: TRACKS });
    rightClick(bar(root, "e1"), 255);
    const split = q(".vl-menu-split");
    split.dispatchEvent(new KeyboardEvent("keydown", { key: " ", bubbles: true, cancelable: true }));
    expect(q(".vl-play").textContent).toContain("Play"); // Space did not start playback
    split.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown", bubbles: true, cancelable: true }));
    expect(document.activeElement?.classList.contains("vl-menu-glue-prev")).toBe(true);
    split.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true, cancelable: true }));
    expect(q(".vl-menu").hidden).toBe(true);
    expect(document.activeElement).toBe(root);
    rightClick(bar(root, "e1"), 255);
    expect(q(".vl-menu").hidden).toBe(false);
    pointer(q(".vl-canvas"), "pointerdown", 1);
    expect(q(".vl-menu").hidden).toBe(true);
    // the Menu key on a focused bar opens it at the play head (frame 0: the first tracklet)
    bar(root, "e1").dispatchEvent(new KeyboardEvent("keydown", { key: "ContextMenu", bubbles: true, cancelable: true }));
    expect(q(".vl-menu").hidden).toBe(false);
    expect(q(".vl-menu-split").textContent).toContain("frame 0");
    expect(model.sent.filter((m) => m.kind.includes("tracklet"))).toHaveLength(0);
  });

  it("dragging a segment's end shows the new span and sends set_tracklet_span on release", async () => {
    const { model, root, q } = mount({ tracks: TRACKS });
    const b = bar(root, "e1");
    pointer(b, "pointermove", 308); // hovering an end shows the resize cursor
    expect(b.style.cursor).toBe("ew-resize");
    pointer(b, "pointermove", 250);
    expect(b.style.cursor).toBe("");
    pointer(b, "pointerdown", 309, 0, 1); // the end of [20, 30] is at x 310
    expect(model.attrs.entity).toBe("e1");
    expect(q(".vl-frame-label").textContent).toBe("30 / 49");
    pointer(b, "pointermove", 362, 0, 1);
    expect(q(".vl-frame-label").textContent).toBe("35 / 49"); // the play head follows the end
    pointer(b, "pointermove", 401, 0, 1);
    pointer(b, "pointerup", 401);
    const req = model.last("set_tracklet_span");
    expect(req).toMatchObject({ tracklet: "e1#1", start: 20, end: 39 });
    model.reply(req.id, {});
    await flush();
    // the start is stopped by the tracklet before it
    pointer(b, "pointerdown", 201, 0, 1);
    pointer(b, "pointermove", 20, 0, 1);
    pointer(b, "pointerup", 20);
    expect(model.last("set_tracklet_span")).toMatchObject({ tracklet: "e1#1", start: 11, end: 30 });
    // a press in a segment's body stays a click: select and seek, no span request
    const n = model.sent.filter((m) => m.kind === "set_tracklet_span").length;
    pointer(b, "pointerdown", 55, 0, 1);
    pointer(b, "pointerup", 55);
    expect(q(".vl-frame-label").textContent).toBe("5 / 49");
    expect(model.sent.filter((m) => m.kind === "set_tracklet_span")).toHaveLength(n);
  });

  it("the attribute panel shows the state at this frame and writes an edit with set_state", () => {
    const fields = [
      { name: "occluded", type: "bool" },
      { name: "truncation", type: "float" },
      { name: "note", type: "string" },
    ];
    const { model, q, key } = mount({ tracks: TRACKS, frame: 22, state_fields: fields, state: { occluded: true, truncation: 0.5, note: null } });
    const panel = q(".vl-attrs");
    expect(panel.hidden).toBe(true); // no entity selected
    key("1");
    expect(panel.hidden).toBe(false);
    const occluded = q<HTMLInputElement>(".vl-attr[data-field='occluded']");
    const trunc = q<HTMLInputElement>(".vl-attr[data-field='truncation']");
    expect(occluded.type).toBe("checkbox");
    expect(occluded.checked).toBe(true);
    expect(trunc.value).toBe("0.5");
    occluded.checked = false;
    occluded.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.last("set_state")).toMatchObject({ entity: "e1", start: 22, stop: 23, values: { occluded: false } });
    // typing in the number field: no shortcuts, the value goes on Enter
    trunc.focus();
    trunc.value = "0.75";
    const d = key("d", {}, trunc);
    expect(d.defaultPrevented).toBe(false);
    expect(q(".vl-frame-label").textContent).toBe("22 / 49");
    key("Enter", {}, trunc);
    expect(model.last("set_state")).toMatchObject({ values: { truncation: 0.75 } });
    const count = model.sent.filter((m) => m.kind === "set_state").length;
    trunc.dispatchEvent(new Event("change", { bubbles: true })); // the same value again sends nothing
    expect(model.sent.filter((m) => m.kind === "set_state")).toHaveLength(count);
    trunc.value = ""; // emptied: the field is cleared
    key("Enter", {}, trunc);
    expect(model.last("set_state")).toMatchObject({ values: { truncation: null } });
    // the kernel's state for another frame replaces what is shown
    trunc.blur();
    model.kernelSet("state", { occluded: false, truncation: 0.1, note: "far" });
    expect(trunc.value).toBe("0.1");
    expect(q<HTMLInputElement>(".vl-attr[data-field='note']").value).toBe("far");
  });

  it("Apply to range defaults to the current tracklet and writes every field over it", () => {
    const { model, q } = mount({ tracks: TRACKS, entity: "e1", frame: 24, state_fields: [{ name: "occluded", type: "bool" }, { name: "level", type: "int" }], state: { occluded: null, level: null } });
    expect(q<HTMLInputElement>(".vl-attrs-from").value).toBe("20");
    expect(q<HTMLInputElement>(".vl-attrs-to").value).toBe("30");
    q<HTMLInputElement>(".vl-attr[data-field='occluded']").checked = true;
    const level = q<HTMLInputElement>(".vl-attr[data-field='level']");
    level.value = "2.5";
    q<HTMLButtonElement>(".vl-attrs-apply").click();
    expect(q(".vl-error").textContent).toContain("level: expected an integer");
    expect(model.last("set_state")).toBeUndefined();
    level.value = "2";
    q<HTMLInputElement>(".vl-attrs-from").value = "21";
    q<HTMLButtonElement>(".vl-attrs-apply").click();
    expect(model.last("set_state")).toMatchObject({ entity: "e1", start: 21, stop: 31, values: { occluded: true, level: 2 } });
    // hidden when the dataset declares no state fields
    model.kernelSet("state_fields", []);
    expect(q(".vl-attrs").hidden).toBe(true);
  });

  it("the bbox tool (R) sets a keyframe box from a drag; clicks with it prompt nothing", async () => {
    const { model, q, key } = mount({ entity: "e2" });
    await flush();
    key("r");
    expect(model.attrs.tool).toBe("bbox");
    expect(q(".vl-tool.vl-active").classList.contains("vl-tool-bbox")).toBe(true);
    const canvas = q(".vl-canvas");
    canvas.dispatchEvent(new MouseEvent("pointerdown", { button: 0, clientX: 1, clientY: 1, bubbles: true }));
    canvas.dispatchEvent(new MouseEvent("pointermove", { button: 0, clientX: 4, clientY: 3, bubbles: true }));
    canvas.dispatchEvent(new MouseEvent("pointerup", { button: 0, clientX: 4, clientY: 3, bubbles: true }));
    await flush();
    expect(model.last("set_box")).toMatchObject({ frame: 0, entity: "e2", box: [1, 1, 4, 3] });
    canvas.dispatchEvent(new MouseEvent("pointerdown", { button: 0, clientX: 2, clientY: 2, bubbles: true }));
    canvas.dispatchEvent(new MouseEvent("pointerup", { button: 0, clientX: 2, clientY: 2, bubbles: true }));
    expect(model.last("prompt")).toBeUndefined();
  });

  it("box buttons: from mask, mask from the stored box, remove; enabled by the entity's box on this frame", async () => {
    const { model, q, key } = mount({ entity: "e1" });
    model.boxesFor = (f) => (f === 3 ? [{ entity: "e1", x: 1, y: 1, w: 2, h: 2, source: "interpolated", keyframe: false }] : []);
    await flush();
    const fromBox = q<HTMLButtonElement>(".vl-mask-from-box");
    const remove = q<HTMLButtonElement>(".vl-remove-box");
    expect(q<HTMLButtonElement>(".vl-box-from-mask").disabled).toBe(false);
    expect(fromBox.disabled).toBe(true);
    q<HTMLButtonElement>(".vl-box-from-mask").click();
    expect(model.last("box_from_mask")).toMatchObject({ entity: "e1", start: 0, stop: 1 });
    model.kernelSet("frame", 3);
    await flush();
    expect(fromBox.disabled).toBe(false);
    expect(remove.disabled).toBe(false);
    fromBox.click();
    expect(model.last("prompt")).toMatchObject({ frame: 3, entity: "e1", points: [], labels: [], box: [1, 1, 3, 3], clear: true });
    remove.click();
    expect(model.last("remove_box")).toMatchObject({ frame: 3, entity: "e1" });
    key("2"); // e2 has no box here
    expect(fromBox.disabled).toBe(true);
  });
});

describe("the review in the view", () => {
  const review = () => ({
    enabled: true,
    sequence: "s1",
    version: 4,
    error: "",
    entities: {
      e1: { frames: [3, 12, 30], suspicion: [0.83, 0.4, 0.1], reasons: ["temporal,area_jump", "presence", ""] },
      e2: { frames: [12, 40], suspicion: [0.9, 0.5], reasons: ["overlap", "score"] },
    },
  });
  const count = (q: (s: string) => HTMLElement) => q(".vl-review-count").textContent;

  it("shows the strip and the counter; N / Shift+N step worst first with the reasons, from the browser's copy", async () => {
    const { model, key, q } = mount({ review: review() });
    await flush();
    expect(q(".vl-review-strip").hidden).toBe(false);
    expect(q(".vl-review-label").textContent).toBe("review");
    key("2"); // the bars' labels follow the selection, not shifted by the strip's
    const labels = Array.from(document.querySelectorAll<HTMLElement>(".vl-track-label[data-entity]"));
    expect(labels.map((l) => [l.textContent, l.style.fontWeight])).toEqual([["bear", "400"], ["ball", "700"]]);
    key("Escape");
    model.kernelSet("entity", "");
    expect(count(q)).toBe("4 to review");
    expect(q(".vl-review-count").dataset.left).toBe("4");
    const sent = model.sent.length;
    key("n");
    expect(q(".vl-frame-label").textContent).toBe("12 / 49");
    expect(q(".vl-review-reason").textContent).toBe("frame 12 · ball: overlap · 0.90");
    key("n");
    expect(q(".vl-review-reason").textContent).toBe("frame 3 · bear: temporal, area jump · 0.83");
    key("n");
    key("n");
    expect(q(".vl-review-reason").textContent).toBe("frame 12 · bear: presence · 0.40");
    key("n"); // round to the worst
    expect(q(".vl-review-reason").textContent).toBe("frame 12 · ball: overlap · 0.90");
    key("N", { shiftKey: true });
    expect(q(".vl-review-reason").textContent).toBe("frame 12 · bear: presence · 0.40");
    expect(model.sent.slice(sent).filter((m) => m.kind !== "frames")).toEqual([]); // no request to decide
    // the selected entity's rows only
    key("1");
    expect(count(q)).toBe("2 to review (4 in all)");
    key("n");
    expect(q(".vl-review-reason").textContent).toBe("frame 3 · bear: temporal, area jump · 0.83");
    // scrubbing elsewhere: no reasons shown
    key("ArrowRight");
    expect(q(".vl-review-reason").textContent).toBe("");
  });

  it("Y marks the frame under review reviewed, moves on, and the counter falls at once", async () => {
    const { model, key, q } = mount({ review: review() });
    await flush();
    key("n"); // frame 12, ball
    key("y");
    const mark = model.last("mark_reviewed");
    expect(mark).toMatchObject({ entity: "e2", start: 12, stop: 13 });
    expect(count(q)).toBe("3 to review");
    expect(q(".vl-review-reason").textContent).toBe("frame 3 · bear: temporal, area jump · 0.83");
    model.reply(mark.id, { changed: 1, version: 5 });
    await flush();
    expect(count(q)).toBe("3 to review"); // still left out: the kernel's queue is at version 4
    // the kernel's queue catches up: the row is gone there
    model.emit("msg:custom", { kind: "review", sequence: "s1", version: 5, entities: { e2: { set: [], remove: [12] } } });
    expect(count(q)).toBe("3 to review");
    expect((model.attrs.review.entities.e2.frames as number[])).toEqual([40]); // the model's copy, patched
    // a refused accept puts the row back
    key("y"); // frame 3, bear
    expect(count(q)).toBe("2 to review");
    model.fail(model.last("mark_reviewed").id, "mark_reviewed: no");
    await flush();
    expect(count(q)).toBe("3 to review");
    expect(q(".vl-error").textContent).toContain("mark_reviewed: no");
  });

  it("until zero; with no entity selected, clicks go to the entity under review", async () => {
    const { model, key, q } = mount({ review: review() });
    await flush();
    key("n");
    for (let i = 0; i < 4; i++) {
      key("y");
      const m = model.last("mark_reviewed");
      model.reply(m.id, { changed: 1, version: 5 + i });
    }
    await flush();
    expect(count(q)).toBe("0 to review");
    key("y");
    expect(q(".vl-review-reason").textContent).toBe("nothing left to review");
    expect(q(".vl-error").textContent ?? "").not.toContain("review"); // a note, not an error
    // a new queue (the kernel recomputed): the prompt on the frame under review goes to its entity
    model.kernelSet("review", { ...review(), version: 20, entities: { e2: { frames: [7], suspicion: [0.7], reasons: ["flicker"] } } });
    expect(count(q)).toBe("1 to review");
    key("n");
    await flush();
    const canvas = q<HTMLCanvasElement>(".vl-canvas");
    canvas.dispatchEvent(new MouseEvent("pointerdown", { button: 0, clientX: 2, clientY: 2, bubbles: true }));
    canvas.dispatchEvent(new MouseEvent("pointerup", { button: 0, clientX: 2, clientY: 2, bubbles: true }));
    await flush();
    expect(model.last("prompt")).toMatchObject({ frame: 7, entity: "e2" });
    expect(model.last("add_entity")).toBeUndefined();
  });

  it("says when the queue is not computed yet or cannot be, and hides without review", async () => {
    const { q, model } = mount({ review: { ...review(), version: -1, entities: {} } });
    expect(count(q)).toBe("review…");
    model.kernelSet("review", { ...review(), error: "review: ds.review failed" });
    expect(count(q)).toBe("review unavailable");
    expect(q(".vl-review-count").title).toContain("ds.review failed");
    model.kernelSet("review", { enabled: false });
    expect(q(".vl-review-strip").hidden).toBe(true);
    expect(count(q)).toBe("");
  });
});
