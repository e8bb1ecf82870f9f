"""Geodesic distances on a frame: how far each pixel is from a set of seeds, counting colour change.

The distance of a path is the sum of the colour differences between neighbouring pixels along it,
so it is short across a region of even colour and long across edges and texture. Segmenting by
which seeds are nearer (the clicks, or the frame's border and the negative clicks) gives the
region a click is on as a whole even when its boundary is faint in places, where a flood that
stops at the first weak edge or spreads to the first like colour does not: a leak costs the
whole path through it, and background reached from the border costs as little as the object
reached from the click only where there is no edge between them.

The distances are computed by alternating row and column sweeps, each a closed form over whole
rows at once (a running minimum of distance minus cumulative cost), so a few ms at the working
size; sweeps repeat until nothing changes (paths with more turns need more).
"""

from __future__ import annotations

import cv2
import numpy as np

WORK_SIDE = 224  # long side of the frame the distances are computed on
_BLUR = 1.0  # Gaussian sigma (working pixels) before colour differences: JPEG noise is not an edge
_MAX_SWEEPS = 12
INF = np.float32(1e9)


class Costs:
    """Neighbour colour differences of a frame downscaled to ``WORK_SIDE``; ``scale`` maps frame to work."""

    def __init__(self, rgb: np.ndarray) -> None:
        h, w = rgb.shape[:2]
        self.scale = min(1.0, WORK_SIDE / max(h, w))
        self.shape = (max(2, round(h * self.scale)), max(2, round(w * self.scale)))
        small = cv2.resize(rgb, self.shape[::-1], interpolation=cv2.INTER_AREA)
        img = cv2.GaussianBlur(small, (0, 0), _BLUR).astype(np.float32)
        self.right = np.linalg.norm(img[:, 1:] - img[:, :-1], axis=2)  # (h, w-1): pixel to its right
        self.down = np.linalg.norm(img[1:] - img[:-1], axis=2)  # (h-1, w): pixel below
        # Per sweep direction, the cost of stepping into each pixel from the previous one.
        zc, zr = np.zeros((self.shape[0], 1), np.float32), np.zeros((1, self.shape[1]), np.float32)
        self._steps = (
            (np.hstack([zc, self.right]), 1, False),  # into j from j - 1
            (np.hstack([self.right, zc]), 1, True),  # into j from j + 1
            (np.vstack([zr, self.down]), 0, False),
            (np.vstack([self.down, zr]), 0, True),
        )

    def to_work(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame (x, y) pixels -> working (row, col) indices, clipped."""
        h, w = self.shape
        xs = np.clip((np.asarray(xy)[:, 0] * self.scale).astype(int), 0, w - 1)
        ys = np.clip((np.asarray(xy)[:, 1] * self.scale).astype(int), 0, h - 1)
        return ys, xs

    def distance(self, seeds: np.ndarray) -> np.ndarray:
        """Geodesic distance (working size, float32) to the pixels where ``seeds`` (bool) is set."""
        d = np.where(seeds, np.float32(0), INF).astype(np.float32)
        if not seeds.any():
            return d
        for _ in range(_MAX_SWEEPS):
            before = d
            for step, axis, backward in self._steps:
                d = _sweep(d, step, axis, backward)
            if np.array_equal(d, before):
                break
        return d


def _sweep(d: np.ndarray, step: np.ndarray, axis: int, backward: bool) -> np.ndarray:
    """One pass along ``axis``: d[j] = min(d[j], d[i] + the steps' costs from i to j), i before j.

    ``step[j]`` is the cost of moving into j from its predecessor (j - 1, or j + 1 going
    backward). With c the running sum of steps, the best is c[j] + min over i of (d[i] - c[i]).
    """
    if backward:
        d, step = np.flip(d, axis), np.flip(step, axis)
    c = np.cumsum(step, axis=axis)
    out = np.minimum(d, c + np.minimum.accumulate(d - c, axis=axis))
    return np.ascontiguousarray(np.flip(out, axis)) if backward else out
