"""A worker: loads an engine once and propagates one sequence after another, answering with RLE.

The same code runs in the driver's process (``cluster=None``) and in a Ray actor: each sequence is
rebuilt as a Dataset of its own from the payload (its frames, its entities, its keyframe masks), the
engine's ordinary session prompts every keyframe and propagates, and the masks go back as compressed
RLE. So a batch computes what a loop of sessions would, and nothing about the worker's dataset
outlives the sequence.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .. import rle as rlemod
from .payloads import Outcome, Payload

if TYPE_CHECKING:
    from ..segment import CancelToken, Engine

__all__ = ["SequenceWorker", "compute"]

_CACHE_BYTES = 64 * 2**20  # the worker's decode cache: a pass reads each frame once


def compute(
    engine: Engine,
    payload: Payload,
    data: Any = None,
    cancel: CancelToken | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> Outcome:
    """Propagate the keyframes of ``payload`` with ``engine``; never raises (an error is in the outcome).

    ``on_frame(done)`` is called after each frame with the number of frames computed so far; it must
    be cheap (it runs in the propagation loop)."""
    from ..dataset import Dataset

    t0 = time.perf_counter()
    out = Outcome(payload.sequence, pid=os.getpid())
    try:
        local = Dataset(cache_bytes=_CACHE_BYTES)
        source = payload.frames.open(data)
        seq = local.add_sequence(payload.name, frames=source, id=payload.sequence, fps=payload.fps)
        row = local.sequence(seq)
        if (row["num_frames"], row["height"], row["width"]) != (
            payload.num_frames,
            payload.height,
            payload.width,
        ):
            raise RuntimeError(
                f"the frames the worker opened are {row['num_frames']} of {row['width']}x{row['height']}; "
                f"the dataset says {payload.num_frames} of {payload.width}x{payload.height}"
            )
        size = [payload.height, payload.width]
        with local.transaction("keyframes"):
            for eid, name in payload.entities:
                local.add_entity(seq, name, id=eid, category=payload.categories.get(eid))
            for eid, masks in payload.masks.items():
                for f, (counts, score) in masks.items():
                    local.set_mask(seq, f, eid, {"size": size, "counts": counts}, score=score, keyframe=True)
        with engine.session(local, seq) as sess:
            for eid, masks in payload.masks.items():
                for f, (counts, _score) in masks.items():
                    sess.prompt(f, eid, mask=rlemod.decode({"size": size, "counts": counts}), write=False)
            for eid, boxes in payload.boxes.items():
                for f, box in boxes.items():
                    sess.prompt(f, eid, box_xywh=box, write=False)
            direction: Any = payload.direction
            if payload.texts:  # a session that finds (sam3) creates entities in `local` as it goes
                run = sess.propagate(direction=direction, cancel=cancel, find=payload.texts)  # type: ignore[call-arg]
                total = payload.planned_frames
            else:
                run = sess.propagate(direction=direction, cancel=cancel)
                total = len({f for leg in sess.plan(direction=direction) for f in leg.frames})
            for frame, results in run:
                out.frames.append(
                    (frame, {e: (rlemod.encode(m)["counts"], float(s)) for e, (m, s) in results.items()})
                )
                if on_frame is not None:
                    on_frame(len(out.frames))
            if payload.texts:
                out.found = _found(local, seq, {e for e, _ in payload.entities})
        out.cancelled = len(out.frames) < total  # stopped between frames: none of it is written
    except Exception as e:
        out.frames = []
        out.error = f"{type(e).__name__}: {e}"
        out.details = traceback.format_exc()
    out.seconds = time.perf_counter() - t0
    return out


def _found(local: Any, seq: str, given: set[str]) -> list[tuple[str, str, int, bytes, float, str]]:
    """The entities a run that finds created in the worker's dataset, each with its keyframe (the
    frame it was found on): the driver makes them in the real dataset before writing the masks."""
    out = []
    for eid in local.entity_ids(seq):
        if eid in given:
            continue
        for frame in local.mask_frames(seq, eid):
            row = local.annotation("masks", seq, frame, eid)
            if row["keyframe"]:
                score = 1.0 if row["score"] is None else float(row["score"])
                counts = local.rle(seq, frame, eid)["counts"]
                out.append((eid, local.entity(eid)["category"], frame, counts, score, row["source"]))
                break
    return out


class SequenceWorker:
    """Holds one engine, loaded once, and serves sequences (a Ray actor's class, or used as it is).

    ``threads`` bounds the threads OpenCV and torch use, so that workers sharing a machine do not
    outnumber its cores. A failure to load the engine is kept and given back by ``start`` and ``run``
    (an actor whose constructor raised would only say that it died).

    ``progress()`` says how far the sequence under way is, ``(sequence, frames computed)`` or None
    when idle: on Ray it is answered by a second thread of the actor while ``run`` works."""

    def __init__(
        self, engine: str | Engine, options: Mapping[str, Any] | None = None, threads: int | None = None
    ) -> None:
        self.engine: Engine | None = None
        self.pid = os.getpid()
        self.error: BaseException | None = None
        self._under_way: tuple[str, int] | None = None  # one assignment per frame: atomic, lock-free
        try:
            if isinstance(engine, str):
                from ..segment import load

                self.engine = load(engine, **dict(options or {}))
            else:
                self.engine = engine
        except Exception as e:
            self.error = e
        if threads is not None:
            _limit_threads(threads)

    def start(self) -> int:
        """The worker's pid once its engine is loaded; raises what loading it raised."""
        if self.error is not None:
            raise self.error
        return os.getpid()

    def run(
        self,
        payload: Payload,
        data: Any = None,
        cancel: CancelToken | None = None,
        on_frame: Callable[[int], None] | None = None,
    ) -> Outcome:
        """``payload`` propagated; ``on_frame(done)`` after each frame (in this process only)."""
        if self.engine is None:
            return Outcome(payload.sequence, error=f"the engine did not load: {self.error}", pid=os.getpid())
        seq = payload.sequence

        def count(done: int) -> None:
            self._under_way = (seq, done)
            if on_frame is not None:
                on_frame(done)

        self._under_way = (seq, 0)
        try:
            return compute(self.engine, payload, data, cancel, count)
        finally:
            self._under_way = None

    def progress(self) -> tuple[str, int] | None:
        """``(sequence, frames computed)`` of the sequence under way, None when idle."""
        return self._under_way


def _limit_threads(n: int) -> None:
    import cv2

    cv2.setNumThreads(max(1, n))
    torch = sys.modules.get("torch")  # only an engine that needs torch has imported it
    if torch is not None:
        torch.set_num_threads(max(1, n))
