"""Tracklets follow the annotations.

A tracklet is a span [start_frame, end_frame] of one entity's presence. Setting an
annotation (mask, box or state) on a frame inside a tracklet joins it; next to one
(the frame just before or after) extends it, and bridging two merges them; anywhere
else starts a new tracklet. Removing annotations trims a tracklet from the end they
were at, and deletes it once it holds none; removing from the middle leaves a gap
(tracklets are split only on request, see temporal.py). All changes go through the
dataset's ``_put`` so they are undone with the edit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .versions import Key

_ANNOTATIONS = ("masks", "boxes", "states")


class TrackletKeeper:
    """Tracklet bookkeeping over the writer's draft: ``view()`` reads it, ``put`` writes to it."""

    def __init__(self, view: Callable[[], Any], put: Callable[[str, Key, Any], Any]) -> None:
        self._view = view
        self._put = put

    # ---- helpers -------------------------------------------------------------------------
    def rows(self, seq_id: str, eid: str) -> list[dict[str, Any]]:
        """The entity's tracklets, by start frame."""
        store = self._view()["tracklets"]
        rows = [store.get(k) for k in store.lookup("by_entity", (seq_id, eid))]
        return sorted((r for r in rows if r is not None), key=lambda r: r["start_frame"])

    def annotated(self, seq_id: str, frame: int, eid: str) -> bool:
        key = (seq_id, frame, eid)
        return any(key in self._view()[t] for t in _ANNOTATIONS)

    def annotated_frames(self, seq_id: str, eid: str, start: int, end: int) -> set[int]:
        """Frames in [start, end] on which the entity has a mask, box or state."""
        out: set[int] = set()
        for table in _ANNOTATIONS:
            out.update(
                k[1] for k in self._view()[table].lookup("by_entity", (seq_id, eid)) if start <= k[1] <= end
            )
        return out

    def annotation_keys(self, seq_id: str, eid: str, start: int, end: int) -> list[tuple[str, Key]]:
        """(table, key) of the entity's annotations in [start, end], in a stable order."""
        out: list[tuple[str, Key]] = []
        for table in _ANNOTATIONS:
            keys = self._view()[table].lookup("by_entity", (seq_id, eid))
            out.extend((table, k) for k in sorted(keys) if start <= k[1] <= end)
        return out

    def _timestamp(self, seq_id: str, frame: int) -> float:
        return float(self._view().frame_info(seq_id).timestamps[frame])

    def write(self, row: dict[str, Any], start: int, end: int) -> None:
        seq_id = row["sequence_id"]
        new = {
            "interpolate": True,
            **row,
            "start_frame": start,
            "end_frame": end,
            "start_timestamp": self._timestamp(seq_id, start),
            "end_timestamp": self._timestamp(seq_id, end),
        }
        self._put("tracklets", (row["id"],), new)

    def new_id(self, eid: str) -> str:
        store = self._view()["tracklets"]
        k = 1
        while (f"{eid}#{k}",) in store:
            k += 1
        return f"{eid}#{k}"

    def new_row(self, seq_id: str, eid: str, start: int, end: int, *, interpolate: bool = True) -> str:
        tid = self.new_id(eid)
        self.write(
            {"id": tid, "sequence_id": seq_id, "entity_id": eid, "interpolate": interpolate}, start, end
        )
        return tid

    def retag(self, seq_id: str, eid: str, start: int, end: int, tid: str) -> None:
        """Point every annotation of the entity in [start, end] at tracklet ``tid``."""
        for table, key in self.annotation_keys(seq_id, eid, start, end):
            row = self._view()[table].get(key)
            if row is not None and row["tracklet_id"] != tid:
                self._put(table, key, {**row, "tracklet_id": tid})

    # ---- the two events --------------------------------------------------------------------
    def claim(self, seq_id: str, frame: int, eid: str) -> str:
        """The tracklet an annotation on ``frame`` belongs to, creating or growing one as needed."""
        rows = self.rows(seq_id, eid)
        left = right = None
        for r in rows:
            if r["start_frame"] <= frame <= r["end_frame"]:
                return str(r["id"])
            if r["end_frame"] == frame - 1:
                left = r
            elif r["start_frame"] == frame + 1:
                right = r
        if left is not None and right is not None:
            self.write(left, left["start_frame"], right["end_frame"])
            self.retag(seq_id, eid, right["start_frame"], right["end_frame"], left["id"])
            self._put("tracklets", (right["id"],), None)
            return str(left["id"])
        if left is not None:
            self.write(left, left["start_frame"], frame)
            return str(left["id"])
        if right is not None:
            self.write(right, frame, right["end_frame"])
            return str(right["id"])
        return self.new_row(seq_id, eid, frame, frame)

    def reach(self, seq_id: str, frame: int, eid: str) -> None:
        """Grow the entity's nearest tracklet before ``frame`` up to it, unless a tracklet holds it."""
        rows = self.rows(seq_id, eid)
        if any(r["start_frame"] <= frame <= r["end_frame"] for r in rows):
            return
        before = [r for r in rows if r["end_frame"] < frame]
        if before:
            self.write(before[-1], before[-1]["start_frame"], frame)

    def released(self, seq_id: str, frame: int, eid: str) -> None:
        self.released_many(seq_id, eid, (frame,))

    def released_many(self, seq_id: str, eid: str, frames: Iterable[int]) -> None:
        """Annotations on ``frames`` went: trim the tracklets they ended, drop the ones left empty."""
        gone = {f for f in frames if not self.annotated(seq_id, f, eid)}
        if not gone:
            return
        for row in self.rows(seq_id, eid):
            start, end = row["start_frame"], row["end_frame"]
            if not any(start <= f <= end for f in gone):
                continue
            left = self.annotated_frames(seq_id, eid, start, end)
            if not left:
                self._put("tracklets", (row["id"],), None)
                continue
            new_start = min(left) if start in gone else start
            new_end = max(left) if end in gone else end
            if (new_start, new_end) != (start, end):
                self.write(row, new_start, new_end)

    def repair(self, seq_id: str, eid: str, *, trim: bool = False) -> None:
        """Make the entity's tracklets whole again after an undo or redo: overlapping ones merged,
        every annotation inside a tracklet that names it, empty ones gone (with ``trim``, after a
        partial undo, ends without annotations too). A consistent entity is left exactly as it is,
        so undoing in order stays exact."""
        rows = self.rows(seq_id, eid)
        merged: list[dict[str, Any]] = []
        for r in rows:
            if merged and r["start_frame"] <= merged[-1]["end_frame"]:
                last = merged[-1]
                end = max(last["end_frame"], r["end_frame"])
                self.write(last, last["start_frame"], end)
                last["end_frame"] = end
                self._put("tracklets", (r["id"],), None)
            else:
                merged.append(dict(r))
        for table, key in self.annotation_keys(seq_id, eid, 0, 2**31 - 1):
            row = self._view()[table].get(key)
            if row is None:
                continue
            span = self._view()["tracklets"].get((row["tracklet_id"],))
            if span is not None and span["entity_id"] == eid:
                if span["start_frame"] <= key[1] <= span["end_frame"]:
                    continue
                lo, hi = min(span["start_frame"], key[1]), max(span["end_frame"], key[1])
                others = [r for r in self.rows(seq_id, eid) if r["id"] != span["id"]]
                if not any(r["start_frame"] <= hi and r["end_frame"] >= lo for r in others):
                    self.write(span, lo, hi)  # the tracklet it names grows back over it: identity kept
                    continue
            self._put(table, key, {**row, "tracklet_id": self.claim(seq_id, key[1], eid)})
        for r in self.rows(seq_id, eid):
            if trim:  # ends that lost their annotations to a partial undo go, as when erasing
                self.released_many(seq_id, eid, (r["start_frame"], r["end_frame"]))
            elif not self.annotated_frames(seq_id, eid, r["start_frame"], r["end_frame"]):
                self._put("tracklets", (r["id"],), None)  # nothing left in it; a span as set stays
