// How the overlay looks, read from the model's traits in one place: the entities (order and
// colours), the selection, hidden entities, opacity and outline mode, and one key that
// changes whenever any of them does (overlays built under another key are rebuilt).

import { parseColor, type OverlayStyle, type Rgb } from "./overlay";
import type { EntityInfo } from "./timeline-view";

export interface Look {
  entities: EntityInfo[];
  order: string[];
  colors: Map<string, Rgb>;
  /** the same colours as "#rrggbb" (boxes are stroked with them) */
  hex: Map<string, string>;
  selected: string;
  hidden: Set<string>;
  style: OverlayStyle;
  key: string;
}

/** `get` reads a trait (the view passes values it is still throttling in place of the model's). */
export function readLook(get: (name: string) => unknown, lineWidth: number): Look {
  const entities = (Array.isArray(get("entities")) ? get("entities") : []) as EntityInfo[];
  const selected = String(get("entity") ?? "");
  const hidden = new Set((Array.isArray(get("hidden")) ? get("hidden") : []) as string[]);
  const o = Number(get("opacity"));
  const opacity = Number.isFinite(o) ? Math.min(1, Math.max(0, o)) : 0.5;
  const outline = get("outline") === true;
  const style: OverlayStyle = { opacity, outline, hidden, highlight: selected || null, lineWidth };
  const key = JSON.stringify([opacity, outline, lineWidth, [...hidden].sort(), entities.map((e) => [e.id, e.color]), selected]);
  return {
    entities,
    order: entities.map((e) => e.id),
    colors: new Map(entities.map((e) => [e.id, parseColor(e.color)])),
    hex: new Map(entities.map((e) => [e.id, e.color])),
    selected,
    hidden,
    style,
    key,
  };
}
