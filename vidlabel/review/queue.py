"""The review queue: ``ds.review(seq)``, one row per (frame, entity), most suspicious first.

The signals (signals.py, one function each) combine into one suspicion (weights.py). What they
are computed from is cached per sequence and kept up to date by the dataset's observer
(cache.py), so the widget can call ``review`` after every edit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from ..annotations import AnnotationsMixin
from ..core import reads
from ..errors import ValidationError
from ..naming import natural_key
from .state import MAX_GAP
from .weights import SIGNALS, check_weights, combine

if TYPE_CHECKING:
    from .cache import Built

__all__ = ["MAX_GAP", "ReviewMixin"]


class ReviewMixin(AnnotationsMixin):
    """``review``: the (frame, entity) pairs most probably wrong first."""

    @reads
    def review(
        self,
        seq: str,
        *,
        entities: str | Iterable[str] | None = None,
        frames: int | Iterable[int] | None = None,
        engine: Any = None,
        compare: Any = None,
        weights: dict[str, float] | None = None,
        include_reviewed: bool = False,
    ) -> pa.Table:
        """The review queue of a sequence, as a pyarrow Table sorted by ``suspicion``, descending.

        Rows: every (frame, entity) with a mask that is not a keyframe, and every frame inside an
        entity's track where its mask is missing (a vanished object). Keyframe masks (what a
        person set) and pairs marked reviewed (``mark_reviewed``) are left out unless
        ``include_reviewed=True``. Columns: ``frame_index``, ``entity_id``, ``suspicion`` in
        [0, 1], ``reasons`` (the signals that fired, strongest first), one column per signal
        (its evidence in [0, 1], null where it could not be computed), ``score`` (the engine's
        score of the mask) and ``reviewed``.

        ``entities`` and ``frames`` restrict the rows (the signals still look at the whole track).
        ``engine`` (an engine, e.g. ``vl.segment.load("flow")``) adds ``engine_check``;
        ``compare`` (another Dataset holding the sequence, or ``{frame: {entity: mask}}`` as an
        engine's ``propagate`` yields) adds ``disagreement``. ``weights`` overrides some of
        ``vidlabel.review.WEIGHTS``. The signals are documented in ``vidlabel.review.signals``.
        """
        seq_id = self._seq(seq)
        w = check_weights(weights)
        eids = self._review_entities(seq_id, entities)
        wanted = None if frames is None else self._review_frame_set(seq_id, frames)
        if not isinstance(include_reviewed, (bool, np.bool_)):
            raise ValidationError(f"review: include_reviewed must be a bool, got {include_reviewed!r}")
        from . import compare as cmp
        from . import engine_check as ec

        other = None if compare is None else cmp.resolve(self, seq_id, compare)  # type: ignore[arg-type]
        if engine is not None:
            ec.check_engine(engine)

        from .cache import cache_for
        from .compute import measure_tracks

        cache = cache_for(self, seq_id)  # type: ignore[arg-type]
        built = measure_tracks(self, seq_id, eids, cache)  # type: ignore[arg-type]
        wkey = tuple(w[s] for s in SIGNALS)
        parts = []
        for eid in eids:
            b = built[eid]
            if b.base is None:
                b.base = self._review_rows(seq_id, eid, b)
                cache.computed["rows"] += 1
            rows = b.base
            if other is None and engine is None:  # the suspicion of the rows alone: kept per weights
                if wkey not in b.combined:
                    b.combined[wkey] = combine({s: rows[s] for s in SIGNALS}, w)
                rows = {**rows, "suspicion": b.combined[wkey][0], "reasons": b.combined[wkey][1]}
            else:
                rows = self._review_extra(seq_id, eid, b, rows, other, engine, wanted)
                suspicion, reasons = combine({s: rows[s] for s in SIGNALS}, w)
                rows = {**rows, "suspicion": suspicion, "reasons": reasons}
            keep = np.ones(len(rows["frame_index"]), bool)
            if wanted is not None:
                keep &= np.isin(rows["frame_index"], list(wanted))
            if not include_reviewed:
                keep &= ~rows["reviewed"]
            parts.append({k: v[keep] for k, v in rows.items()} if not keep.all() else rows)
        return _table(parts, eids)

    # ------------------------------------------------------------------ arguments
    def _review_entities(self, seq_id: str, entities: Any) -> list[str]:
        every = sorted(
            (k[0] for k in self._tables["entities"].lookup("by_sequence", (seq_id,))), key=natural_key
        )
        if entities is None:
            return every
        if isinstance(entities, str):
            entities = [entities]
        if not isinstance(entities, Iterable):
            raise ValidationError(f"review: entities must be an entity or a list of them, got {entities!r}")
        out: list[str] = []
        for e in entities:
            eid = self._entity(seq_id, e)
            if eid not in out:
                out.append(eid)
        return out

    def _review_frame_set(self, seq_id: str, frames: Any) -> set[int]:
        if isinstance(frames, (int, np.integer)) and not isinstance(frames, (bool, np.bool_)):
            return {self._frame(seq_id, frames)}
        if isinstance(frames, (str, bytes)) or not isinstance(frames, Iterable):
            raise ValidationError(
                f"review: frames must be a frame index, a list of them or a range, got {frames!r}"
            )
        return {self._frame(seq_id, f) for f in frames}

    # ------------------------------------------------------------------ rows
    def _review_rows(self, seq_id: str, eid: str, b: Built) -> dict[str, np.ndarray]:
        """An entity's rows from its measured track: the signals that need neither ``compare=`` nor
        ``engine=`` (those columns null), every mask and every frame of a gap, unfiltered."""
        from . import signals as sg

        track = b.track
        frames = track.frames
        evidence: dict[str, np.ndarray] = {
            "temporal": sg.temporal(track),
            "area_jump": sg.area_jump(track),
            "centroid_jump": sg.centroid_jump(track),
            "flicker": sg.flicker(track),
            "fragmentation": sg.fragmentation(track),
            "overlap": sg.overlap(track),
            "presence": sg.presence(frames, b.n_frames),
            "low_score": sg.low_score(track),
        }
        gap_frames, gap_len = _gaps(frames, b.spans)
        n, g = len(frames), len(gap_frames)
        out: dict[str, np.ndarray] = {
            "frame_index": np.r_[frames, gap_frames].astype(np.int32),
            "score": np.r_[track.score, np.full(g, np.nan)],
        }
        for s in SIGNALS:
            col = np.full(n + g, np.nan)
            if s in evidence:
                col[:n] = evidence[s]
            out[s] = col
        out["presence"][n:] = 1.0 / np.maximum(1, gap_len)  # signals.gap_presence, for all at once
        marked = np.isin(out["frame_index"], np.fromiter(b.marked, np.int64, len(b.marked)))
        out["reviewed"] = marked | np.r_[track.keyframe, np.zeros(g, bool)]
        out["entity_id"] = np.full(n + g, eid, object)
        return out

    def _review_extra(
        self,
        seq_id: str,
        eid: str,
        b: Built,
        rows: dict[str, np.ndarray],
        other: Any,
        engine: Any,
        wanted: set[int] | None,
    ) -> dict[str, np.ndarray]:
        """``rows`` with the columns of ``compare=`` (disagreement) and ``engine=`` (engine_check)."""
        from . import signals as sg

        track = b.track
        frames = track.frames
        n = len(frames)
        rows = dict(rows)
        if other is not None:
            from . import compare as cmp

            col = np.full(len(rows["frame_index"]), np.nan)
            col[:n] = sg.disagreement(cmp.ious(self, seq_id, eid, frames, other))  # type: ignore[arg-type]
            col[n:] = [cmp.gap_disagreement(other, eid, int(f)) for f in rows["frame_index"][n:]]
            rows["disagreement"] = col
        if engine is not None:
            from . import engine_check as ec

            todo = ~track.keyframe  # two engine passes a row: only for the rows asked for
            if wanted is not None:
                todo &= np.isin(frames, list(wanted))
            checked = ec.ious(self, seq_id, eid, track, engine, todo)  # type: ignore[arg-type]
            col = np.full(len(rows["frame_index"]), np.nan)
            col[:n] = sg.engine_check(checked)
            rows["engine_check"] = col
        return rows


def _gaps(frames: np.ndarray, spans: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Frames where the entity has no mask inside its track: inside one of its tracklets, or in a
    gap of at most ``MAX_GAP`` frames between two of its masks; with their gap's length."""
    f = np.asarray(frames, np.int64)
    if len(f) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    at = np.flatnonzero(np.diff(f) > 1)  # only the gaps are walked
    got, lens = [], []
    for i in at.tolist():
        a, b = int(f[i]), int(f[i + 1])
        gap = b - a - 1
        if gap <= MAX_GAP or any(s <= a and b <= e for s, e in spans):
            got.append(np.arange(a + 1, b))
            lens.append(np.full(gap, gap))
    if not got:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(got), np.concatenate(lens)


def _table(parts: list[dict[str, np.ndarray]], eids: list[str]) -> pa.Table:
    """The queue from each entity's rows (already combined): sorted by suspicion, descending, then
    frame, then entity in natural order; all vectorised."""
    cols = {k: np.concatenate([p[k] for p in parts]) if parts else np.zeros(0) for k in _COLUMNS}
    rank_of = {e: r for r, e in enumerate(sorted(eids, key=natural_key))}
    rank = (
        np.concatenate([np.full(len(p["frame_index"]), rank_of[e], np.int64) for p, e in zip(parts, eids)])
        if parts
        else np.zeros(0, np.int64)
    )
    suspicion = cols["suspicion"].astype(np.float32)
    order = np.lexsort((rank, cols["frame_index"].astype(np.int64), -suspicion))

    def f32(x: np.ndarray) -> pa.Array:
        x = x.astype(np.float64)[order]
        return pa.array(x.astype(np.float32), pa.float32(), mask=np.isnan(x))

    fields = {
        "frame_index": pa.array(cols["frame_index"].astype(np.int32)[order], pa.int32()),
        "entity_id": pa.array(cols["entity_id"].astype(object)[order], pa.string()),
        "suspicion": pa.array(suspicion[order], pa.float32()),
        "reasons": pa.array(cols["reasons"].astype(object)[order], pa.string()),
        **{s: f32(cols[s]) for s in SIGNALS},
        "score": f32(cols["score"]),
        "reviewed": pa.array(cols["reviewed"].astype(bool)[order], pa.bool_()),
    }
    return pa.table(fields)


_COLUMNS = ("frame_index", "entity_id", "suspicion", "reasons", *SIGNALS, "score", "reviewed")
