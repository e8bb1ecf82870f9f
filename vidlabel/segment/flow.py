"""The weight-free ``flow`` engine: GrabCut answers prompts, optical flow carries masks along, on a CPU.

Prompt -> mask: GrabCut on a crop around the box or clicks (``grabcut.py``). A box also weighs how
each pixel moves towards the frames two before and after it against the background's motion
(``motion.py``, ``jointcut.py``); a click added to a prompt edits its mask near the click
(``correct.py``).

Propagation: frames are tracked at a whole fraction of their size, at most ``max_side`` pixels long
(427x240 for 854x480), by one of two trackers:

- ``tracker="dense"`` (the default, ``dense.py``): the dense DIS optical flow warps each mask to the
  next frame, pixel by pixel, and a graph cut refits it there against the keyframe's colours and the
  image's edges, so bending and articulated objects are followed and errors do not add up; what a
  tracked entity covers is carried on at the entity's pace and taken back when it comes out.
- ``tracker="rigid"`` (``rigid.py``): one similarity per object layer, fitted to tracked corners and
  checked against the object's look; right for rigid, textured objects and long occlusions.

A prompt on a frame of a pass is a keyframe: the entity starts again from the person's mask there.
The score of a propagated mask starts at its keyframe's and falls as the frames disagree with it
(each tracker's doc says how); it is what a review queue sorts by.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from ..errors import ValidationError
from ..morphology import bbox
from .base import Engine, Pass, Result
from .dense import DIS_PRESETS, DenseTracker
from .grabcut import PROMPT_BOUNDS, GrabCutSession, check_ints
from .rigid import RigidTracker
from .scale import TrackingScale

if TYPE_CHECKING:
    from ..dataset import Dataset

__all__ = ["FlowEngine", "FlowOptions", "FlowSession"]

FLOWS = (*DIS_PRESETS, "farneback")
TRACKERS = ("dense", "rigid")


@dataclass(frozen=True)
class FlowOptions:
    """What ``load("flow", **options)`` accepts; every option has a default that suits 480p video."""

    tracker: str = "dense"  # "dense": flow warp refitted by a graph cut; "rigid": layered similarities
    flow: str = "dis-fast"  # "dis-ultrafast", "dis-fast", "dis-medium"; "farneback" (rigid only)
    max_side: int = 480  # frames are downscaled by a whole factor to at most this long side for tracking
    prompt_side: int = 160  # GrabCut runs on a crop downscaled to this long side
    box_side: int = 240  # a box alone is cut on a crop downscaled to this long side (thin parts hold)
    grabcut_iters: int = 3  # GrabCut iterations per prompt
    min_area: int = 64  # components of a mask smaller than this many frame pixels are dropped
    layered: bool = True  # rigid tracker: entities propagated together occlude one another

    def __post_init__(self) -> None:
        if self.tracker not in TRACKERS:
            raise ValidationError(
                f"flow engine: tracker must be one of {', '.join(TRACKERS)}, got {self.tracker!r}"
            )
        if self.tracker == "dense" and self.flow == "farneback":
            raise ValidationError(
                "flow engine: the dense tracker takes a DIS flow; farneback is for tracker='rigid'"
            )
        if self.flow not in FLOWS:
            raise ValidationError(f"flow engine: flow must be one of {', '.join(FLOWS)}, got {self.flow!r}")
        check_ints("flow", self, (("max_side", 32, None), *PROMPT_BOUNDS))
        if not isinstance(self.layered, (bool, np.bool_)):
            raise ValidationError(f"flow engine: layered must be a bool, got {self.layered!r}")
        if self.tracker == "dense" and self.layered is not True:
            raise ValidationError(
                "flow engine: layered is an option of tracker='rigid'; the dense tracker always lets "
                "entities hide one another"
            )


class FlowEngine(Engine):
    """Classical segmentation on the CPU: GrabCut prompts, optical-flow propagation; see the module doc."""

    name = "flow"

    def __init__(self, **options: Any) -> None:
        known = {f.name for f in dataclasses.fields(FlowOptions)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValidationError(
                f"flow engine: unknown option(s) {', '.join(unknown)}; options are {', '.join(sorted(known))}"
            )
        self.options = FlowOptions(**options)

    def session(self, ds: Dataset, sequence: str) -> FlowSession:
        return FlowSession(self, ds, sequence)

    def __repr__(self) -> str:
        changed = {
            f.name: getattr(self.options, f.name)
            for f in dataclasses.fields(FlowOptions)
            if getattr(self.options, f.name) != f.default
        }
        return f"FlowEngine({', '.join(f'{k}={v!r}' for k, v in changed.items())})"


class FlowSession(GrabCutSession):
    """Prompts and propagation on one sequence with the flow engine."""

    engine: FlowEngine
    options: FlowOptions

    def __init__(self, engine: FlowEngine, ds: Dataset, sequence: str) -> None:
        super().__init__(engine, ds, sequence)
        self.options = engine.options
        self._scale = TrackingScale(self.width, self.height, self.options.max_side)
        # The trackers of the pass under way (one per pass: nothing outlives it, so memory does not
        # grow with the video).
        self._tracker: DenseTracker | RigidTracker | None = None

    # ------------------------------------------------------------------ hooks
    def _forget(self, entity: str) -> None:
        # Tracks live only as long as a pass (and no prompt or removal happens during one); the
        # prompts are the base class's.
        if self._tracker is not None:
            self._tracker.forget(entity)

    def _clear(self) -> None:
        self._tracker = None

    def _new_tracker(self) -> DenseTracker | RigidTracker:
        o = self.options
        if o.tracker == "dense":
            return DenseTracker(self._size, DIS_PRESETS[o.flow])
        return RigidTracker(o, self._size, o.min_area * (self._size[0] / self.width) ** 2)

    def _run_pass(self, leg: Pass, entities: list[str]) -> Generator[tuple[int, dict[str, Result]]]:
        # The next frame is read on a worker thread while this one is tracked (decoding and OpenCV
        # let go of the GIL), so decoding costs little on top.
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vidlabel-flow-frames")
        try:
            frames = leg.frames
            self._tracker = tracker = self._new_tracker()
            ahead: Future[tuple[np.ndarray, np.ndarray]] = pool.submit(self._small, frames[0])
            for i, f in enumerate(frames):
                rgb, grey = ahead.result()
                if i + 1 < len(frames):
                    ahead = pool.submit(self._small, frames[i + 1])
                starts = self._keyframes_at(f, entities, i == 0)
                shown = tracker.frame(
                    rgb, grey, {e: (self._scale.shrink(m), s) for e, (m, s) in starts.items()}
                )
                out = {e: (m.copy(), float(s)) for e, (m, s) in starts.items()}
                for e, (small, score) in shown.items():
                    out[e] = self._full(small, score)
                yield f, {e: out[e] for e in entities if e in out}
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            self._tracker = None

    @property
    def _size(self) -> tuple[int, int]:
        return self._scale.size

    def _small(self, f: int) -> tuple[np.ndarray, np.ndarray]:
        return self._scale.frame(self.dataset, self.sequence, f)

    def _full(self, small: np.ndarray, score: float) -> Result:
        """A tracker's mask (soft or bool, tracking scale) at frame size, and its score (0 when empty)."""
        box = bbox(small > 0.5, 1)
        if box is None:
            return np.zeros((self.height, self.width), bool), 0.0
        return self._upsample(np.asarray(small, np.float32), box), score

    def _upsample(self, soft: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """A soft tracking-scale mask, non-zero only in ``box``, at frame size (only the box is resampled)."""
        out = np.zeros((self.height, self.width), bool)
        x0, y0, x1, y1 = box
        sx, sy = self._size[0] / self.width, self._size[1] / self.height
        fx0, fy0 = int(x0 / sx), int(y0 / sy)
        fx1, fy1 = min(self.width, int(np.ceil(x1 / sx))), min(self.height, int(np.ceil(y1 / sy)))
        # Frame pixel (u, v) samples the tracking-scale mask at ((u + 0.5) * sx - 0.5, ...), as resize does.
        m = np.array([[sx, 0, sx * (fx0 + 0.5) - 0.5 - x0], [0, sy, sy * (fy0 + 0.5) - 0.5 - y0]])
        up = cv2.warpAffine(
            soft[y0:y1, x0:x1],
            m,
            (fx1 - fx0, fy1 - fy0),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        out[fy0:fy1, fx0:fx1] = up > 0.5
        return out
