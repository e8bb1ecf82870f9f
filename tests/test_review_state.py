"""The reviewed state (issue 14, part A): ds.mark_reviewed, reviewed_frames, the mark cleared by a
non-keyframe write that changes the mask, undo, and persistence (parquet, projects, COCO, YouTube-VOS)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import assert_same, disc, make_ds, snapshot
from test_io_export import assert_round_trip, build

import vidlabel as vl
from vidlabel import schema as sch
from vidlabel.io.coco import read_coco, write_coco
from vidlabel.io.youtube_vos import read_youtube_vos, write_youtube_vos

H, W = 48, 64


def _two(frames: np.ndarray) -> tuple[vl.Dataset, str, str]:
    """a: one tracklet over frames 0-7 whose mask on 6 was erased (the span bridges the gap);
    b: one tracklet over 4-9, a mask on each frame; neither is anywhere else (frames 10, 11)."""
    ds = make_ds(frames)
    a, b = ds.add_entity("clip", "a"), ds.add_entity("clip", "b")
    for f in range(8):
        ds.set_mask("clip", f, a, disc(H, W, 20, 10 + 3 * f, 6), source="flow", keyframe=f == 0)
    ds.remove_mask("clip", 6, a)
    ds.set_masks("clip", b, {f: disc(H, W, 36, 50 - 2 * f, 5) for f in range(4, 10)})
    assert _spans(ds, a) == [(0, 7)] and _spans(ds, b) == [(4, 9)] and ds.mask("clip", 6, a) is None
    ds.clear_history()
    return ds, a, b


def _spans(ds: vl.Dataset, entity: str, seq: str = "clip") -> list[tuple[int, int]]:
    return [(t["start_frame"], t["end_frame"]) for t in ds.tracklets(seq, entity)]


def test_mark_one_many_a_range_and_all_entities_returns_counts(frames: np.ndarray) -> None:
    ds, a, b = _two(frames)
    assert ds.mark_reviewed("clip", 3, a) == 1
    assert ds.reviewed_frames("clip", a) == [3] and ds.is_reviewed("clip", 3, "a")
    assert ds.mark_reviewed("clip", [5, 1, 3], "a") == 2  # 3 was marked already: not counted
    assert ds.reviewed_frames("clip", a) == [1, 3, 5]
    assert ds.mark_reviewed("clip", range(0, 4), a) == 2  # 0 and 2
    assert ds.reviewed_frames("clip", a) == [0, 1, 2, 3, 5]
    assert ds.mark_reviewed("clip", range(4, 8)) == 3 + 4  # a: 4, 6, 7 (6: the erased mask); b: all four
    assert ds.reviewed_frames("clip", b) == [4, 5, 6, 7]
    assert ds.reviewed_frames("clip", a) == list(range(8))
    assert ds.mask("clip", 6, a) is None and ds.is_reviewed("clip", 6, a)  # accepted as hidden there
    assert ds.mark_reviewed("clip", [2, 6], a, reviewed=False) == 2
    assert ds.reviewed_frames("clip", a) == [0, 1, 3, 4, 5, 7] and not ds.is_reviewed("clip", 2, a)
    assert ds.mark_reviewed("clip", [2, 6], a, reviewed=False) == 0
    assert ds.history()[-1] == "unmark 2 frames reviewed"
    # custom state fields and the mark live on one row, each kept when the other changes
    ds.set_state("clip", 3, a, occluded=True)
    assert ds.is_reviewed("clip", 3, a) and ds.state("clip", 3, a) == {"occluded": True, "visibility": None}
    ds.mark_reviewed("clip", 3, a, reviewed=False)
    assert ds.state("clip", 3, a)["occluded"] is True and not ds.is_reviewed("clip", 3, a)


def test_marks_outside_every_tracklet_are_skipped_and_change_no_span_or_box(frames: np.ndarray) -> None:
    ds, a, b = _two(frames)
    c = ds.add_entity("clip", "c")  # nowhere in the video
    ds.set_box("clip", 0, a, (4.0, 10.0, 12.0, 12.0))
    ds.set_box("clip", 3, a, (13.0, 10.0, 12.0, 12.0))  # 1, 2 interpolated inside a's tracklet
    ds.set_box("clip", 9, b, (40.0, 30.0, 10.0, 10.0))
    ds.set_box("clip", 11, b, (30.0, 30.0, 10.0, 10.0))  # a tracklet of its own: frame 10 is no one's
    assert _spans(ds, b) == [(4, 9), (11, 11)] and ds.box("clip", 1, a) == (7.0, 10.0, 12.0, 12.0)
    assert ds.box("clip", 10, b) is None
    ds.clear_history()
    tracklets, boxes, n = ds.table("tracklets"), ds.table("boxes"), ds.version
    assert ds.mark_reviewed("clip", range(12), c) == 0
    assert ds.mark_reviewed("clip", [8, 10, 11], a) == 0  # after a's only tracklet (0-7)
    assert ds.mark_reviewed("clip", 10, b, reviewed=False) == 0
    assert ds.version == n and not ds.can_undo and len(ds.table("states")) == 0  # nothing written
    # b's one-frame gap at 10 is a row of the queue (did it vanish by mistake?): it can be accepted,
    # which joins b's two tracklets across it, as any state there does; undo parts them again
    assert ds.mark_reviewed("clip", [9, 10, 11], b) == 3
    assert _spans(ds, b) == [(4, 11)] and ds.undo_label == "mark 3 frames reviewed"
    assert ds.undo() and _spans(ds, b) == [(4, 9), (11, 11)] and len(ds.table("states")) == 0
    assert ds.table("tracklets").equals(tracklets) and ds.table("boxes").equals(boxes)
    assert ds.mark_reviewed("clip", range(12), a) == 8  # a on 0-7 (6: the erased mask)
    assert ds.reviewed_frames("clip", a) == list(range(8)) and ds.reviewed_frames("clip", c) == []
    rows = ds.table("states").select(["entity_id", "frame_index"]).to_pylist()
    assert sorted((r["entity_id"], r["frame_index"]) for r in rows) == [(a, f) for f in range(8)]
    assert ds.table("tracklets").equals(tracklets) and ds.table("boxes").equals(boxes)


def test_a_long_gap_between_tracklets_is_not_marked(tmp_path: Path) -> None:
    """An entity away for more than MAX_GAP frames is not in the video there: nothing to accept."""
    from vidlabel.review.state import MAX_GAP

    n = 2 * MAX_GAP + 8
    ds = make_ds(np.zeros((n, H, W, 3), np.uint8))
    d = ds.add_entity("clip", "d")
    back = MAX_GAP + 4  # frames 3 .. MAX_GAP + 3 empty: a gap of MAX_GAP + 1
    for f in (*range(3), *range(back, back + 3)):
        ds.set_mask("clip", f, d, disc(H, W, 20, 20, 6), keyframe=False)
    spans = _spans(ds, d)
    assert spans == [(0, 2), (back, back + 2)]
    assert ds.mark_reviewed("clip", range(n), d) == 6
    assert _spans(ds, d) == spans and ds.reviewed_frames("clip", d) == [0, 1, 2, back, back + 1, back + 2]


def test_unmarking_gives_back_the_tables_as_they_were(frames: np.ndarray) -> None:
    ds, _a, _b = _two(frames)
    before = snapshot(ds)
    assert ds.mark_reviewed("clip", range(0, 12)) == 8 + 6  # a on 0-7, b on 4-9
    assert len(ds.table("states")) == 14
    assert ds.mark_reviewed("clip", range(0, 12), reviewed=False) == 14
    assert_same(before, ds)  # the state rows went again, the one on a's gap frame 6 too, spans kept


def test_undo_redo_restore_exactly(frames: np.ndarray) -> None:
    ds, a, _b = _two(frames)
    ds.mark_reviewed("clip", 2, a)
    before = snapshot(ds)
    n = ds.version
    assert ds.mark_reviewed("clip", range(0, 12)) == 13  # a on 0-7 but 2, b on 4-9
    assert ds.version == n + 1  # one transaction
    after = snapshot(ds)
    assert ds.undo_label == "mark 13 frames reviewed"
    assert ds.undo()
    assert_same(before, ds)
    assert ds.redo()
    assert_same(after, ds)


def test_an_undo_of_someone_elses_step_does_not_take_back_a_mark(frames: np.ndarray) -> None:
    ds, a, _b = _two(frames)
    ds.set_state("clip", 4, a, occluded=True)  # a cell's step
    ds.mark_reviewed("clip", [3, 4], a)

    def propagate() -> None:  # another thread's step (a propagation) on other frames of the entity
        with ds.undo_group("run"):
            for f in (8, 9):
                ds.set_mask("clip", f, a, disc(H, W, 20, 30, 5), keyframe=False)

    t = threading.Thread(target=propagate)
    t.start()
    t.join()
    assert ds.history()[-1] == "run"
    assert ds.undo("run") and ds.mask_frames("clip", a) == [0, 1, 2, 3, 4, 5, 7]
    assert ds.reviewed_frames("clip", a) == [3, 4]
    with pytest.warns(RuntimeWarning, match="left as they are"):
        assert ds.undo("set state 4")  # its row was changed since by the mark: left as it is
    assert ds.reviewed_frames("clip", a) == [3, 4]


def test_a_non_keyframe_write_that_changes_a_reviewed_mask_clears_the_mark(frames: np.ndarray) -> None:
    ds, a, _b = _two(frames)
    ds.mark_reviewed("clip", range(0, 6), a)
    ds.set_state("clip", 2, a, occluded=True)
    same = ds.mask("clip", 1, a)
    ds.set_mask("clip", 1, a, same, source="flow", keyframe=False)  # identical pixels: kept
    assert ds.reviewed_frames("clip", a) == list(range(6))
    ds.set_mask("clip", 4, a, disc(H, W, 30, 30, 9), keyframe=True)  # a person's keyframe: kept
    assert ds.is_reviewed("clip", 4, a)
    # a propagation: several frames in one step, two of them changed
    new = {f: ds.mask("clip", f, a) for f in (1, 3, 5)}
    new[3] = disc(H, W, 22, 20, 7)
    new[5] = np.zeros((H, W), bool)  # the object lost: an erase by the engine
    with ds.undo_group("propagate"):
        ds.set_masks("clip", a, new, source="flow", keyframe=False)
    assert ds.reviewed_frames("clip", a) == [0, 1, 2, 4]
    assert ds.state("clip", 2, a)["occluded"] is True
    ds.set_mask("clip", 2, a, disc(H, W, 10, 10, 4), keyframe=False)
    assert not ds.is_reviewed("clip", 2, a) and ds.state("clip", 2, a)["occluded"] is True
    assert ds.undo() and ds.is_reviewed("clip", 2, a)  # the same step put the mark back
    # interpolation and clean-up are not a person's writes either
    ds.clean_masks("clip", a, min_area=10_000)
    assert ds.reviewed_frames("clip", a) == [0, 4] and ds.mask_frames("clip", a) == [0, 4]  # keyframes stay


def test_bad_input_is_refused_and_leaves_the_dataset_unchanged(frames: np.ndarray) -> None:
    ds, a, _b = _two(frames)
    ds.mark_reviewed("clip", 1, a)
    before, n = snapshot(ds), ds.version
    cases = [
        ("unknown sequence 'nope'", lambda: ds.mark_reviewed("nope", 1, a)),
        ("unknown entity 'zed'", lambda: ds.mark_reviewed("clip", 1, "zed")),
        ("frame 12 is out of range", lambda: ds.mark_reviewed("clip", [0, 12], a)),
        ("frame -1 is out of range", lambda: ds.mark_reviewed("clip", range(-1, 3), a)),
        ("frame 12 is out of range", lambda: ds.mark_reviewed("clip", range(10, 13))),
        ("expected an integer, got float", lambda: ds.mark_reviewed("clip", [1.5], a)),
        ("frames must be a frame index", lambda: ds.mark_reviewed("clip", True, a)),
        ("expected an integer, got bool", lambda: ds.mark_reviewed("clip", [False], a)),
        ("frames must be a frame index", lambda: ds.mark_reviewed("clip", "3", a)),
        ("frames must be a frame index", lambda: ds.mark_reviewed("clip", None, a)),
        ("frames is empty", lambda: ds.mark_reviewed("clip", [], a)),
        ("states.reviewed: expected a bool", lambda: ds.mark_reviewed("clip", 1, a, reviewed=1)),
        ("built-in review mark", lambda: ds.set_state("clip", 1, a, reviewed=True)),
        ("built-in review mark", lambda: ds.set_states("clip", a, [1, 2], reviewed=False)),
    ]
    for match, call in cases:
        with pytest.raises(vl.ValidationError, match=match):
            call()
    assert ds.version == n
    assert_same(before, ds)


def test_a_custom_field_named_reviewed_is_the_built_in_or_refused(tmp_path: Path) -> None:
    with pytest.raises(vl.ValidationError, match=r"states\.reviewed: is a built-in column of type bool"):
        vl.Dataset(state_fields={"reviewed": pa.string()})
    ds = vl.Dataset(state_fields={"reviewed": pa.bool_(), "occluded": pa.bool_()})
    assert [f.name for f in ds.custom_fields["states"]] == ["occluded"]  # the built-in, not added twice
    assert ds.schema("states").names.count("reviewed") == 1
    # an older file whose states carry a custom `reviewed` of another type is refused, saying why
    ds.add_sequence("clip", num_frames=3, width=8, height=8)
    ds.add_entity("clip", "a")
    ds.set_mask("clip", 1, "a", np.ones((8, 8), bool))
    assert ds.mark_reviewed("clip", 1, "a") == 1
    ds.to_parquet(tmp_path / "out")
    _rewrite(
        tmp_path / "out",
        3,
        lambda t: t.set_column(
            t.schema.get_field_index("reviewed"), "reviewed", pa.array(["yes"], pa.string())
        ),
    )
    with pytest.raises(
        vl.ValidationError, match=r"states.reviewed has type string.*built in since schema version 4"
    ):
        vl.Dataset.from_parquet(tmp_path / "out")


def _rewrite(folder: Path, version: int, change_states) -> None:
    """The parquet folder as a vidlabel of schema ``version`` would have written it."""
    for name in sch.TABLES:
        path = folder / f"{name}.parquet"
        t = pq.read_table(path)
        if name == "states":
            t = change_states(t)
        meta = dict(t.schema.metadata)
        meta[sch.METADATA_VERSION] = str(version).encode()
        pq.write_table(t.replace_schema_metadata(meta), path)


def test_parquet_round_trip_and_older_files_read_as_not_reviewed(frames: np.ndarray, tmp_path: Path) -> None:
    ds, a, b = _two(frames)
    ds.mark_reviewed("clip", [1, 6], a)  # 6: a state row with only the mark (the erased mask)
    ds.set_state("clip", 2, b, occluded=False)  # a tracklet of its own, held by the state
    ds.mark_reviewed("clip", 2, b)
    ds.to_parquet(tmp_path / "out", embed_frames=True)
    back = vl.Dataset.from_parquet(tmp_path / "out")
    assert back.reviewed_frames("clip", a) == [1, 6] and back.reviewed_frames("clip", b) == [2]
    assert back.table("states").equals(ds.table("states"))
    _rewrite(tmp_path / "out", 3, lambda t: t.drop_columns(["reviewed"]))
    old = vl.Dataset.from_parquet(tmp_path / "out")
    assert old.table("states").column("reviewed").null_count == len(ds.table("states"))
    assert old.reviewed_frames("clip", a) == [] and old.state("clip", 2, b) == ds.state("clip", 2, b)
    assert old.mark_reviewed("clip", 2, b) == 1  # and the mark can be set on rows read from it
    assert old.mark_reviewed("clip", [1, 6], a) == 2
    assert old.table("states").equals(ds.table("states"))


def test_rows_journaled_before_the_column_read_it_as_null() -> None:
    row = {"sequence_id": "s", "frame_index": 0, "entity_id": "e", "tracklet_id": "e#1", "occluded": True}
    assert sch.upgrade_row("states", row) == {**row, "reviewed": None, "reviewed_mask": None}
    damaged = {k: v for k, v in row.items() if k != "tracklet_id"}
    assert sch.upgrade_row("states", damaged) == damaged  # a column there since version 1: not made up


def _mark_in_project(folder: Path) -> vl.Dataset:
    ds = make_ds(np.zeros((12, H, W, 3), np.uint8), folder)
    a = ds.add_entity("clip", "a")
    ds.set_masks("clip", a, {f: disc(H, W, 20, 20 + f, 6) for f in range(11)}, keyframe=False)
    ds.remove_mask("clip", 9, a)  # a gap inside the tracklet 0-10: the mark on 9 is a row of its own
    ds.mark_reviewed("clip", range(0, 3), a)
    ds.mark_reviewed("clip", 9, a)
    ds.mark_reviewed("clip", 0, a, reviewed=False)
    return ds


def test_project_keeps_the_mark_through_reopen_checkpoint_and_undo(tmp_path: Path) -> None:
    folder = tmp_path / "p.vlproj"
    ds = _mark_in_project(folder)
    history = ds.history()
    ds.close()
    back = vl.open(folder)  # close checkpointed: the marks come from the checkpoint's parquet
    assert back.reviewed_frames("clip", "a") == [1, 2, 9] and back.history() == history
    back.mark_reviewed("clip", 5, "a")  # and this one from the journal
    back.close()
    again = vl.open(folder)
    assert again.reviewed_frames("clip", "a") == [1, 2, 5, 9]
    assert again.undo() and again.undo()  # the undo history of a checkpoint carries the mark too
    assert again.reviewed_frames("clip", "a") == [0, 1, 2, 9]
    again.close()


_CHILD = """
import sys, time
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from test_review_state import _mark_in_project
ds = _mark_in_project(Path(sys.argv[1]))
print("marked", flush=True)
time.sleep(60)
"""


def test_project_keeps_the_mark_after_its_writer_is_killed(tmp_path: Path) -> None:
    folder = tmp_path / "p.vlproj"
    tests = str(Path(__file__).resolve().parent)
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(folder), tests], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "marked"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the dead writer's lock is taken over
        back = vl.open(folder)
    assert back.reviewed_frames("clip", "a") == [1, 2, 9]  # replayed from the journal
    assert back.history()[-1] == "unmark frame 0 reviewed"
    back.close()


def _marked_export_dataset() -> vl.Dataset:
    ds = build()
    car = ds.entity_ids("clip")[0]
    ds.set_masks("clip", car, {f: disc(40, 56, 12, 8 + 4 * f, 6) for f in (3, 4)})  # bridge the gap
    ds.remove_mask("clip", 3, car)  # and erase 3 again: the tracklet 0-7 spans it
    assert _spans(ds, car) == [(0, 7)] and ds.mask("clip", 3, car) is None
    assert ds.mark_reviewed("clip", [1, 3, 6], "car") == 3  # 3: no mask there, only the mark
    assert ds.mark_reviewed("clip", 5, "car") == 1  # on the row that holds a custom state
    assert ds.mark_reviewed("nopix", range(0, 10)) == 10 + 5  # the second one is there from frame 5
    ds.clear_history()
    return ds


def test_coco_round_trip_keeps_the_mark(tmp_path: Path) -> None:
    ds = _marked_export_dataset()
    back = read_coco(write_coco(ds, tmp_path / "vis.json"), progress=False)
    assert_round_trip(ds, back)
    assert back.reviewed_frames("clip", "car") == [1, 3, 5, 6] and back.mask("clip", 3, "car") is None
    assert back.reviewed_frames("nopix", back.entity_ids("nopix")[0]) == list(range(10))
    assert back.reviewed_frames("nopix", back.entity_ids("nopix")[1]) == list(range(5, 10))
    assert back.state("clip", 5, "car") == {"occluded": True}


def test_youtube_vos_round_trip_keeps_the_mark(tmp_path: Path) -> None:
    ds = _marked_export_dataset()
    back = read_youtube_vos(write_youtube_vos(ds, tmp_path / "ytvos", progress=False), progress=False)
    assert_round_trip(ds, back)
    assert back.reviewed_frames("clip", "car") == [1, 3, 5, 6] and back.mask("clip", 3, "car") is None
    assert back.reviewed_frames("clip", "person") == []


def _erased_and_marked() -> vl.Dataset:
    """No custom state fields: the mark on the erased frame 3 is the only thing on its row."""
    ds = vl.Dataset()
    ds.add_sequence("clip", frames=np.zeros((8, H, W, 3), np.uint8))
    a = ds.add_entity("clip", "a")
    ds.set_masks("clip", a, {f: disc(H, W, 20, 10 + 3 * f, 6) for f in range(6)})
    ds.remove_mask("clip", 3, a)
    assert ds.mark_reviewed("clip", [1, 3], a) == 2 and _spans(ds, a) == [(0, 5)]
    return ds


@pytest.mark.parametrize("kind", ["coco", "youtube_vos"])
def test_a_mark_on_an_erased_frame_inside_a_track_round_trips(kind: str, tmp_path: Path) -> None:
    ds = _erased_and_marked()
    if kind == "coco":
        back = read_coco(write_coco(ds, tmp_path / "vis.json"), progress=False)
    else:
        back = read_youtube_vos(write_youtube_vos(ds, tmp_path / "yt", progress=False), progress=False)
    assert_round_trip(ds, back)
    assert back.reviewed_frames("clip", "a") == [1, 3] and back.mask("clip", 3, "a") is None


def test_a_file_whose_marks_are_outside_its_tracklets_or_not_frames_is_refused(tmp_path: Path) -> None:
    path = write_coco(_erased_and_marked(), tmp_path / "vis.json")
    data = json.loads(path.read_text())
    cases = (
        ([1, 7], "leave annotated frame 7 out"),
        ([1, "3"], "'reviewed' holds '3'"),
        ([1, None], "'reviewed' holds None"),
        (0, "'reviewed' must be a list"),
        ("", "'reviewed' must be a list"),
    )
    for reviewed, match in cases:
        for ann in data["annotations"]:
            ann["vidlabel"]["reviewed"] = reviewed
        path.write_text(json.dumps(data))
        with pytest.raises(vl.ValidationError, match=match):
            read_coco(path, progress=False)


def test_marking_a_long_range_is_one_step_and_touches_only_its_sequence() -> None:
    ds = vl.Dataset()
    for s in ("other1", "long", "other2"):
        n = 3000 if s == "long" else 500
        ds.add_sequence(s, num_frames=n, width=16, height=16)
        ds.add_entity(s, "a")
        ds.set_box(s, 0, "a", (1.0, 1.0, 4.0, 4.0))  # a track: keyframe boxes at both ends,
        ds.set_box(s, n - 1, "a", (9.0, 9.0, 6.0, 6.0), extend=True)  # boxes interpolated between
    ds.mark_reviewed("other1", range(500), "a")
    boxes = ds.table("boxes")
    changes: list[vl.Change] = []
    ds.observe(changes.append)
    n = ds.version
    assert ds.mark_reviewed("long", range(3000), "a") == 3000
    assert ds.version == n + 1 and len(changes) == 1
    assert changes[0].sequences == {"long"} and changes[0].frames["long"] == set(range(3000))
    assert _spans(ds, "a", "long") == [(0, 2999)] and ds.table("boxes").equals(boxes)
    assert ds.reviewed_frames("long", "a") == list(range(3000))
    assert ds.reviewed_frames("other1", "a") == list(range(500))


def test_a_mark_holds_only_while_the_mask_is_the_one_accepted(frames: np.ndarray, tmp_path: Path) -> None:
    """Whatever changes the mask after it was accepted (an undo of the run that made it, an erase from
    a cell), the mark no longer holds: the row is back in the queue and exports leave it out."""
    ds, a, _b = _two(frames)
    with ds.undo_group("propagate"):
        ds.set_masks("clip", a, {f: disc(H, W, 22, 10 + 4 * f, 6) for f in (1, 2, 3)}, keyframe=False)
    ds.mark_reviewed("clip", [2, 3, 4], a)
    assert ds.reviewed_frames("clip", a) == [2, 3, 4]
    assert ds.undo("propagate")  # the masks accepted on 2 and 3 are gone: what is there was not seen
    assert ds.reviewed_frames("clip", a) == [4] and not ds.is_reviewed("clip", 2, a)
    q = ds.review("clip", include_reviewed=True).to_pandas().set_index(["entity_id", "frame_index"])
    assert not q.loc[(a, 2), "reviewed"] and q.loc[(a, 4), "reviewed"]
    assert ds.redo() and ds.reviewed_frames("clip", a) == [2, 3, 4]  # and the accepted masks again
    ds.remove_mask("clip", 4, a)  # an erase from a cell
    assert ds.reviewed_frames("clip", a) == [2, 3]
    back = read_coco(write_coco(ds, tmp_path / "vis.json"), progress=False)
    assert back.reviewed_frames("clip", a) == [2, 3]  # the stale mark on 4 is not written
    assert ds.mark_reviewed("clip", 4, a) == 1 and ds.is_reviewed("clip", 4, a)  # accepting it renews it
