"""Many sequences at once: the keyframes each holds propagated by an engine, in this process or on Ray.

>>> job = vl.batch.propagate(ds, engine="flow")                       # here, one sequence at a time
>>> job = vl.batch.propagate(ds, engine="sam2", engine_options={"model": "facebook/sam2.1-hiera-tiny"},
...                          cluster="ray://head:10001", workers=8, gpus_per_worker=1)
>>> job.wait()            # or job.cancel(); job.report() at any time

payloads.py (what a worker gets and gives back), worker.py (a sequence propagated, the same code here
and in an actor), write.py (a sequence written whole, "done"), job.py (the job, in-process runner),
ray_runner.py (actors), report.py. Ray is imported only for ``cluster=``.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from .job import InProcessRunner, Job, NoWork, Runner, refuse_if_running
from .payloads import build_payloads
from .report import BatchReport, SequenceReport
from .write import done_sequences, source_name

if TYPE_CHECKING:
    from ..dataset import Dataset
    from ..segment import Engine

__all__ = ["BatchReport", "Job", "SequenceReport", "propagate"]

DIRECTIONS = ("forward", "backward", "both")


def propagate(
    ds: Dataset,
    engine: str | Engine,
    engine_options: Mapping[str, Any] | None = None,
    *,
    sequences: Iterable[str] | None = None,
    direction: str = "both",
    skip_done: bool = True,
    cluster: str | None = None,
    workers: int | None = None,
    gpus_per_worker: float = 0,
    cpus_per_worker: float = 1,
    retries: int = 2,
    restarts: int = 3,
    progress: bool = True,
    connect_timeout: float = 30.0,
    text: str | Iterable[str] | None = None,
) -> Job:
    """Propagate the keyframes of many sequences with ``engine``; returns a running ``Job``.

    Prompts are what the dataset holds: each entity's keyframe masks (``keyframe=True``: a person's
    masks, clicks turned into masks) and keyframe boxes on frames without such a mask. ``sequences``:
    ids or names (default: every sequence; those without keyframes are skipped and reported).
    ``direction`` is a session's (``"both"``: forward from the first keyframe to the end, then
    backward from it to frame 0; entities join at their first keyframe on the way).

    Each sequence's results are written in ONE transaction (one undo step, durable on a project when
    written) with ``source=`` the engine's name and options (``source_name``), ``keyframe=False``;
    keyframes in the dataset are never overwritten. ``skip_done`` skips sequences that already hold
    this source's propagated masks, so a project whose driver died carries on where it stopped.

    ``cluster=None`` runs here, one sequence at a time (``engine`` may be an Engine). ``"ray"``: a
    local Ray (started if this process has none) or the cluster this process is connected to;
    ``"ray://host:port"``: a cluster's client address. Ray workers (``workers`` actors of
    ``cpus_per_worker`` CPUs and ``gpus_per_worker`` GPUs; by default as many as the cluster has
    room for) load the engine by name once and read the frames from their files; a sequence lost
    with its worker goes to another one, ``retries`` times at most, then is reported failed.
    Sequences of in-memory arrays cannot reach a remote cluster and are refused for one.

    ``text`` (the ``"sam3"`` engine): concepts to find, ``"car"`` or ``["car", "person"]``. Every
    sequence is propagated, also those without keyframes (from frame 0, or the last frame going
    backward); each instance found that matches nothing tracked becomes an entity of that category
    where it is found (its mask there a keyframe), tracked from the next frame, all in the sequence's
    one transaction; ``report[seq].found`` lists them. The texts are part of the masks' ``source``.

    ``progress``: ``job.progress`` is a tqdm bar of the frames computed out of those planned, moving
    while a sequence is under way, with the sequences done, failed, skipped and retried.
    """
    from ..dataset import Dataset
    from ..segment import Engine, available

    if not isinstance(ds, Dataset):
        raise ValidationError(f"batch.propagate: expected a Dataset, got {type(ds).__name__}")
    if ds.project is not None and ds.project.readonly:
        raise ValidationError("batch.propagate: the project is open read-only; results could not be written")
    if isinstance(engine, Engine):
        if engine_options:
            raise ValidationError("batch.propagate: engine_options go with an engine name, not an Engine")
        if cluster is not None:
            raise ValidationError(
                "batch.propagate: with a cluster give the engine by name (workers load it themselves), "
                f"not {engine!r}"
            )
        name = engine.name
    elif isinstance(engine, str) and engine in available():
        name = engine
    else:
        raise ValidationError(
            f"batch.propagate: unknown engine {engine!r}; engines are {', '.join(available())}"
        )
    if engine_options is not None and (
        not isinstance(engine_options, Mapping) or not all(isinstance(k, str) for k in engine_options)
    ):
        raise ValidationError(
            f"batch.propagate: engine_options must be a dict of options, got {engine_options!r}"
        )
    options = dict(engine_options or {})
    texts = _texts(text, name)
    if direction not in DIRECTIONS:
        raise ValidationError(f"batch.propagate: direction must be one of {DIRECTIONS}, got {direction!r}")
    for label, count in (("retries", retries), ("restarts", restarts)):
        if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
            raise ValidationError(f"batch.propagate: {label} must be an integer >= 0, got {count!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValidationError(f"batch.propagate: workers must be a positive integer, got {workers!r}")
    if workers is not None and cluster is None:
        raise ValidationError(
            "batch.propagate: workers= is for a Ray cluster (cluster='ray' or 'ray://host:port'); "
            "in this process sequences run one at a time"
        )
    for label, value in (("gpus_per_worker", gpus_per_worker), ("cpus_per_worker", cpus_per_worker)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
            raise ValidationError(f"batch.propagate: {label} must be a number >= 0, got {value!r}")
    if not (isinstance(connect_timeout, numbers.Real) and connect_timeout > 0):
        raise ValidationError(
            f"batch.propagate: connect_timeout must be seconds > 0, got {connect_timeout!r}"
        )

    if sequences is None:
        order = ds.sequence_ids()
    else:
        if isinstance(sequences, str):
            sequences = [sequences]
        order = list(dict.fromkeys(ds.resolve_sequence(s) for s in sequences))
    source = source_name(name, {**options, "find": texts} if texts else options)
    with ds.snapshot():
        payloads, skipped = build_payloads(ds, order, direction, texts)
        if skip_done:
            done = done_sequences(ds, source, [p.sequence for p in payloads])
            skipped.update({s: f"done before (it holds masks of {source!r})" for s in done})
            payloads = [p for p in payloads if p.sequence not in done]

    refuse_if_running(ds)  # before an engine is loaded for nothing
    runner: Runner
    if cluster is not None:
        from . import ray_runner

        ray_runner.parse_cluster(cluster)  # a malformed address is refused even with nothing to do
    if not payloads:
        runner = NoWork()
    elif cluster is None:
        runner = InProcessRunner(engine, options)
    else:
        address = ray_runner.parse_cluster(cluster)
        if address is not None:
            _refuse_arrays(payloads, cluster)
        ray_runner.connect(cluster, float(connect_timeout), say=progress)
        if ray_runner.is_remote(cluster):
            _refuse_arrays(payloads, cluster)
        assert isinstance(engine, str)
        runner = ray_runner.RayRunner(
            engine,
            options,
            workers=workers,
            cpus=float(cpus_per_worker),
            gpus=float(gpus_per_worker),
            retries=int(retries),
            restarts=int(restarts),
            jobs=max(1, len(payloads)),
        )
    job = Job(ds, payloads, skipped, source, runner, order=order, progress=progress)
    try:
        return job.start()
    except BaseException:
        runner.stop()
        raise


def _texts(text: Any, engine: str) -> list[str]:
    if text is None:
        return []
    texts = [text] if isinstance(text, str) else list(text) if isinstance(text, Iterable) else None
    if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise ValidationError(
            f"batch.propagate: text must be a non-empty text or a list of them, got {text!r}"
        )
    if engine != "sam3":
        raise ValidationError(
            f"batch.propagate: text prompts need the sam3 engine (engine='sam3', model=a SAM 3 id such as "
            f"facebook/sam3); {engine!r} cannot find"
        )
    from ..segment.sam3_find import check_text_length

    texts = [" ".join(t.split()) for t in texts]  # one line, single spaces: the entities' category
    for t in texts:
        check_text_length(t, "batch.propagate")
    return list(dict.fromkeys(texts))


def _refuse_arrays(payloads: list[Any], cluster: str) -> None:
    held = [p.sequence for p in payloads if p.frames.kind == "array"]
    if held:
        raise ValidationError(
            f"batch.propagate: sequence(s) {', '.join(map(repr, held))} hold their frames as in-memory "
            f"arrays, which the workers of {cluster!r} cannot read; add them from image or video files "
            "(or open a project with vl.open, which keeps such frames as files), or use cluster=None or "
            "a local Ray (cluster='ray')"
        )
