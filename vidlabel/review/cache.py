"""Per-sequence cache of what the signals are computed from, so that re-reviewing after an edit costs
what the edit touched.

Three levels, each validated before use:

- per frame, every entity's ``FrameStats`` there (the overlap of one depends on the others'
  masks), remembered with the masks (their RLE counts) it was computed from;
- per pair of frames and entity, its ``PairStats``, with the two masks it came from; pairs are
  indexed by frame, so an edit drops only the touched entities' pairs at the touched frames;
- per entity, what its rows were assembled from (``Built``: its masks, track, marks, rows), as
  of one dataset version. Every change the observer sees is logged with its version; a later
  review at version V brings a ``Built`` of version c up to date from the log's entries in
  (c, V] alone, and only when the log holds every version in between (a bulk load or a replay
  publishes versions without telling observers: then the entity is rebuilt from the masks).

Frame and pair entries are used only while their masks are still what the version being
reviewed holds, so a review that reads an older version than an edit running beside it can
neither use nor leave a stale value.
"""

from __future__ import annotations

import threading
import weakref
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core import Change

if TYPE_CHECKING:
    from ..dataset import Dataset
    from .measure import FrameStats, PairStats
    from .signals import Track

__all__ = ["Built", "LogEntry", "SequenceCache", "cache_for", "changes_between"]

# entity -> its mask's counts on a frame: what an entry was computed from
Content = dict[str, bytes]
# one mask of an entity: its counts, whether it is a keyframe, its score (NaN if none)
MaskRow = tuple[bytes, bool, float]
LOG_SIZE = 4096  # changes remembered; a Built older than that is rebuilt from the masks


@dataclass
class Built:
    """One entity's track and rows as of dataset ``version`` (never changed once shared)."""

    version: int
    source: Any
    n_frames: int
    masks: dict[int, MaskRow]
    track: Track
    spans: list[tuple[int, int]]  # its tracklets' (start, end)
    marked: frozenset[int]  # frames whose review mark holds
    base: dict[str, np.ndarray] | None = None  # rows before compare= / engine= and filtering
    combined: dict[tuple[float, ...], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


@dataclass
class LogEntry:
    """What one change did to one sequence."""

    frames: set[int]
    entities: set[str]
    rebuild: bool  # entities added or removed, or the pixels replaced: rebuild every entity


class SequenceCache:
    """The cached measurements of one sequence; ``computed`` counts what was computed (tests)."""

    def __init__(self, seq_id: str, log: _Caches | None = None) -> None:
        self.seq_id = seq_id
        self.lock = threading.Lock()
        self.source: Any = None  # the frame source the flows were computed on
        self.frames: dict[int, tuple[Content, dict[str, FrameStats]]] = {}
        self.pairs: dict[tuple[int, int], dict[str, tuple[bytes, bytes, PairStats]]] = {}
        self.pairs_at: dict[int, set[tuple[int, int]]] = {}  # frame -> the pair keys holding it
        self.built: dict[str, Built] = {}
        self.computed: Counter[str] = Counter()
        self._log = log

    def clear(self) -> None:
        with self.lock:
            self.frames.clear()
            self.pairs.clear()
            self.pairs_at.clear()
            self.built.clear()

    def add_pair(self, key: tuple[int, int], eid: str, entry: tuple[bytes, bytes, PairStats]) -> None:
        """Store a pair entry (the caller holds ``lock``)."""
        self.pairs.setdefault(key, {})[eid] = entry
        self.pairs_at.setdefault(key[0], set()).add(key)
        self.pairs_at.setdefault(key[1], set()).add(key)

    def drop(self, frames: set[int], entities: set[str] | None = None) -> None:
        """Let go of the frame entries of ``frames`` and the pairs holding them of ``entities``
        (every entity when None): O(what was touched)."""
        with self.lock:
            for f in frames:
                self.frames.pop(f, None)
                for key in list(self.pairs_at.get(f, ())):
                    per = self.pairs.get(key)
                    if per is not None:
                        for eid in list(per) if entities is None else entities:
                            per.pop(eid, None)
                        if per:
                            continue
                        del self.pairs[key]
                    for end in key:
                        at = self.pairs_at.get(end)
                        if at is not None:
                            at.discard(key)
                            if not at:
                                del self.pairs_at[end]

    def log_since(self, since: int, until: int) -> list[LogEntry] | None:
        """What the changes of versions ``since`` + 1 .. ``until`` did to this sequence, or None when
        the log does not hold each of them (an unobserved bulk load, a replay, or too old)."""
        return None if self._log is None else self._log.between(self.seq_id, since, until)


class _Caches:
    """Every sequence's cache for one dataset, kept up to date by an observer, and the log of the
    changes it saw (version -> sequence -> what changed)."""

    def __init__(self, ds: Dataset) -> None:
        self.lock = threading.Lock()
        self.sequences: dict[str, SequenceCache] = {}
        self._ds = weakref.ref(ds)
        self.versions: list[int] = []
        self.entries: list[dict[str, LogEntry]] = []

    def get(self, seq_id: str) -> SequenceCache:
        with self.lock:
            cache = self.sequences.get(seq_id)
            if cache is None:
                cache = self.sequences[seq_id] = SequenceCache(seq_id, self)
            return cache

    def between(self, seq_id: str, since: int, until: int) -> list[LogEntry] | None:
        if until <= since:
            return [] if until == since else None
        with self.lock:
            lo = bisect_right(self.versions, since)
            hi = bisect_right(self.versions, until)
            if hi - lo != until - since:  # a version in between was never observed
                return None
            return [e[seq_id] for e in self.entries[lo:hi] if seq_id in e]

    def changed(self, change: Change) -> None:
        ds = self._ds()
        if ds is None:
            return
        version = ds.version  # observers are called under the writer's lock, after the publish
        # New pixels (frames, sources) or the sequence gone: nothing measured holds. A change of the
        # sequence's row alone (its status, split, name) touches no pixel and no mask: rows are rebuilt
        # from the measurements kept, no flow is computed again.
        pixels = bool(change.tables & {"frames", "sources"})
        alive = set(ds.sequence_ids()) if "sequences" in change.tables else None
        gone = {s for s in change.sequences if alive is not None and s not in alive}
        per: dict[str, LogEntry] = {}
        for seq_id in change.sequences:
            frames = set(change.frames.get(seq_id, ()))
            entities = set(change.entities.get(seq_id, ()))
            rebuild = pixels or seq_id in gone or bool(change.tables & {"entities", "sequences"})
            per[seq_id] = LogEntry(frames, entities, rebuild)
        with self.lock:
            self.versions.append(version)
            self.entries.append(per)
            if len(self.versions) > LOG_SIZE:
                del self.versions[: LOG_SIZE // 4], self.entries[: LOG_SIZE // 4]
        for seq_id in change.sequences:
            cache = self.sequences.get(seq_id)
            if cache is None:
                continue
            if pixels or seq_id in gone:  # let go of it all (its frame source too)
                with self.lock:
                    self.sequences.pop(seq_id, None)
                cache.clear()
            elif per[seq_id].frames:
                cache.drop(per[seq_id].frames, per[seq_id].entities)


def changes_between(cache: SequenceCache, since: int, until: int) -> LogEntry | None:
    """The union of what changed in ``cache``'s sequence after version ``since`` up to ``until``,
    or None when that is unknown."""
    entries = cache.log_since(since, until)
    if entries is None:
        return None
    out = LogEntry(set(), set(), False)
    for e in entries:
        out.frames |= e.frames
        out.entities |= e.entities
        out.rebuild |= e.rebuild
    return out


_CREATE = threading.Lock()


def cache_for(ds: Dataset, seq_id: str) -> SequenceCache:
    """The review cache of ``seq_id`` in ``ds`` (made, and its observer attached, on first use)."""
    caches: _Caches | None = ds.__dict__.get("_review_caches")
    if caches is None:
        with _CREATE:
            caches = ds.__dict__.get("_review_caches")
            if caches is None:
                caches = _Caches(ds)
                ds.observe(caches.changed)
                ds.__dict__["_review_caches"] = caches
    return caches.get(seq_id)
