"""Editing in time from cells: tracklet edits, interpolation, boxes from masks, states over ranges."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from conftest import assert_same, disc, snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

import vidlabel as vl
from vidlabel.interpolation import MaskInterpolator, signed_distance


def spans(ds: vl.Dataset, e: str) -> list[tuple[int, int]]:
    return [(t["start_frame"], t["end_frame"]) for t in ds.tracklets("clip", e)]


def moving(f: int) -> np.ndarray:
    return disc(48, 64, 20, 10 + 3 * f, 6)


@pytest.fixture
def two(ds: vl.Dataset) -> tuple[str, str]:
    a, b = ds.add_entity("clip", "a"), ds.add_entity("clip", "b")
    ds.set_masks("clip", a, {f: moving(f) for f in range(0, 10)})
    ds.set_masks("clip", b, {f: disc(48, 64, 35, 50, 5) for f in (1, 2)})
    ds.clear_history()
    return a, b


def test_split_merge_glue_and_their_undo(ds: vl.Dataset, two: tuple[str, str]) -> None:
    a, _ = two
    t = ds.tracklets("clip", a)[0]["id"]
    right = ds.split_tracklet(t, 4)
    assert spans(ds, a) == [(0, 3), (4, 9)]
    assert ds.annotation("masks", "clip", 4, a)["tracklet_id"] == right
    assert ds.annotation("masks", "clip", 3, a)["tracklet_id"] == t
    third = ds.split_tracklet(right, 7)
    assert spans(ds, a) == [(0, 3), (4, 6), (7, 9)]
    with pytest.raises(vl.ValidationError, match="lies between them"):
        ds.merge_tracklets(t, third)
    assert ds.glue_tracklet(right, "next") == right
    assert spans(ds, a) == [(0, 3), (4, 9)]
    assert ds.glue_tracklet(right, "previous") == t
    assert spans(ds, a) == [(0, 9)]
    assert {r["tracklet_id"] for r in ds.table("masks").to_pylist() if r["entity_id"] == a} == {t}
    assert ds.history() == [
        f"split tracklet {t} at 4",
        f"split tracklet {right} at 7",
        f"merge tracklets {right} and {third}",
        f"merge tracklets {t} and {right}",
    ]
    for want in ([(0, 3), (4, 9)], [(0, 3), (4, 6), (7, 9)], [(0, 3), (4, 9)], [(0, 9)]):
        assert ds.undo()
        assert spans(ds, a) == want


def test_merge_leaves_the_gap_a_gap(ds: vl.Dataset, two: tuple[str, str]) -> None:
    a, _ = two
    ds.remove_masks("clip", a, range(4, 7))  # a gap inside: the tracklet stays whole
    assert spans(ds, a) == [(0, 9)]
    t = ds.tracklets("clip", a)[0]["id"]
    right = ds.split_tracklet(t, 5)
    assert spans(ds, a) == [(0, 4), (5, 9)]
    ds.merge_tracklets(right, t)  # either order keeps the earlier one
    assert spans(ds, a) == [(0, 9)] and ds.tracklets("clip", a)[0]["id"] == t
    assert ds.mask_frames("clip", a) == [0, 1, 2, 3, 7, 8, 9]  # nothing was filled


def test_relink_fixes_an_identity_switch_in_one_step(ds: vl.Dataset) -> None:
    # A tracker lost "car" at frame 5 and picked it up again as a new object "car?".
    car, other = ds.add_entity("clip", "car"), ds.add_entity("clip", "car?")
    ds.set_masks("clip", car, {f: moving(f) for f in range(0, 5)})
    ds.set_masks("clip", other, {f: moving(f) for f in range(6, 12)})
    ds.set_state("clip", 8, other, occluded=True)
    ds.set_box("clip", 8, other, (1, 2, 3, 4))
    ds.clear_history()
    t = ds.tracklets("clip", other)[0]["id"]
    new = ds.relink_tracklet(t, "car")
    assert ds.history() == [f"relink tracklet {t} to {car}"]
    assert spans(ds, car) == [(0, 4), (6, 11)] and spans(ds, other) == []
    assert ds.tracklet(new)["entity_id"] == car
    assert ds.mask_frames("clip", car) == list(range(5)) + list(range(6, 12))
    assert ds.state("clip", 8, car)["occluded"] is True and ds.box("clip", 8, car) == (1, 2, 3, 4)
    assert ds.annotation("states", "clip", 8, car)["tracklet_id"] == new
    np.testing.assert_array_equal(ds.mask("clip", 7, car), moving(7))
    ds.undo()
    assert spans(ds, other) == [(6, 11)] and ds.mask_frames("clip", car) == list(range(5))


def test_relink_from_a_frame_moves_only_the_tail(ds: vl.Dataset, two: tuple[str, str]) -> None:
    a, b = two
    ta = ds.tracklets("clip", a)[0]["id"]
    with pytest.raises(vl.ValidationError, match=r"already covers frames 1\.\.2"):
        ds.relink_tracklet(ta, b, start=2)  # b is on frames 1-2
    ds.relink_tracklet(ta, b, start=6)
    assert spans(ds, a) == [(0, 5)] and spans(ds, b) == [(1, 2), (6, 9)]


def test_delete_and_trim_and_extend(ds: vl.Dataset, two: tuple[str, str]) -> None:
    a, b = two
    ta = ds.tracklets("clip", a)[0]["id"]
    tb = ds.tracklets("clip", b)[0]["id"]
    ds.set_tracklet_span(ta, 2, 7)  # trims both ends: their masks go
    assert spans(ds, a) == [(2, 7)] and ds.mask_frames("clip", a) == list(range(2, 8))
    ds.set_tracklet_span(ta, 2, 11)  # extends: frames 8-11 are in the track, not annotated yet
    assert spans(ds, a) == [(2, 11)] and ds.mask_frames("clip", a) == list(range(2, 8))
    ds.set_mask("clip", 10, a, moving(10))
    assert ds.annotation("masks", "clip", 10, a)["tracklet_id"] == ta
    assert ds.delete_tracklet(tb) == 2
    assert spans(ds, b) == [] and ds.mask_frames("clip", b) == []
    for _ in range(4):
        ds.undo()
    assert spans(ds, a) == [(0, 9)] and spans(ds, b) == [(1, 2)]


def test_linear_boxes_between_keyframes_recomputed_when_a_keyframe_moves(ds: vl.Dataset) -> None:
    e = ds.add_entity("clip")

    def at(f: int) -> tuple[float, float, float, float]:  # linear motion and growth
        return (2.0 + 3 * f, 5.0 + 0.5 * f, 10.0 + f, 8.0)

    ds.set_box("clip", 1, e, at(1))
    ds.set_box("clip", 9, e, at(9), extend=True)  # continues the track: interpolation in between
    assert spans(ds, e) == [(1, 9)]
    for f in range(2, 9):
        assert ds.box("clip", f, e) == pytest.approx(at(f))  # exact on linear motion
        row = ds.annotation("boxes", "clip", f, e)
        assert (row["source"], row["keyframe"]) == ("interpolated", False)
    ds.set_box("clip", 5, e, (0, 0, 4, 4))  # a new keyframe in the middle
    assert ds.box("clip", 3, e) == pytest.approx(tuple((a + b) / 2 for a, b in zip(at(1), (0, 0, 4, 4))))
    ds.set_box("clip", 9, e, (40, 40, 4, 4))  # the last keyframe moves: its side follows
    assert ds.box("clip", 7, e) == pytest.approx((20, 20, 4, 4))
    assert ds.box("clip", 3, e) == pytest.approx(tuple((a + b) / 2 for a, b in zip(at(1), (0, 0, 4, 4))))
    t = ds.tracklets("clip", e)[0]["id"]
    ds.set_tracklet_interpolation(t, False)  # an occlusion would mislead it: off
    assert [ds.box("clip", f, e) is None for f in range(1, 10)] == [
        False,
        *[True] * 3,
        False,
        *[True] * 3,
        False,
    ]
    assert ds.tracklet(t)["interpolate"] is False
    with pytest.raises(vl.ValidationError, match="box interpolation is off"):
        ds.interpolate_boxes(t)
    ds.set_tracklet_interpolation(t, True)
    assert ds.box("clip", 7, e) == pytest.approx((20, 20, 4, 4))
    ds.remove_box("clip", 9, e)  # the last keyframe goes: the boxes after frame 5 have no anchor
    assert ds.box("clip", 7, e) is None and spans(ds, e) == [(1, 5)]
    ds.set_box("clip", 0, e, (0, 0, 4, 4))  # a separate track: not extended, so nothing in between
    assert spans(ds, e) == [(0, 5)]  # next to it: joins
    assert ds.interpolate_boxes(t) == 3


def test_boxes_from_masks_and_a_box_prompting_the_engine(ds: vl.Dataset) -> None:
    from vidlabel.segment.flow import FlowEngine

    e = ds.add_entity("clip")
    ds.set_mask("clip", 3, e, moving(3))
    x, y, w, h = ds.box_from_mask("clip", 3, e)
    ys, xs = np.nonzero(moving(3))
    assert (x, y, w, h) == (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    assert ds.annotation("boxes", "clip", 3, e)["keyframe"] is True
    with pytest.raises(vl.ValidationError, match="no mask on frame 4"):
        ds.box_from_mask("clip", 4, e)
    ds.set_masks("clip", e, {f: moving(f) for f in (4, 5)}, source="flow", keyframe=False)
    assert ds.boxes_from_masks("clip", e, range(0, 12), keyframe=False) == 3
    # A stored box prompts the engine: the mask it returns is the object in the box.
    pixels = np.full((4, 48, 64, 3), 30, np.uint8)
    pixels[:, moving(3)] = (230, 200, 40)
    ds.add_sequence("lit", frames=pixels)
    obj = ds.add_entity("lit")
    ds.set_box("lit", 3, obj, (x - 3, y - 3, w + 6, h + 6))
    bx, by, bw, bh = ds.box("lit", 3, obj)
    session = FlowEngine().session(ds, "lit")
    mask, _ = session.prompt(3, obj, box=np.array([bx, by, bx + bw, by + bh], np.float32))
    inter = (mask & moving(3)).sum() / (mask | moving(3)).sum()
    assert inter > 0.9 and np.array_equal(ds.mask("lit", 3, obj), mask)


def test_mask_interpolation_of_a_translating_disc_stays_within_one_pixel(ds: vl.Dataset) -> None:
    e = ds.add_entity("clip")

    def at(f: float) -> np.ndarray:
        return disc(48, 64, 14 + 2.5 * f, 8 + 4.3 * f, 7)

    ds.set_mask("clip", 0, e, at(0))
    ds.set_mask("clip", 10, e, at(10))
    t = ds.tracklets("clip", e)[0]["id"]
    ds.merge_tracklets(t, ds.tracklets("clip", e)[1]["id"])
    assert ds.interpolate_masks(t) == 9
    for f in range(1, 10):
        got, want = ds.mask("clip", f, e), at(f)
        wrong = got ^ want
        # every wrongly labelled pixel lies within one pixel of the true disc's edge
        assert np.abs(signed_distance(want))[wrong].max(initial=0) <= 1.0
        row = ds.annotation("masks", "clip", f, e)
        assert (row["source"], row["keyframe"]) == ("interpolated", False)
    assert ds.history()[-1] == f"interpolate masks of {t}"
    assert ds.interpolate_masks(t) == 9  # interpolated masks are recomputed, not model output


def test_mask_interpolation_leaves_model_output_alone(ds: vl.Dataset) -> None:
    e = ds.add_entity("clip")
    ds.set_masks("clip", e, {0: moving(0), 6: moving(6), 9: moving(9)})
    ds.set_mask("clip", 3, e, moving(3), source="flow", keyframe=False)
    t = ds.tracklets("clip", e)[0]["id"]
    for other in ds.tracklets("clip", e)[1:]:
        ds.merge_tracklets(t, other["id"])
    assert spans(ds, e) == [(0, 9)]
    assert ds.interpolate_masks(t) == 2  # only 7-8: 1-5 holds model output
    assert ds.mask_frames("clip", e) == [0, 3, 6, 7, 8, 9]
    with pytest.raises(vl.ValidationError, match="no gap to fill"):
        ds.interpolate_masks(t, 0, 5)


def test_mask_interpolator_morphs_shapes_without_shrinking() -> None:
    a = np.zeros((40, 40), bool)
    a[10:30, 10:30] = True  # a square
    b = disc(40, 40, 19.5, 19.5, 14)  # same centre, larger
    mid = MaskInterpolator(a, b).at(0.5)
    assert a.sum() < mid.sum() < b.sum()
    assert not (a & b & ~mid).any() and not (mid & ~(a | b)).any()  # between the two shapes


def test_states_over_a_range_in_one_step(ds: vl.Dataset, two: tuple[str, str]) -> None:
    a, _ = two
    assert ds.set_states("clip", a, range(2, 6), occluded=True, visibility=0.25) == 4
    assert ds.history() == ["set state on 4 frames"]
    assert [ds.state("clip", f, a)["occluded"] for f in range(0, 7)] == [
        None,
        None,
        True,
        True,
        True,
        True,
        None,
    ]
    ds.set_states("clip", a, [3], visibility=1.0)
    assert ds.state("clip", 3, a) == {"occluded": True, "visibility": 1.0}  # other fields kept
    ds.undo()
    ds.undo()
    assert ds.states("clip", 3) == {}


BAD: list[tuple[str, Any, str]] = [
    ("split outside the tracklet", lambda ds, t, a, b: ds.split_tracklet(t, 11), r"must be in 1\.\.9"),
    ("split at its start", lambda ds, t, a, b: ds.split_tracklet(t, 0), r"must be in 1\.\.9"),
    ("unknown tracklet", lambda ds, t, a, b: ds.split_tracklet("ghost#1", 3), "unknown tracklet 'ghost#1'"),
    (
        "merge across entities",
        lambda ds, t, a, b: ds.merge_tracklets(t, ds.tracklets("clip", b)[0]["id"]),
        "different entities",
    ),
    ("merge with itself", lambda ds, t, a, b: ds.merge_tracklets(t, t), "with itself"),
    ("glue with no neighbour", lambda ds, t, a, b: ds.glue_tracklet(t, "next"), "no next tracklet"),
    ("glue sideways", lambda ds, t, a, b: ds.glue_tracklet(t, "up"), "side must be"),
    ("relink onto covered frames", lambda ds, t, a, b: ds.relink_tracklet(t, b), "already covers"),
    ("relink to itself", lambda ds, t, a, b: ds.relink_tracklet(t, a), "already belongs"),
    ("relink to a stranger", lambda ds, t, a, b: ds.relink_tracklet(t, "zed"), "unknown entity 'zed'"),
    ("relink from outside", lambda ds, t, a, b: ds.relink_tracklet(t, b, start=11), "outside tracklet"),
    ("span backwards", lambda ds, t, a, b: ds.set_tracklet_span(t, 5, 2), "after end"),
    ("span out of range", lambda ds, t, a, b: ds.set_tracklet_span(t, 0, 12), "out of range"),
    ("span onto nothing", lambda ds, t, a, b: ds.set_tracklet_span(t, 10, 11), "no annotation"),
    ("state of the wrong type", lambda ds, t, a, b: ds.set_states("clip", a, [1], occluded="yes"), "bool"),
    ("unknown state field", lambda ds, t, a, b: ds.set_states("clip", a, [1], mood=1), "unknown field"),
    ("states on a bad frame", lambda ds, t, a, b: ds.set_states("clip", a, [1, 40], occluded=True), "40"),
    (
        "interpolate one keyframe",
        lambda ds, t, a, b: ds.interpolate_masks(ds.tracklets("clip", b)[0]["id"]),
        "two",
    ),
    ("interpolate boxes without", lambda ds, t, a, b: ds.interpolate_boxes(t), "two keyframe boxes"),
    ("switch with a non-bool", lambda ds, t, a, b: ds.set_tracklet_interpolation(t, 1), "expected a bool"),
    ("box from no mask", lambda ds, t, a, b: ds.box_from_mask("clip", 11, a), "no mask on frame 11"),
    ("extend not bool", lambda ds, t, a, b: ds.set_box("clip", 1, a, (1, 1, 2, 2), extend="y"), "extend"),
]


@pytest.mark.parametrize(("what", "call", "match"), BAD, ids=[b[0] for b in BAD])
def test_bad_temporal_edits_are_refused_and_change_nothing(
    ds: vl.Dataset, two: tuple[str, str], what: str, call: Any, match: str
) -> None:
    a, b = two
    ds.set_mask("clip", 1, b, disc(48, 64, 35, 50, 5), keyframe=True)  # b: one mask keyframe on 1-2
    ds.remove_mask("clip", 2, b)
    ds.clear_history()
    t = ds.tracklets("clip", a)[0]["id"]
    before = snapshot(ds)
    with pytest.raises(vl.ValidationError, match=match):
        call(ds, t, a, b)
    assert_same(before, ds)
    assert ds.history() == []


def test_older_files_read_with_interpolation_on(ds: vl.Dataset, two: tuple[str, str], tmp_path: Any) -> None:
    import pyarrow.parquet as pq

    ds.to_parquet(tmp_path / "v3")
    t = pq.read_table(tmp_path / "v3" / "tracklets.parquet")
    assert int(t.schema.metadata[b"vidlabel.schema_version"]) >= 3  # a version with the column
    old = t.drop_columns(["interpolate"]).replace_schema_metadata(
        {**t.schema.metadata, b"vidlabel.schema_version": b"2"}
    )
    pq.write_table(old, tmp_path / "v3" / "tracklets.parquet")
    back = vl.Dataset.from_parquet(tmp_path / "v3")
    row = back.tracklets("clip")[0]
    assert row["interpolate"] is None  # not set in the file; treated as on
    back.set_box("clip", 0, two[0], (0, 0, 2, 2))
    back.set_box("clip", 4, two[0], (4, 0, 2, 2))
    assert back.box("clip", 2, two[0]) == pytest.approx((2, 0, 2, 2))
    assert pa.types.is_boolean(back.table("tracklets").schema.field("interpolate").type)


@given(order=st.permutations([0, 5, 10, 30, 40]), k=st.integers(1, 3))
@settings(max_examples=40, deadline=None)
def test_removing_keyframe_boxes_in_any_order_leaves_linear_boxes_between_the_rest(order, k) -> None:
    """remove_boxes with frames in descending order used to leave a box computed against a removed
    keyframe (keyframes 0, 5, 10, 30, 40; remove [30, 5]: the box on 3 stayed x=30)."""
    ds = vl.Dataset()
    ds.add_sequence("s", num_frames=50, width=100, height=100)
    e = ds.add_entity("s", "a")
    ds.set_boxes("s", e, {f: (float(f), 0.0, 10.0, 10.0) for f in (0, 5, 10, 30, 40)}, extend=True)
    gone = [f for f in order if f not in (0, 40)][:k]
    ds.remove_boxes("s", e, gone)
    keys = sorted({0, 5, 10, 30, 40} - set(gone))
    for k0, k1 in itertools.pairwise(keys):
        for f in range(k0, k1 + 1):
            box = ds.box("s", f, e)
            assert box is not None and box[0] == pytest.approx(f, abs=1e-4), (gone, f, box)


def test_remove_boxes_30_then_5_recomputes_the_box_on_3() -> None:
    ds = vl.Dataset()
    ds.add_sequence("s", num_frames=50, width=100, height=100)
    e = ds.add_entity("s", "a")
    ds.set_boxes("s", e, {f: (float(f), 0.0, 10.0, 10.0) for f in (0, 5, 10, 30, 40)}, extend=True)
    ds.remove_boxes("s", e, [30, 5])
    assert ds.box("s", 3, e)[0] == pytest.approx(3.0)


def test_boxes_from_masks_interpolates_once_not_once_per_box(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each box write used to re-interpolate to the tracklet's end: quadratic in the track's length."""
    ds = vl.Dataset()
    ds.add_sequence("s", num_frames=400, width=32, height=24)
    e = ds.add_entity("s", "a")
    m = np.zeros((24, 32), bool)
    m[4:10, 5:12] = True
    ds.set_masks("s", e, {f: m for f in range(400)})  # one tracklet of 400 frames
    calls = []
    real = ds._interpolate_boxes
    monkeypatch.setattr(ds, "_interpolate_boxes", lambda *a, **kw: calls.append(a) or real(*a, **kw))
    assert ds.boxes_from_masks("s", e) == 400
    assert len(ds.tracklets("s", e)) == 1 and len(calls) == 1  # was 400: once per box written
    assert ds.box("s", 399, e) == pytest.approx((5.0, 4.0, 7.0, 6.0))
