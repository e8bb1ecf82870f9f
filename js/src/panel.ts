// The entity side panel: the list (select, show/hide, recolour), the inline form that
// creates or edits an entity, and delete with an inline two-click confirmation (dialogs
// like window.confirm are auto-dismissed in headless browsers and block the page).

import { h } from "./dom";
import { davisColor } from "./overlay";
import type { EntityInfo } from "./timeline-view";

export interface EntityFields {
  name?: string;
  category?: string;
  color?: string;
}

export interface PanelCallbacks {
  onSelect(id: string): void;
  onToggleHidden(id: string): void;
  onAdd(fields: EntityFields): void;
  onEdit(id: string, fields: EntityFields): void;
  onDelete(id: string): void;
}

const CONFIRM_MS = 4000;

export class EntityPanel {
  readonly el: HTMLDivElement;
  readonly list: HTMLDivElement;
  readonly addButton: HTMLButtonElement;
  readonly deleteButton: HTMLButtonElement;
  readonly form: HTMLFormElement;
  private nameInput: HTMLInputElement;
  private categoryInput: HTMLInputElement;
  private colorInput: HTMLInputElement;
  private formTitle: HTMLSpanElement;
  private colorTouched = false;
  private editing: string | null = null;
  private confirmTimer: ReturnType<typeof setTimeout> | null = null;
  private entities: EntityInfo[] = [];
  private selected = "";

  constructor(private readonly cb: PanelCallbacks) {
    this.addButton = h("button", { class: "vl-add-entity", type: "button", title: "New entity (E)", onclick: () => this.openForm(null) }, "+ New");
    this.deleteButton = h("button", { class: "vl-delete-entity", type: "button", title: "Delete the selected entity (click twice)" }, "Delete");
    this.deleteButton.addEventListener("click", () => this.onDeleteClick());
    this.nameInput = h("input", { type: "text", class: "vl-entity-name", placeholder: "name (optional)" });
    this.categoryInput = h("input", { type: "text", class: "vl-entity-category", placeholder: "category (optional)" });
    this.colorInput = h("input", { type: "color", class: "vl-entity-color", title: "Colour" });
    this.colorInput.addEventListener("input", () => (this.colorTouched = true));
    this.formTitle = h("span", {}, "New entity");
    this.form = h(
      "form",
      { class: "vl-form vl-entity-form", hidden: true },
      this.formTitle,
      this.nameInput,
      h("div", { class: "vl-row" }, this.categoryInput, this.colorInput),
      h(
        "div",
        { class: "vl-row" },
        h("button", { type: "submit", class: "vl-entity-ok" }, "OK"),
        h("button", { type: "button", class: "vl-entity-cancel", onclick: () => this.closeForm() }, "Cancel"),
      ),
    );
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.form.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        this.closeForm();
      }
    });
    this.list = h("div", { class: "vl-entities" });
    this.el = h(
      "div",
      { class: "vl-side" },
      h("div", { class: "vl-side-head" }, h("span", {}, "Entities"), this.addButton),
      this.form,
      this.list,
      h("div", { class: "vl-row" }, this.deleteButton),
    );
    this.deleteButton.disabled = true;
  }

  get formOpen(): boolean {
    return !this.form.hidden;
  }

  /** Open the form: `null` creates, an id edits that entity. */
  openForm(id: string | null): void {
    const e = id ? this.entities.find((x) => x.id === id) : undefined;
    this.editing = e ? e.id : null;
    this.formTitle.textContent = e ? `Edit ${e.name}` : "New entity";
    this.nameInput.value = e?.name ?? "";
    this.categoryInput.value = e?.category ?? "";
    this.colorInput.value = e?.color ?? davisColor(this.entities.length + 1);
    this.colorTouched = false;
    this.form.hidden = false;
    this.nameInput.focus();
  }

  closeForm(): void {
    if (this.form.hidden) return;
    this.form.hidden = true;
    this.editing = null;
    (this.el.closest(".vidlabel-annotator") as HTMLElement | null)?.focus({ preventScroll: true });
  }

  update(entities: EntityInfo[], selected: string, hidden: ReadonlySet<string>): void {
    this.entities = entities;
    if (selected !== this.selected) this.resetConfirm();
    this.selected = selected;
    const rows = entities.map((e, i) => {
      const eye = h("button", { class: "vl-eye", type: "button", title: hidden.has(e.id) ? "Show (H)" : "Hide (H)" }, hidden.has(e.id) ? "◌" : "◉");
      eye.addEventListener("click", (ev) => {
        ev.stopPropagation();
        this.cb.onToggleHidden(e.id);
      });
      const swatch = h("input", { type: "color", class: "vl-swatch", value: e.color, title: "Change colour" });
      swatch.addEventListener("click", (ev) => ev.stopPropagation());
      swatch.addEventListener("change", () => this.cb.onEdit(e.id, { color: swatch.value }));
      const row = h(
        "div",
        {
          class: `vl-entity${e.id === selected ? " vl-selected" : ""}${hidden.has(e.id) ? " vl-is-hidden" : ""}`,
          "data-entity": e.id,
          title: "Click: select; double-click: rename",
        },
        h("span", { class: "vl-key" }, i < 9 ? String(i + 1) : ""),
        swatch,
        h("span", { class: "vl-name" }, e.name, e.category ? h("span", { class: "vl-cat" }, ` · ${e.category}`) : null),
        eye,
      );
      row.addEventListener("click", () => this.cb.onSelect(e.id));
      row.addEventListener("dblclick", () => this.openForm(e.id));
      return row;
    });
    this.list.replaceChildren(...rows);
    this.deleteButton.disabled = !selected;
  }

  private submit(): void {
    const fields: EntityFields = {};
    const name = this.nameInput.value.trim();
    const category = this.categoryInput.value.trim();
    // the kernel refuses empty strings: leave out what was not given
    if (name) fields.name = name;
    if (category) fields.category = category;
    if (this.colorTouched) fields.color = this.colorInput.value;
    const editing = this.editing;
    this.closeForm();
    if (editing) {
      if (Object.keys(fields).length) this.cb.onEdit(editing, fields);
    } else this.cb.onAdd(fields);
  }

  private onDeleteClick(): void {
    if (!this.selected) return;
    if (this.confirmTimer === null) {
      const e = this.entities.find((x) => x.id === this.selected);
      this.deleteButton.textContent = `Delete ${e?.name ?? "entity"}?`;
      this.deleteButton.classList.add("vl-confirm");
      this.confirmTimer = setTimeout(() => this.resetConfirm(), CONFIRM_MS);
      return;
    }
    const id = this.selected;
    this.resetConfirm();
    this.cb.onDelete(id);
  }

  resetConfirm(): void {
    if (this.confirmTimer !== null) clearTimeout(this.confirmTimer);
    this.confirmTimer = null;
    this.deleteButton.textContent = "Delete";
    this.deleteButton.classList.remove("vl-confirm");
  }
}
