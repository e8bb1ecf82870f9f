"""The Annotator's find box: a ``find`` request runs a SAM 3 text (concept) prompt, sent as the browser does.

The engine is the tiny random-weight SAM 3 of tests/test_segment_transformers.py (no downloads), whose
detector finds a few instances of any text on these frames.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

import numpy as np
import pytest
from conftest import assert_same, disc, snapshot
from test_segment_base import PaintEngine
from test_segment_transformers import _video, sam3  # noqa: F401  (sam3: the fixture)
from test_widget import GatedEngine, Recorder, _wait_for, ask

import vidlabel as vl

NUM_FRAMES = 6


@pytest.fixture(scope="module")
def clip6() -> np.ndarray:
    return _video(NUM_FRAMES)


@pytest.fixture
def ds(clip6: np.ndarray) -> vl.Dataset:
    ds = vl.Dataset()
    ds.add_sequence("clip", frames=list(clip6))
    ds.clear_history()
    return ds


@pytest.fixture
def widget(ds: vl.Dataset, sam3: Any) -> Generator[tuple[vl.Annotator, Recorder]]:  # noqa: F811
    w = vl.Annotator(ds, engine=sam3)
    rec = Recorder(w)
    yield w, rec
    w.close()


def test_find_on_the_frame_creates_entities_in_one_undo_step(ds: vl.Dataset, widget: Any) -> None:
    w, rec = widget
    w.frame = 2
    reply = ask(w, rec, 1, "find", text="  person\n ", scope="frame")  # the current frame
    assert reply["ok"], reply
    found = reply["entities"]
    assert 1 <= len(found) == reply["new"] and reply["matched"] == 0
    assert (reply["text"], reply["frame"], reply["scope"]) == ("person", 2, "frame")
    assert reply["message"] == f"found {len(found)} 'person' on frame 2: {len(found)} new"
    assert "frames" not in reply  # nothing propagated
    assert ds.entity_ids("clip") == found
    for e in found:
        assert ds.entity(e)["category"] == "person"
        row = ds.annotation("masks", "clip", 2, e)
        assert row is not None and row["keyframe"] and ds.mask("clip", 2, e).any()
        assert ds.mask_frames("clip", e) == [2]
    # the entity list and the track bars have them, before the reply
    assert [e["id"] for e in w.entities] == found and all(e["category"] == "person" for e in w.entities)
    assert all(w.tracks[e]["keyframes"] == [2] for e in found)
    patched = {e for c in rec.custom("changed") for e in (c.get("tracks") or {})}
    assert patched >= set(found)
    assert ds.history() == ["sam3: find 'person' on frame 2"] and w.undo_label == ds.history()[-1]
    assert w.busy == "" and not w.progress["running"]
    # again: the same instances are matched, nothing is added
    before = snapshot(ds)
    again = ask(w, rec, 2, "find", text="person", frame=2)
    assert (again["new"], sorted(again["entities"])) == (0, sorted(found))
    assert again["matched"] == len(found) and f"{len(found)} already there" in again["message"]
    assert_same(before, ds)
    # one undo takes the whole find back; finding again after it works
    assert ask(w, rec, 3, "undo")["done"]
    assert ds.entity_ids("clip") == [] and w.entities == [] and w.tracks == {}
    third = ask(w, rec, 4, "find", text="person", frame=2)
    assert third["new"] == len(found) and ds.entity_ids("clip") == third["entities"]


def test_nothing_found_says_so(ds: vl.Dataset, widget: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    w, rec = widget
    monkeypatch.setattr(w.engine, "threshold", 0.999999)  # nothing scores above it (random weights)
    for rid, scope in enumerate(("frame", "video")):
        reply = ask(w, rec, rid, "find", text="dog", frame=4, scope=scope)
        assert reply["ok"] and reply["entities"] == [] and (reply["new"], reply["matched"]) == (0, 0)
        assert reply["message"] == "no 'dog' found on frame 4"
    assert reply["frames"] == 0 and not reply["cancelled"]  # the video scope tracked nothing
    assert ds.entity_ids("clip") == [] and ds.history() == []
    assert not w.progress["running"] and w.busy == ""


def test_find_in_the_video_tracks_what_it_found(ds: vl.Dataset, widget: Any) -> None:
    w, rec = widget
    reply = ask(w, rec, 1, "find", text="person", frame=3, scope="video")
    assert reply["ok"], reply
    found = reply["entities"]
    assert reply["new"] == len(found) >= 1
    assert (reply["frames"], reply["cancelled"]) == (NUM_FRAMES, False)
    assert reply["kept"] == len(found)  # the keyframes of the find
    assert reply["message"].endswith(f"; tracked over {NUM_FRAMES} frames")
    for e in found:
        assert ds.entity(e)["category"] == "person"
        assert ds.annotation("masks", "clip", 3, e)["keyframe"]
        assert w.tracks[e]["keyframes"] == [3]
    written = {f for e in found for f in ds.mask_frames("clip", e)}
    assert written == set(range(NUM_FRAMES))
    assert w.progress == {
        "running": False,
        "done": NUM_FRAMES,
        "total": NUM_FRAMES,
        "label": "sam3: track 'person' both ways from frame 3",
        "cancelled": False,
    }
    assert ds.history() == ["sam3: find 'person' on frame 3", "sam3: propagate both from frame 3"]
    # The entity list had the found entities before any tracked frame landed.
    order = [m for m, _ in rec.msgs]
    listed = next(
        i
        for i, m in enumerate(order)
        if m.get("method") == "update" and set(found) <= {e["id"] for e in m["state"].get("entities", [])}
    )
    tracked = next(
        i
        for i, m in enumerate(order)
        if m.get("method") == "custom"
        and m["content"]["kind"] == "changed"
        and set(m["content"]["frames"] or []) - {3}
    )
    assert listed < tracked
    assert w.busy == "" and not w._propagating


def test_cancel_stops_a_video_find_keeping_whole_frames(ds: vl.Dataset, widget: Any) -> None:
    w, rec = widget

    def cancel_after_first_tracked_frame(change: Any) -> None:
        if change.frames.get("clip", set()) - {3} and not rec.custom("reply"):
            # mid-run: another edit is refused, then the cancel request stops the run
            w._on_msg(w, {"kind": "erase", "id": 7, "entity": found[0], "start": 0, "stop": 1}, [])
            w._on_msg(w, {"kind": "cancel", "id": 8}, [])

    found: list[str] = []
    unobserve = ds.observe(lambda c: found.extend(e for e in ds.entity_ids("clip") if e not in found))
    stop = ds.observe(cancel_after_first_tracked_frame)
    reply = ask(w, rec, 1, "find", text="person", frame=3, scope="video")
    unobserve()
    stop()
    assert "a propagation is running" in rec.reply(7)[0]["error"]
    assert rec.reply(8)[0]["cancelled"] is True
    assert reply["ok"] and reply["cancelled"] and reply["entities"] == found
    assert reply["frames"] == 2 and "tracking cancelled after 2 frames" in reply["message"]
    # whole frames: the start frame and the first frame tracked forward, every entity on them
    assert {f for e in found for f in ds.mask_frames("clip", e)} == {3, 4}
    assert all(ds.annotation("masks", "clip", 4, e) is not None for e in found)
    assert w.progress["cancelled"] and not w.progress["running"] and w.busy == ""
    # the tracking and the find are two undo steps
    assert ask(w, rec, 2, "undo")["done"] and all(ds.mask_frames("clip", e) == [3] for e in found)
    assert ask(w, rec, 3, "undo")["done"] and ds.entity_ids("clip") == []


def test_a_cancel_during_the_detection_keeps_the_found_entities_and_tracks_nothing(
    ds: vl.Dataset, widget: Any
) -> None:
    w, rec = widget
    stop = ds.observe(lambda c: "entities" in c.tables and w.cancel())
    reply = ask(w, rec, 1, "find", text="person", frame=1, scope="video")
    stop()
    assert reply["ok"] and reply["cancelled"] and reply["frames"] == 0 and reply["new"] >= 1
    assert "tracking cancelled after 0 frames" in reply["message"]
    assert all(ds.mask_frames("clip", e) == [1] for e in reply["entities"])
    assert ds.history() == ["sam3: find 'person' on frame 1"] and not w.progress["running"]


BAD = [
    ({}, "find.text: expected what to find"),
    ({"text": 5}, "find.text: expected what to find"),
    ({"text": ""}, "find.text"),
    ({"text": " \t\n "}, "find.text"),
    ({"text": "x" * 81}, "find.text: 81 characters, at most 80"),
    ({"text": "dog", "scope": "world"}, "find.scope: expected 'frame' or 'video'"),
    ({"text": "dog", "scope": None}, "find.scope"),
    ({"text": "dog", "frame": "3"}, "find.frame: expected an integer"),
    ({"text": "dog", "frame": True}, "find.frame: expected an integer"),
    ({"text": "dog", "frame": NUM_FRAMES}, f"find.frame: frame {NUM_FRAMES} is out of range"),
    ({"text": "dog", "frame": -1}, "find.frame: frame -1 is out of range"),
    ({"text": "dog", "entities": "all"}, "find: unknown field(s) entities"),
]


@pytest.mark.parametrize(("fields", "match"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_find_requests_are_refused_and_change_nothing(
    ds: vl.Dataset, widget: Any, caplog: pytest.LogCaptureFixture, fields: dict[str, Any], match: str
) -> None:
    w, rec = widget
    ds.add_entity("clip", "a", category="person")
    ds.set_mask("clip", 0, "a", disc(64, 96, 20, 30, 8))
    before, history = snapshot(ds), ds.history()
    with caplog.at_level(logging.WARNING):
        w._on_msg(w, {"kind": "find", "id": 1, **fields}, [])
        w.wait(10)
    reply = rec.reply(1)[0]
    assert not reply["ok"] and match in reply["error"], reply
    assert w.error == reply["error"]
    assert_same(before, ds)
    assert ds.history() == history
    assert not caplog.records, [r.getMessage() for r in caplog.records]


def test_the_browser_is_told_whether_the_engine_finds(ds: vl.Dataset, widget: Any) -> None:
    w, _ = widget
    assert w.can_find and w.engine_name == "sam3"
    assert "can_find" in w.keys  # a synced trait: the find box shows only with it
    for engine in ("flow", None):
        other = vl.Annotator(ds, engine=engine)
        assert other.can_find is False
        other.close()


class _SaysItFinds(PaintEngine):
    """Declares ``finds`` but its sessions have no ``find``: still refused, not a crash."""

    name = "pretends"
    finds = True


def test_engines_that_cannot_find_are_refused_with_what_to_load(ds: vl.Dataset) -> None:
    ds.add_entity("clip", "a")
    ds.set_mask("clip", 0, "a", disc(64, 96, 20, 30, 8))
    before, history = snapshot(ds), ds.history()
    for engine in ("flow", None, _SaysItFinds()):
        w = vl.Annotator(ds, engine=engine)
        rec = Recorder(w)
        name = getattr(w.engine, "name", None)
        for rid, scope in enumerate(("frame", "video")):
            reply = ask(w, rec, rid, "find", text="person", scope=scope)
            assert not reply["ok"]
            if engine is None:
                assert "no engine" in reply["error"]
            else:
                assert reply["error"].startswith(f"find: the {name!r} engine cannot find objects from a text")
                assert "load the 'sam3' engine" in reply["error"] and w.error == reply["error"]
            assert not w.progress["running"] and w.busy == "" and not w._propagating
        w.close()
    assert_same(before, ds)
    assert ds.history() == history


def test_find_is_refused_while_a_propagation_runs(ds: vl.Dataset) -> None:
    engine = GatedEngine()
    ds.add_entity("clip", "a")
    ds.set_mask("clip", 0, "a", disc(64, 96, 20, 30, 8))
    w = vl.Annotator(ds, engine=engine, entity="a")
    rec = Recorder(w)
    w._on_msg(w, {"kind": "propagate", "id": 1, "direction": "forward", "entities": "selected"}, [])
    engine.gate.release(1)
    _wait_for(lambda: w.progress["running"] and w.progress["total"] > 0)
    before = snapshot(ds)
    w._on_msg(w, {"kind": "find", "id": 2, "text": "person"}, [])
    assert "find: a propagation is running" in rec.reply(2)[0]["error"]
    assert_same(before, ds)
    engine.gate.release(50)
    w.wait(10)
    assert rec.reply(1)[0]["ok"]
    w.close()
