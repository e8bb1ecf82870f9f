"""Measuring a sequence's tracks for the review, from what the cache (cache.py) still holds.

Each entity's ``Built`` is, by the change log, either still what the version read holds (kept: a
check), or brought up to date from the frames the changes since touched (its masks re-read
there, its stats and neighbour comparisons patched there), or, when the log cannot say what
changed, rebuilt from all its masks. What the frame and pair entries lack is then computed in one
sweep in frame order, each frame decoded once at the review scale and each flow computed once per
pair of frames, for every entity that needs it.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any

import numpy as np

from . import signals as sg
from .cache import Built, Content, MaskRow, SequenceCache, changes_between
from .measure import FrameStats, PairStats, frame_stats, pair_stats
from .small import Scale

if TYPE_CHECKING:
    from ..dataset import Dataset

__all__ = ["measure_tracks"]

_COLS = ("counts", "keyframe", "score")


def _row(v: tuple[Any, ...]) -> MaskRow:
    return (v[0], bool(v[1]), np.nan if v[2] is None else float(v[2]))


def _same(a: MaskRow | None, b: MaskRow | None) -> bool:
    if a is None or b is None:
        return a is b
    return a[0] == b[0] and a[1] == b[1] and (a[2] == b[2] or (a[2] != a[2] and b[2] != b[2]))


class _Plan:
    """What one entity needs: its masks as of the version read, and which of its frames (None:
    all) need their stats and neighbour comparisons looked up again."""

    def __init__(self, masks: dict[int, MaskRow], old: Built | None, dirty: set[int] | None) -> None:
        self.masks = masks
        self.old = old
        self.dirty = dirty  # frames whose mask changed, or whose other entities' masks did
        self.mine: set[int] = set()  # frames whose own mask changed (their pairs are new)
        self.touched: set[int] | None = None  # frames where its annotations may have changed
        same = old is not None and masks is old.masks
        self.frames = old.track.frames if same and old is not None else np.array(sorted(masks), np.int64)
        # the old track is patched in place (a copy) when the frames with a mask are the same
        self.patch = old is not None and dirty is not None and np.array_equal(old.track.frames, self.frames)

    @functools.cached_property
    def nb(self) -> np.ndarray:
        """Each mask's two neighbours (signals.neighbours): only made for what compares pairs."""
        return sg.neighbours(self.frames)

    def frame_set(self) -> set[int]:
        """The frames whose stats are looked up (all, or the dirty ones)."""
        if self.dirty is None or not self.patch:
            return {int(f) for f in self.frames}
        return self.dirty & set(self.masks)

    def pair_rows(self) -> np.ndarray:
        """Indices of the masks whose neighbour comparisons are looked up."""
        n = len(self.frames)
        if not self.patch or self.dirty is None:
            return np.arange(n)
        if not self.mine:
            return np.zeros(0, np.int64)
        mine = np.array(sorted(self.mine), np.int64)
        hit = np.isin(self.frames, mine)
        near = self.nb >= 0
        hit |= (near & np.isin(self.frames[np.clip(self.nb, 0, max(0, n - 1))], mine)).any(axis=1)
        return np.flatnonzero(hit)


def measure_tracks(ds: Dataset, seq_id: str, eids: list[str], cache: SequenceCache) -> dict[str, Built]:
    """Every entity of ``eids`` on ``seq_id``, its track measured and stats and neighbour comparisons
    filled in, as of the version the calling thread reads (pin it with ``ds.snapshot()``)."""
    view = ds.snapshot()
    version = view.number
    store = view["masks"]
    seq = view.get("sequences", (seq_id,))
    scale = Scale(int(seq["width"]), int(seq["height"]))
    size = [int(seq["height"]), int(seq["width"])]
    source = view.source(seq_id)
    n_frames = len(view.frame_info(seq_id).uris)

    with cache.lock:
        if cache.source is not source:
            cache.frames.clear()
            cache.pairs.clear()
            cache.pairs_at.clear()
            cache.built.clear()
            cache.source = source
        olds = {e: cache.built.get(e) for e in eids}

    out: dict[str, Built] = {}
    plans: dict[str, _Plan] = {}
    for eid in eids:
        b = olds[eid]
        ch = None
        if b is not None and b.source is source and b.n_frames == n_frames:
            lo, hi = sorted((b.version, version))
            ch = changes_between(cache, lo, hi)
        if ch is None or ch.rebuild or (b is not None and b.version > version and (ch.frames or ch.entities)):
            keys = sorted(store.lookup("by_entity", (seq_id, eid)))
            found = store.values_many(keys, _COLS)
            masks = {k[1]: _row(v) for k, v in zip(keys, found) if v is not None}
            plans[eid] = _Plan(masks, None, None)
            continue
        assert b is not None
        if b.version > version or (not ch.frames and eid not in ch.entities):
            # nothing it depends on changed in between: kept, as of this version (a shorter log
            # to read next time)
            out[eid] = b if b.version >= version else dataclasses.replace(b, version=version)
            continue
        masks = b.masks
        mine: set[int] = set()
        if eid in ch.entities:
            masks = dict(masks)
            for f in ch.frames:
                v = store.values((seq_id, f, eid), _COLS)
                new = None if v is None else _row(v)
                if not _same(masks.get(f), new):
                    mine.add(f)
                    if new is None:
                        del masks[f]
                    else:
                        masks[f] = new
        plan = _Plan(masks, b, (ch.frames & set(b.masks)) | mine)
        plan.mine = mine
        if eid in ch.entities:
            plan.touched = ch.frames
        plans[eid] = plan

    if plans:
        _measure(ds, seq_id, cache, scale, size, source, n_frames, version, plans, out)
    with cache.lock:
        for eid, b in out.items():
            kept = cache.built.get(eid)
            if kept is None or kept.version < b.version:
                cache.built[eid] = b
    return out


def _measure(
    ds: Dataset,
    seq_id: str,
    cache: SequenceCache,
    scale: Scale,
    size: list[int],
    source: Any,
    n_frames: int,
    version: int,
    plans: dict[str, _Plan],
    out: dict[str, Built],
) -> None:
    view = ds.snapshot()
    store = view["masks"]
    need_frames: set[int] = set().union(*(p.frame_set() for p in plans.values()))
    content: dict[int, Content] = {}
    if any(p.dirty is None for p in plans.values()):  # rebuilding: every entity's masks, in one walk
        for e in view["entities"].lookup("by_sequence", (seq_id,)):
            keys = sorted(store.lookup("by_entity", (seq_id, e[0])))
            for k, v in zip(keys, store.values_many(keys, ("counts",))):
                if v is not None and k[1] in need_frames:
                    content.setdefault(k[1], {})[e[0]] = v[0]
    else:
        for f in need_frames:
            keys = sorted(store.lookup("by_frame", (seq_id, f)))
            content[f] = {
                k[2]: v[0] for k, v in zip(keys, store.values_many(keys, ("counts",))) if v is not None
            }

    pair_rows = {eid: p.pair_rows() for eid, p in plans.items()}
    with cache.lock:
        # What is still valid is taken now: an observer may drop it while the sweep runs.
        frames_now = {
            f: kept[1] for f in need_frames if (kept := cache.frames.get(f)) and kept[0] == content[f]
        }
        pairs_now: dict[tuple[int, int], dict[str, PairStats]] = {}
        pair_todo: dict[tuple[int, int], list[str]] = {}
        if source is not None:
            for eid, p in plans.items():
                fr = p.frames
                for i in pair_rows[eid].tolist():
                    for j in p.nb[i][p.nb[i] >= 0].tolist():
                        a, b = (int(fr[i]), int(fr[j])) if fr[i] < fr[j] else (int(fr[j]), int(fr[i]))
                        ca, cb = p.masks[a][0], p.masks[b][0]
                        old = cache.pairs.get((a, b), {}).get(eid)
                        if old is not None and old[0] == ca and old[1] == cb:
                            pairs_now.setdefault((a, b), {})[eid] = old[2]
                        elif eid not in (todo := pair_todo.setdefault((a, b), [])):
                            todo.append(eid)
    frame_todo = sorted(need_frames - set(frames_now))

    new_frames, new_pairs = _sweep(cache, scale, size, source, content, frame_todo, pair_todo, plans)
    with cache.lock:
        cache.frames.update(new_frames)
        for key, per in new_pairs.items():
            for eid, entry in per.items():
                cache.add_pair(key, eid, entry)
    frames_now.update({f: v[1] for f, v in new_frames.items()})
    for key, per in new_pairs.items():
        pairs_now.setdefault(key, {}).update({eid: v[2] for eid, v in per.items()})

    marks = ds.mark_holds
    for eid, p in plans.items():
        track = _track(p, eid, frames_now, pairs_now, pair_rows[eid])
        prev = p.old
        if prev is not None and p.dirty is not None:
            spans, marked = prev.spans, set(prev.marked)
            if p.touched is not None:  # its tracklets or states may have changed too
                spans = _spans(view, seq_id, eid)
                for f in p.touched:
                    marked.discard(f)
                    if marks((seq_id, f, eid)):
                        marked.add(f)
            if track is None and spans == prev.spans and marked == prev.marked:
                out[eid] = dataclasses.replace(prev, version=version)  # what its rows came from is the same
                continue
            if track is None:
                track = prev.track
        else:
            spans = _spans(view, seq_id, eid)
            states = view["states"].lookup("by_entity", (seq_id, eid))
            marked = {k[1] for k in states if marks(k)}
        assert track is not None
        cache.computed["track"] += track is not (prev.track if prev is not None else None)
        out[eid] = Built(version, source, n_frames, p.masks, track, spans, frozenset(marked))


def _spans(view: Any, seq_id: str, eid: str) -> list[tuple[int, int]]:
    tracklets = view["tracklets"]
    spans = []
    for k in tracklets.lookup("by_entity", (seq_id, eid)):
        found = tracklets.values(k, ("start_frame", "end_frame"))
        if found is not None:
            spans.append((int(found[0]), int(found[1])))
    return sorted(spans)


def _sweep(
    cache: SequenceCache,
    scale: Scale,
    size: list[int],
    source: Any,
    content: dict[int, Content],
    frame_todo: list[int],
    pair_todo: dict[tuple[int, int], list[str]],
    plans: dict[str, _Plan],
) -> tuple[
    dict[int, tuple[Content, dict[str, FrameStats]]],
    dict[tuple[int, int], dict[str, tuple[bytes, bytes, PairStats]]],
]:
    new_frames: dict[int, tuple[Content, dict[str, FrameStats]]] = {}
    new_pairs: dict[tuple[int, int], dict[str, tuple[bytes, bytes, PairStats]]] = {}
    by_later: dict[int, list[tuple[int, int]]] = {}
    masks_at: dict[int, dict[str, bytes]] = {}  # what each frame of the sweep needs decoded
    greys_at: set[int] = set()
    for (a, b), todo in pair_todo.items():
        by_later.setdefault(b, []).append((a, b))
        greys_at.update((a, b))
        for eid in todo:
            masks_at.setdefault(a, {})[eid] = plans[eid].masks[a][0]
            masks_at.setdefault(b, {})[eid] = plans[eid].masks[b][0]
    frame_set = set(frame_todo)
    for f in frame_set:
        masks_at.setdefault(f, {}).update(content[f])
    sweep = sorted(set(masks_at) | greys_at)

    def load(f: int) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """Frame ``f``'s grey image (if a flow needs it) and the masks needed there, at review scale."""
        cache.computed["grey"] += f in greys_at
        cache.computed["mask"] += len(masks_at.get(f, ()))
        g = scale.grey(source, f) if f in greys_at else None
        return g, {e: scale.mask({"size": size, "counts": c}) for e, c in masks_at.get(f, {}).items()}

    # One thread: reading ahead on a second one was slower on these two shared cores (pycocotools'
    # decode holds the GIL).
    ready: dict[int, tuple[np.ndarray | None, dict[str, np.ndarray]]] = {}
    for t in sweep:
        ready[t] = load(t)
        for gone in [f for f in ready if f < t - sg.NEAR]:  # no pair reaches further back
            del ready[gone]
        here = ready[t][1]
        if t in frame_set:
            stats = {}
            for eid in content[t]:
                others = [o > 0.5 for o2, o in here.items() if o2 != eid and o2 in content[t]]
                stats[eid] = frame_stats(here[eid], np.logical_or.reduce(others) if others else None)
            cache.computed["frame"] += 1
            new_frames[t] = (content[t], stats)
        for a, b in sorted(by_later.get(t, [])):
            cache.computed["flow"] += 1
            (ga, ma), (gb, mb) = ready[a], ready[b]
            assert ga is not None and gb is not None
            flow = scale.flow(ga, gb)
            out = new_pairs.setdefault((a, b), {})
            for eid in pair_todo[(a, b)]:
                cache.computed["pair"] += 1
                out[eid] = (
                    plans[eid].masks[a][0],
                    plans[eid].masks[b][0],
                    pair_stats(ma[eid], mb[eid], flow, scale.gx, scale.gy),
                )
    return new_frames, new_pairs


def _track(
    p: _Plan,
    eid: str,
    frames_now: dict[int, dict[str, FrameStats]],
    pairs_now: dict[tuple[int, int], dict[str, PairStats]],
    rows: np.ndarray,
) -> sg.Track | None:
    """The entity's track: the old one patched where ``p`` says (None when nothing came out
    different), or a new one."""
    frames = p.frames
    old = p.old
    if p.patch and old is not None:
        look = sorted(p.frame_set() | p.mine)
        at = dict(zip(look, np.searchsorted(frames, look).tolist()))
        stats = old.track.stats
        changed = bool(p.mine)
        patched: list[tuple[int, FrameStats]] = []
        for f in p.frame_set():
            s = frames_now[f][eid]
            if s != stats[at[f]]:
                patched.append((at[f], s))
        if not patched and not changed:
            return None
        stats = list(stats)
        for i, s in patched:
            stats[i] = s
        keyframe, score = old.track.keyframe.copy(), old.track.score.copy()
        for f in p.mine:
            keyframe[at[f]], score[at[f]] = p.masks[f][1], p.masks[f][2]
        track = sg.Track(frames, keyframe, score, stats, {k: v.copy() for k, v in old.track.near.items()})
    else:
        rows = np.arange(len(frames))
        track = sg.Track(
            frames,
            np.array([p.masks[int(f)][1] for f in frames], bool),
            np.array([p.masks[int(f)][2] for f in frames], float),
            [frames_now[int(f)][eid] for f in frames],
        )
    for i in rows.tolist():
        fi = int(frames[i])
        for slot, j in enumerate(p.nb[i].tolist()):
            if j < 0:
                continue
            fj = int(frames[j])
            a, b = (fi, fj) if fi < fj else (fj, fi)
            pair = pairs_now.get((a, b), {}).get(eid)
            if pair is not None:
                track.set_near(i, slot, pair, earlier=a == fi)
    return track
