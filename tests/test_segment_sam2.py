"""The SAM2 engine against the bare SAM2VideoPredictor, with the real model and random weights.

No checkpoint can be downloaded here, so the tiny SAM 2.1 model is built from its config with
a fixed seed at a reduced input size (128 px runs at ~0.1 s a frame on two cores). Every
comparison with the bare predictor uses the same model object, the same JPEG frames and the
same prompts, and expects bit-identical masks.
"""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np
import pytest
import torch
from conftest import assert_same, snapshot
from PIL import Image

import vidlabel as vl
from vidlabel.segment.sam2 import LazyFrames, SAM2Engine

CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
SIZE = 128


@pytest.fixture(scope="module")
def engine() -> SAM2Engine:
    torch.set_num_threads(2)
    eng = vl.segment.load("sam2", config=CONFIG, random_weights=True, image_size=SIZE, device="cpu", seed=0)
    assert isinstance(eng, SAM2Engine)
    return eng


def _jpeg_folder(path: pathlib.Path, num_frames: int, seed: int = 3) -> pathlib.Path:
    video = vl.demo.synthetic_video(width=96, height=64, num_frames=num_frames, num_objects=2, seed=seed)
    path.mkdir()
    for i, frame in enumerate(video.frames):
        Image.fromarray(frame).save(path / f"{i:05d}.jpg", quality=90)
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return _jpeg_folder(tmp_path_factory.mktemp("sam2") / "clip", 12)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return _jpeg_folder(tmp_path_factory.mktemp("sam2") / "long", 40, seed=5)


def _dataset(folder: pathlib.Path, entities: int = 2) -> tuple[vl.Dataset, str, list[str]]:
    ds = vl.Dataset()
    seq = ds.add_sequence("clip", frames=str(folder))
    ents = [ds.add_entity(seq) for _ in range(entities)]
    ds.clear_history()
    return ds, seq, ents


def _bare(
    engine: SAM2Engine, folder: pathlib.Path, *steps: tuple[Any, ...]
) -> dict[int, dict[int, np.ndarray]]:
    """Masks of the bare predictor, after steps ("prompt", frame, obj, points) and ("run", start, reverse)."""
    pred = engine.predictor
    out: dict[int, dict[int, np.ndarray]] = {}
    with torch.inference_mode():
        state = pred.init_state(str(folder))
        for step in steps:
            if step[0] == "prompt":
                _, frame, obj, points = step
                pred.add_new_points_or_box(
                    state,
                    frame,
                    obj,
                    points=np.array(points, np.float32),
                    labels=np.ones(len(points), np.int32),
                )
                continue
            _, start, reverse = step
            for f, ids, masks in pred.propagate_in_video(state, start_frame_idx=start, reverse=reverse):
                for k, obj in enumerate(ids):
                    out.setdefault(obj, {})[f] = (masks[k, 0] > 0).numpy()
    return out


def test_lazy_frames_are_bit_identical_to_sam2s_loader(engine: SAM2Engine, clip: pathlib.Path) -> None:
    from sam2.utils.misc import load_video_frames

    ds, seq, _ = _dataset(clip)
    images, h, w = load_video_frames(str(clip), SIZE, offload_video_to_cpu=True)
    lazy = LazyFrames(ds, seq, SIZE)
    assert len(lazy) == len(images) == 12 and (h, w) == (64, 96)
    for i in [0, 1, 2, 3, 7, 6, 5, 11]:  # forward and backward runs exercise the read-ahead
        assert torch.equal(lazy[i], images[i]), f"frame {i} differs"
        assert len(lazy._ahead) <= 1
    lazy.close()


def test_prompt_and_forward_propagation_identical_to_bare_predictor(
    engine: SAM2Engine, long_clip: pathlib.Path
) -> None:
    ds, seq, (a, _) = _dataset(long_clip)
    sess = engine.session(ds, seq)
    mask, score = sess.prompt(0, a, points=[(40, 30)], labels=[1])
    ours = {f: r[a][0] for f, r in sess.propagate()}
    theirs = _bare(engine, long_clip, ("prompt", 0, 1, [(40, 30)]), ("run", 0, False))[1]
    assert sorted(ours) == list(range(40))
    for f in range(40):
        assert np.array_equal(ours[f], theirs[f]), f"frame {f} differs from the bare predictor"
    assert np.array_equal(mask, theirs[0]) and 0.0 <= score <= 1.0
    # The prompt landed as a human keyframe with SAM2's object score.
    row = ds.annotation("masks", seq, 0, a)
    assert (
        row is not None
        and row["keyframe"]
        and row["source"] == "human"
        and row["score"] == pytest.approx(score)
    )
    # Flat memory: 40 frames tracked, only what the model can still read is held.
    held = sess.held_frames()[a]
    assert held <= 2 * (engine.window + 1) < 40, held
    assert len(sess._state["frames_tracked_per_obj"][0]) == 40


def test_both_directions_identical_to_bare_predictor(engine: SAM2Engine, long_clip: pathlib.Path) -> None:
    ds, seq, (a, b) = _dataset(long_clip)
    sess = engine.session(ds, seq)
    sess.prompt(20, a, points=[(30, 20)])
    sess.prompt(20, b, points=[(70, 40)])
    got = list(sess.propagate(start=20, direction="both"))
    frames = [f for f, _ in got]
    assert frames == list(range(20, 40)) + list(range(19, -1, -1))
    theirs = _bare(
        engine,
        long_clip,
        ("prompt", 20, 1, [(30, 20)]),
        ("prompt", 20, 2, [(70, 40)]),
        ("run", 20, False),
        ("run", 20, True),
    )
    for f, results in got:
        assert np.array_equal(results[a][0], theirs[1][f]), f"entity a, frame {f}"
        assert np.array_equal(results[b][0], theirs[2][f]), f"entity b, frame {f}"


def test_backward_and_ranges_cover_the_right_frames(engine: SAM2Engine, clip: pathlib.Path) -> None:
    ds, seq, (a, _) = _dataset(clip)
    sess = engine.session(ds, seq)
    sess.prompt(6, a, points=[(48, 32)])
    assert [f for f, _ in sess.propagate(direction="backward")] == [6, 5, 4, 3, 2, 1, 0]
    assert [f for f, _ in sess.propagate(start=6, end=9)] == [6, 7, 8, 9]
    assert [f for f, _ in sess.propagate(start=6, direction="both", end=(4, 8))] == [6, 7, 8, 5, 4]
    assert [f for f, _ in sess.propagate(start=0, direction="backward")] == [0]
    assert [f for f, _ in sess.propagate(start=11)] == [11]


def test_entity_added_after_propagation(engine: SAM2Engine, long_clip: pathlib.Path) -> None:
    ds, seq, (a, b) = _dataset(long_clip)
    sess = engine.session(ds, seq)
    sess.prompt(0, a, points=[(30, 20)])
    first = {f: r[a][0] for f, r in sess.propagate()}
    # A new object id after tracking: SAM2 1.1.0 tracks objects independently, so it just works.
    sess.prompt(25, b, points=[(70, 40)])
    only_b = list(sess.propagate(start=25, entities=[b]))
    assert [f for f, _ in only_b] == list(range(25, 40))
    assert all(set(r) == {b} for _, r in only_b)  # the model ran for b alone
    both = dict(sess.propagate(start=0))
    # b joins the pass at its keyframe: it is not guessed on the frames before it.
    assert all(set(both[f]) == ({a} if f < 25 else {a, b}) for f in range(40))
    assert all(np.array_equal(both[f][b][0], r[b][0]) for f, r in only_b)
    for f in range(40):  # a's masks are what they were (b's prompt is b's alone)
        assert np.array_equal(both[f][a][0], first[f]), f
    # b alone equals b tracked together with a by the bare predictor.
    # The bare predictor, given b after tracking a, tracks both from 25; b's masks match ours.
    theirs = _bare(
        engine,
        long_clip,
        ("prompt", 0, 1, [(30, 20)]),
        ("run", 0, False),
        ("prompt", 25, 2, [(70, 40)]),
        ("run", 25, False),
    )
    assert all(np.array_equal(theirs[1][f], first[f]) for f in range(25))
    for f, r in only_b:
        assert np.array_equal(r[b][0], theirs[2][f]), f


def test_corrections_carry_into_the_next_propagation(engine: SAM2Engine, long_clip: pathlib.Path) -> None:
    ds, seq, (a, _) = _dataset(long_clip)
    sess = engine.session(ds, seq)
    sess.prompt(0, a, points=[(30, 20)])
    first = {f: r[a][0] for f, r in sess.propagate()}
    # Frame 20 was tracked, and its outputs were dropped (outside the window of the pass head and start).
    idx = sess._state["obj_id_to_idx"][a]
    assert sess._dropped(idx, 20)
    fixed, _ = sess.prompt(20, a, points=[(30, 20), (60, 45)], labels=[1, 0])
    assert not np.array_equal(fixed, first[20])
    assert sess.keyframes(a) == [0, 20]
    # Propagating again from the first keyframe keeps the correction (it is a conditioning frame)...
    again = {f: r[a][0] for f, r in sess.propagate(start=0)}
    assert np.array_equal(again[20], fixed)
    assert any(not np.array_equal(again[f], first[f]) for f in range(21, 40))
    assert np.array_equal(again[0], first[0])  # the first keyframe stays as prompted


def test_sam2_default_loses_corrections_ours_does_not(engine: SAM2Engine, clip: pathlib.Path) -> None:
    """Why the engine sets add_all_frames_to_correct_as_cond: with SAM2's default a re-run drops the fix."""
    pred = engine.predictor
    pred.add_all_frames_to_correct_as_cond = False
    try:
        with torch.inference_mode():
            st = pred.init_state(str(clip))
            pred.add_new_points_or_box(
                st, 0, 1, points=np.array([[30, 20]], np.float32), labels=np.array([1])
            )
            first = {f: (m[0, 0] > 0).numpy() for f, _, m in pred.propagate_in_video(st)}
            _, _, m = pred.add_new_points_or_box(
                st,
                6,
                1,
                points=np.array([[30, 20], [60, 45]], np.float32),
                labels=np.array([1, 0]),
                clear_old_points=True,
            )
            fixed = (m[0, 0] > 0).numpy()
            again = {f: (m[0, 0] > 0).numpy() for f, _, m in pred.propagate_in_video(st)}
    finally:
        pred.add_all_frames_to_correct_as_cond = True
    assert not np.array_equal(fixed, first[6])
    assert np.array_equal(again[6], first[6])  # the correction is gone
    ds, seq, (a, _) = _dataset(clip)
    sess = engine.session(ds, seq)
    sess.prompt(0, a, points=[(30, 20)])
    list(sess.propagate())
    ours_fixed, _ = sess.prompt(6, a, points=[(30, 20), (60, 45)], labels=[1, 0])
    ours_again = dict(sess.propagate())
    assert np.array_equal(ours_fixed, fixed)  # same correction as the bare predictor's...
    assert np.array_equal(ours_again[6][a][0], fixed)  # ...and it survives the re-run


def test_cancel_stops_between_frames_and_leaves_one_undo_step(engine: SAM2Engine, clip: pathlib.Path) -> None:
    ds, seq, (a, b) = _dataset(clip)
    sess = engine.session(ds, seq)
    sess.prompt(0, a, points=[(30, 20)])
    sess.prompt(0, b, points=[(70, 40)])
    token = vl.segment.CancelToken()
    seen: list[int] = []

    def stop_after_three(change: vl.Change) -> None:
        seen.extend(change.frames.get(seq, ()))
        if 3 in seen:  # frame 0 holds the human keyframes (kept, nothing written), then 1, 2, 3
            token.cancel()

    ds.observe(stop_after_three)
    before = ds.history()
    report = sess.propagate_into(start=0, cancel=token, progress=False)
    assert report.cancelled and report.frames == [0, 1, 2, 3] and seen == [1, 2, 3]
    assert report.kept == 2  # the human keyframes on frame 0 are not overwritten
    for e in (a, b):
        assert ds.mask_frames(seq, e) == [0, 1, 2, 3]
        row = ds.annotation("masks", seq, 2, e)
        assert row is not None and row["source"] == "sam2" and not row["keyframe"] and 0 <= row["score"] <= 1
        assert [(t["start_frame"], t["end_frame"]) for t in ds.tracklets(seq, e)] == [(0, 3)]
    assert ds.history() == [*before, "sam2: propagate forward from frame 0"]
    assert ds.undo()
    assert ds.mask_frames(seq, a) == [0] and ds.mask_frames(seq, b) == [0]
    # Closing the generator stops it too, and the session is usable again afterwards.
    gen = sess.propagate(start=0)
    assert next(gen)[0] == 0
    with pytest.raises(vl.ValidationError, match="propagating"):
        sess.prompt(3, a, points=[(10, 10)])
    gen.close()
    sess.prompt(3, a, points=[(10, 10)])


def test_bad_prompts_write_nothing(engine: SAM2Engine, clip: pathlib.Path) -> None:
    ds, seq, (a, _) = _dataset(clip)
    sess = engine.session(ds, seq)
    before = snapshot(ds)
    bad = [
        dict(frame=0, entity=a, points=[(96, 10)]),
        dict(frame=0, entity=a, points=[]),
        dict(frame=0, entity=a, box=(10, 10, 10, 30)),
        dict(frame=0, entity="nobody", points=[(10, 10)]),
        dict(frame=12, entity=a, points=[(10, 10)]),
    ]
    for kwargs in bad:
        with pytest.raises(vl.ValidationError):
            sess.prompt(**kwargs)  # type: ignore[arg-type]
    assert_same(before, ds)
    assert sess.entities == [] and sess._state["obj_ids"] == []
    with pytest.raises(vl.ValidationError, match="no prompts"):
        list(sess.propagate())


def test_box_and_mask_prompts(engine: SAM2Engine, clip: pathlib.Path) -> None:
    ds, seq, (a, b) = _dataset(clip)
    sess = engine.session(ds, seq)
    pred = engine.predictor
    m_box, _ = sess.prompt(2, a, box=(10, 10, 50, 40))
    given = np.zeros((64, 96), bool)
    given[20:40, 30:70] = True
    m_mask, _ = sess.prompt(2, b, mask=given)
    with torch.inference_mode():
        st = pred.init_state(str(clip))
        _, _, m1 = pred.add_new_points_or_box(st, 2, 1, box=np.array([10, 10, 50, 40], np.float32))
        _, _, m2 = pred.add_new_mask(st, 2, 2, given)
    assert np.array_equal(m_box, (m1[0, 0] > 0).numpy())
    assert np.array_equal(m_mask, (m2[1, 0] > 0).numpy())
    sess.remove(b)
    assert sess.entities == [a] and sess._state["obj_ids"] == [a]
    sess.reset()
    assert sess.entities == [] and sess._state["obj_ids"] == []


# ---------------------------------------------------------------------- checkpoints and model ids
@pytest.fixture(scope="module")
def checkpoint(engine: SAM2Engine, tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    torch.manual_seed(1)
    state = {
        k: torch.randn_like(v) if v.is_floating_point() else v
        for k, v in engine.predictor.state_dict().items()
    }
    torch.save({"model": state}, path)
    return path


def test_local_checkpoint_loads(checkpoint: pathlib.Path) -> None:
    eng = vl.segment.load("sam2", checkpoint=str(checkpoint), config=CONFIG, image_size=SIZE, device="cpu")
    saved = torch.load(checkpoint, weights_only=True)["model"]
    loaded = eng.predictor.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in saved.items())


def test_bad_checkpoints_are_named(checkpoint: pathlib.Path, tmp_path: pathlib.Path) -> None:
    with pytest.raises(vl.ValidationError, match="does not exist"):
        vl.segment.load("sam2", checkpoint=str(tmp_path / "nope.pt"), config=CONFIG, image_size=SIZE)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(vl.ValidationError, match="cannot be read"):
        vl.segment.load("sam2", checkpoint=str(junk), config=CONFIG, image_size=SIZE, device="cpu")
    state = torch.load(checkpoint, weights_only=True)["model"]
    other = dict(state)
    other["image_encoder.trunk.blocks.99.norm1.weight"] = torch.zeros(3)
    del other["sam_mask_decoder.iou_prediction_head.layers.0.weight"]
    path = tmp_path / "other.pt"
    torch.save({"model": other}, path)
    with pytest.raises(
        vl.ValidationError, match=r"does not match the config \(1 weights missing.*1 unexpected"
    ):
        vl.segment.load("sam2", checkpoint=str(path), config=CONFIG, image_size=SIZE, device="cpu")
    resized = dict(state)
    resized["obj_ptr_proj.layers.0.weight"] = torch.zeros(3, 3)
    torch.save({"model": resized}, path)
    with pytest.raises(vl.ValidationError, match="size mismatch"):
        vl.segment.load("sam2", checkpoint=str(path), config=CONFIG, image_size=SIZE, device="cpu")
    with pytest.raises(vl.ValidationError, match="needs its config"):
        vl.segment.load("sam2", checkpoint=str(checkpoint))
    with pytest.raises(vl.ValidationError, match=r"config 'nope\.yaml' not found"):
        vl.segment.load("sam2", checkpoint=str(checkpoint), config="nope.yaml")
    with pytest.raises(vl.ValidationError, match="give model="):
        vl.segment.load("sam2")
    with pytest.raises(vl.ValidationError, match="unknown device 'gpu9'"):
        vl.segment.load("sam2", config=CONFIG, random_weights=True, device="gpu9")
    if not torch.cuda.is_available():
        with pytest.raises(vl.ValidationError, match="device 'cuda' is not available"):
            vl.segment.load("sam2", config=CONFIG, random_weights=True, device="cuda")
    with pytest.raises(vl.ValidationError, match="multiple of 32"):
        vl.segment.load("sam2", config=CONFIG, random_weights=True, image_size=100, device="cpu")


def test_model_ids_from_the_hugging_face_cache(checkpoint: pathlib.Path, tmp_path: pathlib.Path) -> None:
    with pytest.raises(vl.ValidationError, match="unknown model id 'facebook/sam3'"):
        vl.segment.load("sam2", model="facebook/sam3")
    with pytest.raises(vl.ValidationError, match="not in the Hugging Face cache"):
        vl.segment.load("sam2", model="facebook/sam2.1-hiera-tiny", cache_dir=tmp_path / "hub", offline=True)
    # The cache layout huggingface_hub reads: refs/main names a snapshot holding the file.
    repo = tmp_path / "hub" / "models--facebook--sam2.1-hiera-tiny"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "sam2.1_hiera_tiny.pt").symlink_to(checkpoint)
    eng = vl.segment.load(
        "sam2",
        model="facebook/sam2.1-hiera-tiny",
        cache_dir=tmp_path / "hub",
        offline=True,
        image_size=SIZE,
        device="cpu",
    )
    saved = torch.load(checkpoint, weights_only=True)["model"]
    assert all(torch.equal(eng.predictor.state_dict()[k], v) for k, v in list(saved.items())[:20])


def test_the_annotator_drives_sam2_as_a_cell_would(engine: SAM2Engine, clip: pathlib.Path) -> None:
    """A click and a propagation sent as the widget's messages give the masks the session gives directly."""
    from test_widget import Recorder, ask

    ds, seq, (a, _b) = _dataset(clip)
    w = vl.Annotator(ds, engine=engine, entity=a)
    rec = Recorder(w)
    assert w.engine_name == "sam2"
    reply = ask(w, rec, 1, "prompt", frame=2, entity=a, points=[[40.0, 30.0]], labels=[1])
    assert reply["ok"], reply
    assert ask(w, rec, 2, "propagate", direction="both", entities="selected", frame=2)["ok"]
    w.close()

    ref, _, (ra, _rb) = _dataset(clip)
    with engine.session(ref, seq) as sess:
        sess.prompt(2, ra, points=[(40.0, 30.0)], labels=[1])
        sess.propagate_into(start=2, direction="both", progress=False)
    assert ds.mask_frames(seq, a) == ref.mask_frames(seq, ra)
    assert ds.mask_frames(seq, a), "nothing was written"
    for f in ds.mask_frames(seq, a):
        assert np.array_equal(ds.mask(seq, f, a), ref.mask(seq, f, ra)), f
