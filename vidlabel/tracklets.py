"""Tracklets follow the annotations.

A tracklet is a span [start_frame, end_frame] of one entity's presence. Setting an
annotation (mask, box or state) on a frame inside a tracklet joins it; next to one
(the frame just before or after) extends it, and bridging two merges them; anywhere
else starts a new tracklet. Removing the last annotation of a frame shrinks the
tracklet from its end, deletes it when it was a single frame, or splits it in two.
All changes go through the dataset's ``_put`` so they are undone with the edit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .annotations import ANNOTATIONS as _ANNOTATIONS

if TYPE_CHECKING:
    from .dataset import Dataset


class TrackletKeeper:
    def __init__(self, ds: Dataset) -> None:
        self.ds = ds

    # ---- helpers -------------------------------------------------------------------------
    def _rows(self, seq_id: str, eid: str) -> list[dict[str, Any]]:
        store = self.ds._tables["tracklets"]
        rows = [store.get(k) for k in store.lookup("by_entity", (seq_id, eid))]
        return sorted((r for r in rows if r is not None), key=lambda r: r["start_frame"])

    def _annotated(self, seq_id: str, frame: int, eid: str) -> bool:
        key = (seq_id, frame, eid)
        return any(key in self.ds._tables[t] for t in _ANNOTATIONS)

    def _timestamp(self, seq_id: str, frame: int) -> float:
        return float(self.ds._frames.get((seq_id,)).timestamps[frame])

    def _write(self, row: dict[str, Any], start: int, end: int) -> None:
        seq_id = row["sequence_id"]
        new = {
            **row,
            "start_frame": start,
            "end_frame": end,
            "start_timestamp": self._timestamp(seq_id, start),
            "end_timestamp": self._timestamp(seq_id, end),
        }
        self.ds._put("tracklets", (row["id"],), new)

    def _new_id(self, eid: str) -> str:
        store = self.ds._tables["tracklets"]
        k = 1
        while (f"{eid}#{k}",) in store:
            k += 1
        return f"{eid}#{k}"

    def _retag(self, seq_id: str, eid: str, start: int, end: int, tid: str) -> None:
        """Point every annotation of the entity in [start, end] at tracklet ``tid``."""
        for table in _ANNOTATIONS:
            store = self.ds._tables[table]
            for key in store.lookup("by_entity", (seq_id, eid)):
                if start <= key[1] <= end:
                    row = store.get(key)
                    if row is not None and row["tracklet_id"] != tid:
                        self.ds._put(table, key, {**row, "tracklet_id": tid})

    # ---- the two events --------------------------------------------------------------------
    def claim(self, seq_id: str, frame: int, eid: str) -> str:
        """The tracklet an annotation on ``frame`` belongs to, creating or growing one as needed."""
        rows = self._rows(seq_id, eid)
        left = right = None
        for r in rows:
            if r["start_frame"] <= frame <= r["end_frame"]:
                return str(r["id"])
            if r["end_frame"] == frame - 1:
                left = r
            elif r["start_frame"] == frame + 1:
                right = r
        if left is not None and right is not None:
            self._write(left, left["start_frame"], right["end_frame"])
            self._retag(seq_id, eid, right["start_frame"], right["end_frame"], left["id"])
            self.ds._put("tracklets", (right["id"],), None)
            return str(left["id"])
        if left is not None:
            self._write(left, left["start_frame"], frame)
            return str(left["id"])
        if right is not None:
            self._write(right, frame, right["end_frame"])
            return str(right["id"])
        tid = self._new_id(eid)
        self._write({"id": tid, "sequence_id": seq_id, "entity_id": eid}, frame, frame)
        return tid

    def released(self, seq_id: str, frame: int, eid: str) -> None:
        """An annotation on ``frame`` went: shrink, split or drop its tracklet if none is left there."""
        if self._annotated(seq_id, frame, eid):
            return
        row = next((r for r in self._rows(seq_id, eid) if r["start_frame"] <= frame <= r["end_frame"]), None)
        if row is None:
            return
        start, end = row["start_frame"], row["end_frame"]
        before = next((g for g in range(frame - 1, start - 1, -1) if self._annotated(seq_id, g, eid)), None)
        after = next((g for g in range(frame + 1, end + 1) if self._annotated(seq_id, g, eid)), None)
        if before is None and after is None:
            self.ds._put("tracklets", (row["id"],), None)
        elif before is None:
            assert after is not None
            self._write(row, after, end)
        elif after is None:
            self._write(row, start, before)
        else:
            self._write(row, start, before)
            tid = self._new_id(eid)
            self._write({"id": tid, "sequence_id": seq_id, "entity_id": eid}, after, end)
            self._retag(seq_id, eid, after, end, tid)
