"""SAM 3 text prompts in propagation: instances that appear mid-video become entities where they appear.

The tiny SAM 3 has random weights, so what its detector finds is arbitrary. The exact checks give the
session a stand-in detector (``detect``, the one method propagation asks) that sees chosen squares on chosen
frames; the real detector is run too, for what must hold whatever it finds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import assert_same, snapshot
from hf_reference import tiny_sam3

import vidlabel as vl
from vidlabel.segment.hf_loading import import_transformers

import_transformers()

H, W = 64, 96
N = 12


@pytest.fixture(scope="module")
def sam3() -> Any:
    return tiny_sam3()


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    v = vl.demo.synthetic_video(width=W, height=H, num_frames=N, num_objects=2, seed=5)
    return np.stack(v.frames)


def _square(x: int, y: int, s: int = 16) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[y : y + s, x : x + s] = True
    return m


A, B = _square(8, 8), _square(60, 36)


def _session(sam3: Any, clip: np.ndarray, sees: dict[int, list[np.ndarray]]) -> tuple[vl.Dataset, str, Any]:
    """A dataset of ``clip`` and a session whose detector sees ``sees[frame]`` (and, once the dataset holds
    an entity's mask on a frame, that mask too: the instance as tracked before)."""
    ds = vl.Dataset()
    seq = ds.add_sequence("clip", frames=list(clip))
    ds.clear_history()
    sess = sam3.session(ds, seq)
    asked: list[int] = []

    def detect(text: str, frame: int, threshold: Any = None, max_objects: Any = None) -> Any:
        asked.append(frame)
        held = [m for e in ds.entity_ids(seq) if (m := ds.mask(seq, frame, e)) is not None and m.any()]
        return [(m, 0.9) for m in sees.get(frame, []) + held]

    sess.detect = detect
    sess.asked = asked
    return ds, seq, sess


def _frames_of(ds: vl.Dataset, seq: str, eid: str) -> list[int]:
    return [f for f in range(N) if ds.annotation("masks", seq, f, eid) is not None]


def test_an_instance_that_appears_mid_video_becomes_an_entity_there_and_is_tracked_after(
    sam3: Any, clip: np.ndarray
) -> None:
    ds, seq, sess = _session(sam3, clip, {0: [A], 4: [B]})
    found = sess.find("ball", frame=0)
    (a,) = found.new
    assert sess.texts == ["ball"]
    report = sess.propagate_into()  # keeps looking for "ball"
    assert report.frames == list(range(N)) and not report.cancelled
    (b,) = report.found
    assert ds.entity_ids(seq) == [a, b] and ds.entity(b)["category"] == "ball"
    row = ds.annotation("masks", seq, 4, b)
    assert row is not None and row["keyframe"] and row["source"] == f"sam3:{sam3.model_id}"
    assert row["score"] == pytest.approx(0.9)
    # Its mask there is the tracker's answer to the square (not something else): mostly the square.
    kept = ds.mask(seq, 4, b)
    assert (kept & B).sum() / (kept | B).sum() > 0.5
    # Nothing before the frame it appeared on; tracked on every frame after it.
    assert _frames_of(ds, seq, b)[0] == 4
    after = [ds.annotation("masks", seq, f, b) for f in range(5, N)]
    assert sum(r is not None for r in after) >= N - 6
    assert all(r["source"] == "sam3" and not r["keyframe"] for r in after if r is not None)
    assert len(_frames_of(ds, seq, a)) >= N - 2  # the one found first is tracked all along
    # Every frame was searched once.
    assert sorted(sess.asked) == [0, *range(N)]
    # The whole run, with the entity it created, is one undo step.
    assert ds.history()[-1].startswith("sam3: propagate") and len(ds.history()) == 2
    ds.undo()
    assert ds.entity_ids(seq) == [a] and _frames_of(ds, seq, a) == [0]


def test_rerunning_finds_nothing_new(sam3: Any, clip: np.ndarray) -> None:
    ds, seq, sess = _session(sam3, clip, {0: [A], 4: [B]})
    sess.find("ball", frame=0)
    first = sess.propagate_into()
    assert len(first.found) == 1
    before = {e: _frames_of(ds, seq, e) for e in ds.entity_ids(seq)}
    again = sess.propagate_into()  # the detector now also sees what is tracked on each frame
    assert again.found == [] and {e: _frames_of(ds, seq, e) for e in ds.entity_ids(seq)} == before


def test_what_is_tracked_on_a_frame_is_not_found_again_there(
    sam3: Any, clip: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real detector sees every instance on every frame, also those tracked: on a frame the run has
    # not written yet, each is matched to the tracker's mask there (not to the dataset), and only the
    # square that matches nothing tracked becomes an entity.
    ds, seq, sess = _session(sam3, clip, {0: [A]})
    (a,) = sess.find("ball", frame=0).new
    tracked = dict(sess.propagate(start=0, entities=[a]))  # what the tracker makes of it (no writes)
    monkeypatch.setattr(sam3, "match_iou", 0.5)
    sees = {f: [tracked[f][a][0]] for f in range(1, N)}  # the same instance, where it is tracked
    sees[4] = [*sees[4], B]
    ds2, seq2, sess2 = _session(sam3, clip, sees)
    ds2.set_mask(seq2, 0, ds2.add_entity(seq2, category="ball"), ds.mask(seq, 0, a))
    report = sess2.propagate_into(find="ball")
    (b,) = report.found
    assert ds2.entity_ids(seq2)[1] == b and len(ds2.entity_ids(seq2)) == 2
    assert ds2.mask_frames(seq2, b)[0] == 4


def test_a_detection_of_a_persons_keyframe_is_that_entity(sam3: Any, clip: np.ndarray) -> None:
    # The tracker's answer on a keyframe differs from the person's mask; the detector seeing the mask
    # the person drew is the same instance all the same.
    small = _square(2, 2, 4)  # the tiny model answers it with IoU 0.6 (a square of 16: 0.98)
    ds, seq, sess = _session(sam3, clip, {0: [small]})
    mine = ds.add_entity(seq, "mine", category="ball")
    ds.set_mask(seq, 0, mine, small)
    report = sess.propagate_into(find="ball", end=3)
    answer = dict(sess.propagate(start=0, end=0))[0][mine][0]
    assert (answer & small).sum() / (answer | small).sum() < sam3.match_iou  # the case this is about
    assert report.found == [] and ds.entity_ids(seq) == [mine]


def test_an_older_mask_of_a_tracked_entity_does_not_hide_an_instance(sam3: Any, clip: np.ndarray) -> None:
    # The dataset holds an earlier run's mask of x on frame 3 where x is not now; what the detector sees
    # there is another instance (the run replaces x's old mask with where it tracks x).
    ds, seq, sess = _session(sam3, clip, {0: [A], 3: [B]})
    x = ds.add_entity(seq, "x", category="ball")
    ds.set_mask(seq, 0, x, A)
    ds.set_mask(seq, 3, x, B, keyframe=False, source="an earlier run")
    report = sess.propagate_into(find="ball", end=5)
    (b,) = report.found
    assert ds.mask_frames(seq, b)[0] == 3
    now = ds.mask(seq, 3, x)  # x as tracked now: not the instance at B (the case this is about)
    assert (now & B).sum() / (now | B).sum() < sam3.match_iou


def test_a_session_without_prompts_starts_from_what_it_finds(sam3: Any, clip: np.ndarray) -> None:
    ds, seq, sess = _session(sam3, clip, {3: [B], 2: [A]})
    report = sess.propagate_into(find="ball", direction="backward")  # from the last frame back
    assert report.frames == list(range(N - 1, -1, -1))
    b, a = report.found
    for e, where in ((b, 3), (a, 2)):
        frames = _frames_of(ds, seq, e)  # tracked backward from where it was found, nothing after it
        assert frames[-1] == where and ds.annotation("masks", seq, where, e)["keyframe"]
        assert len(frames) >= where  # and on most frames before


def test_no_entities_given_tracks_only_what_the_run_finds(sam3: Any, clip: np.ndarray) -> None:
    ds, seq, sess = _session(sam3, clip, {4: [B]})
    a = ds.add_entity(seq, category="other")
    sess.prompt(0, a, mask=A)  # prompted in the session: entities=None would track it too
    before = ds.mask_frames(seq, a)
    report = sess.propagate_into(find="ball", start=2, entities=[])
    assert report.frames == list(range(2, N)) and not report.cancelled
    (b,) = report.found
    assert ds.mask_frames(seq, a) == before == [0]  # left alone
    assert _frames_of(ds, seq, b)[0] == 4 and ds.annotation("masks", seq, 4, b)["keyframe"]
    assert len(_frames_of(ds, seq, b)) >= N - 6  # tracked after it appeared
    # Without texts to find, an empty list is still refused.
    with pytest.raises(vl.ValidationError, match="no entities given"):
        sess.propagate_into(find=False, start=2, entities=[])


def test_going_both_ways_an_instance_found_ahead_is_not_tracked_back_past_the_start(
    sam3: Any, clip: np.ndarray
) -> None:
    c = _square(40, 4)
    ds, seq, sess = _session(sam3, clip, {2: [A], 4: [c], 6: [B]})
    report = sess.propagate_into(find="ball", start=4, direction="both")
    assert sorted(report.frames) == list(range(N))
    on, ahead, behind = report.found  # on the start frame, then ahead of it (forward), behind it
    assert _frames_of(ds, seq, ahead)[0] == 6  # nothing before where it appeared (not frames 3..0)
    assert _frames_of(ds, seq, behind)[-1] == 2  # nothing after
    for e, f in ((on, 4), (ahead, 6), (behind, 2)):
        assert ds.annotation("masks", seq, f, e)["keyframe"]
    assert min(_frames_of(ds, seq, on)) < 4 < max(_frames_of(ds, seq, on))  # tracked both ways


def test_max_objects_caps_what_a_run_creates(sam3: Any, clip: np.ndarray) -> None:
    many = [_square(4 + 22 * i, 4) for i in range(4)] + [_square(4 + 22 * i, 40) for i in range(4)]
    ds, seq, sess = _session(sam3, clip, {1: many})
    report = sess.propagate_into(find="ball", start=0)
    assert len(report.found) == sam3.max_objects == 4 and ds.entity_ids(seq) == report.found
    # The squares are distinct instances: the four best (first) are the ones made.
    assert [ds.mask(seq, 1, e)[4:20].any() for e in report.found] == [True] * 4


def test_find_every_searches_fewer_frames(sam3: Any, clip: np.ndarray) -> None:
    ds, seq, sess = _session(sam3, clip, {3: [B], 4: [A]})
    report = sess.propagate_into(find="ball", start=0, find_every=4, end=8)
    assert sorted(sess.asked) == [0, 4, 8]
    (a,) = report.found
    assert _frames_of(ds, seq, a)[0] == 4


def test_cancel_keeps_whole_frames_and_what_it_found(sam3: Any, clip: np.ndarray) -> None:
    ds, seq, sess = _session(sam3, clip, {0: [A], 3: [B]})
    token = vl.segment.CancelToken()

    def on_frame(frame: int, done: int, total: int) -> None:
        if frame == 5:
            token.cancel()

    report = sess.propagate_into(find="ball", cancel=token, on_frame=on_frame)
    assert report.cancelled and report.frames == list(range(6)) and len(report.found) == 2
    a, b = report.found
    assert _frames_of(ds, seq, b)[0] == 3 and max(_frames_of(ds, seq, a) + _frames_of(ds, seq, b)) <= 5
    ds.undo()
    assert ds.entity_ids(seq) == [] and ds.history() == []


def test_bad_find_arguments_are_refused_and_write_nothing(sam3: Any, clip: np.ndarray) -> None:
    ds, _, sess = _session(sam3, clip, {0: [A]})
    other = vl.Dataset()
    other.add_sequence("clip", frames=list(clip))
    before = snapshot(ds)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"find": ""}, "non-empty"),
        ({"find": ["ball", "  "]}, "non-empty"),
        ({"find": 3}, "find must be"),
        ({"find": True}, "never called"),
        ({"find": "ball", "find_every": 0}, "find_every"),
        ({"find": "ball", "find_every": 1.5}, "find_every"),
        ({"find": "ball", "ds": other}, "own dataset"),
        ({"find": "ball", "start": N}, "frame"),
        ({"find": "a red ball " * 9}, "at most 80 characters"),
    ]
    for kwargs, match in cases:
        with pytest.raises(vl.ValidationError, match=match):
            sess.propagate_into(**kwargs)
    assert_same(before, ds)
    with pytest.raises(vl.ValidationError, match="at most 80 characters"):
        sess.find("a red ball " * 9, frame=0)
    assert_same(before, ds)
    assert sess.asked == []
    # With nothing to find and no prompts, it says what would start it.
    with pytest.raises(vl.ValidationError, match=r"no prompts yet.*propagate_into\(find=.person.\)"):
        sess.propagate_into()
    assert_same(before, ds)


def test_the_real_detector_in_propagation_reads_each_frame_once(sam3: Any, clip: np.ndarray) -> None:
    """With the model's own detector: what holds whatever random weights find."""
    ds = vl.Dataset()
    seq = ds.add_sequence("clip", frames=list(clip[:8]))
    ds.clear_history()
    sess = sam3.session(ds, seq)
    det = sam3.model.detector_model
    calls: list[int] = []
    inner = det.get_vision_features

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return inner(*args, **kwargs)

    det.get_vision_features = counted
    try:
        report = sess.propagate_into(find="person", start=0)
    finally:
        del det.get_vision_features
    # One backbone pass per frame, shared by the tracker and the detector (plus none for prompting).
    assert len(calls) == 8
    assert 1 <= len(report.found) <= sam3.max_objects
    for e in report.found:
        assert ds.entity(e)["category"] == "person"
        frames = [f for f in range(8) if ds.annotation("masks", seq, f, e) is not None]
        first = ds.annotation("masks", seq, frames[0], e)
        assert first["keyframe"] and first["source"] == f"sam3:{sam3.model_id}"
        assert all(not ds.annotation("masks", seq, f, e)["keyframe"] for f in frames[1:])
    # No two instances created on one frame are the same one.
    by_frame: dict[int, list[np.ndarray]] = {}
    for e in report.found:
        f = next(f for f in range(8) if ds.annotation("masks", seq, f, e) is not None)
        by_frame.setdefault(f, []).append(ds.mask(seq, f, e))
    for masks in by_frame.values():
        for i in range(len(masks)):
            for j in range(i):
                assert (masks[i] & masks[j]).sum() / (masks[i] | masks[j]).sum() < sam3.match_iou
