// The review in the view: the strip, the counter and the reasons of the frame under review;
// N / Shift+N step through the queue worst first, Y accepts (mark_reviewed) and moves on. Every
// answer comes from the browser's copy of the queue: a key costs a sort of what is queued at
// most, never a round trip. An accepted row is left out at once and stays out until the
// kernel's queue has caught up with the edit (its version), or the edit is refused.

import type { Client, Json } from "./client";
import { applyReviewPatch, currentItem, emptyReview, itemKey, itemLabel, queueItems, readReview, stepItem, stripCodes, type QueuePatch, type ReviewItem, type ReviewState } from "./review";
import type { EntityInfo, TimelineView } from "./timeline-view";

export interface ReviewHost {
  frame(): number;
  /** frames in the sequence */
  count(): number;
  selected(): string;
  entities(): EntityInfo[];
  seek(frame: number): void;
  showError(message: string): void;
}

export class ReviewPanel {
  private state: ReviewState = emptyReview();
  private enabled = false;
  /** accepted rows -> the dataset version their mark landed in (Infinity until the reply) */
  private accepted = new Map<string, number>();
  /** the item N or Y moved to: under review while the play head stays on its frame */
  private cursor: { frame: number; entity: string } | null = null;
  private items: ReviewItem[] | null = null;
  private scoped = "";
  /** ms the last N / Shift+N / Y took to decide and seek (diagnostics for the benchmark) */
  lastMs = 0;

  constructor(
    private readonly client: Client,
    private readonly timeline: TimelineView,
    private readonly host: ReviewHost,
  ) {}

  /** The `review` trait (the whole queue: a sequence shown, or a page reload). */
  read(trait: unknown): void {
    const t = trait && typeof trait === "object" ? (trait as ReviewState & { enabled?: boolean }) : null;
    this.enabled = t?.enabled === true;
    // the model's own object, so that events patch what a later view starts from
    this.state = t ? Object.assign(t, readReview(t)) : emptyReview();
    this.settle();
    this.refresh();
  }

  /** A `review` event: patches the model's copy (every view applies the same event: idempotent). */
  patch(m: Json, trait: unknown): void {
    if (!trait || typeof trait !== "object") return;
    const state = trait as ReviewState;
    if (m.sequence !== state.sequence) return;
    Object.assign(state, readReview(state));
    applyReviewPatch(state, (m.entities ?? {}) as Record<string, QueuePatch | null>, Number(m.version ?? -1), String(m.error ?? ""));
    this.state = state;
    this.settle();
    this.refresh();
  }

  /** The selection changed: the scope of the strip, the counter and N. */
  scope(): void {
    const sel = this.host.selected();
    if (sel === this.scoped) return;
    this.scoped = sel;
    this.refresh();
  }

  /** The play head moved: the reasons follow it. */
  moved(): void {
    if (this.cursor && this.cursor.frame !== this.host.frame()) this.cursor = null;
    this.label();
  }

  /** The entity under review on `frame` after N (clicks and Delete go to it when none is selected). */
  reviewing(frame: number): string {
    return this.cursor && this.cursor.frame === frame ? this.cursor.entity : "";
  }

  /** N (1) or Shift+N (-1). */
  step(dir: 1 | -1): void {
    const t0 = performance.now();
    const items = this.queue();
    const at = currentItem(items, this.host.frame(), this.cursor);
    this.go(items, stepItem(items.length, at, dir));
    this.lastMs = performance.now() - t0;
  }

  /** Y: mark the item under review reviewed, then go to the next one. */
  accept(): void {
    const t0 = performance.now();
    const items = this.queue();
    const at = currentItem(items, this.host.frame(), this.cursor);
    const item = items[at];
    if (!item) {
      // a note beside the counter, not an error: nothing went wrong
      this.timeline.reviewReason.textContent = items.length ? "nothing to review on this frame: N goes to the next one" : "nothing left to review";
      return;
    }
    const k = itemKey(item);
    this.accepted.set(k, Infinity);
    this.refresh();
    const rest = this.queue();
    this.go(rest, rest.length ? at % rest.length : -1);
    this.lastMs = performance.now() - t0;
    this.client
      .request("mark_reviewed", { entity: item.entity, start: item.frame, stop: item.frame + 1 })
      .then((r) => {
        const v = Number(r.content.version ?? Infinity);
        if (v <= this.state.version) this.accepted.delete(k);
        else this.accepted.set(k, v);
        this.refresh();
      })
      .catch((e: unknown) => {
        this.accepted.delete(k); // refused: the row is still to review
        this.refresh();
        this.host.showError(String(e instanceof Error ? e.message : e));
      });
  }

  /** How many rows are left in the scope (shown in the counter too). */
  get left(): number {
    return this.queue().length;
  }

  private go(items: ReviewItem[], i: number): void {
    const item = items[i];
    if (!item) {
      this.cursor = null;
      this.label();
      return;
    }
    this.cursor = { frame: item.frame, entity: item.entity };
    if (item.frame === this.host.frame()) this.label();
    else this.host.seek(item.frame); // moved() shows the label
  }

  /** Drop accepted rows the kernel's queue has caught up with. */
  private settle(): void {
    for (const [k, v] of this.accepted) if (v <= this.state.version) this.accepted.delete(k);
  }

  private queue(): ReviewItem[] {
    if (!this.items) {
      const order = this.host.entities().map((e) => e.id);
      this.items = this.enabled ? queueItems(this.state, this.host.selected(), order, new Set(this.accepted.keys())) : [];
    }
    return this.items;
  }

  /** The queue, the scope or the accepted rows changed: strip and counter (the strip redraws here only). */
  refresh(): void {
    this.items = null;
    const tl = this.timeline;
    if (!this.enabled) {
      tl.setReview(null, "", "");
      return;
    }
    const skip = new Set(this.accepted.keys());
    const codes = stripCodes(this.state, this.host.selected(), this.host.count(), skip);
    tl.setReview(codes, this.countText(), this.reasonText());
    tl.reviewCount.title = this.state.error || "Frames some quality signal flagged, not yet reviewed (N / Shift+N: next / previous, Y: accept)";
    tl.reviewCount.dataset.left = this.state.version < 0 || this.state.error ? "" : String(this.queue().length);
  }

  private label(): void {
    if (this.enabled) this.timeline.reviewReason.textContent = this.reasonText();
  }

  private countText(): string {
    if (this.state.error) return "review unavailable";
    if (this.state.version < 0) return "review…";
    const n = this.queue().length;
    if (!this.host.selected()) return `${n} to review`;
    const all = queueItems(this.state, "", [], new Set(this.accepted.keys())).length;
    return `${n} to review (${all} in all)`;
  }

  private reasonText(): string {
    const items = this.queue();
    const item = items[currentItem(items, this.host.frame(), this.cursor)];
    if (!item) return "";
    const name = this.host.entities().find((e) => e.id === item.entity)?.name ?? item.entity;
    return itemLabel(item, name);
  }
}
