"""Sequences on Ray actors: each actor loads the engine once and serves sequence after sequence.

What Ray gives: actors placed by their resources (``num_cpus``, ``num_gpus``), restarted when their
process dies (``max_restarts``), objects moved through its object store, and ``ray.wait`` over the
answers. What is added here is only the bookkeeping that tells which sequence an answer, or a
death, belongs to: ``ray.util.ActorPool.get_next_unordered`` raises a dead actor's error without
saying which item was lost, and a lost sequence must be handed to another worker (a bounded number
of times, then reported failed).

Ray is imported only here, and only when a job asks for a cluster.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..errors import ValidationError
from .job import Job
from .payloads import FILE_KINDS, Payload, frames_data
from .worker import SequenceWorker

__all__ = ["ActorWorker", "RayRunner", "check_reachable", "connect", "is_remote", "parse_cluster"]

_POLL_S = 0.1  # how often the driver looks at cancel() while it waits for answers
_PROGRESS_S = 0.25  # how often the driver asks a busy worker how many frames it has done
# Ray 2.60's client sends the cluster's token only when asked to (ray PR #64755 review)
_AUTH_HINT = (
    " (a cluster with token authentication also needs RAY_AUTH_MODE=token here, and its token in "
    "RAY_AUTH_TOKEN or ~/.ray/auth_token)"
)


def _ray() -> Any:
    try:
        import ray
    except ImportError as e:
        raise ValidationError(
            f"batch.propagate: cluster= needs Ray ({e}): pip install 'vidlabel[ray]'"
        ) from e
    return ray


def parse_cluster(cluster: Any) -> tuple[str, int] | None:
    """None for the local Ray (``"ray"``), (host, port) for ``"ray://host:port"``; else an error."""
    if cluster == "ray":
        return None
    if isinstance(cluster, str) and cluster.startswith("ray://"):
        parts = urlsplit(cluster)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.hostname and port:
            return parts.hostname, port
    raise ValidationError(
        f"batch.propagate: cluster must be None (this process), 'ray' (a local Ray, or the one this "
        f"process is connected to) or 'ray://host:port' (a Ray cluster's client address), got {cluster!r}"
    )


def is_remote(cluster: str) -> bool:
    """Whether workers of ``cluster`` may not share this machine's memory (a Ray client connection)."""
    if cluster != "ray":
        return True
    import sys

    if "ray" not in sys.modules:
        return False
    ray = sys.modules["ray"]
    return bool(ray.is_initialized() and ray.util.client.ray.is_connected())


def check_reachable(address: tuple[str, int], cluster: str, timeout: float) -> None:
    """Refuse at once an address that does not answer (a Ray client retries for about 30 s)."""
    try:
        socket.create_connection(address, timeout=timeout).close()
    except OSError as e:
        raise ValidationError(
            f"batch.propagate: the Ray cluster {cluster!r} does not answer "
            f"({type(e).__name__}: {e}, within {timeout:g} s)"
        ) from None


def connect(cluster: str, timeout: float, *, say: bool = False) -> None:
    """Make sure this process is connected to ``cluster``, starting a local Ray for ``"ray"`` if none is
    (``say``: a line on stderr first, since that takes seconds before a progress bar can show)."""
    address = parse_cluster(cluster)
    ray = _ray()
    if address is None:
        if not ray.is_initialized():
            if say:
                print("batch: starting a local Ray (seconds; a later job reuses it)", file=sys.stderr)
            ray.init(include_dashboard=False)
        return
    if ray.is_initialized():
        raise ValidationError(
            f"batch.propagate: this process is already connected to a Ray cluster; use cluster='ray' "
            f"for it, or ray.shutdown() before connecting to {cluster!r}"
        )
    check_reachable(address, cluster, timeout)
    # Something answers: it still has to be a Ray client server, found out within the timeout.
    done, abandoned, lock = threading.Event(), threading.Event(), threading.Lock()
    failure: list[BaseException] = []

    def init() -> None:
        try:
            ray.init(address=cluster)
        except BaseException as e:
            failure.append(e)
        with lock:
            done.set()
            if abandoned.is_set() and not failure:  # connected after the caller gave up: let go again
                ray.shutdown()

    threading.Thread(target=init, name="vidlabel-ray-connect", daemon=True).start()
    done.wait(timeout)
    with lock:
        answered = done.is_set()
        if not answered:
            abandoned.set()
    if not answered:
        raise ValidationError(
            f"batch.propagate: {cluster!r} accepts connections but no Ray client answered "
            f"within {timeout:g} s{_AUTH_HINT}"
        )
    if failure:
        raise ValidationError(
            f"batch.propagate: cannot connect to {cluster!r}: {failure[0]}{_AUTH_HINT}"
        ) from failure[0]


@dataclass
class ActorWorker:
    """One actor of a job: its handle, its process (once started) and what it is doing."""

    handle: Any
    pid: int | None = None
    state: str = "starting"  # starting, idle, busy, dead
    deaths: int = 0
    error: BaseException | None = None  # the engine failed to load on it


@dataclass
class _Task:
    payload: Payload
    data: Any = None  # the object store reference of carried frames, kept while the sequence is open
    died_on: set[int] = field(default_factory=set)  # actors that died under it


class RayRunner:
    """``workers`` actors of ``cpus`` CPUs and ``gpus`` GPUs each; a sequence lost with its worker is
    given to another ``retries`` times at most; a dead actor is restarted by Ray ``restarts`` times."""

    def __init__(
        self,
        engine: str,
        options: dict[str, Any] | None,
        *,
        workers: int | None,
        cpus: float,
        gpus: float,
        retries: int,
        restarts: int,
        jobs: int,
    ) -> None:
        ray = _ray()
        self._ray = ray
        self.retries, self.restarts = retries, restarts
        if workers is None:
            have = ray.cluster_resources()
            by_cpu = int(have.get("CPU", 1) // cpus) if cpus else jobs
            by_gpu = int(have.get("GPU", 0) // gpus) if gpus else jobs
            workers = max(1, min(by_cpu, by_gpu, jobs))
        workers = min(workers, jobs)  # an actor with no sequence to take would only load the engine
        # Progress: the driver asks each busy actor for its frame count (``progress``, one small
        # tuple, a few times a second), which a second thread of the actor answers while ``run``
        # works (max_concurrency=2; the driver never gives an actor two sequences at once). Rather
        # than workers pushing counts to a progress actor: no actor more to place, keep alive and
        # find again after a restart, and a count dies with its worker, so a killed attempt cannot
        # report late; the driver keeps the only record of what is counted (Job.advanced).
        actor_cls = ray.remote(SequenceWorker).options(
            num_cpus=cpus, num_gpus=gpus, max_restarts=restarts, max_task_retries=0, max_concurrency=2
        )
        threads = max(1, int(cpus))
        self._actors = [ActorWorker(actor_cls.remote(engine, options, threads)) for _ in range(workers)]
        self.workers: list[Any] = self._actors
        self._stopped = threading.Event()

    def stop(self) -> None:
        """Let the actors go (also those working: what they were doing is given up)."""
        first = not self._stopped.is_set()
        self._stopped.set()
        for a in self._actors:
            a.state = "dead"  # (again at the job's end: an answer that came meanwhile made one idle)
            if first:
                with contextlib.suppress(Exception):  # already gone
                    self._ray.kill(a.handle)

    def run(self, job: Job, payloads: list[Payload]) -> None:
        ray = self._ray
        errors = ray.exceptions
        queue: deque[_Task] = deque(_Task(p) for p in payloads)
        waiting: dict[Any, tuple[str, ActorWorker, _Task | None]] = {}
        polls: dict[Any, tuple[ActorWorker, _Task]] = {}  # progress asked of busy actors
        asked = 0.0
        for a in self._actors:
            waiting[a.handle.start.remote()] = ("start", a, None)
        while (queue or any(k == "run" for k, _, _ in waiting.values())) and not job.cancelled:
            self._hand_out(job, queue, waiting)
            if not waiting:  # no worker left
                why = self._no_workers()
                while queue:
                    job.fail(queue.popleft().payload.sequence, why)
                return
            if time.monotonic() - asked >= _PROGRESS_S:
                asked = time.monotonic()
                self._ask_progress(waiting, polls)
            ready, _ = ray.wait([*waiting, *polls], num_returns=1, timeout=_POLL_S)
            for ref in ready:
                if ref in polls:
                    self._answered(job, ref, polls.pop(ref)[1])
                    continue
                kind, actor, task = waiting.pop(ref)
                for other in [r for r, (a, _) in polls.items() if a is actor]:
                    del polls[other]  # a poll of an actor that died may never answer: asked again
                try:
                    value = ray.get(ref)
                except errors.RayTaskError as e:
                    if task is None:  # the engine did not load on this worker
                        actor.state, actor.error = "dead", e
                    else:  # the worker lives, the call failed (run itself catches the sequence's errors)
                        actor.state = "idle"
                        job.fail(task.payload.sequence, f"{type(e).__name__}: {_first_line(e)}", str(e))
                    continue
                except errors.RayError as e:  # the worker died (killed, out of memory, its node lost)
                    self._died(job, actor, task, e, queue, waiting)
                    continue
                if kind == "start":
                    actor.pid, actor.state = int(value), "idle"
                    continue
                assert task is not None
                actor.pid, actor.state = value.pid or actor.pid, "idle"
                task.data = None  # its frames leave the object store
                job.deliver(task.payload, value)

    @staticmethod
    def _ask_progress(waiting: dict[Any, Any], polls: dict[Any, tuple[ActorWorker, _Task]]) -> None:
        """Ask each actor running a sequence, and not asked yet, how many frames it has done."""
        asked = {id(a) for a, _ in polls.values()}
        for kind, actor, task in waiting.values():
            if kind == "run" and task is not None and id(actor) not in asked:
                polls[actor.handle.progress.remote()] = (actor, task)

    def _answered(self, job: Job, ref: Any, task: _Task) -> None:
        """A worker's frame count, given to the job. A poll that failed says nothing: a worker that
        died is seen through its ``run``."""
        try:
            value = self._ray.get(ref)
        except self._ray.exceptions.RayError:
            return
        if value is not None and value[0] == task.payload.sequence:
            job.advanced(value[0], int(value[1]))

    def _hand_out(self, job: Job, queue: deque[_Task], waiting: dict[Any, Any]) -> None:
        idle = [a for a in self._actors if a.state == "idle"]
        alive = {id(a) for a in self._actors if a.state != "dead"}
        for actor in idle:
            if not queue:
                return
            # A sequence goes first to a worker it has not died on (while there is another one).
            pick = next((t for t in queue if id(actor) not in t.died_on or not (alive - t.died_on)), None)
            if pick is None:
                continue
            queue.remove(pick)
            p = pick.payload
            if pick.data is None and p.frames.kind not in FILE_KINDS:
                pick.data = self._ray.put(frames_data(p))
            actor.state = "busy"
            job.started(p.sequence, actor.pid)
            waiting[actor.handle.run.remote(p.for_worker(), pick.data)] = ("run", actor, pick)

    def _died(
        self,
        job: Job,
        actor: ActorWorker,
        task: _Task | None,
        error: BaseException,
        queue: deque[_Task],
        waiting: dict[Any, Any],
    ) -> None:
        actor.deaths += 1
        if task is not None:
            seq = task.payload.sequence
            task.died_on.add(id(actor))
            why = f"its worker died: {type(error).__name__}: {_first_line(error)}"
            if job.report()[seq].attempts > self.retries:
                task.data = None
                job.fail(seq, f"{why} (tried {self.retries + 1} times)")
            else:
                job.requeued(seq, why)
                queue.appendleft(task)
        if actor.deaths > self.restarts:
            actor.state = "dead"
            return
        # Ray restarts it (max_restarts): ask for its pid again, which answers once it is back, or
        # raises at once if it is gone for good (ray.kill).
        actor.state = "starting"
        waiting[actor.handle.start.remote()] = ("start", actor, None)

    def _no_workers(self) -> str:
        failed = [a.error for a in self._actors if a.error is not None]
        if failed:
            cause = failed[0]
            inner = getattr(cause, "cause", None) or cause
            return f"no worker could load the engine: {type(inner).__name__}: {_first_line(inner)}"
        return "no worker left: every worker died (and was not restarted)"


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else repr(e)
