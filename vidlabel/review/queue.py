"""The review queue: ``ds.review(seq)``, one row per (frame, entity), most suspicious first.

The signals (signals.py, one function each) combine into one suspicion (weights.py). What they
are computed from is cached per sequence and kept up to date by the dataset's observer
(cache.py), so the widget can call ``review`` after every edit.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise
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
    from .signals import Track

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

        tracks = measure_tracks(self, seq_id, eids, cache_for(self, seq_id))  # type: ignore[arg-type]
        n_frames = len(self._view().frame_info(seq_id).uris)
        parts = []
        for eid in eids:
            rows = self._review_rows(seq_id, eid, tracks[eid], n_frames, other, engine, wanted)
            keep = np.ones(len(rows["frame_index"]), bool)
            if wanted is not None:
                keep &= np.isin(rows["frame_index"], list(wanted))
            if not include_reviewed:
                keep &= ~rows["reviewed"]
            parts.append({k: v[keep] for k, v in rows.items()})
        return _table(parts, w)

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
    def _review_rows(
        self,
        seq_id: str,
        eid: str,
        track: Track,
        n_frames: int,
        other: Any,
        engine: Any,
        wanted: set[int] | None = None,
    ) -> dict[str, np.ndarray]:
        from . import signals as sg

        frames = track.frames
        evidence: dict[str, np.ndarray] = {
            "temporal": sg.temporal(track),
            "area_jump": sg.area_jump(track),
            "centroid_jump": sg.centroid_jump(track),
            "flicker": sg.flicker(track),
            "fragmentation": sg.fragmentation(track),
            "overlap": sg.overlap(track),
            "presence": sg.presence(frames, n_frames),
            "low_score": sg.low_score(track),
        }
        gaps = self._gaps(seq_id, eid, frames)
        if other is not None:
            from . import compare as cmp

            iou = cmp.ious(self, seq_id, eid, frames, other)  # type: ignore[arg-type]
            evidence["disagreement"] = sg.disagreement(iou)
        if engine is not None:
            from . import engine_check as ec

            todo = ~track.keyframe  # two engine passes a row: only for the rows asked for
            if wanted is not None:
                todo &= np.isin(frames, list(wanted))
            checked = ec.ious(self, seq_id, eid, track, engine, todo)  # type: ignore[arg-type]
            evidence["engine_check"] = sg.engine_check(checked)
        n, g = len(frames), len(gaps)
        gap_frames = np.array(sorted(gaps), int)
        out: dict[str, np.ndarray] = {
            "frame_index": np.r_[frames, gap_frames].astype(np.int32),
            "score": np.r_[track.score, np.full(g, np.nan)],
        }
        for s in SIGNALS:
            col = np.full(n + g, np.nan)
            if s in evidence:
                col[:n] = evidence[s]
            out[s] = col
        out["presence"][n:] = [sg.gap_presence(gaps[f]) for f in gap_frames]
        if other is not None:
            from . import compare as cmp

            out["disagreement"][n:] = [cmp.gap_disagreement(other, eid, int(f)) for f in gap_frames]
        marked = np.array([self._mark_holds((seq_id, int(f), eid)) for f in out["frame_index"]], bool)
        out["reviewed"] = marked | np.r_[track.keyframe, np.zeros(g, bool)]
        out["entity_id"] = np.full(n + g, eid, object)
        return out

    def _gaps(self, seq_id: str, eid: str, frames: np.ndarray) -> dict[int, int]:
        """Frames where the entity has no mask inside its track: inside one of its tracklets, or in a
        gap of at most ``MAX_GAP`` frames between two of its masks; each with its gap's length."""
        if len(frames) < 2:
            return {}
        tracklets = self._tables["tracklets"]
        spans = []
        for k in tracklets.lookup("by_entity", (seq_id, eid)):
            found = tracklets.values(k, ("start_frame", "end_frame"))
            if found is not None:
                spans.append((int(found[0]), int(found[1])))
        out: dict[int, int] = {}
        for a, b in pairwise(frames):
            gap = int(b - a - 1)
            if gap <= 0:
                continue
            inside = any(s <= a and b <= e for s, e in spans)
            if inside or gap <= MAX_GAP:
                out.update({int(f): gap for f in range(int(a) + 1, int(b))})
        return out


def _table(parts: list[dict[str, np.ndarray]], weights: dict[str, float]) -> pa.Table:
    cols = {k: np.concatenate([p[k] for p in parts]) if parts else np.zeros(0) for k in _COLUMNS}
    n = len(cols["frame_index"])
    suspicion, reasons = combine({s: cols[s].astype(float) for s in SIGNALS}, weights)
    if not n:
        suspicion, reasons = np.zeros(0, np.float32), []
    ids = np.array([str(e) for e in cols["entity_id"]], object)
    rank = {e: r for r, e in enumerate(sorted(set(ids), key=natural_key))}
    order = np.lexsort(
        (np.array([rank[e] for e in ids], np.int64), cols["frame_index"].astype(np.int64), -suspicion)
    )

    def f32(x: np.ndarray) -> pa.Array:
        x = x.astype(np.float64)[order]
        return pa.array(x.astype(np.float32), pa.float32(), mask=np.isnan(x))

    fields = {
        "frame_index": pa.array(cols["frame_index"].astype(np.int32)[order], pa.int32()),
        "entity_id": pa.array(list(ids[order]), pa.string()),
        "suspicion": pa.array(suspicion[order], pa.float32()),
        "reasons": pa.array([reasons[i] for i in order], pa.string()),
        **{s: f32(cols[s]) for s in SIGNALS},
        "score": f32(cols["score"]),
        "reviewed": pa.array(cols["reviewed"].astype(bool)[order], pa.bool_()),
    }
    return pa.table(fields)


_COLUMNS = ("frame_index", "entity_id", *SIGNALS, "score", "reviewed")
