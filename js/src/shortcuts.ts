// Keyboard shortcuts: one table that both the key handler and the help overlay read.

import type { Tool } from "./stage";

export type Direction = "forward" | "backward" | "both";

export type Action =
  | { type: "togglePlay" }
  | { type: "step"; delta: number }
  | { type: "seekStart" }
  | { type: "seekEnd" }
  | { type: "prevKey" }
  | { type: "nextKey" }
  | { type: "undo" }
  | { type: "redo" }
  | { type: "propagate"; direction: Direction }
  | { type: "escape" }
  | { type: "selectEntity"; index: number }
  | { type: "cycleEntity"; delta: number }
  | { type: "newEntity" }
  | { type: "review"; dir: 1 | -1 }
  | { type: "accept" }
  | { type: "erase" }
  | { type: "tool"; tool: Tool }
  | { type: "toggleHidden" }
  | { type: "toggleOutline" }
  | { type: "fit" }
  | { type: "zoom"; factor: number }
  | { type: "help" };

export interface KeyLike {
  key: string;
  code?: string;
  shiftKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
}

/** What the help overlay lists, in order. */
export const SHORTCUTS: readonly { keys: string; does: string }[] = [
  { keys: "Space", does: "Play / pause" },
  { keys: "← → or A D", does: "Previous / next frame (hold to scrub)" },
  { keys: "Shift + ← → / A D", does: "Back / forward 10 frames" },
  { keys: "Home / End", does: "First / last frame" },
  { keys: ", / .", does: "Previous / next keyframe" },
  { keys: "Click", does: "Positive point" },
  { keys: "Right-click or Alt + click", does: "Negative point" },
  { keys: "Drag", does: "Box prompt (bounding-box tool: set the entity's box)" },
  { keys: "Middle-drag or Shift + drag", does: "Pan" },
  { keys: "Wheel, + / −", does: "Zoom" },
  { keys: "F", does: "Fit the frame" },
  { keys: "V / B / R", does: "Point tool / box prompt tool / bounding-box tool" },
  { keys: "P", does: "Propagate forward" },
  { keys: "Shift + P", does: "Propagate backward" },
  { keys: "Alt + P", does: "Propagate both ways" },
  { keys: "Esc", does: "Cancel propagation, else clear points / close panels" },
  { keys: "1 – 9", does: "Select entity" },
  { keys: "↑ / ↓", does: "Previous / next entity" },
  { keys: "E", does: "New entity" },
  { keys: "N / Shift + N", does: "Next / previous frame to review (worst first; the selected entity's, else all)" },
  { keys: "Y", does: "Accept the frame under review (mark it reviewed) and go to the next" },
  { keys: "Delete / Backspace", does: "Erase the entity's mask on this frame" },
  { keys: "Drag a tracklet's end", does: "Trim / extend the tracklet (on a track bar)" },
  { keys: "Right-click a tracklet", does: "Tracklet menu: split, glue, relink, delete, interpolate" },
  { keys: "Menu key or Shift + F10", does: "Tracklet menu at the play head (on a focused track bar)" },
  { keys: "H", does: "Hide / show the selected entity" },
  { keys: "O", does: "Outlines / fills" },
  { keys: "Ctrl/⌘ + Z", does: "Undo" },
  { keys: "Ctrl/⌘ + Shift + Z, Ctrl + Y", does: "Redo" },
  { keys: "?", does: "This help" },
];

/** A letter from the layout (e.key) when it is one, else from the physical key (Alt on macOS
 *  turns P into π). */
function letter(e: KeyLike): string {
  if (/^[a-z]$/i.test(e.key)) return e.key.toLowerCase();
  const m = /^Key([A-Z])$/.exec(e.code ?? "");
  return m ? (m[1] as string).toLowerCase() : "";
}

function digit(e: KeyLike): number | null {
  if (/^[1-9]$/.test(e.key)) return Number(e.key);
  const m = /^(?:Digit|Numpad)([1-9])$/.exec(e.code ?? "");
  return m ? Number(m[1]) : null;
}

export function actionFor(e: KeyLike): Action | null {
  const mod = e.ctrlKey || e.metaKey;
  const l = letter(e);
  if (mod) {
    if (e.altKey) return null;
    if (l === "z") return e.shiftKey ? { type: "redo" } : { type: "undo" };
    if (l === "y" && e.ctrlKey) return { type: "redo" };
    return null; // leave copy, paste, reload... to the browser
  }
  if (e.altKey) {
    if (l === "p") return { type: "propagate", direction: "both" };
    return null;
  }
  const big = e.shiftKey ? 10 : 1;
  switch (e.key) {
    case " ":
    case "Spacebar":
      return { type: "togglePlay" };
    case "ArrowLeft":
      return { type: "step", delta: -big };
    case "ArrowRight":
      return { type: "step", delta: big };
    case "ArrowUp":
      return { type: "cycleEntity", delta: -1 };
    case "ArrowDown":
      return { type: "cycleEntity", delta: 1 };
    case "Home":
      return { type: "seekStart" };
    case "End":
      return { type: "seekEnd" };
    case ",":
    case "<":
      return { type: "prevKey" };
    case ".":
    case ">":
      return { type: "nextKey" };
    case "Escape":
      return { type: "escape" };
    case "Delete":
    case "Backspace":
      return { type: "erase" };
    case "+":
    case "=":
      return { type: "zoom", factor: 1.25 };
    case "-":
    case "_":
      return { type: "zoom", factor: 0.8 };
    case "?":
      return { type: "help" };
  }
  const d = digit(e);
  if (d !== null && !e.shiftKey) return { type: "selectEntity", index: d - 1 };
  switch (l) {
    case "a":
      return { type: "step", delta: -big };
    case "d":
      return { type: "step", delta: big };
    case "p":
      return { type: "propagate", direction: e.shiftKey ? "backward" : "forward" };
    case "n":
      return { type: "review", dir: e.shiftKey ? -1 : 1 };
    case "y":
      return e.shiftKey ? null : { type: "accept" };
    case "e":
      return e.shiftKey ? null : { type: "newEntity" };
    case "v":
      return { type: "tool", tool: "point" };
    case "b":
      return { type: "tool", tool: "box" };
    case "r":
      return { type: "tool", tool: "bbox" };
    case "h":
      return { type: "toggleHidden" };
    case "o":
      return { type: "toggleOutline" };
    case "f":
      return { type: "fit" };
  }
  return null;
}

/** Keys whose action repeats while held (stepping is driven by animation frames, not OS repeat). */
export function isHoldable(a: Action): a is { type: "step"; delta: number } {
  return a.type === "step";
}
