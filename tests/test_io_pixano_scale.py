"""An entity of many tracklets comes back from Pixano at a cost that grows with what it holds: the
shared restore_tracklets asks the dataset for the entity's tracklets once, not after every cut."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vidlabel as vl

F, T = 80, 40  # frames, touching tracklets of two frames each


def test_many_touching_tracklets_restored_with_one_look_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ds = vl.Dataset()
    seq = ds.add_sequence("clip", frames=np.zeros((F, 8, 8, 3), np.uint8))
    eid = ds.add_entity(seq, "a")
    mask = np.zeros((8, 8), bool)
    mask[2:5, 2:5] = True
    ds.set_masks(seq, eid, dict.fromkeys(range(F), mask))
    tid = ds.tracklets(seq, eid)[0]["id"]
    for cut in range(F - 2, 0, -2):
        ds.split_tracklet(tid, cut)
    spans = [(t["start_frame"], t["end_frame"]) for t in ds.tracklets(seq, eid)]
    assert len(spans) == T
    out = ds.to_pixano(tmp_path / "px", progress=False)

    calls: list[Any] = []
    original = vl.Dataset.tracklets

    def counted(self: vl.Dataset, *args: Any, **kw: Any) -> list[dict[str, Any]]:
        calls.append(args)
        return original(self, *args, **kw)

    monkeypatch.setattr(vl.Dataset, "tracklets", counted)
    back = vl.read_pixano(out, progress=False)
    monkeypatch.undo()
    assert [(t["start_frame"], t["end_frame"]) for t in back.tracklets(seq, eid)] == spans
    assert len(calls) == 1  # one entity, one look-up (not one after each cut)
