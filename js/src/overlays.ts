// The error banner and the help overlay.

import { h } from "./dom";
import { SHORTCUTS } from "./shortcuts";

export class ErrorBanner {
  readonly el: HTMLDivElement;
  private text: HTMLSpanElement;

  constructor(onDismiss: () => void) {
    this.text = h("span", { class: "vl-error-text" });
    this.el = h(
      "div",
      { class: "vl-error", role: "alert", hidden: true },
      this.text,
      h("button", { type: "button", class: "vl-error-dismiss", title: "Dismiss", onclick: onDismiss }, "✕"),
    );
  }

  set(message: string): void {
    this.text.textContent = message;
    this.el.hidden = !message;
  }

  get message(): string {
    return this.el.hidden ? "" : (this.text.textContent ?? "");
  }
}

export class HelpOverlay {
  readonly el: HTMLDivElement;

  constructor(onClose: () => void) {
    const rows = SHORTCUTS.map((s) => h("tr", {}, h("td", {}, s.keys), h("td", {}, s.does)));
    this.el = h(
      "div",
      { class: "vl-help-overlay", hidden: true, role: "dialog", "aria-label": "Keyboard shortcuts" },
      h(
        "div",
        { class: "vl-side-head" },
        h("span", {}, "Keyboard shortcuts (click the widget first)"),
        h("button", { type: "button", class: "vl-help-close", onclick: onClose }, "Close"),
      ),
      h("table", {}, h("tbody", {}, ...rows)),
    );
  }

  get open(): boolean {
    return !this.el.hidden;
  }

  toggle(open = !this.open): void {
    this.el.hidden = !open;
  }
}
