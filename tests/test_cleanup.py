"""clean_masks and smooth_masks: exact results on constructed masks, one undo step, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import assert_same, disc, snapshot

import vidlabel as vl
from vidlabel import rle as rlemod
from vidlabel.morphology import fill_holes as shared_fill_holes
from vidlabel.morphology import tidy
from vidlabel.segment import grabcut

H, W = 48, 64


def body() -> np.ndarray:
    """A disc that an opening by a radius-1 disc leaves as it is (checked in test_body_is_clean)."""
    return disc(H, W, 20, 30, 9)


def entity(ds: vl.Dataset, masks: dict[int, np.ndarray], *, keyframe: bool = False, **kw: object) -> str:
    e = ds.add_entity("clip", **kw)  # type: ignore[arg-type]
    ds.set_masks("clip", e, masks, source="sam2", score=0.75, keyframe=keyframe)
    return e


def test_body_is_clean(ds: vl.Dataset) -> None:
    e = entity(ds, {0: body()})
    steps = ds.history()
    assert ds.clean_masks("clip") == 0
    assert ds.history() == steps  # nothing changed: no undo step
    assert ds.annotation("masks", "clip", 0, e)["source"] == "sam2"  # type: ignore[index]


# ---------------------------------------------------------------------- clean_masks, one step at a time
def test_speck_removed(either_ds: vl.Dataset) -> None:
    ds = either_ds
    m = body()
    m[40:43, 55:58] = True  # a 9-pixel speck, apart from the body
    e = entity(ds, {3: m})
    assert ds.clean_masks("clip", radius=0, fill_holes=0, min_area=10) == 1
    assert np.array_equal(ds.mask("clip", 3, e), body())
    # a component of exactly min_area pixels stays (smaller than min_area goes)
    ds.undo()
    assert ds.clean_masks("clip", radius=0, fill_holes=0, min_area=9) == 0
    assert np.array_equal(ds.mask("clip", 3, e), m)


def test_hole_filled(either_ds: vl.Dataset) -> None:
    ds = either_ds
    m = body()
    m[18:21, 28:31] = False  # a 9-pixel hole
    m[24:26, 26:28] = False  # a 4-pixel one
    e = entity(ds, {2: m})
    assert ds.clean_masks("clip", radius=0, min_area=0, fill_holes=9) == 1  # holes under 9 pixels
    expect = m.copy()
    expect[24:26, 26:28] = True
    assert np.array_equal(ds.mask("clip", 2, e), expect)
    assert ds.clean_masks("clip", radius=0, min_area=0, fill_holes=10) == 1
    assert np.array_equal(ds.mask("clip", 2, e), body())


def test_hole_reaching_the_frame_edge_is_not_a_hole(ds: vl.Dataset) -> None:
    m = np.zeros((H, W), bool)
    m[:, :20] = True
    m[0:3, 5:8] = False  # a notch open to the top edge
    e = entity(ds, {0: m})
    assert ds.clean_masks("clip", radius=0, min_area=0, fill_holes=1000) == 0
    assert np.array_equal(ds.mask("clip", 0, e), m)


def test_opening_removes_a_spur(either_ds: vl.Dataset) -> None:
    ds = either_ds
    m = body()
    m[20, 39:50] = True  # a one-pixel-wide spur sticking out to the right
    m[5:7, 3:5] = True  # and a 2x2 speck that a disc of radius 1 does not fit in
    e = entity(ds, {0: m})
    assert ds.clean_masks("clip", min_area=0, fill_holes=0, radius=1) == 1
    assert np.array_equal(ds.mask("clip", 0, e), body())


def test_all_steps_off_change_nothing(ds: vl.Dataset) -> None:
    m = body()
    m[20, 39:50] = True
    m[18:21, 28:31] = False
    m[40:42, 55:57] = True
    entity(ds, {0: m})
    before, steps = snapshot(ds), ds.history()
    assert ds.clean_masks("clip", radius=0, min_area=0, fill_holes=0) == 0
    assert_same(before, ds)
    assert ds.history() == steps


def test_default_cleans_all_three(ds: vl.Dataset) -> None:
    m = body()
    m[20, 39:50] = True  # spur
    m[18:21, 28:31] = False  # hole
    m[40:45, 50:55] = True  # speck of 25 px: survives the opening, under min_area=64
    e = entity(ds, {0: m})
    assert ds.clean_masks("clip") == 1
    assert np.array_equal(ds.mask("clip", 0, e), body())


def test_mask_left_empty_is_removed_with_its_tracklet(either_ds: vl.Dataset) -> None:
    ds = either_ds
    speck = np.zeros((H, W), bool)
    speck[5:8, 5:8] = True
    e = entity(ds, {f: body() for f in range(4)} | {4: speck, 5: speck})
    assert [(t["start_frame"], t["end_frame"]) for t in ds.tracklets("clip", e)] == [(0, 5)]
    assert ds.clean_masks("clip") == 2
    assert ds.mask_frames("clip", e) == [0, 1, 2, 3]
    assert [(t["start_frame"], t["end_frame"]) for t in ds.tracklets("clip", e)] == [(0, 3)]
    lonely = entity(ds, {9: speck})
    assert ds.clean_masks("clip", lonely) == 1
    assert ds.tracklets("clip", lonely) == []


def test_source_recorded_score_and_keyframe_kept(either_ds: vl.Dataset) -> None:
    ds = either_ds
    m = body()
    m[40:43, 55:58] = True
    e = entity(ds, {0: m, 1: body()})
    tid = ds.annotation("masks", "clip", 0, e)["tracklet_id"]  # type: ignore[index]
    assert ds.clean_masks("clip") == 1
    row = ds.annotation("masks", "clip", 0, e)
    assert row is not None
    assert (row["source"], row["score"], row["keyframe"], row["tracklet_id"]) == ("clean", 0.75, False, tid)
    assert ds.annotation("masks", "clip", 1, e)["source"] == "sam2"  # type: ignore[index]  # unchanged: not rewritten
    m[40:43, 50:53] = True
    ds.set_mask("clip", 2, e, m, source="sam2", keyframe=False)
    assert ds.clean_masks("clip", source="tidy") == 1
    assert ds.annotation("masks", "clip", 2, e)["source"] == "tidy"  # type: ignore[index]


def test_keyframes_left_alone_unless_asked(either_ds: vl.Dataset) -> None:
    ds = either_ds
    m = body()
    m[40:43, 55:58] = True
    e = entity(ds, {0: m}, keyframe=True)
    assert ds.clean_masks("clip") == 0
    assert np.array_equal(ds.mask("clip", 0, e), m)
    assert ds.clean_masks("clip", keyframes=True) == 1
    row = ds.annotation("masks", "clip", 0, e)
    assert np.array_equal(ds.mask("clip", 0, e), body())
    assert row is not None and row["keyframe"] is True and row["source"] == "clean"


def test_entities_and_frames_restrict(ds: vl.Dataset) -> None:
    m = body()
    m[40:43, 55:58] = True
    a = entity(ds, {f: m for f in range(6)}, name="a")
    b = entity(ds, {f: m for f in range(6)}, name="b")
    c = entity(ds, {f: m for f in range(6)}, name="c")
    assert ds.clean_masks("clip", "a", range(2, 4)) == 2
    assert ds.clean_masks("clip", [b, "c"], [5]) == 2
    assert ds.clean_masks("clip", frames=0) == 3
    for e, done in ((a, {0, 2, 3}), (b, {0, 5}), (c, {0, 5})):
        for f in range(6):
            assert np.array_equal(ds.mask("clip", f, e), body() if f in done else m), (e, f)


def test_void_entities_only_when_named(ds: vl.Dataset) -> None:
    m = body()
    m[40:43, 55:58] = True
    v = entity(ds, {0: m}, name="255", void=True)
    assert ds.clean_masks("clip") == 0
    assert ds.clean_masks("clip", "255") == 1
    assert np.array_equal(ds.mask("clip", 0, v), body())


def test_crop_matches_the_whole_frame(ds: vl.Dataset) -> None:
    """Cleaning works on a crop around the mask: the answer is the whole frame's, also at the edges."""
    rng = np.random.default_rng(3)
    masks = {}
    for f in range(12):  # noise in a random box, some touching the frame's edges
        y0, x0 = rng.integers(0, H - 8), rng.integers(0, W - 8)
        y1, x1 = rng.integers(y0 + 8, H + 1), rng.integers(x0 + 8, W + 1)
        m = np.zeros((H, W), bool)
        m[y0:y1, x0:x1] = rng.random((y1 - y0, x1 - x0)) < 0.6
        masks[f] = m
    e = entity(ds, masks)
    ds.clean_masks("clip", radius=1, min_area=5, fill_holes=6)
    for f, m in masks.items():
        expect = tidy(np.ascontiguousarray(m), radius=1, min_area=5, hole_area=6)
        got = ds.mask("clip", f, e)
        if expect.any():
            assert np.array_equal(got, expect), f
        else:
            assert got is None


def test_grabcut_keeps_its_helpers() -> None:
    assert grabcut.fill_holes is shared_fill_holes
    ring = disc(20, 20, 10, 10, 6) & ~disc(20, 20, 10, 10, 2)
    assert np.array_equal(grabcut.fill_holes(ring, 100), disc(20, 20, 10, 10, 6))
    assert np.array_equal(grabcut.fill_holes(ring, 5), ring)  # the hole holds 13 pixels
    n, labels, areas = grabcut.components(ring)
    assert n == 2 and areas[labels[10, 4]] == ring.sum()  # the background and the ring


def diamond(r: int, outline: bool) -> np.ndarray:
    """|dy| + |dx| == r (an outline of diagonal steps, 8-connected) or <= r, centred in 20 x 20."""
    yy, xx = np.mgrid[:20, :20]
    d = np.abs(yy - 10) + np.abs(xx - 10)
    return d == r if outline else d <= r


def test_a_hole_closed_by_diagonal_steps_is_a_hole(ds: vl.Dataset) -> None:
    """The outline is one 8-connected thing; its inside (13 pixels) touches the outside only
    diagonally, so with a 4-connected background it is a hole, filled when 13 < the area given."""
    ring, full = diamond(3, True), diamond(3, False)
    n, _, areas = grabcut.components(ring)
    assert n == 2 and areas[1] == ring.sum() == 12 and (full & ~ring).sum() == 13
    assert np.array_equal(shared_fill_holes(ring, 14), full)
    assert np.array_equal(shared_fill_holes(ring, 13), ring)  # strictly fewer pixels than given
    assert np.array_equal(tidy(ring, radius=0, min_area=0, hole_area=14), full)
    assert np.array_equal(tidy(ring, radius=0, min_area=0, hole_area=13), ring)
    big = np.zeros((H, W), bool)
    big[10:30, 20:40] = ring
    e = entity(ds, {0: big})
    assert ds.clean_masks("clip", radius=0, min_area=0, fill_holes=13) == 0
    assert ds.clean_masks("clip", radius=0, min_area=0, fill_holes=14) == 1
    assert ds.mask("clip", 0, e)[10:30, 20:40].sum() == 25


def test_diagonal_neighbour_holes_are_two_holes() -> None:
    """Two one-pixel holes touching at a corner are two holes of 1 pixel (not one of 2)."""
    m = np.zeros((9, 9), bool)
    m[1:8, 1:8] = True
    m[3, 3] = m[4, 4] = False
    solid = np.zeros((9, 9), bool)
    solid[1:8, 1:8] = True
    for fill in (shared_fill_holes(m, 2), tidy(m, radius=0, min_area=0, hole_area=2)):
        assert np.array_equal(fill, solid)
    for keep in (shared_fill_holes(m, 1), tidy(m, radius=0, min_area=0, hole_area=1)):
        assert np.array_equal(keep, m)
    kept = shared_fill_holes(m, 2, keep_open=np.eye(9, dtype=bool) & (np.arange(9) == 3)[:, None])
    assert not kept[3, 3] and kept[4, 4]  # a kept-open hole is only the one holding the click


def test_fill_holes_and_tidy_agree() -> None:
    """The same holes and the same comparison: tidy's hole step is fill_holes, on random masks."""
    rng = np.random.default_rng(5)
    for i in range(40):
        m = rng.random((30, 40)) < rng.uniform(0.4, 0.9)
        for area in (1, 2, 3, 5, 9, 40):
            want = shared_fill_holes(m, area)
            assert np.array_equal(tidy(m, radius=0, min_area=0, hole_area=area), want), (i, area)


# ---------------------------------------------------------------------- smooth_masks
def moving(f: int) -> np.ndarray:
    return disc(H, W, 20, 12 + 3 * f, 8)


def reference_smooth(
    masks: dict[int, np.ndarray], n: int, window: int, fill_gaps: bool = True
) -> dict[int, np.ndarray | None]:
    """The vote as smooth_masks documents it, computed naively from every frame of the window."""
    stack = np.zeros((n, H, W), np.int64)
    present = np.zeros(n, bool)
    for f, m in masks.items():
        stack[f], present[f] = m, True
    out: dict[int, np.ndarray | None] = {}
    for t in range(n):
        if not present[t] and not fill_gaps:
            out[t] = None  # a frame without a mask is left without one
            continue
        a, b = max(0, t - window), min(n - 1, t + window)
        span, p = b - a + 1, int(present[a : b + 1].sum())
        if 2 * p < span or (2 * p == span and not present[t]):
            out[t] = None
            continue
        s = stack[a : b + 1].sum(axis=0)
        res = (2 * s > p) | ((2 * s == p) & (stack[t] > 0))
        out[t] = res if res.any() else None
    return out


def test_one_frame_absence_filled_when_asked(either_ds: vl.Dataset) -> None:
    ds = either_ds
    e = entity(ds, {f: body() for f in range(12) if f != 5})
    assert [(t["start_frame"], t["end_frame"]) for t in ds.tracklets("clip", e)] == [(0, 4), (6, 11)]
    assert ds.smooth_masks("clip", fill_gaps=True) == 1
    assert np.array_equal(ds.mask("clip", 5, e), body())
    row = ds.annotation("masks", "clip", 5, e)
    assert row is not None and (row["source"], row["score"], row["keyframe"]) == ("smooth", None, False)
    assert [(t["start_frame"], t["end_frame"]) for t in ds.tracklets("clip", e)] == [(0, 11)]  # bridged
    assert ds.history()[-1] == "smooth 1 masks"


def test_an_erased_frame_stays_erased_by_default(either_ds: vl.Dataset) -> None:
    """A person erases the mask on frame 5 (the object hidden there): the default vote leaves the
    frame empty, while the blob on frame 8 still goes; fill_gaps=True fills the erased frame too."""
    ds = either_ds
    blob = disc(H, W, 40, 55, 4)
    e = entity(ds, {f: body() | (blob if f == 8 else False) for f in range(12)})
    ds.remove_mask("clip", 5, e)
    steps = ds.history()
    assert ds.smooth_masks("clip") == 1
    assert ds.mask_frames("clip", e) == [f for f in range(12) if f != 5]
    assert np.array_equal(ds.mask("clip", 8, e), body())
    assert ds.smooth_masks("clip", frames=5) == 0 and len(ds.history()) == len(steps) + 1  # no step
    assert ds.smooth_masks("clip", fill_gaps=True) == 1
    assert np.array_equal(ds.mask("clip", 5, e), body())


def test_one_frame_blob_removed(either_ds: vl.Dataset) -> None:
    ds = either_ds
    blob = disc(H, W, 40, 55, 4)
    e = entity(ds, {f: body() | (blob if f == 6 else False) for f in range(12)})
    ghost = entity(ds, {8: blob})  # an entity seen on one frame only
    assert ds.smooth_masks("clip") == 2
    assert all(np.array_equal(ds.mask("clip", f, e), body()) for f in range(12))
    assert ds.annotation("masks", "clip", 6, e)["source"] == "smooth"  # type: ignore[index]
    assert ds.annotation("masks", "clip", 5, e)["source"] == "sam2"  # type: ignore[index]  # not rewritten
    assert ds.mask_frames("clip", ghost) == [] and ds.tracklets("clip", ghost) == []


def test_tracklet_ends_not_eroded_or_extended(ds: vl.Dataset) -> None:
    masks = {f: moving(f) for f in range(3, 9)}
    e = entity(ds, masks)
    ds.smooth_masks("clip", window=2)
    assert ds.mask_frames("clip", e) == list(range(3, 9))
    # frame 3: voted by the masks of 3, 4, 5 (two of three), not cut to their intersection
    expect = (moving(3).astype(int) + moving(4) + moving(5)) >= 2
    assert np.array_equal(ds.mask("clip", 3, e), expect)
    assert ds.mask("clip", 3, e).sum() > (moving(3) & moving(4) & moving(5)).sum()


@pytest.mark.parametrize("fill_gaps", [True, False])
@pytest.mark.parametrize("window", [1, 2, 3, 7])
def test_matches_the_documented_vote(ds: vl.Dataset, window: int, fill_gaps: bool) -> None:
    rng = np.random.default_rng(window)
    n = ds.num_frames("clip")
    masks = {}
    for f in range(n):
        if rng.random() < 0.25:
            continue  # absent
        m = disc(H, W, 20 + rng.integers(-3, 4), 30 + 2 * f, 7 + rng.integers(0, 4))
        m |= rng.random((H, W)) < 0.02  # pixel flicker
        masks[f] = m
    e = entity(ds, masks)
    # the same masks again, a few of them keyframes, smoothed on some frames only (the window
    # jumps between them and starts afresh)
    other = entity(ds, masks)
    keys = [f for f in masks if rng.random() < 0.3]
    ds.set_masks("clip", other, {f: masks[f] for f in keys}, keyframe=True)
    some = sorted({int(f) for f in rng.choice(n, 5, replace=False)})
    ds.smooth_masks("clip", e, window=window, fill_gaps=fill_gaps)
    ds.smooth_masks("clip", other, some, window=window, fill_gaps=fill_gaps)
    expect = reference_smooth(masks, n, window, fill_gaps)
    for f in range(n):
        got, want = ds.mask("clip", f, e), expect[f]
        assert (got is None) == (want is None), f
        if want is not None:
            assert np.array_equal(got, want), f
        got = ds.mask("clip", f, other)
        want = expect[f] if f in some and f not in keys else masks.get(f)
        assert (got is None) == (want is None), f
        if want is not None:
            assert np.array_equal(got, want), f


def test_sequence_end_window_is_shorter(ds: vl.Dataset) -> None:
    """Frames past the end are not there: frame 0's window is 0..2, so masks on 1 and 2 fill it,
    while frame 5's is 3..7 with masks on two of five frames: the tracklet's end stays."""
    e = entity(ds, {f: body() for f in range(1, 5)})
    assert ds.smooth_masks("clip", window=2) == 0  # nothing written where there is no mask
    assert ds.smooth_masks("clip", window=2, fill_gaps=True) == 1
    assert ds.mask_frames("clip", e) == [0, 1, 2, 3, 4]


def test_smooth_keyframes_vote_but_stay(either_ds: vl.Dataset) -> None:
    ds = either_ds
    blob = disc(H, W, 40, 55, 4)
    e = entity(ds, {f: body() for f in range(12)})
    ds.set_mask("clip", 6, e, body() | blob)  # a person's keyframe with an extra part
    ds.set_mask("clip", 9, e, body() & ~disc(H, W, 20, 30, 3))  # another, with a hole
    assert ds.smooth_masks("clip") == 0  # nothing else flickers
    assert np.array_equal(ds.mask("clip", 6, e), body() | blob)
    assert ds.smooth_masks("clip", keyframes=True) == 2
    assert np.array_equal(ds.mask("clip", 6, e), body())
    assert np.array_equal(ds.mask("clip", 9, e), body())
    row = ds.annotation("masks", "clip", 6, e)
    assert row is not None and row["keyframe"] is True and row["source"] == "smooth"


def test_smooth_frames_limit_writes_not_votes(ds: vl.Dataset) -> None:
    blob = disc(H, W, 40, 55, 4)
    masks = {f: body() | (blob if f in (2, 8) else False) for f in range(12) if f != 4}
    a = entity(ds, masks, name="a")
    b = entity(ds, masks, name="b")
    assert ds.smooth_masks("clip", "a", range(3, 6), fill_gaps=True) == 1  # frame 4 filled; 2, 8 not
    assert ds.mask_frames("clip", a) == list(range(12))
    assert np.array_equal(ds.mask("clip", 2, a), body() | blob)
    assert ds.mask_frames("clip", b) == [f for f in range(12) if f != 4]  # not asked
    # frame 8's vote reads frames 6..10, outside `frames`: the blob there goes
    assert ds.smooth_masks("clip", [b], frames=8) == 1
    assert np.array_equal(ds.mask("clip", 8, b), body())


# ---------------------------------------------------------------------- undo, redo, projects
def flickering(ds: vl.Dataset) -> str:
    blob = disc(H, W, 40, 55, 4)
    masks = {}
    for f in range(12):
        if f == 5:
            continue
        m = body() | (blob if f == 7 else False)
        if f % 3 == 0:
            m = m.copy()
            m[30:33, 5:8] = True  # a speck
        masks[f] = m
    e = entity(ds, masks)
    ds.set_mask("clip", 0, e, masks[0])  # a keyframe
    ds.set_box("clip", 2, e, (1, 2, 10, 10))
    return e


@pytest.mark.parametrize("op", ["clean", "smooth"])
def test_one_undo_step_restores_exactly_and_redo(either_ds: vl.Dataset, op: str) -> None:
    ds = either_ds
    flickering(ds)
    before, steps = snapshot(ds), ds.history()
    changes: list[vl.Change] = []
    ds.observe(changes.append)
    n = ds.clean_masks("clip") if op == "clean" else ds.smooth_masks("clip")
    assert n > 0 and len(changes) == 1
    assert ds.history() == [*steps, f"{op} {n} masks"]
    after = snapshot(ds)
    assert not after["masks"].equals(before["masks"])
    assert ds.undo()
    assert_same(before, ds)
    assert ds.history() == steps
    assert ds.redo()
    assert_same(after, ds)


def test_project_keeps_the_step_across_a_reopen(tmp_path: Path, frames: np.ndarray) -> None:
    from conftest import make_ds

    folder = tmp_path / "p.vlproj"
    ds = make_ds(frames, folder)
    e = flickering(ds)
    before = snapshot(ds)
    cleaned, smoothed = ds.clean_masks("clip"), ds.smooth_masks("clip", fill_gaps=True)
    assert cleaned and smoothed
    after = snapshot(ds)
    ds.close()
    again = vl.open(folder)
    try:
        assert_same(after, again)
        assert again.history()[-2:] == [f"clean {cleaned} masks", f"smooth {smoothed} masks"]
        assert again.mask_frames("clip", e) == list(range(12))
        again.undo()
        again.undo()
        assert_same(before, again)
    finally:
        again.close()


BAD = [
    ("clean_masks", ("nope",), {}),
    ("clean_masks", ("clip", "ghost"), {}),
    ("clean_masks", ("clip", []), {}),
    ("clean_masks", ("clip", 3), {}),
    ("clean_masks", ("clip", None, 12), {}),
    ("clean_masks", ("clip", None, [0, -1]), {}),
    ("clean_masks", ("clip", None, []), {}),
    ("clean_masks", ("clip", None, "0"), {}),
    ("clean_masks", ("clip", None, 1.5), {}),
    ("clean_masks", ("clip",), {"radius": -1}),
    ("clean_masks", ("clip",), {"radius": 1.0}),
    ("clean_masks", ("clip",), {"radius": 10_000}),
    ("clean_masks", ("clip",), {"min_area": -5}),
    ("clean_masks", ("clip",), {"fill_holes": True}),
    ("clean_masks", ("clip",), {"keyframes": 1}),
    ("clean_masks", ("clip",), {"source": ""}),
    ("smooth_masks", ("nope",), {}),
    ("smooth_masks", ("clip", "ghost"), {}),
    ("smooth_masks", ("clip", None, 99), {}),
    ("smooth_masks", ("clip",), {"window": 0}),
    ("smooth_masks", ("clip",), {"window": -2}),
    ("smooth_masks", ("clip",), {"window": 1.5}),
    ("smooth_masks", ("clip",), {"window": True}),
    ("smooth_masks", ("clip",), {"keyframes": "yes"}),
    ("smooth_masks", ("clip",), {"fill_gaps": 1}),
    ("smooth_masks", ("clip",), {"source": None}),
]


@pytest.mark.parametrize(("method", "args", "kwargs"), BAD)
def test_bad_input_refused_and_nothing_changes(
    either_ds: vl.Dataset, method: str, args: tuple, kwargs: dict
) -> None:
    ds = either_ds
    flickering(ds)
    other = ds.add_sequence("other", num_frames=3, width=W, height=H)
    ds.add_entity(other, "x")
    before, steps = snapshot(ds), ds.history()
    if args[1:2] == ("ghost",):
        args = ("clip", "x")  # an entity of another sequence is unknown here too
    with pytest.raises(vl.ValidationError):
        getattr(ds, method)(*args, **kwargs)
    assert_same(before, ds)
    assert ds.history() == steps


def test_entity_of_another_sequence_named(ds: vl.Dataset) -> None:
    e = entity(ds, {0: body()})
    ds.add_sequence("other", num_frames=3, width=W, height=H)
    with pytest.raises(vl.ValidationError, match="belongs to sequence"):
        ds.smooth_masks("other", e)


# ---------------------------------------------------------------------- a long sequence
def test_3000_frames_cleaned_and_smoothed() -> None:
    n, h, w = 3000, 60, 80
    ds = vl.Dataset()
    seq = ds.add_sequence("long", num_frames=n, width=w, height=h)
    e = ds.add_entity(seq)
    rng = np.random.default_rng(0)
    absent = set(rng.choice(np.arange(1, n - 1, 4), 200, replace=False).tolist())  # never two in a row
    blobs = set(rng.choice(np.arange(2, n - 2, 4), 200, replace=False).tolist())
    obj = {f: disc(h, w, 25, 20 + (f // 100), 6) for f in range(n)}  # moves a pixel every 100 frames
    masks = {}
    for f in range(n):
        if f in absent:
            continue
        m = obj[f].copy()
        m[50:52, 70:72] = True  # a speck on every frame
        if f in blobs:
            m |= disc(h, w, 45, 60, 5)  # a blob on one frame
        masks[f] = m
    ds.set_masks(seq, e, masks, source="sam2", keyframe=False)
    ds.clear_history()
    assert ds.clean_masks(seq) == n - len(absent)
    assert ds.smooth_masks(seq, fill_gaps=True) == len(absent) + len(blobs - absent)
    assert ds.history() == [
        f"clean {n - len(absent)} masks",
        f"smooth {len(absent) + len(blobs - absent)} masks",
    ]
    assert ds.mask_frames(seq, e) == list(range(n))
    assert [(t["start_frame"], t["end_frame"]) for t in ds.tracklets(seq, e)] == [(0, n - 1)]
    wrong = [f for f in range(n) if not np.array_equal(ds.mask(seq, f, e), obj[f])]
    # the object moves a pixel every 100 frames: the vote still gives each frame's own position
    # (three of the five frames around a move hold it), so every frame is exactly the object
    assert wrong == []


def test_smoothing_some_frames_reads_only_the_masks_near_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """frames=[t] reads (and decodes) the masks of t - window .. t + window only, whatever the
    sequence's length: the rows fetched and the decodes are counted."""
    n, h, w = 3000, 24, 32
    ds = vl.Dataset()
    seq = ds.add_sequence("long", num_frames=n, width=w, height=h)
    e = ds.add_entity(seq)
    blob = disc(h, w, 18, 26, 3)
    obj = disc(h, w, 10, 10, 5)
    masks = {f: obj | (blob if f == 1500 else False) for f in range(n)}
    ds.set_masks(seq, e, masks, source="sam2", keyframe=False)
    store = type(ds._tables["masks"])
    read: list[int] = []
    decoded = [0]
    values_many, decode = store.values_many, rlemod.decode

    def counted_values_many(self: object, keys: list, columns: tuple) -> list:
        keys = list(keys)
        read.extend(k[1] for k in keys if k[0] == seq)
        return values_many(self, keys, columns)  # type: ignore[arg-type]

    def counted_decode(rle: object) -> np.ndarray:
        decoded[0] += 1
        return decode(rle)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "values_many", counted_values_many)
    monkeypatch.setattr(rlemod, "decode", counted_decode)
    assert ds.smooth_masks(seq, frames=1500, window=2) == 1
    monkeypatch.undo()
    assert read and set(read) <= set(range(1498, 1503))
    assert decoded[0] == 5  # the window's five masks, each once
    assert np.array_equal(ds.mask(seq, 1500, e), obj)


def test_cleaning_some_frames_does_not_walk_the_entitys_track(monkeypatch: pytest.MonkeyPatch) -> None:
    """clean_masks(frames=...) finds its masks by key: it never lists the entity's whole track (which
    made one frame's clean cost grow with a 3000-frame sequence), and a frame without a mask is skipped."""
    n, h, w = 3000, 24, 32
    ds = vl.Dataset()
    seq = ds.add_sequence("long", num_frames=n, width=w, height=h)
    e = ds.add_entity(seq)
    obj = disc(h, w, 10, 10, 5)
    speck = np.zeros((h, w), bool)
    speck[20, 28] = True
    ds.set_masks(seq, e, {f: obj | speck for f in range(0, n, 2)}, source="sam2", keyframe=False)
    store = type(ds._tables["masks"])
    listed: list[str] = []
    lookup = store.lookup

    def counted_lookup(self: object, index: str, key: tuple) -> object:
        listed.append(index)
        return lookup(self, index, key)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "lookup", counted_lookup)
    assert ds.clean_masks(seq, frames=[1500, 1501]) == 1  # 1501 holds no mask
    monkeypatch.undo()
    assert "by_entity" not in listed
    assert np.array_equal(ds.mask(seq, 1500, e), obj) and ds.mask(seq, 1501, e) is None
    assert np.array_equal(ds.mask(seq, 1502, e), obj | speck)


# ---------------------------------------------------------------------- clean-up beside other edits
def _speckled() -> np.ndarray:
    m = body()
    m[40:43, 55:58] = True  # a 9-pixel speck min_area=10 removes
    return m


def test_clean_masks_lets_other_edits_in_while_it_computes(
    ds: vl.Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The masks are cleaned without the writer's lock: a cell's edit in another thread lands while
    the clean-up computes, and the mask it changed is cleaned from its new pixels, not overwritten by
    the clean-up of its old ones."""
    import threading

    import vidlabel.morphology as morphology

    e = entity(ds, {0: _speckled(), 1: _speckled()})
    moved = np.roll(_speckled(), 5, axis=1)
    landed = threading.Event()
    real = morphology.tidy
    calls = []

    def tidy_with_an_edit_beside(mask: np.ndarray, **kw: int) -> np.ndarray:
        if not calls:  # on the first mask, another thread writes frame 1 and must not wait for us
            t = threading.Thread(
                target=lambda: (ds.set_mask("clip", 1, e, moved, source="cell", keyframe=False), landed.set())
            )
            t.start()
            t.join(timeout=30)
            calls.append(landed.is_set())
        return real(mask, **kw)

    monkeypatch.setattr(morphology, "tidy", tidy_with_an_edit_beside)
    assert ds.clean_masks("clip", radius=0, fill_holes=0, min_area=10) == 2
    assert calls[0], "the other thread's edit waited for the clean-up"
    assert np.array_equal(ds.mask("clip", 0, e), body())
    assert np.array_equal(ds.mask("clip", 1, e), np.roll(body(), 5, axis=1))  # its new pixels, cleaned
    assert ds.history()[-2:] == ["set mask 1", "clean 2 masks"]


def test_clean_masks_inside_a_snapshot_cleans_the_newest_masks(ds: vl.Dataset) -> None:
    e = entity(ds, {0: body()})
    with ds.snapshot():
        ds.set_mask("clip", 0, e, _speckled(), source="cell", keyframe=False)  # newer than the pin
        assert ds.clean_masks("clip", radius=0, fill_holes=0, min_area=10) == 1
    assert np.array_equal(ds.mask("clip", 0, e), body())
    assert ds.annotation("masks", "clip", 0, e)["source"] == "clean"  # type: ignore[index]


def test_smooth_masks_sees_a_mask_added_while_it_computes(
    ds: vl.Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mask written by another thread while the votes are computed is voted with, as if it had
    been there from the start: the votes are computed again under the writer's lock."""
    import threading

    import vidlabel.cleanup as cleanup

    e = entity(ds, {0: body(), 2: body()})  # a one-frame gap at 1, left alone without fill_gaps
    real = cleanup._smooth_entity
    calls: list[int] = []

    def smooth_with_an_edit_beside(*args: object) -> object:
        if not calls:  # another thread fills the gap with a speckled mask
            t = threading.Thread(target=lambda: ds.set_mask("clip", 1, e, _speckled(), keyframe=False))
            t.start()
            t.join(timeout=30)
        calls.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(cleanup, "_smooth_entity", smooth_with_an_edit_beside)
    assert ds.smooth_masks("clip", window=1) == 1
    assert len(calls) == 2  # computed once without the lock, once more under it
    assert np.array_equal(ds.mask("clip", 1, e), body())  # the speck voted away by frames 0 and 2
