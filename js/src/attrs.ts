// The attribute panel: the dataset's declared state fields (occluded, truncated, ...) of the
// selected entity at the current frame, one input each. A change writes that field on this
// frame; "Apply to range" writes every field's shown value over a span of frames (the
// current tracklet's by default). Values come back through the kernel's `state` trait.

import { h } from "./dom";

export type FieldType = "bool" | "int" | "float" | "string";
export type StateValue = boolean | number | string | null;

export interface StateField {
  name: string;
  type: FieldType;
}

export interface AttrsCallbacks {
  /** write `values` on frames start..stop-1 */
  onSet(values: Record<string, StateValue>, start: number, stop: number): void;
  onError(message: string): void;
}

/** A typed field's text as its value: "" is no value (null), undefined is not a valid one. */
export function parseValue(type: FieldType, raw: string): StateValue | undefined {
  const t = raw.trim();
  if (type === "string") return raw === "" ? null : raw;
  if (type === "bool") return t === "" ? null : t === "true" ? true : t === "false" ? false : undefined;
  if (t === "") return null;
  const n = Number(t);
  if (!Number.isFinite(n)) return undefined;
  return type === "int" && !Number.isInteger(n) ? undefined : n;
}

/** The state fields as the kernel sent them, malformed entries dropped. */
export function readFields(v: unknown): StateField[] {
  if (!Array.isArray(v)) return [];
  const types = new Set(["bool", "int", "float", "string"]);
  return v.filter((f) => f && typeof f.name === "string" && types.has(f.type)).map((f) => ({ name: f.name, type: f.type }));
}

interface Row {
  field: StateField;
  el: HTMLLabelElement;
  input: HTMLInputElement;
  /** the value shown (from the kernel) or last sent: a change to the same value sends nothing */
  value: StateValue;
}

export class AttributePanel {
  readonly el: HTMLDivElement;
  readonly from: HTMLInputElement;
  readonly to: HTMLInputElement;
  readonly apply: HTMLButtonElement;
  private list: HTMLDivElement;
  private title: HTMLSpanElement;
  private rows: Row[] = [];
  private fieldsKey = "";
  private rangeKey = "";
  private frame = 0;

  constructor(private readonly cb: AttrsCallbacks) {
    this.title = h("span", {}, "Attributes");
    this.list = h("div", { class: "vl-attrs-list" });
    const num = (cls: string, title: string) => h("input", { type: "number", class: cls, min: 0, step: 1, title });
    this.from = num("vl-attrs-from", "First frame");
    this.to = num("vl-attrs-to", "Last frame (included)");
    this.apply = h("button", { type: "button", class: "vl-attrs-apply", title: "Write these values on every frame of the range" }, "Apply");
    this.apply.addEventListener("click", () => this.applyRange());
    this.el = h(
      "div",
      { class: "vl-attrs", hidden: true },
      h("div", { class: "vl-side-head" }, this.title),
      this.list,
      h("div", { class: "vl-row vl-attrs-range" }, h("span", {}, "Apply to"), this.from, h("span", {}, "–"), this.to, this.apply),
    );
    // a focused checkbox takes Space and Enter itself, not as the widget's play shortcut
    this.el.addEventListener("keydown", (e) => {
      const t = e.target as HTMLInputElement;
      if (t instanceof HTMLInputElement && t.type === "checkbox" && (e.key === " " || e.key === "Enter")) e.stopPropagation();
    });
  }

  /** Show `entity`'s values at `frame` (hidden without fields or entity); `span` is the
   *  tracklet holding the frame, the range's default. */
  update(fields: StateField[], state: Record<string, unknown>, entity: string, frame: number, span: [number, number] | null): void {
    this.el.hidden = !fields.length || !entity;
    this.frame = frame;
    const key = JSON.stringify(fields);
    if (key !== this.fieldsKey) {
      this.fieldsKey = key;
      this.rows = fields.map((f) => this.makeRow(f));
      this.list.replaceChildren(...this.rows.map((r) => r.el));
    }
    this.title.textContent = `Attributes · frame ${frame}`;
    const active = this.el.ownerDocument.activeElement;
    for (const r of this.rows) {
      const v = state[r.field.name];
      r.value = v === undefined ? null : (v as StateValue);
      if (r.input === active) continue; // do not overwrite what is being typed
      if (r.field.type === "bool") r.input.checked = v === true;
      else r.input.value = v === null || v === undefined ? "" : String(v);
    }
    const range = span ?? [frame, frame];
    const rk = JSON.stringify([entity, range]);
    if (rk !== this.rangeKey && active !== this.from && active !== this.to) {
      this.rangeKey = rk;
      this.from.value = String(range[0]);
      this.to.value = String(range[1]);
    }
  }

  private makeRow(field: StateField): Row {
    const bool = field.type === "bool";
    const input = h("input", {
      class: "vl-attr",
      "data-field": field.name,
      type: bool ? "checkbox" : field.type === "string" ? "text" : "number",
      step: field.type === "float" ? "any" : field.type === "int" ? 1 : undefined,
    });
    const el = h("label", { class: "vl-attr-row", title: `${field.name} (${field.type})` }, h("span", { class: "vl-attr-name" }, field.name), input);
    const row: Row = { field, el, input, value: null };
    input.addEventListener("change", () => this.commit(row));
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !bool) this.commit(row);
    });
    return row;
  }

  private read(row: Row): StateValue | undefined {
    if (row.field.type === "bool") return row.input.checked;
    const v = parseValue(row.field.type, row.input.value);
    if (v === undefined) this.cb.onError(`${row.field.name}: expected ${row.field.type === "int" ? "an integer" : "a number"}, got ${JSON.stringify(row.input.value)}`);
    return v;
  }

  private commit(row: Row): void {
    const v = this.read(row);
    if (v === undefined || v === row.value) return;
    row.value = v;
    this.cb.onSet({ [row.field.name]: v }, this.frame, this.frame + 1);
  }

  private applyRange(): void {
    const a = Math.round(Number(this.from.value));
    const b = Math.round(Number(this.to.value));
    if (this.from.value === "" || this.to.value === "" || !Number.isFinite(a) || !Number.isFinite(b)) {
      return this.cb.onError("Apply to range: give the first and last frame.");
    }
    const values: Record<string, StateValue> = {};
    for (const r of this.rows) {
      const v = this.read(r);
      if (v === undefined) return;
      values[r.field.name] = v;
    }
    this.cb.onSet(values, Math.min(a, b), Math.max(a, b) + 1);
  }
}
