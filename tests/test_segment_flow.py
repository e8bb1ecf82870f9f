"""The weight-free flow engine (vidlabel.segment.flow): prompt quality, propagation quality on the
synthetic demo video, what a propagation yields and writes, and bad input refused before anything
is computed or written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from conftest import assert_same, disc, snapshot

import vidlabel as vl
from vidlabel.segment.flow import FlowEngine, FlowSession


@pytest.fixture(scope="module")
def video() -> vl.demo.SyntheticVideo:
    """The demo video at its default size: 854x480, 50 frames, three objects that hide one another."""
    return vl.demo.synthetic_video()


@pytest.fixture(scope="module")
def small() -> vl.demo.SyntheticVideo:
    return vl.demo.synthetic_video(num_frames=12, width=320, height=180, seed=2)


@pytest.fixture(scope="module")
def rigid_video() -> vl.demo.SyntheticVideo:
    """The demo with rigid sprites only: the rigid tracker's motion model."""
    return vl.demo.synthetic_video(kinds="rigid")


@pytest.fixture(scope="module")
def small_rigid() -> vl.demo.SyntheticVideo:
    return vl.demo.synthetic_video(num_frames=12, width=320, height=180, seed=2, kinds="rigid")


def dataset_of(video: vl.demo.SyntheticVideo) -> tuple[vl.Dataset, str, list[str]]:
    ds = vl.Dataset()
    seq = ds.add_sequence("clip", frames=video.frames)
    ents = [ds.add_entity(seq, name=str(k)) for k in range(1, video.num_objects + 1)]
    ds.clear_history()
    return ds, seq, ents


def bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def inside(mask: np.ndarray) -> tuple[int, int]:
    """The pixel of ``mask`` farthest from its outline, as (x, y)."""
    d = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    y, x = np.unravel_index(int(d.argmax()), d.shape)
    return int(x), int(y)


def jf_of_propagation(
    video: vl.demo.SyntheticVideo, how: str, tracker: str = "dense"
) -> tuple[float, dict[str, Any]]:
    ds, seq, ents = dataset_of(video)
    sess = vl.segment.load("flow", tracker=tracker).session(ds, seq)
    for k, e in enumerate(ents, 1):
        gt = video.masks[0] == k
        if how == "box":
            sess.prompt(0, e, box=bbox(gt))
        else:
            sess.prompt(0, e, points=[inside(gt)])
    pred = np.zeros_like(video.masks)
    frames = []
    for f, results in sess.propagate(0, "forward"):
        frames.append(f)
        for k, e in enumerate(ents, 1):
            if e in results:
                mask, score = results[e]
                assert mask.dtype == np.bool_ and 0.0 <= score <= 1.0
                pred[f][mask] = k
    assert frames == list(range(video.frames.shape[0]))
    ev = vl.metrics.evaluate_arrays({"clip": video.masks}, {"clip": pred})
    return ev.summary["J&F-Mean"], ev.per_object


# ---------------------------------------------------------------------------------------------- quality
# Measured when written, J&F from a box / a click: the dense tracker 0.731 / 0.625 on the default demo
# (a rigid ellipse, an articulated figure, a bending worm) and 0.780 / 0.670 on the rigid demo; the
# rigid tracker 0.879 / 0.682 on the rigid demo (0.535 / 0.262 on the default one: one similarity cannot
# follow a figure). The clicks' figures are lower: a click on the figure's body misses thin limbs, and one
# on the checked box takes half of it (its squares are two colours). The dense tracker from boxes on the
# default demo is measured over several seeds below.
@pytest.mark.parametrize(
    ("tracker", "demo", "how", "bar"),
    [
        ("dense", "video", "click", 0.57),
        ("dense", "rigid_video", "click", 0.62),
        ("rigid", "rigid_video", "box", 0.82),
    ],
)
def test_one_prompt_on_frame_0_carries_through_50_frames(
    request: pytest.FixtureRequest, how: str, tracker: str, demo: str, bar: float
) -> None:
    """J&F over the 50 frames of a demo from one prompt per object on frame 0 (a box around the
    object, or one click inside it), through moves, turns, bends and occlusions."""
    jf, per_object = jf_of_propagation(request.getfixturevalue(demo), how, tracker)
    summary = ", ".join(f"{k} {(j + f) / 2:.3f}" for k, (j, f) in per_object.items())
    assert jf >= bar, f"{tracker} on {demo}: J&F {jf:.3f} from one {how} per object ({summary})"


@pytest.mark.parametrize(
    ("tracker", "how", "bar"),
    [("rigid", "click", 0.57), ("dense", "box", 0.79)],
)
def test_one_prompt_on_frame_0_carries_through_50_frames_of_four_rigid_demos(
    tracker: str, how: str, bar: float
) -> None:
    """J&F as a mean over four seeds of the rigid demo where one video's outcome hangs on a few
    pixels: the click on the checked box takes half of it, and how that half is followed hangs on
    rounding (OpenCV 5.1 resamples a few values differently from 5.0, which moved the rigid
    tracker's seed 0 from 0.682 to 0.615); a box's mask where two objects' boxes overlap moved the
    dense tracker's seed 0 from 0.780 to 0.707 when the box prompts changed. Measured when written
    (OpenCV 5.1), seeds 0-3: rigid from a click 0.615, 0.523, 0.685, 0.605 (mean 0.607; 0.630 with
    OpenCV 5.0); dense from a box 0.707, 0.964, 0.956, 0.724 (0.838)."""
    jfs = [
        jf_of_propagation(vl.demo.synthetic_video(seed=s, kinds="rigid"), how, tracker)[0] for s in range(4)
    ]
    assert float(np.mean(jfs)) >= bar, jfs


def test_a_box_on_frame_0_carries_through_50_frames_of_the_default_demo() -> None:
    """The dense tracker from one box per object on the default demo, as a mean over four seeds: on one
    video the outcome hangs on a few pixels of the keyframe masks (seed 0, where the ellipse is half
    behind the figure and their boxes' masks overlap: dropping 36 random outline pixels of one mask
    moved its J&F from 0.73 to between 0.38 and 0.72), which says nothing of the prompts' quality.
    Measured when written, seeds 0-3: 0.437, 0.878, 0.920, 0.623 (mean 0.714) with the box prompts that
    use motion; 0.731, 0.875, 0.922, 0.604 (0.783) with colour alone before them; 0.495, 0.879, 0.920,
    0.632 (0.731) once the motion evidence vetoed all of the flow's smear, 0.662, 0.874, 0.919, 0.631
    (0.771) once it vetoed only where the colours can tell (``motion.py``, OpenCV 5.1)."""
    jfs = [jf_of_propagation(vl.demo.synthetic_video(seed=seed), "box")[0] for seed in range(4)]
    assert float(np.mean(jfs)) >= 0.68, jfs


def test_the_dense_tracker_follows_bending_and_articulated_objects(video: vl.demo.SyntheticVideo) -> None:
    """From the true masks of frame 0 (no prompt error): each non-rigid object of the demo is followed
    through its 50 frames better than the rigid tracker follows it, and the figure well."""
    per = {}
    for tracker in ("dense", "rigid"):
        ds, seq, ents = dataset_of(video)
        sess = vl.segment.load("flow", tracker=tracker).session(ds, seq)
        for k, e in enumerate(ents, 1):
            sess.prompt(0, e, mask=video.masks[0] == k)
        pred = np.zeros_like(video.masks)
        for f, results in sess.propagate(0):
            for k, e in enumerate(ents, 1):
                if e in results:
                    pred[f][results[e][0]] = k
        ev = vl.metrics.evaluate_arrays({"clip": video.masks}, {"clip": pred})
        per[tracker] = {k: (j + f) / 2 for k, (j, f) in ev.per_object.items()}
    kinds = dict(zip(per["dense"], video.kinds, strict=True))
    for key, kind in kinds.items():
        if kind != "rigid":
            assert per["dense"][key] > per["rigid"][key] + 0.05, (kind, per)
    figure = next(k for k, kind in kinds.items() if kind == "articulated")
    assert per["dense"][figure] >= 0.9, per  # measured 0.968


def test_prompts_on_the_demo_frame(video: vl.demo.SyntheticVideo) -> None:
    """A box, a click and both on each object of the demo's first frame. Measured when written, J for
    box / click / both: ellipse (half hidden behind the figure) 0.66 / 0.97 / 0.96, figure 0.69 / 0.52 /
    0.73, worm 0.97 / 0.97 / 0.97."""
    ds, seq, ents = dataset_of(video)
    sess = vl.segment.load("flow").session(ds, seq)
    js = []
    for k, e in enumerate(ents, 1):
        gt = video.masks[0] == k
        box_mask, box_score = sess.prompt(0, e, box=bbox(gt))
        click_mask, click_score = sess.prompt(0, e, points=[inside(gt)])
        both_mask, _ = sess.prompt(0, e, box=bbox(gt), points=[inside(gt)])
        for what, mask in (("box", box_mask), ("click", click_mask), ("box+click", both_mask)):
            j = vl.metrics.jaccard(mask, gt)
            js.append(j)
            assert j >= 0.45, f"object {k}, {what}: J {j:.3f}"
        assert 0.5 < box_score <= 1.0 and 0.5 < click_score <= 1.0
        x0, y0, x1, y1 = bbox(gt)
        outside = np.ones_like(gt)
        outside[y0:y1, x0:x1] = False
        assert not (box_mask & outside).any()  # a box bounds the mask
    assert np.mean(js) >= 0.78, js


# ---------------------------------------------------------------------------------------------- prompts
@pytest.fixture
def two_discs() -> tuple[vl.Dataset, str, np.ndarray, np.ndarray]:
    """A red and a blue disc touching on grey noise: one box around both, a click to tell them apart."""
    rng = np.random.default_rng(1)
    frame = np.clip(rng.normal(110, 12, (120, 160, 3)), 0, 255).astype(np.uint8)
    red, blue = disc(120, 160, 60, 55, 22), disc(120, 160, 60, 99, 22)
    frame[red] = (210, 40, 40)
    frame[blue & ~red] = (40, 60, 210)
    ds = vl.Dataset()
    seq = ds.add_sequence("discs", frames=np.stack([frame, frame]))
    ds.add_entity(seq, name="red")
    ds.clear_history()
    return ds, seq, red, blue & ~red


def test_a_negative_click_removes_a_region(two_discs: tuple[vl.Dataset, str, np.ndarray, np.ndarray]) -> None:
    ds, seq, red, blue = two_discs
    sess = vl.segment.load("flow").session(ds, seq)
    both, _ = sess.prompt(0, "red", box=(25, 30, 130, 90))
    assert (both & blue).sum() > 0.9 * blue.sum() and (both & red).sum() > 0.9 * red.sum()
    mask, _ = sess.prompt(0, "red", points=[(99, 60)], labels=[0], clear=False)
    assert not mask[60, 99]
    assert (mask & blue).sum() < 0.05 * blue.sum(), "the blue disc should be gone"
    assert vl.metrics.jaccard(mask, red) > 0.9
    p = sess.prompts("red")["discs/001"][0]
    assert p.kind == "box+points" and list(p.labels) == [0]


def test_a_negative_click_removes_a_region_coloured_like_the_object() -> None:
    """What a box wrongly takes is often coloured like the object (why it took it): a negative click
    on a red neighbour of a red square removes the neighbour, whatever colour models would say."""
    rng = np.random.default_rng(0)
    frame = cv2.GaussianBlur(np.clip(rng.normal(100, 25, (240, 320, 3)), 0, 255), (0, 0), 1.0)
    square = np.zeros((240, 320), bool)
    square[60:180, 80:200] = True
    neighbour = np.zeros((240, 320), bool)
    neighbour[100:160, 200:240] = True
    for region, colour in ((square, (200, 40, 40)), (neighbour, (205, 45, 40))):
        frame[region] = colour + rng.normal(0, 6, (int(region.sum()), 3))
    ds = vl.Dataset()
    seq = ds.add_sequence("red", frames=np.clip(frame, 0, 255).astype(np.uint8)[None])
    ds.add_entity(seq, name="square")
    sess = vl.segment.load("flow").session(ds, seq)
    before, _ = sess.prompt(0, "square", box=(78, 58, 242, 182), write=False)
    assert before[neighbour].mean() > 0.9  # the box took the neighbour in
    after, _ = sess.prompt(0, "square", points=[(225, 130)], labels=[0], clear=False, write=False)
    assert after[neighbour].mean() < 0.2
    assert after[square].mean() > 0.9 and not (after & ~before).any()


def test_clicks_accumulate_and_prompts_are_human_keyframes(
    two_discs: tuple[vl.Dataset, str, np.ndarray, np.ndarray],
) -> None:
    ds, seq, red, _ = two_discs
    sess = vl.segment.load("flow").session(ds, seq)
    sess.prompt(0, "red", points=[(50, 55)])
    mask, score = sess.prompt(0, "red", points=[(60, 65)], clear=False)
    assert len(sess.prompts("red")["discs/001"][0].points) == 2
    assert vl.metrics.jaccard(mask, red) > 0.9
    row = ds.annotation("masks", seq, 0, "red")
    assert row is not None and row["source"] == "human" and row["keyframe"]
    assert row["score"] == pytest.approx(score) and np.array_equal(ds.mask(seq, 0, "red"), mask)
    sess.prompt(0, "red", points=[(55, 60)])  # clear=True replaces the clicks
    assert len(sess.prompts("red")["discs/001"][0].points) == 1
    sess.prompt(1, "red", points=[(55, 60)], write=False)
    assert ds.mask(seq, 1, "red") is None


def test_a_mask_prompt_is_taken_as_given(small: vl.demo.SyntheticVideo) -> None:
    ds, seq, ents = dataset_of(small)
    sess = vl.segment.load("flow").session(ds, seq)
    given = np.zeros((180, 320), np.uint8)
    given[20:50, 30:90] = 1
    mask, score = sess.prompt(3, ents[0], mask=given)
    assert mask.dtype == np.bool_ and np.array_equal(mask, given.astype(bool)) and score == 1.0
    given[0, 0] = 1  # the session keeps its own copy
    assert not sess.prompts(ents[0])[ents[0]][3].result[0, 0]  # type: ignore[index]


# ---------------------------------------------------------------------------------------------- propagation
@pytest.fixture
def sess_small(small: vl.demo.SyntheticVideo) -> tuple[vl.Dataset, FlowSession, list[str]]:
    ds, seq, ents = dataset_of(small)
    sess = FlowEngine().session(ds, seq)
    return ds, sess, ents


def test_passes_cover_exactly_their_frames(
    sess_small: tuple[vl.Dataset, FlowSession, list[str]], small: vl.demo.SyntheticVideo
) -> None:
    _, sess, (a, b, _) = sess_small
    sess.prompt(4, a, mask=small.masks[4] == 1)
    sess.prompt(6, b, mask=small.masks[6] == 2)
    assert [f for f, _ in sess.propagate(4)] == list(range(4, 12))
    assert [f for f, _ in sess.propagate(6, "backward")] == [6, 5, 4, 3, 2, 1, 0]
    both = list(sess.propagate(5, "both"))
    assert [f for f, _ in both] == [5, 6, 7, 8, 9, 10, 11, 4, 3, 2, 1, 0]
    by_frame = dict(both)
    # No prompt on 5 and no mask in the dataset there: an entity joins at its prompted frame.
    assert set(by_frame[5]) == set() and set(by_frame[6]) == {b} and set(by_frame[4]) == {a}
    assert set(by_frame[11]) == {b} and set(by_frame[0]) == {a}
    assert np.array_equal(by_frame[6][b][0], small.masks[6] == 2)  # the keyframe, as given
    assert [f for f, _ in sess.propagate(4, end=7)] == [4, 5, 6, 7]
    assert [f for f, _ in sess.propagate(6, "both", end=(5, 8))] == [6, 7, 8, 5]
    only_a = list(sess.propagate(4, entities=[a]))
    assert all(set(r) <= {a} for _, r in only_a) and set(only_a[-1][1]) == {a}


def test_the_rigid_tracker_follows_objects_behind_others(small_rigid: vl.demo.SyntheticVideo) -> None:
    small = small_rigid
    ds, seq, ents = dataset_of(small)
    sess = FlowEngine(tracker="rigid").session(ds, seq)
    for k, e in enumerate(ents, 1):
        sess.prompt(0, e, mask=small.masks[0] == k)
    last = dict(sess.propagate(0))[11]
    for k, e in enumerate(ents, 1):
        still = vl.metrics.jaccard(small.masks[0] == k, small.masks[11] == k)
        j = vl.metrics.jaccard(last[e][0], small.masks[11] == k)
        assert j > 0.8 and j > still + 0.1, f"object {k}: J {j:.3f} on the last frame (still: {still:.3f})"


def test_a_plain_object_is_followed() -> None:
    """No texture, no corners inside: the outline and the dense flow have to do."""
    rng = np.random.default_rng(3)
    bg = np.clip(rng.normal(100, 25, (120, 200, 3)), 0, 255).astype(np.uint8)
    frames, masks = [], []
    for t in range(12):
        m = disc(120, 200, 60 + t, 40 + 6 * t, 20)
        frame = bg.copy()
        frame[m] = (200, 180, 60)
        frames.append(frame)
        masks.append(m)
    ds = vl.Dataset()
    seq = ds.add_sequence("plain", frames=np.stack(frames))
    e = ds.add_entity(seq)
    sess = vl.segment.load("flow").session(ds, seq)
    sess.prompt(0, e, mask=masks[0])
    for f, results in sess.propagate(0):
        mask, score = results[e]
        assert vl.metrics.jaccard(mask, masks[f]) > 0.95 and score > 0.5, f


@pytest.mark.parametrize("tracker", ["dense", "rigid"])
def test_a_correction_changes_the_frames_after_it(small: vl.demo.SyntheticVideo, tracker: str) -> None:
    ds, seq, (a, _, _) = dataset_of(small)
    sess = FlowEngine(tracker=tracker).session(ds, seq)
    sess.prompt(0, a, mask=small.masks[0] == 1)
    first = {f: r[a][0] for f, r in sess.propagate(0)}
    # A person redraws the mask on frame 6, where (say) it had drifted: the next pass starts again
    # from the correction there.
    fixed = np.roll(first[6], 25, axis=1)
    sess.prompt(6, a, mask=fixed)
    second = {f: r[a][0] for f, r in sess.propagate(0)}
    assert all(np.array_equal(first[f], second[f]) for f in range(6))
    assert np.array_equal(second[6], fixed)
    for f in range(7, 12):
        assert not np.array_equal(first[f], second[f]), f
        if tracker == "rigid":  # it carries the shape as given; the dense tracker refits it to the frame
            moved = vl.metrics.jaccard(second[f], np.roll(first[f], 25, axis=1))
            assert moved > 0.7, f"frame {f}: {moved:.3f}"
        else:  # what it carries on from frame 6 is the correction, not the first pass's mask
            nearer = vl.metrics.jaccard(second[f], second[6]) > vl.metrics.jaccard(first[f], second[6])
            assert nearer, f"frame {f}"


def test_a_pass_starts_from_the_dataset_mask(
    sess_small: tuple[vl.Dataset, FlowSession, list[str]], small: vl.demo.SyntheticVideo
) -> None:
    ds, sess, (a, _, _) = sess_small
    sess.prompt(0, a, mask=small.masks[0] == 1)
    sess.propagate_into(progress=False)
    held = ds.mask("clip", 5, a)
    assert held is not None
    got = dict(sess.propagate(5))
    assert np.array_equal(got[5][a][0], held)
    assert got[5][a][1] == pytest.approx(ds.annotation("masks", "clip", 5, a)["score"])  # type: ignore[index]
    assert got[11][a][0].any()


def test_cancel_and_close_stop_between_frames(
    sess_small: tuple[vl.Dataset, FlowSession, list[str]], small: vl.demo.SyntheticVideo
) -> None:
    _, sess, (a, _, _) = sess_small
    sess.prompt(0, a, mask=small.masks[0] == 1)
    token = vl.segment.CancelToken()
    seen = []
    for f, _ in sess.propagate(0, cancel=token):
        seen.append(f)
        if f == 2:
            token.cancel()
    assert seen == [0, 1, 2]
    gen = sess.propagate(0)
    assert [next(gen)[0], next(gen)[0]] == [0, 1]
    gen.close()
    sess.prompt(3, a, mask=small.masks[3] == 1)  # not busy any more
    token.reset()
    report = sess.propagate_into(start=0, cancel=token, progress=False)
    assert not report.cancelled and report.frames == list(range(12))
    token.cancel()
    report = sess.propagate_into(start=0, cancel=token, progress=False)
    assert report.cancelled and report.frames == []


def test_propagate_into_writes_flow_masks_as_one_undo_step(
    sess_small: tuple[vl.Dataset, FlowSession, list[str]], small: vl.demo.SyntheticVideo
) -> None:
    ds, sess, (a, b, _) = sess_small
    sess.prompt(0, a, mask=small.masks[0] == 1)
    sess.prompt(0, b, mask=small.masks[0] == 2)
    human = small.masks[7] == 1
    ds.set_mask("clip", 7, a, human, source="human", keyframe=True)  # drawn by hand, not in the session
    history = ds.history()
    report = sess.propagate_into(progress=False)
    # Kept: both prompts on frame 0 and the hand-drawn mask on frame 7.
    assert report.frames == list(range(12)) and report.kept == 3 and not report.cancelled
    assert ds.history() == [*history, "flow: propagate forward from frame 0"]
    for f in range(1, 12):
        for e in (a, b):
            row = ds.annotation("masks", "clip", f, e)
            if f == 7 and e == a:
                assert row is not None and row["source"] == "human" and row["keyframe"]
                assert np.array_equal(ds.mask("clip", 7, a), human)
                continue
            assert row is not None and row["source"] == "flow" and not row["keyframe"]
            assert 0.0 <= row["score"] <= 1.0
    assert ds.annotation("masks", "clip", 0, a)["source"] == "human"  # type: ignore[index]
    ds.undo()
    assert ds.history() == history
    assert ds.mask("clip", 5, a) is None and ds.mask("clip", 0, a) is not None


def test_options(small: vl.demo.SyntheticVideo, small_rigid: vl.demo.SyntheticVideo) -> None:
    assert repr(vl.segment.load("flow")) == "FlowEngine()"
    rigid = vl.segment.load("flow", tracker="rigid", flow="farneback")
    assert repr(rigid) == "FlowEngine(tracker='rigid', flow='farneback')"
    for options, message in [
        ({"tracker": "sam"}, "tracker must be one of"),
        ({"flow": "farneback"}, "farneback is for tracker='rigid'"),
        ({"colour": 3}, "unknown option"),
        ({"flow": "lucas"}, "flow must be one of"),
        ({"max_side": 10}, "max_side must be an int >= 32"),
        ({"grabcut_iters": 1.5}, "grabcut_iters must be an int"),
        ({"layered": "yes"}, "layered must be a bool"),
        ({"layered": False}, "layered is an option of tracker='rigid'"),
    ]:
        with pytest.raises(vl.ValidationError, match=message):
            vl.segment.load("flow", **options)
    for options in (
        {"tracker": "rigid", "flow": "farneback"},
        {"tracker": "rigid", "layered": False},
        {"max_side": 160},
        {"flow": "dis-medium"},
    ):
        clip = small_rigid if options.get("tracker") == "rigid" else small
        ds, seq, ents = dataset_of(clip)
        sess = vl.segment.load("flow", **options).session(ds, seq)
        assert isinstance(sess, FlowSession)
        assert sess._size == ((160, 90) if "max_side" in options else (320, 180))  # tracking scale
        sess.prompt(0, ents[1], mask=clip.masks[0] == 2)
        last = dict(sess.propagate(0))[11][ents[1]][0]
        assert vl.metrics.jaccard(last, clip.masks[11] == 2) > 0.6, options


# ---------------------------------------------------------------------------------------------- bad input
def test_bad_input_reaches_the_flow_engine_as_validation_errors(ds: vl.Dataset) -> None:
    ds.add_entity("clip", name="a")
    ds.clear_history()
    sess = vl.segment.load("flow").session(ds, "clip")
    before, history = snapshot(ds), ds.history()
    for kwargs, message in [
        ({"frame": 0, "entity": "a", "points": [(64, 10)]}, "outside the 64x48 frame"),
        ({"frame": 0, "entity": "a", "box": (10, 10, 10, 30)}, "zero area"),
        ({"frame": 0, "entity": "zebra", "points": [(5, 5)]}, "unknown entity"),
        ({"frame": 12, "entity": "a", "points": [(5, 5)]}, "out of range"),
        ({"frame": 0, "entity": "a", "mask": np.zeros((48, 64), bool)}, "mask is empty"),
        ({"frame": 0, "entity": "a", "points": [(5, 5)], "labels": [0]}, "negative clicks alone"),
    ]:
        with pytest.raises(vl.ValidationError, match=message):
            sess.prompt(**kwargs)
        assert_same(before, ds)
    assert ds.history() == history and sess.entities == []
    with pytest.raises(vl.ValidationError, match="no prompts yet"):
        sess.propagate(0)
    sess.prompt(0, "a", mask=np.ones((48, 64), bool), write=False)
    before = snapshot(ds)
    with pytest.raises(vl.ValidationError, match="direction must be"):
        sess.propagate_into(start=0, direction="up", progress=False)  # type: ignore[arg-type]
    with pytest.raises(vl.ValidationError, match="end 2 is before start 5"):
        sess.propagate(5, end=2)
    assert_same(before, ds)
    with pytest.raises(vl.ValidationError, match="no pixels"):
        blind = vl.Dataset()
        blind.add_sequence("blind", num_frames=2, width=8, height=8)
        vl.segment.load("flow").session(blind, "blind")


def test_a_keyframe_outranks_what_is_carried_onto_its_pixels(small: vl.demo.SyntheticVideo) -> None:
    """A person's mask for one entity on a frame of the pass takes its pixels from every other entity
    carried there (the dense tracker), and scores are plain floats."""
    ds, seq, (a, b, _) = dataset_of(small)
    sess = FlowEngine().session(ds, seq)
    sess.prompt(0, a, mask=small.masks[0] == 1)
    sess.prompt(0, b, mask=small.masks[0] == 2)
    carried = dict(sess.propagate(0))[6][a][0]
    assert carried.any()
    grab = np.zeros_like(carried)
    grab[carried] = True  # b is drawn over all of a's pixels on frame 6
    sess.prompt(6, b, mask=grab | (small.masks[6] == 2))
    got = dict(sess.propagate(0))
    assert not (got[6][a][0] & grab).any()
    assert all(type(score) is float for r in got.values() for _, score in r.values())


@pytest.mark.parametrize("tracker", ["dense", "rigid"])
@pytest.mark.parametrize("shape", [(1, 64), (64, 1), (8, 8), (2, 2)])
def test_thin_and_tiny_frames_are_tracked_or_refused_cleanly(tracker: str, shape: tuple[int, int]) -> None:
    """Frames thinner than OpenCV's optical flow allows (DIS crashed the process under 12 pixels a
    side) are tracked at a stretched scale; a box GrabCut cannot learn from is a ValidationError."""
    frames = np.random.default_rng(0).integers(0, 255, (4, *shape, 3), dtype=np.uint8)
    ds = vl.Dataset()
    seq = ds.add_sequence("thin", frames=frames)
    e = ds.add_entity(seq)
    start = np.zeros(shape, bool)
    start[0, 0] = True
    sess = vl.segment.load("flow", tracker=tracker).session(ds, seq)
    assert min(sess._size) >= 16
    sess.prompt(0, e, mask=start)
    got = dict(sess.propagate(0))
    assert sorted(got) == [0, 1, 2, 3] and all(r[e][0].shape == shape for r in got.values())
    before = ds.table("masks")
    try:
        mask, _ = sess.prompt(1, e, box=(0, 0, shape[1], shape[0]))
    except vl.ValidationError as err:
        assert "GrabCut cannot segment" in str(err)
        assert ds.table("masks").equals(before)
    else:
        assert mask.shape == shape and mask.any()


def test_a_box_of_a_pixel_is_never_answered_with_nothing() -> None:
    ds = vl.Dataset()
    seq = ds.add_sequence("flat", frames=np.full((2, 64, 64, 3), 200, np.uint8))
    e = ds.add_entity(seq)
    mask, _ = vl.segment.load("flow").session(ds, seq).prompt(0, e, box=(20, 20, 21, 21))
    assert mask[20, 20] and mask.sum() == 1
    with pytest.raises(vl.ValidationError, match="grabcut_iters must be an int <= 20"):
        vl.segment.load("flow", grabcut_iters=10**9)


def test_a_box_prompt_does_without_a_neighbour_that_cannot_be_read(tmp_path: Path) -> None:
    """The frames around a box are motion evidence only: a corrupt one is left out, not an error."""
    video = vl.demo.synthetic_video(num_frames=5, width=160, height=120, num_objects=1, seed=3)
    for i, img in enumerate(video.frames):
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), img[..., ::-1])
    ds = vl.Dataset()
    seq = ds.add_sequence("clip", frames=str(tmp_path))
    e = ds.add_entity(seq)
    (tmp_path / "00.png").write_bytes(b"not an image any more")  # frame 0, a neighbour of frame 2
    with pytest.raises(vl.ValidationError):
        ds.frame(seq, 0, cache=False)
    gt = video.masks[2] == 1
    mask, _ = vl.segment.load("flow").session(ds, seq).prompt(2, e, box=bbox(gt))
    assert vl.metrics.jaccard(mask, gt) > 0.5


def test_propagate_into_follows_the_keyframes_after_an_undo(small: vl.demo.SyntheticVideo) -> None:
    """A click undone in the dataset is undone for the session too: propagation starts from the
    keyframe the dataset holds, not from the mask the undone click gave."""
    ds, seq, ents = dataset_of(small)
    e = ents[0]
    gt = small.masks[0] == 1
    sess = vl.segment.load("flow").session(ds, seq)
    sess.prompt(0, e, mask=gt)
    worse = gt.copy()
    worse[:, : worse.shape[1] // 2] = False
    sess.prompt(0, e, mask=worse)  # a second, wrong keyframe mask on the same frame ...
    ds.undo()  # ... undone: the dataset holds gt on frame 0 again
    assert np.array_equal(ds.mask(seq, 0, e), gt)
    sess.propagate_into(end=3, progress=False)
    fresh_ds, fresh_seq, fresh_ents = dataset_of(small)
    fresh = vl.segment.load("flow").session(fresh_ds, fresh_seq)
    fresh.prompt(0, fresh_ents[0], mask=gt)
    fresh.propagate_into(end=3, progress=False)
    for f in range(1, 4):
        assert np.array_equal(ds.mask(seq, f, e), fresh_ds.mask(fresh_seq, f, fresh_ents[0])), f
    assert np.array_equal(sess.prompts(e)[e][0].result, gt)


def test_a_new_session_propagates_the_keyframes_the_dataset_holds(small: vl.demo.SyntheticVideo) -> None:
    """Keyframes already in the dataset (an import, an earlier session) are a new session's prompts;
    prompts given with write=False stay the session's own."""
    ds, seq, ents = dataset_of(small)
    for k, e in enumerate(ents, 1):
        ds.set_mask(seq, 0, e, small.masks[0] == k, source="human", keyframe=True)
    sess = vl.segment.load("flow").session(ds, seq)
    report = sess.propagate_into(end=2, progress=False)
    assert sorted(sess.entities) == sorted(ents) and report.frames == [0, 1, 2]
    for e in ents:
        assert ds.mask(seq, 2, e) is not None and ds.annotation("masks", seq, 2, e)["source"] == "flow"
    other = vl.segment.load("flow").session(ds, seq)
    mine = small.masks[0] == 1
    mine[:10] = False
    other.prompt(0, ents[0], mask=mine, write=False)
    other.propagate_into(end=1, progress=False, entities=ents[0])
    assert np.array_equal(other.prompts(ents[0])[ents[0]][0].result, mine)
