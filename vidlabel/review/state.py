"""The reviewed state of an (frame, entity): set by a person accepting a frame, kept in the dataset.

The mark is the built-in ``reviewed`` column of the states table (null: not reviewed), so it is
undone, journaled, exported and validated like any state. A mask write that is not a keyframe and
changes a reviewed mask clears the mark (annotations.py, ``_unreview``); keyframe masks count as
reviewed for the queue without any mark.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..annotations import AnnotationsMixin
from ..core import reads, writes
from ..errors import ValidationError
from ..naming import natural_key

__all__ = ["MAX_GAP", "ReviewStateMixin"]

# An entity missing for this many frames or fewer between two of its tracklets is a row of the review
# queue (it may have vanished by mistake), and can be marked reviewed there.
MAX_GAP = 5


class ReviewStateMixin(AnnotationsMixin):
    """``mark_reviewed`` and the reads of the reviewed state."""

    @writes
    def mark_reviewed(
        self, seq: str, frames: Any, entity: str | None = None, *, reviewed: bool = True
    ) -> int:
        """Mark (frame, entity) pairs reviewed, or clear the mark with ``reviewed=False``.

        ``frames``: a frame index, a sequence of them or a range (all checked against the
        sequence's length); ``entity`` None means every entity of the sequence. One undo step
        (none when nothing changes); returns how many pairs changed.

        Only frames where the entity is part of the video are marked: inside one of its tracklets,
        with a mask or without one (a person can accept that the object is hidden on a frame of
        its track, e.g. where its mask was erased inside the span), and in a gap of at most
        ``MAX_GAP`` frames between two of its tracklets (the queue lists such frames: an object
        that vanishes for a frame or two; the mark's state row claims a tracklet as any state there
        does: next to a tracklet it grows it, between two it joins them, in the middle of a longer
        gap it starts a tracklet of its own). Other frames are skipped and not counted: the entity
        is not there, there is nothing to review, and a state row there would start or grow a tracklet (every
        state row belongs to one), which would change the spans boxes are interpolated over. So
        ``mark_reviewed(seq, range(n))`` accepts every entity where it is and nothing else.
        """
        seq_id = self._seq(seq)
        if not isinstance(reviewed, (bool, np.bool_)):
            raise ValidationError(
                f"states.reviewed: expected a bool, got {type(reviewed).__name__} {reviewed!r}"
            )
        fs = self._review_frames(seq_id, frames)
        if entity is None:
            found = self._tables["entities"].lookup("by_sequence", (seq_id,))
            eids = sorted((k[0] for k in found), key=natural_key)
        else:
            eids = [self._entity(seq_id, entity)]
        want = bool(reviewed)
        store = self._tables["states"]
        todo = []
        for eid in eids:
            spans = [(r["start_frame"], r["end_frame"]) for r in self._tracklets.rows(seq_id, eid)]
            starts = [a for a, _ in spans]
            for f in fs:
                i = bisect_right(starts, f) - 1
                if i < 0:
                    continue  # before the entity's first tracklet
                if f > spans[i][1] and (i + 1 == len(spans) or spans[i + 1][0] - spans[i][1] - 1 > MAX_GAP):
                    continue  # after its last tracklet, or in a long gap between two
                key = (seq_id, f, eid)
                # marking: unless the mark holds (a stale one is renewed); clearing: any mark set
                if (self._mark_holds(key) if want else bool(store.value(key, "reviewed"))) != want:
                    todo.append(key)
        if not todo:
            return 0
        what = f"frame {todo[0][1]}" if len(todo) == 1 else f"{len(todo)} frames"
        with self.transaction(f"{'mark' if want else 'unmark'} {what} reviewed"):
            states = self._tables["states"]
            for key in todo:
                self._put_reviewed(key, states.get(key), want)
        return len(todo)

    def _review_frames(self, seq_id: str, frames: Any) -> list[int]:
        if isinstance(frames, (int, np.integer)) and not isinstance(frames, (bool, np.bool_)):
            return [self._frame(seq_id, frames)]
        if isinstance(frames, range) and frames.step > 0 and len(frames):
            self._frame(seq_id, frames[0])  # a range is checked at its ends, not frame by frame
            self._frame(seq_id, frames[-1])
            return list(frames)
        if isinstance(frames, (str, bytes, dict)) or not isinstance(frames, Iterable):
            raise ValidationError(
                f"mark_reviewed: frames must be a frame index, a list of them or a range, got {frames!r}"
            )
        out = sorted({self._frame(seq_id, f) for f in frames})
        if not out:
            raise ValidationError("mark_reviewed: frames is empty")
        return out

    @reads
    def reviewed_frames(self, seq: str, entity: str) -> list[int]:
        """The frames on which the entity is marked reviewed, ascending (keyframes not included
        unless marked: they count as reviewed for the queue by themselves)."""
        seq_id = self._seq(seq)
        eid = self._entity(seq_id, entity)
        store = self._tables["states"]
        return sorted(k[1] for k in store.lookup("by_entity", (seq_id, eid)) if self._mark_holds(k))

    def mark_holds(self, key: tuple[str, int, str]) -> bool:
        """Whether (sequence id, frame, entity id) ``key`` is marked reviewed and its mask is still the
        one accepted: ``is_reviewed`` for callers that hold resolved ids (the review's hot loops), on
        the version this thread reads."""
        return self._mark_holds(key)

    @reads
    def is_reviewed(self, seq: str, frame: int, entity: str) -> bool:
        """Whether the (frame, entity) is marked reviewed (one keyed lookup)."""
        seq_id = self._seq(seq)
        key = (seq_id, self._frame(seq_id, frame), self._entity(seq_id, entity))
        return self._mark_holds(key)
