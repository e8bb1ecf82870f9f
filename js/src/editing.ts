// Edits the person makes, as requests: prompts (with the accumulating session of the frame
// and entity), new entities, erase, propagate and the plain edits. Refusals and failures go
// to the error banner; nothing is changed locally, the kernel's `changed` events repaint.

import { RequestError, type Client, type Json } from "./client";
import { findFields, findSummary } from "./find";
import type { EntityFields } from "./panel";
import { PromptSession } from "./prompts";
import type { Direction } from "./shortcuts";
import type { Marks } from "./stage";

export interface EditorHost {
  frame(): number;
  selected(): string;
  hasSequence(): boolean;
  scope(): string;
  setMarks(marks: Marks): void;
  /** add_entity answered: the new entity is the selected one */
  adopt(entity: string): void;
  showError(message: string): void;
  status(text: string): void;
}

export class Editor {
  private session: PromptSession | null = null;
  private creating: Promise<string | null> | null = null;

  constructor(
    private readonly client: Client,
    private readonly host: EditorHost,
  ) {}

  /** Forget the prompt being built (frame or entity changed, Esc, an edit that replaces it). */
  endSession(): void {
    if (!this.session) return;
    this.session.close();
    this.session = null;
    this.host.setMarks({ points: [], box: null });
  }

  get hasSession(): boolean {
    return this.session !== null;
  }

  /** Add a point or box to the prompt of the current frame and selected entity, creating an
   *  entity first when none is selected. */
  async prompt(add: (s: PromptSession) => void): Promise<void> {
    const entity = this.host.selected() || (await this.createEntity({}));
    if (!entity || !this.host.hasSequence()) return;
    const frame = this.host.frame();
    if (!this.session || this.session.frame !== frame || this.session.entity !== entity) {
      this.endSession();
      const s = new PromptSession(
        frame,
        entity,
        (fields) => this.request("prompt", { ...fields }, 120_000),
        () => {
          if (this.session === s) this.host.setMarks({ points: s.marks, box: s.box });
        },
      );
      this.session = s;
    }
    add(this.session);
  }

  /** Store a keyframe box on the current frame for the selected entity (creating one first when
   *  none is selected, as a prompt does). */
  async setBox(box: [number, number, number, number]): Promise<void> {
    const entity = this.host.selected() || (await this.createEntity({}));
    if (!entity || !this.host.hasSequence()) return;
    this.edit("set_box", { frame: this.host.frame(), entity, box });
  }

  /** Prompt the entity's mask on a frame with a box alone (its stored box), afresh. */
  promptWithBox(frame: number, entity: string, box: [number, number, number, number]): void {
    this.endSession();
    void this.request("prompt", { frame, entity, points: [], labels: [], box, clear: true }, 120_000).catch(() => undefined);
  }

  /** add_entity; concurrent callers (two quick clicks) share one creation. */
  createEntity(fields: EntityFields): Promise<string | null> {
    if (this.creating) return this.creating;
    this.creating = this.request("add_entity", { ...fields })
      .then((r) => {
        const id = typeof r.entity === "string" ? r.entity : null;
        if (id) this.host.adopt(id);
        return id;
      })
      .catch(() => null)
      .finally(() => (this.creating = null));
    return this.creating;
  }

  /** Erase the selected entity on frames first..last (inclusive). */
  erase(first: number, last: number): void {
    const entity = this.host.selected();
    if (!entity) return this.host.showError("Select an entity to erase first.");
    this.endSession();
    this.edit("erase", { entity, start: first, stop: last + 1 });
  }

  propagate(direction: Direction): void {
    const entities = this.host.scope() === "all" || !this.host.selected() ? "all" : "selected";
    this.endSession();
    this.request("propagate", { direction, entities, frame: this.host.frame() }, 0).then(
      (r) => {
        const what = r.cancelled ? "cancelled" : "done";
        this.host.status(`propagation ${what}: ${r.written ?? 0} written, ${r.kept ?? 0} kept`);
      },
      () => undefined,
    );
  }

  /** A text prompt on the current frame (or tracked through the video); the answer goes to the
   *  status line. Resolves when the kernel has answered (or refused). */
  async find(typed: string, scope: string): Promise<void> {
    const fields = findFields(typed, scope, this.host.frame());
    if ("error" in fields) return this.host.showError(fields.error);
    this.endSession();
    this.host.status(`finding '${fields.text}'…`);
    try {
      const r = await this.request("find", { ...fields }, fields.scope === "video" ? 0 : 120_000);
      this.host.status(findSummary(r));
    } catch {
      this.host.status(""); // the banner says why
    }
  }

  edit(kind: string, fields: Json = {}): void {
    if (kind === "undo" || kind === "redo") this.endSession();
    void this.request(kind, fields).catch(() => undefined);
  }

  /** A request whose failure is shown in the banner (and rethrown to the caller). */
  async request(kind: string, fields: Json, timeoutMs?: number): Promise<Json> {
    try {
      const r = await this.client.request(kind, fields, timeoutMs === undefined ? {} : { timeoutMs });
      return r.content;
    } catch (e) {
      if (!(e instanceof RequestError && e.reason === "closed")) this.host.showError(e instanceof Error ? e.message : String(e));
      throw e;
    }
  }

  dispose(): void {
    this.session?.close();
    this.session = null;
  }
}
