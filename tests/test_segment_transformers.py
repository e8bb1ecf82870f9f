"""The transformers engine against the library's own inference session and ``propagate_in_video_iterator``.

No weights can be downloaded here: a tiny Sam2Video model is built from a shrunk config with random weights,
``initializer_range=0.1`` and a bias on the object-score head, so masks cover part of the frame and differ
between prompts (checked: a comparison of empty masks would prove nothing). The reference is the library's
session holding every preprocessed frame, given the same frames, the same model and the same prompts; the
engine's masks must be bit-identical to it.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import torch
from conftest import assert_same, snapshot
from hf_reference import H, W, dataset, library_masks, tiny_sam3, video

import vidlabel as vl
from vidlabel.segment.hf_loading import import_transformers
from vidlabel.segment.hf_session import TrackerEngine
from vidlabel.segment.hf_tiny import bias_object_scores, tiny_sam2_config

import_transformers()  # settles transformers' torchvision answer before a model class is imported

SIZE = 128


@pytest.fixture(scope="module")
def engine() -> TrackerEngine:
    torch.set_num_threads(2)
    eng = vl.segment.load("transformers", config=tiny_sam2_config(SIZE), random_weights=True, device="cpu")
    assert isinstance(eng, TrackerEngine)
    bias_object_scores(eng.model)
    return eng


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return video(30)


def test_forward_identical_to_the_library_and_memory_bounded(engine: TrackerEngine, clip: np.ndarray) -> None:
    ds, seq, (a, b) = dataset(clip)
    sess = engine.session(ds, seq)
    ma, sa = sess.prompt(0, a, points=[(30, 20)], labels=[1])
    mb, _ = sess.prompt(0, b, points=[(70, 40)])
    # Non-trivial masks that differ between prompts, else parity would prove nothing.
    assert 0.02 < ma.mean() < 0.9 and 0.02 < mb.mean() < 0.9 and (ma != mb).mean() > 0.02
    assert ma.shape == (H, W) and 0.0 <= sa <= 1.0
    ours = dict(sess.propagate())
    theirs = library_masks(
        engine, clip, ("points", 0, a, [(30, 20)]), ("points", 0, b, [(70, 40)]), ("run", 0, False)
    )
    assert sorted(ours) == list(range(30))
    for f in range(30):
        for e in (a, b):
            assert np.array_equal(ours[f][e][0], theirs[e][f]), f"{e} frame {f} differs from the library"
    assert any(
        not np.array_equal(ours[f][a][0], ours[0][a][0]) for f in range(1, 30)
    )  # it tracks, not copies
    row = ds.annotation("masks", seq, 0, a)
    assert (
        row is not None and row["keyframe"] and row["source"] == "human" and row["score"] == pytest.approx(sa)
    )
    # Only what the model can still read is held: no frame list, one preprocessed frame, a window of outputs.
    held = sess.held_frames()
    assert all(n <= 2 * (engine.window + 1) < 30 for n in held.values()), held
    assert sess.inference_session.processed_frames is sess.frames and sess.frames.last is not None


def test_reverse_and_both_identical_to_the_library(engine: TrackerEngine, clip: np.ndarray) -> None:
    ds, seq, (a, b) = dataset(clip)
    sess = engine.session(ds, seq)
    sess.prompt(15, a, points=[(30, 20)])
    sess.prompt(15, b, box=(50, 25, 90, 60))
    got = list(sess.propagate(start=15, direction="both"))
    assert [f for f, _ in got] == list(range(15, 30)) + list(range(14, -1, -1))
    theirs = library_masks(
        engine,
        clip,
        ("points", 15, a, [(30, 20)]),
        ("box", 15, b, (50, 25, 90, 60)),
        ("run", 15, False),
        ("run", 15, True),
    )
    for f, r in got:
        assert np.array_equal(r[a][0], theirs[a][f]), f"a, frame {f}"
        assert np.array_equal(r[b][0], theirs[b][f]), f"b, frame {f}"
    back = [f for f, _ in sess.propagate(start=5, direction="backward")]
    assert back == [5, 4, 3, 2, 1, 0]


def test_entity_added_after_tracking_identical_to_the_library(
    engine: TrackerEngine, clip: np.ndarray
) -> None:
    ds, seq, (a, b) = dataset(clip)
    sess = engine.session(ds, seq)
    sess.prompt(0, a, points=[(30, 20)])
    first = {f: r[a][0] for f, r in sess.propagate()}
    sess.prompt(12, b, points=[(70, 40)])
    only_b = list(sess.propagate(start=12, entities=[b]))
    assert [f for f, _ in only_b] == list(range(12, 30)) and all(set(r) == {b} for _, r in only_b)
    # b, added after a was tracked and propagated alone (entities=[b]), is bit-identical to a library session
    # that holds only b, given the same prompt on frame 12 and run forward from 12. The reference is not a
    # library session holding a and b: there every frame runs both objects through the model as a batch of
    # two, and a batch of two differs from a batch of one in the last float bits, which the > 0 threshold
    # turns into a few flipped pixels on some later frames. So this shows the per-object state is handled
    # like the library's, not that two-object batches match.
    theirs = library_masks(engine, clip, ("points", 12, b, [(70, 40)]), ("run", 12, False))
    assert any(not np.array_equal(theirs[b][f], theirs[b][12]) for f in range(13, 30))
    for f, r in only_b:
        assert np.array_equal(r[b][0], theirs[b][f]), f
    both = dict(sess.propagate(start=0))
    assert all(set(both[f]) == ({a} if f < 12 else {a, b}) for f in range(30))
    assert all(np.array_equal(both[f][a][0], first[f]) for f in range(30))


def test_box_and_mask_prompts_identical_to_the_library(engine: TrackerEngine, clip: np.ndarray) -> None:
    ds, seq, (a, b) = dataset(clip)
    sess = engine.session(ds, seq)
    given = np.zeros((H, W), bool)
    given[20:40, 30:70] = True
    m_box, _ = sess.prompt(2, a, box=(10, 10, 50, 40))
    m_mask, _ = sess.prompt(2, b, mask=given)
    theirs = library_masks(engine, clip, ("box", 2, a, (10, 10, 50, 40)), ("mask", 2, b, given))
    assert np.array_equal(m_box, theirs[a][("prompt", 2)]) and m_box.any()
    assert np.array_equal(m_mask, theirs[b][("prompt", 2)]) and m_mask.any()
    sess.remove(b)
    assert sess.entities == [a] and sess.inference_session.obj_ids == [a]
    assert len(dict(sess.propagate(start=2, end=5))) == 4
    sess.reset()
    assert sess.entities == [] and sess.inference_session.obj_ids == []


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
    assert held[300][2] == 300  # every frame read once (the prompt's frame features are reused)


def test_corrections_carry_into_the_next_propagation(engine: TrackerEngine, clip: np.ndarray) -> None:
    ds, seq, (a, _) = dataset(clip)
    sess = engine.session(ds, seq)
    sess.prompt(0, a, points=[(30, 20)])
    first = {f: r[a][0] for f, r in sess.propagate()}
    assert sess.dropped(a, 20)  # its outputs were pruned: the correction re-tracks the frames before it
    fixed, _ = sess.prompt(20, a, points=[(30, 20), (60, 45)], labels=[1, 0])
    assert not np.array_equal(fixed, first[20])
    again = {f: r[a][0] for f, r in sess.propagate(start=0)}
    assert np.array_equal(again[20], fixed)  # the library would recompute frame 20 without the clicks
    assert np.array_equal(again[0], first[0])
    assert any(not np.array_equal(again[f], first[f]) for f in range(21, 30))


def test_cancel_keeps_whole_frames_as_one_undo_step(engine: TrackerEngine, clip: np.ndarray) -> None:
    ds, seq, (a, b) = dataset(clip)
    sess = engine.session(ds, seq)
    sess.prompt(0, a, points=[(30, 20)])
    sess.prompt(0, b, points=[(70, 40)])
    token = vl.segment.CancelToken()
    seen: list[int] = []

    def stop_after_three(change: vl.Change) -> None:
        seen.extend(change.frames.get(seq, ()))
        if 3 in seen:
            token.cancel()

    ds.observe(stop_after_three)
    before = ds.history()
    report = sess.propagate_into(start=0, cancel=token, progress=False)
    assert report.cancelled and report.frames == [0, 1, 2, 3] and report.kept == 2
    for e in (a, b):
        assert ds.mask_frames(seq, e) == [0, 1, 2, 3]
        row = ds.annotation("masks", seq, 2, e)
        assert row is not None and row["source"] == "transformers" and not row["keyframe"]
    assert ds.history() == [*before, "transformers: propagate forward from frame 0"]
    assert ds.undo() and ds.mask_frames(seq, a) == [0]


def test_bad_input_is_refused_and_writes_nothing(engine: TrackerEngine, clip: np.ndarray) -> None:
    ds, seq, (a, _) = dataset(clip)
    sess = engine.session(ds, seq)
    before = snapshot(ds)
    for kwargs in (
        dict(frame=30, entity=a, points=[(10, 10)]),
        dict(frame=-40, entity=a, points=[(10, 10)]),
        dict(frame=0, entity=a, points=[(96, 10)]),
        dict(frame=0, entity=a, points=[]),
        dict(frame=0, entity="nobody", points=[(10, 10)]),
    ):
        with pytest.raises(vl.ValidationError):
            sess.prompt(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(vl.ValidationError, match="no prompts"):
        list(sess.propagate())
    sess.prompt(0, a, points=[(10, 10)], write=False)
    with pytest.raises(vl.ValidationError):
        list(sess.propagate(start=31))
    assert_same(before, ds)
    with pytest.raises(vl.ValidationError, match="model type 'bert'"):
        vl.segment.load("transformers", config={"model_type": "bert"}, random_weights=True, device="cpu")
    with pytest.raises(vl.ValidationError, match="random_weights=True"):
        vl.segment.load("transformers", config=tiny_sam2_config(SIZE), device="cpu")
    with pytest.raises(vl.ValidationError, match="unknown device 'gpu9'"):
        vl.segment.load("transformers", config=tiny_sam2_config(SIZE), random_weights=True, device="gpu9")


# ---------------------------------------------------------------------- loading
@pytest.fixture(scope="module")
def saved(engine: TrackerEngine, tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("hf") / "tiny-sam2"
    engine.model.save_pretrained(folder)
    return folder


def test_local_folder_and_hub_cache_load_the_same_weights(
    engine: TrackerEngine, saved: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    eng = vl.segment.load("transformers", model=str(saved), device="cpu")
    assert isinstance(eng, TrackerEngine) and eng.kind == "sam2" and eng.dtype == torch.float32
    mine, theirs = eng.model.state_dict(), engine.model.state_dict()
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    with pytest.raises(vl.ValidationError, match=r"not in the Hugging Face cache.*offline=True"):
        vl.segment.load(
            "transformers", model="facebook/sam2.1-hiera-tiny", cache_dir=tmp_path / "hub", offline=True
        )
    # The cache layout huggingface_hub reads: refs/main names a snapshot holding the files.
    repo = tmp_path / "hub" / "models--facebook--sam2.1-hiera-tiny"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    for f in saved.iterdir():
        (repo / "snapshots" / commit / f.name).symlink_to(f)
    eng2 = vl.segment.load(
        "transformers",
        model="facebook/sam2.1-hiera-tiny",
        cache_dir=tmp_path / "hub",
        offline=True,
        device="cpu",
    )
    assert all(torch.equal(eng2.model.state_dict()[k], v) for k, v in list(theirs.items())[:20])
    # A model of the wrong kind is named as such.
    other = tmp_path / "bert"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(vl.ValidationError, match=r"'bert' is not a SAM-family video model"):
        vl.segment.load("transformers", model=str(other))
    with pytest.raises(vl.ValidationError, match=r"no config\.json"):
        vl.segment.load("transformers", model=str(tmp_path))
    with pytest.raises(vl.ValidationError, match=r"sam3: .*SAM 3"):
        vl.segment.load("sam3", model=str(saved), device="cpu")


def test_a_config_as_plain_data_builds_the_same_model(engine: TrackerEngine) -> None:
    # What a Ray worker is given: the config's to_dict() (unpickling a config object would import
    # transformers before vidlabel can keep a broken torchvision out of it).
    eng = vl.segment.load(
        "transformers", config=tiny_sam2_config(SIZE).to_dict(), random_weights=True, device="cpu"
    )
    bias_object_scores(eng.model)  # as the fixture's
    mine, theirs = eng.model.state_dict(), engine.model.state_dict()
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    broken = {**tiny_sam2_config(SIZE).to_dict(), "vision_config": 3}
    with pytest.raises(vl.ValidationError, match="not a transformers config's to_dict"):
        vl.segment.load("transformers", config=broken, random_weights=True, device="cpu")


def _import_with(tmp_path: pathlib.Path, torchvision_init: str) -> list[str]:
    """Run import_transformers in a child whose torchvision is a stand-in package with that __init__."""
    fake = tmp_path / "site"
    (fake / "torchvision").mkdir(parents=True)
    (fake / "torchvision" / "__init__.py").write_text(torchvision_init)
    code = (
        "import sys\nfrom vidlabel.segment.hf_loading import import_transformers\n"
        "tf = import_transformers()\n"
        "print(tf.utils.is_torchvision_available(), sys.modules.get('torchvision', 'absent'))\n"
        "if not tf.utils.is_torchvision_available():\n"
        "    tf.Sam2VideoModel, tf.Sam3VideoModel  # model classes import without it\n"
        "    try:\n        import torchvision\n    except RuntimeError as e:\n        print(e)\n"
    )
    path = [str(fake), str(pathlib.Path(__file__).parents[1]), *sys.path]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.split("\n")


def test_a_torchvision_that_cannot_load_is_kept_out_of_transformers_only(tmp_path: pathlib.Path) -> None:
    # A torchvision that fails as a CUDA build beside a CPU torch does: transformers is told it is absent, the
    # model classes load, and the process's own import of it is left as it was (the same error, no entry).
    lines = _import_with(tmp_path, "raise RuntimeError('operator torchvision::nms does not exist')\n")
    assert lines[:2] == ["False absent", "operator torchvision::nms does not exist"]


def test_a_torchvision_that_loads_is_left_to_transformers(tmp_path: pathlib.Path) -> None:
    lines = _import_with(tmp_path, "__version__ = '0.28.0'\n")
    assert lines[0] == "True absent"  # not hidden, and not imported by vidlabel either


def test_transformers_is_imported_only_when_the_engine_is_loaded() -> None:
    code = (
        "import sys, vidlabel as vl\nvl.segment.available()\n"
        "print('transformers' in sys.modules, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_a_model_not_cached_offline_and_a_misspelt_option_are_refused_before_torch_is_imported(
    tmp_path: pathlib.Path,
) -> None:
    # Refused in the time it takes to look in the cache, not the seconds torch and transformers take.
    code = (
        "import sys, vidlabel as vl\n"
        "for name, opts in (('transformers', {'model': 'facebook/sam2.1-hiera-tiny'}),\n"
        "                   ('sam3', {'model': 'facebook/sam3', 'treshold': 0.3})):\n"
        "    try:\n"
        "        vl.segment.load(name, cache_dir=sys.argv[1], **opts)\n"
        "    except vl.ValidationError as e:\n"
        "        print(e)\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=env)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 3, out.stdout + out.stderr
    assert "'facebook/sam2.1-hiera-tiny' is not in the Hugging Face cache" in lines[0]
    assert "HF_HUB_OFFLINE is set" in lines[0]
    assert (
        lines[1].startswith("sam3 engine: unknown option(s) treshold; options are ")
        and "threshold" in lines[1]
    )
    assert lines[2] == "False False"


# ---------------------------------------------------------------------- SAM 3 text prompts
@pytest.fixture(scope="module")
def sam3() -> Any:
    return tiny_sam3()


def test_find_creates_one_entity_per_detection_and_rerunning_adds_none(sam3: Any, clip: np.ndarray) -> None:
    ds, seq, _ = dataset(clip[:8], 0)
    sess = sam3.session(ds, seq)
    detections = sess.detect("person", 2)
    assert 1 <= len(detections) <= 4 and all(m.shape == (H, W) and m.any() for m, _ in detections)
    found = sess.find("person", frame=2)
    assert len(found.new) >= 1 and found.matched == [] and ds.entity_ids(seq) == found.new
    for e in found.new:
        assert ds.entity(e)["category"] == "person"
        row = ds.annotation("masks", seq, 2, e)
        assert row is not None and row["keyframe"] and row["source"] == f"sam3:{sam3.model_id}"
    # Distinct instances only: no two found masks overlap by match_iou or more.
    masks = [ds.mask(seq, 2, e) for e in found.new]
    for i in range(len(masks)):
        for j in range(i):
            inter, union = (masks[i] & masks[j]).sum(), (masks[i] | masks[j]).sum()
            assert inter / union < sam3.match_iou
    before = snapshot(ds)
    again = sess.find("person", frame=2)
    assert again.new == [] and sorted(again.matched) == sorted(found.new)
    assert_same(before, ds)
    assert ds.history()[-1] == "sam3: find 'person' on frame 2" and len(ds.history()) == 1
    # Every instance found is tracked by the tracker, fed by the detector's features.
    got = dict(sess.propagate(start=2, direction="both"))
    assert sorted(got) == list(range(8)) and all(set(got[f]) == set(found.new) for f in range(8))
    for bad in ("", "   ", None):
        with pytest.raises(vl.ValidationError, match="non-empty"):
            sess.find(bad, frame=0)  # type: ignore[arg-type]
    with pytest.raises(vl.ValidationError):
        sess.find("person", frame=8)
    with pytest.raises(vl.ValidationError, match="max_objects"):
        sess.find("person", frame=0, max_objects=0)
    assert_same(before, ds)


def _clip_tokenizer(folder: pathlib.Path) -> None:
    """A CLIP tokenizer of letters only, saved as a SAM 3 repo holds its own (no vocabulary is fetched)."""
    tf = pytest.importorskip("transformers")
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tf.CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt")).save_pretrained(str(folder))


def test_the_models_own_tokenizer_is_used_and_a_long_text_is_cut_to_its_length(
    sam3: Any, clip: np.ndarray, tmp_path: pathlib.Path
) -> None:
    folder = tmp_path / "tiny-sam3"
    sam3.model.save_pretrained(folder)
    _clip_tokenizer(folder)
    eng = vl.segment.load("sam3", model=str(folder), device="cpu", threshold=0.3, max_objects=4)
    ids, attention = eng.tokenize("a red car " * 20)  # 140 letters: more tokens than the text encoder takes
    assert ids.shape == attention.shape == (1, 32) and int(ids[0, 0]) == 0
    assert not torch.equal(eng.tokenize("car")[0], eng.tokenize("bus")[0])
    ds, seq, _ = dataset(clip[:2], 0)
    detections = eng.session(ds, seq).detect(("a red car " * 8).strip(), 0)  # 79 letters: ~70 tokens
    assert all(m.shape == (H, W) for m, _ in detections)
