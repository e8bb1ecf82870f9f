"""Per-sequence cache of what the signals are computed from, so that re-reviewing after an edit costs
what the edit touched.

Kept per frame (every entity's ``FrameStats`` there) and per pair of frames (every entity's
``PairStats``): an edit on frame f invalidates f's entry and the pairs holding f, through the
dataset's observer (``Change.frames``); an edit of the pixels or the sequence drops the sequence.
Each entry also remembers the masks (their RLE counts) it was computed from and is used only
while they are still what the version being reviewed holds, so a review that reads an older
version than an edit running beside it can neither use nor leave a stale value.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING, Any

from ..core import Change

if TYPE_CHECKING:
    from ..dataset import Dataset
    from .measure import FrameStats, PairStats

__all__ = ["SequenceCache", "cache_for"]

# entity -> its mask's counts on a frame: what an entry was computed from
Content = dict[str, bytes]


class SequenceCache:
    """The cached measurements of one sequence; ``computed`` counts what was computed (tests)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.source: Any = None  # the frame source the flows were computed on
        self.frames: dict[int, tuple[Content, dict[str, FrameStats]]] = {}
        self.pairs: dict[tuple[int, int], dict[str, tuple[bytes, bytes, PairStats]]] = {}
        self.computed: Counter[str] = Counter()

    def clear(self) -> None:
        with self.lock:
            self.frames.clear()
            self.pairs.clear()

    def drop(self, frames: set[int]) -> None:
        with self.lock:
            for f in frames:
                self.frames.pop(f, None)
            for key in [k for k in self.pairs if k[0] in frames or k[1] in frames]:
                del self.pairs[key]


class _Caches:
    """Every sequence's cache for one dataset, kept up to date by an observer."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sequences: dict[str, SequenceCache] = {}

    def get(self, seq_id: str) -> SequenceCache:
        with self.lock:
            return self.sequences.setdefault(seq_id, SequenceCache())

    def changed(self, change: Change) -> None:
        whole = change.tables & {"sequences", "frames", "sources"}
        for seq_id in change.sequences:
            cache = self.sequences.get(seq_id)
            if cache is None:
                continue
            if whole:  # new pixels, or the sequence removed: let go of it all (its frame source too)
                with self.lock:
                    self.sequences.pop(seq_id, None)
                cache.clear()
            elif seq_id in change.frames:
                cache.drop(change.frames[seq_id])


_CREATE = threading.Lock()


def cache_for(ds: Dataset, seq_id: str) -> SequenceCache:
    """The review cache of ``seq_id`` in ``ds`` (made, and its observer attached, on first use)."""
    caches: _Caches | None = ds.__dict__.get("_review_caches")
    if caches is None:
        with _CREATE:
            caches = ds.__dict__.get("_review_caches")
            if caches is None:
                caches = _Caches()
                ds.observe(caches.changed)
                ds.__dict__["_review_caches"] = caches
    return caches.get(seq_id)
