from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

import vidlabel as vl
from vidlabel.io.pixano import read_pixano
from vidlabel.palette import davis_palette

H, W, N = 40, 56, 5


def write_jpeg(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(path, quality=90)


def write_palette_png(path: Path, labels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.frombytes("P", (labels.shape[1], labels.shape[0]), labels.astype(np.uint8).tobytes())
    im.putpalette(davis_palette().ravel().tolist())
    im.save(path)


def labels(frame: int, extra: int) -> np.ndarray:
    lab = np.zeros((H, W), np.uint8)
    lab[2:12, 2 + frame : 14 + frame] = 1
    if frame != 2:
        lab[20:30, 30:40] = extra
    lab[-1, :3] = 255
    return lab


def write_lines(path: Path, lines: list[object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))


OLD = {
    "status": "done",
    "weather": "sunny",  # Pixano 0.7 kept record fields at the top level
    "views": {"image": {"path": "frames/bear/*.jpg", "fps": 24}},
    "annotation_files": {"mask": "masks/bear/*.png"},
}
NEW = {
    "id": "cat",
    "attrs": {"weather": "rain", "night": True, "level": 3, "score": 1},
    "views": {"image": {"frame_pattern": "media/cat/*.jpg", "fps": 12}},
    "annotation_files": [
        {
            "kind": "mask",
            "view": "image",
            "pattern": "media/cat_masks/*.png",
            "encoding": "index_png",
            "entity_map": "auto",
        }
    ],
}


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """train/ uses the 0.7 form with paths under the split folder; val/ the v2 form, paths from the root."""
    root = tmp_path / "src"
    for f in range(N):
        write_jpeg(root / "train" / "frames" / "bear" / f"{f:05d}.jpg", seed=f)
        write_palette_png(root / "train" / "masks" / "bear" / f"{f:05d}.png", labels(f, 2))
        write_jpeg(root / "media" / "cat" / f"{f:05d}.jpg", seed=10 + f)
        write_palette_png(root / "media" / "cat_masks" / f"{f:05d}.png", labels(f, 4))
    write_lines(root / "train" / "metadata.jsonl", [OLD])
    write_lines(root / "val" / "metadata.jsonl", [{"$pixano": "jsonl/2"}, "", NEW])
    return root


def test_both_line_forms(source: Path):
    ds = read_pixano(source, progress=False)
    assert ds.sequence_ids() == ["bear", "cat"]
    assert not ds.can_undo
    bear, cat = ds.sequence("bear"), ds.sequence("cat")
    assert (bear["split"], bear["status"], bear["fps"], bear["num_frames"]) == ("train", "done", 24.0, N)
    assert (cat["split"], cat["status"], cat["fps"], cat["width"], cat["height"]) == ("val", None, 12.0, W, H)
    assert (bear["weather"], bear["night"], bear["level"], bear["score"]) == ("sunny", None, None, None)
    assert (cat["weather"], cat["night"], cat["level"], cat["score"]) == ("rain", True, 3, 1.0)
    fields = {f.name: f.type for f in ds.custom_fields["sequences"]}
    assert fields == {"weather": pa.string(), "night": pa.bool_(), "level": pa.int64(), "score": pa.int64()}
    for seq, extra in (("bear", 2), ("cat", 4)):
        ents = [ds.entity(e) for e in ds.entity_ids(seq)]
        assert [(e["name"], e["void"]) for e in ents] == [("1", False), (str(extra), False), ("255", True)]
        for f in range(N):
            lab = labels(f, extra)
            for v in (1, extra, 255):
                m = ds.mask(seq, f, str(v))
                if (lab == v).any():
                    np.testing.assert_array_equal(m, lab == v)
                else:
                    assert m is None
        spans = [(t["start_frame"], t["end_frame"]) for t in ds.tracklets(seq, str(extra))]
        assert spans == [(0, 1), (3, N - 1)]
    path = source / "media" / "cat" / "00000.jpg"
    assert ds.frame("cat", 0).shape == (H, W, 3)
    assert ds.frame_bytes("cat", 0) == (path.read_bytes(), "image/jpeg")


def test_attr_types_are_inferred_across_lines(source: Path):
    other = dict(NEW, id="cat2", attrs={"score": 0.5, "level": None})
    write_lines(source / "val" / "metadata.jsonl", [NEW, other])
    ds = read_pixano(source, splits="val", progress=False)
    fields = {f.name: f.type for f in ds.custom_fields["sequences"]}
    assert fields["score"] == pa.float64() and fields["level"] == pa.int64()
    assert ds.sequence("cat")["score"] == 1.0 and ds.sequence("cat2")["score"] == 0.5
    write_lines(source / "val" / "metadata.jsonl", [NEW, dict(NEW, id="cat3", attrs={"level": "high"})])
    with pytest.raises(vl.ValidationError, match="level"):
        read_pixano(source, splits="val", progress=False)


def test_splits_filter_and_unknown_split(source: Path):
    assert read_pixano(source, splits=["train"], progress=False).sequence_ids() == ["bear"]
    with pytest.raises(vl.ValidationError, match="'test'"):
        read_pixano(source, splits=["train", "test"], progress=False)


def test_into_a_dataset_needs_declared_fields_and_is_one_undo_step(source: Path):
    ds = vl.Dataset(sequence_fields={"weather": pa.string()})
    with pytest.raises(vl.ValidationError, match="level, night, score"):
        read_pixano(source, dataset=ds, progress=False)
    assert len(ds) == 0
    ds = vl.Dataset(
        sequence_fields={
            "weather": pa.string(),
            "night": pa.bool_(),
            "level": pa.int64(),
            "score": pa.float64(),
        }
    )
    read_pixano(source, dataset=ds, progress=False)
    assert ds.sequence_ids() == ["bear", "cat"] and ds.history() == ["import Pixano (2 sequences)"]
    ds.undo()
    assert len(ds) == 0


def test_entity_map_names_entities(source: Path):
    line = json.loads(json.dumps(NEW))
    line["annotation_files"][0]["entity_map"] = {"1": "cat", "4": "ball"}
    write_lines(source / "val" / "metadata.jsonl", [line])
    ds = read_pixano(source, splits="val", progress=False)
    assert [ds.entity(e)["name"] for e in ds.entity_ids("cat")] == ["cat", "ball", "255"]
    np.testing.assert_array_equal(ds.mask("cat", 0, "ball"), labels(0, 4) == 4)


def test_name_from_attrs_and_folder(source: Path):
    named = dict(NEW, attrs={"name": "kitty", "status": "todo"})
    anonymous = {k: v for k, v in NEW.items() if k not in ("id", "attrs")}
    write_lines(source / "val" / "metadata.jsonl", [named])
    ds = read_pixano(source, splits="val", progress=False)
    assert ds.sequence_ids() == ["kitty"] and ds.sequence("kitty")["status"] == "todo"
    assert ds.custom_fields["sequences"] == []
    write_lines(source / "val" / "metadata.jsonl", [anonymous])
    assert read_pixano(source, splits="val", progress=False).sequence_ids() == ["cat"]


@pytest.mark.parametrize(
    ("pattern", "where"),
    [
        ("../outside/*.jpg", "frames"),
        ("frames/../../outside/*.jpg", "frames"),
        ("ABS", "frames"),
        ("frames/evil/*.jpg", "frames"),
        ("../outside/*.png", "masks"),
    ],
)
def test_patterns_may_not_escape_the_source(source: Path, tmp_path: Path, pattern: str, where: str):
    outside = tmp_path / "outside"
    for f in range(N):
        write_jpeg(outside / f"{f:05d}.jpg", seed=f)
        write_palette_png(outside / f"{f:05d}.png", labels(f, 2))
    (source / "train" / "frames" / "evil").symlink_to(outside, target_is_directory=True)
    if pattern == "ABS":
        pattern = str(outside / "*.jpg")
    line = json.loads(json.dumps(OLD))
    if where == "frames":
        line["views"]["image"]["path"] = pattern
    else:
        line["annotation_files"]["mask"] = pattern
    write_lines(source / "train" / "metadata.jsonl", [line])
    ds = vl.Dataset(sequence_fields={"weather": pa.string()})
    before = ds.tables()
    with pytest.raises(vl.ValidationError, match=re.escape(pattern)):
        read_pixano(source, splits="train", dataset=ds, progress=False)
    assert all(t.equals(ds.tables()[n]) for n, t in before.items())


BAD = [
    ("malformed", ['{"views": {"image": "a.jpg"}'], r"metadata\.jsonl:3: malformed JSON"),
    ("not_object", ["[1, 2]"], r"metadata\.jsonl:3: expected a JSON object"),
    ("no_views", [{"attrs": {}}], r"metadata\.jsonl:3: 'views' missing"),
    ("views_not_object", [{"views": 3}], r"metadata\.jsonl:3: 'views' not an object of views \(int\)"),
    ("kind", [dict(NEW, annotation_files=[{"kind": "bbox", "pattern": "x/*.json"}])], "kind 'bbox'"),
    (
        "encoding",
        [
            dict(
                NEW,
                annotation_files=[
                    {"kind": "mask", "pattern": "media/cat_masks/*.png", "encoding": "rle_json"}
                ],
            )
        ],
        "encoding 'rle_json'",
    ),
    ("late_header", [{"$pixano": "jsonl/2"}], r"metadata\.jsonl:3: .*header"),
    ("no_match", [dict(NEW, views={"image": {"frame_pattern": "media/dog/*.jpg"}})], "media/dog"),
    ("v2_unknown_key", [dict(NEW, colour="red")], "colour"),
    ("video", [dict(NEW, views={"image": {"uri": "clip.mp4"}})], "video"),
    ("duplicate", [dict(NEW, id="bear")], r"metadata\.jsonl:3: .*duplicate"),
]


@pytest.mark.parametrize(("case", "lines", "pattern"), BAD, ids=[b[0] for b in BAD])
def test_bad_lines_leave_a_given_dataset_unchanged(
    source: Path, case: str, lines: list[object], pattern: str
):
    write_lines(source / "val" / "metadata.jsonl", [{"$pixano": "jsonl/2"}, NEW, *lines])
    ds = vl.Dataset(
        sequence_fields={
            "weather": pa.string(),
            "night": pa.bool_(),
            "level": pa.int64(),
            "score": pa.float64(),
        }
    )
    ds.add_sequence("keep", frames=np.zeros((2, 4, 4, 3), np.uint8))
    before, history = ds.tables(), ds.history()
    with pytest.raises(vl.ValidationError, match=pattern):
        read_pixano(source, dataset=ds, progress=False)
    after = ds.tables()
    assert all(before[n].equals(after[n]) for n in before) and ds.history() == history


def test_bad_mask_rolls_back_earlier_sequences(source: Path):
    write_palette_png(source / "media" / "cat_masks" / "00003.png", np.ones((H, W + 1), np.uint8))
    ds = vl.Dataset(
        sequence_fields={
            "weather": pa.string(),
            "night": pa.bool_(),
            "level": pa.int64(),
            "score": pa.float64(),
        }
    )
    with pytest.raises(vl.ValidationError, match=r"val/metadata\.jsonl:3: .*00003\.png"):
        read_pixano(source, dataset=ds, progress=False)
    assert len(ds) == 0 and not ds.can_undo  # "bear" (train) was added first, then undone


def test_missing_root_and_empty_source(tmp_path: Path):
    with pytest.raises(vl.ValidationError, match="nowhere"):
        read_pixano(tmp_path / "nowhere")
    (tmp_path / "empty" / "train").mkdir(parents=True)
    with pytest.raises(vl.ValidationError, match=r"metadata\.jsonl"):
        read_pixano(tmp_path / "empty")


def test_where_a_pixano_source_is_not_says_what_to_give(tmp_path: Path) -> None:
    """A path that is not there, the metadata file itself, a library, and a file cut short: each
    error says what was wrong and what to give instead."""
    with pytest.raises(vl.ValidationError, match="does not exist"):
        read_pixano(tmp_path / "nowhere")
    (tmp_path / "val").mkdir()
    (tmp_path / "val" / "metadata.jsonl").write_text('{"views": {"image": "a.jpg"}')  # no newline: cut
    with pytest.raises(vl.ValidationError, match="give the folder above its split folder"):
        read_pixano(tmp_path / "val" / "metadata.jsonl")
    with pytest.raises(
        vl.ValidationError, match=r"metadata\.jsonl:1: malformed JSON at column \d+: .*cut short"
    ):
        read_pixano(tmp_path)
    lib = tmp_path / "lib"
    (lib / "library").mkdir(parents=True)
    with pytest.raises(vl.ValidationError, match=r"read it with vl\.read_pixano_library"):
        read_pixano(lib)
