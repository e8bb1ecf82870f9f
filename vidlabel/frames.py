"""Frame sources: image files, video files, arrays and encoded bytes, behind one small interface.

A source knows its length and gives frame ``i`` as an ``HxWx3 uint8`` RGB array (``read``) and as
bytes ready for the browser (``encoded``). Complete JPEG files go to the browser as their own bytes;
everything else is encoded to JPEG from the decoded frame. Decoded frames live in a byte-bounded LRU
that all the sources of a dataset can share.
"""

from __future__ import annotations

import abc
import glob
import io
import itertools
import operator
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from vidlabel.errors import ValidationError
from vidlabel.images import JPEG_MIME, decode_image, encode_jpeg, jpeg_is_complete, sniff_mime
from vidlabel.naming import natural_key

Frame = npt.NDArray[np.uint8]
PathLike = str | os.PathLike[str]

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
DEFAULT_CACHE_BYTES = 256 * 2**20

_GLOB_CHARS = re.compile(r"[*?\[]")
# Seeking costs about this many decoded frames; below that, decoding on from where we are is cheaper.
_SEEK_COST_FRAMES = 4
# Frames decoded on the way to a target are cached only this close to it (about a second of video).
_KEEP_BEHIND = 30
_source_ids = itertools.count()  # cache keys use these, not id(), which is reused after garbage collection


class FrameCache:
    """Thread-safe LRU of decoded frames, bounded by their total ``nbytes`` rather than their count."""

    def __init__(self, max_bytes: int = 512 * 2**20) -> None:
        if max_bytes < 0:
            raise ValidationError(f"FrameCache max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[Hashable, Frame] = OrderedDict()
        self._nbytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Frame | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Frame) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._nbytes -= old.nbytes
            if value.nbytes > self.max_bytes:  # storing it would evict everything and still not fit
                return
            self._items[key] = value
            self._nbytes += value.nbytes
            while self._nbytes > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._nbytes -= evicted.nbytes

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._nbytes = 0

    def __repr__(self) -> str:
        return f"FrameCache({len(self)} frames, {self._nbytes} / {self.max_bytes} bytes)"


class FrameSource(abc.ABC):
    """Frames ``0 .. len-1`` of one sequence; subclasses implement ``__len__`` and ``_decode``."""

    kind: str = ""

    def __init__(
        self, *, uri: str | None, size: tuple[int, int], fps: float | None, cache: FrameCache | None
    ) -> None:
        self.uri = uri
        self.size = size  # (width, height)
        self.fps = _check_fps(fps)
        self._owns_cache = cache is None
        self._cache = FrameCache(DEFAULT_CACHE_BYTES) if cache is None else cache
        self._id = next(_source_ids)
        self._closed = False

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def _decode(self, i: int) -> Frame:
        """Frame ``i`` (already range-checked) as HxWx3 uint8 RGB, bypassing the cache."""

    def timestamps(self) -> npt.NDArray[np.float64]:
        if self.fps is None:
            return np.full(len(self), np.nan)
        return np.arange(len(self), dtype=np.float64) / self.fps

    def frame_uris(self) -> list[str | None]:
        return [None] * len(self)

    def read(self, i: int, *, cache: bool = True) -> Frame:
        """Frame ``i``; ``cache=False`` uses a cached copy but does not add one (a single pass over
        a long video, say, which would otherwise push out the frames being looked at)."""
        idx = self._check_index(i)
        frame = self._cache.get(self._key(idx))
        if frame is not None:
            return frame
        return self._store(idx, self._decode(idx)) if cache else _freeze(self._decode(idx))

    def encoded(self, i: int) -> tuple[bytes, str]:
        return encode_jpeg(self.read(i)), JPEG_MIME

    def close(self) -> None:
        self._closed = True
        if self._owns_cache:
            self._cache.clear()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        w, h = self.size
        return f"{type(self).__name__}({len(self)} frames, {w}x{h}, uri={self.uri!r})"

    def _key(self, i: int) -> tuple[str, int, int]:
        return ("frame", self._id, i)

    def _store(self, i: int, frame: Frame) -> Frame:
        frame = _freeze(frame)
        self._cache.put(self._key(i), frame)
        return frame

    def _check_index(self, i: int) -> int:
        if self._closed:
            raise ValidationError(f"{self!r} is closed")
        try:
            idx = operator.index(i)
        except TypeError:
            raise ValidationError(f"frame index must be an integer, got {i!r}") from None
        n = len(self)
        if not 0 <= idx < n:
            raise ValidationError(f"frame index {idx} is out of range for {n} frames (valid: 0..{n - 1})")
        return idx


class ImageBytesSource(FrameSource):
    """A source whose frames are encoded images: complete JPEGs pass through, the rest is re-encoded."""

    @abc.abstractmethod
    def _bytes(self, i: int) -> bytes: ...

    @abc.abstractmethod
    def _name(self, i: int) -> str: ...

    def _decode(self, i: int) -> Frame:
        return self._decode_bytes(i, self._bytes(i))

    def file_bytes(self, i: int) -> bytes:
        """Frame ``i`` as the encoded image it is stored as (a file's bytes, as they are)."""
        return self._bytes(self._check_index(i))

    def _decode_bytes(self, i: int, data: bytes) -> Frame:
        frame = decode_image(data, name=self._name(i))
        h, w = frame.shape[:2]
        if (w, h) != self.size:  # the header was checked at open, but a file can change afterwards
            raise ValidationError(f"{self._name(i)} is {w}x{h}, expected {self.size[0]}x{self.size[1]}")
        return frame

    def encoded(self, i: int) -> tuple[bytes, str]:
        idx = self._check_index(i)
        data = self._bytes(idx)
        if jpeg_is_complete(data):
            return data, JPEG_MIME
        frame = self._cache.get(self._key(idx))
        if frame is None:
            frame = self._store(idx, self._decode_bytes(idx, data))
        return encode_jpeg(frame), JPEG_MIME


class ImageFilesSource(ImageBytesSource):
    """Image files in the given order; all must have the same size (checked from headers at open)."""

    kind = "images"

    def __init__(
        self,
        paths: Sequence[PathLike],
        *,
        fps: float | None = None,
        cache: FrameCache | None = None,
        uri: str | None = None,
    ) -> None:
        self.paths = [os.path.abspath(os.fspath(p)) for p in paths]
        if not self.paths:
            raise ValidationError("no image files given")
        size = _common_size([(p, p) for p in self.paths])
        super().__init__(uri=uri, size=size, fps=fps, cache=cache)

    def __len__(self) -> int:
        return len(self.paths)

    def frame_uris(self) -> list[str | None]:
        return list(self.paths)

    def _bytes(self, i: int) -> bytes:
        try:
            with open(self.paths[i], "rb", buffering=0) as fh:  # unbuffered: one read into one bytes object
                return fh.readall()
        except OSError as e:
            raise ValidationError(f"cannot read {self.paths[i]}: {e}") from e

    def _name(self, i: int) -> str:
        return self.paths[i]


class EncodedSource(ImageBytesSource):
    """Encoded images held in memory (e.g. frames embedded in a parquet export); JPEGs pass through."""

    kind = "encoded"

    def __init__(
        self,
        data: Sequence[bytes],
        mimes: Sequence[str] | None = None,
        *,
        fps: float | None = None,
        cache: FrameCache | None = None,
    ) -> None:
        self._data: list[bytes] = []
        for k, d in enumerate(data):
            if not isinstance(d, (bytes, bytearray, memoryview)):
                raise ValidationError(f"frames[{k}] is a {type(d).__name__}, expected encoded image bytes")
            self._data.append(d if isinstance(d, bytes) else bytes(d))
        if not self._data:
            raise ValidationError("no encoded frames given")
        sniffed = [sniff_mime(d) for d in self._data]
        if mimes is None:
            mimes = [m or "application/octet-stream" for m in sniffed]
        elif len(mimes) != len(self._data):
            raise ValidationError(f"{len(mimes)} mimes given for {len(self._data)} frames")
        for k, (mime, seen) in enumerate(zip(mimes, sniffed, strict=True)):
            if seen is not None and mime != seen:
                raise ValidationError(f"frames[{k}] is declared {mime!r} but its bytes are {seen}")
        self.mimes = list(mimes)
        size = _common_size([(io.BytesIO(d), f"frames[{k}]") for k, d in enumerate(self._data)])
        super().__init__(uri=None, size=size, fps=fps, cache=cache)

    def __len__(self) -> int:
        return len(self._data)

    def _bytes(self, i: int) -> bytes:
        return self._data[i]

    def _name(self, i: int) -> str:
        return f"frames[{i}]"


class ArraySource(FrameSource):
    """Frames already in memory: a ``T,H,W,3`` uint8 array (kept, not copied) or a list of ``H,W,3``."""

    kind = "array"

    def __init__(
        self,
        frames: Frame | Sequence[Frame],
        *,
        fps: float | None = None,
        cache: FrameCache | None = None,
    ) -> None:
        self._frames: Frame | list[Frame]
        if isinstance(frames, np.ndarray):
            if frames.dtype != np.uint8:
                raise ValidationError(f"frames has dtype {frames.dtype}, expected uint8")
            if frames.ndim != 4 or frames.shape[3] != 3:
                raise ValidationError(f"frames has shape {frames.shape}, expected (T, H, W, 3)")
            self._frames, shape = frames, frames.shape[1:]
        else:
            items = list(frames)
            if not items:
                raise ValidationError("no frames given")
            for k, f in enumerate(items):
                if not isinstance(f, np.ndarray):
                    raise ValidationError(f"frames[{k}] is a {type(f).__name__}, expected a numpy array")
                if f.dtype != np.uint8:
                    raise ValidationError(f"frames[{k}] has dtype {f.dtype}, expected uint8")
                if f.ndim != 3 or f.shape[2] != 3:
                    raise ValidationError(f"frames[{k}] has shape {f.shape}, expected (H, W, 3)")
                if f.shape != items[0].shape:
                    raise ValidationError(f"frames[{k}] has shape {f.shape}, expected {items[0].shape}")
            self._frames, shape = items, items[0].shape
        if len(self._frames) == 0 or shape[0] == 0 or shape[1] == 0:
            raise ValidationError(f"frames are empty: {len(self._frames)} frames of shape {shape}")
        super().__init__(uri=None, size=(int(shape[1]), int(shape[0])), fps=fps, cache=cache)

    def __len__(self) -> int:
        return len(self._frames)

    def _decode(self, i: int) -> Frame:
        return self._frames[i]

    def read(self, i: int, *, cache: bool = True) -> Frame:
        # Already in memory: caching would only hold a second reference and count its bytes twice.
        return _freeze(self._frames[self._check_index(i)])


class VideoSource(FrameSource):
    """A video file through PyAV, with frame-exact random access.

    At open the stream is demuxed (not decoded) to list every frame's pts; frame ``i`` is the ``i``-th
    pts in presentation order. Reads seek to the keyframe at or before the target and decode forward
    to the exact pts; reads a little ahead of the decoder just decode on. ``fps`` is the container's
    rate; the ``fps`` argument is used only when the container has none.
    """

    kind = "video"

    def __init__(self, path: PathLike, *, fps: float | None = None, cache: FrameCache | None = None) -> None:
        import av  # keeps `import vidlabel` light; only video sources need FFmpeg

        self.path = os.path.abspath(os.fspath(path))
        self._av_error: type[Exception] = av.FFmpegError
        try:
            container = av.open(self.path)
        except (av.FFmpegError, OSError) as e:
            raise ValidationError(f"cannot open {self.path} as a video: {e}") from e
        try:
            streams = [
                s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic
            ]
            if not streams:
                raise ValidationError(f"{self.path} has no video stream")
            stream = streams[0]
            pts: list[int] = []
            keyframes: list[int] = []
            for packet in container.demux(stream):
                if packet.pts is not None:
                    pts.append(packet.pts)
                    if packet.is_keyframe:
                        keyframes.append(packet.pts)
            width, height = stream.codec_context.width, stream.codec_context.height
        except av.FFmpegError as e:
            container.close()
            raise ValidationError(f"cannot read the video stream of {self.path}: {e}") from e
        except BaseException:
            container.close()
            raise
        if not pts or not width or not height:
            container.close()
            raise ValidationError(f"{self.path} has no decodable video frames")
        self._pts = np.sort(np.asarray(pts, dtype=np.int64))
        self._index_of = {int(p): i for i, p in enumerate(self._pts)}
        # Keyframes as frame indices; if the demuxer flags none, only a seek to the start is safe.
        self._key_idx = np.unique([self._index_of[k] for k in keyframes] or [0])
        tb = stream.time_base
        num, den = (tb.numerator, tb.denominator) if tb is not None else (1, 1)
        self._timestamps = (self._pts - self._pts[0]).astype(np.float64) * num / den
        rate = stream.average_rate or stream.guessed_rate
        stream.codec_context.thread_type = "AUTO"  # frame threads: faster runs of decoding after a seek
        self._container: Any = container
        self._stream: Any = stream
        self._lock = threading.Lock()
        self._frames_iter: Iterator[Any] | None = None  # decoder output after the last seek
        self._pos = -1  # index of the last frame the decoder gave; -1 when unknown
        super().__init__(uri=self.path, size=(width, height), fps=float(rate) if rate else fps, cache=cache)

    def __len__(self) -> int:
        return len(self._pts)

    def timestamps(self) -> npt.NDArray[np.float64]:
        return self._timestamps.copy()

    def frame_uris(self) -> list[str | None]:
        return [f"{self.path}#frame={i}" for i in range(len(self))]

    def close(self) -> None:
        with self._lock:
            if self._container is not None:
                self._container.close()
            self._container, self._frames_iter = None, None
        super().close()

    def _decode(self, i: int) -> Frame:
        with self._lock:
            hit = self._cache.get(self._key(i))  # another thread may have decoded it while we waited
            if hit is not None:
                return hit
            if self._container is None:
                raise ValidationError(f"{self!r} is closed")
            k = int(np.searchsorted(self._key_idx, i, side="right")) - 1
            if (
                self._frames_iter is not None
                and k >= 0
                and self._key_idx[k] - _SEEK_COST_FRAMES <= self._pos < i
            ):
                frame = self._decode_forward(i)
                if frame is not None:
                    return frame
            # Seek to the keyframe at or before i; if the demuxer lands past i (or the frame never comes
            # out), retry from an earlier keyframe, and finally from the start of the stream.
            starts = [int(self._key_idx[j]) for j in (k, k - 1) if j >= 0] + [0]
            for start in dict.fromkeys(starts):  # deduplicated, in order
                self._seek(start)
                frame = self._decode_forward(i)
                if frame is not None:
                    return frame
            raise ValidationError(
                f"{self.path}: frame {i} (pts {self._pts[i]}) could not be decoded; "
                "the file may be corrupt or truncated"
            )

    def _seek(self, index: int) -> None:
        self._container.seek(int(self._pts[index]), stream=self._stream, backward=True, any_frame=False)
        self._frames_iter = self._container.decode(self._stream)
        self._pos = -1

    def _decode_forward(self, i: int) -> Frame | None:
        """Decode on until frame ``i``; None if the decoder passes it or ends first."""
        assert self._frames_iter is not None
        try:
            for frame in self._frames_iter:
                j = self._index_of.get(frame.pts) if frame.pts is not None else None
                if j is None:
                    continue
                if j > i:
                    self._pos = j
                    return None
                self._pos = j
                if i - j > _KEEP_BEHIND:  # too far back to be wanted soon: skip the RGB conversion
                    continue
                rgb = np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
                if rgb.shape != (self.size[1], self.size[0], 3):
                    raise ValidationError(
                        f"{self.path}: frame {j} is {rgb.shape[1]}x{rgb.shape[0]}, "
                        f"expected {self.size[0]}x{self.size[1]} (resolution changes are not supported)"
                    )
                if j == i:
                    return rgb
                self._store(j, rgb)  # frames just before the target are likely wanted soon (stepping back)
        except self._av_error as e:
            self._frames_iter, self._pos = None, -1
            raise ValidationError(f"{self.path}: cannot decode frame {i}: {e}") from e
        self._frames_iter, self._pos = None, -1
        return None


def open_source(frames: Any, *, fps: float | None = None, cache: FrameCache | None = None) -> FrameSource:
    """Open a video path, image folder, glob, list of paths, array(s) or encoded bytes as a source."""
    if isinstance(frames, FrameSource):
        return frames
    if isinstance(frames, np.ndarray):
        return ArraySource(frames, fps=fps, cache=cache)
    if isinstance(frames, (str, os.PathLike)):
        return _open_path(os.fsdecode(frames), fps=fps, cache=cache)
    if isinstance(frames, (list, tuple)):
        if not frames:
            raise ValidationError("frames is an empty list")
        if all(isinstance(f, (str, os.PathLike)) for f in frames):
            return ImageFilesSource([os.fsdecode(f) for f in frames], fps=fps, cache=cache)
        if all(isinstance(f, np.ndarray) for f in frames):
            return ArraySource(frames, fps=fps, cache=cache)
        if all(isinstance(f, (bytes, bytearray, memoryview)) for f in frames):
            return EncodedSource(frames, fps=fps, cache=cache)
        raise ValidationError("a list of frames must hold only paths, only numpy arrays or only bytes")
    raise ValidationError(f"cannot open frames from a {type(frames).__name__}")


def _open_path(spec: str, *, fps: float | None, cache: FrameCache | None) -> FrameSource:
    path = Path(spec)
    uri = os.path.abspath(spec)
    suffix = path.suffix.lower()
    if path.is_file():  # an existing name wins over glob characters it may contain
        if suffix in VIDEO_SUFFIXES:
            return VideoSource(path, fps=fps, cache=cache)
        if suffix in IMAGE_SUFFIXES:
            return ImageFilesSource([path], fps=fps, cache=cache, uri=uri)
        raise ValidationError(f"{spec} is neither a video ({', '.join(sorted(VIDEO_SUFFIXES))}) nor an image")
    if path.is_dir():
        files = [str(p) for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
        if not files:
            exts = ", ".join(sorted(IMAGE_SUFFIXES))
            raise ValidationError(f"no image files ({exts}) in folder {spec}")
        return ImageFilesSource(sorted(files, key=natural_key), fps=fps, cache=cache, uri=uri)
    if _GLOB_CHARS.search(spec):
        files = [p for p in glob.glob(spec, recursive=True) if os.path.isfile(p)]
        if not files:
            raise ValidationError(f"no files match the pattern {spec!r}")
        return ImageFilesSource(sorted(files, key=natural_key), fps=fps, cache=cache, uri=uri)
    raise ValidationError(f"no such file or folder: {spec}")


def _common_size(images: Sequence[tuple[str | IO[bytes], str]]) -> tuple[int, int]:
    """The (width, height) all images share, from their headers only (Image.open decodes no pixels)."""
    first: tuple[int, int] | None = None
    for source, name in images:
        try:
            with Image.open(source) as im:
                size = (int(im.size[0]), int(im.size[1]))
        except FileNotFoundError:
            raise ValidationError(f"image file not found: {name}") from None
        except Exception as e:
            raise ValidationError(f"{name} is not a readable image: {e}") from e
        if first is None:
            first = size
        elif size != first:
            raise ValidationError(
                f"{name} is {size[0]}x{size[1]} but {images[0][1]} is {first[0]}x{first[1]}: "
                "all frames of a sequence must have the same size"
            )
    if first is None:
        raise ValidationError("no images given")
    return first


def _freeze(frame: Frame) -> Frame:
    """A C-contiguous read-only view, so no caller can alter a cached (or caller-owned) frame."""
    view = np.ascontiguousarray(frame).view()
    view.flags.writeable = False
    return view


def _check_fps(fps: float | None) -> float | None:
    if fps is None:
        return None
    if (
        isinstance(fps, (int, float, np.number))
        and not isinstance(fps, bool)
        and np.isfinite(fps)
        and fps > 0
    ):
        return float(fps)
    raise ValidationError(f"fps must be a positive number, got {fps!r}")
