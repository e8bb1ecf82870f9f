"""YouTube-VOS folders: the export's layout and meta.json, round trips, and a hand-made folder in the
real dataset's style (every 5th frame annotated, no vidlabel facts)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image
from test_io_davis import write_jpeg, write_palette_png
from test_io_export import N2, H, N, W, assert_round_trip, build, rect, spans

import vidlabel as vl
from vidlabel.io.atomic import MARKER
from vidlabel.io.youtube_vos import read_youtube_vos, write_youtube_vos
from vidlabel.palette import davis_palette


def test_youtube_vos_export_layout_and_meta(tmp_path: Path):
    ds = build()
    root = write_youtube_vos(ds, tmp_path / "ytvos", progress=False)
    assert sorted(p.name for p in root.iterdir()) == [MARKER, "Annotations", "JPEGImages", "meta.json"]
    assert [p.name for p in sorted((root / "JPEGImages" / "clip").iterdir())] == [
        f"{f:05d}.jpg" for f in range(N)
    ]
    assert not (root / "JPEGImages" / "nopix").exists()
    # a PNG per frame holding a non-void mask: here the car or the person is on every frame
    pngs = sorted(p.stem for p in (root / "Annotations" / "clip").iterdir())
    assert pngs == ["00000", "00001", "00002", "00003", "00004", "00005", "00006", "00007"]
    assert len(list((root / "Annotations" / "nopix").iterdir())) == N2
    with Image.open(root / "Annotations" / "clip" / "00000.png") as im:
        assert im.mode == "P" and bytes(im.getpalette()) == davis_palette().tobytes()
        labels = np.array(im)
    want = np.zeros((H, W), np.uint8)
    want[ds.mask("clip", 0, "car")] = 1  # the void strip stays out: YouTube-VOS has no void
    np.testing.assert_array_equal(labels, want)
    meta = json.loads((root / "meta.json").read_text())
    assert meta["videos"]["clip"]["objects"] == {
        "1": {"category": "car", "frames": ["00000", "00001", "00002", "00005", "00006", "00007"]},
        "2": {"category": "object", "frames": ["00002", "00003", "00004", "00005", "00006"]},
    }
    assert meta["videos"]["nopix"]["objects"]["2"] == {
        "category": "cat",
        "frames": ["00005", "00006", "00007", "00008", "00009"],
    }


def test_youtube_vos_round_trip(tmp_path: Path):
    ds = build()
    back = read_youtube_vos(write_youtube_vos(ds, tmp_path / "y", progress=False), progress=False)
    assert_round_trip(ds, back)
    assert back.frame_source("clip") is not None and back.frame_source("nopix") is None
    assert back.frame_uri("nopix", 7) == "00007"
    assert not back.can_undo


def test_youtube_vos_round_trip_keeps_overlapping_masks_whole(tmp_path: Path):
    ds = build(overlap=True)
    root = write_youtube_vos(ds, tmp_path / "y", progress=False)
    labels = np.array(Image.open(root / "Annotations" / "clip" / "00002.png"))
    assert not np.array_equal(labels == 1, ds.mask("clip", 2, "car"))  # the person covers part of the car
    assert_round_trip(ds, read_youtube_vos(root, progress=False))


def test_youtube_vos_sequence_without_pixels_keeps_its_unannotated_frames(tmp_path: Path):
    ds = vl.Dataset()
    seq = ds.add_sequence("s", num_frames=6, width=8, height=6, uris=[f"{5 * i:05d}" for i in range(6)])
    ds.set_mask(seq, 1, ds.add_entity(seq), rect(6, 8, 1, 1, 3, 3))
    root = write_youtube_vos(ds, tmp_path / "y", progress=False)
    assert [p.name for p in (root / "Annotations" / "s").iterdir()] == ["00005.png"]  # the frames' own names
    back = read_youtube_vos(root, progress=False)
    assert back.num_frames("s") == 6 and back.frame_uri("s", 5) == "00025"
    assert_round_trip(ds, back)


def real_style(root: Path, *, images: bool = True) -> dict[int, np.ndarray]:
    """A video annotated every 5th frame, its objects in meta.json, no vidlabel facts."""
    h, w = 24, 32
    labels = {}
    for k, f in enumerate((0, 5, 10, 15)):
        if images:
            write_jpeg(root / "JPEGImages" / "0a1b" / f"{f:05d}.jpg", seed=f, size=(w, h))
        if f == 10:
            continue  # a frame with no annotation PNG
        lab = np.zeros((h, w), np.uint8)
        lab[2:8, 2 + k : 10 + k] = 1
        if f >= 5:
            lab[12:20, 20:30] = 3  # object ids need not be consecutive
        if f == 15:
            lab[0, :] = 255
        write_palette_png(root / "Annotations" / "0a1b" / f"{f:05d}.png", lab)
        labels[f] = lab
    meta = {
        "videos": {
            "0a1b": {
                "objects": {
                    "1": {"category": "ape", "frames": ["00000", "00005", "00015"]},
                    "3": {"category": "hat", "frames": ["00005", "00015"]},
                }
            }
        }
    }
    (root / "meta.json").write_text(json.dumps(meta))
    return labels


@pytest.mark.parametrize("images", [True, False])
def test_read_real_style_youtube_vos(tmp_path: Path, images: bool):
    root = tmp_path / "train"
    labels = real_style(root, images=images)
    ds = read_youtube_vos(root, progress=False)
    n = 4 if images else 3  # without images, frame 00010 (no PNG, in no object's frames) is unknown
    assert ds.sequence_ids() == ["0a1b"] and ds.num_frames("0a1b") == n
    stems = ["00000", "00005", "00010", "00015"] if images else ["00000", "00005", "00015"]
    assert [Path(ds.frame_uri("0a1b", i)).stem for i in range(n)] == stems
    assert (ds.frame_source("0a1b") is not None) == images
    ents = [ds.entity(e) for e in ds.entity_ids("0a1b")]
    assert [(e["name"], e["category"], e["void"]) for e in ents] == [
        ("1", "ape", False),
        ("3", "hat", False),
        ("255", None, True),
    ]
    for i, stem in enumerate(stems):
        lab = labels.get(int(stem))
        for value in (1, 3, 255):
            m = ds.mask("0a1b", i, str(value))
            if lab is None or not (lab == value).any():
                assert m is None
            else:
                np.testing.assert_array_equal(m, lab == value)
    assert spans(ds, "0a1b", "1") == ([(0, 1), (3, 3)] if images else [(0, 2)])
    meta = ds.annotation("masks", "0a1b", 0, "1")
    assert meta is not None and (meta["source"], meta["keyframe"]) == ("import", True)


def test_read_youtube_vos_sequences_and_into_a_dataset(tmp_path: Path):
    root = tmp_path / "y"
    write_youtube_vos(build(), root, progress=False)
    ds = vl.Dataset(
        sequence_fields={"weather": pa.string()},
        entity_fields={"difficulty": pa.int32()},
        state_fields={"occluded": pa.bool_()},
    )
    read_youtube_vos(root, sequences=["nopix"], dataset=ds, progress=False)
    assert ds.sequence_ids() == ["nopix"] and len(ds.history()) == 1
    with pytest.raises(vl.ValidationError, match="'ghost'"):
        read_youtube_vos(root, sequences=["ghost"], progress=False)


def _break(root: Path, case: str) -> str:
    ann = root / "Annotations" / "0a1b"
    if case == "meta_not_json":
        (root / "meta.json").write_text("[1, 2")
        return "meta.json is not JSON"
    if case == "meta_shape":
        (root / "meta.json").write_text(json.dumps({"videos": ["0a1b"]}))
        return "meta.json: expected"
    if case == "object_id":
        meta = json.loads((root / "meta.json").read_text())
        meta["videos"]["0a1b"]["objects"]["cat"] = {"category": "cat", "frames": []}
        (root / "meta.json").write_text(json.dumps(meta))
        return "meta.json.*object id 'cat'"
    if case == "unknown_frame":
        meta = json.loads((root / "meta.json").read_text())
        meta["videos"]["0a1b"]["objects"]["1"]["frames"].append("00099")
        (root / "meta.json").write_text(json.dumps(meta))
        return "meta.json.*00099"
    if case == "rgb_png":
        Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(ann / "00005.png")
        return "00005.png has mode 'RGB'"
    if case == "orphan_png":
        shutil.copy(ann / "00005.png", ann / "00007.png")
        return "00007.png matches no frame"
    if case == "size":
        write_palette_png(ann / "00015.png", np.ones((5, 5), np.uint8))
        return "00015.png is 5x5"
    if case == "video_name":
        meta = json.loads((root / "meta.json").read_text())
        meta["videos"][".."] = {"objects": {}}
        (root / "meta.json").write_text(json.dumps(meta))
        return "video name '..' is not a folder name"
    if case == "no_videos":
        shutil.rmtree(root)
        root.mkdir()
        return "no videos"
    raise AssertionError(case)


CASES = [
    "meta_not_json",
    "meta_shape",
    "object_id",
    "unknown_frame",
    "rgb_png",
    "orphan_png",
    "size",
    "no_videos",
]


@pytest.mark.parametrize("case", CASES)
def test_read_youtube_vos_bad_input_leaves_a_dataset_unchanged(tmp_path: Path, case: str):
    root = tmp_path / "train"
    real_style(root)
    pattern = _break(root, case)
    ds = vl.Dataset()
    ds.add_sequence("other", num_frames=1, width=4, height=4)
    before, history = ds.tables(), ds.history()
    with pytest.raises(vl.ValidationError, match=pattern):
        read_youtube_vos(root, dataset=ds, progress=False)
    after = ds.tables()
    assert all(before[n].equals(after[n]) for n in before) and ds.history() == history
