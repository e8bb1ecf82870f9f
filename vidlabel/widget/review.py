"""The review queue of the shown sequence, for the Annotator's review strip, counter and N key.

``ds.review(seq)`` is recomputed on a thread of its own, never on the kernel's message thread
and never inside a burst of edits: an edit notes that the queue is stale, and the queue is
recomputed once the edits have been quiet for ``QUIET`` seconds (at most ``MAX_WAIT`` after the
first), or not at all while a propagation runs (once, when it ends). ``ds.review`` is
incremental, so a recompute after a small edit costs what the edit touched.

The browser gets the queue whole in the ``review`` trait when a sequence is shown, then as
patches in ``review`` events (only the rows that changed; see ``protocol.md``). It answers N,
Shift+N and the counter from its own copy.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError

if TYPE_CHECKING:
    from ..dataset import Dataset

log = logging.getLogger("vidlabel.widget")

QUIET = 0.25  # seconds without an edit before the queue is recomputed
MAX_WAIT = 2.0  # ... but no later than this after the first edit of a burst
OPTIONS = frozenset({"weights", "engine", "compare"})  # what Annotator(review={...}) passes to ds.review

Rows = dict[int, tuple[float, str]]  # frame -> (suspicion, reasons)


def review_options(review: Any) -> dict[str, Any] | None:
    """``Annotator(review=...)``: True (the default queue), False (no review) or ds.review's options."""
    if review is True:
        return {}
    if review is False or review is None:
        return None
    if isinstance(review, Mapping):
        unknown = ", ".join(sorted(set(map(str, review)) - OPTIONS))
        if unknown:
            known = ", ".join(sorted(OPTIONS))
            raise ValidationError(f"Annotator.review: unknown option(s) {unknown} (known: {known})")
        if "weights" in review:  # a typo in a signal's name is refused here, not found out later
            from ..review.weights import check_weights

            check_weights(review["weights"])
        return dict(review)
    raise ValidationError(
        f"Annotator.review: expected True, False or a dict of ds.review options, got {type(review).__name__}"
    )


def queue_rows(table: Any) -> dict[str, Rows]:
    """``ds.review``'s table as entity -> frame -> (suspicion rounded to 3 places, reasons)."""
    cols = table.select(["frame_index", "entity_id", "suspicion", "reasons"]).to_pydict()
    out: dict[str, Rows] = {}
    for f, e, s, r in zip(cols["frame_index"], cols["entity_id"], cols["suspicion"], cols["reasons"]):
        out.setdefault(e, {})[int(f)] = (round(float(s or 0.0), 3), r or "")
    return out


def as_trait(rows: Rows) -> dict[str, list[Any]]:
    frames = sorted(rows)
    return {
        "frames": frames,
        "suspicion": [rows[f][0] for f in frames],
        "reasons": [rows[f][1] for f in frames],
    }


def diff(old: dict[str, Rows], new: dict[str, Rows]) -> dict[str, Any]:
    """The ``review`` event's patch taking ``old`` to ``new``: per entity, rows to set and frames to drop."""
    out: dict[str, Any] = {}
    for eid in old.keys() - new.keys():
        out[eid] = None
    for eid, rows in new.items():
        before = old.get(eid, {})
        put = [[f, *v] for f, v in sorted(rows.items()) if before.get(f) != v]
        gone = sorted(before.keys() - rows.keys())
        if put or gone or eid not in old:
            out[eid] = {"set": put, "remove": gone}
    return out


class ReviewFeed:
    """Keeps an Annotator's ``review`` trait and the browser's copy of the queue current.

    ``publish`` is the widget's: it applies a patch to the kernel's trait in place and sends the
    event; it runs under ``lock`` (the widget's flush lock, which ``reset`` runs under too, with
    the trait's reset), so a queue computed for what was shown before a reset is never sent after
    it. Locks are taken in that order: ``lock``, then the feed's own. ``shown`` returns the
    sequence shown now, ``busy`` whether a propagation runs (from the widget or a cell).
    """

    def __init__(
        self,
        ds: Dataset,
        options: dict[str, Any],
        *,
        shown: Callable[[], str],
        busy: Callable[[], bool],
        publish: Callable[[str, int, dict[str, Any], str], None],
        lock: Any,
    ) -> None:
        self._lock = lock
        self._ds = ds
        self._options = options
        self._shown = shown
        self._busy = busy
        self._publish = publish
        self._cond = threading.Condition()
        self._dirty_at: float | None = None  # when the queue went stale (None: it is current)
        self._touched = 0.0  # the last edit
        self._now = False  # recompute without waiting (a sequence shown, a request, wait())
        self._waiters: list[Callable[[int], None]] = []
        self._running = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._sent: dict[str, Rows] = {}  # what the browser holds for the shown sequence
        self._generation = 0  # one more per reset: a queue computed before one is dropped
        self.version = -1  # the dataset version the last queue was computed at

    # ------------------------------------------------------------------ from the widget
    def reset(self) -> None:
        """A sequence is shown: the browser's copy starts empty (the widget sets the trait so, under
        the same lock)."""
        with self._cond:
            self._sent, self.version = {}, -1
            self._generation += 1
        self.touch(now=True)

    def touch(self, *, now: bool = False, then: Callable[[int], None] | None = None) -> None:
        """The queue is stale (an edit, a propagation that ended); ``then(version)`` once it is current."""
        with self._cond:
            if self._closed:
                return
            t = time.monotonic()
            if self._dirty_at is None:
                self._dirty_at = t
            self._touched = t
            self._now = self._now or now
            if then is not None:
                self._waiters.append(then)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="vidlabel-annotator-review", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> None:
        """Recompute now if stale, and block until the browser has the current queue."""
        done = threading.Event()
        with self._cond:
            if self._closed or (self._dirty_at is None and not self._running):
                return
        self.touch(now=True, then=lambda _v: done.set())
        done.wait(timeout)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            waiters, self._waiters = self._waiters, []
            self._cond.notify_all()
        for cb in waiters:
            cb(self.version)

    # ------------------------------------------------------------------ the thread
    def _due(self) -> float:
        """Seconds until the stale queue is recomputed (0: now)."""
        if self._now:
            return 0.0
        if self._busy():
            return 0.2  # look again: nothing is recomputed while a propagation writes
        assert self._dirty_at is not None
        return min(self._touched + QUIET, self._dirty_at + MAX_WAIT) - time.monotonic()

    def _loop(self) -> None:
        with self._cond:
            while not self._closed:
                if self._dirty_at is None:
                    self._cond.wait()
                    continue
                wait = self._due()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                self._dirty_at, self._now, self._running = None, False, True
                waiters, self._waiters = self._waiters, []
                self._cond.release()
                try:
                    self._compute()
                except Exception:  # keep following the dataset; the traceback goes to the kernel's log
                    log.exception("Annotator: the review queue failed")
                finally:
                    self._cond.acquire()
                    self._running = False
                version = self.version
                self._cond.release()
                try:
                    for cb in waiters:
                        cb(version)
                finally:
                    self._cond.acquire()

    def _compute(self) -> None:
        with self._cond:
            generation = self._generation
        seq = self._shown()
        ds = self._ds
        error = ""
        rows: dict[str, Rows] | None = None
        with ds.snapshot() as snap:  # one version for the whole queue, whatever lands meanwhile
            version = snap.number
            try:
                rows = queue_rows(ds.review(seq, **self._options)) if seq in ds.sequence_ids() else {}
            except ValidationError as exc:
                error = f"review: {exc}"
            except Exception as exc:  # a bug: say so in the widget, keep the traceback in the log
                log.exception("Annotator: ds.review failed")
                error = f"review failed: {exc!r}"
        with self._lock:
            with self._cond:
                if generation != self._generation or self._closed:  # shown afresh meanwhile
                    return
                old = self._sent
                if rows is None:  # the browser keeps the last queue, with the error beside it
                    rows = old
                patch = diff(old, rows)
                self._sent = rows
                self.version = max(self.version, version)
                version = self.version
            self._publish(seq, version, patch, error)
