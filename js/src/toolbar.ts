// The toolbar: sequence picker, tools, propagation (with progress and cancel), the find box (a
// text prompt, with engines that find), erase (one frame or a range), the selected entity's box
// on this frame (from its mask, as a prompt for its mask, removed), undo/redo, and the overlay's
// look (opacity, outlines), fit, help.

import { h } from "./dom";
import { FindBox, type FindScope } from "./find";
import type { Direction } from "./shortcuts";
import type { Tool } from "./stage";

export interface Progress {
  running: boolean;
  done: number;
  total: number;
  label: string;
  cancelled: boolean;
}

export interface ToolbarCallbacks {
  onSequence(id: string): void;
  onTool(tool: Tool): void;
  onPropagate(direction: Direction): void;
  onCancel(): void;
  onFind(text: string, scope: FindScope): void;
  onErase(): void;
  onEraseRange(start: number, stopInclusive: number): void;
  onBoxFromMask(): void;
  onMaskFromBox(): void;
  onRemoveBox(): void;
  onUndo(): void;
  onRedo(): void;
  onOpacity(v: number): void;
  onOutline(v: boolean): void;
  onFit(): void;
  onHelp(): void;
}

export class Toolbar {
  readonly el: HTMLDivElement;
  readonly sequence: HTMLSelectElement;
  readonly scope: HTMLSelectElement;
  readonly progress: HTMLProgressElement;
  readonly progressLabel: HTMLSpanElement;
  readonly cancel: HTMLButtonElement;
  readonly undo: HTMLButtonElement;
  readonly redo: HTMLButtonElement;
  readonly opacity: HTMLInputElement;
  readonly outline: HTMLInputElement;
  readonly status: HTMLSpanElement;
  readonly eraseForm: HTMLFormElement;
  readonly eraseFrom: HTMLInputElement;
  readonly eraseTo: HTMLInputElement;
  readonly boxFromMask: HTMLButtonElement;
  readonly maskFromBox: HTMLButtonElement;
  readonly removeBox: HTMLButtonElement;
  readonly find: FindBox;
  private tools: HTMLButtonElement[];
  private propagateButtons: HTMLButtonElement[];

  constructor(private readonly cb: ToolbarCallbacks) {
    const btn = (cls: string, text: string, title: string, on: () => void, attrs: Record<string, string> = {}) =>
      h("button", { class: cls, type: "button", title, onclick: on, ...attrs }, text);

    this.sequence = h("select", { class: "vl-sequence", title: "Sequence", hidden: true });
    this.sequence.addEventListener("change", () => cb.onSequence(this.sequence.value));

    this.tools = [
      btn("vl-tool", "• Point", "Point tool: click = positive, right/Alt-click = negative, drag = box (V)", () => cb.onTool("point"), { "data-tool": "point" }),
      btn("vl-tool", "▭ Box", "Box tool: drag a box prompt (B)", () => cb.onTool("box"), { "data-tool": "box" }),
      btn("vl-tool vl-tool-bbox", "⬚ BBox", "Bounding-box tool: drag to set the entity's box on this frame (R)", () => cb.onTool("bbox"), { "data-tool": "bbox" }),
    ];
    this.boxFromMask = btn("vl-box-from-mask", "Mask→Box", "Set the selected entity's box on this frame from its mask", () => cb.onBoxFromMask());
    this.maskFromBox = btn("vl-mask-from-box", "Box→Mask", "Prompt the selected entity's mask on this frame with its stored box", () => cb.onMaskFromBox());
    this.removeBox = btn("vl-remove-box", "✕ Box", "Remove the selected entity's box on this frame", () => cb.onRemoveBox());
    this.setBoxState(false, false);

    this.scope = h(
      "select",
      { class: "vl-propagate-scope", title: "Which entities to propagate" },
      h("option", { value: "selected" }, "selected"),
      h("option", { value: "all" }, "all entities"),
    );
    this.propagateButtons = [
      btn("vl-propagate", "◀ Prop", "Propagate backward from this frame (Shift+P)", () => cb.onPropagate("backward"), { "data-direction": "backward" }),
      btn("vl-propagate", "◀▶", "Propagate both ways from this frame (Alt+P)", () => cb.onPropagate("both"), { "data-direction": "both" }),
      btn("vl-propagate", "Prop ▶", "Propagate forward from this frame (P)", () => cb.onPropagate("forward"), { "data-direction": "forward" }),
    ];
    this.cancel = btn("vl-cancel", "Cancel", "Cancel the propagation (Esc)", () => cb.onCancel());
    this.cancel.disabled = true;
    this.progress = h("progress", { class: "vl-progress", max: 1, value: 0, hidden: true });
    this.progressLabel = h("span", { class: "vl-progress-label" });
    this.find = new FindBox({
      onFind: (text, scope) => cb.onFind(text, scope),
      onCancel: () => cb.onCancel(),
      onLeave: () => this.focusRoot(),
    });

    this.eraseFrom = h("input", { type: "number", class: "vl-erase-from", min: 0, step: 1, title: "First frame" });
    this.eraseTo = h("input", { type: "number", class: "vl-erase-to", min: 0, step: 1, title: "Last frame (included)" });
    this.eraseForm = h(
      "form",
      { class: "vl-form vl-erase-form", hidden: true },
      h("span", {}, "Erase frames"),
      this.eraseFrom,
      h("span", {}, "to"),
      this.eraseTo,
      h("button", { type: "submit", class: "vl-erase-ok" }, "Erase"),
      h("button", { type: "button", class: "vl-erase-cancel", onclick: () => this.closeEraseForm() }, "Cancel"),
    );
    this.eraseForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const a = Math.round(Number(this.eraseFrom.value));
      const b = Math.round(Number(this.eraseTo.value));
      if (!Number.isFinite(a) || !Number.isFinite(b)) return;
      this.closeEraseForm();
      cb.onEraseRange(Math.min(a, b), Math.max(a, b));
    });
    this.eraseForm.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        this.closeEraseForm();
      }
    });

    this.undo = btn("vl-undo", "↶", "Undo (Ctrl+Z)", () => cb.onUndo());
    this.redo = btn("vl-redo", "↷", "Redo (Ctrl+Shift+Z)", () => cb.onRedo());
    this.undo.disabled = true;
    this.redo.disabled = true;

    this.opacity = h("input", { type: "range", class: "vl-opacity", min: 0, max: 1, step: 0.05, value: "0.5", title: "Mask opacity" });
    this.opacity.addEventListener("input", () => cb.onOpacity(Number(this.opacity.value)));
    this.outline = h("input", { type: "checkbox", class: "vl-outline", title: "Outlines instead of fills (O)" });
    this.outline.addEventListener("change", () => cb.onOutline(this.outline.checked));
    this.status = h("span", { class: "vl-status" });

    this.el = h(
      "div",
      { class: "vl-toolbar" },
      h("span", { class: "vl-group" }, this.sequence, ...this.tools),
      h("span", { class: "vl-group" }, this.scope, ...this.propagateButtons, this.cancel, this.progress, this.progressLabel),
      this.find.el,
      h(
        "span",
        { class: "vl-group" },
        btn("vl-erase", "Erase", "Erase the selected entity on this frame (Delete)", () => cb.onErase()),
        btn("vl-erase-range", "Erase…", "Erase the selected entity over a range of frames", () => this.toggleEraseForm()),
      ),
      h("span", { class: "vl-group" }, this.boxFromMask, this.maskFromBox, this.removeBox),
      h(
        "span",
        { class: "vl-group" },
        this.undo,
        this.redo,
      ),
      h(
        "span",
        { class: "vl-group" },
        h("label", { title: "Mask opacity" }, "α ", this.opacity),
        h("label", { title: "Outlines instead of fills (O)" }, this.outline, " outline"),
        btn("vl-fit", "Fit", "Fit the frame (F)", () => cb.onFit()),
        btn("vl-help", "?", "Keyboard shortcuts (?)", () => cb.onHelp()),
      ),
      this.status,
    );
  }

  /** Filled by the view with the current frame (from) and the end of the sequence (to). */
  defaults: () => { from: number; to: number; max: number } = () => ({ from: 0, to: 0, max: 0 });

  get eraseFormOpen(): boolean {
    return !this.eraseForm.hidden;
  }

  toggleEraseForm(): void {
    if (this.eraseFormOpen) return this.closeEraseForm();
    const d = this.defaults();
    this.eraseFrom.value = String(d.from);
    this.eraseTo.value = String(d.to);
    this.eraseFrom.max = String(d.max);
    this.eraseTo.max = String(d.max);
    this.eraseForm.hidden = false;
    this.eraseFrom.focus();
  }

  closeEraseForm(): void {
    if (this.eraseForm.hidden) return;
    this.eraseForm.hidden = true;
    this.focusRoot();
  }

  /** Keys go back to the widget's shortcuts. */
  private focusRoot(): void {
    (this.el.closest(".vidlabel-annotator") as HTMLElement | null)?.focus({ preventScroll: true });
  }

  setSequences(list: { id: string; name: string; num_frames: number }[], current: string): void {
    this.sequence.replaceChildren(
      ...list.map((s) => h("option", { value: s.id }, `${s.name || s.id} (${s.num_frames})`)),
    );
    this.sequence.value = current;
    this.sequence.hidden = list.length <= 1;
  }

  setTool(tool: string): void {
    for (const b of this.tools) b.classList.toggle("vl-active", b.dataset.tool === tool);
  }

  /** Box buttons: they need a selected entity; "Box→Mask" and removal need its box on this frame. */
  setBoxState(hasEntity: boolean, hasBox: boolean): void {
    this.boxFromMask.disabled = !hasEntity;
    this.maskFromBox.disabled = !hasBox;
    this.removeBox.disabled = !hasBox;
  }

  setUndo(canUndo: boolean, canRedo: boolean, undoLabel: string, redoLabel: string): void {
    this.undo.disabled = !canUndo;
    this.redo.disabled = !canRedo;
    this.undo.title = canUndo && undoLabel ? `Undo ${undoLabel} (Ctrl+Z)` : "Undo (Ctrl+Z)";
    this.redo.title = canRedo && redoLabel ? `Redo ${redoLabel} (Ctrl+Shift+Z)` : "Redo (Ctrl+Shift+Z)";
  }

  setProgress(p: Progress | null): void {
    const running = !!p?.running;
    this.cancel.disabled = !running;
    for (const b of this.propagateButtons) b.disabled = running;
    if (!p || (!running && p.total === 0)) {
      this.progress.hidden = true;
      this.progressLabel.textContent = "";
      return;
    }
    this.progress.hidden = false;
    this.progress.max = Math.max(1, p.total);
    if (running && p.total === 0) {
      // nothing counted yet (the engine is preparing the sequence): an indeterminate bar, the label alone
      this.progress.removeAttribute("value");
      this.progressLabel.textContent = `${p.label}…`;
      return;
    }
    this.progress.value = Math.min(p.done, p.total);
    const tail = running ? "" : p.cancelled ? " (cancelled)" : " (done)";
    this.progressLabel.textContent = `${p.label ? p.label + " " : ""}${p.done}/${p.total}${tail}`;
  }

  setOpacity(v: number, outline: boolean): void {
    if (Number(this.opacity.value) !== v) this.opacity.value = String(v);
    this.outline.checked = outline;
  }
}
