import { describe, expect, it } from "vitest";
import { actionFor, SHORTCUTS, type KeyLike } from "./shortcuts";

const k = (key: string, over: Partial<KeyLike> = {}): KeyLike => ({
  key,
  code: "",
  shiftKey: false,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  ...over,
});

describe("shortcuts", () => {
  it("maps transport keys", () => {
    expect(actionFor(k(" "))).toEqual({ type: "togglePlay" });
    expect(actionFor(k("ArrowRight"))).toEqual({ type: "step", delta: 1 });
    expect(actionFor(k("ArrowLeft", { shiftKey: true }))).toEqual({ type: "step", delta: -10 });
    expect(actionFor(k("d"))).toEqual({ type: "step", delta: 1 });
    expect(actionFor(k("A", { shiftKey: true }))).toEqual({ type: "step", delta: -10 });
    expect(actionFor(k("Home"))).toEqual({ type: "seekStart" });
    expect(actionFor(k("End"))).toEqual({ type: "seekEnd" });
    expect(actionFor(k(","))).toEqual({ type: "prevKey" });
    expect(actionFor(k("."))).toEqual({ type: "nextKey" });
  });

  it("maps undo and redo with Ctrl or Cmd", () => {
    expect(actionFor(k("z", { ctrlKey: true }))).toEqual({ type: "undo" });
    expect(actionFor(k("z", { metaKey: true }))).toEqual({ type: "undo" });
    expect(actionFor(k("Z", { ctrlKey: true, shiftKey: true }))).toEqual({ type: "redo" });
    expect(actionFor(k("y", { ctrlKey: true }))).toEqual({ type: "redo" });
    expect(actionFor(k("c", { ctrlKey: true }))).toBeNull();
  });

  it("maps propagation: P forward, Shift+P backward, Alt+P both (even when Alt changes the character)", () => {
    expect(actionFor(k("p"))).toEqual({ type: "propagate", direction: "forward" });
    expect(actionFor(k("P", { shiftKey: true }))).toEqual({ type: "propagate", direction: "backward" });
    expect(actionFor(k("π", { altKey: true, code: "KeyP" }))).toEqual({ type: "propagate", direction: "both" });
  });

  it("selects entities by digit, also from the numpad and not with Shift", () => {
    expect(actionFor(k("1"))).toEqual({ type: "selectEntity", index: 0 });
    expect(actionFor(k("9", { code: "Numpad9" }))).toEqual({ type: "selectEntity", index: 8 });
    expect(actionFor(k("0"))).toBeNull();
    expect(actionFor(k("!", { shiftKey: true, code: "Digit1" }))).toBeNull();
  });

  it("maps the editing and view keys", () => {
    expect(actionFor(k("Escape"))).toEqual({ type: "escape" });
    expect(actionFor(k("e"))).toEqual({ type: "newEntity" });
    expect(actionFor(k("n"))).toEqual({ type: "review", dir: 1 });
    expect(actionFor(k("N", { shiftKey: true }))).toEqual({ type: "review", dir: -1 });
    expect(actionFor(k("y"))).toEqual({ type: "accept" });
    expect(actionFor(k("Y", { ctrlKey: true }))).toEqual({ type: "redo" }); // Ctrl+Y stays redo
    expect(actionFor(k("Delete"))).toEqual({ type: "erase" });
    expect(actionFor(k("Backspace"))).toEqual({ type: "erase" });
    expect(actionFor(k("v"))).toEqual({ type: "tool", tool: "point" });
    expect(actionFor(k("b"))).toEqual({ type: "tool", tool: "box" });
    expect(actionFor(k("r"))).toEqual({ type: "tool", tool: "bbox" });
    expect(SHORTCUTS.some((s) => s.keys.includes("R"))).toBe(true);
    expect(actionFor(k("h"))).toEqual({ type: "toggleHidden" });
    expect(actionFor(k("o"))).toEqual({ type: "toggleOutline" });
    expect(actionFor(k("f"))).toEqual({ type: "fit" });
    expect(actionFor(k("+"))).toMatchObject({ type: "zoom" });
    expect((actionFor(k("-")) as { factor: number }).factor).toBeLessThan(1);
    expect(actionFor(k("?", { shiftKey: true }))).toEqual({ type: "help" });
  });

  it("leaves unrelated keys alone", () => {
    expect(actionFor(k("q"))).toBeNull();
    expect(actionFor(k("Tab"))).toBeNull();
    expect(actionFor(k("x", { altKey: true }))).toBeNull();
  });

  it("the help table names every action family", () => {
    const text = SHORTCUTS.map((s) => s.does).join(" ");
    for (const word of ["Play", "Undo", "Redo", "Propagate", "entity", "Erase", "Zoom", "help", "review", "Accept"]) expect(text).toContain(word);
  });
});
