"""The Annotator's temporal edits through its messages: tracklets, boxes, states (no browser here)."""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

import pytest
from conftest import assert_same, disc, snapshot
from test_widget import Recorder, ask

import vidlabel as vl


@pytest.fixture
def widget(ds: vl.Dataset) -> Generator[tuple[vl.Annotator, Recorder, str, str]]:
    a, b = ds.add_entity("clip", "a"), ds.add_entity("clip", "b")
    ds.set_masks("clip", a, {f: disc(48, 64, 20, 10 + 3 * f, 6) for f in range(0, 8)})
    ds.set_masks("clip", b, {f: disc(48, 64, 35, 50, 5) for f in range(9, 12)})
    ds.clear_history()
    w = vl.Annotator(ds, engine=None)
    rec = Recorder(w)
    yield w, rec, a, b
    w.close()


def test_tracks_carry_ids_switches_box_keyframes_and_flags(ds: vl.Dataset, widget: Any) -> None:
    w, _rec, a, _b = widget
    assert w.state_fields == [{"name": "occluded", "type": "bool"}, {"name": "visibility", "type": "float"}]
    tid = ds.tracklets("clip", a)[0]["id"]
    assert w.tracks[a]["ids"] == [tid] and w.tracks[a]["interpolate"] == [True]
    ds.set_states("clip", a, [2, 3, 5], occluded=True)
    ds.set_box("clip", 4, a, (1, 1, 5, 5))
    w.wait()
    assert w.tracks[a]["flags"] == [[2, 3], [5, 5]]
    assert w.tracks[a]["box_keyframes"] == [4]


def test_split_relink_glue_delete_through_messages(ds: vl.Dataset, widget: Any) -> None:
    w, rec, a, b = widget
    tid = ds.tracklets("clip", a)[0]["id"]
    new = ask(w, rec, 1, "split_tracklet", tracklet=tid, frame=5)["tracklet"]
    assert w.tracks[a]["tracklets"] == [[0, 4], [5, 7]] and w.tracks[a]["ids"] == [tid, new]
    assert rec.custom("changed")[-1]["frames"] == [5, 6, 7]  # their masks now name another tracklet
    moved = ask(w, rec, 2, "relink_tracklet", tracklet=new, entity="b")["tracklet"]
    assert w.tracks[a]["tracklets"] == [[0, 4]] and w.tracks[b]["tracklets"] == [[5, 7], [9, 11]]
    assert ds.mask_frames("clip", b) == [5, 6, 7, 9, 10, 11]
    assert ask(w, rec, 3, "glue_tracklet", tracklet=moved, side="next")["tracklet"] == moved
    assert w.tracks[b]["tracklets"] == [[5, 11]]
    assert ask(w, rec, 4, "set_tracklet_span", tracklet=moved, start=6, end=11)["ok"]
    assert ds.mask_frames("clip", b) == [6, 7, 9, 10, 11]
    assert ask(w, rec, 5, "delete_tracklet", tracklet=moved)["removed"] == 5
    assert w.tracks[b]["tracklets"] == [] and w.undo_label == f"delete tracklet {moved}"
    assert ask(w, rec, 6, "undo")["done"] and w.tracks[b]["tracklets"] == [[6, 11]]


def test_boxes_interpolation_switch_and_mask_interpolation(ds: vl.Dataset, widget: Any) -> None:
    w, rec, a, _b = widget
    w.entity = a
    assert ask(w, rec, 1, "set_box", frame=1, entity=a, box=[12, 10, 2, 4])["ok"]  # corners in any order
    assert ds.box("clip", 1, a) == (2, 4, 10, 6)
    assert ask(w, rec, 2, "set_box", frame=5, entity=a, box=[6, 4, 16, 10])["ok"]
    assert ds.box("clip", 3, a) == pytest.approx((4, 4, 10, 6))
    reply = ask(w, rec, 3, "frames", start=3, stop=4)
    assert reply["items"][0]["boxes"] == [
        {"entity": a, "x": 4.0, "y": 4.0, "w": 10.0, "h": 6.0, "source": "interpolated", "keyframe": False}
    ]
    tid = ds.tracklets("clip", a)[0]["id"]
    assert ask(w, rec, 4, "set_tracklet_interpolation", tracklet=tid, on=False)["ok"]
    assert ds.box("clip", 3, a) is None and w.tracks[a]["interpolate"] == [False]
    assert ask(w, rec, 5, "remove_box", frame=5, entity=a)["removed"] is True
    assert ask(w, rec, 6, "box_from_mask", entity=a, start=0, stop=3)["written"] == 3
    assert ds.annotation("boxes", "clip", 2, a)["source"] == "mask"
    ds.remove_masks("clip", a, range(2, 6))
    ds.set_mask("clip", 0, a, disc(48, 64, 20, 10, 6))  # keyframes at 0, 1, 6, 7 with a gap between
    assert ask(w, rec, 7, "interpolate_masks", tracklet=tid, start=3, end=3)["filled"] == 4
    assert ds.annotation("masks", "clip", 4, a)["source"] == "interpolated"


def test_state_panel_follows_selection_and_edits_ranges(ds: vl.Dataset, widget: Any) -> None:
    w, rec, a, _b = widget
    assert w.state == {}
    w.entity, w.frame = a, 2
    assert w.state == {"occluded": None, "visibility": None}
    reply = ask(w, rec, 1, "set_state", entity=a, start=2, stop=6, values={"occluded": True})
    assert reply["written"] == 4 and w.undo_label == "set state on 4 frames"
    assert w.state == {"occluded": True, "visibility": None}  # the panel follows the edit
    assert w.tracks[a]["flags"] == [[2, 5]]
    ask(w, rec, 2, "set_state", entity=a, start=2, stop=3, values={"visibility": 0.5, "occluded": None})
    assert w.state == {"occluded": None, "visibility": 0.5}
    w.frame = 3
    assert w.state == {"occluded": True, "visibility": None}
    ds.set_state("clip", 3, a, visibility=0.75)  # from a cell
    w.wait()
    assert w.state["visibility"] == 0.75


BAD = [
    ({"kind": "split_tracklet", "tracklet": "ghost#1", "frame": 2}, "unknown tracklet"),
    ({"kind": "split_tracklet", "tracklet": "A", "frame": 0}, "must be in 1..7"),
    ({"kind": "split_tracklet", "tracklet": "A", "frame": 40}, "out of range"),
    ({"kind": "merge_tracklets", "tracklet": "A", "other": "B"}, "different entities"),
    ({"kind": "glue_tracklet", "tracklet": "A", "side": "up"}, "side: expected"),
    ({"kind": "glue_tracklet", "tracklet": "A", "side": "next"}, "no next tracklet"),
    ({"kind": "relink_tracklet", "tracklet": "B", "entity": "b"}, "already belongs"),
    ({"kind": "relink_tracklet", "tracklet": "A", "entity": "ghost"}, "unknown entity"),
    ({"kind": "relink_tracklet", "tracklet": "A", "entity": "b", "start": "1"}, "start: expected an integer"),
    ({"kind": "delete_tracklet", "tracklet": 3}, "non-empty string"),
    ({"kind": "set_tracklet_span", "tracklet": "A", "start": 5, "end": 2}, "ends before it starts"),
    ({"kind": "set_tracklet_span", "tracklet": "A", "start": 9, "end": 11}, "no annotation"),
    ({"kind": "set_tracklet_interpolation", "tracklet": "A", "on": 1}, "on: expected true or false"),
    ({"kind": "interpolate_masks", "tracklet": "A"}, "no gap to fill"),
    ({"kind": "set_box", "frame": 1, "entity": "a", "box": [1, 1, 1, 5]}, "no area"),
    ({"kind": "set_box", "frame": 1, "entity": "a", "box": [1, 1, "x", 5]}, "finite number"),
    ({"kind": "set_box", "frame": 99, "entity": "a", "box": [1, 1, 3, 5]}, "out of range"),
    ({"kind": "remove_box", "frame": 1}, "entity: expected"),
    ({"kind": "box_from_mask", "entity": "b", "start": 0, "stop": 3}, "no mask on those frames"),
    ({"kind": "box_from_mask", "entity": "a", "start": 0, "stop": 30}, "outside the sequence"),
    ({"kind": "set_state", "entity": "a", "start": 0, "stop": 2, "values": {"occluded": "yes"}}, "bool"),
    (
        {"kind": "set_state", "entity": "a", "start": 0, "stop": 2, "values": {"mood": 1}},
        "unknown state field",
    ),
    ({"kind": "set_state", "entity": "a", "start": 0, "stop": 2, "values": {}}, "values: expected"),
    ({"kind": "set_state", "entity": "a", "start": 0, "stop": 2, "values": {"v": [1]}}, "values.v"),
    ({"kind": "set_state", "entity": "a", "start": 2, "stop": 2, "values": {"occluded": True}}, "is empty"),
]


@pytest.mark.parametrize(("msg", "match"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_temporal_messages_are_refused_and_change_nothing(
    ds: vl.Dataset, widget: Any, caplog: pytest.LogCaptureFixture, msg: dict[str, Any], match: str
) -> None:
    w, rec, a, b = widget
    ids = {"A": ds.tracklets("clip", a)[0]["id"], "B": ds.tracklets("clip", b)[0]["id"]}
    msg = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in msg.items()}
    before = snapshot(ds)
    with caplog.at_level(logging.WARNING):
        w._on_msg(w, {**msg, "id": 7}, [])
        w.wait(10)
    reply = rec.reply(7)[0]
    assert not reply["ok"] and match in reply["error"], reply
    assert w.error == reply["error"]
    assert_same(before, ds)
    assert ds.history() == []
    assert not caplog.records, [r.getMessage() for r in caplog.records]


def test_a_tracklet_of_another_sequence_is_refused(ds: vl.Dataset, widget: Any, frames: Any) -> None:
    w, rec, _a, _b = widget
    ds.add_sequence("other", frames=frames)
    e = ds.add_entity("other")
    ds.set_mask("other", 1, e, disc(48, 64, 20, 20, 5))
    tid = ds.tracklets("other")[0]["id"]
    reply = ask(w, rec, 1, "delete_tracklet", tracklet=tid)
    assert not reply["ok"] and "belongs to sequence 'other'" in reply["error"]
    assert ds.tracklets("other")[0]["id"] == tid


@pytest.fixture
def ds(either_ds: vl.Dataset) -> vl.Dataset:
    """Every test here runs on an in-memory dataset and on a project-backed one."""
    return either_ds
