"""The Annotator with the real SAM2 model in JupyterLab, in headless Chromium.

The model is SAM 2.1 tiny built from its config with random weights (no checkpoint can be
downloaded here), a fixed seed and 256 px input, as tests/test_segment_sam2.py builds it. One
notebook: cell 0 builds an 11-frame synthetic sequence and the engine, cell 1 shows
``vl.Annotator(ds, engine=engine)``, cell 2 reports the kernel's state, cell 3 runs a direct
session of the same engine with the prompts the widget's session holds and compares its masks
with the dataset's. Steps, each with a screenshot under ``test-output/e2e/lab/``:

1. a click on an object makes a SAM2 mask on frame 0 (the session is built on the widget's
   worker: the widget keeps painting meanwhile);
2. propagating forward fills the 10 following frames with a progress display while it runs, and
   the kernel's masks equal the direct session's, frame by frame;
3. after an undo, a second run is cancelled midway from the widget: it stops with fewer frames than
   planned, says so, and the frames it wrote equal the direct session's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .annotator_page import JS_WATCH_STOP, JS_WATCH_VISIBLE, AnnotatorView, interior_point, show_widget
from .conftest import AppSession
from .harness import REPO, HarnessError, NotebookPage, wait_for, write_notebook

pytestmark = pytest.mark.e2e

N, W, H = 11, 320, 240

SETUP = f"""import json
import numpy as np
import torch
import vidlabel as vl

torch.set_num_threads(1)
video = vl.demo.synthetic_video({N}, {W}, {H}, 2, 0, 24.0)
ds = vl.Dataset()
seq = ds.add_sequence("synthetic", frames=video.frames, fps=24.0)
ds.clear_history()
engine = vl.segment.load(
    "sam2", config="configs/sam2.1/sam2.1_hiera_t.yaml", random_weights=True, image_size=256,
    device="cpu", seed=0,
)"""

WIDGET = """w = vl.Annotator(ds, engine=engine)
w"""

REPORT = """ents = ds.entity_ids(seq)
print(json.dumps({
    "entities": ents, "frames": {e: ds.mask_frames(seq, e) for e in ents},
    "progress": w.progress, "busy": w.busy, "error": w.error, "history": ds.history(),
    "module": vl.__file__,
}))"""

# The same engine, a fresh dataset and session, the prompts the widget's session holds: the masks
# a person would get from cells. Compared with the widget's dataset on every frame it holds.
DIRECT = """eid = ds.entity_ids(seq)[0]
held = w._sessions[seq].prompts(eid)[eid]
ref = vl.Dataset()
rs = ref.add_sequence("synthetic", frames=video.frames, fps=24.0)
re_ = ref.add_entity(rs)
direct = engine.session(ref, rs)
for f, p in sorted(held.items()):
    direct.prompt(f, re_, p.points, p.labels, box=p.box)
direct.propagate_into(start=0, direction="forward", entities=[re_], progress=False)
direct.close()
print(json.dumps({
    "prompts": sorted(held),
    "compared": ds.mask_frames(seq, eid),
    "differ": [f for f in ds.mask_frames(seq, eid)
               if not np.array_equal(ds.mask(seq, f, eid), ref.mask(rs, f, re_))],
    "direct_frames": ref.mask_frames(rs, re_),
}))"""


@pytest.mark.parametrize("app_session", ["lab"], indirect=True)
def test_annotator_with_sam2_in_jupyterlab(app_session: AppSession) -> None:
    s = app_session
    write_notebook(s.server.root / "sam2.ipynb", [SETUP, WIDGET, REPORT, DIRECT])
    nb = NotebookPage(s.browser.new_page(viewport={"width": 1440, "height": 1000}), s.server, "sam2.ipynb")
    view = AnnotatorView(nb.page, W, H)
    figures: dict[str, Any] = {"app": s.app}

    def say(msg: str) -> None:
        print(f"[{s.app} sam2] {msg}", flush=True)

    def shot(name: str) -> None:
        view.scroll_into_view()
        view.root.screenshot(path=str(s.out / f"{name}.png"))

    def report() -> dict[str, Any]:
        return nb.run_json(2)  # type: ignore[no-any-return]

    def wait_report(what: str, ok: Any, timeout: float = 240.0) -> dict[str, Any]:
        seen: list[dict[str, Any]] = []

        def check() -> dict[str, Any] | None:
            seen[:] = [report()]
            return seen[0] if ok(seen[0]) else None

        try:
            return wait_for(what, check, timeout, 0.5)  # type: ignore[no-any-return]
        except HarnessError as exc:
            raise AssertionError(f"{exc}; the kernel's last report: {seen[-1] if seen else None}") from None

    try:
        nb.open()
        nb.run_cell(0, timeout=600)
        import vidlabel as vl

        video = vl.demo.synthetic_video(N, W, H, 2, 0, 24.0)
        figures.update(show_widget(nb, view, 1))
        view.wait_frame(0)
        page = nb.page

        # 1. A click on the larger object ------------------------------------------------------------
        k = max((1, 2), key=lambda j: int(video.object_mask(j)[0].sum()))
        x, y = interior_point(video.object_mask(k)[0])
        painted = view.state()["painted"]  # type: ignore[index]
        view.click_image(x, y)
        r = wait_report("the SAM2 click's mask in the kernel", lambda r: any(r["frames"].values()))
        assert not r["error"], f"the widget reported an error: {r['error']}"
        assert r["module"].startswith(str(REPO)), f"the kernel runs another checkout: {r['module']}"
        (eid,) = r["entities"]
        assert r["frames"][eid] == [0], f"the click should make a mask on frame 0 only: {r['frames']}"
        wait_for("the new mask painted", lambda: view.state()["painted"] > painted, 60)  # type: ignore[index]
        say(f"1 click at ({x:.0f}, {y:.0f}) on object {k}: SAM2 mask on frame 0 for {eid}")
        shot("sam2-01-click")

        # 2. Propagate 10 frames, with progress; the masks equal a direct session's -------------------
        page.evaluate(JS_WATCH_VISIBLE, ["progress", ".vl-progress"])
        view.part(".vl-propagate[data-direction=forward]").first.click()
        r = wait_report(
            "the SAM2 propagation to fill frames 1..10",
            lambda r: not r["progress"].get("running", True) and len(r["frames"][eid]) > 1,
        )
        seen = page.evaluate(JS_WATCH_STOP, "progress")
        assert r["frames"][eid] == list(range(N)), f"propagation left frames out: {r['frames'][eid]}"
        p = r["progress"]
        assert p["done"] == p["total"] == N and not p["cancelled"], p  # frame 0 counts too
        assert seen["seen"] > 0, f"the progress display never showed during the run ({seen})"
        d = nb.run_json(3, timeout=600)
        assert d["prompts"] == [0] and d["compared"] == list(range(N)), d
        assert d["differ"] == [], f"the widget's SAM2 masks differ from a direct session's on {d['differ']}"
        say(
            f"2 propagated: masks on frames 0..{N - 1}, progress {r['progress']}, shown in "
            f"{seen['seen']}/{seen['samples']} samples ({seen['texts'][-1:]}); equal to a direct session's"
        )
        shot("sam2-02-propagated")

        # 3. Undo, then a run cancelled midway from the widget ----------------------------------------
        view.part(".vl-undo").first.click()
        wait_report("the undo of the propagation", lambda r: r["frames"][eid] == [0], 60)
        view.part(".vl-propagate[data-direction=forward]").first.click()
        bar = view.part(".vl-progress").first

        def partway() -> bool:
            value = bar.get_attribute("value")
            return value is not None and 2 <= float(value) < N - 2

        wait_for("the second run to be partway", partway, 240, 0.05)
        view.part(".vl-cancel").first.click()
        r = wait_report("the cancelled run to end", lambda r: not r["progress"].get("running", True))
        p, frames = r["progress"], r["frames"][eid]
        assert p["cancelled"] and p["done"] < p["total"] == N, f"the run was not cut short: {p}"
        assert frames == list(range(len(frames))) and 2 <= len(frames) < N, f"masks after cancel: {frames}"
        assert not r["error"], r["error"]
        d = nb.run_json(3, timeout=600)
        assert d["compared"] == frames and d["differ"] == [], d
        figures["cancelled_after_frames"] = len(frames) - 1
        say(f"3 cancelled midway: {p}; masks on frames {frames}, equal to the direct session's")
        shot("sam2-03-cancelled")
        log = s.server.log_tail(200_000)
        assert "Traceback" not in log, f"the kernel logged an error: {log[-2000:]}"
    except BaseException:
        print(f"[{s.app} sam2] browser console (last 40):\n" + "\n".join(nb.console[-40:]))
        try:
            nb.screenshot(s.out / "sam2-99-failure.png")
        except Exception as exc:
            print(f"[{s.app} sam2] no failure screenshot: {exc!r}")
        raise
    finally:
        (s.out / "figures-sam2.json").write_text(json.dumps(figures, indent=2))
        s.server.shutdown_kernels()
        nb.close()
