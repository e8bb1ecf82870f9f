"""The review in the Annotator, in JupyterLab and headless Chromium, as a person uses it.

One notebook: cell 0 builds a 30-frame synthetic sequence whose two objects have their true masks
as propagated (non-keyframe) masks after a keyframe on frame 0, with errors put in on a few frames
(a shifted mask, a lost one, a leak); cell 1 shows ``vl.Annotator(ds, engine=None)``; cell 2
reports the kernel's queue (the rows some signal fired on, worst first) and the reviewed pairs.
Steps, each with a screenshot under ``test-output/e2e/lab/``:

1. the review strip shows, red where the worst row is, and the counter says what the kernel's
   queue holds;
2. N jumps to the worst frame and shows its entity and reasons; Shift+N and N step back and forth;
3. Y accepts the row under review and moves on; the counter falls by one each time, until zero, and
   the kernel holds every flagged row as reviewed.

Figures (N's latency: deciding in the browser, and keydown to the frame painted) go to
``figures-review.json``; the test never asserts on time.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

import pytest

from .annotator_page import JS_PRESS, AnnotatorView, show_widget
from .conftest import AppSession
from .harness import HarnessError, NotebookPage, wait_for, write_notebook

pytestmark = pytest.mark.e2e

N, W, H = 30, 320, 240

SETUP = f"""import json
import numpy as np
import vidlabel as vl

video = vl.demo.synthetic_video({N}, {W}, {H}, 2, 0, 24.0)
ds = vl.Dataset()
seq = ds.add_sequence("synthetic", frames=video.frames, fps=24.0)
with ds.transaction("masks as propagated, with errors"):
    for k in (1, 2):
        e = ds.add_entity(seq, f"object {{k}}")
        truth = video.object_mask(k)
        for t in range({N}):
            m = truth[t].copy()
            if k == 1 and t == 12:
                m = np.roll(m, (0, 40), axis=(0, 1))  # shifted
            if k == 1 and t == 20:
                continue  # lost for a frame
            if k == 2 and t == 7:
                m[: {H} // 3, :] = True  # leaks into the background
            ds.set_mask(seq, t, e, m, keyframe=(t == 0))
ds.clear_history()"""

WIDGET = """w = vl.Annotator(ds, engine=None)
w"""

REPORT = """q = ds.review(seq).to_pylist()
names = {e: ds.entity(e)["name"] for e in ds.entity_ids(seq)}
flagged = [[r["frame_index"], r["entity_id"], r["reasons"], r["suspicion"]] for r in q if r["reasons"]]
print(json.dumps({
    "flagged": flagged, "names": names, "frame": w.frame, "error": w.error,
    "version": w.review["version"], "dataset_version": ds.version,
    "reviewed": {e: ds.reviewed_frames(seq, e) for e in names},
}))"""

JS_STRIP_RGB = """([frame, n]) => {
  const views = (window.__vidlabel || []).filter((v) => v.el && v.el.isConnected);
  const c = views[views.length - 1].el.querySelector("canvas.vl-review-strip");
  const x = Math.floor(((frame + 0.5) * c.width) / n), y = Math.floor(c.height / 2);
  return Array.from(c.getContext("2d").getImageData(x, y, 1, 1).data);
}"""


@pytest.mark.parametrize("app_session", ["lab"], indirect=True)
def test_review_in_the_browser(app_session: AppSession) -> None:
    s = app_session
    write_notebook(s.server.root / "review.ipynb", [SETUP, WIDGET, REPORT])
    nb = NotebookPage(s.browser.new_page(viewport={"width": 1440, "height": 1000}), s.server, "review.ipynb")
    view = AnnotatorView(nb.page, W, H)
    figures: dict[str, Any] = {"app": s.app}

    def say(msg: str) -> None:
        print(f"[{s.app} review] {msg}", flush=True)

    def shot(name: str) -> None:
        view.scroll_into_view()
        view.root.screenshot(path=str(s.out / f"{name}.png"))

    def left() -> int | None:
        text = view.part(".vl-review-count").first.get_attribute("data-left")
        return int(text) if text else None

    try:
        nb.open()
        nb.run_cell(0)
        figures.update(show_widget(nb, view, 1))
        view.wait_frame(0)
        page = nb.page

        # 1. The strip and the counter ----------------------------------------------------------------
        r = wait_for("the first queue in the kernel", lambda: (x := nb.run_json(2))["version"] >= 0 and x, 60)
        flagged = r["flagged"]
        assert len(flagged) >= 3 and not r["error"], r
        worst_frame, worst_entity, worst_reasons, worst_s = flagged[0]
        injected = {(12, 1), (20, 1), (7, 2)}
        found = {(f, int(r["names"][e].split()[-1])) for f, e, _, _ in flagged}
        assert injected <= found, f"the queue misses injected errors: {sorted(injected - found)} ({flagged})"
        strip = view.part(".vl-review-strip").first
        wait_for("the review strip", strip.is_visible, 30)
        wait_for("the counter", lambda: left() == len(flagged), 30)
        count_text = view.part(".vl-review-count").first.inner_text()
        assert count_text == f"{len(flagged)} to review", count_text
        red = page.evaluate(JS_STRIP_RGB, [worst_frame, N])
        clear = [f for f in range(N) if all(f != x[0] for x in flagged) and f > 0]
        quiet = page.evaluate(JS_STRIP_RGB, [clear[0], N])
        assert red[3] > 200 and red[0] >= red[1] and red[0] > red[2] + 100, (
            f"the worst frame's cell is not red: {red}"
        )
        assert quiet[3] < 120, f"a frame with nothing flagged is drawn strongly: {quiet}"
        say(f"1 strip shown; {count_text}; cell of frame {worst_frame} {red}, of frame {clear[0]} {quiet}")
        shot("review-01-strip")

        # 2. N, Shift+N -------------------------------------------------------------------------------
        view.focus()
        jump = page.evaluate(JS_PRESS, "n")
        view.wait_frame(worst_frame)
        reason = view.part(".vl-review-reason").first.inner_text()
        name = r["names"][worst_entity]
        words = ", ".join(x.replace("_", " ") for x in worst_reasons.split(","))
        assert reason == f"frame {worst_frame} · {name}: {words} · {worst_s:.2f}", reason
        assert jump["frame"] == worst_frame, jump
        second = flagged[1]
        view.focus()
        page.keyboard.press("n")
        view.wait_frame(second[0])
        assert view.part(".vl-review-reason").first.inner_text().startswith(f"frame {second[0]} · "), second
        view.focus()
        page.keyboard.press("Shift+N")
        view.wait_frame(worst_frame)
        timings = [jump]
        for _ in range(4):  # more jumps for the figures, back onto the worst
            view.focus()
            timings.append(page.evaluate(JS_PRESS, "n"))
            view.settle(0.2)
        view.focus()
        page.keyboard.press("Home")
        view.wait_frame(0)
        view.focus()
        page.keyboard.press("n")
        view.wait_frame(worst_frame)
        figures["n_decide_ms"] = [round(t["decided"], 2) for t in timings]
        figures["n_keydown_to_paint_ms"] = [
            round(t["painted"], 1) for t in timings if t["painted"] is not None
        ]
        say(
            f"2 N -> frame {worst_frame} ({reason!r}), N -> {second[0]}, Shift+N back; N decided in "
            f"{statistics.median(figures['n_decide_ms']):.2f} ms (median), keydown to paint "
            f"{figures['n_keydown_to_paint_ms']} ms"
        )
        shot("review-02-next")

        # 3. Accept until zero ------------------------------------------------------------------------
        seen = [left()]
        for _ in range(len(flagged) + 3):
            n = left()
            if n == 0:
                break
            view.focus()
            page.keyboard.press("y")
            wait_for(f"the counter to fall from {n}", lambda n=n: (left() or 0) < n, 30)  # type: ignore[misc]
            seen.append(left())
        assert seen == list(range(len(flagged), -1, -1)), f"the counter went {seen}"
        assert view.part(".vl-review-count").first.inner_text() == "0 to review"
        r2 = wait_for(
            "the kernel's queue to be empty",
            lambda: (x := nb.run_json(2))["flagged"] == [] and x["version"] == x["dataset_version"] and x,
            60,
        )
        reviewed = {(f, e) for e, fs in r2["reviewed"].items() for f in fs}
        assert reviewed == {(f, e) for f, e, _, _ in flagged}, (reviewed, flagged)
        assert left() == 0 and not r2["error"], r2
        say(
            f"3 Y {len(flagged)} times: the counter went {seen}; "
            f"the kernel holds {len(reviewed)} reviewed pairs"
        )
        shot("review-03-done")
        log = s.server.log_tail(200_000)
        assert "Traceback" not in log, f"the kernel logged an error: {log[-2000:]}"
    except BaseException:
        print(f"[{s.app} review] browser console (last 40):\n" + "\n".join(nb.console[-40:]))
        try:
            nb.screenshot(s.out / "review-99-failure.png")
        except (HarnessError, Exception) as exc:
            print(f"[{s.app} review] no failure screenshot: {exc!r}")
        raise
    finally:
        (s.out / "figures-review.json").write_text(json.dumps(figures, indent=2))
        s.server.shutdown_kernels()
        nb.close()
