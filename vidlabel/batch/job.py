"""A running batch: its report, its progress bar, cancellation, and the driver's writes.

The job runs on a thread of its own, so the cell that started it returns at once (``job.wait()``
blocks). A runner (``InProcessRunner`` here, ``RayRunner`` in ray_runner.py) hands sequences to
workers and gives each outcome to ``Job.deliver``, which writes it: only this thread writes, each
sequence at most once per job.
"""

from __future__ import annotations

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
        self._frames = 0
        self._t0 = time.perf_counter()
        self.progress: Any = None
        if progress:
            from tqdm.auto import tqdm

            self.progress = tqdm(total=len(order), initial=len(skipped), desc=f"batch {source}", unit="seq")
            self._show()
        self._thread = threading.Thread(target=self._main, name="vidlabel-batch", daemon=False)

    # ------------------------------------------------------------------ public
    def start(self) -> Job:
        with _RUNNING_LOCK:
            other = _RUNNING.get(self.dataset)
            if other is not None and other.running:
                self._close_bar()
                raise ValidationError(
                    "batch.propagate: a batch job is already running on this dataset; wait() or cancel() it"
                )
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

    def requeued(self, seq: str, error: str) -> None:
        """A worker died under ``seq``; it goes back in the queue."""
        with self._lock:
            r = self._report.sequences[seq]
            r.status, r.error = "pending", error

    def fail(self, seq: str, error: str, details: str | None = None) -> None:
        with self._lock:
            r = self._report.sequences[seq]
            r.status, r.error, r.details = "failed", error, details
        self._tick(0)

    def deliver(self, payload: Payload, outcome: Outcome) -> None:
        """A worker's outcome: written (once), or the sequence failed / cancelled."""
        seq = payload.sequence
        if outcome.cancelled:
            with self._lock:
                self._report.sequences[seq].status = "cancelled"
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
            r.frames, r.written, r.kept, r.dropped = w.frames, w.written, w.kept, w.dropped
            r.seconds, r.worker = outcome.seconds, outcome.pid
        self._tick(w.frames)

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
                self._report.finished = True
            self._runner.stop()
            self._show()
            self._close_bar()

    def _tick(self, frames: int) -> None:
        self._frames += frames
        if self.progress is not None:
            self._show(refresh=False)
            self.progress.update(1)

    def _show(self, refresh: bool = True) -> None:
        if self.progress is None:
            return
        counts = self.report().counts()
        elapsed = max(time.perf_counter() - self._t0, 1e-9)
        self.progress.set_postfix(
            frames=self._frames,
            fps=f"{self._frames / elapsed:.1f}",
            failed=counts.get("failed", 0),
            refresh=refresh,
        )

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
            job.deliver(p, self._worker.run(p, None, job.token))

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
