"""The find box in JupyterLab, in headless Chromium, with the tiny random-weight SAM 3 of
tests/test_widget_find.py (no downloads): typing a text and Enter makes entities on the frame shown,
and they appear in the entity list; the status line says what was found. Over the whole video, they
are tracked and what the run finds on other frames appears too, each with its track bar."""

from __future__ import annotations

import pytest

from .annotator_page import AnnotatorView, show_widget
from .conftest import AppSession
from .harness import NotebookPage, wait_for, write_notebook

pytestmark = pytest.mark.e2e

W, H = 96, 64

SETUP = f"""import json, torch
import vidlabel as vl
from vidlabel.segment.hf_tiny import bias_object_scores, tiny_sam3_config

def tokens(text):  # token ids made directly (no tokenizer is downloaded)
    ids = torch.tensor([[49406] + [(ord(c) * 7) % 1000 for c in text] + [49407] * (31 - len(text))])
    return ids, torch.ones_like(ids)

engine = vl.segment.load("sam3", config=tiny_sam3_config(), random_weights=True, device="cpu",
                         tokenizer=tokens, threshold=0.3, max_objects=4)
bias_object_scores(engine.tracker)
video = vl.demo.synthetic_video(width={W}, height={H}, num_frames=6, num_objects=2, seed=3)
ds = vl.Dataset()
seq = ds.add_sequence("clip", frames=list(video.frames))
ds.clear_history()"""

WIDGET = """w = vl.Annotator(ds, engine=engine, frame=2)
w"""

REPORT = """print(json.dumps({"entities": ds.entity_ids(seq), "error": w.error, "busy": w.busy,
                  "frames": {e: ds.mask_frames(seq, e) for e in ds.entity_ids(seq)}}))"""


@pytest.mark.parametrize("app_session", ["lab"], indirect=True)
def test_find_box_makes_entities_that_the_list_shows(app_session: AppSession) -> None:
    s = app_session
    write_notebook(s.server.root / "find.ipynb", [SETUP, WIDGET, REPORT])
    nb = NotebookPage(s.browser.new_page(viewport={"width": 1440, "height": 1000}), s.server, "find.ipynb")
    view = AnnotatorView(nb.page, W, H)
    try:
        nb.open()
        nb.run_cell(0, timeout=600)
        show_widget(nb, view, 1)
        view.wait_frame(2)
        box = view.part(".vl-find-text").first
        assert view.part(".vl-find").first.is_visible(), "the find box is hidden with a SAM 3 engine"
        box.fill("person")
        box.press("Enter")
        status = view.part(".vl-status").first
        wait_for("the find's answer in the status line", lambda: "found" in status.inner_text(), 240, 0.2)
        r = nb.run_json(2)
        assert not r["error"] and r["busy"] == "", r
        assert r["entities"] and all(f == [2] for f in r["frames"].values()), r
        said = status.inner_text()
        assert said.startswith(f"found {len(r['entities'])} 'person' on frame 2"), said
        for e in r["entities"]:
            listed = view.part(f'.vl-entity[data-entity="{e}"]')
            wait_for(f"{e} in the entity list", listed.count, 30)
        assert view.part(".vl-frame-label").first.inner_text().startswith("2 "), "typing moved the frame"
        view.root.screenshot(path=str(s.out / "find-01-found.png"))
        # the whole video: found again (matched), tracked, and what appears on other frames is found too
        view.part(".vl-find-scope").first.select_option("video")
        box.press("End")  # a key the shortcuts would take (the last frame): the text's own here
        box.press("Enter")
        wait_for("the video find's answer", lambda: "tracked over" in status.inner_text(), 300, 0.2)
        said = status.inner_text()
        assert said.startswith(f"found {len(r['entities'])} 'person' on frame 2: 0 new"), said
        r2 = nb.run_json(2)
        assert not r2["error"] and r2["busy"] == "", r2
        assert r2["entities"][: len(r["entities"])] == r["entities"], r2
        assert set().union(*map(set, r2["frames"].values())) == set(range(6)), r2
        for e in r2["entities"]:
            wait_for(f"{e} in the entity list", view.part(f'.vl-entity[data-entity="{e}"]').count, 30)
            wait_for(f"{e}'s track bar", view.track_bar(e).count, 30)
        label = view.part(".vl-progress-label").first.inner_text()
        assert "find and track 'person'" in label, label
        assert view.part(".vl-frame-label").first.inner_text().startswith("2 "), "End moved the frame"
        view.root.screenshot(path=str(s.out / "find-02-video.png"))
    except BaseException:
        print("[find] browser console (last 40):\n" + "\n".join(nb.console[-40:]))
        raise
    finally:
        s.server.shutdown_kernels()
        nb.close()
