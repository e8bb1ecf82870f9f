"""The Annotator in a real JupyterLab and Notebook 7, in headless Chromium, as a person uses it.

One notebook per app: cell 0 builds a 40-frame synthetic dataset without masks (declaring a boolean state
field, ``occluded``), cell 1 shows ``vl.Annotator(ds, engine="flow")``, cell 2 reports the kernel's state
as JSON (and saves the masks of the shown frame to ``report.npz``), cell 3 is a cell-side edit, cell 4
adds two entities for the temporal steps (one with a mask on frames 0..29), cell 5 reports their
tracklets, masks and states. The steps, in order, each with a screenshot under
``test-output/e2e/<app>/`` (or ``$VIDLABEL_TEST_OUTPUT/<app>/``):

1. the widget renders: the frame is painted (and is the right frame, placed where the view says), the
   scrubber and track area exist;
2. bad input from the page (propagate with nothing annotated) is refused, shown in the error banner,
   changes nothing, and can be dismissed (the kernel's ``error`` clears too);
3. a click on an object makes a mask that the kernel holds and the canvas shows;
4. propagating forward fills the following frames, with a progress display while it runs;
5. scrubbing (arrow key, the scrubber, End) shows other frames, and the kernel's ``frame`` follows;
6. undo (Ctrl+Z in the widget, then the button after a redo) removes the propagation;
7. a cell-side edit (a new entity with a mask on the shown frame) appears without re-running the widget;
8. holding the right arrow key plays through the frames;
9. "Split here" in a track bar's context menu splits the tracklet in the kernel's dataset;
10. "Relink to… / from here" in the menu moves the tracklet's frames from there on to another entity;
11. the attribute panel sets ``occluded`` on a frame and then over a range; the dataset's states hold it
    and the track bar is hatched on exactly those frames.

Figures (first paint latency, frames per second while the key is held) are printed and written to
``figures.json``; the test never asserts on time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vidlabel as vl

from .annotator_page import (
    JS_WATCH_STOP,
    JS_WATCH_VISIBLE,
    AnnotatorView,
    hex_rgb,
    hold_key,
    interior_point,
    show_widget,
    tint,
)
from .conftest import AppSession
from .harness import HarnessError, NotebookPage, wait_for, write_notebook

pytestmark = pytest.mark.e2e

N, W, H, K = 40, 854, 480, 3
TARGET = 20  # the frame scrubbed to, undone on, and edited from a cell
CELL_COLOR = "#00e000"
# Where the cell-side edit paints its mask: a band chosen clear of every object on the frame it lands on.
BAND_H, BAND_W = 60, 160

SETUP = f"""import json
import numpy as np
import pyarrow as pa
import vidlabel as vl

video = vl.demo.synthetic_video({N}, {W}, {H}, {K})
ds = vl.Dataset(state_fields={{"occluded": pa.bool_()}})
seq = ds.add_sequence("synthetic", frames=video.frames, fps=24.0)
ds.clear_history()"""

WIDGET = """w = vl.Annotator(ds, engine="flow")
w"""

REPORT = """with ds.snapshot():  # masks and JSON from one version: the widget's thread may write meanwhile
    ents = ds.entity_ids(seq)
    np.savez_compressed(
        "report.npz", **{f"m{i}": ds.mask(seq, w.frame, e) if ds.mask(seq, w.frame, e) is not None
                         else np.zeros((0, 0), bool) for i, e in enumerate(ents)})
    print(json.dumps({
        "frame": w.frame, "entity": w.entity, "entities": ents,
        "frames": {e: ds.mask_frames(seq, e) for e in ents},
        "colors": {x["id"]: x["color"] for x in w.entities},
        "busy": w.busy, "progress": w.progress, "error": w.error,
        "can_undo": w.can_undo, "can_redo": w.can_redo, "history": ds.history()[-4:],
    }, default=str))"""


def edit_cell(y0: int, x0: int) -> str:
    return f"""with ds.transaction("cell edit"):
    added = ds.add_entity(seq, name="from-cell", color="{CELL_COLOR}")
    band = np.zeros(({H}, {W}), bool)
    band[{y0}:{y0 + BAND_H}, {x0}:{x0 + BAND_W}] = True
    ds.set_mask(seq, w.frame, added, band)
print(json.dumps({{"entity": added, "frame": w.frame}}))"""


# The temporal steps' entities: RUN has a mask (a fixed band) on frames 0..RUN_END, OTHER none.
RUN_END, SPLIT_AT, RELINK_AT = 29, 15, 22
FLAG_FROM, FLAG_TO = 3, 8  # occluded over this range (inclusive), first set on FLAG_AT alone
FLAG_AT = 5
TEMPORAL = f"""with ds.transaction("temporal setup"):
    runner = ds.add_entity(seq, name="runner", color="#ffa500")
    other = ds.add_entity(seq, name="other", color="#00bfff")
    band = np.zeros(({H}, {W}), bool)
    band[20:80, 20:140] = True
    for t in range({RUN_END + 1}):
        ds.set_mask(seq, t, runner, band)
w.entity = runner
print(json.dumps({{"runner": runner, "other": other}}))"""

TEMPORAL_REPORT = """pair = (runner, other)
print(json.dumps({
    "tracklets": {e: [[t["start_frame"], t["end_frame"]] for t in ds.tracklets(seq, e)] for e in pair},
    "frames": {e: ds.mask_frames(seq, e) for e in pair},
    "occluded": [ds.state(seq, f, runner)["occluded"] for f in range(12)],
    "entity": w.entity, "frame": w.frame, "error": w.error,
}, default=str))"""


# (kind, fields, what the error reply must name); NaN goes out as null in JSON, as a broken page would send it
MALFORMED: list[tuple[str, dict[str, Any], str]] = [
    ("explode", {}, "unknown kind 'explode'"),
    ("frames", {"start": 0, "stop": 9999}, "must hold 1 to 64 frames"),
    ("frames", {"start": 35, "stop": 45}, "outside sequence"),
    (
        "prompt",
        {"frame": 0, "entity": "ghost", "points": [[float("nan"), 3]], "labels": [1]},
        "finite number",
    ),
    ("prompt", {"frame": 0, "entity": "ghost", "points": [[3, 3]], "labels": [1]}, "unknown entity 'ghost'"),
    (
        "prompt",
        {"frame": 999, "entity": "ghost", "points": [[3, 3]], "labels": [1]},
        "frame 999 is out of range",
    ),
]
JS_MALFORMED = (
    "async () => {"
    + """
  const views = (window.__vidlabel || []).filter((v) => v.el && v.el.isConnected);
  const h = views[views.length - 1];
  h.sendRaw({kind: "frames", start: 0, stop: 1});  // no id: answered with id null, never raised
  h.sendRaw("not an object");
  await h.request("frames", {start: 0, stop: 1});  // replies come in order: the raw ones are answered
  const out = [];
  for (const [kind, fields] of """
    + json.dumps([[k, f] for k, f, _ in MALFORMED])  # NaN stays a NaN literal
    + """) {
    out.push(await h.request(kind, fields));
  }
  return out.map((r) => (typeof r === "string" ? r : JSON.stringify(r)));
}"""
)


class Run:
    """One app's run: the page, the view, what the kernel reports, screenshots, figures."""

    def __init__(self, s: AppSession, nb: NotebookPage) -> None:
        self.s = s
        self.nb = nb
        self.view = AnnotatorView(nb.page, W, H)
        self.figures: dict[str, Any] = {"app": s.app}
        self.shots: list[str] = []

    def say(self, msg: str) -> None:
        print(f"[{self.s.app}] {msg}", flush=True)

    def shot(self, name: str, whole_page: bool = False) -> None:
        """Screenshot the widget (or the whole page) to ``<output>/<app>/<name>.png``."""
        path = self.s.out / f"{name}.png"
        if whole_page or self.view.root.count() == 0:
            self.nb.screenshot(path)
        else:
            self.view.scroll_into_view()
            self.view.root.screenshot(path=str(path))
        self.shots.append(path.name)

    def report(self) -> dict[str, Any]:
        return self.nb.run_json(2)  # type: ignore[no-any-return]

    def report_masks(self) -> list[np.ndarray]:
        with np.load(self.s.server.root / "report.npz") as z:
            return [z[f"m{i}"] for i in range(len(z.files))]

    def wait_report(self, what: str, ok: Any, timeout: float = 120.0) -> dict[str, Any]:
        seen: list[dict[str, Any]] = []

        def check() -> dict[str, Any] | None:
            r = self.report()
            seen[:] = [r]
            return r if ok(r) else None

        try:
            return wait_for(what, check, timeout, 0.5)  # type: ignore[no-any-return]
        except HarnessError as exc:
            raise AssertionError(f"{exc}; the kernel's last report: {seen[-1] if seen else None}") from None


def largest_object(video: vl.demo.SyntheticVideo, frame: int) -> int:
    areas = [int(video.object_mask(k)[frame].sum()) for k in range(1, K + 1)]
    return int(np.argmax(areas)) + 1


def test_annotator_in_the_browser(app_session: AppSession) -> None:
    s = app_session
    video = vl.demo.synthetic_video(N, W, H, K, 0, 24.0)
    root: Path = s.server.root
    y0, x0 = clear_band(video.masks[TARGET] > 0)
    write_notebook(
        root / "annotator.ipynb", [SETUP, WIDGET, REPORT, edit_cell(y0, x0), TEMPORAL, TEMPORAL_REPORT]
    )
    nb = NotebookPage(
        s.browser.new_page(viewport={"width": 1440, "height": 1000}), s.server, "annotator.ipynb"
    )
    run = Run(s, nb)
    try:
        steps(run, video, (y0, x0))
    except BaseException:
        with_console = "\n".join(nb.console[-40:])
        print(f"[{s.app}] browser console (last 40):\n{with_console}")
        try:
            run.shot("99-failure", whole_page=True)
        except Exception as exc:
            print(f"[{s.app}] no failure screenshot: {exc!r}")
        raise
    finally:
        (s.out / "figures.json").write_text(json.dumps(run.figures, indent=2))
        s.server.shutdown_kernels()
        nb.close()


def steps(run: Run, video: vl.demo.SyntheticVideo, band: tuple[int, int]) -> None:
    nb, view = run.nb, run.view
    page = nb.page

    # 1. Render -----------------------------------------------------------------------------------------
    nb.open()
    nb.run_cell(0)
    run.figures.update(show_widget(nb, view, 1))
    state = view.wait_frame(0)
    view.scroll_into_view()
    blank = view.blank_stats()
    assert blank["nonzero"] > 0.5 * blank["samples"] and blank["spread"] > 40, f"canvas looks blank: {blank}"
    for sel in (
        ".vl-scrubber",
        ".vl-play",
        ".vl-propagate[data-direction=forward]",
        ".vl-undo",
        ".vl-entities",
    ):
        assert view.part(sel).count() >= 1, f"the view has no {sel}"
    assert view.part(".vl-scrubber").first.get_attribute("type") == "range"
    assert state["sequence"], "data-sequence is empty"
    # The view fits the frame on load: the canvas shows frame 0 where a centred contain-fit puts it.
    fit = view.fit("center")
    err = view.frame_error(fit, video.frames[0])
    err_tl = view.frame_error(view.fit("topleft"), video.frames[0])
    assert err < 20, (
        f"canvas does not show frame 0 centred (median error {err:.1f}, top-left fit {err_tl:.1f})"
    )
    tracks = view.part(".vl-track").count()
    run.say(
        f"1 rendered: frame {state['frame']} painted {state['painted']}x, canvas {state['canvas']}, "
        f"matches frame 0 (median colour error {err:.1f}; top-left fit would be {err_tl:.1f}); "
        f"{tracks} track bars; first paint {run.figures['first_paint_ms_after_cell_done']} ms after the "
        f"cell finished, {run.figures['first_paint_ms_after_view_created']} ms after the view was created"
    )
    run.shot("01-rendered")

    # 2. Bad input from the page: propagate before anything is annotated --------------------------------
    view.part(".vl-propagate[data-direction=forward]").first.click()
    banner = view.part(".vl-error").first
    wait_for("the error banner", banner.is_visible, 60)
    shown = banner.inner_text()
    r = run.report()
    assert r["error"] and r["error"] in shown, f"banner {shown!r} vs the kernel's error {r['error']!r}"
    assert r["entities"] == [] and r["history"] == [], f"a refused request changed the dataset: {r}"
    run.shot("02-refused")
    banner.locator("button").first.click()
    wait_for("the banner to go", lambda: not banner.is_visible(), 30)
    r = run.wait_report("the kernel's error to be dismissed", lambda r: r["error"] == "", 30)
    run.say(f"2 propagate with nothing annotated: refused, the banner showed {shown!r}; dismissed in both")

    # 2b. Malformed messages sent straight through the widget's model (the page hook's request/sendRaw)
    replies = run.nb.page.evaluate(JS_MALFORMED)
    assert [type(r).__name__ for r in replies] == ["str"] * len(MALFORMED), replies
    for reply, (_kind, _fields, expect) in zip(replies, MALFORMED, strict=True):
        assert expect in reply, f"{reply!r} does not name {expect!r}"
    wait_for("the banner to show the last refusal", banner.is_visible, 60)
    shown = banner.inner_text()
    assert MALFORMED[-1][2] in shown, shown
    r = run.report()
    assert r["entities"] == [] and r["history"] == [], f"a malformed message changed the dataset: {r}"
    log = run.s.server.log_tail(200_000)
    assert "Traceback" not in log, f"the kernel logged an error: {log[-2000:]}"
    run.shot("02b-malformed")
    banner.locator("button").first.click()
    wait_for("the banner to go", lambda: not banner.is_visible(), 30)
    run.say(
        f"2b {len(MALFORMED)} malformed messages and 2 unreadable ones: each refused with a reply naming "
        f"the problem; banner {shown!r}"
    )

    # 3. Click on an object ----------------------------------------------------------------------------
    k = largest_object(video, 0)
    gt0 = video.object_mask(k)[0]
    x, y = interior_point(gt0)
    # The click's marker covers the pixels around it: look for the mask's tint at another interior point.
    q = interior_point(gt0, away_from=(x, y))
    before = view.pixels(fit, [q])[0]
    view.click_image(x, y)
    r = run.wait_report("the click's mask in the kernel", lambda r: any(0 in f for f in r["frames"].values()))
    assert not r["error"], f"the widget reported an error: {r['error']}"
    eid = next(e for e, f in r["frames"].items() if 0 in f)
    assert r["frames"][eid] == [0], f"the click should make a mask on frame 0 only: {r['frames']}"
    mask0 = run.report_masks()[r["entities"].index(eid)]
    iou = float((mask0 & gt0).sum() / max(1, (mask0 | gt0).sum()))
    assert mask0[int(y), int(x)], "the kernel's mask does not cover the clicked point"
    assert iou > 0.5, f"the click's mask overlaps object {k} poorly (IoU {iou:.2f}): a misplaced click?"
    assert mask0[int(q[1]), int(q[0])], f"the kernel's mask does not cover {q}, inside the object"
    color = hex_rgb(r["colors"][eid])
    wait_for("the entity's track bar", lambda: view.part(f".vl-track[data-entity='{eid}']").count() == 1, 30)
    wait_for(
        "the canvas to show the new mask",
        lambda: tint(view.pixels(fit, [q])[0], before, color) > 15,
        60,
        0.2,
    )
    after = view.pixels(fit, [q])[0]
    run.say(
        f"3 click at image ({x:.0f}, {y:.0f}) on object {k}: kernel mask on frame 0 for entity {eid} "
        f"(IoU {iou:.2f} with the object); canvas at ({q[0]:.0f}, {q[1]:.0f}) {before.round().tolist()} "
        f"-> {after.round().tolist()} (entity colour {r['colors'][eid]}, "
        f"tint {tint(after, before, color):.0f})"
    )
    run.shot("03-click-mask")

    # 4. Propagate forward -----------------------------------------------------------------------------
    page.evaluate(JS_WATCH_VISIBLE, ["progress", ".vl-progress"])
    view.part(".vl-propagate[data-direction=forward]").first.click()
    visible = set(np.flatnonzero(video.object_mask(k).sum(axis=(1, 2)) > 200).tolist())
    r = run.wait_report(
        "the propagation to end and fill the following frames",
        lambda r: not r["progress"].get("running", True) and len(r["frames"][eid]) > 1,
        240,
    )
    seen = page.evaluate(JS_WATCH_STOP, "progress")
    frames = set(r["frames"][eid])
    missing = sorted(visible - frames)
    assert not r["progress"].get("cancelled"), f"the propagation was cancelled: {r['progress']}"
    assert len(missing) <= 2, f"propagation left frames {missing} without a mask (has {sorted(frames)})"
    assert seen["seen"] > 0, f"the progress display never showed during the run ({seen})"
    run.say(
        f"4 propagated forward: masks on {len(frames)} frames ({min(frames)}..{max(frames)}); progress "
        f"{r['progress']}; the progress display showed in {seen['seen']}/{seen['samples']} samples, "
        f"texts {seen['texts'][:3]}...{seen['texts'][-1:]}"
    )
    run.shot("04-propagated")

    # 5. Scrub -----------------------------------------------------------------------------------------
    view.focus()
    shown0 = view.pixels(fit, grid())
    page.keyboard.press("ArrowRight")
    view.wait_frame(1)
    shown1 = view.pixels(fit, grid())
    diff1 = float(np.abs(shown1 - shown0).mean())
    assert diff1 > 1.0, f"ArrowRight painted frame 1 but the canvas did not change (mean diff {diff1:.2f})"
    target = TARGET
    view.part(".vl-scrubber").first.fill(str(target))
    view.wait_frame(target)
    shown20 = view.pixels(fit, grid())
    m20 = video.masks[target] > 0
    err20 = view.frame_error(fit, video.frames[target], exclude=dilate(m20))
    assert err20 < 20, (
        f"the scrubber painted frame {target} but the canvas does not show it (error {err20:.1f})"
    )
    view.focus()
    page.keyboard.press("End")
    view.wait_frame(N - 1)
    diff_end = float(np.abs(view.pixels(fit, grid()) - shown20).mean())
    assert diff_end > 1.0, "End painted the last frame but the canvas did not change"
    view.part(".vl-scrubber").first.fill(str(target))
    view.wait_frame(target)
    label = view.part(".vl-frame-label").first.inner_text()
    assert str(target) in label, f"the frame label shows {label!r} on frame {target}"
    r = run.wait_report("the kernel's frame to follow the scrubber", lambda r: r["frame"] == target, 30)
    run.say(
        f"5 scrubbed: ArrowRight -> frame 1 (canvas mean change {diff1:.1f}), scrubber -> frame {target} "
        f"(matches the video, error {err20:.1f}), End -> frame {N - 1} (change {diff_end:.1f}); back on "
        f"{target}, kernel frame {r['frame']}"
    )
    run.shot("05-scrubbed")

    # 6. Undo -------------------------------------------------------------------------------------------
    mask20 = run.report_masks()[r["entities"].index(eid)]
    assert mask20.any(), f"no propagated mask on frame {target}"
    p20 = interior_point(mask20)
    tinted20 = view.pixels(fit, [p20])[0]
    view.focus()
    page.keyboard.press("Control+z")
    r = run.wait_report("Ctrl+Z to remove the propagation", lambda r: r["frames"].get(eid) == [0], 60)
    untinted20 = wait_for(
        f"the propagated mask to leave the canvas on frame {target}",
        lambda: tint(tinted20, p := view.pixels(fit, [p20])[0], color) > 15 and p.tolist(),
        60,
        0.2,
    )
    view.part(".vl-redo").first.click()
    r = run.wait_report("redo to bring the propagation back", lambda r: len(r["frames"].get(eid, [])) > 1, 60)
    view.part(".vl-undo").first.click()
    r = run.wait_report("the undo button to remove it again", lambda r: r["frames"].get(eid) == [0], 60)
    view.settle()
    run.say(
        f"6 undo: Ctrl+Z left masks on {r['frames'][eid]} (canvas at image {tuple(round(v) for v in p20)} on "
        f"frame {target}: {tinted20.round().tolist()} -> {np.asarray(untinted20).round().tolist()}); redo "
        f"button brought it back, undo button removed it again; can_redo={r['can_redo']}"
    )
    run.shot("06-undone")

    # 7. Cell-side edit ---------------------------------------------------------------------------------
    y0, x0 = band
    centre = (x0 + BAND_W / 2, y0 + BAND_H / 2)
    before_band = view.pixels(fit, [centre])[0]
    n_ent = view.part(".vl-entity").count()
    widget_count = nb.exec_count(1)
    edit = nb.run_json(3)
    assert edit["frame"] == target, f"the edit landed on frame {edit['frame']}, not the shown {target}"
    wait_for("the new entity in the entity list", lambda: view.part(".vl-entity").count() == n_ent + 1, 60)
    assert view.part(f".vl-entity[data-entity='{edit['entity']}']").count() == 1
    green = hex_rgb(CELL_COLOR)
    wait_for(
        "the cell's mask on the canvas",
        lambda: tint(view.pixels(fit, [centre])[0], before_band, green) > 15,
        60,
        0.2,
    )
    after_band = view.pixels(fit, [centre])[0]
    assert nb.exec_count(1) == widget_count, "the widget cell was re-run"
    run.say(
        f"7 cell edit: entity {edit['entity']} with a mask at rows {y0}..{y0 + BAND_H}, "
        f"cols {x0}..{x0 + BAND_W} "
        f"on frame {target}: entity list {n_ent} -> {n_ent + 1}, canvas {before_band.round().tolist()} -> "
        f"{after_band.round().tolist()} (towards {CELL_COLOR})"
    )
    run.shot("07-cell-edit")

    # 8. Hold the right arrow key ----------------------------------------------------------------------
    hold = hold_key(view, N, warm=True)
    run.figures.update(hold)
    assert hold["hold_distinct_frames"] >= 5, f"holding ArrowRight advanced only {hold}"
    run.say(
        f"8 held ArrowRight for {hold['hold_ms']:.0f} ms: {hold['hold_distinct_frames']} distinct frames, "
        f"{hold['hold_fps']:.1f} frames/s over the hold, "
        f"{hold['hold_fps_steady']:.1f} frames/s once stepping "
        f"({hold['hold_keydowns']} keydown events at ~30/s, like OS key repeat)"
    )
    run.shot("08-key-hold")

    temporal_steps(run)
    run.figures["screenshots"] = run.shots
    run.say(f"figures: {json.dumps({k: v for k, v in run.figures.items() if k != 'screenshots'})}")


def temporal_steps(run: Run) -> None:
    """Steps 9-11: tracklet edits through the track bar's menu, a state edit in the attribute panel."""
    nb, view = run.nb, run.view
    ids = nb.run_json(4)
    runner, other = ids["runner"], ids["other"]

    def report(what: str, ok: Any) -> dict[str, Any]:
        seen: list[dict[str, Any]] = []

        def check() -> dict[str, Any] | None:
            seen[:] = [nb.run_json(5)]
            return seen[0] if ok(seen[0]) else None

        try:
            return wait_for(what, check, 60, 0.3)  # type: ignore[no-any-return]
        except HarnessError as exc:
            raise AssertionError(f"{exc}; the kernel's last report: {seen[-1] if seen else None}") from None

    r = report("the runner's tracklet", lambda r: r["tracklets"][runner] == [[0, RUN_END]])
    wait_for("the runner's track bar", lambda: view.track_bar(runner).count() == 1, 30)

    # 9. Split through the track bar's context menu ------------------------------------------------------
    menu = view.open_track_menu(runner, SPLIT_AT, N)
    split = menu.locator(".vl-menu-split")
    assert f"frame {SPLIT_AT}" in split.inner_text(), split.inner_text()
    for side in ("prev", "next"):  # one tracklet: nothing to glue to
        assert menu.locator(f".vl-menu-glue-{side}").is_disabled(), side
    run.shot("09a-track-menu")
    split.click()
    wait_for("the menu to close", lambda: not menu.is_visible(), 30)
    r = report("the split in the dataset", lambda r: len(r["tracklets"][runner]) == 2)
    assert r["tracklets"][runner] == [[0, SPLIT_AT - 1], [SPLIT_AT, RUN_END]], r["tracklets"]
    assert r["frames"][runner] == list(range(RUN_END + 1)) and not r["error"], r
    run.say(f"9 split through the menu at frame {SPLIT_AT}: [[0, {RUN_END}]] -> {r['tracklets'][runner]}")
    run.shot("09-split")

    # 10. Relink the second tracklet from a frame on to the other entity --------------------------------
    menu = view.open_track_menu(runner, RELINK_AT, N)
    menu.locator(".vl-menu-relink").click()
    here = menu.locator(f".vl-menu-entity[data-entity='{other}'] .vl-menu-relink-here")
    assert f"from {RELINK_AT}" in here.inner_text(), here.inner_text()
    run.shot("10a-relink-menu")
    here.click()
    r = report("the relinked frames in the dataset", lambda r: bool(r["frames"][other]))
    assert r["frames"][other] == list(range(RELINK_AT, RUN_END + 1)), r["frames"]
    assert r["frames"][runner] == list(range(RELINK_AT)), r["frames"]
    assert r["tracklets"][other] == [[RELINK_AT, RUN_END]], r["tracklets"]
    assert r["tracklets"][runner] == [[0, SPLIT_AT - 1], [SPLIT_AT, RELINK_AT - 1]], r["tracklets"]
    run.say(
        f"10 relink from frame {RELINK_AT} to {other} through the menu: runner {r['tracklets'][runner]}, "
        f"{other} {r['tracklets'][other]} (masks moved: {other} has frames {RELINK_AT}..{RUN_END})"
    )
    run.shot("10-relinked")

    # 11. The attribute panel: occluded on one frame, then over a range; hatched on the track bar --------
    view.part(f".vl-entity[data-entity='{runner}']").first.click()
    view.part(".vl-scrubber").first.fill(str(FLAG_AT))
    view.wait_frame(FLAG_AT)
    panel = view.part(".vl-attrs").first
    wait_for("the attribute panel", lambda: panel.is_visible() and f"frame {FLAG_AT}" in panel.inner_text())
    box = panel.locator(".vl-attr[data-field='occluded']")
    assert box.get_attribute("type") == "checkbox" and not box.is_checked()
    box.click()
    want = [f == FLAG_AT or None for f in range(12)]
    r = report("occluded on one frame", lambda r: r["occluded"] == want)
    panel.locator(".vl-attrs-from").fill(str(FLAG_FROM))
    panel.locator(".vl-attrs-to").fill(str(FLAG_TO))
    wait_for("the checkbox to show the kernel's state", box.is_checked, 30)
    panel.locator(".vl-attrs-apply").click()
    want = [FLAG_FROM <= f <= FLAG_TO or None for f in range(12)]
    r = report("occluded over the range", lambda r: r["occluded"] == want)
    flagged = list(range(FLAG_FROM, FLAG_TO + 1))
    clear = [f for f in range(SPLIT_AT) if f < FLAG_FROM - 1 or f > FLAG_TO + 1]
    dark = wait_for(
        "the hatch on the track bar",
        lambda: (d := view.bar_dark(runner, N, flagged + clear)) and min(d[: len(flagged)]) > 0.05 and d,
        30,
        0.2,
    )
    on, off = dark[: len(flagged)], dark[len(flagged) :]
    assert max(off) < 0.02, f"hatch outside the flagged frames: {dict(zip(clear, off, strict=True))}"
    run.figures.update(
        {
            "hatch_dark_share_flagged": [round(min(on), 3), round(max(on), 3)],
            "hatch_dark_share_clear_max": max(off),
        }
    )
    run.say(
        f"11 attribute panel: occluded on frame {FLAG_AT}, then Apply {FLAG_FROM}..{FLAG_TO}: ds.state says "
        f"{r['occluded']}; track bar dark share on flagged frames {min(on):.2f}..{max(on):.2f}, "
        f"elsewhere <= {max(off):.3f}"
    )
    run.shot("11-state-hatched")


# ------------------------------------------------------------------------------------------------ helpers


def grid() -> list[tuple[float, float]]:
    return [(float(x), float(y)) for y in np.linspace(20, H - 21, 8) for x in np.linspace(20, W - 21, 12)]


def dilate(mask: np.ndarray, r: int = 6) -> np.ndarray:
    import cv2

    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0


def clear_band(occupied: np.ndarray) -> tuple[int, int]:
    """Top-left (y, x) of a BAND_H x BAND_W band with no object in it (and a margin around it)."""
    grown = dilate(occupied, 10)
    for y0 in range(20, H - BAND_H - 20, 20):
        for x0 in range(20, W - BAND_W - 20, 20):
            if not grown[y0 : y0 + BAND_H, x0 : x0 + BAND_W].any():
                return y0, x0
    raise AssertionError("no free band on the frame for the cell-side edit")
