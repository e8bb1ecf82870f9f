"""Masks, boxes and per-frame states: their edits and reads, mixed into Dataset.

Kept apart from dataset.py, which holds the tables, transactions, sequences and entities;
everything here goes through the same validated, transactional ``_put``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import rle as rlemod
from .errors import ValidationError
from .naming import natural_key
from .store import Key, KeyedTable

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import pyarrow as pa

    from .tracklets import TrackletKeeper

ANNOTATIONS = ("masks", "boxes", "states")


class AnnotationsMixin:
    if TYPE_CHECKING:  # provided by Dataset
        _tables: dict[str, KeyedTable]
        _tracklets: TrackletKeeper
        custom_fields: dict[str, list[pa.Field]]

        def _seq(self, seq: Any) -> str: ...
        def _entity(self, seq_id: str, entity: Any) -> str: ...
        def _frame(self, seq_id: str, frame: Any) -> int: ...
        def _put(self, store: str, key: Key, row: Any) -> Any: ...
        def _custom(
            self, table: str, values: Mapping[str, Any], *, partial_of: Any = None
        ) -> dict[str, Any]: ...
        def transaction(self, label: str = "edit") -> AbstractContextManager[None]: ...
        def _refresh_boxes(self, seq_id: str, eid: str, lo: int, hi: int) -> None: ...

    # ------------------------------------------------------------------ masks
    def set_mask(
        self,
        seq: str,
        frame: int,
        entity: str,
        mask: Any,
        *,
        source: str = "human",
        score: float | None = None,
        keyframe: bool = True,
    ) -> None:
        """Set an entity's mask on a frame: an HxW bool (or 0/1) array, or a COCO RLE dict.

        An empty mask erases: absence is the lack of a mask, not a stored empty one.
        """
        seq_id = self._seq(seq)
        f = self._frame(seq_id, frame)
        eid = self._entity(seq_id, entity)
        enc = self._encode_mask(seq_id, mask)
        meta = self._annotation_meta(source, score, keyframe)
        with self.transaction(f"set mask {f}"):
            self._write_mask(seq_id, f, eid, enc, meta)

    def set_masks(
        self,
        seq: str,
        entity: str,
        masks: Mapping[int, Any],
        *,
        source: str = "human",
        score: float | Mapping[int, float | None] | None = None,
        keyframe: bool = True,
    ) -> None:
        """Set many frames of one entity at once (one undo step). ``score`` may be per frame."""
        seq_id = self._seq(seq)
        eid = self._entity(seq_id, entity)
        prepared = []
        for frame, mask in masks.items():
            f = self._frame(seq_id, frame)
            s = score.get(frame) if isinstance(score, Mapping) else score
            prepared.append((f, self._encode_mask(seq_id, mask), self._annotation_meta(source, s, keyframe)))
        with self.transaction(f"set {len(prepared)} masks"):
            for f, enc, meta in prepared:
                self._write_mask(seq_id, f, eid, enc, meta)

    def _encode_mask(self, seq_id: str, mask: Any) -> rlemod.RLE:
        row = self._tables["sequences"].get((seq_id,))
        assert row is not None
        h, w = row["height"], row["width"]
        if isinstance(mask, Mapping):
            return rlemod.normalize(mask, h, w)
        if not isinstance(mask, np.ndarray):
            raise ValidationError(
                f"masks: expected an HxW numpy array or an RLE dict, got {type(mask).__name__}"
            )
        if mask.shape != (h, w):
            raise ValidationError(
                f"masks: mask shape {mask.shape} does not match the frame size ({h}, {w}) "
                f"of sequence {seq_id!r}"
            )
        if mask.dtype != np.bool_:
            if not np.issubdtype(mask.dtype, np.integer):
                raise ValidationError(f"masks: mask dtype {mask.dtype} is not bool or integer 0/1")
            if mask.size and (mask.min() < 0 or mask.max() > 1):
                raise ValidationError(
                    "masks: an integer mask may only hold 0 and 1 "
                    f"(got values in [{mask.min()}, {mask.max()}])"
                )
        return rlemod.encode(mask)

    @staticmethod
    def _annotation_meta(source: Any, score: Any, keyframe: Any) -> dict[str, Any]:
        if not isinstance(source, str) or not source:
            raise ValidationError(f"masks.source: expected a non-empty string, got {source!r}")
        if score is not None:
            if isinstance(score, (bool, np.bool_)) or not isinstance(
                score, (int, float, np.integer, np.floating)
            ):
                raise ValidationError(f"masks.score: expected a number or None, got {score!r}")
            if not np.isfinite(score):
                raise ValidationError(f"masks.score: expected a finite number, got {score!r}")
            score = float(score)
        if not isinstance(keyframe, (bool, np.bool_)):
            raise ValidationError(f"masks.keyframe: expected a bool, got {keyframe!r}")
        return {"source": source, "score": score, "keyframe": bool(keyframe)}

    def _write_mask(self, seq_id: str, f: int, eid: str, enc: rlemod.RLE, meta: dict[str, Any]) -> None:
        key = (seq_id, f, eid)
        if rlemod.area(enc) == 0:
            if key in self._tables["masks"]:
                self._put("masks", key, None)
                self._tracklets.released(seq_id, f, eid)
            return
        tid = self._tracklets.claim(seq_id, f, eid)
        h, w = enc["size"]
        self._put(
            "masks",
            key,
            {
                "sequence_id": seq_id,
                "frame_index": f,
                "entity_id": eid,
                "tracklet_id": tid,
                "height": h,
                "width": w,
                "counts": enc["counts"],
                **meta,
            },
        )

    def remove_mask(self, seq: str, frame: int, entity: str) -> bool:
        """Erase an entity's mask on a frame; False if there was none."""
        return self._remove("masks", seq, entity, [frame]) > 0

    def remove_masks(self, seq: str, entity: str, frames: Sequence[int] | range | None = None) -> int:
        """Erase an entity's masks on the given frames (all frames if None); returns how many."""
        return self._remove("masks", seq, entity, frames)

    def _remove(self, table: str, seq: str, entity: str, frames: Sequence[int] | range | None) -> int:
        seq_id = self._seq(seq)
        eid = self._entity(seq_id, entity)
        store = self._tables[table]
        if frames is None:
            keys = sorted(store.lookup("by_entity", (seq_id, eid)))
        else:
            keys = [(seq_id, self._frame(seq_id, f), eid) for f in frames]
            keys = [k for k in keys if k in store]
        if not keys:
            return 0
        with self.transaction(f"remove {len(keys)} {table}"):
            for key in keys:
                self._put(table, key, None)
            self._tracklets.released_many(seq_id, eid, [k[1] for k in keys])
            if table == "boxes":
                self._refresh_boxes(seq_id, eid, keys[0][1] - 1, keys[-1][1] + 1)
        return len(keys)

    # ------------------------------------------------------------------ boxes
    def set_box(
        self,
        seq: str,
        frame: int,
        entity: str,
        box: Sequence[float],
        *,
        source: str = "human",
        score: float | None = None,
        keyframe: bool = True,
        extend: bool = False,
    ) -> None:
        """Set an entity's box (x, y, w, h in pixels) on a frame.

        Keyframe boxes of one tracklet get interpolated boxes in between. A box on a frame outside
        the entity's tracklets starts a new one, unless ``extend=True``: then the tracklet before
        it grows up to this frame (a keyframe further along a track, as in CVAT's track mode).
        """
        self.set_boxes(
            seq, entity, {frame: box}, source=source, score=score, keyframe=keyframe, extend=extend
        )

    def set_boxes(
        self,
        seq: str,
        entity: str,
        boxes: Mapping[int, Sequence[float]],
        *,
        source: str = "human",
        score: float | Mapping[int, float | None] | None = None,
        keyframe: bool = True,
        extend: bool = False,
    ) -> None:
        """Set many frames' boxes of one entity at once (one undo step; interpolation redone once)."""
        seq_id = self._seq(seq)
        eid = self._entity(seq_id, entity)
        if not isinstance(extend, (bool, np.bool_)):
            raise ValidationError(f"boxes: extend must be a bool, got {extend!r}")
        prepared = []
        for frame, box in boxes.items():
            f = self._frame(seq_id, frame)
            s = score.get(frame) if isinstance(score, Mapping) else score
            prepared.append((f, _check_box(box), self._annotation_meta(source, s, keyframe)))
        if not prepared:
            return
        prepared.sort(key=lambda p: p[0])
        label = f"set box {prepared[0][0]}" if len(prepared) == 1 else f"set {len(prepared)} boxes"
        with self.transaction(label):
            for f, box, meta in prepared:
                if extend:
                    self._tracklets.reach(seq_id, f, eid)
                self._put_box(seq_id, f, eid, box, meta)
            self._refresh_boxes(seq_id, eid, prepared[0][0] - 1, prepared[-1][0] + 1)

    def _write_box(self, seq_id: str, f: int, eid: str, box: tuple[float, ...], meta: dict[str, Any]) -> None:
        """Store a box, then bring the interpolated boxes around it up to date (same transaction)."""
        self._put_box(seq_id, f, eid, box, meta)
        self._refresh_boxes(seq_id, eid, f - 1, f + 1)

    def _put_box(
        self,
        seq_id: str,
        f: int,
        eid: str,
        box: tuple[float, ...],
        meta: dict[str, Any],
        *,
        tracklet: str | None = None,
    ) -> None:
        """Store a box row; ``tracklet`` when the caller knows which one holds the frame already."""
        x, y, bw, bh = box
        tid = tracklet if tracklet is not None else self._tracklets.claim(seq_id, f, eid)
        self._put(
            "boxes",
            (seq_id, f, eid),
            {
                "sequence_id": seq_id,
                "frame_index": f,
                "entity_id": eid,
                "tracklet_id": tid,
                "x": x,
                "y": y,
                "w": bw,
                "h": bh,
                **meta,
            },
        )

    def remove_box(self, seq: str, frame: int, entity: str) -> bool:
        return self._remove("boxes", seq, entity, [frame]) > 0

    def remove_boxes(self, seq: str, entity: str, frames: Sequence[int] | range | None = None) -> int:
        return self._remove("boxes", seq, entity, frames)

    # ------------------------------------------------------------------ states
    def set_state(self, seq: str, frame: int, entity: str, **values: Any) -> None:
        """Set custom per-frame attributes of an entity (``occluded=True, visibility=0.4``)."""
        seq_id = self._seq(seq)
        f = self._frame(seq_id, frame)
        eid = self._entity(seq_id, entity)
        if not values:
            raise ValidationError("states: set_state needs at least one field=value")
        key = (seq_id, f, eid)
        old = self._tables["states"].get(key)
        custom = self._custom("states", values, partial_of=old)
        with self.transaction(f"set state {f}"):
            tid = self._tracklets.claim(seq_id, f, eid)
            self._put(
                "states",
                key,
                {"sequence_id": seq_id, "frame_index": f, "entity_id": eid, "tracklet_id": tid, **custom},
            )

    def remove_state(self, seq: str, frame: int, entity: str) -> bool:
        return self._remove("states", seq, entity, [frame]) > 0

    def rle(self, seq: str, frame: int, entity: str) -> rlemod.RLE | None:
        seq_id = self._seq(seq)
        key = (seq_id, self._frame(seq_id, frame), self._entity(seq_id, entity))
        return self._rle(key)

    def _rle(self, key: Key) -> rlemod.RLE | None:
        row = self._tables["masks"].get(key)
        if row is None:
            return None
        return {"size": [row["height"], row["width"]], "counts": row["counts"]}

    def mask(self, seq: str, frame: int, entity: str) -> np.ndarray | None:
        """An entity's mask on a frame as HxW bool, or None where it has none."""
        r = self.rle(seq, frame, entity)
        return None if r is None else rlemod.decode(r)

    def masks(self, seq: str, frame: int) -> dict[str, np.ndarray]:
        """Every mask on a frame: {entity_id: HxW bool}."""
        seq_id = self._seq(seq)
        f = self._frame(seq_id, frame)
        store = self._tables["masks"]
        out = {}
        for key in sorted(store.lookup("by_frame", (seq_id, f)), key=lambda k: natural_key(k[2])):
            counts = store.value(key, "counts")
            out[key[2]] = rlemod.decode({"size": self._size(seq_id), "counts": counts})
        return out

    def _size(self, seq_id: str) -> list[int]:
        row = self._tables["sequences"].get((seq_id,))
        assert row is not None
        return [row["height"], row["width"]]

    def rles(self, seq: str, frame: int) -> dict[str, rlemod.RLE]:
        """Every mask on a frame as compressed RLE: {entity_id: {"size", "counts"}} (no decode)."""
        seq_id = self._seq(seq)
        f = self._frame(seq_id, frame)
        store = self._tables["masks"]
        size = self._size(seq_id)
        keys = sorted(store.lookup("by_frame", (seq_id, f)), key=lambda k: natural_key(k[2]))
        return {k[2]: {"size": list(size), "counts": store.value(k, "counts")} for k in keys}

    def mask_frames(self, seq: str, entity: str) -> list[int]:
        """Frames on which an entity has a mask, sorted."""
        seq_id = self._seq(seq)
        eid = self._entity(seq_id, entity)
        return sorted(k[1] for k in self._tables["masks"].lookup("by_entity", (seq_id, eid)))

    def annotation(self, table: str, seq: str, frame: int, entity: str) -> dict[str, Any] | None:
        """The full row of a mask, box or state (source, score, keyframe, tracklet...)."""
        if table not in ANNOTATIONS:
            raise ValidationError(f"annotation: table must be one of {ANNOTATIONS}, got {table!r}")
        seq_id = self._seq(seq)
        return self._tables[table].get((seq_id, self._frame(seq_id, frame), self._entity(seq_id, entity)))

    def box(self, seq: str, frame: int, entity: str) -> tuple[float, float, float, float] | None:
        row = self.annotation("boxes", seq, frame, entity)
        return None if row is None else (row["x"], row["y"], row["w"], row["h"])

    def boxes(self, seq: str, frame: int) -> dict[str, tuple[float, float, float, float]]:
        seq_id = self._seq(seq)
        f = self._frame(seq_id, frame)
        store = self._tables["boxes"]
        out = {}
        for key in sorted(store.lookup("by_frame", (seq_id, f)), key=lambda k: natural_key(k[2])):
            row = store.get(key)
            assert row is not None
            out[key[2]] = (row["x"], row["y"], row["w"], row["h"])
        return out

    def state(self, seq: str, frame: int, entity: str) -> dict[str, Any]:
        """Custom state fields of an entity on a frame (None for unset fields)."""
        row = self.annotation("states", seq, frame, entity)
        names = [f.name for f in self.custom_fields["states"]]
        return {n: (row or {}).get(n) for n in names}

    def states(self, seq: str, frame: int) -> dict[str, dict[str, Any]]:
        seq_id = self._seq(seq)
        f = self._frame(seq_id, frame)
        keys = self._tables["states"].lookup("by_frame", (seq_id, f))
        return {k[2]: self.state(seq_id, f, k[2]) for k in sorted(keys, key=lambda k: natural_key(k[2]))}


def _check_box(box: Any) -> tuple[float, float, float, float]:
    try:
        x, y, bw, bh = (float(v) for v in box)
    except (TypeError, ValueError):
        raise ValidationError(f"boxes: expected (x, y, w, h), got {box!r}") from None
    if not all(np.isfinite(v) for v in (x, y, bw, bh)):
        raise ValidationError(f"boxes: box {box!r} has a non-finite value")
    if bw <= 0 or bh <= 0:
        raise ValidationError(f"boxes: box {box!r} has a non-positive width or height")
    return (x, y, bw, bh)
