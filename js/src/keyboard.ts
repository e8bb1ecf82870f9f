// Keys on the widget's root: the shortcut table's actions, swallowed so JupyterLab's
// command-mode shortcuts (A, D, Z...) do not fire, except while typing in our own inputs.
// Step keys start a hold that keyup, blur or focus leaving the widget end.

import { isEditable } from "./dom";
import { actionFor, type Action } from "./shortcuts";

const STEP_KEYS = new Set(["ArrowLeft", "ArrowRight", "a", "A", "d", "D"]);

export interface KeyHost {
  run(action: Action): void;
  holding(): boolean;
  /** the held step key went up (or focus left): stop stepping, land the final frame */
  release(): void;
}

export function bindKeys(root: HTMLElement, host: KeyHost): () => void {
  const down = (e: KeyboardEvent) => {
    if (e.target !== root && isEditable(e.target)) {
      // typing in our own fields: the field gets the key, the notebook around us does not
      // (JupyterLab would take Enter, A, B, ... as command-mode shortcuts)
      e.stopPropagation();
      return;
    }
    const a = actionFor(e);
    if (!a) return;
    e.preventDefault();
    e.stopPropagation();
    // the OS repeats a held key; the hold already steps on animation frames
    if (a.type === "step" && e.repeat && host.holding()) return;
    host.run(a);
  };
  const up = (e: KeyboardEvent) => {
    if (e.target !== root && isEditable(e.target)) return void e.stopPropagation();
    if (!host.holding() || !(STEP_KEYS.has(e.key) || e.key === "Shift")) return;
    e.preventDefault();
    e.stopPropagation();
    if (STEP_KEYS.has(e.key)) host.release();
  };
  const out = (e: FocusEvent) => {
    if (!root.contains(e.relatedTarget as Node | null)) host.release();
  };
  const blur = () => host.release();
  // focus on click, so the keys reach us; inputs keep their own focus
  const press = (e: PointerEvent) => {
    if (!isEditable(e.target)) root.focus({ preventScroll: true });
  };
  const win = root.ownerDocument.defaultView;
  root.addEventListener("keydown", down);
  root.addEventListener("keyup", up);
  root.addEventListener("focusout", out);
  root.addEventListener("pointerdown", press);
  win?.addEventListener("blur", blur);
  return () => {
    root.removeEventListener("keydown", down);
    root.removeEventListener("keyup", up);
    root.removeEventListener("focusout", out);
    root.removeEventListener("pointerdown", press);
    win?.removeEventListener("blur", blur);
  };
}
