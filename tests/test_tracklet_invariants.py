"""Tracklets under random edits (hypothesis), explicit tracklet edits included.

After any sequence of edits: every mask, box and state lies in exactly one tracklet of
its entity, tracklets of one entity never overlap, none is empty, interpolated boxes are
exactly the linear ones between keyframe boxes, a refused edit changes nothing, and undoing
everything gives back every earlier state of the tables exactly.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vidlabel as vl

N_FRAMES = 8
MASKS = []
for _f in range(N_FRAMES):
    _m = np.zeros((6, 12), bool)
    _m[1:4, _f // 2 : _f // 2 + 4] = True
    MASKS.append(_m)

ANNOTATION_OPS = ["set_mask", "set_propagated", "remove_mask", "set_box", "remove_box", "set_state"]
TRACKLET_OPS = [
    "split",
    "merge",
    "glue",
    "relink",
    "delete",
    "span",
    "interp_off",
    "interp_on",
    "fill",
    "states",
]

op = st.tuples(
    st.sampled_from(ANNOTATION_OPS + TRACKLET_OPS),
    st.integers(0, N_FRAMES - 1),
    st.integers(0, 2),
    st.integers(0, 7),
    st.integers(0, N_FRAMES - 1),
)


def _apply(ds: vl.Dataset, ents: list[str], name: str, frame: int, k: int, pick: int, other: int) -> None:
    e = ents[k]
    tids = [t["id"] for t in ds.tracklets("s")]
    tid = tids[pick % len(tids)] if tids else "none#1"
    if name == "set_mask":
        ds.set_mask("s", frame, e, MASKS[frame])
    elif name == "set_propagated":
        ds.set_mask("s", frame, e, MASKS[frame], source="flow", keyframe=False)
    elif name == "set_box":
        ds.set_box("s", frame, e, (frame, 1 + pick, 3 + k, 2), extend=bool(pick % 2))
    elif name == "set_state":
        ds.set_state("s", frame, e, occluded=bool(pick % 2))
    elif name in ("remove_mask", "remove_box"):
        getattr(ds, name)("s", frame, e)
    elif name == "split":
        ds.split_tracklet(tid, frame)
    elif name == "merge":
        ds.merge_tracklets(tid, tids[other % len(tids)] if tids else tid)
    elif name == "glue":
        ds.glue_tracklet(tid, "next" if pick % 2 else "previous")
    elif name == "relink":
        ds.relink_tracklet(tid, e, start=frame if pick % 2 else None)
    elif name == "delete":
        ds.delete_tracklet(tid)
    elif name == "span":
        ds.set_tracklet_span(tid, min(frame, other), max(frame, other))
    elif name in ("interp_off", "interp_on"):
        ds.set_tracklet_interpolation(tid, name == "interp_on")
    elif name == "fill":
        ds.interpolate_masks(tid)
    elif name == "states":
        ds.set_states("s", e, range(min(frame, other), max(frame, other) + 1), occluded=True)


def _check(ds: vl.Dataset, ents: list[str]) -> None:
    tracklets = {t["id"]: t for t in ds.tracklets("s")}
    holds: dict[str, int] = dict.fromkeys(tracklets, 0)
    for table in ("masks", "boxes", "states"):
        for row in ds.table(table).to_pylist():
            t = tracklets[row["tracklet_id"]]  # an existing tracklet, of the same entity, covering the frame
            assert t["entity_id"] == row["entity_id"]
            assert t["start_frame"] <= row["frame_index"] <= t["end_frame"]
            holds[t["id"]] += 1
    assert all(holds.values()), holds  # no empty tracklet
    for e in ents:
        spans = [(t["start_frame"], t["end_frame"]) for t in ds.tracklets("s", e)]
        assert all(a <= b for a, b in spans)
        assert all(b0 < a1 for (_a0, b0), (a1, _b1) in pairwise(spans))  # sorted, never overlapping
    boxes = {(r["frame_index"], r["entity_id"]): r for r in ds.table("boxes").to_pylist()}
    for t in tracklets.values():
        mine = {f: boxes[(f, t["entity_id"])] for f, e in boxes if e == t["entity_id"]}
        mine = {f: r for f, r in mine.items() if t["start_frame"] <= f <= t["end_frame"]}
        keys = sorted(f for f, r in mine.items() if r["keyframe"])
        for f, r in mine.items():
            if r["source"] != "interpolated":
                continue
            assert t["interpolate"] is not False and not r["keyframe"]
            k0 = max(k for k in keys if k < f)  # raises if there is no keyframe on either side
            k1 = min(k for k in keys if k > f)
            w = (f - k0) / (k1 - k0)
            want = [(1 - w) * mine[k0][c] + w * mine[k1][c] for c in "xywh"]
            assert [r[c] for c in "xywh"] == pytest.approx(want, abs=1e-4)


@settings(max_examples=200, deadline=None)
@given(st.lists(op, min_size=1, max_size=30))
def test_tracklet_invariants_hold_and_undo_is_exact(ops: list[tuple[str, int, int, int, int]]) -> None:
    ds = vl.Dataset(state_fields={"occluded": pa.bool_()})
    ds.add_sequence("s", num_frames=N_FRAMES, width=12, height=6)
    ents = [ds.add_entity("s"), ds.add_entity("s"), ds.add_entity("s")]
    ds.clear_history()
    history = [ds.tables()]
    for step in ops:
        before = len(ds.history())
        try:
            _apply(ds, ents, *step)
        except vl.ValidationError:
            got = ds.tables()  # refused: nothing changed, no undo step
            assert len(ds.history()) == before
            assert all(history[-1][n].equals(got[n]) for n in got)
            continue
        _check(ds, ents)
        if len(ds.history()) > before:  # the call changed something: one undo step
            assert len(ds.history()) == before + 1
            history.append(ds.tables())
    for expected in reversed(history[:-1]):
        assert ds.undo()
        got = ds.tables()
        assert all(expected[n].equals(got[n]) for n in expected)
    assert not ds.undo()
    for expected in history[1:]:
        assert ds.redo()
        got = ds.tables()
        assert all(expected[n].equals(got[n]) for n in expected)
