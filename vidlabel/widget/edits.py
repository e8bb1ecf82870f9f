"""The Annotator's temporal edits: tracklets, boxes and per-frame states, one Dataset call each.

Mixed into :class:`~vidlabel.widget.Annotator`. Each ``_do_<kind>`` checks its request
against the current sequence on the message thread and returns the work to run on the
widget's worker thread (see ``Annotator._queue``); a refused request changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError

if TYPE_CHECKING:
    from ..dataset import Dataset
    from .protocol import Request

Work = Callable[[], Any]


class TemporalEdits:
    if TYPE_CHECKING:  # provided by Annotator
        _ds: Dataset
        sequence: str

        def _frame_index(self, value: int, what: str) -> int: ...
        def _entity_id(self, value: str, what: str) -> str: ...

    def _tracklet_id(self, value: str, what: str) -> str:
        try:
            row = self._ds.tracklet(value)
        except ValidationError as exc:
            raise ValidationError(f"{what}: {exc}") from None
        if row["sequence_id"] != self.sequence:
            raise ValidationError(
                f"{what}: tracklet {value!r} belongs to sequence {row['sequence_id']!r}, "
                f"not the one shown ({self.sequence!r})"
            )
        return value

    def _frame_range(self, start: int, stop: int, what: str) -> range:
        n = self._ds.num_frames(self.sequence)
        if start < 0 or stop > n:
            raise ValidationError(f"{what}: range {start}..{stop} is outside the sequence (0..{n})")
        return range(start, stop)

    def _do_split_tracklet(self, req: Request) -> Work:
        tid = self._tracklet_id(req.fields["tracklet"], "split_tracklet.tracklet")
        frame = self._frame_index(req.fields["frame"], "split_tracklet.frame")
        return lambda: {"tracklet": self._ds.split_tracklet(tid, frame)}

    def _do_merge_tracklets(self, req: Request) -> Work:
        a = self._tracklet_id(req.fields["tracklet"], "merge_tracklets.tracklet")
        b = self._tracklet_id(req.fields["other"], "merge_tracklets.other")
        return lambda: {"tracklet": self._ds.merge_tracklets(a, b)}

    def _do_glue_tracklet(self, req: Request) -> Work:
        tid = self._tracklet_id(req.fields["tracklet"], "glue_tracklet.tracklet")
        side = req.fields["side"]
        return lambda: {"tracklet": self._ds.glue_tracklet(tid, side)}

    def _do_relink_tracklet(self, req: Request) -> Work:
        f = req.fields
        tid = self._tracklet_id(f["tracklet"], "relink_tracklet.tracklet")
        eid = self._entity_id(f["entity"], "relink_tracklet.entity")
        start = None if f.get("start") is None else self._frame_index(f["start"], "relink_tracklet.start")
        return lambda: {"tracklet": self._ds.relink_tracklet(tid, eid, start=start)}

    def _do_delete_tracklet(self, req: Request) -> Work:
        tid = self._tracklet_id(req.fields["tracklet"], "delete_tracklet.tracklet")
        return lambda: {"removed": self._ds.delete_tracklet(tid)}

    def _do_set_tracklet_span(self, req: Request) -> Work:
        f = req.fields
        tid = self._tracklet_id(f["tracklet"], "set_tracklet_span.tracklet")
        start = self._frame_index(f["start"], "set_tracklet_span.start")
        end = self._frame_index(f["end"], "set_tracklet_span.end")
        return lambda: self._ds.set_tracklet_span(tid, start, end)

    def _do_set_tracklet_interpolation(self, req: Request) -> Work:
        tid = self._tracklet_id(req.fields["tracklet"], "set_tracklet_interpolation.tracklet")
        on = req.fields["on"]
        return lambda: self._ds.set_tracklet_interpolation(tid, on)

    def _do_interpolate_masks(self, req: Request) -> Work:
        f = req.fields
        tid = self._tracklet_id(f["tracklet"], "interpolate_masks.tracklet")
        start = None if f.get("start") is None else self._frame_index(f["start"], "interpolate_masks.start")
        end = None if f.get("end") is None else self._frame_index(f["end"], "interpolate_masks.end")
        return lambda: {"filled": self._ds.interpolate_masks(tid, start, end)}

    def _do_set_box(self, req: Request) -> Work:
        f = req.fields
        seq = self.sequence
        frame = self._frame_index(f["frame"], "set_box.frame")
        eid = self._entity_id(f["entity"], "set_box.entity")
        x0, y0, x1, y1 = f["box"]
        box = (min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0))
        if box[2] <= 0 or box[3] <= 0:
            raise ValidationError(f"set_box.box: the box {f['box']} has no area")
        # Drawn boxes continue the track before them, so keyframes drawn along it interpolate.
        return lambda: self._ds.set_box(seq, frame, eid, box, extend=True)

    def _do_remove_box(self, req: Request) -> Work:
        seq = self.sequence
        frame = self._frame_index(req.fields["frame"], "remove_box.frame")
        eid = self._entity_id(req.fields["entity"], "remove_box.entity")
        return lambda: {"removed": self._ds.remove_box(seq, frame, eid)}

    def _do_box_from_mask(self, req: Request) -> Work:
        f = req.fields
        seq = self.sequence
        eid = self._entity_id(f["entity"], "box_from_mask.entity")
        frames = self._frame_range(f["start"], f["stop"], "box_from_mask")
        return lambda: {"written": self._ds.boxes_from_masks(seq, eid, frames)}

    def _do_set_state(self, req: Request) -> Work:
        f = req.fields
        seq = self.sequence
        eid = self._entity_id(f["entity"], "set_state.entity")
        frames = self._frame_range(f["start"], f["stop"], "set_state")
        values = dict(f["values"])
        known = {fld.name for fld in self._ds.custom_fields["states"]}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValidationError(
                f"set_state.values: unknown state field(s) {', '.join(unknown)} "
                f"(declared: {', '.join(sorted(known)) or 'none'})"
            )
        self._ds.check_fields("states", values)  # types checked now, before the request is queued
        return lambda: {"written": self._ds.set_states(seq, eid, frames, **values)}
