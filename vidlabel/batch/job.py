"""A running batch: its report, its progress bar, cancellation, and the driver's writes.

The job runs on a thread of its own, so the cell that started it returns at once (``job.wait()``
blocks). A runner (``InProcessRunner`` here, ``RayRunner`` in ray_runner.py) hands sequences to
workers and gives each outcome to ``Job.deliver``, which writes it: only this thread writes, each
sequence at most once per job.

The bar counts frames, out of the frames planned for the sequences to run: the sum of every
sequence's ``computed`` in the report, which is its frames once written, and while it is under way
the frames computed so far (``Job.advanced``, told by the runner at most a few times a second on
Ray, by the worker after every frame in this process; the bar is drawn at most ``_REFRESH_S``
apart). Its description counts sequences done (written or skipped) out
of all asked for; its postfix, failures, skipped sequences and retries (these two when any) and
frames/s. A sequence whose worker died is retried from its first frame: the bar keeps the frames it
had reached and moves on only once the retry passes them, so each frame is counted once. A sequence
that fails or is cancelled writes nothing, and its frames leave the count; at the end the bar holds
exactly the frames written.
"""

from __future__ import annotations

import functools
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ValidationError
from ..segment.records import CancelToken
from .payloads import Outcome, Payload
from .report import BatchReport, SequenceReport
from .worker import SequenceWorker
from .write import write_outcome

if TYPE_CHECKING:
    from ..dataset import Dataset
    from ..segment import Engine

__all__ = ["InProcessRunner", "Job", "NoWork", "Runner"]

_RUNNING: weakref.WeakKeyDictionary[Any, Job] = weakref.WeakKeyDictionary()  # dataset -> its running job
_RUNNING_LOCK = threading.Lock()


def refuse_if_running(ds: Any) -> None:
    """A ValidationError if a batch job runs on ``ds``: checked before an engine is loaded or Ray
    actors are placed for a second one (and again, atomically, when a job starts)."""
    other = _RUNNING.get(ds)
    if other is not None and other.running:
        raise ValidationError(
            "batch.propagate: a batch job is already running on this dataset; wait() or cancel() it"
        )


_REFRESH_S = 0.2  # the bar is redrawn for frames under way at most this often


class Runner(Protocol):
    workers: list[Any]

    def run(self, job: Job, payloads: list[Payload]) -> None: ...

    def stop(self) -> None: ...


class Job:
    """``job.progress`` (a tqdm bar), ``job.cancel()``, ``job.wait()``, ``job.report()``; see
    ``vidlabel.batch.propagate``."""

    def __init__(
        self,
        ds: Dataset,
        payloads: list[Payload],
        skipped: dict[str, str],
        source: str,
        runner: Runner,
        *,
        order: list[str],
        progress: bool = True,
    ) -> None:
        self.dataset = ds
        self.source = source
        self.payloads = payloads
        self._runner = runner
        self._lock = threading.Lock()
        self._written: set[str] = set()
        self._report = BatchReport(source, {s: SequenceReport(s) for s in order})
        for seq, why in skipped.items():
            r = self._report.sequences[seq]
            r.status, r.error = "skipped", why
        self._cancelled = threading.Event()
        self.token = CancelToken()  # stops an in-process sequence between frames
        self._error: BaseException | None = None
        self._retried = 0
        self._t0 = self._shown_at = time.perf_counter()
        self.progress: Any = None
        if progress:
            from tqdm.auto import tqdm

            planned = sum(p.planned_frames for p in payloads)
            self.progress = tqdm(total=planned, desc=f"batch {source}", unit="frame", miniters=1)
            self._show()
        self._thread = threading.Thread(target=self._main, name="vidlabel-batch", daemon=False)

    # ------------------------------------------------------------------ public
    def start(self) -> Job:
        with _RUNNING_LOCK:
            try:
                refuse_if_running(self.dataset)
            except ValidationError:
                self._close_bar()
                raise
            _RUNNING[self.dataset] = self
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def workers(self) -> list[Any]:
        """The runner's workers: on Ray ``ActorWorker``s (``.handle``, ``.pid``, ``.state``), in the
        order they were made; in this process the one ``SequenceWorker``."""
        return list(self._runner.workers)

    def cancel(self) -> None:
        """Stop: nothing more is started; the sequences under way are given up (none written in part)."""
        self._cancelled.set()
        self.token.cancel()
        self._runner.stop()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def wait(self, timeout: float | None = None) -> BatchReport:
        """Block until the job ends (or ``timeout`` seconds pass); the report. Raises what broke the job
        itself (not a sequence's failure: that is in the report)."""
        self._thread.join(timeout)
        if self._error is not None:
            raise self._error
        return self.report()

    def report(self) -> BatchReport:
        """The state of every sequence now (a copy)."""
        with self._lock:
            return self._report.copy()

    def __repr__(self) -> str:
        state = "running" if self.running else ("cancelled" if self.cancelled else "finished")
        counts = ", ".join(f"{n} {s}" for s, n in self.report().counts().items())
        return f"<vidlabel.batch.Job {self.source!r} {state}: {counts}>"

    # ------------------------------------------------------------------ for runners
    def started(self, seq: str, worker: int | None) -> None:
        with self._lock:
            r = self._report.sequences[seq]
            r.status, r.worker = "running", worker
            r.attempts += 1

    def advanced(self, seq: str, frames: int) -> None:
        """``frames`` frames of ``seq`` are computed by the attempt under way (cheap: called per frame
        in this process). Ignored unless ``seq`` is running: a late count of an attempt that ended."""
        r = self._report.sequences[seq]  # (its status and count change on this thread only)
        if r.status != "running" or frames <= r.computed:
            return  # an attempt after a worker died counts on once it passes the frames of the last
        with self._lock:
            r.computed = frames
        if self.progress is not None and time.perf_counter() - self._shown_at >= _REFRESH_S:
            self._show(refresh=False)

    def requeued(self, seq: str, error: str) -> None:
        """A worker died under ``seq``; it goes back in the queue (its frames stay on the bar)."""
        with self._lock:
            r = self._report.sequences[seq]
            r.status, r.error = "pending", error
        self._retried += 1
        self._show(refresh=False)

    def fail(self, seq: str, error: str, details: str | None = None) -> None:
        with self._lock:
            r = self._report.sequences[seq]
            r.status, r.error, r.details, r.computed = "failed", error, details, 0
        self._show(refresh=False)

    def deliver(self, payload: Payload, outcome: Outcome) -> None:
        """A worker's outcome: written (once), or the sequence failed / cancelled."""
        seq = payload.sequence
        if outcome.cancelled:
            with self._lock:
                r = self._report.sequences[seq]
                r.status, r.computed = "cancelled", 0
            self._show(refresh=False)
            return
        if outcome.error is not None:
            self.fail(seq, outcome.error, outcome.details)
            return
        if seq in self._written:  # a duplicate answer (never expected): the sequence is written once
            return
        try:
            w = write_outcome(self.dataset, payload, outcome, self.source, f"batch {self.source}: {seq}")
        except ValidationError as e:
            self.fail(seq, f"not written: {e}")
            return
        self._written.add(seq)
        with self._lock:
            r = self._report.sequences[seq]
            r.status, r.error, r.details = "done", None, None
            r.frames, r.written, r.kept, r.dropped, r.found = w.frames, w.written, w.kept, w.dropped, w.found
            r.seconds, r.worker, r.computed = outcome.seconds, outcome.pid, w.frames
        self._show(refresh=False)

    # ------------------------------------------------------------------ inside
    def _main(self) -> None:
        try:
            self._runner.run(self, self.payloads)
        except BaseException as e:  # the machinery broke: every sequence left says so, wait() raises
            self._error = e
            with self._lock:
                for r in self._report.sequences.values():
                    if r.status in ("pending", "running"):
                        r.status, r.error = "failed", f"the job stopped: {type(e).__name__}: {e}"
        finally:
            with self._lock:
                for r in self._report.sequences.values():
                    if r.status in ("pending", "running"):
                        r.status = "cancelled"
                    if r.status != "done":
                        r.computed = 0  # nothing of it was written
                self._report.finished = True
            self._runner.stop()
            self._show()
            self._close_bar()

    def _show(self, refresh: bool = True) -> None:
        bar = self.progress
        if bar is None:
            return
        self._shown_at = now = time.perf_counter()
        report = self.report()
        frames = sum(r.computed for r in report.sequences.values())
        counts = report.counts()
        done = counts.get("done", 0) + counts.get("skipped", 0)
        bar.set_description(f"batch {self.source}: {done}/{len(self._report.sequences)} seq", refresh=False)
        postfix: dict[str, Any] = {"failed": counts.get("failed", 0)}
        if counts.get("skipped"):
            postfix["skipped"] = counts["skipped"]
        if self._retried:
            postfix["retried"] = self._retried
        postfix["fps"] = f"{frames / max(now - self._t0, 1e-9):.1f}"
        bar.set_postfix(postfix, refresh=False)
        if frames != bar.n:
            bar.update(frames - bar.n)  # draws (tqdm's mininterval apart)
        if refresh:
            bar.refresh()

    def _close_bar(self) -> None:
        if self.progress is not None:
            self.progress.close()


class InProcessRunner:
    """One sequence at a time, in the driver's process, with the engine loaded once."""

    def __init__(self, engine: str | Engine, options: dict[str, Any] | None) -> None:
        self._worker = SequenceWorker(engine, options)
        self._worker.start()  # a bad engine or bad options raise here, before the job starts
        self.workers: list[Any] = [self._worker]

    def run(self, job: Job, payloads: list[Payload]) -> None:
        for p in payloads:
            if job.cancelled:
                return
            job.started(p.sequence, os.getpid())
            job.deliver(p, self._worker.run(p, None, job.token, functools.partial(job.advanced, p.sequence)))

    def stop(self) -> None:
        pass  # the job's cancel token stops the sequence under way


class NoWork:
    """Every sequence skipped: no engine loaded, no cluster joined."""

    def __init__(self) -> None:
        self.workers: list[Any] = []

    def run(self, job: Job, payloads: list[Payload]) -> None:
        pass

    def stop(self) -> None:
        pass
