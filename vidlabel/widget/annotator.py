"""The Annotator: an anywidget that shows a sequence's frames with mask overlays and edits the dataset.

Small state lives in synced traits; frames and masks travel in custom messages with binary
buffers (see ``protocol.md``). The dataset stays the single source of truth: the widget
observes it, so edits made from cells show up in an open widget, and every edit the widget
makes is a :class:`~vidlabel.Dataset` method call (one undo step each).

Engine work and edits run in order on one worker thread, off the kernel's message thread:
frame requests are answered while a propagation runs, and the propagation can be cancelled.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import numpy as np
import traitlets as t

from ..dataset import Dataset
from ..errors import ValidationError
from . import protocol
from .edits import TemporalEdits
from .follow import FLUSH_INTERVAL, DatasetFollower, no_pending
from .frames import EncodedFrames, frames_reply
from .protocol import MAX_REVIEW_FRAMES, ProtocolError, Request
from .review import ReviewFeed, as_trait, review_options

if TYPE_CHECKING:
    from ..segment.base import CancelToken, Engine, Session

log = logging.getLogger("vidlabel.widget")

STATIC = Path(__file__).resolve().parent.parent / "static"
PROGRESS_INTERVAL = 0.1


class TraitRefused(ValidationError, t.TraitError):
    """A trait value that was refused. A TraitError too, so traitlets rolls back a batch it was part of."""


class Annotator(TemporalEdits, DatasetFollower, anywidget.AnyWidget):
    """Annotate a sequence of ``ds`` in the notebook: frames, overlays, timeline, prompts, propagation.

    ``engine`` is an engine name (``"flow"``, ``"sam2"``, ``"sam3"``; ``engine_options`` go to
    :func:`vidlabel.segment.load`), an engine object, or None (view and edit only). With an engine
    whose sessions ``find`` (``"sam3"``), the find box creates an entity per instance of a text on
    the frame shown, or also tracks them through the video and finds those that appear later.
    Engine sessions are built on the widget's worker thread when first needed; those of sequences
    not shown are closed, except the ``keep_sessions`` most recently used.

    Edits from cells reach an open widget a moment later (``FLUSH_INTERVAL``), gathered per
    burst; :meth:`wait` brings it up to date at once.

    ``review`` shows the review queue (``ds.review``) as a strip on the timeline, with N /
    Shift+N to step through it worst first and Y to accept a frame: True (the default), False,
    or a dict of ``ds.review`` options (``weights``, ``engine``, ``compare``). A prompt or an erase
    from the widget marks what it corrected reviewed, in the same undo step.
    """

    _esm = STATIC / "widget.js"

    sequence = t.Unicode("").tag(sync=True)
    sequences = t.List(t.Dict()).tag(sync=True)
    info = t.Dict().tag(sync=True)
    frame = t.Int(0).tag(sync=True)
    entity = t.Unicode("").tag(sync=True)
    entities = t.List(t.Dict()).tag(sync=True)
    tracks = t.Dict().tag(sync=True)
    tool = t.Unicode("point").tag(sync=True)
    opacity = t.Float(0.5).tag(sync=True)
    outline = t.Bool(False).tag(sync=True)
    hidden = t.List(t.Unicode()).tag(sync=True)
    engine_name = t.Unicode("").tag(sync=True)
    can_find = t.Bool(False).tag(sync=True)  # the engine's sessions find (text prompts): the find box works
    busy = t.Unicode("").tag(sync=True)
    progress = t.Dict({"running": False, "done": 0, "total": 0, "label": "", "cancelled": False}).tag(
        sync=True
    )
    error = t.Unicode("").tag(sync=True)
    can_undo = t.Bool(False).tag(sync=True)
    can_redo = t.Bool(False).tag(sync=True)
    undo_label = t.Unicode("").tag(sync=True)
    redo_label = t.Unicode("").tag(sync=True)
    revision = t.Int(0).tag(sync=True)
    state_fields = t.List(t.Dict()).tag(sync=True)
    state = t.Dict().tag(sync=True)
    review = t.Dict(dict[str, Any](enabled=False)).tag(sync=True)

    _BROWSER_WRITABLE = frozenset(
        {"sequence", "frame", "entity", "tool", "opacity", "outline", "hidden", "error"}
    )

    def __init__(
        self,
        ds: Dataset,
        sequence: str | None = None,
        engine: Any = "flow",
        *,
        frame: int = 0,
        entity: str | None = None,
        keep_sessions: int = 1,
        review: Any = True,
        **engine_options: Any,
    ) -> None:
        if not isinstance(ds, Dataset):
            raise ValidationError(f"Annotator: expected a vidlabel.Dataset, got {type(ds).__name__}")
        if not ds.sequence_ids():
            raise ValidationError("Annotator: the dataset has no sequences; add one first")
        if isinstance(keep_sessions, bool) or not isinstance(keep_sessions, int) or keep_sessions < 0:
            raise ValidationError(f"Annotator.keep_sessions: expected an integer >= 0, got {keep_sessions!r}")
        self._ds = ds
        options = review_options(review)
        self._engine = _resolve_engine(engine, engine_options)
        # engine sessions by sequence, least recently used first; only the worker thread touches them
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._keep_sessions = keep_sessions
        self._encoded = EncodedFrames(ds)
        self._jobs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vidlabel-annotator")
        self._cancel: CancelToken | None = None
        self._propagating = False
        self._pending: dict[str, Any] = no_pending()
        self._pending_lock = threading.Lock()
        self._flush_lock = threading.RLock()
        self._flush_interval = FLUSH_INTERVAL  # a test may lengthen it to see a burst gathered
        self._flush_due = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self._closed = False
        self._review: ReviewFeed | None = None
        if options is not None:
            self._review = ReviewFeed(
                ds,
                options,
                shown=lambda: self.sequence,
                busy=lambda: self._propagating or self._ds.grouping,  # a run from a cell too
                publish=self._publish_review,
                lock=self._flush_lock,
            )
        super().__init__()
        self.engine_name = "" if self._engine is None else self._engine.name
        self.can_find = self._engine is not None and self._engine.finds
        self.state_fields = [
            {"name": f.name, "type": _field_kind(f.type)} for f in ds.custom_fields["states"]
        ]
        self.sequences = self._sequence_list()
        self.sequence = ds.sequence_ids()[0] if sequence is None else sequence
        self.frame = frame
        if entity is not None:
            self.entity = entity
        self._refresh_history()
        self.on_msg(self._on_msg)
        self._unobserve = ds.observe(self._on_dataset_change)

    # ------------------------------------------------------------------ public
    @property
    def dataset(self) -> Dataset:
        return self._ds

    @property
    def engine(self) -> Engine | None:
        return self._engine

    def wait(self, timeout: float | None = None) -> None:
        """Block until the prompts, edits and propagation asked for so far have finished, and the
        browser has heard of them (the review queue recomputed too)."""
        self._jobs.submit(lambda: None).result(timeout)
        self._flush()
        if self._review is not None:
            self._review.wait(timeout)

    def cancel(self) -> bool:
        """Stop a running propagation between two frames; True if one was running."""
        token = self._cancel
        if token is None or not self._propagating:
            return False
        token.cancel()
        return True

    def close(self) -> None:
        if getattr(self, "_closed", True) is False:  # not when __init__ failed before it was set
            self._closed = True
            self.cancel()
            self._unobserve()
            if self._review is not None:
                self._review.close()
            self._stop.set()  # the flusher thread ends, even mid-wait
            self._wake.set()
            self._jobs.shutdown(wait=True)
            for session in self._sessions.values():
                session.close()
            self._sessions.clear()
        super().close()

    def get_state(self, key: Any = None) -> dict[str, Any]:
        """The synced state; ``tracks`` as a copy, since the flusher patches the kernel's in place."""
        with self._flush_lock:
            state: dict[str, Any] = super().get_state(key)
            if "tracks" in state:
                state["tracks"] = {
                    e: {k: [list(x) if isinstance(x, list) else x for x in v] for k, v in tr.items()}
                    for e, tr in state["tracks"].items()
                }
            if "review" in state:  # patched in place by the review feed too
                rv = state["review"]
                state["review"] = {
                    **rv,
                    "entities": {
                        e: {k: list(v) for k, v in q.items()} for e, q in rv.get("entities", {}).items()
                    },
                }
        return state

    # ------------------------------------------------------------------ traits
    @t.validate("sequence")
    def _check_sequence(self, proposal: Any) -> str:
        value = proposal["value"]
        ids = self._ds.sequence_ids()
        if value in ids:
            return str(value)
        named = [s for s in ids if self._ds.sequence(s)["name"] == value]
        if len(named) == 1:
            return named[0]
        raise TraitRefused(f"Annotator.sequence: unknown sequence {value!r} (known: {', '.join(ids)})")

    @t.validate("frame")
    def _check_frame(self, proposal: Any) -> int:
        try:
            return self._frame_index(proposal["value"], "Annotator.frame")
        except ValidationError as exc:
            raise TraitRefused(str(exc)) from None

    @t.validate("entity")
    def _check_entity(self, proposal: Any) -> str:
        value = proposal["value"]
        if value == "":
            return ""
        try:
            return self._ds.resolve_entity(self.sequence, value)
        except ValidationError as exc:
            raise TraitRefused(f"Annotator.entity: {exc}") from None

    @t.validate("tool")
    def _check_tool(self, proposal: Any) -> str:
        if proposal["value"] not in protocol.TOOLS:
            raise TraitRefused(f"Annotator.tool: expected one of {protocol.TOOLS}, got {proposal['value']!r}")
        return str(proposal["value"])

    @t.validate("opacity")
    def _check_opacity(self, proposal: Any) -> float:
        value = proposal["value"]
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise TraitRefused(f"Annotator.opacity: expected a number from 0 to 1, got {value!r}")
        return float(value)

    @t.validate("hidden")
    def _check_hidden(self, proposal: Any) -> list[str]:
        out = []
        for value in proposal["value"]:
            try:
                eid = self._ds.resolve_entity(self.sequence, value)
            except ValidationError as exc:
                raise TraitRefused(f"Annotator.hidden: {exc}") from None
            if eid not in out:
                out.append(eid)
        return out

    @t.observe("sequence")
    def _sequence_changed(self, change: Any) -> None:
        seq = change["new"]
        row = self._ds.sequence(seq)
        with self.hold_sync():
            self.info = {
                "name": row["name"],
                "num_frames": row["num_frames"],
                "width": row["width"],
                "height": row["height"],
                "fps": row["fps"] if row["fps"] and math.isfinite(row["fps"]) else 24.0,
            }
            if self.frame >= row["num_frames"]:
                self.frame = 0
            self.entity = ""
            self.hidden = []
            self._refresh_entities()
        self._reset_review(seq)
        if self._sessions and not self._closed:
            self._jobs.submit(self._release_sessions)

    @t.observe("frame", "entity")
    def _selection_changed(self, _change: Any) -> None:
        self._refresh_state()

    def _refresh_state(self) -> None:
        """The selected entity's state fields on the current frame, for the attribute panel."""
        if not self.entity or not self.state_fields:
            self.state = {}
            return
        values = self._ds.state(self.sequence, self.frame, self.entity)
        self.state = {k: _jsonable(v) for k, v in values.items()}

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Trait updates from the browser: a refused value is shown as an error and put back, never raised."""
        try:
            kernel_only = sorted(set(sync_data) - self._BROWSER_WRITABLE)
            if kernel_only:
                raise ValidationError(f"Annotator: {', '.join(kernel_only)} can only be set by the kernel")
            super().set_state(sync_data)
        except Exception as exc:
            self.error = str(exc)
            self.send_state([k for k in sync_data if k in self.keys])

    # ------------------------------------------------------------------ messages
    def _on_msg(self, _widget: Any, content: Any, buffers: Any) -> None:
        try:
            req = protocol.parse(content)
        except ProtocolError as exc:
            self._reply_error(exc.request_id, str(exc))
            return
        try:
            if req.kind == "frames":
                self._answer_frames(req)
            elif req.kind == "review":
                self._answer_review(req)
            elif req.kind == "cancel":
                self._reply(req, cancelled=self.cancel())
            else:
                self._queue(req)
        except ValidationError as exc:
            self._reply_error(req.id, str(exc))
        except Exception as exc:  # a bug: show it in the widget, keep the kernel's log for the traceback
            log.exception("Annotator: %s request failed", req.kind)
            self._reply_error(req.id, f"{req.kind} failed: {exc!r}")

    def _reply(self, req: Request, buffers: list[bytes] | None = None, **result: Any) -> None:
        self.send({"kind": "reply", "id": req.id, "ok": True, **result}, buffers)

    def _reply_error(self, request_id: int | None, message: str) -> None:
        self.error = message
        self.send({"kind": "reply", "id": request_id, "ok": False, "error": message})

    def _answer_frames(self, req: Request) -> None:
        if self._flush_due:  # the browser hears of pending edits before a reply that shows them
            self._flush()
        seq = self.sequence
        start, stop = req.fields["start"], req.fields["stop"]
        n = self._ds.num_frames(seq)
        if start < 0 or stop > n:
            raise ProtocolError(f"frames: range {start}..{stop} is outside sequence {seq!r} (0..{n})")
        items, buffers = frames_reply(
            self._ds, self._encoded, seq, start, stop, images=req.fields["images"], masks=req.fields["masks"]
        )
        self._reply(req, buffers, sequence=seq, revision=self.revision, items=items)

    def _queue(self, req: Request) -> None:
        if self._propagating:
            raise ValidationError(
                f"{req.kind}: a propagation is running; wait for it to finish or cancel it (Esc)"
            )
        job = getattr(self, f"_do_{req.kind}")
        args = job(req)  # validate now, on the message thread; the returned callable does the work
        run = _is_run(req)
        if run:
            self._propagating = True
        self._jobs.submit(self._run_job, req, args, run)

    def _run_job(self, req: Request, work: Any, run: bool = False) -> None:
        """Do one job on the worker; ``run``: a propagation (cancellable, other edits refused meanwhile)."""
        slow = run or req.kind in ("prompt", "find")
        if slow:
            self.busy = req.kind
        result: dict[str, Any] | None = None
        error: str | None = None
        try:
            result = work() or {}
        except ValidationError as exc:
            error = str(exc)
        except Exception as exc:  # an engine failure: the dataset keeps what was committed
            log.exception("Annotator: %s failed", req.kind)
            error = f"{req.kind} failed: {exc!r}"
        finally:
            if run:
                if self.progress["running"]:  # it failed before the propagation's own end
                    self.progress = {**self.progress, "running": False}
                self._propagating = False
                if self._review is not None:
                    self._review.touch()  # what the run wrote is queued now, not frame by frame
            if slow:
                self.busy = ""
        self._flush()  # the browser hears of the changes before the reply that caused them
        if error is None:
            self._reply(req, **(result or {}))
        else:
            self._reply_error(req.id, error)

    # ------------------------------------------------------------------ edits: checked now, run in order
    def _frame_index(self, value: int, what: str) -> int:
        n = self._ds.num_frames(self.sequence)
        if not 0 <= value < n:
            raise ValidationError(f"{what}: frame {value} is out of range for {n} frames (valid: 0..{n - 1})")
        return int(value)

    def _entity_id(self, value: str, what: str) -> str:
        try:
            return self._ds.resolve_entity(self.sequence, value)
        except ValidationError as exc:
            raise ValidationError(f"{what}: {exc}") from None

    def _do_prompt(self, req: Request) -> Any:
        f = req.fields
        seq = self.sequence
        frame = self._frame_index(f["frame"], "prompt.frame")
        eid = self._entity_id(f["entity"], "prompt.entity")
        info = self.info
        for x, y in f["points"]:
            if not (0 <= x <= info["width"] and 0 <= y <= info["height"]):
                raise ValidationError(
                    f"prompt.points: ({x:g}, {y:g}) is outside the {info['width']}x{info['height']} frame"
                )
        self._require_engine()
        points = np.asarray(f["points"], np.float32) if f["points"] else None
        labels = np.asarray(f["labels"], np.int32) if f["labels"] else None
        box = None if f["box"] is None else np.asarray(f["box"], np.float32)

        def work() -> dict[str, Any]:
            session = self._session(seq)  # here, on the worker: a first SAM2 prompt encodes frames
            if self._review is None:
                _mask, score = session.prompt(frame, eid, points, labels, box=box, clear=f["clear"])
            else:  # the correction and its reviewed mark: one undo step (the lock is not held meanwhile)
                with self._ds.undo_group(f"set mask {frame}"):
                    _mask, score = session.prompt(frame, eid, points, labels, box=box, clear=f["clear"])
                    self._ds.mark_reviewed(seq, frame, eid)
            return {"frame": frame, "entity": eid, "score": float(score)}

        return work

    def _do_propagate(self, req: Request) -> Any:
        f = req.fields
        seq = self.sequence
        frame = self.frame if f.get("frame") is None else self._frame_index(f["frame"], "propagate.frame")
        if f["entities"] == "selected":
            if not self.entity:
                raise ValidationError("propagate: no entity is selected; pick one, or propagate all")
            chosen: list[str] | None = [self.entity]
        else:
            chosen = None
        self._require_engine()
        direction = f["direction"]
        token = self._new_cancel()

        def work() -> dict[str, Any]:
            # On the worker: finding the keyframes reads the entities' tracks, and the session may
            # have to be built (SAM2 encodes frames); the message thread keeps answering meanwhile.
            eids = self._with_keyframes(seq, self._ds.entity_ids(seq) if chosen is None else chosen)
            if not eids:
                raise ValidationError(
                    "propagate: nothing to propagate; click on an object first to give it a mask on "
                    "some frame"
                )
            session = self._prepared_session(seq)
            return self._propagate_from(session, frame, direction, eids, token)

        return work

    def _do_find(self, req: Request) -> Any:
        f = req.fields
        seq = self.sequence
        frame = self.frame if f["frame"] is None else self._frame_index(f["frame"], "find.frame")
        text, scope = f["text"], f["scope"]
        engine = self._require_engine(finding=True)
        if not engine.finds:  # refused before a session is built for it
            raise ValidationError(_cannot_find(engine))
        token = self._new_cancel() if scope == "video" else None

        def work() -> dict[str, Any]:
            # a run shows from the start: building the session, then the detection
            session = self._session(seq) if token is None else self._prepared_session(seq)
            find = getattr(session, "find", None)
            if not callable(find):  # an engine that says it finds, with sessions that do not
                raise ValidationError(_cannot_find(engine))
            if token is not None:
                label = f"{engine.name}: finding {text!r} on frame {frame}"
                self.progress = {"running": True, "done": 0, "total": 0, "label": label, "cancelled": False}
            found = find(text, frame)
            new, matched = list(getattr(found, "new", found)), list(getattr(found, "matched", []))
            reply: dict[str, Any] = {
                "text": text,
                "frame": frame,
                "scope": scope,
                "entities": new + matched,
                "new": len(new),
                "matched": len(matched),
            }
            if not new and not matched:
                message = f"no {text!r} found on frame {frame}"
            else:
                message = f"found {len(new) + len(matched)} {text!r} on frame {frame}: {len(new)} new"
                if matched:
                    message += f", {len(matched)} already there"
            if token is not None:
                report: dict[str, Any] = {
                    "frames": 0,
                    "written": 0,
                    "kept": 0,
                    "cancelled": token.cancelled,
                    "found": [],
                }
                if not token.cancelled:
                    # what it found here, tracked both ways; the run keeps looking for the text on
                    # every frame, so instances that appear later become entities too
                    eids = self._with_keyframes(seq, new + matched)
                    label = f"{engine.name}: find and track {text!r} both ways from frame {frame}"
                    report = self._propagate_from(session, frame, "both", eids, token, label, find=[text])
                message += _tracked(report, bool(new or matched))
                reply.update(report)
            return {**reply, "message": message}

        return work

    def _new_cancel(self) -> CancelToken:
        """The token of the run being queued (the cancel request and Esc reach it)."""
        from ..segment.base import CancelToken

        token = self._cancel = CancelToken()
        return token

    def _with_keyframes(self, seq: str, ids: list[str]) -> list[str]:
        """Those of ``ids`` that have a keyframe mask: what a propagation can start from. Worker thread."""
        self._flush()  # the track bars are current: they say who has keyframes, without a scan
        tracks = self.tracks if seq == self.sequence else {}
        return [e for e in ids if (tracks[e]["keyframes"] if e in tracks else self._keyframes(seq, e))]

    def _prepared_session(self, seq: str) -> Session:
        """The sequence's session; while one is built a run's progress says so (indeterminate)."""
        if seq not in self._sessions:
            label = f"{self._require_engine().name}: preparing {self._ds.sequence(seq)['name']}"
            self.progress = {"running": True, "done": 0, "total": 0, "label": label, "cancelled": False}
        return self._session(seq)

    def _propagate_from(
        self,
        session: Session,
        frame: int,
        direction: Any,
        eids: list[str],
        token: CancelToken,
        label: str | None = None,
        find: list[str] | None = None,
    ) -> dict[str, Any]:
        """Propagate ``eids`` from their keyframes, from ``frame``, with the ``progress`` trait counting
        frames; the reply's fields. With ``find`` (a session that finds), only ``eids`` are tracked
        (maybe none) and new instances of those texts join the run as they appear (``found``). Worker
        thread."""
        self._sync_session(session, eids)
        legs = session.plan(frame, direction)
        total = len({i for leg in legs for i in leg.frames})
        if label is None:
            label = f"{session.engine.name}: propagate {direction} from frame {frame}"
        self.progress = {"running": True, "done": 0, "total": total, "label": label, "cancelled": False}
        last = [0.0]

        def on_frame(_frame: int, done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_INTERVAL or done == total:
                last[0] = now
                self.progress = {**self.progress, "done": done, "total": total}

        # The Propagate button tracks what it is given; finding over the video is the find box's (a
        # SAM 3 session would otherwise keep looking for every text find() was once given).
        finding: dict[str, Any] = (
            {"find": find} if find is not None else {"find": False} if session.engine.finds else {}
        )
        try:
            report = session.propagate_into(
                start=frame,
                direction=direction,
                entities=eids,
                cancel=token,
                progress=False,
                on_frame=on_frame,
                **finding,
            )
        finally:
            self.progress = {**self.progress, "running": False, "cancelled": token.cancelled}
        self.progress = {**self.progress, "done": len(report.frames), "cancelled": report.cancelled}
        reply = {
            "frames": len(report.frames),
            "written": report.written,
            "kept": report.kept,
            "cancelled": report.cancelled,
        }
        return reply if find is None else {**reply, "found": list(report.found)}

    def _do_erase(self, req: Request) -> Any:
        f = req.fields
        seq = self.sequence
        eid = self._entity_id(f["entity"], "erase.entity")
        n = self._ds.num_frames(seq)
        start, stop = f["start"], f["stop"]
        if start < 0 or stop > n:
            raise ValidationError(f"erase: range {start}..{stop} is outside the sequence (0..{n})")
        frames = range(start, stop)
        if self._review is None:
            return lambda: {"removed": self._ds.remove_masks(seq, eid, frames)}

        def work() -> dict[str, Any]:
            # "the object is not there" is what the person checked: reviewed, in the same undo step
            # Only frames still inside a tracklet, where a missing mask is a queue row: a mark is
            # a state row, which elsewhere would keep the tracklet from shrinking as erasing does.
            with self._ds.transaction(f"erase frames {start}..{stop - 1}"):
                removed = self._ds.remove_masks(seq, eid, frames)
                spans = [(tr["start_frame"], tr["end_frame"]) for tr in self._ds.tracklets(seq, eid)]
                inside = [i for i in frames if any(a <= i <= b for a, b in spans)]
                if inside:
                    self._ds.mark_reviewed(seq, inside, eid)
            return {"removed": removed}

        return work

    def _do_mark_reviewed(self, req: Request) -> Any:
        f = req.fields
        seq = self.sequence
        eid = None if f.get("entity") is None else self._entity_id(f["entity"], "mark_reviewed.entity")
        n = self._ds.num_frames(seq)
        start, stop = f["start"], f["stop"]
        if start < 0 or stop > n:
            raise ValidationError(f"mark_reviewed: range {start}..{stop} is outside the sequence (0..{n})")
        reviewed = f["reviewed"]
        pairs = (stop - start) * (1 if eid is not None else max(1, len(self._ds.entity_ids(seq))))
        if pairs > MAX_REVIEW_FRAMES:  # one message may not hold the writer's lock for a minute
            raise ValidationError(
                f"mark_reviewed: {pairs} (frame, entity) pairs in one message, at most {MAX_REVIEW_FRAMES}"
            )

        def work() -> dict[str, Any]:
            changed = self._ds.mark_reviewed(seq, range(start, stop), eid, reviewed=reviewed)
            if self._review is not None:
                self._review.touch()  # the queue reaches this version even when nothing changed
            return {"changed": changed, "version": self._ds.version}

        return work

    def _do_add_entity(self, req: Request) -> Any:
        f = req.fields
        seq = self.sequence

        def work() -> dict[str, Any]:
            eid = self._ds.add_entity(seq, f.get("name"), category=f.get("category"), color=f.get("color"))
            self._flush()
            self.entity = eid
            return {"entity": eid}

        return work

    def _do_set_entity(self, req: Request) -> Any:
        f = dict(req.fields)
        eid = self._entity_id(f.pop("entity"), "set_entity.entity")
        if not f:
            raise ValidationError("set_entity: nothing to change (give name, category or color)")
        seq = self.sequence
        return lambda: self._ds.set_entity(seq, eid, **f)

    def _do_delete_entity(self, req: Request) -> Any:
        eid = self._entity_id(req.fields["entity"], "delete_entity.entity")
        seq = self.sequence

        def work() -> None:
            session = self._sessions.get(seq)
            self._ds.remove_entity(seq, eid)
            if session is not None and eid in session.entities:
                session.remove(eid)

        return work

    def _do_undo(self, req: Request) -> Any:
        return lambda: {"done": self._ds.undo()}

    def _do_redo(self, req: Request) -> Any:
        return lambda: {"done": self._ds.redo()}

    # ------------------------------------------------------------------ the review queue
    def _on_dataset_change(self, change: Any) -> None:
        self._on_change(change)
        if self._review is not None and self.sequence in change.sequences:
            self._review.touch()

    def _reset_review(self, seq: str) -> None:
        """A sequence is shown: the browser's queue starts empty and fills when the first one lands."""
        if self._review is None:
            return
        with self._flush_lock:
            self.review = {"enabled": True, "sequence": seq, "version": -1, "entities": {}, "error": ""}
            self._review.reset()

    def _publish_review(self, seq: str, version: int, patch: dict[str, Any], error: str) -> None:
        """The review feed's new queue (under the flush lock): the kernel's trait in place, the event."""
        trait = self.review
        if self._closed or trait.get("sequence") != seq:
            return
        ents = trait["entities"]
        for eid, p in patch.items():
            if p is None:
                ents.pop(eid, None)
                continue
            rows = {}
            q = ents.get(eid)
            if q is not None:
                rows = {fr: (s, r) for fr, s, r in zip(q["frames"], q["suspicion"], q["reasons"])}
            for fr in p["remove"]:
                rows.pop(fr, None)
            for fr, s, r in p["set"]:
                rows[fr] = (s, r)
            ents[eid] = as_trait(rows)
        first = trait["version"] < 0
        changed = bool(patch) or trait["version"] != version or trait["error"] != error
        trait["version"], trait["error"] = version, error
        if first:
            # The sequence's first queue goes as state, not as an event: the browser's view may not
            # be listening yet (a queue ready at once, from the cache, came before the view and was
            # lost), and a view reads the state whenever it starts. Events patch what it has.
            self.send_state("review")
        elif changed:
            self.send(
                {"kind": "review", "sequence": seq, "version": version, "entities": patch, "error": error}
            )

    def _answer_review(self, req: Request) -> None:
        """Recompute the queue now; the reply comes once the browser has it."""
        if self._review is None:
            raise ValidationError("review: this Annotator has no review (created with review=False)")
        seq = self.sequence
        self._review.touch(now=True, then=lambda v: self._reply(req, sequence=seq, version=v))

    # ------------------------------------------------------------------ engine sessions
    def _require_engine(self, *, finding: bool = False) -> Engine:
        if self._engine is None:
            if finding:
                raise ValidationError(
                    "Annotator: no engine; finding from a text needs the 'sam3' engine: "
                    "vl.Annotator(ds, engine=vl.segment.load('sam3', model='facebook/sam3'))"
                )
            raise ValidationError("Annotator: no engine; create it with engine='flow' or engine='sam2'")
        return self._engine

    def _session(self, seq: str) -> Session:
        """The sequence's engine session, built on first use. Worker thread only, like every session call."""
        session = self._sessions.get(seq)
        if session is None:
            engine = self._require_engine()
            before = self.busy
            self.busy = f"preparing {engine.name}"
            try:
                session = engine.session(self._ds, seq)
            finally:
                self.busy = before
            self._sessions[seq] = session
        self._sessions.move_to_end(seq)
        self._release_sessions()
        return session

    def _release_sessions(self) -> None:
        """Close the least recently used sessions of sequences not shown, past ``keep_sessions`` of them.

        Worker thread only: a session is never closed while a job uses it."""
        others = [s for s in self._sessions if s != self.sequence]
        for seq in others[: max(0, len(others) - self._keep_sessions)]:
            session = self._sessions.pop(seq)
            try:
                session.close()
            except Exception:  # a failed close must not keep the next one open
                log.exception("Annotator: closing the session of %r failed", seq)

    def _keyframes(self, seq: str, eid: str) -> list[int]:
        store = self._ds.snapshot()["masks"]
        return sorted(k[1] for k in store.lookup("by_entity", (seq, eid)) if store.value(k, "keyframe"))

    def _sync_session(self, session: Session, eids: list[str]) -> None:
        """Make the session's prompts match the dataset's keyframes (undo, erase or cell edits change them).

        An entity whose prompts no longer produce its keyframe masks is re-prompted with those
        masks, so propagation always starts from what the dataset holds.
        """
        seq = session.sequence
        for eid in eids:
            keys = {i: self._ds.mask(seq, i, eid) for i in self._keyframes(seq, eid)}
            held = session.prompts(eid)[eid]
            if held.keys() == keys.keys() and all(_same(p.result, keys[i]) for i, p in held.items()):
                continue
            if eid in session.entities:
                session.remove(eid)
            for i, mask in keys.items():
                session.prompt(i, eid, mask=mask, write=False)


def _is_run(req: Request) -> bool:
    """A request that propagates: cancellable, and no other edit is taken while it runs."""
    return req.kind == "propagate" or (req.kind == "find" and req.fields["scope"] == "video")


def _tracked(report: dict[str, Any], had: bool) -> str:
    """The end of a video find's message: how the run went (``had``: something was found on the frame)."""
    frames, more = report["frames"], len(report["found"])
    also = f", {more} more found as it went" if more else ""
    if report["cancelled"]:
        return f"; tracking cancelled after {frames} frames{also}"
    if had or more:
        return f"; tracked over {frames} frames{also}"
    return f"; none in the video either ({frames} frames searched)" if frames else ""


def _cannot_find(engine: Engine) -> str:
    return (
        f"find: the {engine.name!r} engine cannot find objects from a text; load the 'sam3' "
        "engine for that (vl.Annotator(ds, engine='sam3'), or engine=vl.segment.load('sam3', ...))"
    )


def _field_kind(typ: Any) -> str:
    import pyarrow as pa

    if pa.types.is_boolean(typ):
        return "bool"
    if pa.types.is_integer(typ):
        return "int"
    if pa.types.is_floating(typ):
        return "float"
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return "string"
    return "other"


def _jsonable(value: Any) -> Any:
    # The kernel's JSON refuses NaN and types it does not know; the panel shows those as text.
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    return a is not None and b is not None and np.array_equal(a, b)


def _resolve_engine(engine: Any, options: dict[str, Any]) -> Engine | None:
    from ..segment.base import Engine

    if engine is None or isinstance(engine, Engine):
        if options:
            raise ValidationError(
                f"Annotator: engine options ({', '.join(options)}) need an engine name, not {engine!r}"
            )
        return engine
    if isinstance(engine, str):
        from .. import segment

        return segment.load(engine, **options)
    raise ValidationError(
        f"Annotator.engine: expected an engine name ({', '.join(_engine_names())}), an engine or None, "
        f"got {type(engine).__name__}"
    )


def _engine_names() -> list[str]:
    from .. import segment

    return list(segment.available())
