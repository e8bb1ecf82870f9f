"""Every kind of frame input, through Dataset.add_sequence, as a user adds them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_frames import frame_number, write_video

import vidlabel as vl


def test_video_file_sequence(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", n=30, fps=25)
    ds = vl.Dataset()
    seq = ds.add_sequence("clip", frames=str(path))
    info = ds.sequence(seq)
    assert (info["num_frames"], info["width"], info["height"]) == (30, 64, 48)
    assert info["fps"] == pytest.approx(25) and info["source_kind"] == "video"
    ts = ds.table("frames").column("timestamp").to_numpy()
    assert np.allclose(ts, np.arange(30) / 25)  # from the container's timestamps
    for i in (17, 3, 29, 0, 18):  # random access is frame-exact
        assert frame_number(ds.frame(seq, i)) == i
    e = ds.add_entity(seq)
    ds.set_mask(seq, 29, e, np.ones((48, 64), bool))
    ds.to_parquet(tmp_path / "out")
    back = vl.Dataset.from_parquet(tmp_path / "out")
    assert frame_number(back.frame(seq, 12)) == 12  # the video is reopened from its path


def test_list_of_arrays_and_paths(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 255, (20, 30, 3), dtype=np.uint8) for _ in range(4)]
    ds = vl.Dataset()
    a = ds.add_sequence("arrays", frames=arrays, fps=10)
    assert np.array_equal(ds.frame(a, 2), arrays[2])
    paths = []
    for i, arr in enumerate(arrays):
        paths.append(tmp_path / f"f{i}.png")
        Image.fromarray(arr).save(paths[-1])
    p = ds.add_sequence("pngs", frames=[str(x) for x in reversed(paths)])
    assert np.array_equal(ds.frame(p, 0), arrays[3])  # the order given, not sorted
    assert ds.frame_uri(p, 0) == str(paths[3].resolve())
    data, mime = ds.frame_bytes(p, 1)
    assert mime == "image/jpeg" and data[:2] == b"\xff\xd8"  # PNGs are sent to the browser as JPEG
    assert ds.sequence_ids() == ["arrays", "pngs"] and list(ds) == ["arrays", "pngs"]


def test_bad_frame_inputs_change_nothing(tmp_path: Path) -> None:
    ds = vl.Dataset()
    ds.add_sequence("ok", frames=np.zeros((2, 8, 8, 3), np.uint8))
    before = ds.tables()
    (tmp_path / "a.jpg").write_bytes(b"not a jpeg at all")
    bad = [
        str(tmp_path / "nothing-*.jpg"),
        str(tmp_path / "missing.mp4"),
        [str(tmp_path / "a.jpg")],
        np.zeros((2, 8, 8), np.uint8),
        [np.zeros((8, 8, 3), np.uint8), np.zeros((9, 8, 3), np.uint8)],
    ]
    for frames in bad:
        with pytest.raises(vl.ValidationError):
            ds.add_sequence("new", frames=frames)
        after = ds.tables()
        assert all(before[k].equals(after[k]) for k in before)


def test_a_sequence_larger_than_the_bounds_is_refused() -> None:
    ds = vl.Dataset()
    for kw in (
        {"num_frames": 3, "width": 100_000, "height": 10},
        {"num_frames": 2**25, "width": 8, "height": 8},
    ):
        with pytest.raises(vl.ValidationError, match="sequences"):
            ds.add_sequence("big", **kw)
    assert len(ds) == 0
