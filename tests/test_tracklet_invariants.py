"""Tracklets under random edits (hypothesis): they are exactly the runs of annotated frames."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

import vidlabel as vl

N_FRAMES = 6
MASK = np.zeros((6, 8), bool)
MASK[1:4, 2:6] = True

op = st.tuples(
    st.sampled_from(["set_mask", "remove_mask", "set_box", "remove_box", "set_state", "remove_state"]),
    st.integers(0, N_FRAMES - 1),
    st.integers(0, 1),
)


def _runs(frames: set[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for f in sorted(frames):
        if out and out[-1][1] == f - 1:
            out[-1] = (out[-1][0], f)
        else:
            out.append((f, f))
    return out


def _check(ds: vl.Dataset, ents: list[str]) -> None:
    tracklets = {t["id"]: t for t in ds.tracklets("s")}
    for e in ents:
        annotated: set[int] = set()
        for table in ("masks", "boxes", "states"):
            for row in ds.table(table).to_pylist():
                if row["entity_id"] != e:
                    continue
                annotated.add(row["frame_index"])
                t = tracklets[row["tracklet_id"]]  # points at an existing tracklet ...
                assert t["entity_id"] == e and t["start_frame"] <= row["frame_index"] <= t["end_frame"]
        spans = [(t["start_frame"], t["end_frame"]) for t in ds.tracklets("s", e)]
        assert spans == _runs(annotated)  # ... and tracklets are exactly the runs: no overlap, no gap


@settings(max_examples=150, deadline=None)
@given(st.lists(op, min_size=1, max_size=25))
def test_tracklets_are_runs_of_annotations_and_undo_is_exact(ops: list[tuple[str, int, int]]) -> None:
    ds = vl.Dataset(state_fields={"occluded": pa.bool_()})
    ds.add_sequence("s", num_frames=N_FRAMES, width=8, height=6)
    ents = [ds.add_entity("s"), ds.add_entity("s")]
    ds.clear_history()
    history = [ds.tables()]
    for name, frame, k in ops:
        e = ents[k]
        if name == "set_mask":
            ds.set_mask("s", frame, e, MASK)
        elif name == "set_box":
            ds.set_box("s", frame, e, (1, 1, 3, 2))
        elif name == "set_state":
            ds.set_state("s", frame, e, occluded=True)
        else:
            getattr(ds, name)("s", frame, e)
        _check(ds, ents)
        if len(ds.history()) == len(history):  # the call changed something
            history.append(ds.tables())
    for expected in reversed(history[:-1]):
        assert ds.undo()
        got = ds.tables()
        assert all(expected[n].equals(got[n]) for n in expected)
    assert not ds.undo()
