"""Measuring a sequence's tracks for the review: what the cache lacks is computed in one sweep in frame
order, each frame decoded once at the review scale and each flow computed once per pair of frames,
for every entity that needs it."""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np

from ..naming import natural_key
from . import signals as sg
from .cache import SequenceCache
from .measure import FrameStats, PairStats, frame_stats, pair_stats
from .small import Scale

if TYPE_CHECKING:
    from ..dataset import Dataset

__all__ = ["measure_tracks"]

_WINDOW = 2 * sg.NEAR + 2  # frames kept decoded during the sweep


class _Window(OrderedDict[Any, Any]):
    """The few most recently used items of the sweep (it only ever looks a few frames back)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def fetch(self, key: Any, make: Any) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        while len(self) > self.size:
            self.popitem(last=False)
        return value


def measure_tracks(ds: Dataset, seq_id: str, eids: list[str], cache: SequenceCache) -> dict[str, sg.Track]:
    """Every track of ``eids`` on ``seq_id`` with its stats and neighbour comparisons, from the
    version the calling thread reads (pin it with ``ds.snapshot()``)."""
    view = ds._view()
    store = view["masks"]
    seq = view.get("sequences", (seq_id,))
    scale = Scale(int(seq["width"]), int(seq["height"]))
    size = [int(seq["height"]), int(seq["width"])]
    source = view.source(seq_id)
    all_eids = sorted((k[0] for k in view["entities"].lookup("by_sequence", (seq_id,))), key=natural_key)

    content: dict[int, dict[str, bytes]] = {}  # frame -> entity -> counts
    rows: dict[str, list[tuple[int, bytes, bool, float]]] = {}
    for eid in all_eids:
        keys = sorted(store.lookup("by_entity", (seq_id, eid)))
        found = store.values_many(keys, ("counts", "keyframe", "score"))
        mine: list[tuple[int, bytes, bool, float]] = []
        for k, v in zip(keys, found):
            assert v is not None
            content.setdefault(k[1], {})[eid] = v[0]
            mine.append((k[1], v[0], bool(v[1]), np.nan if v[2] is None else float(v[2])))
        rows[eid] = mine

    with cache.lock:
        if cache.source is not source:
            cache.frames.clear()
            cache.pairs.clear()
            cache.source = source
        # What is still valid is taken now: an observer may drop it while the sweep runs.
        frames_now = {f: kept for f, c in content.items() if (kept := cache.frames.get(f)) and kept[0] == c}
        frame_todo = sorted(set(content) - set(frames_now))
        pairs_now: dict[tuple[int, int], dict[str, PairStats]] = {}
        pair_todo: dict[tuple[int, int], list[str]] = {}
        if source is not None:
            for eid in eids:
                frames = np.array([r[0] for r in rows[eid]], int)
                for i, near in enumerate(sg.neighbours(frames)):
                    for j in near:
                        a, b = (frames[i], frames[j]) if frames[i] < frames[j] else (frames[j], frames[i])
                        ca, cb = content[a][eid], content[b][eid]
                        old = cache.pairs.get((int(a), int(b)), {}).get(eid)
                        if old is not None and old[0] == ca and old[1] == cb:
                            pairs_now.setdefault((int(a), int(b)), {})[eid] = old[2]
                        else:
                            todo = pair_todo.setdefault((int(a), int(b)), [])
                            if eid not in todo:
                                todo.append(eid)

    new_frames: dict[int, tuple[dict[str, bytes], dict[str, FrameStats]]] = {}
    new_pairs: dict[tuple[int, int], dict[str, tuple[bytes, bytes, PairStats]]] = {}
    greys = _Window(_WINDOW)
    smalls = _Window(_WINDOW * max(1, len(all_eids)))

    def small(f: int, eid: str) -> np.ndarray:
        def make() -> np.ndarray:
            cache.computed["mask"] += 1
            return scale.mask({"size": size, "counts": content[f][eid]})

        return smalls.fetch((f, eid), make)

    def grey(f: int) -> np.ndarray:
        def make() -> np.ndarray:
            cache.computed["grey"] += 1
            return scale.grey(source, f)

        return greys.fetch(f, make)

    by_later: dict[int, list[tuple[int, int]]] = {}
    for a, b in pair_todo:
        by_later.setdefault(b, []).append((a, b))
    frame_set = set(frame_todo)
    for t in sorted(frame_set | set(by_later)):
        if t in frame_set:
            here = {eid: small(t, eid) for eid in content[t]}
            stats = {}
            for eid, m in here.items():
                others = [o > 0.5 for o2, o in here.items() if o2 != eid]
                stats[eid] = frame_stats(m, np.logical_or.reduce(others) if others else None)
            cache.computed["frame"] += 1
            new_frames[t] = (content[t], stats)
        for a, b in sorted(by_later.get(t, [])):
            cache.computed["flow"] += 1
            flow = scale.flow(grey(a), grey(b))
            out = new_pairs.setdefault((a, b), {})
            for eid in pair_todo[(a, b)]:
                cache.computed["pair"] += 1
                out[eid] = (
                    content[a][eid],
                    content[b][eid],
                    pair_stats(small(a, eid), small(b, eid), flow, scale.gx, scale.gy),
                )

    with cache.lock:
        cache.frames.update(new_frames)
        for key, per in new_pairs.items():
            cache.pairs.setdefault(key, {}).update(per)
    frames_now.update(new_frames)
    for key, per in new_pairs.items():
        pairs_now.setdefault(key, {}).update({eid: v[2] for eid, v in per.items()})

    tracks: dict[str, sg.Track] = {}
    for eid in eids:
        r = rows[eid]
        frames = np.array([x[0] for x in r], int)
        track = sg.Track(
            frames,
            np.array([x[2] for x in r], bool),
            np.array([x[3] for x in r], float),
            [frames_now[int(f)][1][eid] for f in frames],
        )
        for i, near in enumerate(sg.neighbours(frames)):
            seen: list[PairStats] = []
            for j in near:
                a, b = sorted((int(frames[i]), int(frames[j])))
                p = pairs_now.get((a, b), {}).get(eid)
                if p is not None:
                    seen.append(sg.oriented(p, earlier=a == frames[i]))
            track.near.append(seen)
        tracks[eid] = track
    return tracks
