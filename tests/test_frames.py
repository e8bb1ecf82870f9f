"""Frame sources: ordering, pixels, JPEG passthrough, corrupt input, frame-exact video, cache."""

from __future__ import annotations

import io
import random
import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFile

from vidlabel.errors import ValidationError
from vidlabel.frames import (
    ArraySource,
    EncodedSource,
    FrameCache,
    ImageFilesSource,
    VideoSource,
    open_source,
)
from vidlabel.images import decode_image, encode_jpeg
from vidlabel.naming import natural_key

W, H = 48, 32


def pattern(i: int, w: int = W, h: int = H) -> np.ndarray:
    """A frame whose pixels depend on i and on position, so order and orientation are both checked."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([(x * 5 + i) % 256, (y * 7 + 3 * i) % 256, np.full_like(x, 10 * i % 256)], -1).astype(
        np.uint8
    )


def save(path: Path, rgb: np.ndarray, **kw: Any) -> Path:
    Image.fromarray(rgb).save(path, **kw)
    return path


def smooth(i: int) -> np.ndarray:
    """A frame JPEG keeps close to the original (flat areas), distinct per i."""
    return np.full((H, W, 3), (20 * i + 5, 200 - 20 * i, 90), np.uint8)


@pytest.fixture
def png_folder(tmp_path: Path) -> Path:
    d = tmp_path / "pngs"
    d.mkdir()
    for i in (0, 1, 2, 10, 11, 20):  # lexical order would put 10 and 11 before 2
        save(d / f"frame_{i}.png", pattern(i))
    (d / "notes.txt").write_text("not a frame")
    return d


def test_natural_key_orders_numbers_by_value() -> None:
    names = ["f10.jpg", "f2.jpg", "f1.jpg", "g0.jpg", "f010a.jpg", "f100.jpg"]
    assert sorted(names, key=natural_key) == [
        "f1.jpg",
        "f2.jpg",
        "f10.jpg",
        "f010a.jpg",
        "f100.jpg",
        "g0.jpg",
    ]


def test_folder_natural_order_pixels_and_metadata(png_folder: Path) -> None:
    src = open_source(png_folder, fps=10)
    assert isinstance(src, ImageFilesSource) and src.kind == "images"
    assert len(src) == 6 and src.size == (W, H) and src.fps == 10.0
    order = [0, 1, 2, 10, 11, 20]
    for k, i in enumerate(order):
        frame = src.read(k)
        assert frame.shape == (H, W, 3) and frame.dtype == np.uint8 and frame.flags.c_contiguous
        np.testing.assert_array_equal(frame, pattern(i))
    np.testing.assert_allclose(src.timestamps(), np.arange(6) / 10)
    assert src.frame_uris() == [str((png_folder / f"frame_{i}.png").resolve()) for i in order]
    assert src.uri == str(png_folder.resolve())


def test_glob_and_list_sources(png_folder: Path) -> None:
    src = open_source(str(png_folder / "frame_*.png"))
    assert [Path(str(u)).name for u in src.frame_uris()] == [f"frame_{i}.png" for i in (0, 1, 2, 10, 11, 20)]
    assert np.isnan(src.timestamps()).all() and src.fps is None
    # an explicit list keeps its order
    paths = [png_folder / "frame_20.png", png_folder / "frame_0.png"]
    lst = open_source(paths)
    np.testing.assert_array_equal(lst.read(0), pattern(20))
    np.testing.assert_array_equal(lst.read(1), pattern(0))


def test_jpeg_folder_reads_close_pixels(tmp_path: Path) -> None:
    for i in range(3):
        save(tmp_path / f"{i}.jpg", smooth(i), quality=95)
    src = open_source(tmp_path)
    for i in range(3):
        assert np.abs(src.read(i).astype(int) - smooth(i)).max() <= 4


def test_read_is_cached_and_read_only(png_folder: Path) -> None:
    cache = FrameCache(10 * 2**20)
    src = open_source(png_folder, cache=cache)
    a = src.read(3)
    assert src.read(3) is a and len(cache) == 1 and cache.nbytes == a.nbytes
    with pytest.raises(ValueError):
        a[0, 0, 0] = 1
    # two sources share the cache without colliding
    other = open_source(str(png_folder / "frame_2?.png"), cache=cache)
    np.testing.assert_array_equal(other.read(0), pattern(20))
    np.testing.assert_array_equal(src.read(0), pattern(0))


def test_jpeg_passthrough_returns_file_bytes(tmp_path: Path) -> None:
    paths = [save(tmp_path / f"{i}.jpg", smooth(i), quality=80) for i in range(3)]
    src = open_source(tmp_path)
    for i, p in enumerate(paths):
        data, mime = src.encoded(i)
        assert mime == "image/jpeg" and data == p.read_bytes()
    # trailing zero padding is still a complete JPEG, passed through
    padded = tmp_path / "pad" / "0.jpg"
    padded.parent.mkdir()
    padded.write_bytes(paths[0].read_bytes() + b"\x00" * 16)
    assert open_source(padded).encoded(0)[0] == padded.read_bytes()


def test_jpeg_with_trailer_is_reencoded(tmp_path: Path) -> None:
    p = tmp_path / "t.jpg"
    p.write_bytes(encode_jpeg(smooth(2)) + b"TRAILER-METADATA")  # e.g. camera data after EOI
    data, mime = open_source(p).encoded(0)
    assert mime == "image/jpeg" and data != p.read_bytes() and data.endswith(b"\xff\xd9")
    assert np.abs(decode_image(data).astype(int) - smooth(2)).max() <= 4


def test_png_is_encoded_to_jpeg(png_folder: Path) -> None:
    src = open_source(png_folder)
    data, mime = src.encoded(2)
    assert mime == "image/jpeg" and data[:2] == b"\xff\xd8"
    img = decode_image(data).astype(int)
    assert img.shape == (H, W, 3) and np.abs(img - pattern(2)).mean() < 6


def _truncated_jpeg(tmp_path: Path) -> Path:
    noise = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    good = save(tmp_path / "0.jpg", noise, quality=95).read_bytes()  # noise: mostly scan data
    assert good.index(b"\xff\xda") < len(good) // 2  # the cut lands in the pixel data, not the header
    bad = tmp_path / "1.jpg"
    bad.write_bytes(good[: len(good) // 2])
    return bad


def _truncated_png(tmp_path: Path) -> Path:
    good = save(tmp_path / "0.png", pattern(1)).read_bytes()
    bad = tmp_path / "1.png"
    bad.write_bytes(good[: len(good) // 2])
    return bad


def _corrupt_png(tmp_path: Path) -> Path:
    """Valid header and chunk layout, garbage in the compressed pixel data."""
    good = bytearray(save(tmp_path / "0.png", pattern(1)).read_bytes())
    start = good.index(b"IDAT") + 4
    good[start + 2 : start + 40] = bytes(range(200, 238))
    bad = tmp_path / "1.png"
    bad.write_bytes(bytes(good))
    return bad


@pytest.mark.parametrize(
    ("make_bad", "lenient_pillow"),
    [
        (_truncated_jpeg, False),
        (_truncated_png, False),
        (_corrupt_png, False),
        # Another library turning on LOAD_TRUNCATED_IMAGES must not let truncated files pass silently.
        (_truncated_jpeg, True),
        (_truncated_png, True),
    ],
)
def test_corrupt_image_raises_naming_file(
    tmp_path: Path,
    make_bad: Callable[[Path], Path],
    lenient_pillow: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", lenient_pillow)
    bad = make_bad(tmp_path)
    src = open_source(tmp_path)  # the header is intact, so opening works
    assert len(src) == 2
    src.read(0)
    with pytest.raises(ValidationError, match=bad.name):
        src.read(1)
    with pytest.raises(ValidationError, match=bad.name):
        src.encoded(1)


def test_different_size_or_non_image_fails_at_open(tmp_path: Path) -> None:
    for i in range(3):
        save(tmp_path / f"{i}.png", pattern(i))
    save(tmp_path / "3.png", pattern(3, w=W + 2))
    with pytest.raises(ValidationError, match=r"3\.png"):
        open_source(tmp_path)
    (tmp_path / "3.png").write_bytes(b"definitely not an image")
    with pytest.raises(ValidationError, match=r"3\.png"):
        open_source(tmp_path)


def test_missing_inputs_raise(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="nothing_here"):
        open_source(str(tmp_path / "nothing_here_*.jpg"))
    with pytest.raises(ValidationError, match=r"missing\.mp4"):
        open_source(tmp_path / "missing.mp4")
    with pytest.raises(ValidationError, match="no image files"):
        open_source(tmp_path)
    with pytest.raises(ValidationError):
        open_source([])
    with pytest.raises(ValidationError):
        open_source(42)


# --- video -------------------------------------------------------------------------------------


def write_video(path: Path, n: int = 40, fps: int = 24, codec: str = "libx264", gop: int = 10) -> Path:
    """Frame i is solid gray 5*i, so its index survives lossy compression."""
    import av

    # B-frames make decode order differ from presentation order; no scene-cut keyframes, so seeks
    # really land gop frames apart; enough bitrate that a 5-level step is never skipped.
    options = {"bf": "2", "sc_threshold": "1000000000"} if codec == "mpeg4" else {}
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.gop_size = gop
        stream.bit_rate = 4_000_000
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 5 * i, np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def frame_number(frame: np.ndarray) -> int:
    return round(float(frame.mean()) / 5)


@pytest.fixture(scope="module", params=[("mp4", "libx264"), ("mkv", "libx264"), ("avi", "mpeg4")])
def video(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ext, codec = request.param
    return write_video(tmp_path_factory.mktemp("video") / f"clip.{ext}", codec=codec)


def test_video_metadata(video: Path) -> None:
    src = open_source(video)
    assert isinstance(src, VideoSource) and src.kind == "video"
    assert len(src) == 40 and src.size == (64, 48) and src.fps == pytest.approx(24)
    ts = src.timestamps()
    assert ts.dtype == np.float64 and np.all(np.diff(ts) > 0)
    # Matroska stores milliseconds; MP4 and AVI hold the exact rate
    np.testing.assert_allclose(ts, np.arange(40) / 24, atol=1e-3 if video.suffix == ".mkv" else 1e-9)
    assert src.uri == str(video.resolve())
    assert src.frame_uris()[7] == f"{video.resolve()}#frame=7"


def test_video_random_access_is_frame_exact(video: Path) -> None:
    src = VideoSource(video, cache=FrameCache(0))  # nothing cached: every read decodes
    assert 3 <= len(src._key_idx) <= 5  # real GOPs: most reads need a seek and a decode forward
    order = list(range(40)) * 2
    random.Random(0).shuffle(order)
    for i in order:
        frame = src.read(i)
        assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8
        assert frame_number(frame) == i, f"read({i}) returned frame {frame_number(frame)}"


def test_video_sequential_reads_do_not_seek(video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = VideoSource(video, cache=FrameCache(0))
    seeks: list[int] = []
    real_seek = src._seek

    def counting_seek(index: int) -> None:
        seeks.append(index)
        real_seek(index)

    monkeypatch.setattr(src, "_seek", counting_seek)
    assert [frame_number(src.read(i)) for i in range(40)] == list(range(40))
    assert seeks == [0]
    src.read(5)  # behind the decoder: must seek back
    src.read(7)  # a little ahead: decodes on
    assert seeks == [0, 0] and frame_number(src.read(8)) == 8


def test_video_caches_frames_decoded_on_the_way(video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = FrameCache(2**20)
    src = VideoSource(video, cache=cache)
    assert frame_number(src.read(15)) == 15
    assert len(cache) > 1  # from the keyframe before 15 up to 15
    monkeypatch.setattr(src, "_decode", lambda i: pytest.fail(f"frame {i} was decoded again"))
    assert frame_number(src.read(14)) == 14 and frame_number(src.read(15)) == 15


def test_video_threads_share_one_decoder(video: Path) -> None:
    src = VideoSource(video, cache=FrameCache(0))
    errors: list[str] = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(25):
            i = rng.randrange(40)
            got = frame_number(src.read(i))
            if got != i:
                errors.append(f"{i}->{got}")

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_video_out_of_range_and_close(video: Path) -> None:
    src = VideoSource(video)
    for bad in (-1, 40):
        with pytest.raises(ValidationError, match=f"{bad}.*40"):
            src.read(bad)
    src.close()
    with pytest.raises(ValidationError, match="closed"):
        src.read(0)


def test_non_video_file_raises(tmp_path: Path) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"this is not a video at all" * 100)
    with pytest.raises(ValidationError, match=r"fake\.mp4"):
        open_source(fake)


def test_video_without_video_stream_raises(tmp_path: Path) -> None:
    import av

    path = tmp_path / "audio.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with pytest.raises(ValidationError, match="no video stream"):
        open_source(path)


# --- arrays and encoded bytes ------------------------------------------------------------------


def test_array_source_forms() -> None:
    arr = np.stack([pattern(i) for i in range(5)])
    src = open_source(arr, fps=5)
    assert isinstance(src, ArraySource) and src.kind == "array" and src.uri is None
    assert len(src) == 5 and src.size == (W, H) and src.frame_uris() == [None] * 5
    frame = src.read(3)
    assert np.shares_memory(frame, arr) and not frame.flags.writeable
    assert arr.flags.writeable  # the caller's array is left as it was
    np.testing.assert_array_equal(frame, pattern(3))
    np.testing.assert_allclose(src.timestamps(), np.arange(5) / 5)
    lst = open_source([pattern(i) for i in range(3)])
    np.testing.assert_array_equal(lst.read(2), pattern(2))
    data, mime = lst.encoded(1)
    assert mime == "image/jpeg" and np.abs(decode_image(data).astype(int) - pattern(1)).mean() < 6


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        (np.zeros((2, H, W, 3), np.float32), "float32"),
        (np.zeros((H, W, 3), np.uint8), r"\(T, H, W, 3\)"),
        (np.zeros((2, H, W), np.uint8), r"\(T, H, W, 3\)"),
        (np.zeros((2, H, W, 4), np.uint8), r"\(T, H, W, 3\)"),
        ([pattern(0), pattern(1), pattern(2), pattern(3, w=W + 1)], r"frames\[3\] has shape"),
        ([pattern(0), pattern(1).astype(np.int16)], r"frames\[1\] has dtype int16"),
        ([pattern(0), np.zeros((H, W), np.uint8)], r"frames\[1\] has shape"),
        (np.zeros((0, H, W, 3), np.uint8), "empty"),
    ],
)
def test_array_source_validation(frames: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ArraySource(frames)  # type: ignore[arg-type]


def test_index_validation() -> None:
    src = ArraySource(np.zeros((3, 4, 4, 3), np.uint8))
    for bad in (-1, 3, 100):
        with pytest.raises(ValidationError, match=rf"{bad}.*3 frames"):
            src.read(bad)
    with pytest.raises(ValidationError, match="integer"):
        src.read(1.5)  # type: ignore[arg-type]
    assert src.read(np.int64(2)).shape == (4, 4, 3)


def test_encoded_source() -> None:
    jpeg = encode_jpeg(smooth(1))
    buf = io.BytesIO()
    Image.fromarray(pattern(2)).save(buf, format="PNG")
    png = buf.getvalue()
    src = open_source([jpeg, png])
    assert (
        isinstance(src, EncodedSource) and src.kind == "encoded" and src.mimes == ["image/jpeg", "image/png"]
    )
    assert src.encoded(0) == (jpeg, "image/jpeg")
    np.testing.assert_array_equal(src.read(1), pattern(2))
    assert src.encoded(1)[0] != png and src.encoded(1)[1] == "image/jpeg"
    with pytest.raises(ValidationError, match=r"frames\[1\]"):
        EncodedSource([jpeg, png], ["image/jpeg", "image/jpeg"])
    with pytest.raises(ValidationError, match=r"frames\[1\]"):
        EncodedSource([jpeg, jpeg[: len(jpeg) // 2]]).read(1)


def test_decode_and_encode_helpers() -> None:
    with pytest.raises(ValidationError, match="blob"):
        decode_image(b"\x00\x01garbage", name="blob")
    with pytest.raises(ValidationError):
        encode_jpeg(np.zeros((4, 4), np.uint8))
    rgb = smooth(3)
    assert np.abs(decode_image(encode_jpeg(rgb, quality=95)).astype(int) - rgb).max() <= 4


# --- cache -------------------------------------------------------------------------------------


def block(n: int, value: int = 0) -> np.ndarray:
    return np.full(n, value, np.uint8)


def test_cache_byte_bound_and_lru_order() -> None:
    cache = FrameCache(max_bytes=350)
    for k in "abc":
        cache.put(k, block(100))
    assert len(cache) == 3 and cache.nbytes == 300
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("d", block(100))
    assert cache.get("b") is None and cache.get("a") is not None and cache.nbytes == 300
    assert cache.get("a") is not None  # order, least recent first: c, d, a
    cache.put("e", block(250))  # evicts c then d, and stops as soon as it fits
    assert [k for k in "abcde" if cache.get(k) is not None] == ["a", "e"] and cache.nbytes == 350
    cache.put("e", block(50))  # replacing a key updates the byte count
    assert cache.nbytes == 150 and len(cache) == 2
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0


def test_cache_oversize_item_not_stored() -> None:
    cache = FrameCache(max_bytes=100)
    cache.put("small", block(60))
    cache.put("big", block(101))
    assert cache.get("big") is None and cache.get("small") is not None and cache.nbytes == 60
    cache.put("small", block(200))  # an oversize replacement drops the stale value
    assert cache.get("small") is None and cache.nbytes == 0


def test_cache_thread_safety_smoke() -> None:
    cache = FrameCache(max_bytes=5_000)
    errors: list[str] = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(2_000):
            k = rng.randrange(100)
            if rng.random() < 0.5:
                cache.put(k, block(rng.randrange(1, 300), k))
            else:
                got = cache.get(k)
                if got is not None and got[0] != k:
                    errors.append(f"key {k} returned value {got[0]}")

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stored = [v for v in (cache.get(k) for k in range(100)) if v is not None]
    assert cache.nbytes == sum(v.nbytes for v in stored) <= 5_000
