"""Masks, boxes and per-frame states: their edits and reads, mixed into Dataset.

Kept apart from dataset.py, which holds the tables, transactions, sequences and entities;
everything here goes through the same validated, transactional ``_put``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from . import rle as rlemod
from . import schema as sch
from .core import ANNOTATIONS, Core, reads, writes
from .errors import ValidationError
from .interpolation import lerp_box
from .naming import natural_key
from .versions import Key, Row

__all__ = ["ANNOTATIONS", "INTERPOLATED", "AnnotationsMixin"]

INTERPOLATED = "interpolated"  # the `source` of boxes and masks filled in between keyframes


def fingerprint(counts: bytes | None) -> int | None:
    """What a review mark remembers of the mask it accepted: a 64-bit BLAKE2b digest of its compressed
    RLE counts, which are canonical (equal pixels, equal bytes); None for no mask."""
    if counts is None:
        return None
    return int.from_bytes(hashlib.blake2b(counts, digest_size=8).digest(), "little", signed=True)


class AnnotationsMixin(Core):
    # ------------------------------------------------------------------ resolving references
    def resolve_sequence(self, seq: Any) -> str:
        """The id of a sequence, or a ValidationError naming what is unknown."""
        if isinstance(seq, str) and (seq,) in self._view()["sequences"]:
            return seq
        raise ValidationError(f"sequences.id: unknown sequence {seq!r}")

    def resolve_entity(self, seq_id: str, entity: Any) -> str:
        """The id of an entity of ``seq_id`` given by id or by name."""
        ents = self._view()["entities"]
        if isinstance(entity, str):
            row = ents.get((entity,))
            if row is not None:
                if row["sequence_id"] != seq_id:
                    raise ValidationError(
                        f"entities.id: entity {entity!r} belongs to sequence "
                        f"{row['sequence_id']!r}, not {seq_id!r}"
                    )
                return entity
            found = ents.lookup("by_name", (seq_id, entity))
            if found:
                return str(next(iter(found))[0])
        raise ValidationError(f"entities.id: unknown entity {entity!r} in sequence {seq_id!r}")

    def resolve_frame(self, seq_id: str, frame: Any) -> int:
        """A frame index of ``seq_id``, checked to be an integer in range."""
        if isinstance(frame, (bool, np.bool_)) or not isinstance(frame, (int, np.integer)):
            raise ValidationError(
                f"frames.frame_index: expected an integer, got {type(frame).__name__} {frame!r}"
            )
        n = len(self._view().frame_info(seq_id).uris)
        if not 0 <= int(frame) < n:
            raise ValidationError(
                f"frames.frame_index: frame {int(frame)} is out of range for sequence "
                f"{seq_id!r} with {n} frames"
            )
        return int(frame)

    def check_fields(
        self, table: str, values: Mapping[str, Any], *, partial_of: Row | None = None
    ) -> dict[str, Any]:
        """Custom field values checked against their declared types (all declared fields, others None)."""
        fields = {f.name: f for f in self.custom_fields[table]}
        if table == "states" and "reviewed" in values:
            raise ValidationError(
                "states.reviewed: is the built-in review mark, not a custom field; set it with "
                "ds.mark_reviewed(seq, frames, entity) (reviewed=False clears it)"
            )
        unknown = set(values) - set(fields)
        if unknown:
            declared = ", ".join(fields) or "none"
            raise ValidationError(
                f"{table}: unknown field(s) {', '.join(sorted(unknown))} (declared: {declared})"
            )
        out = {name: (partial_of or {}).get(name) for name in fields}
        for name, value in values.items():
            out[name] = sch.coerce_value(table, fields[name], value)
        return out

    # the short names the dataset's own modules use
    _seq = resolve_sequence
    _entity = resolve_entity
    _frame = resolve_frame
    _custom = check_fields

    # ------------------------------------------------------------------ masks
    @writes
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

    @writes
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
        counts = enc["counts"] if rlemod.area(enc) else None
        if not meta["keyframe"]:
            self._unreview(key, counts)
        elif self._tables["states"].value(key, "reviewed"):  # a person's own mask: the mark holds it
            row = self._tables["states"].get(key)
            self._put("states", key, {**row, "reviewed_mask": fingerprint(counts)})
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

    def _unreview(self, key: Key, counts: bytes | None) -> None:
        """A write that is not a person's (not a keyframe) is about to store ``counts`` (None: no
        mask) at ``key``: if that (frame, entity) was reviewed and its pixels change, what was
        accepted is no longer what is there, so the mark goes, in the same transaction. One keyed
        lookup when it was not reviewed (the common case)."""
        states = self._tables["states"]
        if not states.value(key, "reviewed"):
            return
        if self._tables["masks"].value(key, "counts") == counts:
            return  # compressed RLE is canonical: equal bytes, equal pixels
        self._put_reviewed(key, states.get(key), None)

    def _mark_holds(self, key: Key) -> bool:
        """Whether (frame, entity) ``key`` is marked reviewed and its mask is still the one accepted
        (two keyed lookups; a digest of the counts only when it is marked)."""
        states = self._tables["states"]
        if not states.value(key, "reviewed"):
            return False
        return states.value(key, "reviewed_mask") == fingerprint(self._tables["masks"].value(key, "counts"))

    def _put_reviewed(self, key: Key, row: Row | None, mark: bool | None) -> None:
        """Set a state row's review mark; a row left with nothing set (no mark, no custom value) goes,
        so that unmarking gives back the tracklets as they were."""
        seq_id, f, eid = key
        if mark:
            if row is None:
                tid = self._tracklets.claim(seq_id, f, eid)
                row = {"sequence_id": seq_id, "frame_index": f, "entity_id": eid, "tracklet_id": tid}
                row.update(dict.fromkeys(fl.name for fl in self.custom_fields["states"]))
            counts = self._tables["masks"].value(key, "counts")
            self._put("states", key, {**row, "reviewed": True, "reviewed_mask": fingerprint(counts)})
            return
        if row is None:
            return
        if any(row.get(fl.name) is not None for fl in self.custom_fields["states"]):
            self._put("states", key, {**row, "reviewed": None, "reviewed_mask": None})
            return
        self._put("states", key, None)
        self._tracklets.released(seq_id, f, eid)

    @writes
    def remove_mask(self, seq: str, frame: int, entity: str) -> bool:
        """Erase an entity's mask on a frame; False if there was none."""
        return self._remove("masks", seq, entity, [frame]) > 0

    @writes
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
            keys = sorted({(seq_id, self._frame(seq_id, f), eid) for f in frames})
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
    @writes
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

    @writes
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

    @writes
    def remove_box(self, seq: str, frame: int, entity: str) -> bool:
        """Remove an entity's box on a frame (boxes between keyframes are recomputed); False if none."""
        return self._remove("boxes", seq, entity, [frame]) > 0

    @writes
    def remove_boxes(self, seq: str, entity: str, frames: Sequence[int] | range | None = None) -> int:
        """Remove an entity's boxes on the given frames (all if None), in any order; returns how many."""
        return self._remove("boxes", seq, entity, frames)

    # ------------------------------------------------------------------ boxes in between
    def _xywh(self, seq_id: str, f: int, eid: str) -> tuple[float, ...]:
        found = self._tables["boxes"].values((seq_id, f, eid), ("x", "y", "w", "h"))
        assert found is not None
        return found

    def _keyframe_boxes(self, seq_id: str, eid: str, s: int, e: int) -> list[int]:
        store = self._tables["boxes"]
        keys = store.lookup("by_entity", (seq_id, eid))
        return sorted(k[1] for k in keys if s <= k[1] <= e and store.value(k, "keyframe"))

    def _refresh_boxes(self, seq_id: str, eid: str, lo: int, hi: int, *, whole: bool = False) -> None:
        """Recompute interpolated boxes of the entity's tracklets that overlap [lo, hi].

        Only the stretch between the keyframe boxes around [lo, hi] can change, so unless
        ``whole`` (a switch flipped, a tracklet cut or joined) only that stretch is read.
        """
        for row in self._tracklets.rows(seq_id, eid):
            if row["start_frame"] <= hi and row["end_frame"] >= lo:
                self._interpolate_boxes(row, None if whole else (lo, hi))

    def _interpolate_boxes(self, row: dict[str, Any], near: tuple[int, int] | None = None) -> int:
        seq_id, eid, s, e = _span(row)
        store = self._tables["boxes"]
        if near is not None:  # widen to the keyframe boxes on either side (or the tracklet's ends)
            s0, e0 = s, e
            s = max(s0, min(near[0], e0))
            while s > s0 and not store.value((seq_id, s, eid), "keyframe"):
                s -= 1
            e = min(e0, max(near[1], s0))
            while e < e0 and not store.value((seq_id, e, eid), "keyframe"):
                e += 1
        # Only the two small columns for every box: whole rows cost too much on long tracks.
        kinds: dict[int, tuple[Any, ...]] = {}
        if near is None:
            for k in store.lookup("by_entity", (seq_id, eid)):
                found = store.values(k, ("source", "keyframe"))
                if s <= k[1] <= e and found is not None:
                    kinds[k[1]] = found
        else:
            for f in range(s, e + 1):
                found = store.values((seq_id, f, eid), ("source", "keyframe"))
                if found is not None:
                    kinds[f] = found
        wanted: dict[int, tuple[float, float, float, float]] = {}
        if _on(row):
            keys = sorted(f for f, (_src, kf) in kinds.items() if kf)
            for k0, k1 in pairwise(keys):
                if k1 - k0 < 2:
                    continue
                a, b = self._xywh(seq_id, k0, eid), self._xywh(seq_id, k1, eid)
                for f in range(k0 + 1, k1):
                    if f not in kinds or kinds[f][0] == INTERPOLATED:
                        wanted[f] = lerp_box(a, b, (f - k0) / (k1 - k0))
        stale = [f for f, (src, kf) in kinds.items() if src == INTERPOLATED and not kf and f not in wanted]
        for f in stale:
            self._put("boxes", (seq_id, f, eid), None)
        for f, box in wanted.items():
            if f in kinds and np.array_equal(
                np.array(self._xywh(seq_id, f, eid), np.float32), np.array(box, np.float32)
            ):
                continue
            meta = {"source": INTERPOLATED, "score": None, "keyframe": False}
            self._put_box(seq_id, f, eid, box, meta, tracklet=row["id"])
        self._tracklets.released_many(seq_id, eid, stale)
        return len(wanted)

    # ------------------------------------------------------------------ states
    @writes
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
            self._put_state(key, old, custom)

    def _put_state(self, key: Key, old: Row | None, custom: dict[str, Any]) -> None:
        """Store a state row's custom fields; its review mark stays as it was."""
        seq_id, f, eid = key
        tid = self._tracklets.claim(seq_id, f, eid)
        kept = {c: None if old is None else old.get(c) for c in ("reviewed", "reviewed_mask")}
        row = {"sequence_id": seq_id, "frame_index": f, "entity_id": eid, "tracklet_id": tid}
        self._put("states", key, {**row, **kept, **custom})

    @writes
    def remove_state(self, seq: str, frame: int, entity: str) -> bool:
        """Remove an entity's state row on a frame; False if there was none."""
        return self._remove("states", seq, entity, [frame]) > 0

    @reads
    def rle(self, seq: str, frame: int, entity: str) -> rlemod.RLE | None:
        """An entity's mask on a frame as compressed COCO RLE ``{"size": [h, w], "counts": bytes}``
        (exactly as pycocotools writes it), or None where it has none. No decode."""
        seq_id = self._seq(seq)
        key = (seq_id, self._frame(seq_id, frame), self._entity(seq_id, entity))
        return self._rle(key)

    def _rle(self, key: Key) -> rlemod.RLE | None:
        row = self._tables["masks"].get(key)
        if row is None:
            return None
        return {"size": [row["height"], row["width"]], "counts": row["counts"]}

    @reads
    def mask(self, seq: str, frame: int, entity: str) -> np.ndarray | None:
        """An entity's mask on a frame as HxW bool, or None where it has none."""
        r = self.rle(seq, frame, entity)
        return None if r is None else rlemod.decode(r)

    @reads
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

    @reads
    def rles(self, seq: str, frame: int) -> dict[str, rlemod.RLE]:
        """Every mask on a frame as compressed RLE: {entity_id: {"size", "counts"}} (no decode)."""
        seq_id = self._seq(seq)
        f = self._frame(seq_id, frame)
        store = self._tables["masks"]
        size = self._size(seq_id)
        keys = sorted(store.lookup("by_frame", (seq_id, f)), key=lambda k: natural_key(k[2]))
        return {k[2]: {"size": list(size), "counts": store.value(k, "counts")} for k in keys}

    @reads
    def mask_frames(self, seq: str, entity: str) -> list[int]:
        """Frames on which an entity has a mask, sorted."""
        seq_id = self._seq(seq)
        eid = self._entity(seq_id, entity)
        return sorted(k[1] for k in self._tables["masks"].lookup("by_entity", (seq_id, eid)))

    @reads
    def annotation(self, table: str, seq: str, frame: int, entity: str) -> dict[str, Any] | None:
        """The full row of a mask, box or state (source, score, keyframe, tracklet...)."""
        if table not in ANNOTATIONS:
            raise ValidationError(f"annotation: table must be one of {ANNOTATIONS}, got {table!r}")
        seq_id = self._seq(seq)
        return self._tables[table].get((seq_id, self._frame(seq_id, frame), self._entity(seq_id, entity)))

    @reads
    def box(self, seq: str, frame: int, entity: str) -> tuple[float, float, float, float] | None:
        """The stored box of an entity on a frame as (x, y, w, h) in pixels (a keyframe or an
        interpolated one), or None. Prompts take it as ``box_xywh=``; ``box=`` is (x0, y0, x1, y1)."""
        row = self.annotation("boxes", seq, frame, entity)
        return None if row is None else (row["x"], row["y"], row["w"], row["h"])

    @reads
    def boxes(self, seq: str, frame: int) -> dict[str, tuple[float, float, float, float]]:
        """Every box on a frame: {entity_id: (x, y, w, h)} in pixels."""
        seq_id = self._seq(seq)
        f = self._frame(seq_id, frame)
        store = self._tables["boxes"]
        out = {}
        for key in sorted(store.lookup("by_frame", (seq_id, f)), key=lambda k: natural_key(k[2])):
            row = store.get(key)
            assert row is not None
            out[key[2]] = (row["x"], row["y"], row["w"], row["h"])
        return out

    @reads
    def state(self, seq: str, frame: int, entity: str) -> dict[str, Any]:
        """Custom state fields of an entity on a frame (None for unset fields). The built-in review
        mark is not one of them: read it with ``is_reviewed`` / ``reviewed_frames``."""
        row = self.annotation("states", seq, frame, entity)
        names = [f.name for f in self.custom_fields["states"]]
        return {n: (row or {}).get(n) for n in names}

    @reads
    def states(self, seq: str, frame: int) -> dict[str, dict[str, Any]]:
        """The custom state fields of every entity with a state row on a frame: {entity: {field: value}}."""
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


def _on(row: dict[str, Any]) -> bool:
    """A tracklet's box interpolation switch; null (files written before the column existed) means on."""
    return row.get("interpolate") is not False


def _span(row: dict[str, Any]) -> tuple[str, str, int, int]:
    return row["sequence_id"], row["entity_id"], int(row["start_frame"]), int(row["end_frame"])
