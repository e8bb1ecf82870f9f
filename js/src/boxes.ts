// Bounding boxes of a frame as the kernel sends them with its masks (protocol.md), and how
// they are drawn over the frame: the entity's colour, solid for keyframe boxes a person set,
// dashed for boxes the kernel interpolated between them; the selected entity's a bit bolder.

export interface BoxRecord {
  entity: string;
  x: number;
  y: number;
  w: number;
  h: number;
  source: string | null;
  keyframe: boolean;
}

export interface BoxStyle {
  dash: number[];
  lineWidth: number;
}

/** One box ready to draw: image-pixel rect, colour and style. */
export interface BoxShape extends BoxStyle {
  x: number;
  y: number;
  w: number;
  h: number;
  color: string;
}

/** The boxes of a frames reply item; anything malformed is skipped. */
export function parseBoxes(items: unknown): BoxRecord[] {
  if (!Array.isArray(items)) return [];
  const out: BoxRecord[] = [];
  for (const b of items as Record<string, unknown>[]) {
    if (!b || typeof b.entity !== "string") continue;
    const [x, y, w, h] = [b.x, b.y, b.w, b.h].map(Number) as [number, number, number, number];
    if (![x, y, w, h].every(Number.isFinite)) continue;
    out.push({ entity: b.entity, x, y, w, h, source: typeof b.source === "string" ? b.source : null, keyframe: b.keyframe === true });
  }
  return out;
}

export function boxStyle(box: Pick<BoxRecord, "source">, selected: boolean): BoxStyle {
  return { dash: box.source === "interpolated" ? [6, 4] : [], lineWidth: selected ? 2.5 : 1.5 };
}

/** Shapes to draw: visible entities only, the selected entity's last so it sits on top. */
export function boxShapes(boxes: readonly BoxRecord[], colors: ReadonlyMap<string, string>, hidden: ReadonlySet<string>, selected: string): BoxShape[] {
  const shown = boxes.filter((b) => !hidden.has(b.entity) && colors.has(b.entity));
  shown.sort((a, b) => Number(a.entity === selected) - Number(b.entity === selected));
  return shown.map((b) => ({ x: b.x, y: b.y, w: b.w, h: b.h, color: colors.get(b.entity) as string, ...boxStyle(b, b.entity === selected) }));
}

/** The entity's box on a frame, if it has one. */
export function boxOf(boxes: readonly BoxRecord[] | undefined, entity: string): BoxRecord | undefined {
  return entity ? boxes?.find((b) => b.entity === entity) : undefined;
}

/** A stored box as a prompt box [x0, y0, x1, y1]. */
export function promptBox(b: BoxRecord): [number, number, number, number] {
  return [b.x, b.y, b.x + b.w, b.y + b.h];
}

/** Stroke the shapes; `toScreen` maps image pixels to the context's current units. */
export function drawBoxes(ctx: CanvasRenderingContext2D, shapes: readonly BoxShape[], toScreen: (x: number, y: number) => [number, number]): void {
  for (const s of shapes) {
    const [x0, y0] = toScreen(s.x, s.y);
    const [x1, y1] = toScreen(s.x + s.w, s.y + s.h);
    ctx.setLineDash(s.dash);
    ctx.lineWidth = s.lineWidth;
    ctx.strokeStyle = s.color;
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
  }
  ctx.setLineDash([]);
}
