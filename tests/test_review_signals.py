"""The review signals on constructed cases: each fires on the error it is for, and none fires on clean
motion (a textured square moving over a textured background while the camera pans).

Also: the table ``ds.review`` returns, keyframe and reviewed rows, weights, bad input, and the cache
that makes a re-review after an edit cost what the edit touched (counted, not timed).
"""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pyarrow as pa
import pytest

import vidlabel as vl
from vidlabel.review import SIGNALS, WEIGHTS
from vidlabel.review.cache import cache_for

H, W, N = 120, 160, 24
SIDE = 30
BAD = 10  # the frame the errors go on


def _texture(shape: tuple[int, int], seed: int, blur: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.uniform(0, 255, shape).astype(np.float32), (0, 0), blur)
    t = (t - t.min()) / (t.max() - t.min() + 1e-6) * 255
    return t.astype(np.uint8)


def _scene() -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Frames of a camera panning 2 px a frame over a background while a square moves 3 px a frame
    across it (so 5 px a frame on screen), and the square's top-left corner per frame."""
    bg = _texture((H + 10, W + 2 * N + 10), 1, 2.0)
    obj = 255 - _texture((SIDE, SIDE), 2, 1.0) // 2
    frames, corners = [], []
    for f in range(N):
        img = bg[5 : 5 + H, 2 * f : 2 * f + W].copy()
        x, y = 20 + 3 * f, 40 + (f % 3 == 0)
        img[y : y + SIDE, x : x + SIDE] = obj
        frames.append(np.repeat(img[..., None], 3, axis=2))
        corners.append((x, y))
    return np.stack(frames), corners


FRAMES, CORNERS = _scene()


def square(f: int, dx: int = 0, dy: int = 0) -> np.ndarray:
    m = np.zeros((H, W), bool)
    x, y = CORNERS[f]
    m[y + dy : y + dy + SIDE, x + dx : x + dx + SIDE] = True
    return m


def dataset(masks: dict[int, np.ndarray] | None = None, scores: dict[int, float] | None = None) -> tuple:
    """A sequence with the true squares (frame 0 a keyframe), ``masks`` replacing some."""
    ds = vl.Dataset()
    seq = ds.add_sequence("pan", frames=FRAMES)
    e = ds.add_entity(seq, name="square")
    ds.set_mask(seq, 0, e, square(0))
    todo = {f: square(f) for f in range(1, N)}
    todo.update(masks or {})
    ds.set_masks(
        seq, e, {f: m for f, m in todo.items() if m is not None}, source="flow", keyframe=False, score=scores
    )
    for f, m in todo.items():
        if m is None:
            ds.remove_mask(seq, f, e)
    return ds, seq, e


def rows(q: pa.Table, entity: str | None = None) -> dict[int, dict]:
    out = {}
    for r in q.to_pylist():
        if entity is None or r["entity_id"] == entity:
            out[r["frame_index"]] = r
    return out


def fired(q: pa.Table, signal: str, threshold: float = 0.5) -> set[int]:
    return {f for f, r in rows(q).items() if (r[signal] or 0.0) >= threshold}


# ---------------------------------------------------------------------- clean motion
def test_clean_motion_with_a_camera_pan_is_not_suspicious() -> None:
    ds, seq, _ = dataset()
    q = ds.review(seq)
    assert len(q) == N - 1  # every frame but the keyframe
    for s in ("temporal", "area_jump", "centroid_jump", "flicker", "fragmentation", "overlap", "presence"):
        vals = [v for v in q.column(s).to_pylist() if v is not None]
        assert len(vals) == N - 1 and max(vals) < 0.2, (s, max(vals))
    assert max(q.column("suspicion").to_pylist()) < 0.3
    assert set(q.column("reasons").to_pylist()) == {""}


# ---------------------------------------------------------------------- each error
def test_a_shifted_mask_fires_temporal_and_centroid_jump() -> None:
    ds, seq, _ = dataset({BAD: square(BAD, dx=7, dy=4)})
    q = ds.review(seq)
    assert q.column("frame_index")[0].as_py() == BAD
    assert fired(q, "temporal") == {BAD}
    assert fired(q, "centroid_jump") == {BAD}
    assert q.column("reasons")[0].as_py().split(",")[0] in ("temporal", "centroid_jump")
    assert q.column("suspicion")[1].as_py() < 0.5 * q.column("suspicion")[0].as_py()


def test_an_eroded_mask_fires_area_jump_and_flicker() -> None:
    m = cv2.erode(square(BAD).view(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)  # loses 3 px all round
    ds, seq, _ = dataset({BAD: m})
    q = ds.review(seq)
    assert q.column("frame_index")[0].as_py() == BAD
    assert fired(q, "area_jump") == {BAD}
    assert fired(q, "flicker") == {BAD}


def test_a_leak_into_the_background_fires_area_jump_and_temporal() -> None:
    m = square(BAD)
    x, y = CORNERS[BAD]
    m[y + 5 : y + 25, x + SIDE : x + SIDE + 12] = True
    ds, seq, _ = dataset({BAD: m})
    q = ds.review(seq)
    assert q.column("frame_index")[0].as_py() == BAD
    assert fired(q, "area_jump") == {BAD}
    assert fired(q, "temporal", 0.3) == {BAD}


def test_a_piece_apart_and_a_hole_fire_fragmentation() -> None:
    m = square(BAD)
    m[90:100, 130:140] = True  # a piece of something else, away from the object
    h = square(BAD + 6)
    x, y = CORNERS[BAD + 6]
    h[y + 10 : y + 18, x + 10 : x + 18] = False
    ds, seq, _ = dataset({BAD: m, BAD + 6: h})
    q = ds.review(seq)
    assert fired(q, "fragmentation") == {BAD, BAD + 6}
    assert set(q.column("frame_index").to_pylist()[:2]) == {BAD, BAD + 6}


def test_a_mask_lost_for_a_frame_is_a_row_of_its_own() -> None:
    ds, seq, _e = dataset({BAD: None})
    q = ds.review(seq)
    top = q.to_pylist()[0]
    assert top["frame_index"] == BAD and top["presence"] == 1.0 and top["reasons"].startswith("presence")
    assert top["temporal"] is None and top["score"] is None  # nothing to measure on a missing mask
    assert fired(q, "presence") == {BAD}
    assert len(q) == N - 1
    # Its neighbours are compared across the gap and stay clean.
    assert max(r["temporal"] for f, r in rows(q).items() if f != BAD) < 0.2


def test_a_mask_shown_for_one_frame_only_fires_presence() -> None:
    ds, seq, _e = dataset({f: None for f in range(15, 20) if f != 17})
    q = ds.review(seq)
    assert fired(q, "presence", 0.99) == {17}
    assert fired(q, "presence", 0.5) == {15, 16, 17, 18, 19}
    assert rows(q)[17]["presence"] == 1.0  # the blip
    assert rows(q)[16]["presence"] == 0.5  # a gap of two frames


def test_masks_of_two_entities_sharing_pixels_fire_overlap() -> None:
    ds, seq, a = dataset()
    b = ds.add_entity(seq, name="other")
    other = {f: np.roll(square(f), 50, axis=0) for f in range(N)}
    other[BAD] = other[BAD] | square(BAD, dx=10)  # reaches over a third of the square
    ds.set_masks(seq, b, other, source="flow", keyframe=False)
    q = ds.review(seq)
    assert fired(q, "overlap") == {BAD}
    assert rows(q, b)[BAD]["overlap"] == 1.0 and rows(q, a)[BAD]["overlap"] == 1.0
    assert max(r["overlap"] for f, r in rows(q, a).items() if f != BAD) == 0.0


def test_a_low_engine_score_fires_low_score() -> None:
    scores = {f: 0.9 for f in range(1, N)}
    scores[BAD] = 0.3
    ds, seq, _ = dataset(scores=scores)
    q = ds.review(seq)
    assert fired(q, "low_score", 0.99) == {BAD}
    assert rows(q)[BAD]["score"] == pytest.approx(0.3)
    assert rows(q)[BAD + 1]["low_score"] == 0.0


def test_disagreement_with_a_second_set_of_masks() -> None:
    ds, seq, e = dataset()
    other, _oseq, _oe = dataset({BAD: square(BAD, dx=12)})
    q = ds.review(seq, compare=other)
    assert fired(q, "disagreement") == {BAD}
    # The same from an engine's output: {frame: {entity: (mask, score)}}
    out = {f: {e: (square(f), 1.0)} for f in range(N)}
    out[BAD + 3] = {e: (square(BAD + 3, dy=12), 1.0)}
    assert fired(ds.review(seq, compare=out), "disagreement") == {BAD + 3}
    assert ds.review(seq).column("disagreement").null_count == N - 1  # not asked: null


def test_the_engine_check_fires_where_the_engine_reaches_the_mask_from_neither_side() -> None:
    ds, seq, _ = dataset({BAD: square(BAD, dx=9, dy=6)})
    q = ds.review(seq, engine=vl.segment.load("flow"), frames=[BAD - 4, BAD, BAD + 4])
    assert len(q) == 3
    assert fired(q, "engine_check") == {BAD}
    assert q.column("frame_index")[0].as_py() == BAD


# ---------------------------------------------------------------------- the table
def test_the_table_has_the_contract_s_columns_sorted_by_suspicion() -> None:
    ds, seq, _ = dataset({BAD: square(BAD, dx=7), BAD + 5: None})
    q = ds.review(seq)
    names = ["frame_index", "entity_id", "suspicion", "reasons", *SIGNALS, "score", "reviewed"]
    assert q.column_names == names
    assert q.schema.field("frame_index").type == pa.int32()
    assert q.schema.field("entity_id").type == pa.string()
    for s in ("suspicion", *SIGNALS, "score"):
        assert q.schema.field(s).type == pa.float32()
    assert q.schema.field("reviewed").type == pa.bool_()
    sus = q.column("suspicion").to_pylist()
    assert sus == sorted(sus, reverse=True) and min(sus) >= 0.0 and max(sus) <= 1.0
    assert q.to_pandas().shape == (N - 1, len(names))


def test_the_suspicion_combines_the_evidence_with_the_weights() -> None:
    ds, seq, _ = dataset({BAD: square(BAD, dx=7, dy=4)})
    q = rows(ds.review(seq))[BAD]
    expected = 1 - np.prod([1 - WEIGHTS[s] * (q[s] or 0.0) for s in SIGNALS])
    assert q["suspicion"] == pytest.approx(expected, abs=1e-6)
    off = {s: 0.0 for s in ("temporal", "centroid_jump", "flicker", "area_jump")}
    quiet = rows(ds.review(seq, weights=off))[BAD]
    assert quiet["suspicion"] < 0.2 < q["suspicion"]
    assert "temporal" not in quiet["reasons"]


def test_keyframes_and_reviewed_rows_leave_the_queue_unless_asked() -> None:
    ds, seq, e = dataset({BAD: square(BAD, dx=7)})
    ds.mark_reviewed(seq, BAD, e)
    q = ds.review(seq)
    assert BAD not in rows(q) and 0 not in rows(q) and len(q) == N - 2
    every = rows(ds.review(seq, include_reviewed=True))
    assert len(every) == N and every[BAD]["reviewed"] and every[0]["reviewed"]
    assert not every[BAD + 1]["reviewed"]


def test_entities_and_frames_restrict_the_rows() -> None:
    ds, seq, a = dataset()
    b = ds.add_entity(seq, name="other")
    ds.set_masks(seq, b, {f: np.roll(square(f), 50, axis=0) for f in range(1, N)}, keyframe=False)
    assert set(ds.review(seq, entities="other").column("entity_id").to_pylist()) == {b}
    q = ds.review(seq, frames=range(3, 6), entities=[a])
    assert sorted(q.column("frame_index").to_pylist()) == [3, 4, 5]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"seq": "nope"},
        {"entities": "nope"},
        {"entities": 3},
        {"frames": N},
        {"frames": "3"},
        {"weights": {"nope": 0.5}},
        {"weights": {"temporal": 1.5}},
        {"weights": {"temporal": float("nan")}},
        {"weights": {"temporal": "high"}},
        {"weights": [("temporal", 0.5)]},
        {"include_reviewed": "yes"},
        {"compare": 3},
        {"compare": {0: {"square": np.zeros((2, 2), bool)}}},
        {"compare": {N + 1: {}}},
        {"engine": "flow"},
    ],
)
def test_bad_input_is_a_validation_error_and_changes_nothing(kwargs: dict) -> None:
    ds, seq, _ = dataset()
    before = ds.version
    args = {"seq": seq, **kwargs}
    with pytest.raises(vl.ValidationError):
        ds.review(args.pop("seq"), **args)
    assert ds.version == before


# ---------------------------------------------------------------------- the cache
def test_a_re_review_after_an_edit_recomputes_only_what_the_edit_touched() -> None:
    ds, seq, e = dataset()
    first = ds.review(seq)
    counts = cache_for(ds, seq).computed
    # Each pair of consecutive frames once, and the two ends' second neighbours, (0, 2) and (21, 23).
    assert counts["flow"] == (N - 1) + 2 and counts["frame"] == N and counts["grey"] == N
    before = dict(counts)
    ds.review(seq)
    assert dict(counts) == before  # nothing changed: nothing computed
    ds.set_mask(seq, BAD, e, square(BAD, dx=7), keyframe=False, source="flow")
    again = ds.review(seq)
    done = {k: counts[k] - before.get(k, 0) for k in counts}
    # The frame itself, and the pairs it is in: (9, 10), (10, 11), and (8, 10) / (10, 12) where its
    # neighbours' neighbours reach it (frames at the end compare with two before them).
    assert done["frame"] == 1 and 2 <= done["flow"] <= 4 and done["pair"] == done["flow"], done
    assert rows(again)[BAD]["temporal"] > 0.5 and rows(first)[BAD]["temporal"] < 0.2
    ds.undo()
    back = ds.review(seq)
    assert back.equals(first)


def test_a_change_of_pixels_drops_the_sequence_s_cache() -> None:
    ds, seq, _ = dataset()
    ds.review(seq)
    old = cache_for(ds, seq)
    before = old.computed["flow"]
    ds.attach_frames(seq, FRAMES[:, :, ::-1].copy())
    ds.review(seq)
    new = cache_for(ds, seq)
    assert new is not old and new.computed["flow"] == before  # every flow again, on the new pixels
    assert old.computed["flow"] == before and not old.pairs  # the old cache let go of


def uncached(ds: vl.Dataset, seq: str, **kwargs: object) -> pa.Table:
    """``ds.review`` computed from nothing: a cache of its own, the dataset's left as it was."""
    saved, observers = ds.__dict__.pop("_review_caches", None), list(ds._observers)
    try:
        return ds.review(seq, include_reviewed=True, **kwargs)  # type: ignore[arg-type]
    finally:
        ds._observers[:] = observers
        ds.__dict__.pop("_review_caches", None)
        if saved is not None:
            ds.__dict__["_review_caches"] = saved


def rect(f: int, y: int, x: int, dx: int = 0) -> np.ndarray:
    """A rectangle on the background, at (x, y) on frame 0 and carried along by the camera's pan."""
    m = np.zeros((H, W), bool)
    x += dx - 2 * f
    m[y : y + 20, x : x + 30] = True
    return m


LEFT, RIGHT = (5, 50), (95, 120)


def three() -> tuple:
    """The square, and two still rectangles the camera pans past (three entities)."""
    ds, seq, e = dataset()
    others = []
    for name, (y, x) in (("left", LEFT), ("right", RIGHT)):
        o = ds.add_entity(seq, name=name)
        ds.set_mask(seq, 0, o, rect(0, y, x))
        ds.set_masks(seq, o, {f: rect(f, y, x) for f in range(1, N)}, source="flow", keyframe=False)
        others.append(o)
    return ds, seq, [e, *others]


def test_one_edit_to_one_entity_of_three_recomputes_that_entity_only() -> None:
    ds, seq, (e, left, right) = three()
    first = ds.review(seq, include_reviewed=True)
    cache = cache_for(ds, seq)
    counts = cache.computed
    assert counts["rows"] == 3 and counts["track"] == 3
    before = dict(counts)
    built = dict(cache.built)
    assert ds.review(seq, include_reviewed=True).equals(first)
    assert dict(counts) == before  # unchanged: nothing computed, no track or rows rebuilt
    assert all(cache.built[k].base is built[k].base for k in built)  # the same row arrays
    ds.set_mask(seq, BAD, left, rect(BAD, *LEFT, dx=6), keyframe=False, source="flow")
    again = ds.review(seq, include_reviewed=True)
    done = {k: counts[k] - before.get(k, 0) for k in counts}
    # Frame BAD's stats (all entities', one frame) and the edited entity's pairs near it; its track
    # and rows alone rebuilt.
    assert done["frame"] == 1 and 2 <= done["flow"] <= 4 and done["pair"] == done["flow"], done
    assert done["track"] == 1 and done["rows"] == 1, done
    assert cache.built[e].base is built[e].base and cache.built[right].base is built[right].base
    assert again.equals(uncached(ds, seq))
    assert rows(again, left)[BAD]["temporal"] > 0.5 and rows(first, left)[BAD]["temporal"] < 0.2
    ds.undo()
    assert ds.review(seq, include_reviewed=True).equals(first)
    ds.redo()
    assert ds.review(seq, include_reviewed=True).equals(again)


def test_an_edit_that_reaches_another_entity_rebuilds_that_one_too() -> None:
    ds, seq, (e, left, _right) = three()
    ds.review(seq)
    counts = cache_for(ds, seq).computed
    before = dict(counts)
    # The square grows onto the left rectangle: the rectangle's overlap there changes too.
    m = square(BAD) | rect(BAD, *LEFT)
    ds.set_mask(seq, BAD, e, m, keyframe=False, source="flow")
    q = ds.review(seq, include_reviewed=True)
    done = {k: counts[k] - before.get(k, 0) for k in counts}
    assert done["frame"] == 1 and done["track"] == 2 and done["rows"] == 2, done
    assert rows(q, left)[BAD]["overlap"] > 0.5
    assert q.equals(uncached(ds, seq))


def test_the_cache_follows_marks_removals_sources_and_old_versions() -> None:
    ds, seq, (_e, left, right) = three()
    first = ds.review(seq, include_reviewed=True)
    old = ds.snapshot()
    counts = cache_for(ds, seq).computed
    rows_before = counts["rows"]
    ds.mark_reviewed(seq, BAD, right)
    q = ds.review(seq, include_reviewed=True)
    assert counts["rows"] == rows_before + 1 and rows(q, right)[BAD]["reviewed"]
    assert q.equals(uncached(ds, seq))
    # Removed, then a new entity under the same id with other masks.
    ds.remove_entity(seq, left)
    assert ds.review(seq, include_reviewed=True).equals(uncached(ds, seq))
    again = ds.add_entity(seq, name="left again", id=left)
    assert again == left
    ds.set_masks(seq, left, {f: rect(f, 50, 100) for f in range(2, N - 3)}, source="flow", keyframe=False)
    q = ds.review(seq, include_reviewed=True)
    assert q.equals(uncached(ds, seq)) and set(rows(q, left)) == set(range(2, N - 3))
    ds.replace_source(seq, ds.frame_source(seq))
    assert ds.review(seq, include_reviewed=True).equals(uncached(ds, seq))
    with old:  # a review pinned to a version older than the cache's
        assert ds.review(seq, include_reviewed=True).equals(first)
    assert ds.review(seq, include_reviewed=True).equals(q)


def test_a_version_published_unobserved_makes_the_cache_rebuild() -> None:
    ds, seq, (_e, _left, right) = three()
    ds.review(seq)
    cache = cache_for(ds, seq)
    v = ds.version
    snap = ds.snapshot()
    names = ("sequences", "entities", "tracklets", "masks", "boxes", "states")
    ds.load_tables({n: snap.table(n) for n in names}, {seq: snap.frame_info(seq)}, validated=True)
    assert ds.version == v + 1 and cache.log_since(v, ds.version) is None  # a bulk load tells no observer
    ds.set_mask(seq, BAD, right, rect(BAD, *RIGHT, dx=5), keyframe=False, source="flow")
    assert cache_for(ds, seq).log_since(ds.version - 1, ds.version) is not None
    assert ds.review(seq, include_reviewed=True).equals(uncached(ds, seq))


# The two states the editing thread below flips between, each in one transaction: frame GONE's mask
# there or not, and frame MOVED's mask shifted or not, so a read of half an edit, or of the cache's
# rows of one state with the other's, matches neither.
GONE, MOVED = 6, 15


def _flip(ds: vl.Dataset, seq: str, e: str, to_b: bool) -> None:
    with ds.transaction("flip"):
        if to_b:
            ds.remove_mask(seq, GONE, e)
        else:
            ds.set_mask(seq, GONE, e, square(GONE), keyframe=False, source="flow")
        ds.set_mask(seq, MOVED, e, square(MOVED, dx=6 if to_b else 0), keyframe=False, source="flow")


def test_review_reads_one_version_while_another_thread_edits() -> None:
    # Each state's queue, computed beforehand on datasets of their own (no cache shared).
    expected = []
    for to_b in (False, True):
        ref, rseq, re = dataset()
        _flip(ref, rseq, re, to_b)
        expected.append(ref.review(rseq))
    assert not expected[0].equals(expected[1])
    assert rows(expected[1])[GONE]["presence"] == 1.0 and rows(expected[0])[GONE]["presence"] == 0.0

    ds, seq, e = dataset()
    # An observer ahead of the cache's that takes its time: a review often reads a version whose
    # change the cache has not been told of yet.
    ds.observe(lambda change: time.sleep(0.003))
    stop = threading.Event()
    flips = [0]
    start = ds.version  # state A; each flip is one version, so version start + k holds state k % 2

    def edit() -> None:
        while not stop.is_set():
            flips[0] += 1
            _flip(ds, seq, e, flips[0] % 2 == 1)

    t = threading.Thread(target=edit)
    t.start()
    try:
        for _ in range(40):
            with ds.snapshot() as snap:
                q = ds.review(seq)
            # the state of the version read: not the other one (a stale read), nor a mix of both
            assert q.equals(expected[(snap.number - start) % 2]), snap.number - start
    finally:
        stop.set()
        t.join()
    assert flips[0] > 1
    # Once the edits stop, the cache answers what a fresh review of the state left does.
    assert ds.review(seq).equals(expected[flips[0] % 2])


def test_disagreement_fires_where_a_second_set_is_far_off_even_on_most_of_the_track() -> None:
    """A second set whose masks miss the object on nearly every frame: its usual disagreement is
    total, yet each such frame is flagged (two fair segmentations overlap more than IoU 0.5)."""
    ds, seq, e = dataset()
    off = {f: {e: square(f, dy=SIDE + 2)} for f in range(1, N)}  # beside the square: IoU 0
    off[3] = {e: square(3)}  # one frame where the two agree
    q = ds.review(seq, compare=off).to_pandas().set_index("frame_index")
    assert q.loc[3, "disagreement"] == 0.0
    others = q.drop(index=3)["disagreement"]
    assert (others == 1.0).all(), others
    assert all("disagreement" in r for r in q.drop(index=3)["reasons"])
