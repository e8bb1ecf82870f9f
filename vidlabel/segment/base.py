"""The engine protocol: engines by name, sessions that hold prompts and propagate them.

An engine (SAM2, optical flow) turns prompts into masks. ``engine.session(ds, seq)`` opens a
session on one sequence of a dataset. The session keeps the prompts per entity and frame,
answers a prompt with a mask at once (written to the dataset as a human keyframe), and
propagates masks forward, backward or both ways from any frame, yielding frame by frame.

This module does everything that does not depend on the engine: validating input (before
anything is computed or written), planning the passes of a propagation, cancellation between
frames, refusing edits to a session while it propagates, and writing results into a dataset as
one undo step. An engine implements four hooks: ``_segment`` (a prompt), ``_run_pass``
(one pass in one direction), ``_forget`` (an entity) and ``_clear`` (everything).
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ValidationError
from .records import CancelToken, Direction, Pass, Prompt, PropagationReport, Result
from .registry import available, load, register

if TYPE_CHECKING:
    from ..core import Change
    from ..dataset import Dataset

__all__ = [
    "CancelToken",
    "Direction",
    "Engine",
    "Pass",
    "Prompt",
    "PropagationReport",
    "Result",
    "Session",
    "available",
    "load",
    "register",
]


class Engine(abc.ABC):
    """Something that answers prompts with masks and propagates them; see ``load``."""

    name: str = "engine"
    #: its sessions have ``find(text, frame)``, text (concept) prompts; the Annotator shows its find box
    finds: bool = False

    @abc.abstractmethod
    def session(self, ds: Dataset, sequence: str) -> Session:
        """A session on one sequence of ``ds`` (its frames are read lazily from the dataset)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Session(abc.ABC):
    """Prompts and propagation on one sequence. Not for use from two threads at once."""

    def __init__(self, engine: Engine, ds: Dataset, sequence: str) -> None:
        seq_id = ds.resolve_sequence(sequence)
        ds.frame_source(seq_id, required=True)  # a sequence without pixels cannot be segmented: fail here
        row = ds.sequence(seq_id)
        self.engine = engine
        self.dataset = ds
        self.sequence = seq_id
        self.num_frames = int(row["num_frames"])
        self.height = int(row["height"])
        self.width = int(row["width"])
        self._prompts: dict[str, dict[int, Prompt]] = {}
        self._written: set[tuple[str, int]] = set()  # prompts that are (were) keyframes in the dataset
        self._busy = False
        self._closed = False
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ engine hooks
    @abc.abstractmethod
    def _segment(self, frame: int, entity: str, prompt: Prompt) -> Result:
        """The mask for the (merged) prompt of ``entity`` on ``frame``."""

    @abc.abstractmethod
    def _run_pass(self, leg: Pass, entities: list[str]) -> Generator[tuple[int, dict[str, Result]]]:
        """Yield ``(frame, {entity: result})`` for every frame of ``leg``, in order.

        Every entity in ``entities`` has at least one prompt. An entity with nothing to show on
        a frame is left out of that frame's dict or given an empty mask.
        """

    @abc.abstractmethod
    def _forget(self, entity: str) -> None:
        """Drop everything the engine holds about ``entity``."""

    @abc.abstractmethod
    def _clear(self) -> None:
        """Drop everything the engine holds."""

    def _keyframes_at(self, frame: int, entities: list[str], first: bool) -> dict[str, Result]:
        """What (re)starts on ``frame`` of a pass: {entity: (mask, score)}.

        A prompt there is a keyframe; on the pass's first frame an entity not prompted there starts
        from the mask the dataset holds, with its score, both read from one version of the dataset
        (an edit from another thread between the two reads cannot pair one's mask with another's
        score)."""
        starts: dict[str, Result] = {}
        with self.dataset.snapshot():
            for e in entities:
                p = self._prompts.get(e, {}).get(frame)
                if p is not None and p.result is not None:
                    starts[e] = (p.result, p.score)
                elif first:
                    mask = self.dataset.mask(self.sequence, frame, e)
                    if mask is not None and mask.any():
                        row = self.dataset.annotation("masks", self.sequence, frame, e)
                        score = 1.0 if row is None or row["score"] is None else float(row["score"])
                        starts[e] = (mask, score)
        return starts

    # ------------------------------------------------------------------ prompts
    def prompt(
        self,
        frame: int,
        entity: str,
        points: Any = None,
        labels: Any = None,
        *,
        box: Any = None,
        box_xywh: Any = None,
        mask: Any = None,
        clear: bool = True,
        write: bool = True,
    ) -> Result:
        """Segment ``entity`` on ``frame`` from clicks, a box and/or a mask; returns ``(mask, score)``.

        ``points`` are (x, y) pixels; ``labels`` 1 (object) or 0 (background), all 1 if omitted.
        ``box`` is two corners, (x0, y0, x1, y1), as SAM2 takes it; ``box_xywh`` is a box as the
        ``boxes`` table stores it and ``ds.box`` returns it, (x, y, w, h) with (x, y) the top-left
        corner, so ``box_xywh=ds.box(seq, f, e)`` prompts with a stored box (give one of the two).
        With ``clear=False`` the points add to those already on this
        frame (a click at a time, as in an annotation tool); otherwise they replace them. A mask
        prompt replaces whatever the frame had. The prompt becomes a keyframe: the mask is written
        to the dataset with ``source="human", keyframe=True`` unless ``write=False``.
        """
        with self._lock:
            self._check_idle("prompt")
            f = self.dataset.resolve_frame(self.sequence, frame)
            eid = self.dataset.resolve_entity(self.sequence, entity)
            new = self._validated_prompt(points, labels, self._corners(box, box_xywh), mask)
            merged = self._hold(f, eid, new, clear)
            result = merged.result
            assert result is not None
            if write:
                self.dataset.set_mask(
                    self.sequence, f, eid, result, source="human", score=merged.score, keyframe=True
                )
                self._written.add((eid, f))
            else:
                self._written.discard((eid, f))
            return result, merged.score

    def _hold(self, f: int, eid: str, new: Prompt, clear: bool) -> Prompt:
        """Segment ``eid`` on ``f`` from ``new`` (merged with the clicks there unless ``clear``) and hold
        the prompt. The caller holds the lock and has checked the session may take it."""
        old = self._prompts.get(eid, {}).get(f)
        merged = (
            new
            if (clear or old is None or new.mask is not None or old.mask is not None)
            else (self._merge(old, new))
        )
        result, score = self._segment(f, eid, merged)
        merged.result, merged.score = self._check_result(result, "prompt"), float(score)
        self._prompts.setdefault(eid, {})[f] = merged
        return merged

    def _keyframe_from(self, f: int, eid: str, mask: np.ndarray, *, source: str, score: float) -> np.ndarray:
        """Prompt ``eid`` on ``f`` with ``mask`` and write the answer as a keyframe with ``source`` and
        ``score`` (an engine's detection, as a person's prompt would be); returns the mask written. For a
        propagation that finds new instances as it goes, so the session may be busy; the caller holds
        the lock."""
        held = self._hold(f, eid, self._validated_prompt(None, None, None, mask), True)
        assert held.result is not None
        self.dataset.set_mask(self.sequence, f, eid, held.result, source=source, score=score, keyframe=True)
        self._written.add((eid, f))
        return held.result

    def follow_keyframes(self, entities: Iterable[str] | None = None) -> list[str]:
        """Make the prompts of ``entities`` (those prompted by default, or, with none prompted,
        every entity with a keyframe in the sequence) follow the dataset's human keyframes, and
        return the entities changed. An undo, an erase or a cell's edit changes keyframes under a
        session: a prompt that was written as a keyframe follows the keyframe there now (its mask,
        or nothing if it is gone), and a keyframe the session has no prompt for becomes a mask
        prompt. Prompts given with ``write=False`` are left as they are. ``propagate_into`` calls
        this first when it writes into the session's own dataset."""
        with self._lock:
            self._check_idle("follow_keyframes")
            ds, seq = self.dataset, self.sequence
            with ds.snapshot() as snap:
                masks = snap["masks"]
                if entities is not None:
                    chosen = [ds.resolve_entity(seq, e) for e in entities]
                else:
                    chosen = self.entities or list(ds.entity_ids(seq))
                keys = {}
                for e in chosen:
                    frames = [k[1] for k in masks.lookup("by_entity", (seq, e)) if masks.value(k, "keyframe")]
                    keys[e] = {f: m for f in frames if (m := ds.mask(seq, f, e)) is not None}
            changed = []
            for e in chosen:
                held = self._prompts.get(e, {})
                # What the entity's prompts should be: its own unwritten ones, and the keyframes
                # (a held prompt kept where it still gives the keyframe's mask).
                want: dict[int, Prompt | np.ndarray] = {
                    f: p for f, p in held.items() if (e, f) not in self._written
                }
                for f, mask in keys[e].items():
                    if f in want:
                        continue
                    p = held.get(f)
                    want[f] = (
                        p
                        if p is not None and p.result is not None and np.array_equal(p.result, mask)
                        else mask
                    )
                if want.keys() == held.keys() and all(want[f] is held[f] for f in held):
                    continue
                changed.append(e)
                if e in self._prompts:
                    self.remove(e)
                for f, w in sorted(want.items()):
                    self.prompt(f, e, mask=w if isinstance(w, np.ndarray) else w.result, write=False)
                    if f in keys[e]:
                        self._written.add((e, f))
            return changed

    @staticmethod
    def _corners(box: Any, box_xywh: Any) -> Any:
        """``box``, or ``box_xywh`` turned into (x0, y0, x1, y1); refuses both at once."""
        if box_xywh is None:
            return box
        if box is not None:
            raise ValidationError("prompt: give box=(x0, y0, x1, y1) or box_xywh=(x, y, w, h), not both")
        try:
            x, y, w, h = np.asarray(box_xywh, dtype=np.float64).reshape(4)
        except (TypeError, ValueError) as e:
            raise ValidationError(f"prompt: box_xywh must be (x, y, w, h), got {box_xywh!r}") from e
        if not (w > 0 and h > 0):  # also refuses NaN
            raise ValidationError(f"prompt: box_xywh {box_xywh!r} needs a width and height above 0")
        return (x, y, x + w, y + h)

    def _validated_prompt(self, points: Any, labels: Any, box: Any, mask: Any) -> Prompt:
        h, w = self.height, self.width
        if mask is not None:
            if points is not None or box is not None:
                raise ValidationError("prompt: give a mask alone, not with points or a box")
            arr = np.asarray(mask)
            if arr.shape != (h, w):
                raise ValidationError(
                    f"prompt: mask shape {arr.shape} does not match the frame size ({h}, {w})"
                )
            if arr.dtype != np.bool_:
                if not np.issubdtype(arr.dtype, np.integer) or (
                    arr.size and (arr.min() < 0 or arr.max() > 1)
                ):
                    raise ValidationError(f"prompt: a mask must be bool or 0/1 integers (got {arr.dtype})")
                arr = arr.astype(bool)
            if not arr.any():
                raise ValidationError(
                    "prompt: the mask is empty; to erase an entity use remove() or ds.remove_mask"
                )
            return Prompt(np.zeros((0, 2), np.float32), np.zeros(0, np.int32), mask=arr.copy())
        pts = np.zeros((0, 2), np.float32)
        if points is not None:
            try:
                pts = np.asarray(points, dtype=np.float32).reshape(-1, 2) if len(points) else pts
            except (TypeError, ValueError) as e:
                raise ValidationError(f"prompt: points must be a list of (x, y) pairs, got {points!r}") from e
            if np.asarray(points, dtype=object).ndim == 1 and len(points) == 2 and np.ndim(points[0]) == 0:
                raise ValidationError("prompt: points must be a list of (x, y) pairs, e.g. [(320, 200)]")
            if not np.isfinite(pts).all():
                raise ValidationError("prompt: points must be finite numbers")
            outside = (pts[:, 0] < 0) | (pts[:, 0] >= w) | (pts[:, 1] < 0) | (pts[:, 1] >= h)
            if outside.any():
                x, y = pts[np.argmax(outside)]
                raise ValidationError(f"prompt: point ({x:g}, {y:g}) is outside the {w}x{h} frame")
        if labels is None:
            lab = np.ones(len(pts), np.int32)
        else:
            lab_in = np.asarray(labels).reshape(-1)
            if lab_in.shape != (len(pts),):
                raise ValidationError(f"prompt: {len(lab_in)} labels for {len(pts)} points")
            if lab_in.size and (lab_in.dtype.kind not in "biuf" or not np.isin(lab_in, (0, 1)).all()):
                raise ValidationError(f"prompt: labels must be 1 (object) or 0 (background), got {labels!r}")
            lab = lab_in.astype(np.int32)
        bx = None
        if box is not None:
            try:
                bx = np.asarray(box, dtype=np.float64).reshape(4)
            except (TypeError, ValueError) as e:
                raise ValidationError(f"prompt: box must be (x0, y0, x1, y1), got {box!r}") from e
            if not np.isfinite(bx).all():
                raise ValidationError("prompt: box must be finite numbers")
            x0, y0, x1, y1 = bx
            if x1 <= x0 or y1 <= y0:
                raise ValidationError(
                    f"prompt: box {tuple(float(v) for v in bx)} has zero area (need x0 < x1, y0 < y1)"
                )
            if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
                raise ValidationError(
                    f"prompt: box {tuple(float(v) for v in bx)} goes outside the {w}x{h} frame"
                )
            bx = bx.astype(np.float32)
        if not len(pts) and bx is None:
            raise ValidationError("prompt: give at least one point, a box or a mask")
        return Prompt(pts.astype(np.float32), lab, box=bx)

    @staticmethod
    def _merge(old: Prompt, new: Prompt) -> Prompt:
        return Prompt(
            np.concatenate([old.points, new.points]),
            np.concatenate([old.labels, new.labels]),
            box=new.box if new.box is not None else old.box,
        )

    def _check_result(self, mask: np.ndarray, what: str) -> np.ndarray:
        if mask.shape != (self.height, self.width) or mask.dtype != np.bool_:
            raise RuntimeError(f"{self.engine.name} {what}: engine returned {mask.dtype} {mask.shape}")
        return mask

    def prompts(self, entity: str | None = None) -> dict[str, dict[int, Prompt]]:
        """The prompts held, by entity id then frame (one entity's if ``entity`` is given)."""
        with self._lock:
            if entity is not None:
                eid = self.dataset.resolve_entity(self.sequence, entity)
                return {eid: dict(self._prompts.get(eid, {}))}
            return {e: dict(p) for e, p in self._prompts.items()}

    @property
    def entities(self) -> list[str]:
        """Entities with at least one prompt, in prompt order."""
        return [e for e, p in self._prompts.items() if p]

    def keyframes(self, entity: str) -> list[int]:
        """Frames where ``entity`` has a prompt, sorted."""
        return sorted(self._prompts.get(self.dataset.resolve_entity(self.sequence, entity), {}))

    def remove(self, entity: str) -> None:
        """Forget an entity's prompts and tracking (its masks in the dataset stay)."""
        with self._lock:
            self._check_idle("remove")
            # An entity already removed from the dataset can still be dropped from the session.
            eid = entity if entity in self._prompts else self.dataset.resolve_entity(self.sequence, entity)
            if eid not in self._prompts:
                raise ValidationError(f"remove: entity {eid!r} has no prompts in this session")
            self._forget(eid)
            del self._prompts[eid]
            self._written = {k for k in self._written if k[0] != eid}

    def reset(self) -> None:
        """Forget every prompt and all tracking state (the dataset is not touched)."""
        with self._lock:
            self._check_idle("reset")
            self._clear()
            self._prompts.clear()
            self._written.clear()

    def _check_idle(self, what: str) -> None:
        if self._closed:
            raise ValidationError(
                f"{what}: the session is closed; open a new one with engine.session(ds, seq)"
            )
        if self._busy:
            raise ValidationError(f"{what}: the session is propagating; cancel it or let it finish first")

    # ------------------------------------------------------------------ propagation
    def plan(self, start: int | None = None, direction: Direction = "forward", end: Any = None) -> list[Pass]:
        """The passes a propagation will make (validated); see ``propagate``."""
        if direction not in ("forward", "backward", "both"):
            raise ValidationError(
                f"propagate: direction must be 'forward', 'backward' or 'both', got {direction!r}"
            )
        last_frame = self.num_frames - 1
        if start is None:
            keyed = sorted({f for p in self._prompts.values() for f in p})
            if not keyed:
                raise ValidationError("propagate: no prompts yet; call prompt() first")
            start = keyed[-1] if direction == "backward" else keyed[0]
        s = self.dataset.resolve_frame(self.sequence, start)
        if direction == "both":
            lo, hi = 0, last_frame
            if end is not None:
                if not (isinstance(end, Sequence) and len(end) == 2):
                    raise ValidationError(
                        "propagate: with direction='both', end is a (first, last) pair of frames"
                    )
                lo = 0 if end[0] is None else self.dataset.resolve_frame(self.sequence, end[0])
                hi = last_frame if end[1] is None else self.dataset.resolve_frame(self.sequence, end[1])
            if not lo <= s <= hi:
                raise ValidationError(f"propagate: start {s} is outside the range [{lo}, {hi}]")
            legs = [Pass(s, hi, False)]
            if s > lo:
                legs.append(Pass(s, lo, True))
            return legs
        reverse = direction == "backward"
        e = (0 if reverse else last_frame) if end is None else self.dataset.resolve_frame(self.sequence, end)
        if (e > s) if reverse else (e < s):
            raise ValidationError(
                f"propagate: end {e} is {'after' if reverse else 'before'} start {s} "
                f"for direction {direction!r}"
            )
        return [Pass(s, e, reverse)]

    def _entities_for(self, entities: Iterable[str] | str | None) -> list[str]:
        if entities is None:
            chosen = self.entities
            if not chosen:
                raise ValidationError("propagate: no prompts yet; call prompt() first")
            for eid in chosen:  # an entity removed from the dataset since it was prompted
                if not self.dataset.snapshot().contains("entities", (eid,)):
                    raise ValidationError(
                        f"propagate: entity {eid!r} is no longer in the dataset; "
                        f"session.remove({eid!r}) first"
                    )
            return chosen
        if isinstance(entities, str):
            entities = [entities]
        chosen = []
        for e in entities:
            eid = self.dataset.resolve_entity(self.sequence, e)
            if not self._prompts.get(eid):
                raise ValidationError(f"propagate: entity {eid!r} has no prompt in this session")
            if eid not in chosen:
                chosen.append(eid)
        if not chosen:
            raise ValidationError("propagate: no entities given")
        return chosen

    def propagate(
        self,
        start: int | None = None,
        direction: Direction = "forward",
        end: Any = None,
        *,
        entities: Iterable[str] | str | None = None,
        cancel: CancelToken | None = None,
    ) -> Generator[tuple[int, dict[str, Result]]]:
        """Yield ``(frame, {entity: (mask, score)})`` frame by frame, the start frame included.

        ``start`` defaults to the first prompted frame (the last one going backward). ``end`` is
        the last frame reached (inclusive; for ``"both"`` a ``(first, last)`` pair); by default the
        video's end. ``"both"`` goes forward from ``start`` then backward from it, and yields the
        start frame once. ``entities`` limits it to some entities (all prompted ones by default).
        Stop it with ``cancel.cancel()`` or by closing the generator: it stops between frames.
        Arguments are checked here, before the first frame is computed.
        """
        with self._lock:
            self._check_idle("propagate")
            legs = self.plan(start, direction, end)
            chosen = self._entities_for(entities)
        return self._propagate(legs, chosen, cancel)

    def _propagate(
        self, legs: list[Pass], entities: list[str], cancel: CancelToken | None
    ) -> Generator[tuple[int, dict[str, Result]]]:
        # Marked busy from the first frame asked for (a generator never started never resets it).
        with self._lock:
            self._check_idle("propagate")
            self._busy = True
        seen: set[int] = set()
        try:
            for leg in legs:
                if cancel is not None and cancel.cancelled:
                    return
                inner = self._run_pass(leg, entities)
                try:
                    while True:
                        if cancel is not None and cancel.cancelled:
                            return
                        with self._lock:
                            step = next(inner, None)
                        if step is None:
                            break
                        frame, results = step
                        if frame in seen:  # the start frame, met again by the backward leg
                            continue
                        seen.add(frame)
                        for eid, (mask, _score) in results.items():
                            self._check_result(mask, "propagate")
                            if eid not in entities:
                                raise RuntimeError(
                                    f"{self.engine.name}: result for unrequested entity {eid!r}"
                                )
                        yield frame, results
                finally:
                    inner.close()
        finally:
            self._busy = False

    def propagate_into(
        self,
        ds: Dataset | None = None,
        start: int | None = None,
        direction: Direction = "forward",
        end: Any = None,
        *,
        entities: Iterable[str] | str | None = None,
        cancel: CancelToken | None = None,
        progress: bool = True,
        overwrite_keyframes: bool = False,
        on_frame: Callable[[int, int, int], None] | None = None,
    ) -> PropagationReport:
        """Propagate and write the masks into ``ds`` (the session's dataset by default), as ONE undo step.

        Masks are written frame by frame with ``source=<engine name>``, the score and
        ``keyframe=False``, so an open widget sees them land; an empty result erases a mask
        there. Keyframes in the dataset (human masks) are kept unless ``overwrite_keyframes``.
        A cancelled run keeps the frames it finished, each complete, as one undo step. An entity
        removed from the dataset during the run has its results dropped (``report.dropped``).
        ``on_frame(frame, done, total)`` is called after each frame is written, and on a project once
        the journal holds it (a widget's progress bar).
        """
        target = self.dataset if ds is None else ds
        seq = self._check_target(target)
        # An entity a cell removes during the run has its results dropped, and the run goes on for the
        # others. Removals are watched as they happen (from before the entities are resolved), since a
        # new entity may get the id of a removed one.
        gone: set[str] = set()
        running: list[str] = []

        def watch(change: Change) -> None:
            if "entities" in change.tables and seq in change.sequences:
                now = set(target.entity_ids(seq))
                gone.update(e for e in running if e not in now)

        unobserve = target.observe(watch)
        try:
            with self._lock:
                self._check_idle("propagate")
                if target is self.dataset:  # start from the keyframes the dataset holds now
                    self.follow_keyframes([entities] if isinstance(entities, str) else entities)
                legs = self.plan(start, direction, end)
                running[:] = self._entities_for(entities)
                gen = self._propagate(legs, running, cancel)
        except BaseException:
            unobserve()
            raise
        total = len({f for leg in legs for f in leg.frames})
        report = PropagationReport()
        bar: Any = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc=f"{self.engine.name}: {seq}", unit="frame")
        label = f"{self.engine.name}: propagate {direction} from frame {legs[0].start}"
        # A frame is reported (progress, on_frame, report.frames) once it is durable: on a project
        # the journal commits frames in groups, and a run cut off keeps every frame it reported.
        pending: list[tuple[int, int]] = []

        def reported(final: bool = False) -> None:
            if final and pending:
                target.wait_durable(pending[-1][0])
            while pending and target.is_durable(pending[0][0]):
                frame = pending.pop(0)[1]
                report.frames.append(frame)
                if bar is not None:
                    bar.update(1)
                if on_frame is not None:
                    on_frame(frame, len(report.frames), total)

        try:
            with target.undo_group(label):
                for frame, results in gen:
                    with target.transaction(f"{label}, frame {frame}"):
                        alive = set(target.entity_ids(seq)) - gone if results else set()  # under the lock
                        for eid, (mask, score) in results.items():
                            if eid not in alive:
                                if eid not in report.dropped:
                                    report.dropped.append(eid)
                                continue
                            row = target.annotation("masks", seq, frame, eid)
                            if row is not None and row["keyframe"] and not overwrite_keyframes:
                                report.kept += 1
                                continue
                            if row is None and not mask.any():
                                continue
                            target.set_mask(
                                seq,
                                frame,
                                eid,
                                mask,
                                source=self.engine.name,
                                score=float(score),
                                keyframe=False,
                            )
                            report.written += 1
                    pending.append((target.commit_ticket(), frame))
                    reported()
            reported(final=True)
        finally:
            unobserve()
            gen.close()
            if bar is not None:
                bar.close()
        report.cancelled = len(report.frames) < total
        return report

    def _check_target(self, target: Dataset) -> str:
        if target is self.dataset:
            return self.sequence
        seq = target.resolve_sequence(self.sequence)
        row = target.sequence(seq)
        if (row["num_frames"], row["height"], row["width"]) != (self.num_frames, self.height, self.width):
            raise ValidationError(
                f"propagate_into: sequence {seq!r} in the target dataset has "
                f"{row['num_frames']} frames of {row['width']}x{row['height']}, "
                f"the session's has {self.num_frames} of {self.width}x{self.height}"
            )
        for eid in self.entities:
            target.resolve_entity(seq, eid)
        return seq

    def close(self) -> None:
        """Release what the session holds (model state, caches)."""
        with self._lock:
            if not self._busy and not self._closed:
                self._clear()
                self._closed = True

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        n = sum(len(p) for p in self._prompts.values())
        return (
            f"{type(self).__name__}({self.sequence!r}, {self.num_frames} frames, "
            f"{len(self.entities)} entities, {n} prompts)"
        )
