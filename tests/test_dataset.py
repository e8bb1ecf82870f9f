from __future__ import annotations

import numpy as np
import pyarrow as pa
import pycocotools.mask as cocomask
import pytest
from conftest import assert_same, disc, snapshot

import vidlabel as vl


def test_public_contract_roundtrip(ds: vl.Dataset, frames: np.ndarray) -> None:
    bear = ds.add_entity("clip", category="bear", difficulty=2)
    m = disc(48, 64, 20, 30, 8)
    ds.set_mask("clip", 0, bear, m)
    ds.set_box("clip", 0, bear, (22, 12, 17, 17))
    ds.set_state("clip", 0, bear, occluded=True, visibility=0.4)
    got = ds.masks("clip", 0)
    assert list(got) == [bear]
    assert np.array_equal(got[bear], m)
    assert np.array_equal(ds.frame("clip", 3), frames[3])
    assert ds.box("clip", 0, bear) == (22, 12, 17, 17)
    st = ds.state("clip", 0, bear)
    assert st["occluded"] is True and st["visibility"] == pytest.approx(0.4)
    ent = ds.entity(bear)
    assert ent["name"] == "1" and ent["category"] == "bear" and ent["difficulty"] == 2
    assert ds.entity("1", "clip")["id"] == bear  # by name within the sequence
    for name in ("sequences", "frames", "entities", "tracklets", "masks", "boxes", "states"):
        assert isinstance(ds.table(name), pa.Table)
    masks = ds.table("masks")
    assert masks.column_names[:10] == [
        "sequence_id",
        "frame_index",
        "entity_id",
        "tracklet_id",
        "height",
        "width",
        "counts",
        "source",
        "score",
        "keyframe",
    ]
    assert ds.table("frames").num_rows == 12
    assert ds.table("frames").column("timestamp").to_pylist()[3] == pytest.approx(3 / 12)


def test_rle_is_bit_exact_with_pycocotools(ds: vl.Dataset) -> None:
    e = ds.add_entity("clip")
    rng = np.random.default_rng(1)
    m = rng.random((48, 64)) < 0.3
    ds.set_mask("clip", 2, e, m)
    row = ds.table("masks").to_pylist()[0]
    ref = cocomask.encode(np.asfortranarray(m.astype(np.uint8)))
    assert row["counts"] == ref["counts"] and (row["height"], row["width"]) == (48, 64)
    assert ds.rle("clip", 2, e)["counts"] == ref["counts"]


def test_rle_dict_input_compressed_str_and_uncompressed(ds: vl.Dataset) -> None:
    e = ds.add_entity("clip")
    m = disc(48, 64, 24, 32, 10)
    ref = cocomask.encode(np.asfortranarray(m.astype(np.uint8)))
    ds.set_mask("clip", 0, e, {"size": [48, 64], "counts": ref["counts"].decode()})
    flat = m.flatten(order="F").astype(np.uint8)
    change = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], change, [flat.size]])).tolist()
    if flat[0]:
        runs = [0, *runs]
    ds.set_mask("clip", 1, e, {"size": [48, 64], "counts": runs})
    assert np.array_equal(ds.mask("clip", 0, e), m)
    assert np.array_equal(ds.mask("clip", 1, e), m)


def test_empty_mask_erases(ds: vl.Dataset) -> None:
    e = ds.add_entity("clip")
    ds.set_mask("clip", 0, e, disc(48, 64, 10, 10, 4))
    ds.set_mask("clip", 0, e, np.zeros((48, 64), bool))
    assert ds.mask("clip", 0, e) is None
    assert ds.tracklets("clip") == []


def test_tracklets_follow_masks(ds: vl.Dataset) -> None:
    e = ds.add_entity("clip")
    m = disc(48, 64, 20, 20, 6)
    for f in (0, 1, 2, 6, 7):
        ds.set_mask("clip", f, e, m)
    spans = [(t["start_frame"], t["end_frame"]) for t in ds.tracklets("clip", e)]
    assert spans == [(0, 2), (6, 7)]
    ds.set_mask("clip", 3, e, m)  # next to the first: extends it
    assert [(t["start_frame"], t["end_frame"]) for t in ds.tracklets("clip", e)] == [(0, 3), (6, 7)]
    ds.set_mask("clip", 5, e, m)
    ds.set_mask("clip", 4, e, m)  # bridges the two: one tracklet
    ts = ds.tracklets("clip", e)
    assert [(t["start_frame"], t["end_frame"]) for t in ts] == [(0, 7)]
    assert set(ds.table("masks").column("tracklet_id").to_pylist()) == {ts[0]["id"]}
    assert ts[0]["end_timestamp"] == pytest.approx(7 / 12)
    ds.remove_mask("clip", 4, e)  # interior: leaves a gap (tracklets split only on request)
    assert [(t["start_frame"], t["end_frame"]) for t in ds.tracklets("clip", e)] == [(0, 7)]
    right = ds.split_tracklet(ts[0]["id"], 5)
    ts = ds.tracklets("clip", e)
    assert [(t["start_frame"], t["end_frame"]) for t in ts] == [(0, 4), (5, 7)]
    rows = ds.table("masks").to_pylist()
    by_frame = {r["frame_index"]: r["tracklet_id"] for r in rows}
    assert by_frame[5] == by_frame[7] == right == ts[1]["id"] != by_frame[0]
    ds.remove_mask("clip", 0, e)  # an end: shrinks to the next annotated frame
    ds.remove_mask("clip", 7, e)
    assert [(t["start_frame"], t["end_frame"]) for t in ds.tracklets("clip", e)] == [(1, 4), (5, 6)]
    ds.remove_mask("clip", 3, e)  # not an end of [1, 4] (4 is, empty since the split): the span stays
    assert [(t["start_frame"], t["end_frame"]) for t in ds.tracklets("clip", e)] == [(1, 4), (5, 6)]
    assert ds.remove_masks("clip", e, range(5, 7)) == 2
    assert [(t["start_frame"], t["end_frame"]) for t in ds.tracklets("clip", e)] == [(1, 4)]
    assert ds.remove_masks("clip", e, [4]) == 0  # frame 4 holds no mask


def test_box_and_state_keep_a_tracklet_alive(ds: vl.Dataset) -> None:
    e = ds.add_entity("clip")
    ds.set_mask("clip", 4, e, disc(48, 64, 20, 20, 6))
    ds.set_state("clip", 4, e, occluded=False)
    ds.remove_mask("clip", 4, e)
    assert [(t["start_frame"], t["end_frame"]) for t in ds.tracklets("clip", e)] == [(4, 4)]
    ds.set_box("clip", 5, e, (1, 1, 3, 3))
    assert [(t["start_frame"], t["end_frame"]) for t in ds.tracklets("clip", e)] == [(4, 5)]
    assert ds.remove_state("clip", 4, e)
    assert [(t["start_frame"], t["end_frame"]) for t in ds.tracklets("clip", e)] == [(5, 5)]


def test_undo_redo_restore_exact_tables(ds: vl.Dataset) -> None:
    states = [snapshot(ds)]
    e = ds.add_entity("clip", category="cat")
    states.append(snapshot(ds))
    for f in (0, 1, 3):
        ds.set_mask("clip", f, e, disc(48, 64, 20 + f, 20, 6))
        states.append(snapshot(ds))
    ds.set_mask("clip", 2, e, disc(48, 64, 10, 10, 3))  # merges tracklets
    states.append(snapshot(ds))
    ds.remove_mask("clip", 1, e)
    states.append(snapshot(ds))
    ds.remove_entity(e)
    states.append(snapshot(ds))
    for expected in reversed(states[:-1]):
        assert ds.undo()
        assert_same(expected, ds)
    assert not ds.undo()
    for expected in states[1:]:
        assert ds.redo()
        assert_same(expected, ds)
    assert not ds.redo()


def test_transaction_groups_and_rolls_back(ds: vl.Dataset) -> None:
    e = ds.add_entity("clip")
    before = snapshot(ds)
    with pytest.raises(vl.ValidationError), ds.transaction("two masks then a bad one"):
        ds.set_mask("clip", 0, e, disc(48, 64, 20, 20, 5))
        ds.set_mask("clip", 1, e, disc(48, 64, 20, 20, 5))
        ds.set_mask("clip", 2, e, np.zeros((5, 5), bool))
    assert_same(before, ds)
    n = len(ds.history())
    with ds.transaction("two masks"):
        ds.set_mask("clip", 0, e, disc(48, 64, 20, 20, 5))
        ds.set_mask("clip", 1, e, disc(48, 64, 20, 20, 5))
    assert len(ds.history()) == n + 1 and ds.history()[-1] == "two masks"
    ds.undo()
    assert_same(before, ds)


def test_observers_see_changes(ds: vl.Dataset) -> None:
    seen: list[vl.Change] = []
    stop = ds.observe(seen.append)
    e = ds.add_entity("clip")
    ds.set_masks("clip", e, {3: disc(48, 64, 5, 5, 3), 4: disc(48, 64, 5, 5, 3)})
    assert seen[-1].kind == "edit" and seen[-1].frames == {"clip": {3, 4}} and "masks" in seen[-1].tables
    assert seen[-1].entities == {"clip": {e}}  # an open widget redraws only this entity's track bar
    ds.undo()
    assert seen[-1].kind == "undo" and seen[-1].frames == {"clip": {3, 4}}
    ds.redo()
    assert seen[-1].kind == "redo"
    stop()
    ds.set_mask("clip", 5, e, disc(48, 64, 5, 5, 3))
    assert seen[-1].kind == "redo"

    def broken(change: vl.Change) -> None:
        raise RuntimeError("boom")

    ds.observe(broken)
    with pytest.warns(RuntimeWarning, match="boom"):
        ds.set_mask("clip", 6, e, disc(48, 64, 5, 5, 3))
    assert ds.mask("clip", 6, e) is not None


def test_remove_sequence_cascades_and_undoes(ds: vl.Dataset) -> None:
    e = ds.add_entity("clip")
    ds.set_mask("clip", 0, e, disc(48, 64, 5, 5, 3))
    before = snapshot(ds)
    ds.remove_sequence("clip")
    assert len(ds) == 0 and ds.table("masks").num_rows == 0 and ds.table("frames").num_rows == 0
    ds.undo()
    assert_same(before, ds)
    assert ds.frame("clip", 0).shape == (48, 64, 3)


def test_rename_and_custom_fields(ds: vl.Dataset) -> None:
    a = ds.add_entity("clip", "a")
    ds.add_entity("clip", "b")
    ds.rename_entity(a, "zebra")
    assert ds.entity("zebra", "clip")["id"] == a
    ds.set_sequence("clip", weather="rain", status="done")
    assert ds.sequence("clip")["weather"] == "rain" and ds.sequence("clip")["status"] == "done"
    ds.set_entity(a, category="horse", difficulty=3)
    assert ds.entity(a)["category"] == "horse" and ds.entity(a)["difficulty"] == 3


def test_annotations_without_pixels() -> None:
    d = vl.Dataset()
    s = d.add_sequence("nopix", num_frames=5, width=10, height=8)
    e = d.add_entity(s)
    d.set_mask(s, 4, e, disc(8, 10, 4, 4, 2))
    assert d.mask(s, 4, e).sum() > 0
    with pytest.raises(vl.ValidationError, match="no pixels"):
        d.frame(s, 0)


def test_render_paints_masks(ds: vl.Dataset) -> None:
    e = ds.add_entity("clip")
    m = disc(48, 64, 24, 32, 10)
    ds.set_mask("clip", 0, e, m)
    img = np.asarray(ds.render("clip", 0, alpha=1.0, outline=False))
    assert img.shape == (48, 64, 3)
    assert tuple(img[24, 32]) == (128, 0, 0)  # entity 1 in the DAVIS palette
    assert np.array_equal(img[0, 0], ds.frame("clip", 0)[0, 0])


# ---------------------------------------------------------------- bad input: clear error, nothing changed
def _bad_cases(ds: vl.Dataset) -> list[tuple[str, object]]:
    e = ds.add_entity("clip")
    ds.set_mask("clip", 0, e, disc(48, 64, 10, 10, 4))
    ds.clear_history()
    good = cocomask.encode(np.asfortranarray(disc(48, 64, 10, 10, 4).astype(np.uint8)))["counts"]
    return [
        ("shape", lambda: ds.set_mask("clip", 1, e, np.zeros((47, 64), bool))),
        ("dtype", lambda: ds.set_mask("clip", 1, e, np.zeros((48, 64), np.float32))),
        ("only hold 0 and 1", lambda: ds.set_mask("clip", 1, e, np.full((48, 64), 2, np.uint8))),
        ("unknown sequence", lambda: ds.set_mask("nope", 1, e, np.zeros((48, 64), bool))),
        ("unknown entity", lambda: ds.set_mask("clip", 1, "ghost", np.zeros((48, 64), bool))),
        ("out of range", lambda: ds.set_mask("clip", 12, e, disc(48, 64, 5, 5, 2))),
        ("out of range", lambda: ds.set_mask("clip", -1, e, disc(48, 64, 5, 5, 2))),
        ("integer", lambda: ds.set_mask("clip", 1.0, e, disc(48, 64, 5, 5, 2))),
        ("duplicate id", lambda: ds.add_sequence("clip", num_frames=3, width=4, height=4)),
        ("duplicate name", lambda: ds.add_entity("clip", "1")),
        ("duplicate id", lambda: ds.add_entity("clip", "x", id=e)),
        ("states.visibility", lambda: ds.set_state("clip", 1, e, visibility="high")),
        ("states.occluded", lambda: ds.set_state("clip", 1, e, occluded=1)),
        ("unknown field", lambda: ds.set_state("clip", 1, e, weather="x")),
        ("entities.difficulty", lambda: ds.add_entity("clip", "y", difficulty=1.5)),
        ("sequences.weather", lambda: ds.set_sequence("clip", weather=3)),
        ("add up to|truncated", lambda: ds.set_mask("clip", 1, e, {"size": [48, 64], "counts": good[:-2]})),
        ("add up to", lambda: ds.set_mask("clip", 1, e, {"size": [48, 64], "counts": good[:-1] + b"0"})),
        ("add up to", lambda: ds.set_mask("clip", 1, e, {"size": [48, 64], "counts": [10, 20]})),
        (
            "invalid RLE character",
            lambda: ds.set_mask("clip", 1, e, {"size": [48, 64], "counts": b"\x01\x02"}),
        ),
        ("does not match", lambda: ds.set_mask("clip", 1, e, {"size": [40, 64], "counts": good})),
        ("non-positive", lambda: ds.set_box("clip", 1, e, (0, 0, 0, 5))),
        ("non-finite", lambda: ds.set_box("clip", 1, e, (0, float("nan"), 3, 5))),
        ("masks.score", lambda: ds.set_mask("clip", 1, e, disc(48, 64, 5, 5, 2), score=float("inf"))),
        ("unknown table", lambda: ds.table("nope")),
        ("T,H,W,3|dtype|uint8", lambda: ds.add_sequence("f", frames=np.zeros((2, 4, 4), np.float32))),
    ]


def test_bad_input_is_refused_and_changes_nothing(ds: vl.Dataset) -> None:
    cases = _bad_cases(ds)
    before = snapshot(ds)
    history = ds.history()
    for match, call in cases:
        with pytest.raises(vl.ValidationError, match=match):
            call()  # type: ignore[operator]
        assert_same(before, ds)
        assert ds.history() == history


def test_validation_error_is_a_value_error() -> None:
    assert issubclass(vl.ValidationError, ValueError)


def test_custom_field_declarations_are_checked() -> None:
    with pytest.raises(vl.ValidationError, match="built-in"):
        vl.Dataset(entity_fields={"category": pa.int32()})
    d = vl.Dataset(entity_fields={"category": pa.string()})  # redeclaring a built-in with its type is fine
    assert d.schema("entities").names.count("category") == 1
    with pytest.raises(vl.ValidationError, match="DataType"):
        vl.Dataset(state_fields={"x": int})  # type: ignore[dict-item]


def test_many_masks_edit_stays_incremental() -> None:
    """An edit after compaction touches the delta only: the base table object is not rebuilt."""
    d = vl.Dataset()
    s = d.add_sequence("s", num_frames=2000, width=16, height=16)
    ents = [d.add_entity(s) for _ in range(5)]
    m = disc(16, 16, 8, 8, 4)
    with d.transaction("bulk"):
        for f in range(2000):
            for e in ents:
                d.set_mask(s, f, e, m)
    base = d.table("masks")
    assert base.num_rows == 10000
    d.set_mask(s, 5, ents[0], disc(16, 16, 4, 4, 2))
    store = d.snapshot()["masks"]  # the next version shares the compacted base, plus a one-row delta
    assert store._base is base and store.delta_size == 1
    assert np.array_equal(d.mask(s, 5, ents[0]), disc(16, 16, 4, 4, 2))
    assert np.array_equal(d.mask(s, 6, ents[0]), m)


def test_a_new_entity_never_gets_the_id_of_a_removed_one() -> None:
    # A propagation or a batch that started before a removal drops the removed entity's results by
    # its id: a newcomer with that id would get them.
    ds = vl.Dataset()
    seq = ds.add_sequence("s", frames=[np.zeros((4, 4, 3), np.uint8)] * 2)
    a, b = ds.add_entity(seq), ds.add_entity(seq)
    ds.remove_entity(seq, b)
    c = ds.add_entity(seq)
    assert c not in (a, b)
    ds.undo()  # the add of c
    d = ds.add_entity(seq)
    assert d not in (a, b, c)
    ds.undo()
    ds.undo()  # the removal of b: b comes back under its own id
    assert ds.entity_ids(seq) == [a, b]


def test_entity_colour_is_validated_and_undoable(ds: vl.Dataset) -> None:
    e = ds.add_entity("clip", "bear", color="#A0B1C2")
    assert ds.entity(e)["color"] == "#a0b1c2"
    ds.set_entity(e, color="#000000")
    assert ds.entity(e)["color"] == "#000000"
    ds.undo()
    assert ds.entity(e)["color"] == "#a0b1c2"
    before = ds.table("entities")
    for bad in ("red", "#abc", "#gggggg", 0xFF0000, "#a0b1c2 "):
        with pytest.raises(vl.ValidationError, match=r"entities\.color"):
            ds.set_entity(e, color=bad)
        with pytest.raises(vl.ValidationError, match=r"entities\.color"):
            ds.add_entity("clip", "other", color=bad)
    assert ds.table("entities").equals(before)
    ds.set_entity(e, color=None)
    assert ds.entity(e)["color"] is None


def test_entity_edits_take_the_sequence_first_and_the_old_order_warns(ds: vl.Dataset) -> None:
    a = ds.add_entity("clip", "a")
    ds.add_entity("clip", "b")
    ds.set_entity("clip", "a", category="dog")  # sequence first, entity by name
    ds.set_entity(a, difficulty=1)  # an entity id alone
    assert ds.entity(a)["category"] == "dog" and ds.entity(a)["difficulty"] == 1
    with pytest.warns(DeprecationWarning, match=r"set_entity\(entity, seq\) is deprecated") as rec:
        ds.set_entity("a", "clip", category="cat")
    assert rec[0].filename == __file__  # the warning points at the caller's line
    assert ds.entity(a)["category"] == "cat"
    ds.rename_entity("clip", "a", "ant")
    ds.rename_entity(a, "anna")
    with pytest.warns(DeprecationWarning, match="rename_entity"):
        ds.rename_entity("anna", "alf", "clip")
    assert ds.entity(a)["name"] == "alf"
    with pytest.warns(DeprecationWarning, match=r"remove_entity\(entity, seq\)"):
        ds.remove_entity("b", "clip")
    ds.remove_entity("clip", "alf")
    assert ds.entity_ids("clip") == []
    with pytest.raises(vl.ValidationError, match="unknown sequence"):
        ds.remove_entity("nope", "neither")


def test_rows_read_from_a_compacted_base_equal_arrows_own_values() -> None:
    """Reads from a compacted base go through numpy views of its buffers: every cell, nulls and
    float32 included, must be what Arrow itself gives."""
    d = vl.Dataset(
        entity_fields={"difficulty": pa.int32(), "tags": pa.list_(pa.string()), "w": pa.float32()},
        state_fields={"occluded": pa.bool_(), "visibility": pa.float32(), "note": pa.string()},
    )
    s = d.add_sequence("s", num_frames=20, width=16, height=16)
    rng = np.random.default_rng(0)
    for k in range(5):
        e = d.add_entity(s, difficulty=None if k == 2 else k, tags=["a", "b"][: k % 3], w=0.1 * k)
        for f in range(0, 20, 3):
            d.set_mask(s, f, e, rng.random((16, 16)) > 0.7, score=None if f % 2 else 0.3)
            d.set_state(
                s, f, e, occluded=None if f == 3 else bool(f % 2), visibility=f / 7, note=None if k else "x"
            )
    snap = d.snapshot()
    for name in ("entities", "masks", "states", "tracklets"):
        table = snap.table(name)  # compacts: the reads below come from the base
        base = snap[name].compacted()
        for row in table.to_pylist():
            key = tuple(row[k] for k in base.key)
            assert base.get(key) == row
            assert base.values(key, tuple(row)) == tuple(row.values())


def test_attach_frames_takes_what_add_sequence_takes(tmp_path) -> None:
    import cv2

    d = vl.Dataset()
    d.add_sequence("s", num_frames=3, width=8, height=6)
    imgs = np.random.default_rng(0).integers(0, 255, (3, 6, 8, 3), dtype=np.uint8)
    for i, img in enumerate(imgs):
        cv2.imwrite(str(tmp_path / f"{i}.png"), img[..., ::-1])
    d.attach_frames("s", str(tmp_path / "*.png"))  # a glob, as add_sequence takes
    assert np.array_equal(d.frame("s", 2), imgs[2])
    with pytest.raises(vl.ValidationError, match="frames"):
        d.attach_frames("s", imgs[:2])  # two frames for a three-frame sequence
    with pytest.raises(vl.ValidationError):
        d.attach_frames("s", 42)


def test_exports_spell_out_their_parameters() -> None:
    import inspect

    for name, wanted in (
        ("to_davis", {"sequences", "resolution", "images", "overwrite", "progress"}),
        ("to_coco", {"sequences", "overwrite"}),
        ("to_youtube_vos", {"sequences", "images", "overwrite", "progress"}),
    ):
        params = inspect.signature(getattr(vl.Dataset, name)).parameters
        assert wanted <= set(params) and not any(p.kind is p.VAR_KEYWORD for p in params.values()), name
