"""Editing in time: tracklet split/merge/glue/relink/delete/trim, interpolation, states over ranges.

Mixed into Dataset. Each public method validates everything first, then applies its row
edits in one transaction, so it is one undo step and a refused call changes nothing.
Tracklets are referred to by their id, which is unique in the dataset.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from . import rle as rlemod
from .annotations import INTERPOLATED, AnnotationsMixin, _on, _span
from .core import reads, writes
from .errors import ValidationError
from .interpolation import MaskInterpolator

__all__ = ["INTERPOLATED", "SIDES", "TemporalMixin"]

SIDES = ("next", "previous")


class TemporalMixin(AnnotationsMixin):
    """Edits across frames, built on the per-frame edits of AnnotationsMixin."""

    # ------------------------------------------------------------------ reads
    @reads
    def tracklet(self, tracklet: str) -> dict[str, Any]:
        """A tracklet's row (id, sequence_id, entity_id, start/end frame and timestamp, interpolate)."""
        if not isinstance(tracklet, str):
            raise ValidationError(f"tracklets.id: expected a tracklet id string, got {tracklet!r}")
        row = self._tables["tracklets"].get((tracklet,))
        if row is None:
            raise ValidationError(f"tracklets.id: unknown tracklet {tracklet!r}")
        return row

    # ------------------------------------------------------------------ tracklet edits
    @writes
    def split_tracklet(self, tracklet: str, frame: int) -> str:
        """Cut a tracklet before ``frame``: it keeps [start, frame - 1]; returns the new one's id."""
        row = self.tracklet(tracklet)
        seq_id, eid, s, e = _span(row)
        f = self._frame(seq_id, frame)
        if not s < f <= e:
            raise ValidationError(
                f"tracklets: cannot split {tracklet!r} (frames {s}..{e}) at frame {f}: "
                f"the frame must be in {s + 1}..{e}"
                if s < e
                else f"tracklets: cannot split {tracklet!r}: it holds the single frame {s}"
            )
        keeper = self._tracklets
        for lo, hi in ((s, f - 1), (f, e)):
            if not keeper.annotated_frames(seq_id, eid, lo, hi):
                raise ValidationError(
                    f"tracklets: splitting {tracklet!r} at frame {f} would leave frames {lo}..{hi} "
                    "with no annotation; trim the tracklet instead"
                )
        with self.transaction(f"split tracklet {tracklet} at {f}"):
            keeper.write(row, s, f - 1)
            new = keeper.new_row(seq_id, eid, f, e, interpolate=_on(row))
            keeper.retag(seq_id, eid, f, e, new)
            self._refresh_boxes(seq_id, eid, s, e, whole=True)
        return new

    @writes
    def merge_tracklets(self, a: str, b: str) -> str:
        """Join two tracklets of one entity into the earlier one; frames between stay a gap until filled."""
        ra, rb = self.tracklet(a), self.tracklet(b)
        if a == b:
            raise ValidationError(f"tracklets: cannot merge {a!r} with itself")
        if (ra["sequence_id"], ra["entity_id"]) != (rb["sequence_id"], rb["entity_id"]):
            raise ValidationError(
                f"tracklets: cannot merge tracklets of different entities: {a!r} is entity "
                f"{ra['entity_id']!r}'s, {b!r} is entity {rb['entity_id']!r}'s"
            )
        first, second = sorted((ra, rb), key=lambda r: r["start_frame"])
        seq_id, eid = first["sequence_id"], first["entity_id"]
        lo, hi = first["start_frame"], max(first["end_frame"], second["end_frame"])
        between = [
            r["id"]
            for r in self._tracklets.rows(seq_id, eid)
            if r["id"] not in (a, b) and r["start_frame"] <= hi and r["end_frame"] >= lo
        ]
        if between:
            raise ValidationError(
                f"tracklets: cannot merge {a!r} and {b!r}: {', '.join(map(repr, between))} of the same "
                "entity lies between them; merge it first"
            )
        with self.transaction(f"merge tracklets {first['id']} and {second['id']}"):
            self._tracklets.write(first, lo, hi)
            self._tracklets.retag(seq_id, eid, second["start_frame"], second["end_frame"], first["id"])
            self._put("tracklets", (second["id"],), None)
            self._refresh_boxes(seq_id, eid, lo, hi, whole=True)
        return str(first["id"])

    @writes
    def glue_tracklet(self, tracklet: str, side: str = "next") -> str:
        """Merge a tracklet with its entity's nearest tracklet on ``side`` ("next" or "previous")."""
        row = self.tracklet(tracklet)
        if side not in SIDES:
            raise ValidationError(f"tracklets: side must be 'next' or 'previous', got {side!r}")
        rows = self._tracklets.rows(row["sequence_id"], row["entity_id"])
        if side == "next":
            found = [r for r in rows if r["start_frame"] > row["end_frame"]]
            other = found[0] if found else None
        else:
            found = [r for r in rows if r["end_frame"] < row["start_frame"]]
            other = found[-1] if found else None
        if other is None:
            raise ValidationError(
                f"tracklets: {tracklet!r} has no {side} tracklet of entity {row['entity_id']!r} to glue to"
            )
        return self.merge_tracklets(tracklet, other["id"])

    @writes
    def relink_tracklet(self, tracklet: str, entity: str, *, start: int | None = None) -> str:
        """Give a tracklet (or its part from ``start``) and its masks, boxes and states to another entity.

        Fixes an identity switch in one step. Refused when the other entity already has a tracklet
        on any of those frames. Returns the id of the tracklet now holding them.
        """
        row = self.tracklet(tracklet)
        seq_id, src, s, e = _span(row)
        dst = self._entity(seq_id, entity)
        if dst == src:
            raise ValidationError(f"tracklets: {tracklet!r} already belongs to entity {dst!r}")
        lo = s if start is None else self._frame(seq_id, start)
        if not s <= lo <= e:
            raise ValidationError(f"tracklets: start {lo} is outside tracklet {tracklet!r} (frames {s}..{e})")
        keeper = self._tracklets
        clash = [r for r in keeper.rows(seq_id, dst) if r["start_frame"] <= e and r["end_frame"] >= lo]
        if clash:
            c = clash[0]
            raise ValidationError(
                f"tracklets: cannot relink frames {lo}..{e} of {tracklet!r} to entity {dst!r}: its "
                f"tracklet {c['id']!r} already covers frames {c['start_frame']}..{c['end_frame']}"
            )
        moving = keeper.annotation_keys(seq_id, src, lo, e)
        if not moving:
            raise ValidationError(f"tracklets: {tracklet!r} has no annotation on frames {lo}..{e} to relink")
        keep = lo > s and bool(keeper.annotated_frames(seq_id, src, s, lo - 1))
        with self.transaction(f"relink tracklet {tracklet} to {dst}"):
            if keep:
                keeper.write(row, s, lo - 1)
            else:
                self._put("tracklets", (tracklet,), None)
            new = keeper.new_row(seq_id, dst, lo, e, interpolate=_on(row))
            for table, key in moving:
                ann = self._tables[table].get(key)
                assert ann is not None
                self._put(table, key, None)
                self._put(table, (seq_id, key[1], dst), {**ann, "entity_id": dst, "tracklet_id": new})
            self._refresh_boxes(seq_id, src, s, e, whole=True)
            self._refresh_boxes(seq_id, dst, lo, e, whole=True)
        return new

    @writes
    def delete_tracklet(self, tracklet: str) -> int:
        """Delete a tracklet with its masks, boxes and states; returns how many annotations went."""
        row = self.tracklet(tracklet)
        seq_id, eid, s, e = _span(row)
        keys = self._tracklets.annotation_keys(seq_id, eid, s, e)
        with self.transaction(f"delete tracklet {tracklet}"):
            for table, key in keys:
                self._put(table, key, None)
            self._put("tracklets", (tracklet,), None)
        return len(keys)

    @writes
    def set_tracklet_span(self, tracklet: str, start: int, end: int) -> None:
        """Trim or extend a tracklet to [start, end]; annotations left outside are removed.

        Extending is refused when it would overlap another tracklet of the entity; trimming is
        refused when nothing of the tracklet would be left (delete it instead).
        """
        row = self.tracklet(tracklet)
        seq_id, eid, s, e = _span(row)
        lo, hi = self._frame(seq_id, start), self._frame(seq_id, end)
        if lo > hi:
            raise ValidationError(f"tracklets: start {lo} is after end {hi}")
        keeper = self._tracklets
        for r in keeper.rows(seq_id, eid):
            if r["id"] != tracklet and r["start_frame"] <= hi and r["end_frame"] >= lo:
                raise ValidationError(
                    f"tracklets: {tracklet!r} cannot cover frames {lo}..{hi}: tracklet {r['id']!r} of the "
                    f"same entity is on frames {r['start_frame']}..{r['end_frame']}"
                )
        if not keeper.annotated_frames(seq_id, eid, max(s, lo), min(e, hi)):
            raise ValidationError(
                f"tracklets: no annotation of {tracklet!r} would be left on frames {lo}..{hi}; "
                "delete the tracklet instead"
            )
        drop = keeper.annotation_keys(seq_id, eid, s, lo - 1) + keeper.annotation_keys(seq_id, eid, hi + 1, e)
        if (lo, hi) == (s, e):
            return
        with self.transaction(f"set span of tracklet {tracklet} to {lo}..{hi}"):
            for table, key in drop:
                self._put(table, key, None)
            keeper.write(row, lo, hi)
            self._refresh_boxes(seq_id, eid, min(s, lo), max(e, hi), whole=True)

    # ------------------------------------------------------------------ boxes in between
    @writes
    def set_tracklet_interpolation(self, tracklet: str, on: bool) -> None:
        """Switch box interpolation of a tracklet on or off (off where an occlusion would mislead it).

        Off removes the tracklet's interpolated boxes; on fills them in again.
        """
        row = self.tracklet(tracklet)
        if not isinstance(on, (bool, np.bool_)):
            raise ValidationError(f"tracklets.interpolate: expected a bool, got {on!r}")
        if _on(row) == bool(on) and row.get("interpolate") is not None:
            return
        seq_id, eid, s, e = _span(row)
        with self.transaction(f"box interpolation {'on' if on else 'off'} for {tracklet}"):
            self._put("tracklets", (tracklet,), {**row, "interpolate": bool(on)})
            self._refresh_boxes(seq_id, eid, s, e, whole=True)

    @writes
    def interpolate_boxes(self, tracklet: str) -> int:
        """Fill the boxes between a tracklet's keyframe boxes now; returns how many frames hold one.

        This happens by itself on every box edit; calling it checks that there is something to do.
        """
        row = self.tracklet(tracklet)
        seq_id, eid, s, e = _span(row)
        if not _on(row):
            raise ValidationError(
                f"tracklets: box interpolation is off for {tracklet!r}; "
                "turn it on with set_tracklet_interpolation"
            )
        keys = self._keyframe_boxes(seq_id, eid, s, e)
        if len(keys) < 2:
            raise ValidationError(
                f"boxes: interpolation needs two keyframe boxes in tracklet {tracklet!r}, it has {len(keys)}"
            )
        with self.transaction(f"interpolate boxes of {tracklet}"):
            return self._interpolate_boxes(row)

    @writes
    def box_from_mask(self, seq: str, frame: int, entity: str, *, keyframe: bool = True) -> tuple[float, ...]:
        """Store the tight box of an entity's mask on a frame as its box there; returns (x, y, w, h)."""
        seq_id = self._seq(seq)
        f = self._frame(seq_id, frame)
        eid = self._entity(seq_id, entity)
        enc = self._rle((seq_id, f, eid))
        if enc is None:
            raise ValidationError(f"boxes: entity {eid!r} has no mask on frame {f} to take a box from")
        box = rlemod.bbox(enc)
        with self.transaction(f"box from mask {f}"):
            self._write_box(seq_id, f, eid, box, _meta(keyframe))
        return box

    @writes
    def boxes_from_masks(
        self, seq: str, entity: str, frames: Iterable[int] | None = None, *, keyframe: bool = True
    ) -> int:
        """Boxes from the masks on ``frames`` (all if None); frames without a mask are skipped."""
        seq_id = self._seq(seq)
        eid = self._entity(seq_id, entity)
        have = sorted(k[1] for k in self._tables["masks"].lookup("by_entity", (seq_id, eid)))
        if frames is not None:
            wanted = {self._frame(seq_id, f) for f in frames}
            have = [f for f in have if f in wanted]
        if not have:
            raise ValidationError(f"boxes: entity {eid!r} has no mask on those frames to take boxes from")
        meta = _meta(keyframe)
        with self.transaction(f"boxes from {len(have)} masks"):
            for f in have:
                enc = self._rle((seq_id, f, eid))
                assert enc is not None
                self._put_box(seq_id, f, eid, rlemod.bbox(enc), meta)
            self._refresh_boxes(seq_id, eid, have[0] - 1, have[-1] + 1)
        return len(have)

    # ------------------------------------------------------------------ masks in between
    @writes
    def interpolate_masks(self, tracklet: str, start: int | None = None, end: int | None = None) -> int:
        """Fill gaps between a tracklet's mask keyframes by shape interpolation; returns frames filled.

        A gap is the frames between two consecutive mask keyframes holding no mask, or only masks
        interpolated before (recomputed); gaps with model output are left alone. ``start`` and
        ``end`` keep to the gaps that touch [start, end].
        """
        row = self.tracklet(tracklet)
        seq_id, eid, s, e = _span(row)
        lo = s if start is None else self._frame(seq_id, start)
        hi = e if end is None else self._frame(seq_id, end)
        store = self._tables["masks"]
        rows: dict[int, tuple[Any, ...]] = {}
        for k in store.lookup("by_entity", (seq_id, eid)):
            found = store.values(k, ("source", "keyframe"))
            if s <= k[1] <= e and found is not None:
                rows[k[1]] = found
        keys = sorted(f for f, (_src, kf) in rows.items() if kf)
        if len(keys) < 2:
            raise ValidationError(
                f"masks: interpolation needs two mask keyframes in tracklet {tracklet!r}, it has {len(keys)}"
            )
        gaps = [
            (k0, k1)
            for k0, k1 in pairwise(keys)
            if k1 - k0 > 1
            and k1 - 1 >= lo
            and k0 + 1 <= hi
            and all(f not in rows or rows[f][0] == INTERPOLATED for f in range(k0 + 1, k1))
        ]
        if not gaps:
            raise ValidationError(
                f"masks: no gap to fill in tracklet {tracklet!r} on frames {lo}..{hi}: the frames between "
                "its mask keyframes are next to each other or hold model output"
            )
        filled: list[tuple[int, rlemod.RLE]] = []
        for k0, k1 in gaps:
            a, b = self._rle((seq_id, k0, eid)), self._rle((seq_id, k1, eid))
            assert a is not None and b is not None
            between = MaskInterpolator(rlemod.decode(a), rlemod.decode(b))
            for f in range(k0 + 1, k1):
                filled.append((f, rlemod.encode(between.at((f - k0) / (k1 - k0)))))
        meta = {"source": INTERPOLATED, "score": None, "keyframe": False}
        with self.transaction(f"interpolate masks of {tracklet}"):
            for f, enc in filled:
                self._write_mask(seq_id, f, eid, enc, meta)
        return len(filled)

    # ------------------------------------------------------------------ states over ranges
    @writes
    def set_states(self, seq: str, entity: str, frames: Sequence[int] | range, **values: Any) -> int:
        """Set the same state fields on many frames (apply-to-range, one undo step); returns how many."""
        seq_id = self._seq(seq)
        eid = self._entity(seq_id, entity)
        if not values:
            raise ValidationError("states: set_states needs at least one field=value")
        if isinstance(frames, (str, bytes)) or not isinstance(frames, Iterable):
            raise ValidationError(
                f"states: frames must be a range or a list of frame indices, got {frames!r}"
            )
        fs = sorted({self._frame(seq_id, f) for f in frames})
        if not fs:
            raise ValidationError("states: set_states got no frames")
        store = self._tables["states"]
        rows = []
        for f in fs:
            key = (seq_id, f, eid)
            rows.append((f, key, self._custom("states", values, partial_of=store.get(key))))
        with self.transaction(f"set state on {len(fs)} frames"):
            for _f, key, custom in rows:
                self._put_state(key, store.get(key), custom)
        return len(fs)


def _meta(keyframe: Any) -> dict[str, Any]:
    if not isinstance(keyframe, (bool, np.bool_)):
        raise ValidationError(f"boxes.keyframe: expected a bool, got {keyframe!r}")
    return {"source": "mask", "score": None, "keyframe": bool(keyframe)}
