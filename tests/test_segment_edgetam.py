"""EdgeTAM through the transformers engine, against the library's own session and iterator on the same model.

timm cannot be imported here (it needs a torchvision that imports with this torch), so the model is a tiny
random-weight ``EdgeTamVideoModel`` whose RepViT backbone is a stand-in (``hf_standin``: four convolutions
giving RepViT's four feature maps); everything else (FPN neck, prompt encoder, mask decoder, memory encoder,
spatial perceiver, memory attention) is transformers' EdgeTAM code. So these tests show vidlabel drives
EdgeTAM's tracker like the library does, bit for bit; they say nothing about the real RepViT weights.
"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any

import numpy as np
import pytest
import torch
from hf_reference import H, W, dataset, library_masks, video

import vidlabel as vl
from vidlabel.segment.hf_loading import import_transformers
from vidlabel.segment.hf_session import TrackerEngine
from vidlabel.segment.hf_tiny import bias_object_scores, tiny_edgetam_config

tf = import_transformers()  # settles transformers' torchvision answer before a model class is imported

SIZE = 128


@pytest.fixture(scope="module")
def engine() -> TrackerEngine:
    torch.set_num_threads(2)
    eng = vl.segment.load("transformers", config=tiny_edgetam_config(SIZE), random_weights=True, device="cpu")
    assert isinstance(eng, TrackerEngine)
    bias_object_scores(eng.model)
    return eng


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return video(24)


def test_only_the_backbone_stands_in(engine: TrackerEngine) -> None:
    from transformers.models.edgetam.modeling_edgetam import EdgeTamVisionModel

    from vidlabel.segment.hf_standin import StandInBackbone

    net = engine.model
    assert engine.kind == "edgetam" and type(net) is tf.EdgeTamVideoModel
    assert type(net.vision_encoder) is EdgeTamVisionModel
    assert type(net.vision_encoder.backbone) is StandInBackbone
    # Every module outside the backbone is the library's (transformers' EdgeTAM code or torch layers).
    for name, module in net.named_modules():
        if not name.startswith("vision_encoder.backbone"):
            assert type(module).__module__.startswith(("transformers.", "torch.nn.")), name
    # The backbone's output is RepViT's contract: four NCHW maps at strides 4-32, the channels the neck takes.
    maps = net.vision_encoder.backbone(torch.zeros(1, 3, SIZE, SIZE)).last_hidden_state
    channels = net.config.vision_config.backbone_channel_list[::-1]
    assert [tuple(m.shape) for m in maps] == [
        (1, c, SIZE // s, SIZE // s) for c, s in zip(channels, (4, 8, 16, 32))
    ]


def test_forward_identical_to_the_library(engine: TrackerEngine, clip: np.ndarray) -> None:
    ds, seq, (a, b) = dataset(clip)
    sess = engine.session(ds, seq)
    ma, _ = sess.prompt(0, a, points=[(30, 20)])
    mb, _ = sess.prompt(0, b, points=[(70, 40)])
    # Non-trivial masks that differ between prompts, else parity would prove nothing.
    assert 0.02 < ma.mean() < 0.9 and 0.02 < mb.mean() < 0.9 and (ma != mb).mean() > 0.02
    ours = dict(sess.propagate())
    theirs = library_masks(
        engine, clip, ("points", 0, a, [(30, 20)]), ("points", 0, b, [(70, 40)]), ("run", 0, False)
    )
    assert sorted(ours) == list(range(len(clip)))
    for f in ours:
        for e in (a, b):
            assert np.array_equal(ours[f][e][0], theirs[e][f]), f"{e} frame {f} differs from the library"
    assert any(not np.array_equal(ours[f][a][0], ours[0][a][0]) for f in ours)  # it tracks, not copies
    held = sess.held_frames()
    assert all(n <= 2 * (engine.window + 1) < len(clip) for n in held.values()), held


def test_reverse_and_both_identical_to_the_library(engine: TrackerEngine, clip: np.ndarray) -> None:
    ds, seq, (a, b) = dataset(clip)
    sess = engine.session(ds, seq)
    sess.prompt(12, a, points=[(30, 20)])
    sess.prompt(12, b, box=(50, 25, 90, 60))
    got = list(sess.propagate(start=12, direction="both"))
    assert [f for f, _ in got] == list(range(12, 24)) + list(range(11, -1, -1))
    theirs = library_masks(
        engine,
        clip,
        ("points", 12, a, [(30, 20)]),
        ("box", 12, b, (50, 25, 90, 60)),
        ("run", 12, False),
        ("run", 12, True),
    )
    for f, r in got:
        assert np.array_equal(r[a][0], theirs[a][f]), f"a, frame {f}"
        assert np.array_equal(r[b][0], theirs[b][f]), f"b, frame {f}"
    assert any(not np.array_equal(theirs[a][f], theirs[a][12]) for f in range(12))  # backward moves too


def test_entity_added_later_identical_to_the_library(engine: TrackerEngine, clip: np.ndarray) -> None:
    ds, seq, (a, b) = dataset(clip)
    sess = engine.session(ds, seq)
    sess.prompt(0, a, points=[(30, 20)])
    first = {f: r[a][0] for f, r in sess.propagate()}
    sess.prompt(10, b, points=[(70, 40)])
    only_b = list(sess.propagate(start=10, entities=[b]))
    assert [f for f, _ in only_b] == list(range(10, 24)) and all(set(r) == {b} for _, r in only_b)
    # As in test_segment_transformers.py: the reference holds b alone (a batch of two objects differs from a
    # batch of one in the last float bits).
    theirs = library_masks(engine, clip, ("points", 10, b, [(70, 40)]), ("run", 10, False))
    assert any(not np.array_equal(theirs[b][f], theirs[b][10]) for f in range(11, 24))
    for f, r in only_b:
        assert np.array_equal(r[b][0], theirs[b][f]), f
    both = dict(sess.propagate(start=0))
    assert all(set(both[f]) == ({a} if f < 10 else {a, b}) for f in range(24))
    assert all(np.array_equal(both[f][a][0], first[f]) for f in range(24))


def test_box_and_mask_prompts_identical_to_the_library(engine: TrackerEngine, clip: np.ndarray) -> None:
    frames = clip[:8]
    ds, seq, (a, b) = dataset(frames)
    sess = engine.session(ds, seq)
    given = np.zeros((H, W), bool)
    given[20:40, 30:70] = True
    m_box, _ = sess.prompt(2, a, box=(10, 10, 50, 40))
    m_mask, _ = sess.prompt(2, b, mask=given)
    ours = dict(sess.propagate(start=2))
    # The library cannot hold both: transformers 5.24's EdgeTAM stores a mask prompt's object score one
    # dimension short, and on a frame where it meets another object's score its forward fails (torch.cat),
    # at the prompt already; the session stores it as SAM2 does. So the references hold one object each.
    ref_a = library_masks(engine, frames, ("box", 2, a, (10, 10, 50, 40)), ("run", 2, False))[a]
    ref_b = library_masks(engine, frames, ("mask", 2, b, given), ("run", 2, False))[b]
    assert np.array_equal(m_box, ref_a[("prompt", 2)]) and m_box.any() and not m_box.all()
    assert np.array_equal(m_mask, ref_b[("prompt", 2)]) and m_mask.any()
    assert sorted(ours) == list(range(2, 8))
    for f in range(2, 8):
        assert np.array_equal(ours[f][a][0], ref_a[f]) and np.array_equal(ours[f][b][0], ref_b[f]), f
    assert any(not np.array_equal(ref_b[f], m_mask) for f in range(3, 8))  # the mask prompt is tracked


def test_memory_is_flat_from_30_to_300_frames(engine: TrackerEngine) -> None:
    held = {}
    for n in (30, 300):
        ds, seq, (a,) = dataset(video(n, seed=7), 1)
        sess = engine.session(ds, seq)
        sess.prompt(0, a, points=[(30, 20)])
        for _ in sess.propagate():
            pass
        held[n] = (sess.held_bytes(), sess.held_frames()[a], sess.frames.reads)
    assert held[300][0] == held[30][0] and held[300][1] == held[30][1], held  # the same window at any length
    assert held[300][2] == 300  # every frame read once


# ---------------------------------------------------------------------- loading, timm
def _hub_snapshot(cache: pathlib.Path, repo_id: str, files: pathlib.Path) -> None:
    """The cache layout huggingface_hub reads: refs/main names a snapshot holding the files."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    for f in files.iterdir():
        (repo / "snapshots" / commit / f.name).symlink_to(f)


def _edgetam_config_json(folder: pathlib.Path, vision: dict[str, Any]) -> pathlib.Path:
    """A config.json as an EdgeTAM release has it (vision model and backbone type), no weights."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "edgetam_video", "vision_config": vision}))
    return folder


def test_a_timm_backbone_without_timm_is_refused_naming_timm(
    engine: TrackerEngine, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # timm fails to import (sys.modules' documented "not importable" marker), whether or not it is installed.
    monkeypatch.setitem(sys.modules, "timm", None)
    torchvision_before = sys.modules.get("torchvision", "absent")
    repvit = {
        "model_type": "edgetam_vision_model",
        "backbone_config": {"model_type": "timm_wrapper", "architecture": "repvit_m1.dist_in1k"},
    }
    released = _edgetam_config_json(tmp_path / "edgetam", repvit)
    _hub_snapshot(tmp_path / "hub", "yonigozlan/EdgeTAM-hf", released)
    default = _edgetam_config_json(tmp_path / "default", {"model_type": "edgetam_vision_model"})
    for kwargs in (
        dict(model="yonigozlan/EdgeTAM-hf", cache_dir=tmp_path / "hub", offline=True),
        dict(model=str(released)),
        dict(model=str(default)),  # no backbone config: RepViT through timm is EdgeTAM's default
    ):
        with pytest.raises(vl.ValidationError) as err:
            vl.segment.load("transformers", device="cpu", **kwargs)  # type: ignore[arg-type]
        msg = str(err.value)
        assert "is an EdgeTAM model" in msg and "RepViT" in msg and "timm is not installed" in msg, msg
        assert "pip install timm" in msg and "facebook/sam2.1-hiera-tiny" in msg, msg
        if not tf.utils.is_torchvision_available():  # as here: named too, since pip install timm won't do
            assert "torchvision" in msg, msg
    assert sys.modules.get("torchvision", "absent") == torchvision_before  # looked for, never imported
    # A saved EdgeTAM whose backbone is not timm's loads without it: the check reads the backbone's type.
    saved = tmp_path / "tiny-edgetam"
    engine.model.save_pretrained(saved)
    eng = vl.segment.load("transformers", model=str(saved), device="cpu")
    assert eng.kind == "edgetam"
    mine, theirs = eng.model.state_dict(), engine.model.state_dict()
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
