"""What to label next: ``ds.suggest_keyframes(seq, k)`` (the seed article's active selection).

Frames far in appearance from every labelled frame (classical descriptors, appearance.py), where the
current masks are least trusted (their engine score; a mask missing inside an entity's span is not
trusted at all), spread over the video: a greedy pick under a small model of how propagation error
grows, fitted on the video's own masks (selection.py). Descriptors are computed once per sequence
and kept with the dataset (frames do not change), so asking again after an edit costs little.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np
import pyarrow as pa

from ..annotations import AnnotationsMixin
from ..core import reads
from ..errors import ValidationError

__all__ = ["KeyframesMixin"]

_MAX_CANDIDATES = 1500  # longer videos are searched on evenly spaced frames (bounded memory and time)

SCHEMA = pa.schema(
    [
        pa.field("frame_index", pa.int32()),
        pa.field("reason", pa.string()),
        pa.field("gain", pa.float32()),  # estimated error removed, summed over the frames re-anchored
        pa.field("distance", pa.float32()),  # appearance distance to the nearest labelled frame (null: none)
        pa.field("trust", pa.float32()),  # how much the current masks there are trusted (null: unknown)
        pa.field("first_frame", pa.int32()),  # the frames labelling it re-anchors, inclusive
        pa.field("last_frame", pa.int32()),
    ]
)


class KeyframesMixin(AnnotationsMixin):
    """``suggest_keyframes``: the frames most worth labelling by hand next, and why."""

    @reads
    def suggest_keyframes(self, seq: str, k: int = 5, *, entity: str | None = None) -> pa.Table:
        """The ``k`` frames most worth labelling next, best first, with the reasons (a pyarrow Table).

        Labelled frames are those with a keyframe mask (``keyframe=True``) of any entity, or of
        ``entity`` when given. A frame is worth labelling when it looks unlike every labelled frame
        and the masks around it are not trusted (``1 - score``; a mask missing between an entity's
        first and last mask counts as wrong; ``entity=None``: the least trusted entity of each frame).
        Labelling a frame re-anchors the propagation there, so each pick counts the frames it would
        carry (up to the next labelled frame): the picks spread over the video rather than crowd.

        Columns: ``frame_index`` (int32), ``reason`` (readable), ``gain`` (estimated error removed,
        in frames), ``distance`` (appearance distance in [0, 1] to the nearest labelled frame, null
        when none is labelled), ``trust`` (the masks' trust there, null when unknown),
        ``first_frame`` / ``last_frame`` (the frames its label would re-anchor). Fewer than ``k`` rows
        when fewer frames can be labelled (a pick keeps half an even spacing from other keyframes).
        """
        from . import selection

        seq_id = self._seq(seq)
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValidationError(f"suggest_keyframes: k must be a positive integer, got {k!r}")
        eids = self._entities_of(seq_id, entity)
        n = len(self._view().frame_info(seq_id).uris)
        desc, cand, dist_from = self._appearance(seq_id)
        labelled, error = self._labels_and_error(seq_id, eids, n)

        from .appearance import distances

        steps = np.zeros(n)
        near = np.full(n, np.nan)
        if labelled:
            anchor = selection.anchors(n, labelled)
            lab = np.asarray(labelled)
            to_lab = distances(desc, lab, np.arange(n))
            near = to_lab.min(axis=0).astype(np.float64)
            d_anchor = to_lab[np.searchsorted(lab, anchor), np.arange(n)].astype(np.float64)
            steps = np.abs(np.arange(n) - anchor) / n
            known = ~np.isnan(error) & ~np.isin(np.arange(n), lab)
            rates = selection.fit_rates(d_anchor[known], steps[known], error[known])
            guess = np.minimum(1.0, rates[0] + rates[1] * d_anchor + rates[2] * steps)
        else:
            rates = selection.DEFAULT_RATES
            guess = np.ones(n)  # nothing labelled: nothing is anchored to a person's mask
        trust = 1.0 - error
        est = np.where(np.isnan(error), guess, error)
        est[labelled] = 0.0
        # Spread, whatever the model says: a pick keeps half an even spacing away from other keyframes.
        gap = n // (2 * (int(k) + max(1, len(labelled))))
        picks = selection.pick(est, dist_from, cand, labelled, int(k), rates, gap)
        rows: dict[str, list[Any]] = {f.name: [] for f in SCHEMA}
        for p in picks:
            d = None if np.isnan(near[p.frame]) else float(near[p.frame])
            t = None if np.isnan(trust[p.frame]) else float(trust[p.frame])
            rows["frame_index"].append(p.frame)
            rows["reason"].append(_reason(p, d, t))
            rows["gain"].append(p.gain)
            rows["distance"].append(d)
            rows["trust"].append(t)
            rows["first_frame"].append(p.first)
            rows["last_frame"].append(p.last)
        return pa.Table.from_pydict(rows, schema=SCHEMA)

    def _entities_of(self, seq_id: str, entity: str | None) -> list[str]:
        if entity is not None:
            return [self._entity(seq_id, entity)]
        ents = self._tables["entities"]
        keys = ents.lookup("by_sequence", (seq_id,))
        return sorted(str(k[0]) for k in keys if not (ents.get(k) or {}).get("void"))

    def _labels_and_error(self, seq_id: str, eids: list[str], n: int) -> tuple[list[int], np.ndarray]:
        """Labelled frames, and each frame's estimated error (the worst entity's; nan: unknown)."""
        store = self._tables["masks"]
        error = np.full(n, np.nan)
        labelled: set[int] = set()
        for eid in eids:
            e = np.full(n, np.nan)
            keys = store.lookup("by_entity", (seq_id, eid))
            frames = []
            for key in keys:
                row = store.get(key)
                assert row is not None
                f = int(key[1])
                frames.append(f)
                if row["keyframe"]:
                    labelled.add(f)
                    e[f] = 0.0
                elif row["score"] is not None:
                    e[f] = 1.0 - min(1.0, max(0.0, float(row["score"])))
            if frames:  # a mask missing between the entity's first and last is not trusted at all
                span = np.zeros(n, bool)
                span[min(frames) : max(frames) + 1] = True
                span[frames] = False
                e[span] = 1.0
            error = np.fmax(error, e)  # the worst entity; nan only where none is known
        return sorted(labelled), error

    def _appearance(self, seq_id: str) -> tuple[Any, np.ndarray, np.ndarray]:
        """The sequence's frame descriptors, the candidate frames and their appearance distances to
        every frame: computed once per frame source and kept (none of it depends on the masks)."""
        from .appearance import describe, distances

        source = self._source(seq_id)  # type: ignore[attr-defined]  # Dataset's: refuses no pixels
        lock = self.__dict__.setdefault("_descriptor_lock", threading.Lock())
        cache: dict[str, tuple[Any, Any]] = self.__dict__.setdefault("_descriptor_cache", {})
        with lock:
            for gone in [s for s in cache if (s,) not in self._view()["sequences"]]:
                del cache[gone]  # removed sequences: their descriptors go
            hit = cache.get(seq_id)
            if hit is not None and hit[0]() is source:
                return hit[1]
        n = len(self._view().frame_info(seq_id).uris)
        desc = describe(lambda f: source.read(f, cache=False), n)
        cand = np.arange(n)
        if n > _MAX_CANDIDATES:
            cand = np.unique(np.linspace(0, n - 1, _MAX_CANDIDATES).astype(np.int64))
        value = (desc, cand, distances(desc, cand, np.arange(n)))
        with lock:
            cache[seq_id] = (weakref.ref(source), value)  # never what keeps a frame source alive
        return value


def _reason(p: Any, distance: float | None, trust: float | None) -> str:
    where = (
        "nothing labelled yet" if distance is None else f"far from labelled frames (distance {distance:.2f})"
    )
    trusted = "masks' trust unknown" if trust is None else f"masks trusted {trust:.2f}"
    return (
        f"{where}, {trusted}; re-anchors frames {p.first}-{p.last} "
        f"(estimated error removed {p.gain:.1f} frames)"
    )
