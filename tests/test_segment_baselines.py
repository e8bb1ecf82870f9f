"""The baselines engines are measured against (vidlabel.segment.baselines: ``copy`` and ``warp``) and
the engine evaluation (vidlabel.segment.evaluate): exact checks on synthetic video, figures on the
real DAVIS-2016 dev sequences."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import assert_same, disc, snapshot

import vidlabel as vl
from vidlabel.segment.baselines import CopySession, WarpSession
from vidlabel.segment.evaluate import EngineScores, evaluate_engine

DAVIS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "davis2016-dev"

H, W, R = 120, 160, 22
START, STEP = np.array([50.0, 60.0]), np.array([3.0, 2.0])  # disc centre (x, y) on frame 0, and per frame


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    noise = rng.uniform(0, 255, (h, w)).astype(np.float32)
    return np.asarray(cv2.GaussianBlur(noise, (0, 0), 1.5))


def translating_disc(n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """A textured disc moving by STEP pixels a frame over a still textured background: frames, masks."""
    rng = np.random.default_rng(1)
    bg = _texture(rng, H, W) * 0.5
    tex = _texture(rng, H + 100, W + 100)
    frames = np.zeros((n, H, W, 3), np.uint8)
    masks = np.zeros((n, H, W), bool)
    for t in range(n):
        cx, cy = START + t * STEP
        m = disc(H, W, cy, cx, R)
        dx, dy = (t * STEP).astype(int)
        moved = tex[50 - dy : 50 - dy + H, 50 - dx : 50 - dx + W]  # the disc's texture moves with it
        grey = np.where(m, 60 + moved * 0.75, bg)
        frames[t] = np.clip(grey, 0, 255).astype(np.uint8)[..., None]
        masks[t] = m
    return frames, masks


@pytest.fixture
def clip() -> tuple[vl.Dataset, np.ndarray, list[str]]:
    frames, masks = translating_disc()
    ds = vl.Dataset()
    ds.add_sequence("clip", frames=frames)
    ents = [ds.add_entity("clip", name) for name in ("disc", "other")]
    ds.clear_history()
    return ds, masks, ents


def centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


# ---------------------------------------------------------------------------------------------- copy
def test_copy_holds_the_most_recent_keyframe_exactly(clip: tuple[vl.Dataset, np.ndarray, list[str]]) -> None:
    ds, masks, (a, _) = clip
    sess = vl.segment.load("copy").session(ds, "clip")
    assert isinstance(sess, CopySession)
    sess.prompt(0, a, mask=masks[0])
    out = dict(sess.propagate(0))
    assert sorted(out) == list(range(12))
    for f in range(12):
        mask, score = out[f][a]
        assert np.array_equal(mask, masks[0]) and score == 1.0
    # A pass that starts where the dataset holds a mask starts from it (with its score); the prompt on
    # frame 6 takes over from there, going forward; going backward it holds until the prompt on frame 0.
    ds.set_mask("clip", 3, a, masks[3], source="human", score=0.7)
    sess.prompt(6, a, mask=masks[6], write=False)
    out = dict(sess.propagate(3))
    assert sorted(out) == list(range(3, 12))
    for f in range(3, 12):
        mask, score = out[f][a]
        want, want_score = (masks[3], 0.7) if f < 6 else (masks[6], 1.0)
        assert np.array_equal(mask, want) and score == pytest.approx(want_score), f
    out = dict(sess.propagate(6, "backward"))
    assert sorted(out) == list(range(7)) and np.array_equal(out[0][a][0], masks[0])
    assert all(np.array_equal(out[f][a][0], masks[6]) for f in range(1, 7))
    # The result is the engine's to give, not the caller's to change for the next frame.
    gen = sess.propagate(0)
    first = next(gen)[1][a][0]
    first[:] = False
    assert np.array_equal(next(gen)[1][a][0], masks[0])
    gen.close()


# ---------------------------------------------------------------------------------------------- warp
def test_warp_follows_a_translating_disc_within_a_pixel(
    clip: tuple[vl.Dataset, np.ndarray, list[str]],
) -> None:
    ds, masks, (a, _) = clip
    sess = vl.segment.load("warp").session(ds, "clip")
    assert isinstance(sess, WarpSession) and sess._size == (W, H)  # small frames are tracked as they are
    # One step from the true mask: the disc lands where it went, within half a pixel.
    for f in range(11):
        sess.reset()
        sess.prompt(f, a, mask=masks[f], write=False)
        out = dict(sess.propagate(f, end=f + 1))
        assert np.array_equal(out[f][a][0], masks[f]) and out[f][a][1] == 1.0
        mask, score = out[f + 1][a]
        shift = np.linalg.norm(centroid(mask) - (START + (f + 1) * STEP))
        assert shift < 0.5, f"frame {f + 1}: centroid {shift:.2f} px off"
        assert vl.metrics.jaccard(mask, masks[f + 1]) > 0.97, f
        # Inside a textured disc moving rigidly the flow is consistent both ways almost everywhere.
        assert 0.9 < score <= 1.0, (f, score)
    # Eleven steps in a row: the leading edge stays within a pixel and a half. The trailing edge does
    # not: the background the disc uncovers has nothing to match in the frame before, and the flow
    # there, smoothed across the edge, keeps some of the mask; that drift is the naive warp's weakness.
    sess.reset()
    sess.prompt(0, a, mask=masks[0], write=False)
    ahead = STEP / np.linalg.norm(STEP)
    for f, results in sess.propagate(0):
        mask = results[a][0]
        lead = [np.max(np.stack(np.nonzero(m)[::-1], axis=1) @ ahead) for m in (mask, masks[f])]
        assert abs(lead[0] - lead[1]) < 1.5, f"frame {f}: leading edge {lead[0] - lead[1]:.2f} px off"
    assert vl.metrics.jaccard(mask, masks[11]) > 0.75


def test_warp_tracks_at_a_whole_fraction_of_the_frame() -> None:
    ds = vl.Dataset()
    ds.add_sequence("big", frames=np.zeros((3, 480, 854, 3), np.uint8))
    assert vl.segment.load("warp").session(ds, "big")._size == (427, 240)
    assert vl.segment.load("warp", max_side=200).session(ds, "big")._size == (171, 96)


@pytest.mark.parametrize("name", ["copy", "warp"])
def test_a_prompt_mid_pass_resets_to_the_persons_mask(
    clip: tuple[vl.Dataset, np.ndarray, list[str]], name: str
) -> None:
    ds, masks, (a, b) = clip
    sess = vl.segment.load(name).session(ds, "clip")
    sess.prompt(0, a, mask=masks[0])
    cx, cy = START + 5 * STEP
    small = disc(H, W, cy, cx, R / 2)  # on frame 5 a person says the object is the disc's middle
    sess.prompt(5, a, mask=small)
    sess.prompt(5, b, mask=masks[5])  # an entity that starts mid-pass
    out = dict(sess.propagate(0))
    assert all(b not in out[f] for f in range(5))
    for e, given in ((a, small), (b, masks[5])):
        assert np.array_equal(out[5][e][0], given)
        later = out[8][e][0]
        if name == "copy":
            assert np.array_equal(later, given)
        else:  # the warp carries on from the given mask, not from what it had tracked
            dx, dy = (3 * STEP).astype(int)
            assert vl.metrics.jaccard(later, np.roll(given, (dy, dx), axis=(0, 1))) > 0.9, e


def test_prompts_are_answered_as_the_flow_engine_answers_them(
    clip: tuple[vl.Dataset, np.ndarray, list[str]],
) -> None:
    ds, _, (a, _) = clip
    flow = vl.segment.load("flow", prompt_side=120, box_side=120).session(ds, "clip")
    want, want_score = flow.prompt(2, a, box=(30, 40, 110, 100), write=False)
    for name in ("copy", "warp"):
        sess = vl.segment.load(name, prompt_side=120, box_side=120).session(ds, "clip")
        mask, score = sess.prompt(2, a, box=(30, 40, 110, 100))
        assert np.array_equal(mask, want) and score == want_score
        row = ds.annotation("masks", "clip", 2, a)
        assert row is not None and row["source"] == "human" and row["keyframe"]


@pytest.mark.parametrize("name", ["copy", "warp"])
def test_propagate_into_writes_the_engines_masks_as_one_undo_step(
    clip: tuple[vl.Dataset, np.ndarray, list[str]], name: str
) -> None:
    ds, masks, (a, _) = clip
    sess = vl.segment.load(name).session(ds, "clip")
    sess.prompt(0, a, mask=masks[0])
    ds.set_mask("clip", 7, a, masks[7], source="human", keyframe=True)  # drawn by hand: kept
    history = ds.history()
    report = sess.propagate_into(progress=False)
    assert report.frames == list(range(12)) and report.kept == 2 and report.written == 10
    assert ds.history() == [*history, f"{name}: propagate forward from frame 0"]
    for f in (1, 6, 8, 11):
        row = ds.annotation("masks", "clip", f, a)
        assert row is not None and row["source"] == name and not row["keyframe"]
        assert 0.0 <= row["score"] <= 1.0
    assert np.array_equal(ds.mask("clip", 7, a), masks[7])
    ds.undo()
    assert ds.history() == history and ds.mask("clip", 4, a) is None


def test_bad_options_and_input_are_refused(clip: tuple[vl.Dataset, np.ndarray, list[str]]) -> None:
    assert repr(vl.segment.load("copy")) == "CopyEngine()"
    assert repr(vl.segment.load("warp", preset="fast")) == "WarpEngine(preset='fast')"
    assert {"copy", "warp"} <= set(vl.segment.available())
    for name, options, message in [
        ("copy", {"preset": "medium"}, "copy engine: unknown option"),
        ("copy", {"grabcut_iters": 0}, "grabcut_iters must be an int >= 1"),
        ("warp", {"flow": "dis-medium"}, "warp engine: unknown option"),
        ("warp", {"preset": "slow"}, "preset must be one of"),
        ("warp", {"max_side": 16}, "max_side must be an int >= 32"),
        ("warp", {"max_side": True}, "max_side must be an int"),
        ("warp", {"min_area": 2.5}, "min_area must be an int"),
    ]:
        with pytest.raises(vl.ValidationError, match=message):
            vl.segment.load(name, **options)
    ds, _, (a, _) = clip
    before, history = snapshot(ds), ds.history()
    sess = vl.segment.load("warp").session(ds, "clip")
    with pytest.raises(vl.ValidationError, match="outside the 160x120 frame"):
        sess.prompt(0, a, points=[(200, 10)])
    with pytest.raises(vl.ValidationError, match="no prompts yet"):
        sess.propagate_into(progress=False)
    assert_same(before, ds)
    assert ds.history() == history


# ---------------------------------------------------------------------------------------------- evaluate
def test_evaluate_engine_runs_the_protocol_and_a_cleanup_step() -> None:
    gt = vl.demo.synthetic(num_frames=8, width=160, height=96, num_objects=2, seed=3)
    before = snapshot(gt)
    seen: list[str] = []

    def erase_frame_3(ds: vl.Dataset, seq: str) -> None:
        seen.append(seq)
        for eid in ds.entity_ids(seq):
            ds.remove_mask(seq, 3, eid)

    res = evaluate_engine(vl.segment.load("copy"), gt, cleanup=erase_frame_3, progress=False)
    assert_same(before, gt)  # the ground truth is only read
    assert seen == ["synthetic"] and isinstance(res, EngineScores)
    raw = res.before_cleanup
    assert raw is not None and raw.frames == res.frames == 8
    # The protocol: frame 0 holds the ground truth as human keyframes, the rest the engine's masks.
    pred = res.predictions
    seq = pred.resolve_sequence("synthetic")
    for eid in pred.entity_ids(seq):
        name = pred.entity(eid)["name"]
        g = gt.resolve_entity("synthetic", name)
        row = pred.annotation("masks", seq, 0, eid)
        assert row is not None and row["source"] == "human" and row["keyframe"]
        assert np.array_equal(pred.mask(seq, 0, eid), gt.mask("synthetic", 0, g))
        assert np.array_equal(pred.mask(seq, 6, eid), gt.mask("synthetic", 0, g))  # copy: held
        assert pred.mask(seq, 3, eid) is None  # the clean-up ran on it
        j = res.per_frame["synthetic"][name]
        assert list(res.frame_indices("synthetic")) == list(range(1, 7)) and j[2] == 0.0
        assert raw.per_frame["synthetic"][name][2] > 0.0  # scored before the clean-up changed it
    assert res.summary["J&F-Mean"] < raw.summary["J&F-Mean"]
    assert res.table().column_names == [
        "sequence",
        "objects",
        "frames",
        "J-Mean",
        "F-Mean",
        "J&F",
        "seconds",
        "fps",
    ]
    df = res.to_pandas()
    assert df.loc["synthetic", "objects"] == 2 and df.loc["synthetic", "J&F"] == pytest.approx(
        res.summary["J&F-Mean"]
    )
    alone = evaluate_engine(vl.segment.load("copy"), gt, sequences="synthetic", progress=False)
    assert alone.summary == raw.summary and list(alone.sequences) == ["synthetic"]
    with pytest.raises(vl.ValidationError, match="'nope' not in the ground truth"):
        evaluate_engine(vl.segment.load("copy"), gt, sequences=["nope"], progress=False)
    with pytest.raises(vl.ValidationError, match="cleanup must be a callable"):
        evaluate_engine(vl.segment.load("copy"), gt, cleanup="clean", progress=False)  # type: ignore[arg-type]
    with pytest.raises(vl.ValidationError, match="expected an engine"):
        evaluate_engine("copy", gt, progress=False)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def davis() -> vl.Dataset:
    assert DAVIS.is_dir(), f"the DAVIS-2016 dev sequences are missing at {DAVIS}"
    return vl.read_davis(DAVIS, progress=False)


@pytest.fixture(scope="module")
def measured(davis: vl.Dataset) -> dict[str, EngineScores]:
    out = {name: evaluate_engine(vl.segment.load(name), davis, progress=False) for name in ("copy", "warp")}
    for name, res in out.items():
        rows = ", ".join(f"{s} {r['J&F']:.4f}" for s, r in res.sequences.items())
        print(f"\n{name}: mean J&F {res.summary['J&F-Mean']:.4f} ({rows}); {res.fps:.1f} frames/s")
    return out


def _index_maps(ds: vl.Dataset, seq: str) -> np.ndarray:
    """The sequence's masks as a T x H x W index map, objects numbered by their (DAVIS id) names."""
    row = ds.sequence(seq)
    out = np.zeros((row["num_frames"], row["height"], row["width"]), np.uint8)
    for eid in ds.entity_ids(seq):
        k = int(ds.entity(eid)["name"])
        for f in ds.mask_frames(seq, eid):
            out[f][ds.mask(seq, f, eid)] = k
    return out


def test_evaluate_engine_gives_vidlabel_metrics_figures(
    davis: vl.Dataset, measured: dict[str, EngineScores]
) -> None:
    """Nothing is computed twice: the figures are those of metrics.evaluate on the same predictions,
    and those of metrics.evaluate_arrays on the same masks as index maps."""
    for res in measured.values():
        again = vl.metrics.evaluate(res.predictions, davis)
        assert res.summary == again.summary
        names = [davis.sequence(s)["name"] for s in davis.sequence_ids()]
        gt_maps = {n: _index_maps(davis, davis.resolve_sequence(n)) for n in names}
        pred_maps = {n: _index_maps(res.predictions, res.predictions.resolve_sequence(n)) for n in names}
        arrays = vl.metrics.evaluate_arrays(gt_maps, pred_maps)
        assert arrays.summary["J&F-Mean"] == pytest.approx(res.summary["J&F-Mean"], abs=1e-12)
        for n in names:
            j, f = arrays.per_object[f"{n}_1"]
            row = res.sequences[n]
            assert row["J-Mean"] == pytest.approx(j, abs=1e-12)
            assert row["F-Mean"] == pytest.approx(f, abs=1e-12)
            assert row["J&F"] == pytest.approx((j + f) / 2, abs=1e-12)
            assert np.array_equal(res.per_frame[n]["1"], arrays.per_frame[f"{n}_1"]["J"])
            assert row["frames"] == davis.num_frames(davis.resolve_sequence(n))


def test_copy_on_real_video_scores_the_first_mask_against_each_frame(
    davis: vl.Dataset, measured: dict[str, EngineScores]
) -> None:
    res = measured["copy"]
    for seq in davis.sequence_ids():
        name = davis.sequence(seq)["name"]
        (eid,) = davis.entity_ids(seq)
        first = davis.mask(seq, 0, eid)
        n = davis.num_frames(seq)
        want = [vl.metrics.jaccard(first, davis.mask(seq, f, eid)) for f in range(1, n - 1)]
        assert np.allclose(res.per_frame[name]["1"], want, atol=1e-12), name


def test_warp_and_copy_on_the_real_dev_sequences(measured: dict[str, EngineScores]) -> None:
    """Floors under the figures, and what each baseline is. Measured over the six: copy J&F 0.384
    (J 0.419, F 0.349), warp J&F 0.398 (J 0.393, F 0.403). The warp follows the object's outline
    as it moves, which the held mask cannot: its mean F is above the copy's (by 0.054). Its drift
    adds up and nothing pulls it back, so its J is not (0.026 below); taken together it does not
    fall behind the copy by more than a small margin (it is 0.014 ahead). Nothing is asserted per
    sequence: which sequences the warp wins is an outcome, not a property."""
    copy, warp = measured["copy"], measured["warp"]
    assert copy.summary["J&F-Mean"] > 0.36 and warp.summary["J&F-Mean"] > 0.37
    assert warp.summary["F-Mean"] > copy.summary["F-Mean"]
    assert warp.summary["J&F-Mean"] >= copy.summary["J&F-Mean"] - 0.02
    assert copy.frames == warp.frames == 412
