"""Project folders (vl.open): reopening gives back everything committed, frames found again, the
history of recent steps too; one writer at a time; read-only snapshots; moving the folder; damaged
checkpoints refused; damaged journal tails dropped; save_as and checkpoints."""

from __future__ import annotations

import multiprocessing as mp
import shutil
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from conftest import disc
from test_segment_base import PaintEngine

import vidlabel as vl

H, W = 24, 32


def _frames(n: int = 6) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 255, (n, H, W, 3), dtype=np.uint8)


def _work(ds: vl.Dataset) -> None:
    seq = ds.add_sequence("clip", frames=_frames(), fps=6, weather="rain")
    a = ds.add_entity(seq, "a", difficulty=2)
    b = ds.add_entity(seq, "b")
    for f in range(4):
        ds.set_mask(seq, f, a, disc(H, W, 10, 8 + 2 * f, 4))
    ds.set_box(seq, 0, a, (2, 3, 10, 8))
    ds.set_box(seq, 3, a, (6, 3, 10, 8))
    ds.set_state(seq, 1, a, occluded=True)
    ds.set_mask(seq, 2, b, disc(H, W, 5, 5, 3))
    ds.split_tracklet(ds.tracklets(seq, a)[0]["id"], 2)
    ds.remove_mask(seq, 2, b)
    ds.undo()  # the removal comes back: "remove 1 masks" waits on the redo stack


def _open(path: Path, **kw) -> vl.Dataset:
    return vl.open(
        path,
        sequence_fields={"weather": pa.string()},
        entity_fields={"difficulty": pa.int32()},
        state_fields={"occluded": pa.bool_()},
        **kw,
    )


def _same(a: vl.Dataset, b: vl.Dataset) -> bool:
    return all(
        a.table(n).equals(b.table(n))
        for n in ("sequences", "frames", "entities", "tracklets", "masks", "boxes", "states")
    )


def test_reopen_gives_back_everything_committed(tmp_path: Path) -> None:
    ds = _open(tmp_path / "shoot.vlproj")
    _work(ds)
    history, redo = ds.history(), ds.history.redo
    mem = vl.Dataset(
        sequence_fields={"weather": pa.string()},
        entity_fields={"difficulty": pa.int32()},
        state_fields={"occluded": pa.bool_()},
    )
    _work(mem)
    ds.close()
    with pytest.raises(vl.ValidationError, match="is closed"):
        ds.set_mask("clip", 5, "a", disc(H, W, 5, 5, 2))
    back = vl.open(tmp_path / "shoot.vlproj")
    assert _same(back, ds)
    for n in ("entities", "tracklets", "masks", "boxes", "states"):  # and what memory alone would hold
        assert back.table(n).equals(mem.table(n))
    assert back.history() == history and back.history.redo == redo
    assert np.array_equal(back.frame("clip", 4), _frames()[4])  # array frames were kept as files
    assert back.redo() and back.mask_frames("clip", "b") == []  # the history works after a reopen
    assert back.undo() and back.undo() and len(back.tracklets("clip", "a")) == 1  # split undone
    back.close()


@pytest.mark.parametrize("checkpointed", [False, True])
def test_a_removed_entitys_id_is_not_given_again_after_a_reopen(tmp_path: Path, checkpointed: bool) -> None:
    # Undoing the removal after a newcomer had taken the id would put the old masks on the newcomer.
    ds = _open(tmp_path / "shoot.vlproj")
    ds.add_sequence("clip", frames=list(_frames()))
    a, b = ds.add_entity("clip", "a"), ds.add_entity("clip", "b")
    ds.set_mask("clip", 1, b, disc(H, W, 5, 5, 2))
    ds.remove_entity("clip", b)
    if checkpointed:
        ds.project.checkpoint()  # the removal is in the checkpoint, not the journal
    ds.close()
    back = vl.open(tmp_path / "shoot.vlproj")
    c = back.add_entity("clip", "c")
    assert c not in (a, b)
    assert back.undo() and back.undo()  # the add of c, then the removal of b
    assert back.entity_ids("clip") == [a, b] and back.mask_frames("clip", b) == [1]
    back.close()


def test_an_id_removed_and_added_in_one_transaction_is_not_given_again() -> None:
    ds = vl.Dataset()
    ds.add_sequence("clip", frames=list(_frames()))
    b = ds.add_entity("clip", "b")
    with ds.transaction("replace b"):
        ds.remove_entity("clip", b)
        c = ds.add_entity("clip", "c")
    assert c != b


def test_a_second_writer_is_refused_naming_the_holder_and_readonly_is_a_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "p.vlproj"
    ds = _open(path)
    _work(ds)
    code = (
        f"import vidlabel as vl\ntry:\n    vl.open({str(path)!r})\n"
        "except vl.ValidationError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert "open for writing by pid" in out and "readonly=True" in out
    with pytest.raises(vl.ValidationError, match="open for writing by pid"):
        vl.open(path)  # the same process, a second time
    ro = vl.open(path, readonly=True)
    assert _same(ro, ds)
    ds.set_mask("clip", 5, "a", disc(H, W, 5, 5, 2))  # the writer goes on; the snapshot stays
    assert ro.mask_frames("clip", "a") == [0, 1, 2, 3]
    with pytest.raises(vl.ValidationError, match="readonly=True"):
        ro.set_mask("clip", 5, "b", disc(H, W, 5, 5, 2))
    ds.close()
    assert vl.open(path).mask_frames("clip", "a") == [0, 1, 2, 3, 5]


def _hold_and_die(path: str, ready: mp.synchronize.Event) -> None:
    ds = vl.open(path)
    ds.add_sequence("clip", num_frames=3, width=W, height=H)
    ready.set()
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def test_the_lock_of_a_dead_kernel_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "p.vlproj"
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_hold_and_die, args=(str(path), ready))
    proc.start()
    proc.join(60)
    assert ready.is_set() and proc.exitcode is not None and proc.exitcode < 0
    ds = vl.open(path)  # no error: the holder is gone
    assert ds.sequence_ids() == ["clip"]


def test_a_moved_project_finds_its_frames(tmp_path: Path) -> None:
    frames = tmp_path / "shoot.vlproj" / "media"
    ds = vl.open(tmp_path / "shoot.vlproj")
    frames.mkdir()
    import cv2

    for i, img in enumerate(_frames(4)):
        cv2.imwrite(str(frames / f"{i:03d}.png"), img[..., ::-1])
    seq = ds.add_sequence("files", frames=str(frames / "*.png"))
    ds.add_sequence("arr", frames=_frames(3))
    ds.set_mask(seq, 1, ds.add_entity(seq), disc(H, W, 5, 5, 3))
    ds.checkpoint()
    ds.set_mask(seq, 2, "1", disc(H, W, 6, 6, 3))  # in the journal, after the checkpoint
    ds.project.release()  # a dead kernel: reopening replays the journal on top of the checkpoint
    shutil.move(tmp_path / "shoot.vlproj", tmp_path / "elsewhere.vlproj")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "frames not found"
        back = vl.open(tmp_path / "elsewhere.vlproj")
    assert back.frame_uri("files", 0).startswith(str(tmp_path / "elsewhere.vlproj"))
    assert np.array_equal(back.frame("files", 2), _frames(4)[2])
    assert np.array_equal(back.frame("arr", 1), _frames(3)[1])
    assert back.mask_frames("files", "1") == [1, 2]


def test_a_damaged_checkpoint_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "p.vlproj"
    ds = _open(path)
    _work(ds)
    ds.checkpoint()
    ds.close()
    ckpt = max((path / "checkpoints").iterdir())  # the newest: the one a reopen reads
    masks = ckpt / "masks.parquet"
    data = bytearray(masks.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 8] = bytes(b ^ 0xFF for b in data[mid : mid + 8])
    masks.write_bytes(bytes(data))
    with pytest.raises(vl.ValidationError, match=r"checkpoint \d+ is damaged"):
        vl.open(path)
    (ckpt / "masks.parquet").unlink()
    with pytest.raises(vl.ValidationError, match="damaged"):
        vl.open(path)


def test_a_corrupted_journal_tail_is_dropped_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "p.vlproj"
    ds = _open(path)
    _work(ds)
    ds.set_mask("clip", 5, "a", disc(H, W, 5, 5, 2))
    before_last = {n: ds.table(n) for n in ("masks", "tracklets")}
    ds.set_mask("clip", 4, "a", disc(H, W, 5, 5, 2))
    ds.project.release()  # as a kernel that died: no closing checkpoint, the journal holds the edits
    con = sqlite3.connect(path / "journal.sqlite")
    last, body = con.execute("SELECT seq, body FROM records ORDER BY seq DESC LIMIT 1").fetchone()
    con.execute("UPDATE records SET body = ? WHERE seq = ?", (bytes(body[:-3]) + b"\x00\x01\x02", last))
    con.commit()
    con.close()
    with pytest.warns(RuntimeWarning, match="dropped 1 record"):
        back = vl.open(path)
    assert all(back.table(n).equals(t) for n, t in before_last.items())
    assert back.mask_frames("clip", "a") == [0, 1, 2, 3, 5]
    back.set_mask("clip", 4, "a", disc(H, W, 5, 5, 2))  # and the journal goes on after the intact part
    back.close()
    assert vl.open(path).mask_frames("clip", "a") == [0, 1, 2, 3, 4, 5]


def test_a_propagation_cut_off_keeps_every_frame_it_reported(tmp_path: Path) -> None:
    """The run's frames are group-committed; on_frame hears of a frame only once it is durable."""
    path = tmp_path / "p.vlproj"
    ds = vl.open(path)
    seq = ds.add_sequence("clip", frames=_frames(40))
    a = ds.add_entity(seq, "a")
    sess = PaintEngine().session(ds, seq)
    sess.prompt(0, a, points=[(10, 10)])
    reported: list[int] = []
    report = sess.propagate_into(progress=False, on_frame=lambda f, done, total: reported.append(f))
    assert reported == list(range(40)) and report.frames == reported
    assert ds.project.journal.commit_count < 40  # frames went to the journal in groups
    ds.close()
    back = vl.open(path)
    assert back.mask_frames(seq, a) == list(range(40))
    assert back.history()[-1] == "paint: propagate forward from frame 0"
    assert back.undo() and back.mask_frames(seq, a) == [0]


def test_checkpoints_compact_the_journal_and_keep_the_history(tmp_path: Path) -> None:
    path = tmp_path / "p.vlproj"
    ds = vl.open(path, checkpoint_bytes=20_000)  # small: automatic checkpoints while editing
    seq = ds.add_sequence("clip", num_frames=300, width=64, height=48)
    e = ds.add_entity(seq, "a")
    rng = np.random.default_rng(0)
    for f in range(300):
        ds.set_mask(seq, f, e, rng.random((48, 64)) > 0.5)
    ds.project.journal.wait()
    if ds.project._auto is not None:
        ds.project._auto.join(30)
    names = sorted(p.name for p in (path / "checkpoints").iterdir())
    # automatic checkpoints happened; all but the newest two (one kept for read-only opens) removed
    assert len(names) == 2 and int(names[0]) > 0
    con = sqlite3.connect(path / "journal.sqlite")
    (left,) = con.execute("SELECT count(*) FROM records").fetchone()
    con.close()
    assert left < 300
    history = ds.history()
    ds.close()
    back = vl.open(path)
    assert back.mask_frames(seq, e) == list(range(300)) and back.history() == history
    assert back.undo() and back.mask_frames(seq, e) == list(range(299))


def test_save_as_moves_an_in_memory_dataset_into_a_project(tmp_path: Path) -> None:
    ds = vl.Dataset(state_fields={"occluded": pa.bool_()})
    seq = ds.add_sequence("clip", frames=_frames(3))
    e = ds.add_entity(seq, "a")
    ds.set_mask(seq, 0, e, disc(H, W, 5, 5, 3))
    with pytest.raises(vl.ValidationError, match="in memory only"):
        ds.checkpoint()
    ds.save_as(tmp_path / "new.vlproj")
    ds.set_mask(seq, 1, e, disc(H, W, 6, 6, 3))  # journaled in the new folder
    with pytest.raises(vl.ValidationError, match="not empty"):
        ds.save_as(tmp_path / "new.vlproj")
    ds.close()
    back = vl.open(tmp_path / "new.vlproj")
    assert back.mask_frames(seq, e) == [0, 1] and back.history() == [
        "add sequence clip",
        "add entity a",
        "set mask 0",
        "set mask 1",
    ]
    assert np.array_equal(back.frame(seq, 2), _frames(3)[2])
    assert back.custom_fields["states"][0].name == "occluded"


def test_open_refuses_what_is_not_a_project(tmp_path: Path) -> None:
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "notes.txt").write_text("mine")
    with pytest.raises(vl.ValidationError, match="not a vidlabel project"):
        vl.open(tmp_path / "stuff")
    assert (tmp_path / "stuff" / "notes.txt").read_text() == "mine"
    with pytest.raises(vl.ValidationError, match="not a vidlabel project"):
        vl.open(tmp_path / "missing", readonly=True)
    vl.open(tmp_path / "p.vlproj", state_fields={"occluded": pa.bool_()}).close()
    with pytest.raises(vl.ValidationError, match="declares states fields"):
        vl.open(tmp_path / "p.vlproj", state_fields={"visibility": pa.float32()})


def test_a_project_opened_by_a_relative_path_finds_its_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ds = vl.Dataset()
    ds.add_sequence("clip", frames=_frames(3))
    ds.save_as("out/rel.vlproj")
    ds.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = vl.open("out/rel.vlproj")
    assert np.array_equal(back.frame("clip", 2), _frames(3)[2])


def test_undoing_a_run_that_wrote_a_row_twice_rebases_the_later_step_onto_the_start(tmp_path: Path) -> None:
    """A run wrote box 0 twice, a later step once more; undoing the run keeps the later box, and
    undoing that goes back to the box before the run, live and after a reopen alike."""
    for reopen in (False, True):
        path = tmp_path / f"p{reopen}.vlproj"
        ds = vl.open(path)
        seq = ds.add_sequence("s", num_frames=4, width=W, height=H)
        e = ds.add_entity(seq, "a")
        ds.set_box(seq, 0, e, (1, 1, 5, 5))
        with ds.undo_group("grp"):
            ds.set_box(seq, 0, e, (2, 2, 6, 6))
            ds.set_box(seq, 0, e, (3, 3, 7, 7))
        ds.set_box(seq, 0, e, (4, 4, 8, 8))
        with pytest.warns(RuntimeWarning, match="left as they are"):
            ds.undo("grp")
        if reopen:
            ds.project.release()  # a dead kernel: the reopen replays the undo from the journal
            ds = vl.open(path)
        assert ds.box(seq, 0, e) == (4, 4, 8, 8)
        ds.undo()
        assert ds.box(seq, 0, e) == (1, 1, 5, 5)
        ds.close()


def test_a_rebased_step_trims_its_tracklets_after_a_checkpoint_too(tmp_path: Path) -> None:
    spans = []
    for reopen in (False, True):
        ds = vl.open(tmp_path / f"p{reopen}.vlproj")
        seq = ds.add_sequence("s", num_frames=6, width=W, height=H)
        e = ds.add_entity(seq, "a")
        for f in range(3):
            ds.set_box(seq, f, e, (1, 1, 5, 5))
        ds.set_box(seq, 3, e, (2, 2, 6, 6))
        ds.set_box(seq, 3, e, (3, 3, 7, 7))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.undo(-2)  # the first box on 3: kept (the second changed it), the second step rebased
        if reopen:
            ds.close()  # checkpoints: the rebased step comes back from history.bin
            ds = vl.open(tmp_path / f"p{reopen}.vlproj")
        ds.undo()
        spans.append([(t["start_frame"], t["end_frame"]) for t in ds.tracklets(seq, e)])
        ds.close()
    assert spans[0] == spans[1] == [(0, 2)]


@pytest.mark.parametrize(
    ("column", "value"),
    [("reviewed", 2), ("reviewed", "yes"), ("reviewed_mask", "x"), ("reviewed_mask", 2**70)],
)
def test_a_journal_row_whose_value_does_not_fit_its_column_is_refused_clearly(
    tmp_path: Path, column: str, value: object
) -> None:
    """A record with an intact checksum but a value of the wrong type (a hostile or buggy writer)."""
    from vidlabel.journal import Record, _crc, _decode_record, _encode_record

    path = tmp_path / "p.vlproj"
    ds = _open(path)
    _work(ds)
    ds.mark_reviewed("clip", 1, "a")
    ds.project.release()  # a dead kernel: the mark is in the journal only
    con = sqlite3.connect(path / "journal.sqlite")
    last, body = con.execute("SELECT seq, body FROM records ORDER BY seq DESC LIMIT 1").fetchone()
    rec = _decode_record(body)
    ops = [(st, k, b, {**a, column: value} if st == "states" and a else a) for st, k, b, a in rec.ops]
    new = _encode_record(Record(rec.kind, rec.label, ops, rec.extra))
    con.execute("UPDATE records SET body = ?, crc = ? WHERE seq = ?", (new, _crc(last, new), last))
    con.commit()
    con.close()
    for _ in range(2):  # and nothing is left held: a second open says the same
        with pytest.raises(vl.ValidationError, match="journal row does not fit its table"):
            vl.open(path)
