from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image, ImageFile

import vidlabel as vl
from vidlabel.io.davis import import_index_masks, read_davis, read_index_png
from vidlabel.palette import davis_palette

H, W, N = 48, 64, 6


def write_jpeg(path: Path, seed: int, size: tuple[int, int] = (W, H)) -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path, quality=90)


def write_palette_png(path: Path, labels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.frombytes("P", (labels.shape[1], labels.shape[0]), labels.astype(np.uint8).tobytes())
    im.putpalette(davis_palette().ravel().tolist())
    im.save(path)


def labels_for(frame: int, *, void: bool) -> np.ndarray:
    """Object 1 on every frame, object 2 on all but frame 2, void pixels on even frames."""
    lab = np.zeros((H, W), np.uint8)
    lab[5:20, 5 + frame : 25 + frame] = 1
    if frame != 2:
        lab[30:45, 40:60] = 2
    if void and frame % 2 == 0:
        lab[0, :] = 255
    return lab


def make_davis(root: Path, res: str = "480p") -> dict[str, dict[int, np.ndarray]]:
    truth: dict[str, dict[int, np.ndarray]] = {}
    for k, (seq, void) in enumerate((("bear", True), ("cat", False))):
        truth[seq] = {}
        for f in range(N):
            write_jpeg(root / "JPEGImages" / res / seq / f"{f:05d}.jpg", seed=10 * k + f)
            truth[seq][f] = labels_for(f, void=void)
            write_palette_png(root / "Annotations" / res / seq / f"{f:05d}.png", truth[seq][f])
    sets = root / "ImageSets" / "2017"
    sets.mkdir(parents=True)
    (sets / "train.txt").write_text("bear\n")
    (sets / "val.txt").write_text("cat\n")
    (sets / "trainval.txt").write_text("bear\ncat\n")
    return truth


@pytest.fixture
def davis(tmp_path: Path) -> tuple[Path, dict[str, dict[int, np.ndarray]]]:
    root = tmp_path / "DAVIS"
    return root, make_davis(root)


def test_davis_2017_entities_masks_tracklets_splits(davis):
    root, truth = davis
    ds = read_davis(root, progress=False)
    assert ds.sequence_ids() == ["bear", "cat"]
    assert not ds.can_undo  # an import into a new dataset is not an undoable step
    for seq in ("bear", "cat"):
        row = ds.sequence(seq)
        assert (row["width"], row["height"], row["num_frames"], row["fps"]) == (W, H, N, 24.0)
        assert row["split"] == {"bear": "train", "cat": "val"}[seq]  # not the wider "trainval"
        ents = [ds.entity(e) for e in ds.entity_ids(seq)]
        expected = [("1", False), ("2", False)] + ([("255", True)] if seq == "bear" else [])
        assert [(e["name"], e["void"]) for e in ents] == expected
        for f in range(N):
            masks = {ds.entity(e)["name"]: m for e, m in ds.masks(seq, f).items()}
            want = {str(v): truth[seq][f] == v for v in np.unique(truth[seq][f]) if v != 0}
            assert set(masks) == set(want)
            for name, m in want.items():
                np.testing.assert_array_equal(masks[name], m)
        assert [(t["start_frame"], t["end_frame"]) for t in ds.tracklets(seq, "1")] == [(0, N - 1)]
        assert [(t["start_frame"], t["end_frame"]) for t in ds.tracklets(seq, "2")] == [(0, 1), (3, N - 1)]
    assert [(t["start_frame"], t["end_frame"]) for t in ds.tracklets("bear", "255")] == [
        (0, 0),
        (2, 2),
        (4, 4),
    ]
    meta = ds.annotation("masks", "bear", 0, "1")
    assert meta is not None and meta["source"] == "import" and meta["keyframe"] is True


def test_davis_frames_are_served_as_the_jpeg_files(davis):
    root, _ = davis
    ds = read_davis(root, sequences=["cat"], progress=False)
    path = root / "JPEGImages" / "480p" / "cat" / "00000.jpg"
    assert ds.frame("cat", 0).shape == (H, W, 3)
    data, mime = ds.frame_bytes("cat", 0)
    assert data == path.read_bytes() and mime == "image/jpeg"
    np.testing.assert_array_equal(ds.frame("cat", 3), np.asarray(Image.open(path.with_name("00003.jpg"))))


def test_davis_filters_and_fps(davis):
    root, _ = davis
    assert read_davis(root, sequences=["cat"], progress=False).sequence_ids() == ["cat"]
    ds = read_davis(root, split="val", fps=12, progress=False)
    assert ds.sequence_ids() == ["cat"]
    assert ds.sequence("cat")["fps"] == 12.0 and ds.sequence("cat")["split"] == "val"
    ds = read_davis(root, split="trainval", progress=False)
    assert [ds.sequence(s)["split"] for s in ds.sequence_ids()] == ["trainval", "trainval"]
    with pytest.raises(vl.ValidationError, match="'dog'"):
        read_davis(root, sequences=["cat", "dog"], progress=False)
    with pytest.raises(vl.ValidationError, match="'test-dev'"):
        read_davis(root, split="test-dev", progress=False)
    (root / "ImageSets" / "2017" / "test-dev.txt").write_text("dog\n")  # listed, but not downloaded
    with pytest.raises(vl.ValidationError, match="test-dev"):
        read_davis(root, split="test-dev", progress=False)


def test_davis_2016_greyscale_masks_and_imagesets(tmp_path: Path):
    root = tmp_path / "DAVIS2016"
    want = {}
    for f in range(3):
        write_jpeg(root / "JPEGImages" / "480p" / "blackswan" / f"{f:05d}.jpg", seed=f)
        m = np.zeros((H, W), np.uint8)
        m[10 : 20 + f, 10:30] = 255
        want[f] = m > 0
        (root / "Annotations" / "480p" / "blackswan").mkdir(parents=True, exist_ok=True)
        Image.fromarray(m, mode="L").save(root / "Annotations" / "480p" / "blackswan" / f"{f:05d}.png")
    (root / "ImageSets" / "480p").mkdir(parents=True)
    (root / "ImageSets" / "480p" / "val.txt").write_text(
        "".join(
            f"/JPEGImages/480p/blackswan/{f:05d}.jpg /Annotations/480p/blackswan/{f:05d}.png\n"
            for f in range(3)
        )
    )
    ds = read_davis(root, progress=False)
    assert ds.sequence("blackswan")["split"] == "val"
    assert [(ds.entity(e)["name"], ds.entity(e)["void"]) for e in ds.entity_ids("blackswan")] == [
        ("1", False)
    ]
    for f in range(3):
        np.testing.assert_array_equal(ds.mask("blackswan", f, "1"), want[f])


def test_davis_test_dev_first_frame_only_and_unannotated_sequence(tmp_path: Path):
    root = tmp_path / "D"
    for f in range(4):
        write_jpeg(root / "JPEGImages" / "480p" / "a" / f"{f:05d}.jpg", seed=f)
        write_jpeg(root / "JPEGImages" / "480p" / "b" / f"{f:05d}.jpg", seed=f)
    write_palette_png(root / "Annotations" / "480p" / "a" / "00000.png", labels_for(0, void=False))
    ds = read_davis(root, progress=False)
    assert ds.mask_frames("a", "1") == [0] and ds.mask_frames("a", "2") == [0]
    assert ds.entity_ids("b") == [] and ds.sequence("b")["split"] is None


def _existing() -> vl.Dataset:
    ds = vl.Dataset(sequence_fields={"weather": pa.string()})
    seq = ds.add_sequence("other", frames=np.zeros((2, 8, 8, 3), np.uint8), weather="sun")
    ent = ds.add_entity(seq)
    ds.set_mask(seq, 0, ent, np.eye(8, dtype=bool))
    return ds


def _break(root: Path, case: str) -> str:
    """Damage the DAVIS tree at ``root``; returns a regex the error message must match."""
    ann = root / "Annotations" / "480p" / "cat"  # "cat" comes after "bear": its failure must undo "bear"
    if case == "size":
        write_palette_png(ann / "00003.png", np.ones((H // 2, W // 2), np.uint8))
        return "00003.png"
    if case == "corrupt":
        data = bytearray((ann / "00002.png").read_bytes())
        data[60] ^= 0xFF
        (ann / "00002.png").write_bytes(bytes(data))
        return "00002.png"
    if case == "truncated":
        data = (ann / "00004.png").read_bytes()
        (ann / "00004.png").write_bytes(data[:-20])  # inside the image data, past the palette
        return "00004.png"
    if case == "not_png":
        (ann / "00001.png").write_bytes(b"hello")
        return "00001.png"
    if case == "orphan":
        write_palette_png(ann / "00042.png", labels_for(0, void=False))
        return "00042.png"
    if case == "no_frames":
        for p in (root / "JPEGImages" / "480p" / "cat").iterdir():
            p.unlink()
        return "'cat'"
    if case == "no_jpegimages":
        for p in sorted((root / "JPEGImages").rglob("*"), reverse=True):
            p.rmdir() if p.is_dir() else p.unlink()
        return "JPEGImages/480p"
    if case == "no_root":
        return "nowhere"
    raise AssertionError(case)


CASES = ["size", "corrupt", "truncated", "not_png", "orphan", "no_frames", "no_jpegimages", "no_root"]


@pytest.mark.parametrize("case", CASES)
def test_davis_bad_input_leaves_a_given_dataset_unchanged(davis, case):
    root, _ = davis
    pattern = _break(root, case)
    ds = _existing()
    before, history = ds.tables(), ds.history()
    with pytest.raises(vl.ValidationError, match=pattern):
        read_davis(root / "nowhere" if case == "no_root" else root, dataset=ds, progress=False)
    after = ds.tables()
    assert all(before[name].equals(after[name]) for name in before)
    assert ds.history() == history and ds.sequence_ids() == ["other"]


def test_davis_truncated_png_caught_even_when_pillow_is_lenient(davis, monkeypatch):
    root, _ = davis
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    pattern = _break(root, "truncated")
    with pytest.raises(vl.ValidationError, match=pattern):
        read_davis(root, progress=False)


def test_davis_into_a_dataset_is_one_undo_step(davis):
    root, _ = davis
    ds = _existing()
    n = len(ds.history())
    read_davis(root, dataset=ds, progress=False)
    assert ds.sequence_ids() == ["bear", "cat", "other"] and len(ds.history()) == n + 1
    ds.undo()
    assert ds.sequence_ids() == ["other"]
    ds.add_sequence("cat", frames=np.zeros((1, 4, 4, 3), np.uint8))
    with pytest.raises(vl.ValidationError, match="duplicate"):  # a name clash undoes "bear" too
        read_davis(root, dataset=ds, progress=False)
    assert ds.sequence_ids() == ["cat", "other"]


def test_read_index_png_modes(tmp_path: Path):
    lab = np.array([[0, 1, 255], [7, 0, 2]], np.uint8)
    write_palette_png(tmp_path / "p.png", lab)
    np.testing.assert_array_equal(read_index_png(tmp_path / "p.png"), lab)
    Image.fromarray(np.array([[0, 255], [255, 0]], np.uint8)).convert("1").save(tmp_path / "b.png")
    np.testing.assert_array_equal(read_index_png(tmp_path / "b.png"), [[0, 1], [1, 0]])
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(vl.ValidationError, match="mode 'RGB'"):
        read_index_png(tmp_path / "rgb.png")


def test_import_index_masks_entity_map(tmp_path: Path):
    ds = vl.Dataset()
    frames = []
    for f in range(2):
        frames.append(str(tmp_path / f"{f}.jpg"))
        write_jpeg(Path(frames[-1]), seed=f)
    lab = np.zeros((H, W), np.uint8)
    lab[:4, :4], lab[10:12, 10:12], lab[20, 20] = 3, 1, 255
    write_palette_png(tmp_path / "m" / "1.png", lab)
    seq = ds.add_sequence("s", frames=frames)
    ids = import_index_masks(
        ds, seq, frames, [str(tmp_path / "m" / "1.png")], entity_map={1: "cow", 3: "dog"}
    )
    assert [(ds.entity(e)["name"], ds.entity(e)["void"]) for e in ids] == [
        ("cow", False),
        ("dog", False),
        ("255", True),
    ]
    np.testing.assert_array_equal(ds.mask(seq, 1, "dog"), lab == 3)
    assert ds.mask(seq, 0, "dog") is None
    with pytest.raises(vl.ValidationError, match="value 3"):
        import_index_masks(ds, seq, frames, [str(tmp_path / "m" / "1.png")], entity_map={1: "x"})
