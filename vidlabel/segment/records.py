"""What sessions hand around: prompts, the passes of a propagation, its report, cancellation."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

__all__ = ["CancelToken", "Direction", "Pass", "Prompt", "PropagationReport", "Result"]

Result = tuple[np.ndarray, float]  # (HxW bool mask, score in [0, 1])
Direction = Literal["forward", "backward", "both"]


class CancelToken:
    """Stops a propagation between two frames; thread-safe (a widget's stop button sets it)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def reset(self) -> None:
        self._event.clear()

    def __repr__(self) -> str:
        return f"CancelToken(cancelled={self.cancelled})"


@dataclass
class Prompt:
    """What a person gave on one frame for one entity, and the mask it produced."""

    points: np.ndarray  # (N, 2) float32 pixel coordinates (x, y)
    labels: np.ndarray  # (N,) int32, 1 positive, 0 negative
    box: np.ndarray | None = None  # (4,) float32 x0, y0, x1, y1
    mask: np.ndarray | None = None  # HxW bool, a mask given as the prompt
    result: np.ndarray | None = None  # HxW bool, the mask the engine answered
    score: float = 1.0

    @property
    def kind(self) -> str:
        if self.mask is not None:
            return "mask"
        parts = (["box"] if self.box is not None else []) + (["points"] if len(self.points) else [])
        return "+".join(parts)


@dataclass(frozen=True)
class Pass:
    """One leg of a propagation: frames ``start`` to ``last`` inclusive, going backward if ``reverse``."""

    start: int
    last: int
    reverse: bool

    @property
    def frames(self) -> range:
        return range(self.start, self.last - 1, -1) if self.reverse else range(self.start, self.last + 1)


@dataclass
class PropagationReport:
    """What ``propagate_into`` did."""

    frames: list[int] = field(default_factory=list)  # frames propagated, in the order they came
    written: int = 0  # masks written or erased in the dataset
    kept: int = 0  # results not written because the dataset holds a keyframe there
    cancelled: bool = False
    dropped: list[str] = field(default_factory=list)  # entities removed from the dataset during the run
    found: list[str] = field(default_factory=list)  # entities the run created for what it found (sam3)

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled else "done"
        gone = f", dropped {', '.join(self.dropped)}" if self.dropped else ""
        found = f", found {len(self.found)}" if self.found else ""
        return (
            f"PropagationReport({len(self.frames)} frames, {self.written} written, {self.kept} kept"
            f"{found}{gone}, {state})"
        )
