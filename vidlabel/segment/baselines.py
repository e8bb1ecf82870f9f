"""Two baselines that the real engines are measured against: ``load("copy")`` and ``load("warp")``.

``copy`` holds the keyframe: every frame of a pass gets the mask of the most recent keyframe of
that pass (a prompt on a frame of the pass, or the dataset's mask on its start frame). Its score is
that keyframe's. It reads no pixels; what an engine adds over it is what it knows about motion.

``warp`` is the naive dense-flow tracker: each frame, OpenCV's DIS optical flow (preset "medium")
from this frame back to the previous one, at a tracking scale of at most ``max_side`` pixels on the
long side, pulls the previous soft mask along (``cv2.remap``, bilinear); the mask shown is that
soft mask above 0.5, at frame size. A prompt on a frame of the pass resets the entity to the
person's mask. Its score is the keyframe's times the share of the mask's pixels whose flow is
consistent both ways: the forward flow, from the previous frame, taken where the backward flow
says a pixel came from, brings it back within a pixel (at tracking scale). Errors add up frame
after frame and nothing pulls a drifting mask back: that is what the ``flow`` engine adds. Its
default tracker (``tracker="dense"``, ``dense.py``) also warps the mask by DIS flow, then refits
the warped mask every frame by a graph cut against the keyframe's colour models and the image's
edges, which pulls the outline back onto the object.

Prompts (clicks, a box) are answered as the ``flow`` engine answers them, by GrabCut
(``grabcut.segment_prompt``); a mask prompt is taken as given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from ..errors import ValidationError
from .base import Engine, Pass, Result
from .grabcut import PROMPT_BOUNDS, GrabCutSession, check_ints
from .scale import TrackingScale

if TYPE_CHECKING:
    from ..dataset import Dataset

__all__ = ["CopyEngine", "CopyOptions", "CopySession", "WarpEngine", "WarpOptions", "WarpSession"]

_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
_CONSISTENT = 1.0  # forward-backward error (tracking-scale pixels) under which a pixel's flow is believed


@dataclass(frozen=True)
class CopyOptions:
    """What ``load("copy", **options)`` accepts: only how prompts are answered (as the flow engine)."""

    prompt_side: int = 160  # GrabCut runs on a crop downscaled to this long side
    box_side: int = 240  # a box alone is cut on a crop downscaled to this long side (thin parts hold)
    grabcut_iters: int = 3  # GrabCut iterations per prompt
    min_area: int = 64  # components of a prompt's mask smaller than this many pixels are dropped

    def __post_init__(self) -> None:
        check_ints("copy", self, PROMPT_BOUNDS)


@dataclass(frozen=True)
class WarpOptions:
    """What ``load("warp", **options)`` accepts."""

    preset: str = "medium"  # DIS optical flow preset: "ultrafast", "fast" or "medium"
    max_side: int = 480  # frames are downscaled by a whole factor to at most this long side for the flow
    prompt_side: int = 160
    box_side: int = 240
    grabcut_iters: int = 3
    min_area: int = 64

    def __post_init__(self) -> None:
        if self.preset not in _PRESETS:
            raise ValidationError(
                f"warp engine: preset must be one of {', '.join(_PRESETS)}, got {self.preset!r}"
            )
        check_ints("warp", self, (("max_side", 32, None), *PROMPT_BOUNDS))


def _options(engine: str, cls: Any, options: dict[str, Any]) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValidationError(
            f"{engine} engine: unknown option(s) {', '.join(unknown)}; options are {', '.join(sorted(known))}"
        )
    return cls(**options)


def _changed(options: Any) -> str:
    return ", ".join(
        f"{f.name}={getattr(options, f.name)!r}"
        for f in dataclasses.fields(options)
        if getattr(options, f.name) != f.default
    )


class _BaselineSession(GrabCutSession):
    """What both baselines share: prompts answered by GrabCut, and the keyframes of a pass."""

    options: CopyOptions | WarpOptions

    def _forget(self, entity: str) -> None:
        pass  # nothing outlives a pass but the prompts, which are the base class's

    def _clear(self) -> None:
        pass

    def _keyframes(self, leg: Pass, entities: list[str]) -> Iterator[tuple[int, dict[str, Result]]]:
        """For each frame of ``leg``: the entities that (re)start there and their masks.

        On the start frame an entity not prompted there starts from the mask the dataset holds
        (with its score); on any frame a prompt is a keyframe."""
        for i, f in enumerate(leg.frames):
            yield f, self._keyframes_at(f, entities, i == 0)


class CopyEngine(Engine):
    """The keyframe's mask held over the frames after it; see the module doc."""

    name = "copy"

    def __init__(self, **options: Any) -> None:
        self.options: CopyOptions = _options("copy", CopyOptions, options)

    def session(self, ds: Dataset, sequence: str) -> CopySession:
        return CopySession(self, ds, sequence)

    def __repr__(self) -> str:
        return f"CopyEngine({_changed(self.options)})"


class CopySession(_BaselineSession):
    """A session of the copy engine."""

    engine: CopyEngine
    options: CopyOptions

    def __init__(self, engine: CopyEngine, ds: Dataset, sequence: str) -> None:
        super().__init__(engine, ds, sequence)
        self.options = engine.options

    def _run_pass(self, leg: Pass, entities: list[str]) -> Generator[tuple[int, dict[str, Result]]]:
        held: dict[str, Result] = {}
        for f, keys in self._keyframes(leg, entities):
            held.update(keys)
            # A copy each frame: whoever receives a mask may change it without changing the next.
            yield f, {e: (m.copy(), s) for e, (m, s) in held.items()}


class WarpEngine(Engine):
    """The previous mask warped along dense optical flow; see the module doc."""

    name = "warp"

    def __init__(self, **options: Any) -> None:
        self.options: WarpOptions = _options("warp", WarpOptions, options)

    def session(self, ds: Dataset, sequence: str) -> WarpSession:
        return WarpSession(self, ds, sequence)

    def __repr__(self) -> str:
        return f"WarpEngine({_changed(self.options)})"


class WarpSession(_BaselineSession):
    """A session of the warp engine."""

    engine: WarpEngine
    options: WarpOptions

    def __init__(self, engine: WarpEngine, ds: Dataset, sequence: str) -> None:
        super().__init__(engine, ds, sequence)
        self.options = engine.options
        self._scale = TrackingScale(self.width, self.height, engine.options.max_side)
        self._dis: Any = None

    def _clear(self) -> None:
        self._dis = None

    @property
    def _size(self) -> tuple[int, int]:
        return self._scale.size

    def _full(self, soft: np.ndarray) -> np.ndarray:
        if soft.shape != (self.height, self.width):
            soft = cv2.resize(soft, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        return np.asarray(soft > 0.5)

    def _run_pass(self, leg: Pass, entities: list[str]) -> Generator[tuple[int, dict[str, Result]]]:
        if self._dis is None:
            self._dis = cv2.DISOpticalFlow.create(_PRESETS[self.options.preset])
        w, h = self._size
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        soft: dict[str, np.ndarray] = {}  # each entity's soft mask at tracking scale
        base: dict[str, float] = {}  # the score of its last keyframe
        prev: np.ndarray | None = None
        for f, keys in self._keyframes(leg, entities):
            _, grey = self._scale.frame(self.dataset, self.sequence, f)
            out: dict[str, Result] = {}
            moving = [e for e in soft if e not in keys]
            if prev is not None and moving:
                back = np.asarray(self._dis.calc(grey, prev, None))  # where each pixel here was before
                fwd = np.asarray(self._dis.calc(prev, grey, None))
                mx, my = gx + back[..., 0], gy + back[..., 1]
                # Forward flow at where each pixel came from should bring it back here.
                again = cv2.remap(fwd, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                consistent = np.linalg.norm(back + again, axis=-1) < _CONSISTENT
                for e in moving:
                    m = cv2.remap(soft[e], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
                    soft[e] = np.asarray(m, np.float32)
                    inside = soft[e] > 0.5
                    share = float(consistent[inside].mean()) if inside.any() else 0.0
                    full = self._full(soft[e])
                    out[e] = (full, base[e] * share if full.any() else 0.0)
            for e, (mask, score) in keys.items():
                soft[e], base[e] = self._scale.shrink(mask), score
                out[e] = (mask.copy(), score)
            prev = grey
            yield f, {e: out[e] for e in entities if e in out}
