"""The flow engine's rigid tracker (``load("flow", tracker="rigid")``): one similarity per object layer.

Frames are tracked at a whole fraction of their size. Each entity is a layer with two soft masks:
what is *visible*, and its whole *shape*, hidden parts included. Each frame, an entity's motion is
a similarity (shift, turn, scale) chosen among candidates measured on its visible pixels: a RANSAC
fit to corners tracked by pyramidal Lucas-Kanade (started where the last motion points, checked
backward), a fit to the dense DIS optical flow (Farneback on request) inside it, its drift
refitted, its last motion. The candidate that brings most of the entity's reference pixels (its
look when last seen whole) onto like pixels wins, after a robust Gauss-Newton refinement on those
pixels; a candidate that would make it jump is not believed. Checking against the reference rather
than the previous frame keeps errors from adding up, and pulls a track back after an occlusion.

The shape is moved by that motion, and layers are painted back to front: where two shapes
overlap, the entity whose motion explains the pixels there is in front, evidence that builds up
over frames. What is hidden keeps moving with its entity at its last pace, so an entity that
passes behind another comes out on the other side (if it is hidden for 30 frames at most). Masks
in view lose specks and small holes. The score starts at the keyframe's and loses, each frame, a
share of what the motion left unexplained and of any jump in area.

Where it is right: rigid objects (vehicles, boxes, the demo's sprites), textured ones that fool a
dense flow by a period (stripes, checks), long occlusions among tracked objects. Where it is not:
anything that bends or articulates, which one similarity cannot follow; that is the dense
tracker's job (``dense.py``), the default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from ..morphology import bbox as _bbox
from ..morphology import components, fill_holes
from .dense import DIS_PRESETS

if TYPE_CHECKING:
    from .flow import FlowOptions

__all__ = ["RigidTracker"]

# Lengths are in pixels of the tracking scale (``max_side``), grey levels in 0..255.
_FEATURES = 80  # corners tracked per entity and frame
_WIN = (15, 15)  # Lucas-Kanade window; with 3 pyramid levels it follows ~50 px per frame
_LEVELS = 3
_EDGE = 2  # corners are looked for this far around a visible mask (the outline is the best of them)
_FEW = 40  # with fewer corners followed, an entity's motion is also fitted to the dense flow
_MIN_FIT = 12  # matches needed to fit rotation and scale; with fewer only the drift is refitted
_SAMPLES = 800  # pixels per entity on which motions are checked and refined
_EXPLAINED = 12.0  # a pixel this close to its reference value is explained by a motion
_TUKEY = 30.0  # pixels further off than this (hidden, or something else) do not pull a refinement
_ALIGN_ITERS = 5
_MARGIN = 0.05  # share of pixels by which a later motion candidate must beat an earlier one
_MIN_SHOWN = 0.15  # with less of its shape in view, an entity's motion is not measured but carried on
_MAX_JUMP = 1.0  # change of velocity (plus 20% of the speed) believable in one frame
_FRESH = 0.85  # in view and explained at least this much, an entity's look becomes its reference
_MAX_HIDDEN = 30  # frames an entity may stay hidden before it is given up
_DECAY = 0.25  # how much of a frame's unexplained share comes off the running score


def _layers(grey: np.ndarray) -> np.ndarray:
    """``grey``, its x and y gradients, and an empty channel for what is hidden: HxWx4 float32."""
    g = grey.astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
    return np.dstack([g, gx, gy, np.zeros_like(g)])


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The 2x3 affine ``a`` after ``b``."""
    return np.hstack([a[:, :2] @ b[:, :2], (a[:, :2] @ b[:, 2] + a[:, 2])[:, None]])


def _about(linear: np.ndarray, velocity: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The 2x3 affine that turns and scales by ``linear`` about ``c`` and moves ``c`` by ``velocity``."""
    return np.hstack([linear, (c + velocity - linear @ c)[:, None]])


def _sharpen(m: np.ndarray) -> np.ndarray:
    # Repeated bilinear warping blurs a soft mask a little at every step; steepening the ramp about
    # 0.5 keeps its edge about a pixel wide without moving it.
    return np.clip((m - 0.5) * 2.0 + 0.5, 0.0, 1.0, out=m)


def _sample(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``image`` (HxWxC float32) at the (N, 2) points ``xy``: (N, C) float64."""
    out = cv2.remap(
        image,
        xy[:, 0].astype(np.float32)[None],
        xy[:, 1].astype(np.float32)[None],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )[0]
    return np.asarray(out, np.float64).reshape(len(xy), -1)


def _explained(m: np.ndarray, pts: np.ndarray, ref: np.ndarray, image: np.ndarray) -> float:
    """Share of the reference pixels ``pts`` (values ``ref``) that ``m`` brings onto like pixels now.

    ``image`` holds the frame, its gradients and what is hidden now (channels 0, 1, 2, 3); pixels
    that land where something in front hides them are left out."""
    now = _sample(image, pts @ m[:, :2].T + m[:, 2])
    free = now[:, 3] < 0.5
    if not free.any():
        return 0.0
    # A pixel is explained if it is within about a pixel of where the motion puts it: on an edge
    # that allows as many grey levels as the edge's slope, so fine texture does not punish a
    # motion a fraction of a pixel off.
    slack = _EXPLAINED + np.hypot(now[free, 1], now[free, 2])
    return float(np.mean(np.abs(now[free, 0] - ref[free]) < slack))


def _align(m: np.ndarray, pts: np.ndarray, ref: np.ndarray, image: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``m`` refined so the reference pixels land on like pixels now: robust Gauss-Newton on a similarity.

    This is what keeps a track on its entity: a motion a little off (stripes fool corner trackers by
    a period) or a drift built up while the entity was hidden is pulled back onto its look."""
    d = pts - c
    for _ in range(_ALIGN_ITERS):
        now = _sample(image, pts @ m[:, :2].T + m[:, 2])
        r = now[:, 0] - ref
        gx, gy = now[:, 1], now[:, 2]
        # Unknowns: a, b of the linear part [[a, -b], [b, a]] about c, and the shift of c.
        jac = np.stack([gx * d[:, 0] + gy * d[:, 1], gy * d[:, 0] - gx * d[:, 1], gx, gy], axis=1)
        w = (now[:, 3] < 0.5) * np.clip(1.0 - (r / _TUKEY) ** 2, 0.0, None) ** 2
        if not w.any():
            break
        h = jac.T @ (jac * w[:, None]) + np.diag([1e-3, 1e-3, 1e-6, 1e-6]) * len(pts)
        step = np.linalg.solve(h, -(jac.T @ (w * r)))
        lin = m[:, :2] + np.array([[step[0], -step[1]], [step[1], step[0]]])
        m = _about(lin, m[:, :2] @ c + m[:, 2] + step[2:] - c, c)
        if np.abs(step[2:]).max() < 0.02:
            break
    return m


def _plausible(m: np.ndarray, prior: np.ndarray, c: np.ndarray) -> bool:
    """Whether going from motion ``prior`` to ``m`` is a change of pace a real entity could make."""
    jump = np.linalg.norm((m[:, :2] - prior[:, :2]) @ c + m[:, 2] - prior[:, 2])
    speed = np.linalg.norm(prior[:, :2] @ c + prior[:, 2] - c)
    return bool(jump <= _MAX_JUMP + 0.2 * speed and np.abs(m[:, :2] - prior[:, :2]).max() <= 0.05)


Box = tuple[int, int, int, int]  # x0, y0, x1, y1 at tracking scale


@dataclass
class _Track:
    """One entity during a pass, at tracking scale. Its masks are zero outside ``box``, where work is done."""

    visible: np.ndarray  # float32 soft mask in [0, 1]: the pixels shown
    shape: np.ndarray  # float32 soft mask: the whole entity, hidden parts included
    box: Box  # holds the shape
    score: float
    area: int = 0  # pixels shown
    linear: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(2))  # turn and scale per frame
    velocity: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(2))  # of the centre, per frame
    measured: bool = False  # whether that motion was measured yet (not just assumed still)
    hidden: int = 0  # frames in a row with nothing in view
    # Its look when last seen well: pixels (where they were then, grey values) and the motion since.
    # Motions are checked against this rather than against the previous frame, so errors do not add up.
    ref_pts: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 2)))
    ref_vals: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    ref_pose: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(2, 3))

    @property
    def roi(self) -> tuple[slice, slice]:
        x0, y0, x1, y1 = self.box
        return slice(y0, y1), slice(x0, x1)

    def centre(self) -> np.ndarray:
        mo = cv2.moments(self.shape[self.roi])
        if mo["m00"] <= 1e-6:
            return np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2])
        return np.array([mo["m10"] / mo["m00"] + self.box[0], mo["m01"] / mo["m00"] + self.box[1]])

    def remember(self, grey: np.ndarray) -> None:
        """Take the entity's look in ``grey`` as its reference.

        Half the pixels are taken along the inside of its outline: inside a striped or plain
        entity, a wrong motion can look right; at its outline, it cannot."""
        seen = (self.visible[self.roi] > 0.5).view(np.uint8)
        if not seen.any():
            self.ref_pts, self.ref_vals, self.ref_pose = np.zeros((0, 2)), np.zeros(0), np.eye(2, 3)
            return
        rim = seen & (1 - np.asarray(cv2.erode(seen, np.ones((7, 7), np.uint8)), np.uint8))
        picked = []
        for part in (rim, seen - rim):
            ys, xs = np.nonzero(part)
            if len(xs) > _SAMPLES // 2:
                pick = np.linspace(0, len(xs) - 1, _SAMPLES // 2).astype(int)
                ys, xs = ys[pick], xs[pick]
            picked.append((ys + self.box[1], xs + self.box[0]))
        ys, xs = np.concatenate([p[0] for p in picked]), np.concatenate([p[1] for p in picked])
        self.ref_pts = np.stack([xs, ys], axis=1).astype(np.float64)
        self.ref_vals = grey[ys, xs].astype(np.float64)
        self.ref_pose = np.eye(2, 3)


@dataclass
class _Motion:
    """An entity's motion from the previous frame to this one, and what it is to carry on."""

    matrix: np.ndarray  # 2x3 similarity, previous frame -> this one
    explained: float  # share of the entity's reference pixels it explains
    pace: np.ndarray  # 2x3: the motion to expect next (the measured part of ``matrix``)
    measured: bool  # whether it was measured, not just carried on

    def commit(self, tr: _Track) -> None:
        c = tr.centre()
        tr.linear, tr.velocity = self.pace[:, :2], self.pace[:, :2] @ c + self.pace[:, 2] - c
        tr.measured = tr.measured or self.measured
        tr.ref_pose = _compose(self.matrix, tr.ref_pose)


def _intersect(a: Box, b: Box) -> Box | None:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


class RigidTracker:
    """The tracks of one pass at tracking scale ``size`` (w, h); see the module doc."""

    def __init__(self, options: FlowOptions, size: tuple[int, int], min_area: float) -> None:
        self.options = options
        self._size = size
        self._min_area = min_area  # in tracking pixels
        self._dis: Any = None
        # The state of the pass: the previous grey frame, each entity's track, and who is in front of
        # whom. Nothing else is kept, so memory does not grow with the video.
        self._tracks: dict[str, _Track] = {}
        self._depth: dict[tuple[str, str], float] = {}  # (a, b) > 0: a is in front of b
        self._prev: np.ndarray | None = None

    def forget(self, entity: str) -> None:
        self._tracks.pop(entity, None)

    def frame(
        self, rgb: np.ndarray, grey: np.ndarray, starts: dict[str, tuple[np.ndarray, float]]
    ) -> dict[str, tuple[np.ndarray, float]]:
        """Carry the tracks to this frame and (re)start those in ``starts`` (soft masks at tracking scale,
        scores): the visible soft mask and score of every other track."""
        tracks = self._tracks
        if self._prev is not None:
            self._step(self._prev, grey, tracks, self._depth)
        for e, (small, score) in starts.items():  # a keyframe: drift stops here
            tracks[e] = self._new_track(small, grey, score, tracks.get(e))
        if self.options.layered and starts and self._prev is not None:
            # A person's mask on this frame outranks what was carried there.
            for e, tr in tracks.items():
                if e in starts:
                    continue
                for k in starts:
                    both = _intersect(tr.box, tracks[k].box)
                    if both is not None:
                        x0, y0, x1, y1 = both
                        tr.visible[y0:y1, x0:x1] *= 1.0 - tracks[k].visible[y0:y1, x0:x1]
                tr.area = int(np.count_nonzero(tr.visible[tr.roi] > 0.5))
        self._prev = grey
        return {
            e: (tr.visible, float(tr.score) if tr.area else 0.0)
            for e, tr in tracks.items()
            if e not in starts
        }

    def _new_track(
        self, small: np.ndarray, grey: np.ndarray, score: float, old: _Track | None = None
    ) -> _Track:
        box = _bbox(small > 0.02, 2) or (0, 0, 0, 0)
        tr = _Track(small, small.copy(), box, score)
        tr.area = int(np.count_nonzero(small[tr.roi] > 0.5))
        if old is not None:  # a keyframe resets the masks; the motion it was making carries on
            tr.linear, tr.velocity, tr.measured = old.linear, old.velocity, old.measured
        tr.remember(grey)
        return tr

    def _flow(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Dense flow from ``a`` to ``b``: for each pixel of ``a``, how far it moved in ``b``."""
        if self.options.flow == "farneback":
            out = np.zeros((*a.shape, 2), np.float32)
            return np.asarray(cv2.calcOpticalFlowFarneback(a, b, out, 0.5, 4, 15, 3, 5, 1.2, 0))
        if self._dis is None:
            self._dis = cv2.DISOpticalFlow.create(DIS_PRESETS[self.options.flow])
        return np.asarray(self._dis.calc(a, b, None))

    def _warp(self, tr: _Track, m: np.ndarray) -> tuple[np.ndarray, Box]:
        """The shape moved by ``m`` (sharpened), and its new box."""
        x0, y0, x1, y1 = tr.box
        corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], np.float64) @ m[:, :2].T + m[:, 2]
        w, h = self._size
        nx0, ny0 = (max(0, int(v) - 2) for v in corners.min(axis=0))
        nx1, ny1 = min(w, int(corners[:, 0].max()) + 3), min(h, int(corners[:, 1].max()) + 3)
        out = np.zeros_like(tr.shape)
        if nx1 <= nx0 or ny1 <= ny0:
            return out, (0, 0, 0, 0)
        shifted = m - np.array([[0, 0, nx0], [0, 0, ny0]])
        patch = _sharpen(cv2.warpAffine(tr.shape, shifted, (nx1 - nx0, ny1 - ny0), flags=cv2.INTER_LINEAR))
        tight = _bbox(patch > 0, 1)  # corners of a turning box overshoot: hold the shape, no more
        if tight is None:
            return out, (0, 0, 0, 0)
        tx0, ty0, tx1, ty1 = tight
        out[ny0 + ty0 : ny0 + ty1, nx0 + tx0 : nx0 + tx1] = patch[ty0:ty1, tx0:tx1]
        return out, (nx0 + tx0, ny0 + ty0, nx0 + tx1, ny0 + ty1)

    def _step(
        self,
        prev: np.ndarray,
        cur: np.ndarray,
        tracks: dict[str, _Track],
        depth: dict[tuple[str, str], float],
    ) -> None:
        """Carry every track from the previous frame (grey ``prev``) to this one (``cur``)."""
        live = {e: tr for e, tr in tracks.items() if tr.box[2] > tr.box[0]}
        if not live:
            return
        layered = self.options.layered
        taken = np.zeros(cur.shape, np.uint8)  # which entity shows where, in the previous frame
        for i, tr in enumerate(live.values(), 1):
            if layered:
                taken[tr.roi][tr.visible[tr.roi] > 0.5] = i
        # The dense flow is worked out only if an entity has too few corners to follow (a plain one),
        # once for all of them.
        dense: list[tuple[np.ndarray, int, int] | None] = []

        def flow() -> tuple[np.ndarray, int, int] | None:
            if not dense:
                dense.append(self._dense(prev, cur, [tr for tr in live.values() if tr.area]))
            return dense[0]

        # This frame as motions are checked and refined on; channel 3 is what the entities in front
        # cover now: no evidence for those behind.
        image = _layers(cur)
        index = {e: i for i, e in enumerate(live, 1)}
        ranked = self._rank(list(live), depth)
        motions: dict[str, _Motion] = {}
        moved: dict[str, tuple[np.ndarray, Box]] = {}
        for e in reversed(ranked):  # front to back, as far as is known
            motions[e] = self._motion(prev, cur, image, flow, live[e], taken, index[e])
            moved[e] = self._warp(live[e], motions[e].matrix)
            if layered:
                x0, y0, x1, y1 = moved[e][1]
                np.maximum(image[y0:y1, x0:x1, 3], moved[e][0][y0:y1, x0:x1], out=image[y0:y1, x0:x1, 3])
        for e, motion in motions.items():
            motion.commit(live[e])
        order = self._order(prev, cur, motions, moved, depth) if layered and len(live) > 1 else ranked

        front = np.zeros(cur.shape, np.float32)  # visible masks of the entities in front
        min_area = self._min_area
        for e in reversed(order):
            tr = live[e]
            before, (shape, box) = tr.area, moved[e]
            tr.shape, tr.box = shape, box
            visible = np.zeros_like(shape)
            if box[2] <= box[0]:  # gone out of the frame: stop guessing where it went
                tr.visible, tr.area, tr.hidden = visible, 0, tr.hidden + 1
                continue
            roi = tr.roi
            visible[roi] = shape[roi] * (1.0 - front[roi]) if layered else shape[roi]
            _clean(visible[roi], front[roi], min_area)
            if layered:
                np.maximum(front[roi], visible[roi], out=front[roi])
            tr.visible, tr.area = visible, int(np.count_nonzero(visible[roi] > 0.5))
            quality = motions[e].explained
            if tr.area and before:
                quality *= np.sqrt(min(tr.area, before) / max(tr.area, before))
            tr.score *= 1.0 - _DECAY * (1.0 - quality)
            tr.hidden = 0 if tr.area else tr.hidden + 1
            whole = tr.area >= _FRESH * np.count_nonzero(shape[roi] > 0.5)
            if tr.area and whole and motions[e].explained >= _FRESH:
                tr.remember(cur)  # seen whole and well: its look now is the reference
            if tr.hidden > _MAX_HIDDEN:
                tr.box = (0, 0, 0, 0)  # hidden too long: stop guessing where it went

    def _dense(
        self, prev: np.ndarray, cur: np.ndarray, shown: list[_Track]
    ) -> tuple[np.ndarray, int, int] | None:
        """Dense flow back from this frame to the previous one, on a crop that holds every entity in
        view and where it can go: (flow, x0, y0)."""
        if not shown:
            return None
        h, w = prev.shape
        reach = 4 * _WIN[0]
        x0 = max(0, min(tr.box[0] for tr in shown) - reach)
        y0 = max(0, min(tr.box[1] for tr in shown) - reach)
        x1 = min(w, max(tr.box[2] for tr in shown) + reach)
        y1 = min(h, max(tr.box[3] for tr in shown) + reach)
        crop = np.s_[y0:y1, x0:x1]
        return self._flow(np.ascontiguousarray(cur[crop]), np.ascontiguousarray(prev[crop])), x0, y0

    def _motion(
        self,
        prev: np.ndarray,
        cur: np.ndarray,
        image: np.ndarray,
        flow: Callable[[], tuple[np.ndarray, int, int] | None],
        tr: _Track,
        taken: np.ndarray,
        me: int,
    ) -> _Motion:
        """The entity's motion from the previous frame to this one.

        Candidates: a fit to corners tracked around it, a fit to the dense flow inside it, its
        drift refitted with rotation and scale kept, its last motion. The best is also refined on
        the pixels. The first explains most, unless a later one explains clearly more. A
        candidate that would make the entity jump is not believed. With (almost) nothing in view,
        the last motion carries on."""
        c = tr.centre()
        prior = _about(tr.linear, tr.velocity, c)
        shown = tr.area / max(1, int(np.count_nonzero(tr.shape[tr.roi] > 0.5)))
        if shown < _MIN_SHOWN or not len(tr.ref_pts):
            return _Motion(prior, 1.0, prior, False)
        pts = tr.ref_pts @ tr.ref_pose[:, :2].T + tr.ref_pose[:, 2]  # the reference pixels, a frame ago
        scored = []
        for raw in [*self._fits(prev, cur, flow, tr, shown, prior, taken, me), prior]:
            if not tr.measured or _plausible(raw, prior, c):  # else it has locked onto something else
                scored.append((_explained(raw, pts, tr.ref_vals, image), raw, raw))
        # Refining rescues a motion a little off (stripes fool corner trackers by a period) and takes
        # back the drift of an entity that was hidden.
        best = max(scored, key=lambda s: s[0])[1]
        m = _align(best, pts, tr.ref_vals, image, c)
        scored.append((_explained(m, pts, tr.ref_vals, image), m, best))
        explained, m, raw = scored[0]
        for s in scored[1:]:
            if s[0] > explained + _MARGIN:
                explained, m, raw = s
        # What the refinement added is mostly a correction of where the entity is, not of its
        # pace: only half of it is carried on to the next frame.
        return _Motion(m, explained, 0.5 * (m + raw), True)

    def _fits(
        self,
        prev: np.ndarray,
        cur: np.ndarray,
        flow: Callable[[], tuple[np.ndarray, int, int] | None],
        tr: _Track,
        shown: float,
        prior: np.ndarray,
        taken: np.ndarray,
        me: int,
    ) -> list[np.ndarray]:
        """Motions measured for the entity's visible mask: from corners, from the dense flow."""
        x0, y0, x1, y1 = tr.box
        seen = (tr.visible[y0:y1, x0:x1] > 0.5).view(np.uint8)
        # Corners on the outline count: on a striped or plain entity they are the only ones, and
        # those that move with the background are outvoted. Corners near another entity do not:
        # their windows see mostly that one.
        roi = cv2.dilate(seen, np.ones((2 * _EDGE + 1,) * 2, np.uint8))
        others = taken[y0:y1, x0:x1]
        others = ((others != 0) & (others != me)).view(np.uint8)
        if others.any():
            roi[cv2.dilate(others, np.ones(_WIN, np.uint8)) > 0] = 0
        pairs: list[tuple[np.ndarray, np.ndarray]] = []
        pts = cv2.goodFeaturesToTrack(prev[y0:y1, x0:x1], _FEATURES, 0.01, 3, mask=roi)
        if pts is not None and len(pts) >= 3:
            # Lucas-Kanade on a crop that holds where the corners can go: pyramids of a crop, not
            # of the frame, for every entity.
            h, w = prev.shape
            reach = (
                int(
                    np.abs(
                        prior[:, :2] @ ((x0 + x1) / 2, (y0 + y1) / 2)
                        + prior[:, 2]
                        - ((x0 + x1) / 2, (y0 + y1) / 2)
                    ).max()
                )
                + 4 * _WIN[0]
            )
            cx0, cy0 = max(0, x0 - reach), max(0, y0 - reach)
            cx1, cy1 = min(w, x1 + reach), min(h, y1 + reach)
            pts = pts + np.array([x0 - cx0, y0 - cy0], np.float32)
            a, b = prev[cy0:cy1, cx0:cx1], cur[cy0:cy1, cx0:cx1]
            # Started where the last motion puts them, the corners only have a change of pace to
            # find: fewer pyramid levels do.
            shift = np.array([cx0, cy0], np.float32)
            guess = ((pts[:, 0] + shift) @ prior[:, :2].T + prior[:, 2] - shift).astype(np.float32)[:, None]
            levels = _LEVELS - 1 if tr.measured else _LEVELS
            nxt, ok, _ = cv2.calcOpticalFlowPyrLK(
                a, b, pts, guess.copy(), winSize=_WIN, maxLevel=levels, flags=cv2.OPTFLOW_USE_INITIAL_FLOW
            )
            back, ok2, _ = cv2.calcOpticalFlowPyrLK(
                b,
                a,
                nxt,
                nxt - (guess - pts),
                winSize=_WIN,
                maxLevel=levels,
                flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
            )
            good = (ok[:, 0] == 1) & (ok2[:, 0] == 1) & (np.linalg.norm((back - pts)[:, 0], axis=1) < 1.0)
            pairs.append((pts[good, 0] + shift, nxt[good, 0] + shift))
        dense = flow() if sum(len(p[0]) for p in pairs) < _FEW else None
        if dense is not None:
            # Where the pixels inside it went by the last motion, and where the flow says they came from.
            field, fx0, fy0 = dense
            inner = cv2.erode(seen, np.ones((5, 5), np.uint8))
            inner[roi == 0] = 0
            ys, xs = np.nonzero(inner)
            if len(xs) >= _MIN_FIT:
                pick = np.linspace(0, len(xs) - 1, min(len(xs), 2 * _FEATURES)).astype(int)
                here = np.stack([xs[pick] + x0, ys[pick] + y0], axis=1) @ prior[:, :2].T + prior[:, 2]
                fh, fw = field.shape[:2]
                u = np.clip(np.round(here[:, 0]).astype(int) - fx0, 0, fw - 1)
                v = np.clip(np.round(here[:, 1]).astype(int) - fy0, 0, fh - 1)
                dst = np.stack([u + fx0, v + fy0], axis=1).astype(np.float32)
                pairs.append((dst + field[v, u], dst))
        out: list[np.ndarray] = []
        for src, dst in pairs:
            if len(src) >= _MIN_FIT and shown >= 0.3:
                m, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.0)
                if m is not None:
                    out.append(m)
        if pairs and len(pairs[0][0]) >= 3:
            # Little in view: rotation and scale as they were, the drift refitted.
            src, dst = pairs[0]
            drift = np.median(dst - (src.astype(np.float64) @ prior[:, :2].T + prior[:, 2]), axis=0)
            out.append(np.hstack([prior[:, :2], (prior[:, 2] + drift)[:, None]]))
        return out

    @staticmethod
    def _rank(ents: list[str], depth: dict[tuple[str, str], float]) -> list[str]:
        """``ents`` back to front by the pairwise evidence in ``depth``."""
        wins = {e: sum(np.sign(depth.get((e, o), 0.0)) for o in ents if o != e) for e in ents}
        return sorted(ents, key=lambda e: wins[e])

    def _order(
        self,
        prev: np.ndarray,
        cur: np.ndarray,
        motions: dict[str, _Motion],
        moved: dict[str, tuple[np.ndarray, Box]],
        depth: dict[tuple[str, str], float],
    ) -> list[str]:
        """Entities back to front. Where two moved shapes overlap, the one whose motion explains the
        pixels there is in front; the evidence builds up over frames."""
        ents = list(motions)
        prevf = prev.astype(np.float32)[..., None]
        for i, a in enumerate(ents):
            for b in ents[i + 1 :]:
                both = _intersect(moved[a][1], moved[b][1])
                if both is None:
                    continue
                x0, y0, x1, y1 = both
                ys, xs = np.nonzero((moved[a][0][y0:y1, x0:x1] > 0.5) & (moved[b][0][y0:y1, x0:x1] > 0.5))
                if len(xs) < 16:
                    continue
                ys, xs = ys + y0, xs + x0
                here = np.stack([xs, ys], axis=1).astype(np.float64)
                now = cur[ys, xs].astype(np.float64)
                miss = []
                for e in (a, b):
                    back = cv2.invertAffineTransform(motions[e].matrix)
                    miss.append(np.abs(now - _sample(prevf, here @ back[:, :2].T + back[:, 2])[:, 0]))
                wins = np.count_nonzero(miss[0] + 4 < miss[1]) - np.count_nonzero(miss[1] + 4 < miss[0])
                vote = wins / len(xs)
                total = 0.7 * depth.get((a, b), 0.0) + vote
                depth[(a, b)], depth[(b, a)] = total, -total
        return self._rank(ents, depth)


def _clean(m: np.ndarray, others: np.ndarray, min_area: float) -> None:
    """Drop specks from the soft mask ``m`` and fill small holes that nothing in front explains (in place)."""
    fg = m > 0.5
    n, labels, areas = components(fg)
    if n > 1:
        small = areas < min_area
        small[0] = False
        if small.any():
            m[small[labels]] = 0.0
            fg &= ~small[labels]
    filled = fill_holes(fg, max(min_area, 0.02 * np.count_nonzero(fg)))
    holes = filled & ~fg & (others <= 0.5)
    if holes.any():
        m[holes] = 1.0
