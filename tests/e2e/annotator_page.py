"""The Annotator as the browser shows it, through the page-visible hooks of vidlabel/widget/protocol.md:
the view's root (``.vidlabel-annotator``, ``data-frame``, ``data-painted``), ``window.__vidlabel`` (paint
log), ``canvas.vl-canvas`` (pixels) and the stable class names of its controls.

Image coordinates are pixels of the full-size frame. The view fits the frame into the canvas on load
(contain, centred); :meth:`AnnotatorView.fit` checks that against the known frame before anything relies on
it. Shared by the browser test and the browser benchmark.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from .harness import HarnessError, NotebookPage, wait_for

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

ROOT = ".vidlabel-annotator"

# The last view whose root is still in the document, its canvas, and helpers; shared by the evaluations.
_JS_VIEW = """
const view = () => {
  const views = (window.__vidlabel || []).filter((v) => v.el && v.el.isConnected);
  return views.length ? views[views.length - 1] : null;
};
const canvasOf = (v) => v.el.querySelector("canvas.vl-canvas");
"""

JS_STATE = (
    "() => {"
    + _JS_VIEW
    + """
  const v = view();
  if (!v) return null;
  const c = canvasOf(v);
  const r = c ? c.getBoundingClientRect() : null;
  return {
    created: v.created,
    paints: v.paints.length,
    lastPaint: v.paints.length ? v.paints[v.paints.length - 1] : null,
    frame: v.el.dataset.frame === undefined ? null : Number(v.el.dataset.frame),
    painted: Number(v.el.dataset.painted || 0),
    sequence: v.el.dataset.sequence || null,
    canvas: c ? {x: r.x, y: r.y, w: r.width, h: r.height, cw: c.width, ch: c.height} : null,
    now: performance.now(),
  };
}"""
)

# Copy the canvas into a 2D canvas (whatever context the view draws with) and read it back.
JS_PIXELS = (
    "([pts, half]) => {"
    + _JS_VIEW
    + """
  const c = canvasOf(view());
  const off = document.createElement("canvas");
  off.width = c.width; off.height = c.height;
  const g = off.getContext("2d", {willReadFrequently: true});
  g.drawImage(c, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  return pts.map(([x, y]) => {
    const s = [0, 0, 0]; let n = 0;
    for (let yy = Math.round(y) - half; yy <= Math.round(y) + half; yy++)
      for (let xx = Math.round(x) - half; xx <= Math.round(x) + half; xx++) {
        if (xx < 0 || yy < 0 || xx >= c.width || yy >= c.height) continue;
        const i = (yy * c.width + xx) * 4; s[0] += d[i]; s[1] += d[i + 1]; s[2] += d[i + 2]; n++;
      }
    return n ? s.map((v) => v / n) : null;
  });
}"""
)

JS_PAINTS = (
    "() => {"
    + _JS_VIEW
    + """
  const v = view();
  return v ? v.paints.map((p) => [p.frame, p.t]) : [];
}"""
)

JS_BLANK = (
    "() => {"
    + _JS_VIEW
    + """
  const c = canvasOf(view());
  const off = document.createElement("canvas");
  off.width = c.width; off.height = c.height;
  const g = off.getContext("2d");
  g.drawImage(c, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let lo = 255, hi = 0, nonzero = 0;
  for (let i = 0; i < d.length; i += 4 * 97) {
    const l = d[i] + d[i + 1] + d[i + 2];
    if (d[i + 3] > 0 && l > 0) nonzero++;
    lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]);
  }
  return {nonzero, spread: hi - lo, samples: Math.ceil(d.length / (4 * 97))};
}"""
)

# Watch an element matching `sel` inside the view: record whether it was ever visible (progress bars).
JS_WATCH_VISIBLE = (
    "([name, sel]) => {"
    + _JS_VIEW
    + """
  window.__e2e = window.__e2e || {};
  const rec = window.__e2e[name] = {seen: 0, samples: 0, texts: []};
  const tick = () => {
    const el = view() && view().el.querySelector(sel);
    rec.samples++;
    if (el && el.offsetParent !== null && !el.hidden && getComputedStyle(el).visibility !== "hidden") {
      rec.seen++;
      const t = (el.textContent || "").trim() || String(el.value ?? "");
      if (t && rec.texts[rec.texts.length - 1] !== t && rec.texts.length < 50) rec.texts.push(t);
    }
  };
  rec.timer = setInterval(tick, 25);
}"""
)

JS_WATCH_STOP = """(name) => {
  const rec = window.__e2e[name]; clearInterval(rec.timer);
  return {seen: rec.seen, samples: rec.samples, texts: rec.texts};
}"""

# Record when a cell's execution count appears (the cell finished), with performance.now().
JS_WATCH_PROMPT = """(cell) => {
  window.__e2e = window.__e2e || {};
  const prompt = cell.querySelector(".jp-InputPrompt");
  const first = prompt.textContent;
  window.__e2e.cellDone = null;
  const obs = new MutationObserver(() => {
    const text = prompt.textContent;
    if (window.__e2e.cellDone === null && text !== first && /\\[\\s*\\d+\\s*\\]/.test(text)) {
      window.__e2e.cellDone = performance.now();
      obs.disconnect();
    }
  });
  obs.observe(prompt, {childList: true, subtree: true, characterData: true});
}"""

JS_KEYS = """() => {
  window.__e2e = window.__e2e || {};
  const rec = window.__e2e.keys = [];
  const on = (e) => { if (e.key === "ArrowRight") rec.push(performance.now()); };
  window.addEventListener("keydown", on, true);
}"""

# Per frame of a track bar: the share of its canvas pixels that are dark and mostly opaque (the diagonal
# hatch over flagged runs; the bar's own colours are bright or faint).
JS_BAR_DARK = (
    "([entity, n, frames]) => {"
    + _JS_VIEW
    + """
  const c = view().el.querySelector(`canvas.vl-track[data-entity="${entity}"]`);
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  return frames.map((f) => {
    const x0 = Math.ceil((f * c.width) / n) + 1, x1 = Math.floor(((f + 1) * c.width) / n) - 1;
    let dark = 0, all = 0;
    for (let y = 0; y < c.height; y++)
      for (let x = x0; x < x1; x++) {
        const i = (y * c.width + x) * 4;
        all++;
        if (d[i + 3] > 100 && d[i] + d[i + 1] + d[i + 2] < 240) dark++;
      }
    return all ? dark / all : 0;
  });
}"""
)

JS_RAF_RATE = """(ms) => new Promise((resolve) => {
  const ts = [];
  const step = (t) => { ts.push(t); if (t - ts[0] < ms) requestAnimationFrame(step); else resolve(ts); };
  requestAnimationFrame(step);
})"""


def hex_rgb(color: str) -> np.ndarray:
    c = color.lstrip("#")
    return np.array([int(c[i : i + 2], 16) for i in (0, 2, 4)], np.float64)


def interior_point(mask: np.ndarray, away_from: tuple[float, float] | None = None) -> tuple[float, float]:
    """The (x, y) of the mask pixel farthest from its boundary (and, with ``away_from``, from that point:
    a click's marker covers the pixels around it)."""
    if away_from is not None:
        m = mask.astype(np.uint8)
        cv2.circle(m, (round(away_from[0]), round(away_from[1])), 16, 0, -1)
        mask = m > 0
    dist = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return float(x), float(y)


def tint(after: np.ndarray, before: np.ndarray, color: np.ndarray) -> float:
    """How far ``after`` moved from ``before`` towards ``color`` (colour units along that direction)."""
    d = color - before
    n = float(np.linalg.norm(d))
    return float(np.dot(after - before, d / n)) if n > 1e-6 else 0.0


@dataclass
class Fit:
    """Image pixel -> CSS pixel (viewport) and canvas backing-store pixel."""

    x: float  # canvas box in the viewport, CSS px
    y: float
    scale: float  # CSS px per image px
    ox: float  # offset of the image inside the canvas box, CSS px
    oy: float
    px: float  # backing-store px per CSS px
    py: float

    def css(self, x: float, y: float) -> tuple[float, float]:
        return self.x + self.ox + (x + 0.5) * self.scale, self.y + self.oy + (y + 0.5) * self.scale

    def canvas(self, x: float, y: float) -> tuple[float, float]:
        return (self.ox + (x + 0.5) * self.scale) * self.px, (self.oy + (y + 0.5) * self.scale) * self.py


class AnnotatorView:
    """The one Annotator view on a page."""

    def __init__(self, page: Page, width: int, height: int) -> None:
        self.page = page
        self.width = width
        self.height = height

    @property
    def root(self) -> Locator:
        return self.page.locator(ROOT).last

    def part(self, sel: str) -> Locator:
        return self.root.locator(sel)

    def state(self) -> dict[str, Any] | None:
        return self.page.evaluate(JS_STATE)  # type: ignore[no-any-return]

    def paints(self) -> list[tuple[int, float]]:
        return [(int(f), float(t)) for f, t in self.page.evaluate(JS_PAINTS)]

    def wait_painted(self, timeout: float = 120.0) -> dict[str, Any]:
        def ok() -> dict[str, Any] | None:
            s = self.state()
            return s if s and s["painted"] >= 1 and s["canvas"] and s["canvas"]["w"] > 0 else None

        return wait_for("the Annotator's first paint (.vidlabel-annotator[data-painted] >= 1)", ok, timeout)  # type: ignore[no-any-return]

    def wait_frame(self, frame: int, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until ``frame`` is the last painted frame, and no paint came for a moment (overlay in)."""

        def ok() -> dict[str, Any] | None:
            s = self.state()
            return (
                s
                if s and s["frame"] == frame and s["lastPaint"] and s["lastPaint"]["frame"] == frame
                else None
            )

        wait_for(f"frame {frame} to be painted", ok, timeout)
        return self.settle()

    def settle(self, quiet: float = 0.4, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until no paint came for ``quiet`` s; returns the state then."""
        last = [self.state(), time.monotonic()]

        def ok() -> dict[str, Any] | None:
            s = self.state()
            if s is None:
                return None
            if last[0] is None or s["painted"] != last[0]["painted"]:
                last[0], last[1] = s, time.monotonic()
                return None
            return s if time.monotonic() - float(last[1]) >= quiet else None  # type: ignore[arg-type]

        return wait_for("the view to stop painting", ok, timeout, 0.05)  # type: ignore[no-any-return]

    def blank_stats(self) -> dict[str, int]:
        return self.page.evaluate(JS_BLANK)  # type: ignore[no-any-return]

    def scroll_into_view(self) -> None:
        self.part("canvas.vl-canvas").scroll_into_view_if_needed()

    def focus(self) -> None:
        """Give the view keyboard focus without clicking the canvas (a click there would be a prompt)."""
        ok = self.root.evaluate(
            """(el) => {
              const t = el.matches("[tabindex]") ? el : el.querySelector("[tabindex]:not(input):not(select)");
              (t || el).focus();
              return el.contains(document.activeElement);
            }"""
        )
        if not ok:
            raise HarnessError("the Annotator's root (or an element in it) cannot take keyboard focus")

    # -- geometry and pixels
    def fit(self, anchor: str = "center") -> Fit:
        s = self.state()
        if not s or not s["canvas"]:
            raise HarnessError("no canvas.vl-canvas in the view")
        c = s["canvas"]
        scale = min(c["w"] / self.width, c["h"] / self.height)
        ox = (c["w"] - self.width * scale) / 2 if anchor == "center" else 0.0
        oy = (c["h"] - self.height * scale) / 2 if anchor == "center" else 0.0
        return Fit(c["x"], c["y"], scale, ox, oy, c["cw"] / c["w"], c["ch"] / c["h"])

    def pixels(self, fit: Fit, points: list[tuple[float, float]], half: int = 2) -> np.ndarray:
        """Mean RGB of a (2*half+1)^2 patch of the canvas around each image point."""
        pts = [fit.canvas(x, y) for x, y in points]
        out = self.page.evaluate(JS_PIXELS, [pts, half])
        if any(p is None for p in out):
            raise HarnessError(f"image points {points} fall outside the canvas")
        return np.asarray(out, np.float64)

    def frame_error(self, fit: Fit, frame_rgb: np.ndarray, exclude: np.ndarray | None = None) -> float:
        """Median colour error between the canvas and an RGB frame, on a grid of image points (excluding
        ``exclude`` pixels, e.g. where masks are drawn)."""
        blurred = cv2.blur(frame_rgb, (5, 5)).astype(np.float64)
        ys = np.linspace(8, self.height - 9, 14)
        xs = np.linspace(8, self.width - 9, 24)
        pts = [(float(x), float(y)) for y in ys for x in xs if exclude is None or not exclude[int(y), int(x)]]
        got = self.pixels(fit, pts)
        want = np.array([blurred[int(y), int(x)] for x, y in pts])
        return float(np.median(np.abs(got - want).mean(axis=1)))

    # -- track bars
    def track_bar(self, entity: str) -> Locator:
        return self.part(f"canvas.vl-track[data-entity='{entity}']")

    def bar_point(self, entity: str, frame: int, num_frames: int) -> tuple[float, float]:
        """The page (CSS px) point at the middle of ``frame``'s cell on ``entity``'s track bar."""
        bar = self.track_bar(entity)
        bar.scroll_into_view_if_needed()
        box = bar.bounding_box()
        if box is None:
            raise HarnessError(f"the track bar of {entity} is not shown")
        return box["x"] + (frame + 0.5) * box["width"] / num_frames, box["y"] + box["height"] / 2

    def open_track_menu(self, entity: str, frame: int, num_frames: int) -> Locator:
        """Right-click ``entity``'s track bar on ``frame`` and wait for the tracklet menu."""
        x, y = self.bar_point(entity, frame, num_frames)
        self.page.mouse.click(x, y, button="right")
        menu = self.part(".vl-menu")
        wait_for("the tracklet menu", menu.is_visible, 30)
        return menu

    def bar_dark(self, entity: str, num_frames: int, frames: list[int]) -> list[float]:
        """Share of dark pixels in each of ``frames``' cells on ``entity``'s track bar (the hatch)."""
        return [float(v) for v in self.page.evaluate(JS_BAR_DARK, [entity, num_frames, frames])]

    def click_image(self, x: float, y: float) -> None:
        """Click image point (x, y) where the canvas is now (the notebook may have scrolled)."""
        self.scroll_into_view()
        cx, cy = self.fit().css(x, y)
        self.page.mouse.click(cx, cy)


def show_widget(nb: NotebookPage, view: AnnotatorView, cell: int) -> dict[str, Any]:
    """Run the cell that shows the widget and wait for its first paint. Returns the first-paint figures:
    ms from the cell's execution count appearing (the cell finished) and from the view's creation."""
    nb.page.evaluate(JS_WATCH_PROMPT, nb.cell(cell).element_handle())
    errors = len(nb.page_errors)
    nb.run_cell(cell)

    def painted_or_broken() -> dict[str, Any] | None:
        if len(nb.page_errors) > errors:
            raise HarnessError(f"the page threw while showing the widget: {nb.page_errors[errors:]}")
        s = view.state()
        return s if s and s["painted"] >= 1 and s["canvas"] and s["canvas"]["w"] > 0 else None

    state = wait_for(
        "the Annotator's first paint (.vidlabel-annotator[data-painted] >= 1)", painted_or_broken, 120
    )
    done = nb.page.evaluate("() => window.__e2e.cellDone")
    first = view.paints()[0][1]
    return {
        "first_paint_ms_after_cell_done": round(first - done, 1) if done else None,
        "first_paint_ms_after_view_created": round(first - state["created"], 1),
    }


def hold_key(
    view: AnnotatorView,
    num_frames: int,
    *,
    warm: bool = True,
    hold_s: float = 2.5,
    repeat_hz: float = 30.0,
    key: str = "ArrowRight",
) -> dict[str, Any]:
    """Hold ``key`` from frame 0 as a person does: one keydown, OS-like repeats at ``repeat_hz``, the keyup
    after ``hold_s`` or once the last frame is painted. With ``warm``, a first, unmeasured pass fills the
    view's caches. Returns the figures of the measured pass: distinct frames painted, frames per second
    over the hold (from the first keydown) and once stepping (from the second new frame)."""
    page = view.page
    page.evaluate(JS_KEYS)
    out: dict[str, Any] = {}
    for measured in [False, True] if warm else [True]:
        view.focus()
        page.keyboard.press("Home")
        view.wait_frame(0)
        view.focus()
        t0 = float(page.evaluate("() => { window.__e2e.keys.length = 0; return performance.now(); }"))
        start = time.monotonic()
        page.keyboard.down(key)
        while time.monotonic() - start < hold_s:
            time.sleep(1 / repeat_hz)
            page.keyboard.down(key)  # Playwright sends these as repeats (event.repeat), as an OS does
            st = view.state()
            if st and st["frame"] == num_frames - 1:
                break
        page.keyboard.up(key)
        t1 = float(page.evaluate("() => performance.now()"))
        keys = page.evaluate("() => window.__e2e.keys.slice()")
        if not measured:
            continue
        paints = [(f, t) for f, t in view.paints() if t0 <= t <= t1]
        new: list[tuple[int, float]] = []
        for f, t in paints:
            if f > (new[-1][0] if new else 0):
                new.append((f, t))
        k0 = float(keys[0]) if keys else t0
        end = new[-1][1] if new and new[-1][0] == num_frames - 1 else t1
        span = max(1e-3, end - k0)
        steady = (len(new) - 2) / max(1e-3, new[-1][1] - new[1][1]) * 1e3 if len(new) >= 3 else 0.0
        out = {
            "hold_ms": round(span, 1),
            "hold_distinct_frames": len({f for f, _ in paints}),
            "hold_last_frame": new[-1][0] if new else 0,
            "hold_fps": round(len(new) / span * 1e3, 2),
            "hold_fps_steady": round(steady, 2),
            "hold_keydowns": len(keys),
            "hold_repeat_hz": repeat_hz,
        }
    view.settle()
    return out


# Press `key` on the view; resolves once the frame it seeks to is painted: ms from keydown to that
# paint, and the ms the key's handler took to decide (N's, from the review hook).
JS_PRESS = """(key) => new Promise((resolve) => {
  const views = (window.__vidlabel || []).filter((v) => v.el && v.el.isConnected);
  const v = views[views.length - 1];
  const before = v.paints.length;
  const t0 = performance.now();
  v.el.dispatchEvent(new KeyboardEvent("keydown", {key, bubbles: true, cancelable: true}));
  v.el.dispatchEvent(new KeyboardEvent("keyup", {key, bubbles: true, cancelable: true}));
  const decided = v.review ? v.review.lastMs : null;
  const target = v.el.querySelector(".vl-scrubber").value;
  const wait = () => {
    const hit = v.paints.slice(before).find((p) => String(p.frame) === target);
    if (hit) resolve({decided, painted: hit.t - t0, frame: hit.frame});
    else if (performance.now() - t0 > 10000) resolve({decided, painted: null, frame: Number(target)});
    else requestAnimationFrame(wait);
  };
  wait();
})"""
