// The tracklet context menu of a track bar: split, glue, relink, delete, mask interpolation and
// the box interpolation switch. Each item sends one request (protocol.md); Esc, a click
// elsewhere or any choice closes it. Plain buttons, so Tab, arrows, Enter and Space work;
// keys stop at the menu so the widget's shortcuts (Space = play) do not fire meanwhile.

import { h } from "./dom";
import type { MenuState } from "./tracklets";

export type MenuAction = (kind: string, fields: Record<string, unknown>) => void;

export class TrackMenu {
  readonly el: HTMLDivElement;
  private state: MenuState | null = null;
  private offDoc: (() => void) | null = null;
  private anchor = { x: 0, y: 0 };

  constructor(private readonly onAction: MenuAction) {
    this.el = h("div", { class: "vl-menu", role: "menu", hidden: true, "data-jp-suppress-context-menu": "" });
    this.el.addEventListener("keydown", (e) => this.onKey(e));
    this.el.addEventListener("contextmenu", (e) => {
      e.preventDefault();
      e.stopPropagation();
    });
  }

  get open(): boolean {
    return !this.el.hidden;
  }

  get current(): MenuState | null {
    return this.open ? this.state : null;
  }

  /** Show the menu for a tracklet at (x, y) in the positioned parent's CSS pixels. */
  show(state: MenuState, names: ReadonlyMap<string, string>, x: number, y: number): void {
    this.close(false);
    this.state = state;
    const { id, frame } = state;
    const item = (cls: string, text: string, enabled: boolean, kind: string, fields: Record<string, unknown>) => {
      const b = h("button", { type: "button", class: `vl-menu-item ${cls}`, role: "menuitem", disabled: !enabled }, text);
      b.addEventListener("click", () => this.choose(kind, fields));
      return b;
    };
    const relinkList = h(
      "div",
      { class: "vl-menu-relink-list", hidden: true, role: "group" },
      ...state.relinkTargets.map((eid) => {
        const whole = item("vl-menu-relink-all", "whole", true, "relink_tracklet", { tracklet: id, entity: eid });
        const here = item("vl-menu-relink-here", `from ${frame}`, state.relinkFromHere, "relink_tracklet", { tracklet: id, entity: eid, start: frame });
        return h("div", { class: "vl-menu-entity", "data-entity": eid }, h("span", { class: "vl-menu-name" }, names.get(eid) ?? eid), whole, here);
      }),
    );
    const relink = h(
      "button",
      { type: "button", class: "vl-menu-item vl-menu-relink", role: "menuitem", disabled: !state.relinkTargets.length, "aria-expanded": "false" },
      "Relink to… ▸",
    );
    relink.addEventListener("click", () => {
      relinkList.hidden = !relinkList.hidden;
      relink.setAttribute("aria-expanded", String(!relinkList.hidden));
      this.place(); // taller now: keep it inside the widget
      if (!relinkList.hidden) relinkList.querySelector<HTMLButtonElement>("button:not(:disabled)")?.focus();
    });
    const interp = item("vl-menu-interp-boxes", `Box interpolation: ${state.interpolate ? "on" : "off"}`, !!id, "set_tracklet_interpolation", {
      tracklet: id,
      on: !state.interpolate,
    });
    interp.setAttribute("role", "menuitemcheckbox");
    interp.setAttribute("aria-checked", String(state.interpolate));
    interp.dataset.on = String(state.interpolate);
    this.el.replaceChildren(
      h("div", { class: "vl-menu-title" }, id ? `Tracklet ${state.span[0]}–${state.span[1]}` : "Tracklet (the kernel sent no ids)"),
      item("vl-menu-split", `Split here (frame ${frame})`, state.split, "split_tracklet", { tracklet: id, frame }),
      item("vl-menu-glue-prev", "Glue to previous", state.gluePrevious, "glue_tracklet", { tracklet: id, side: "previous" }),
      item("vl-menu-glue-next", "Glue to next", state.glueNext, "glue_tracklet", { tracklet: id, side: "next" }),
      relink,
      relinkList,
      item("vl-menu-interp-masks", "Fill gaps by interpolation", !!id, "interpolate_masks", { tracklet: id }),
      interp,
      item("vl-menu-delete", "Delete tracklet", !!id, "delete_tracklet", { tracklet: id }),
    );
    this.el.hidden = false;
    this.anchor = { x, y };
    this.place();
    this.items()[0]?.focus({ preventScroll: true });
    const doc = this.el.ownerDocument;
    const away = (e: Event) => {
      if (!this.el.contains(e.target as Node | null)) this.close(false);
    };
    doc.addEventListener("pointerdown", away, true);
    this.offDoc = () => doc.removeEventListener("pointerdown", away, true);
  }

  /** At the anchor, flipped left of / above it where it would overflow the widget. */
  private place(): void {
    const { x, y } = this.anchor;
    this.el.style.left = `${Math.max(0, x)}px`;
    this.el.style.top = `${Math.max(0, y)}px`;
    const parent = this.el.offsetParent as HTMLElement | null;
    if (!parent || !this.el.offsetWidth) return;
    if (x + this.el.offsetWidth > parent.clientWidth) this.el.style.left = `${Math.max(0, x - this.el.offsetWidth)}px`;
    if (y + this.el.offsetHeight > parent.clientHeight) this.el.style.top = `${Math.max(0, y - this.el.offsetHeight)}px`;
  }

  /** Hide; `refocus` gives the keyboard back to the widget (Esc, a choice). */
  close(refocus = true): void {
    this.offDoc?.();
    this.offDoc = null;
    if (this.el.hidden) return;
    this.el.hidden = true;
    this.state = null;
    if (refocus) (this.el.closest(".vidlabel-annotator") as HTMLElement | null)?.focus({ preventScroll: true });
  }

  private choose(kind: string, fields: Record<string, unknown>): void {
    this.close();
    this.onAction(kind, fields);
  }

  private items(): HTMLButtonElement[] {
    return Array.from(this.el.querySelectorAll<HTMLButtonElement>("button")).filter((b) => !b.disabled && !b.closest("[hidden]"));
  }

  private onKey(e: KeyboardEvent): void {
    e.stopPropagation();
    if (e.key === "Escape") {
      e.preventDefault();
      this.close();
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const items = this.items();
      const i = items.indexOf(this.el.ownerDocument.activeElement as HTMLButtonElement);
      const next = (i + (e.key === "ArrowDown" ? 1 : -1) + items.length) % Math.max(1, items.length);
      items[next]?.focus();
    }
  }
}
