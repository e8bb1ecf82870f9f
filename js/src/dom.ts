// A tiny element builder: the view is plain DOM (no framework to bundle).

type Child = Node | string | number | null | undefined | false;
type Props = Record<string, unknown>;

const PROPS = new Set(["value", "checked", "disabled", "hidden", "title", "min", "max", "step", "tabIndex", "type", "placeholder"]);

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = String(v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v as EventListener);
    else if (PROPS.has(k)) (el as unknown as Record<string, unknown>)[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "number" ? String(c) : c);
  }
}

/** Text fields and pickers keep their keys; ranges, checkboxes and buttons do not type. */
export function isEditable(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (target instanceof HTMLInputElement) return !["range", "checkbox", "radio", "button", "submit"].includes(target.type);
  return false;
}

export function show(el: HTMLElement, visible: boolean): void {
  el.hidden = !visible;
}

/** requestAnimationFrame where there is one (jsdom may lack it). */
export const raf: (cb: (t: number) => void) => unknown =
  typeof requestAnimationFrame === "function"
    ? (cb) => requestAnimationFrame(cb)
    : (cb) => setTimeout(() => cb(performance.now()), 16);

export const cancelRaf: (h: unknown) => void =
  typeof cancelAnimationFrame === "function"
    ? (h) => cancelAnimationFrame(h as number)
    : (h) => clearTimeout(h as ReturnType<typeof setTimeout>);

export interface IdleDeadlineLike {
  timeRemaining(): number;
}

/** requestIdleCallback where there is one (Safari lacks it): a short slice after a timeout. */
export const idle: (cb: (d: IdleDeadlineLike) => void) => unknown =
  typeof requestIdleCallback === "function"
    ? (cb) => requestIdleCallback(cb, { timeout: 250 })
    : (cb) => setTimeout(() => {
        const end = performance.now() + 8;
        cb({ timeRemaining: () => Math.max(0, end - performance.now()) });
      }, 1);

export const cancelIdle: (h: unknown) => void =
  typeof cancelIdleCallback === "function"
    ? (h) => cancelIdleCallback(h as number)
    : (h) => clearTimeout(h as ReturnType<typeof setTimeout>);
