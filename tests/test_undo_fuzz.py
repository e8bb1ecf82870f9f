"""Random editing sessions with undo and redo of any step, in any order (``ds.undo(label)``): after
every call the tables pass the loaders' validation (every annotation inside a tracklet of its entity
that names it, no overlaps, no dangling references), and a refused undo changes nothing. Undoing
everything in order at the end gives back the empty start, unless an undo is refused for a stated
dependency (a later row still needs what it would remove)."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest

import vidlabel as vl
from vidlabel.validation import validate_tables

H, W, N = 8, 8, 12
ANNOTATED = ("masks", "boxes", "states", "tracklets")


def _valid(ds: vl.Dataset) -> None:
    tables = ds.tables()
    validate_tables(tables, source="fuzz", custom=ds.custom_fields)


def _step(ds: vl.Dataset, rnd: random.Random, i: int) -> None:
    ents = ds.entity_ids("s")
    c = rnd.random()
    if c < 0.1 or not ents:
        ds.add_entity("s", f"e{i}")
        return
    e, f = rnd.choice(ents), rnd.randrange(N)
    if c < 0.4:
        m = np.zeros((H, W), bool)
        m[rnd.randrange(H), :] = True
        ds.set_mask("s", f, e, m)
    elif c < 0.5:
        ds.set_box("s", f, e, (1, 1, 3, 3), extend=rnd.random() < 0.5)
    elif c < 0.58:
        ds.remove_mask("s", f, e)
    elif c < 0.68:
        spans = [t for t in ds.tracklets("s") if t["end_frame"] > t["start_frame"]]
        if spans:
            t = rnd.choice(spans)
            ds.split_tracklet(t["id"], rnd.randrange(t["start_frame"] + 1, t["end_frame"] + 1))
    elif c < 0.85 and ds.history():
        ds.undo(rnd.choice(ds.history()))
    elif ds.history.redo:
        ds.redo(rnd.choice(ds.history.redo))


@pytest.mark.parametrize("seed", range(120))
def test_any_order_of_undo_and_redo_keeps_the_dataset_valid(seed: int) -> None:
    rnd = random.Random(seed)
    ds = vl.Dataset()
    ds.add_sequence("s", frames=np.zeros((N, H, W, 3), np.uint8))
    ds.clear_history()
    empty = {n: ds.table(n) for n in ANNOTATED}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # conflicts are reported by warnings: expected
        for i in range(25):
            before = ds.tables()
            try:
                _step(ds, rnd, i)
            except vl.ValidationError:
                after = ds.tables()
                assert all(before[n].equals(after[n]) for n in before), "a refused call changed the data"
            _valid(ds)
        while ds.can_undo:
            try:
                ds.undo()
            except vl.ValidationError as exc:
                assert "cannot be taken back now" in str(exc)
                return
            _valid(ds)
    assert all(ds.table(n).equals(empty[n]) for n in ANNOTATED)
