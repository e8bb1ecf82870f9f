"""Answering the browser's ``frames`` requests: encoded frame bytes and mask RLE, no pixel work.

This is the hot path of scrubbing and playback. JPEG files pass through as their bytes;
frames that must be encoded (arrays, video, PNG) are encoded once and kept in a small
byte-bounded LRU. Masks go out as the compressed RLE counts the dataset stores.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from ..frames import ImageFilesSource

if TYPE_CHECKING:
    from ..dataset import Dataset
    from ..versions import Snapshot


class EncodedFrames:
    """Display bytes of frames, keyed by (sequence, frame); thread-safe, bounded in bytes."""

    def __init__(self, ds: Dataset, max_bytes: int = 64 * 2**20) -> None:
        self._ds = ds
        self._max = max_bytes
        self._items: OrderedDict[tuple[str, int], tuple[bytes, str]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, seq: str, frame: int) -> tuple[bytes, str]:
        source = self._ds.frame_source(seq)
        if isinstance(source, ImageFilesSource):
            return source.encoded(frame)  # a file read; JPEG passes through untouched
        key = (seq, frame)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        value = self._ds.frame_bytes(seq, frame)
        with self._lock:
            if key not in self._items:
                self._items[key] = value
                self._bytes += len(value[0])
            while self._bytes > self._max and len(self._items) > 1:
                _, (data, _mime) = self._items.popitem(last=False)
                self._bytes -= len(data)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


def frames_reply(
    ds: Dataset, encoded: EncodedFrames, seq: str, start: int, stop: int, *, images: bool, masks: bool
) -> tuple[list[dict[str, Any]], list[bytes]]:
    """The ``items`` of a frames reply and its buffers (frame bytes and RLE counts, referenced by index)."""
    snap = ds.snapshot()  # one version for the whole reply, even while a propagation writes
    store = snap["masks"]
    info = snap["sequences"].values((seq,), ("height", "width"))
    assert info is not None
    height, width = info
    buffers: list[bytes] = []
    items: list[dict[str, Any]] = []
    for f in range(start, stop):
        item: dict[str, Any] = {"frame": f, "image": None, "mime": None, "masks": []}
        if images:
            data, mime = encoded.get(seq, f)
            item["image"], item["mime"] = len(buffers), mime
            buffers.append(data)
        if masks:
            out = item["masks"]
            keys = sorted(store.lookup("by_frame", (seq, f)))
            for key, row in zip(keys, store.values_many(keys, _MASK_COLUMNS)):
                if row is None:  # (one version: cannot happen, kept for safety)
                    continue
                counts, source, score, keyframe = row
                out.append(
                    {
                        "entity": key[2],
                        "height": height,
                        "width": width,
                        "counts": len(buffers),
                        "source": source,
                        "score": _finite(score),
                        "keyframe": bool(keyframe),
                    }
                )
                buffers.append(counts)
            item["boxes"] = _boxes(snap, seq, f)
        items.append(item)
    return items, buffers


_MASK_COLUMNS = ("counts", "source", "score", "keyframe")
_BOX_COLUMNS = ("x", "y", "w", "h", "source", "keyframe")


def _boxes(snap: Snapshot, seq: str, frame: int) -> list[dict[str, Any]]:
    store = snap["boxes"]
    out = []
    keys = sorted(store.lookup("by_frame", (seq, frame)))
    for key, row in zip(keys, store.values_many(keys, _BOX_COLUMNS)):
        if row is None:
            continue
        x, y, w, h, source, keyframe = row
        out.append(
            {"entity": key[2], "x": x, "y": y, "w": w, "h": h, "source": source, "keyframe": bool(keyframe)}
        )
    return out


def _finite(value: Any) -> float | None:
    # The kernel's JSON refuses NaN; an unknown score goes out as null.
    return float(value) if value is not None and math.isfinite(value) else None
