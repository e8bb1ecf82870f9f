// The find box: a text (concept) prompt, e.g. "dog", that the kernel's engine (SAM 3) runs on the
// current frame or over the whole video, creating an entity per instance it finds. Enter in the
// text runs it; the button waits while the kernel is busy; Esc in the text cancels a running one.
// With an engine that cannot find (the `can_find` trait false) it is disabled, saying what to load.

import { h } from "./dom";

export type FindScope = "frame" | "video";

/** What the disabled box says (its tooltip) when the kernel's engine cannot find. */
export const NEEDS_SAM3 =
  "Finding objects from a text needs the SAM 3 engine: vl.Annotator(ds, engine=\"sam3\") or engine=vl.segment.load(\"sam3\", ...)";

const PLACEHOLDER = "find… (e.g. dog)";
const TEXT_TITLE = "Find every instance of a text with the engine (SAM 3); Enter runs it";

/** As the kernel's protocol: at most this many characters once whitespace runs are one space. */
export const MAX_FIND_TEXT = 80;

export interface FindFields {
  text: string;
  scope: FindScope;
  frame: number;
}

/** The request's fields for what was typed, or why it cannot be sent. */
export function findFields(typed: string, scope: string, frame: number): FindFields | { error: string } {
  const text = typed.split(/\s+/).filter(Boolean).join(" ");
  if (!text) return { error: "Type what to find first (e.g. dog)." };
  if (text.length > MAX_FIND_TEXT) return { error: `Find: at most ${MAX_FIND_TEXT} characters (a short noun phrase).` };
  return { text, scope: scope === "video" ? "video" : "frame", frame };
}

/** What the status line says when the kernel answers. */
export function findSummary(reply: Record<string, unknown>): string {
  if (typeof reply.message === "string" && reply.message) return reply.message;
  const count = (v: unknown) => (Array.isArray(v) ? v.length : 0);
  const n = count(reply.entities) + count(reply.found); // on the frame, and later in a video run
  return n ? `found ${n} '${String(reply.text ?? "")}'` : `no '${String(reply.text ?? "")}' found`;
}

export interface FindCallbacks {
  onFind(text: string, scope: FindScope): void;
  onCancel(): void;
  /** Esc with nothing to cancel: give the keys back to the widget */
  onLeave(): void;
}

export class FindBox {
  readonly el: HTMLFormElement;
  readonly text: HTMLInputElement;
  readonly scope: HTMLSelectElement;
  readonly button: HTMLButtonElement;
  private busy = false;
  private running = false;
  private available = false;

  constructor(private readonly cb: FindCallbacks) {
    this.text = h("input", {
      type: "text",
      class: "vl-find-text",
      placeholder: PLACEHOLDER,
      title: TEXT_TITLE,
      maxlength: String(MAX_FIND_TEXT),
      autocomplete: "off",
      spellcheck: "false",
    });
    this.scope = h(
      "select",
      { class: "vl-find-scope", title: "Find on this frame, or there and then track what it finds through the video" },
      h("option", { value: "frame" }, "this frame"),
      h("option", { value: "video" }, "whole video"),
    );
    this.button = h("button", { type: "submit", class: "vl-find-ok", title: "Find (Enter in the text)" }, "Find");
    this.el = h("form", { class: "vl-group vl-find" }, this.text, this.scope, this.button);
    this.el.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.text.addEventListener("input", () => this.render());
    this.text.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.isComposing) {
        e.preventDefault(); // ours, not the form's implicit submission: one request
        this.submit();
      } else if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        if (this.running) this.cb.onCancel();
        else this.cb.onLeave();
      }
    });
    this.setAvailable(false); // until the kernel says its engine finds
  }

  /** Run it, unless the button is disabled (no text, the kernel is busy, or it cannot find). */
  submit(): void {
    if (this.button.disabled) return;
    this.cb.onFind(this.text.value, this.scope.value === "video" ? "video" : "frame");
  }

  /** Usable only when the engine's sessions can find (`can_find`); else disabled (nothing can send
   *  it), its placeholder and tooltip saying what to load. */
  setAvailable(available: boolean): void {
    this.available = available;
    this.text.disabled = this.scope.disabled = !available;
    this.text.placeholder = available ? PLACEHOLDER : "find: needs sam3";
    this.text.title = available ? TEXT_TITLE : NEEDS_SAM3;
    this.el.title = available ? "" : NEEDS_SAM3;
    this.el.classList.toggle("vl-find-off", !available);
    this.render();
  }

  /** The kernel is busy (`busy`, a request in flight) or a run is going (cancellable with Esc). */
  setBusy(busy: boolean, running: boolean): void {
    this.busy = busy || running;
    this.running = running;
    this.render();
  }

  private render(): void {
    this.button.disabled = !this.available || this.busy || !this.text.value.trim();
  }
}
