"""How well an engine propagates: the DAVIS semi-supervised protocol, run on a dataset with ground truth.

For each sequence a prediction dataset gets the ground truth's first-frame masks as keyframes (mask
prompts, written as human keyframes), the engine propagates them forward to the last frame with
``propagate_into``, an optional clean-up step runs on the result, and :func:`vidlabel.metrics.evaluate`
scores it against the ground truth (first and last frames not evaluated, as the protocol has it).
Nothing here computes a metric itself.

>>> gt = vl.read_davis("../shared/data/davis2016-dev")
>>> res = evaluate_engine(segment.load("flow"), gt)
>>> res.summary["J&F-Mean"], res.fps
>>> res.to_pandas()                          # one row per sequence
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from ..errors import ValidationError
from ..io.davis import select
from ..metrics import Evaluation, evaluate
from .base import Engine

if TYPE_CHECKING:
    import pandas as pd

    from ..dataset import Dataset

__all__ = ["EngineScores", "evaluate_engine"]

Cleanup = Callable[["Dataset", str], Any]  # (prediction dataset, sequence id), changes masks in place

_COLUMNS = ("sequence", "objects", "frames", "J-Mean", "F-Mean", "J&F", "seconds", "fps")


@dataclass
class EngineScores:
    """What :func:`evaluate_engine` measured, for one engine (and clean-up step) on some sequences."""

    engine: str
    summary: dict[str, float]  # global DAVIS figures, means over all objects (vidlabel.metrics)
    sequences: dict[str, dict[str, float]]  # name -> objects, frames, J-Mean, F-Mean, J&F, seconds, fps
    per_frame: dict[str, dict[str, np.ndarray]]  # name -> {object name: J on frames 1 .. T-2}
    evaluation: Evaluation  # what vidlabel.metrics.evaluate returned
    predictions: Dataset  # the masks that were scored (after a clean-up step, the cleaned ones, in both)
    seconds: float  # propagation time, all sequences (the clean-up not included)
    frames: int  # frames propagated
    cleanup_seconds: float = 0.0
    before_cleanup: EngineScores | None = None  # with a clean-up step: the same run scored before it
    _frames_of: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def fps(self) -> float:
        """Frames propagated per second of propagation (prompts, clean-up and scoring not counted)."""
        return self.frames / self.seconds if self.seconds > 0 else math.nan

    def frame_indices(self, sequence: str) -> np.ndarray:
        """The frame numbers that ``per_frame[sequence]`` values belong to."""
        return self._frames_of[sequence]

    def table(self) -> pa.Table:
        """One row per sequence: sequence, objects, frames, J-Mean, F-Mean, J&F, seconds, fps."""
        cols: dict[str, list[Any]] = {c: [] for c in _COLUMNS}
        for name, row in self.sequences.items():
            cols["sequence"].append(name)
            for c in _COLUMNS[1:]:
                cols[c].append(row[c])
        types = {"sequence": pa.string(), "objects": pa.int64(), "frames": pa.int64()}
        return pa.table({c: pa.array(v, type=types.get(c, pa.float64())) for c, v in cols.items()})

    def to_pandas(self) -> pd.DataFrame:
        """``table()`` as a DataFrame indexed by sequence (needs pandas)."""
        return self.table().to_pandas().set_index("sequence")

    def __repr__(self) -> str:
        jf = self.summary.get("J&F-Mean", math.nan)
        n = len(self.sequences)
        return f"EngineScores({self.engine!r}, {n} sequences, J&F {jf:.3f}, {self.fps:.1f} fps)"


def _prediction_dataset(gt_ds: Dataset, names: dict[str, str]) -> tuple[Dataset, dict[str, list[str]]]:
    """A dataset with the ground truth's sequences (sharing their frames) and non-void entities, no masks.
    Returns it and, per sequence, the entities that have a mask on the first frame."""
    from ..dataset import Dataset

    pred = Dataset()
    starts: dict[str, list[str]] = {}
    for name, gid in names.items():
        row = gt_ds.sequence(gid)
        source = gt_ds.frame_source(gid, required=True)
        sid = pred.add_sequence(name, frames=source, fps=row["fps"])
        starts[sid] = []
        for eid in gt_ds.entity_ids(gid):
            ent = gt_ds.entity(eid)
            if ent["void"]:
                continue
            pid = pred.add_entity(sid, ent["name"], category=ent["category"])
            first = gt_ds.mask(gid, 0, eid)
            if first is not None and first.any():
                starts[sid].append(pid)
    pred.clear_history()
    return pred, starts


def _objects(evaluation: Evaluation, name: str) -> list[tuple[str, str]]:
    """(key, DAVIS id) of the sequence's objects in ``evaluation``: its keys are "<sequence>_1" ..
    "<sequence>_N", so they are built from the name and the id, never split apart ("_" may be in
    names: "my_clip_1" is sequence "my_clip", object 1, and not sequence "my")."""
    out: list[tuple[str, str]] = []
    while (key := f"{name}_{len(out) + 1}") in evaluation.per_object:
        out.append((key, str(len(out) + 1)))
    return out


def _scores(
    engine: str,
    evaluation: Evaluation,
    pred: Dataset,
    names: dict[str, str],
    timing: dict[str, float],
    frames: dict[str, int],
) -> EngineScores:
    sequences: dict[str, dict[str, float]] = {}
    per_frame: dict[str, dict[str, np.ndarray]] = {}
    frames_of: dict[str, np.ndarray] = {}
    for name in names:
        objects = _objects(evaluation, name)
        keys = [k for k, _ in objects]
        j = [evaluation.per_object[k][0] for k in keys]
        f = [evaluation.per_object[k][1] for k in keys]
        jm = float(np.mean(j)) if j else math.nan
        fm = float(np.mean(f)) if f else math.nan
        secs = timing[name]
        sequences[name] = {
            "objects": len(keys),
            "frames": frames[name],
            "J-Mean": jm,
            "F-Mean": fm,
            "J&F": (jm + fm) / 2,
            "seconds": secs,
            "fps": frames[name] / secs if secs > 0 else math.nan,
        }
        # Object names as the ground truth has them ("1", "2", ... for DAVIS).
        per_frame[name] = {
            (evaluation.matches.get(k, (None, None))[0] or i): evaluation.per_frame[k]["J"]
            for k, i in objects
        }
        n = pred.num_frames(pred.resolve_sequence(name))
        frames_of[name] = np.arange(1, n - 1)
    return EngineScores(
        engine=engine,
        summary=dict(evaluation.summary),
        sequences=sequences,
        per_frame=per_frame,
        evaluation=evaluation,
        predictions=pred,
        seconds=float(sum(timing.values())),
        frames=int(sum(frames.values())),
        _frames_of=frames_of,
    )


def evaluate_engine(
    engine: Engine,
    gt_ds: Dataset,
    *,
    sequences: Iterable[str] | str | None = None,
    cleanup: Cleanup | None = None,
    progress: bool = True,
) -> EngineScores:
    """Score ``engine`` on the sequences of ``gt_ds`` (all by default, by name) as DAVIS semi-supervised.

    Each sequence starts from the ground truth's masks on frame 0 and is propagated forward to its
    end. ``cleanup(pred_ds, seq)``, if given, runs on each propagated sequence before scoring (e.g.
    ``lambda ds, seq: ds.clean_masks(seq)``); the scores are then those after it, and
    ``before_cleanup`` holds those of the same propagation before it. ``progress`` shows a bar per
    sequence. The ground truth is not changed.
    """
    if not isinstance(engine, Engine):
        raise ValidationError(f"evaluate_engine: expected an engine from segment.load, got {engine!r}")
    from ..dataset import Dataset

    if not isinstance(gt_ds, Dataset):
        raise ValidationError(f"evaluate_engine: gt_ds must be a Dataset with ground truth, got {gt_ds!r}")
    if cleanup is not None and not callable(cleanup):
        raise ValidationError(f"evaluate_engine: cleanup must be a callable (ds, seq), got {cleanup!r}")
    by_name = {gt_ds.sequence(s)["name"]: s for s in gt_ds.sequence_ids()}
    wanted = list(by_name)
    if sequences is not None:
        wanted = select(
            wanted,
            sequences,
            lambda bad: (
                f"evaluate_engine: sequence(s) {bad} not in the ground truth "
                f"(it has {', '.join(map(repr, by_name))})"
            ),
        )
    names = {n: by_name[n] for n in wanted}
    pred, starts = _prediction_dataset(gt_ds, names)
    timing: dict[str, float] = {}
    frames: dict[str, int] = {}
    for name, gid in names.items():
        sid = pred.resolve_sequence(name)
        frames[name], timing[name] = 0, 0.0
        if not starts[sid]:
            continue  # nothing on the first frame: nothing to propagate (the metrics score it as such)
        with engine.session(pred, sid) as sess:
            for pid in starts[sid]:
                gt_eid = gt_ds.resolve_entity(gid, pred.entity(pid)["name"])
                sess.prompt(0, pid, mask=gt_ds.mask(gid, 0, gt_eid))
            t0 = time.perf_counter()
            report = sess.propagate_into(start=0, direction="forward", progress=progress)
            timing[name] = time.perf_counter() - t0
            frames[name] = len(report.frames)
    raw = _scores(engine.name, evaluate(pred, gt_ds, sequences=wanted), pred, names, timing, frames)
    if cleanup is None:
        return raw
    # The raw figures are computed before the clean-up changes the masks; it runs on the same dataset.
    t0 = time.perf_counter()
    for name in names:
        cleanup(pred, pred.resolve_sequence(name))
    spent = time.perf_counter() - t0
    out = _scores(engine.name, evaluate(pred, gt_ds, sequences=wanted), pred, names, timing, frames)
    out.cleanup_seconds, out.before_cleanup = spent, raw
    return out
