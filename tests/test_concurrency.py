"""The dataset shared by a cell, the widget's worker thread and engines at once: undo that belongs to
whoever did the work, and reads that always see one committed version."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
from conftest import disc
from test_segment_base import PaintEngine

import vidlabel as vl
from vidlabel import rle as rlemod

H, W, N = 24, 32, 60


def _tables(ds: vl.Dataset) -> dict:
    return {n: ds.table(n) for n in ("entities", "tracklets", "masks", "boxes", "states")}


def _rows(table, **match) -> set:
    rows = table.to_pylist()
    keep = [r for r in rows if all(r[k] == v for k, v in match.items())]
    return {tuple(sorted((k, v) for k, v in r.items() if k != "tracklet_id")) for r in keep}


def _run_with_cell_edits(cell_frames: list[int], cell_entity: str):
    """A propagation of entity "a" over 60 frames in a worker thread; when it reaches frame 30 the
    main thread (a cell) edits: ``cell_entity`` gets masks on ``cell_frames`` (a new entity "c" is
    added first if asked). Returns the dataset after both, and the tables before each part."""
    ds = vl.Dataset()
    ds.add_sequence("clip", frames=np.zeros((N, H, W, 3), np.uint8))
    ds.add_entity("clip", "a")
    ds.clear_history()
    sess = PaintEngine().session(ds, "clip")
    sess.prompt(0, "a", points=[(10, 10)])  # writes the keyframe on frame 0
    ds.clear_history()
    reached, resume = threading.Event(), threading.Event()

    def on_frame(frame: int, done: int, total: int) -> None:
        if frame == 30:
            reached.set()
            assert resume.wait(30)

    worker = threading.Thread(target=lambda: sess.propagate_into(progress=False, on_frame=on_frame))
    worker.start()
    assert reached.wait(30)
    with ds.transaction("cell edits"):
        if cell_entity == "c":
            ds.add_entity("clip", "c")
        for f in cell_frames:
            ds.set_mask("clip", f, cell_entity, disc(H, W, 12, 20, 4))
    resume.set()
    worker.join(30)
    assert not worker.is_alive()
    return ds


@pytest.mark.parametrize("first", ["run", "cell"])
def test_a_cell_edit_during_a_propagation_is_its_own_undo_step(first: str) -> None:
    ds = _run_with_cell_edits([10, 20, 40, 50], "c")  # frames the run also writes (for "a")
    assert ds.history() == ["cell edits", "paint: propagate forward from frame 0"]
    after = _tables(ds)
    prompted = _rows(after["masks"], entity_id="clip/001", frame_index=0)
    run_rows = _rows(after["masks"], entity_id="clip/001")
    cell_rows = _rows(after["masks"], entity_id="clip/002")
    assert len(run_rows) == N and len(cell_rows) == 4
    order = ["paint: propagate forward from frame 0", "cell edits"]
    if first == "cell":
        order = order[::-1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # disjoint rows: no conflict to report
        for label in order:
            assert label in ds.history()
            assert ds.undo(label)  # the cell's step can go first although the run's is newer
            if label == "cell edits":
                assert _rows(ds.table("masks"), entity_id="clip/002") == set()
                assert ds.entity_ids("clip")[:1] == ["clip/001"] and "clip/002" not in ds.entity_ids("clip")
            else:
                assert _rows(ds.table("masks"), entity_id="clip/001") == prompted
            if label == order[0]:  # the other step's rows are exactly as they were
                other = "clip/001" if label == "cell edits" else "clip/002"
                assert _rows(ds.table("masks"), entity_id=other) == (
                    run_rows if other == "clip/001" else cell_rows
                )
    assert _rows(ds.table("masks")) == prompted
    assert [(t["start_frame"], t["end_frame"]) for t in ds.tracklets("clip")] == [(0, 0)]


def test_undoing_a_run_keeps_a_newer_cell_edit_of_the_same_rows() -> None:
    """The cell overwrites frames 10 and 20 of entity "a" after the run wrote them: undoing the run
    takes back its own rows only, warns, and says which rows it left; tracklets stay whole."""
    ds = _run_with_cell_edits([10, 20], "a")
    assert ds.history() == ["cell edits", "paint: propagate forward from frame 0"]
    mine = {f: ds.rle("clip", f, "a") for f in (10, 20)}
    changes: list[vl.Change] = []
    ds.observe(changes.append)
    with pytest.warns(RuntimeWarning, match="left as they are"):
        assert ds.undo()  # the run
    assert ds.mask_frames("clip", "a") == [0, 10, 20]  # the prompt's keyframe, and the cell's two
    assert all(ds.rle("clip", f, "a") == mine[f] for f in (10, 20))
    assert {k for _t, k in changes[-1].conflicts} >= {("clip", 10, "clip/001"), ("clip", 20, "clip/001")}
    spans = [(t["start_frame"], t["end_frame"]) for t in ds.tracklets("clip", "a")]
    assert spans == [(0, 20)]  # the run's tracklet, trimmed to what is left (gaps stay gaps)
    for f in (0, 10, 20):
        row = ds.annotation("masks", "clip", f, "a")
        assert row is not None and row["tracklet_id"] == ds.tracklets("clip", "a")[0]["id"]
    assert ds.undo()  # the cell's edits: frames 10 and 20 go back to what was there before the run
    assert ds.mask_frames("clip", "a") == [0]
    assert [(t["start_frame"], t["end_frame"]) for t in ds.tracklets("clip", "a")] == [(0, 0)]


def test_undo_and_redo_stay_available_to_others_while_a_run_is_open() -> None:
    ds = vl.Dataset()
    ds.add_sequence("clip", num_frames=10, width=W, height=H)
    a = ds.add_entity("clip", "a")
    ds.clear_history()
    opened, release, failures = threading.Event(), threading.Event(), []

    def run() -> None:
        with ds.undo_group("long run"):
            ds.set_mask("clip", 0, a, disc(H, W, 5, 5, 3))
            try:
                ds.undo()  # the run's own thread: refused while its group is open
            except vl.ValidationError as exc:
                failures.append(str(exc))
            opened.set()
            assert release.wait(30)
            ds.set_mask("clip", 1, a, disc(H, W, 5, 5, 3))

    t = threading.Thread(target=run)
    t.start()
    assert opened.wait(30)
    ds.set_mask("clip", 5, a, disc(H, W, 8, 8, 3))  # a cell, meanwhile
    assert ds.history() == ["set mask 5"] and ds.history.running == ["long run"]
    assert ds.undo() and ds.mask_frames("clip", a) == [0]  # the cell's step only
    assert ds.redo() and ds.mask_frames("clip", a) == [0, 5]
    release.set()
    t.join(30)
    assert failures and "while 'long run' is running" in failures[0]
    assert ds.history() == ["set mask 5", "long run"]
    assert ds.undo() and ds.mask_frames("clip", a) == [5]


def test_undo_does_not_delete_an_entity_a_running_propagation_annotated() -> None:
    """Add entity b, start a run that writes b's masks, press undo meanwhile: "add entity b" is the
    last finished step, but the run's rows need b, so the undo is refused and nothing changes."""
    ds = vl.Dataset()
    ds.add_sequence("clip", num_frames=4, width=W, height=H)
    ds.clear_history()
    b = ds.add_entity("clip", "b")
    wrote, release = threading.Event(), threading.Event()

    def run() -> None:
        with ds.undo_group("run"):
            ds.set_mask("clip", 1, b, disc(H, W, 5, 5, 3))
            wrote.set()
            assert release.wait(30)

    t = threading.Thread(target=run)
    t.start()
    assert wrote.wait(30)
    before = ds.tables()
    try:
        refused = r"'add entity b' cannot be taken back now: entity 'b' has 1"
        with pytest.raises(vl.ValidationError, match=refused):
            ds.undo()
        assert all(before[n].equals(ds.table(n)) for n in before) and ds.history() == ["add entity b"]
    finally:
        release.set()
        t.join(30)
    assert ds.history() == ["add entity b", "run"] and ds.undo() and ds.mask_frames("clip", b) == []
    assert ds.undo() and ds.entity_ids("clip") == []  # now nothing needs it


def test_history_is_bounded_and_says_what_it_dropped() -> None:
    ds = vl.Dataset(history_bytes=40_000, history_steps=1000)
    ds.add_sequence("clip", num_frames=200, width=64, height=48)
    e = ds.add_entity("clip", "a")
    rng = np.random.default_rng(0)
    for f in range(200):
        ds.set_mask("clip", f, e, rng.random((48, 64)) > 0.5)  # noisy: ~1.5 KB of counts each
    h = ds.history
    assert h.dropped > 0 and h.nbytes <= 40_000 and h.dropped_bytes > 0
    assert len(h.undo) + h.dropped == 202
    assert h.undo[-1] == "set mask 199" and "set mask 0" not in h.undo
    assert "dropped" in repr(h)
    ds2 = vl.Dataset(history_steps=5)
    ds2.add_sequence("clip", num_frames=20, width=8, height=8)
    e = ds2.add_entity("clip", "a")
    for f in range(20):
        ds2.set_mask("clip", f, e, np.ones((8, 8), bool))
    assert len(ds2.history()) == 5 and ds2.history.dropped == 17
    while ds2.undo():
        pass
    assert ds2.mask_frames("clip", e) == list(range(15))  # only the last five could be undone


def test_reads_always_see_one_committed_version() -> None:
    """Each frame holds 10 masks of one generation (a bar of that width); writers move a whole frame
    to a new generation in one transaction while others compact the table. Every read must show 10
    masks of one generation that was committed for that frame (before: 0, 3, 4 or 6 masks were seen)."""
    frames, ents = 8, 10
    ds = vl.Dataset()
    ds.add_sequence("clip", num_frames=frames, width=W, height=H)
    eids = [ds.add_entity("clip") for _ in range(ents)]

    def bar(g: int) -> dict:
        m = np.zeros((H, W), bool)
        m[:, :g] = True
        return rlemod.encode(m)

    committed: dict[int, set[int]] = {f: {1} for f in range(frames)}
    with ds.transaction("fill"):
        for f in range(frames):
            for e in eids:
                ds.set_mask("clip", f, e, bar(1))
    stop = threading.Event()
    bad: list[str] = []
    reads = [0]
    lock = threading.Lock()

    def writer(seed: int) -> None:
        rng = np.random.default_rng(seed)
        while not stop.is_set():
            f, g = int(rng.integers(frames)), int(rng.integers(1, W))
            with lock:
                committed[f].add(g)  # logged before it can be seen
            with ds.transaction("gen"):
                for e in eids:
                    ds.set_mask("clip", f, e, bar(g))

    def compactor() -> None:
        while not stop.is_set():
            ds.table("masks")

    def reader(seed: int) -> None:
        rng = np.random.default_rng(seed)
        while not stop.is_set():
            f = int(rng.integers(frames))
            kind = int(rng.integers(3))
            if kind == 0:
                gens = [int(m[0].sum()) for m in ds.masks("clip", f).values()]
            elif kind == 1:
                gens = [rlemod.area(r) // H for r in ds.rles("clip", f).values()]
            else:
                t = ds.table("masks").to_pylist()
                gens = [
                    rlemod.area({"size": [H, W], "counts": r["counts"]}) // H
                    for r in t
                    if r["frame_index"] == f
                ]
            with lock:
                ok = len(gens) == ents and len(set(gens)) == 1 and gens[0] in committed[f]
            if not ok:
                bad.append(f"frame {f}: {gens}")
            reads[0] += 1

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    threads += [threading.Thread(target=compactor)]
    threads += [threading.Thread(target=reader, args=(10 + i,)) for i in range(3)]
    for t in threads:
        t.start()
    stop.wait(3.0)
    stop.set()
    for t in threads:
        t.join(30)
    assert reads[0] > 100
    assert not bad, f"{len(bad)} of {reads[0]} reads saw a half-applied edit, e.g. {bad[:3]}"
