// The prompt being built on one frame for one entity: points and boxes accumulate (the
// first request clears the frame's earlier prompt, later ones add to it), and requests go
// one at a time in click order so a quick double click cannot race itself in the kernel.

import type { Mark } from "./stage";

export type Box = [number, number, number, number];

export interface PromptFields {
  frame: number;
  entity: string;
  points: [number, number][];
  labels: (0 | 1)[];
  box: Box | null;
  clear: boolean;
}

interface Part {
  points: [number, number][];
  labels: (0 | 1)[];
  box: Box | null;
  marks: Mark[];
}

export class PromptSession {
  readonly marks: Mark[] = [];
  box: Box | null = null;
  private queue: Part[] = [];
  private accepted = 0;
  private inFlight = false;
  private closed = false;

  constructor(
    readonly frame: number,
    readonly entity: string,
    private readonly send: (fields: PromptFields) => Promise<unknown>,
    private readonly onChange: () => void,
  ) {}

  get busy(): boolean {
    return this.inFlight || this.queue.length > 0;
  }

  addPoint(x: number, y: number, label: 0 | 1): void {
    const mark: Mark = { x, y, label };
    this.marks.push(mark);
    this.enqueue({ points: [[x, y]], labels: [label], box: null, marks: [mark] });
  }

  addBox(box: Box): void {
    this.box = box;
    this.enqueue({ points: [], labels: [], box, marks: [] });
  }

  /** Stop sending what is queued (the person moved to another frame or entity). */
  close(): void {
    this.closed = true;
    this.queue = [];
  }

  private enqueue(part: Part): void {
    if (this.closed) return;
    this.queue.push(part);
    this.onChange();
    this.next();
  }

  private next(): void {
    if (this.inFlight || this.closed) return;
    const part = this.queue.shift();
    if (!part) return;
    this.inFlight = true;
    const clear = this.accepted === 0;
    this.send({ frame: this.frame, entity: this.entity, points: part.points, labels: part.labels, box: part.box, clear })
      .then(
        () => {
          this.accepted += 1;
        },
        () => {
          // refused: the kernel changed nothing, so its marks go and, if this was the first,
          // the next request starts the frame afresh again
          for (const m of part.marks) {
            const i = this.marks.indexOf(m);
            if (i >= 0) this.marks.splice(i, 1);
          }
          if (part.box && this.box === part.box) this.box = null;
        },
      )
      .finally(() => {
        this.inFlight = false;
        this.onChange();
        this.next();
      });
  }
}
