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
from hf_reference import video
from test_segment_base import PaintEngine
from test_segment_transformers import sam3  # noqa: F401  (the fixture)
from test_widget import GatedEngine, Recorder, _wait_for

import vidlabel as vl

NUM_FRAMES = 6


def ask(w: vl.Annotator, rec: Recorder, rid: int, kind: str, **fields: Any) -> dict[str, Any]:
    """As the browser asks, and the reply (a run of the model on two shared cores may take a while)."""
    w._on_msg(w, {"kind": kind, "id": rid, **fields}, [])
    w.wait(120)
    return rec.reply(rid)[0]


@pytest.fixture(scope="module")
def clip6() -> np.ndarray:
    return video(NUM_FRAMES)


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
    reply = ask(w, rec, 1, "find", text="dog", frame=4, scope="frame")
    assert reply["ok"] and reply["entities"] == [] and (reply["new"], reply["matched"]) == (0, 0)
    assert reply["message"] == "no 'dog' found on frame 4"
    # the video scope looks on every frame, and says so
    reply = ask(w, rec, 2, "find", text="dog", frame=4, scope="video")
    assert reply["ok"] and reply["entities"] == [] and reply["found"] == []
    assert (reply["frames"], reply["written"], reply["cancelled"]) == (NUM_FRAMES, 0, False)
    assert (
        reply["message"]
        == f"no 'dog' found on frame 4; none in the video either ({NUM_FRAMES} frames searched)"
    )
    assert ds.entity_ids("clip") == [] and ds.history() == []
    assert not w.progress["running"] and w.busy == ""


def test_find_in_the_video_tracks_what_it_found(ds: vl.Dataset, widget: Any) -> None:
    """With the tiny model's own detector: what holds whatever its random weights find."""
    w, rec = widget
    reply = ask(w, rec, 1, "find", text="person", frame=3, scope="video")
    assert reply["ok"], reply
    here, later = reply["entities"], reply["found"]
    assert reply["new"] == len(here) >= 1 and not set(here) & set(later)
    assert (reply["frames"], reply["cancelled"]) == (NUM_FRAMES, False)
    more = f", {len(later)} more found as it went" if later else ""
    assert reply["message"].endswith(f"; tracked over {NUM_FRAMES} frames{more}")
    assert ds.entity_ids("clip") == here + later  # nothing else was made
    for e in here + later:
        assert ds.entity(e)["category"] == "person"
        keys = [f for f in ds.mask_frames("clip", e) if ds.annotation("masks", "clip", f, e)["keyframe"]]
        assert w.tracks[e]["keyframes"] == keys and len(keys) == 1  # where it was found
        assert (keys == [3]) == (e in here)
    written = {f for e in here for f in ds.mask_frames("clip", e)}
    assert written == set(range(NUM_FRAMES))
    assert w.progress == {
        "running": False,
        "done": NUM_FRAMES,
        "total": NUM_FRAMES,
        "label": "sam3: find and track 'person' both ways from frame 3",
        "cancelled": False,
    }
    assert ds.history() == ["sam3: find 'person' on frame 3", "sam3: propagate both from frame 3"]
    # The entity list had the found entities before any tracked frame landed.
    order = [m for m, _ in rec.msgs]
    listed = next(
        i
        for i, m in enumerate(order)
        if m.get("method") == "update" and set(here) <= {e["id"] for e in m["state"].get("entities", [])}
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


def _square(x: int, y: int, s: int = 16) -> np.ndarray:
    m = np.zeros((64, 96), bool)
    m[y : y + s, x : x + s] = True
    return m


CAR_A, CAR_B = _square(8, 8), _square(60, 36)


@pytest.fixture
def sees(monkeypatch: pytest.MonkeyPatch) -> dict[int, list[np.ndarray]]:
    """A stand-in for the detector (the one method find and propagation ask): on each frame it sees the
    squares put in ``sees[frame]``, and the masks the dataset holds there of entities of the text's
    category (an instance as tracked before)."""
    from vidlabel.segment.sam3_find import SAM3Session

    squares: dict[int, list[np.ndarray]] = {}

    def detect(self: Any, text: str, frame: int, threshold: Any = None, max_objects: Any = None) -> Any:
        ds, seq = self.dataset, self.sequence
        held = [
            m
            for e in ds.entity_ids(seq)
            if ds.entity(e)["category"] == text and (m := ds.mask(seq, frame, e)) is not None and m.any()
        ]
        return [(m, 0.9) for m in squares.get(frame, []) + held]

    monkeypatch.setattr(SAM3Session, "detect", detect)
    return squares


def test_a_video_find_with_nothing_on_the_frame_finds_what_appears_later(
    ds: vl.Dataset, widget: Any, sees: dict[int, list[np.ndarray]]
) -> None:
    w, rec = widget
    sees[4] = [CAR_B]  # a car that comes into view on frame 4
    other = ds.add_entity("clip", "walker", category="person")
    ds.set_mask("clip", 0, other, CAR_A)  # a keyframe of something else: not tracked by a find
    ds.clear_history()
    w.wait(10)
    reply = ask(w, rec, 1, "find", text="car", frame=1, scope="video")
    assert reply["ok"], reply
    (car,) = reply["found"]
    assert (reply["entities"], reply["new"], reply["matched"]) == ([], 0, 0)
    assert reply["frames"] == NUM_FRAMES and not reply["cancelled"]
    assert (
        reply["message"]
        == f"no 'car' found on frame 1; tracked over {NUM_FRAMES} frames, 1 more found as it went"
    )
    assert ds.entity(car)["category"] == "car" and ds.entity_ids("clip") == [other, car]
    row = ds.annotation("masks", "clip", 4, car)
    assert row is not None and row["keyframe"] and row["source"].startswith("sam3:")
    assert ds.mask_frames("clip", car) == [4, 5]  # from where it appeared on, nothing before it
    assert ds.mask_frames("clip", other) == [0]  # the find left the other entity alone
    # in the entity list and on the track bars, as any edit's entities are
    assert {"id": car, "category": "car"}.items() <= next(e for e in w.entities if e["id"] == car).items()
    assert w.tracks[car]["keyframes"] == [4]
    assert any(car in (c.get("tracks") or {}) for c in rec.custom("changed"))
    # the run, with the entity it made, is one undo step (the find on the frame made nothing)
    assert ds.history() == ["sam3: propagate both from frame 1"]
    assert ask(w, rec, 2, "undo")["done"] and ds.entity_ids("clip") == [other]
    assert [e["id"] for e in w.entities] == [other]


def test_the_propagate_button_after_a_find_tracks_only_what_there_is(
    ds: vl.Dataset, widget: Any, sees: dict[int, list[np.ndarray]]
) -> None:
    w, rec = widget
    sees[0] = [CAR_A]
    reply = ask(w, rec, 1, "find", text="car", frame=0, scope="frame")
    assert reply["ok"] and reply["new"] == 1, reply
    (car,) = ds.entity_ids("clip")
    sees[3] = [CAR_B]  # a second car the detector would see: Propagate is not a find
    reply = ask(w, rec, 2, "propagate", direction="forward", entities="all", frame=0)
    assert reply["ok"], reply
    assert ds.entity_ids("clip") == [car] and "found" not in reply
    assert ds.mask_frames("clip", car) == list(range(NUM_FRAMES))


def test_cancel_stops_a_video_find_keeping_whole_frames(
    ds: vl.Dataset, widget: Any, sees: dict[int, list[np.ndarray]]
) -> None:
    w, rec = widget
    sees[3], sees[4] = [CAR_A], [CAR_B]

    def cancel_after_first_tracked_frame(change: Any) -> None:
        if change.frames.get("clip", set()) - {3} and not rec.custom("reply"):
            # mid-run: another edit is refused, then the cancel request stops the run
            w._on_msg(
                w, {"kind": "erase", "id": 7, "entity": ds.entity_ids("clip")[0], "start": 0, "stop": 1}, []
            )
            w._on_msg(w, {"kind": "cancel", "id": 8}, [])

    stop = ds.observe(cancel_after_first_tracked_frame)
    reply = ask(w, rec, 1, "find", text="car", frame=3, scope="video")
    stop()
    assert "a propagation is running" in rec.reply(7)[0]["error"]
    assert rec.reply(8)[0]["cancelled"] is True
    (a,), (b,) = reply["entities"], reply["found"]  # found on frame 3; appeared on frame 4
    assert reply["ok"] and reply["cancelled"] and ds.entity_ids("clip") == [a, b]
    assert reply["frames"] == 2
    assert (
        reply["message"]
        == "found 1 'car' on frame 3: 1 new; tracking cancelled after 2 frames, 1 more found as it went"
    )
    # whole frames: the start frame and the first frame tracked forward, every entity tracked on them
    assert ds.mask_frames("clip", a) == [3, 4] and ds.mask_frames("clip", b) == [4]
    assert (
        not ds.annotation("masks", "clip", 4, a)["keyframe"]
        and ds.annotation("masks", "clip", 4, b)["keyframe"]
    )
    assert w.progress["cancelled"] and not w.progress["running"] and w.busy == ""
    # the tracking (with what it found) and the find are two undo steps
    assert (
        ask(w, rec, 2, "undo")["done"] and ds.entity_ids("clip") == [a] and ds.mask_frames("clip", a) == [3]
    )
    assert ask(w, rec, 3, "undo")["done"] and ds.entity_ids("clip") == []


def test_a_cancel_during_the_detection_keeps_the_found_entities_and_tracks_nothing(
    ds: vl.Dataset, widget: Any
) -> None:
    w, rec = widget
    stop = ds.observe(lambda c: "entities" in c.tables and w.cancel())
    reply = ask(w, rec, 1, "find", text="person", frame=1, scope="video")
    stop()
    assert reply["ok"] and reply["cancelled"] and reply["frames"] == 0 and reply["new"] >= 1
    assert reply["found"] == [] and reply["message"].endswith("; tracking cancelled after 0 frames")
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
    assert "can_find" in w.keys  # a synced trait: the find box is usable only with it
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
                assert "no engine; finding from a text needs the 'sam3' engine" in reply["error"]
            else:
                assert reply["error"].startswith(f"find: the {name!r} engine cannot find objects from a text")
                assert "load the 'sam3' engine" in reply["error"] and w.error == reply["error"]
                assert "vl.segment.load('sam3', ...)" in reply["error"]
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
