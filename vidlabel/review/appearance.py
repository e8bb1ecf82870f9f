"""How different two frames look, from classical descriptors (no learned weights).

Each frame gets three descriptors, computed once from its pixels:

- a colour histogram in CIE Lab (a perceptual space: equal steps look about equally different),
  compared by the Hellinger distance; it sees a change of scene or lighting wherever it happens;
- a tiny Lab thumbnail (16x9), compared by the root mean square difference; it sees where things are
  (a pan, a large object moving across) that a histogram cannot;
- a HOG of the grey frame (OpenCV's gradients), compared by the Euclidean distance of the unit
  vectors; it sees the shapes and edges, whatever their colour.

Each distance lies in [0, 1] (0: the same frame) on a fixed scale, not one relative to the video, so a
quiet video does not look eventful; the appearance distance is their mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Descriptors", "describe", "distances"]

_BINS = (4, 8, 8)  # Lab histogram: lightness, a, b
_HIST_SIDE = 160  # frames are shrunk to this long side before the histogram (noise, speed)
_THUMB = (16, 9)  # thumbnail width, height
_THUMB_SCALE = 48.0  # a root mean square Lab difference of this many levels counts as "entirely different"
_HOG_SIZE = 64


@dataclass(frozen=True)
class Descriptors:
    """Per-frame descriptors of one sequence, rows in frame order."""

    hist: np.ndarray  # (N, bins) float32, square roots of the normalised histograms
    thumb: np.ndarray  # (N, 16 * 9 * 3) float32, Lab levels
    hog: np.ndarray  # (N, d) float32, unit vectors

    def __len__(self) -> int:
        return len(self.hist)


def _hog(grey: np.ndarray) -> np.ndarray:
    """Histograms of oriented gradients: 9 unsigned orientations per 8x8-pixel cell, magnitude-weighted,
    each cell normalised (so a contrast change does not count), then the whole as a unit vector.
    (OpenCV 5's wheels no longer ship cv2.HOGDescriptor; its gradients and polar form do the work.)"""
    import cv2

    g = cv2.GaussianBlur(grey.astype(np.float32), (3, 3), 0)  # JPEG noise is not a shape
    mag, ang = cv2.cartToPolar(
        cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1), angleInDegrees=True
    )
    pos = (ang.ravel() % 180.0) / 20.0 - 0.5  # each pixel votes for its two nearest orientations
    lo = np.floor(pos)
    frac = pos - lo
    cells = _HOG_SIZE // 8
    cy, cx = np.divmod(np.arange(_HOG_SIZE * _HOG_SIZE), _HOG_SIZE)
    cell = ((cy // 8) * cells + cx // 8) * 9
    m = mag.ravel()
    size = cells * cells * 9
    h = np.bincount(cell + lo.astype(np.int64) % 9, weights=m * (1 - frac), minlength=size)
    h += np.bincount(cell + (lo.astype(np.int64) + 1) % 9, weights=m * frac, minlength=size)
    hist = np.asarray(h, np.float64).reshape(cells * cells, 9)
    norms = np.linalg.norm(hist, axis=1, keepdims=True)
    hist = hist / (norms + norms.mean() + 1e-6)  # flat cells (sky, water) stay small, not amplified
    v = hist.ravel()
    return (v / max(float(np.linalg.norm(v)), 1e-6)).astype(np.float32)


def describe(frames: Any, n: int) -> Descriptors:
    """The descriptors of frames ``frames(0) .. frames(n - 1)`` (each HxWx3 uint8 RGB)."""
    import cv2

    hists, thumbs, hogs = [], [], []
    for f in range(n):
        rgb = np.ascontiguousarray(frames(f))
        h, w = rgb.shape[:2]
        scale = min(1.0, _HIST_SIDE / max(h, w))
        small = cv2.resize(
            rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
        )
        lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB)
        hist = cv2.calcHist([lab], [0, 1, 2], None, list(_BINS), [0, 256, 0, 256, 0, 256]).ravel()
        hists.append(np.sqrt(hist / max(hist.sum(), 1.0)))
        thumb = cv2.resize(lab, _THUMB, interpolation=cv2.INTER_AREA)
        thumbs.append(thumb.reshape(-1).astype(np.float32))
        grey = cv2.resize(
            cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), (_HOG_SIZE, _HOG_SIZE), interpolation=cv2.INTER_AREA
        )
        hogs.append(_hog(grey))
    return Descriptors(
        np.asarray(hists, np.float32), np.asarray(thumbs, np.float32), np.asarray(hogs, np.float32)
    )


def distances(d: Descriptors, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The appearance distance (in [0, 1]) between each frame of ``rows`` and each of ``cols``."""
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    # Hellinger: sqrt(1 - sum sqrt(p q)); the histograms are stored as sqrt(p).
    bc = d.hist[rows] @ d.hist[cols].T
    hist = np.sqrt(np.clip(1.0 - bc, 0.0, 1.0))
    a, b = d.thumb[rows].astype(np.float64), d.thumb[cols].astype(np.float64)
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    thumb = np.clip(np.sqrt(np.clip(sq, 0.0, None) / a.shape[1]) / _THUMB_SCALE, 0.0, 1.0)
    cos = d.hog[rows] @ d.hog[cols].T
    hog = np.sqrt(np.clip(2.0 - 2.0 * cos, 0.0, 4.0)) / np.sqrt(2.0)  # unit vectors of non-negatives
    return ((hist + thumb + hog) / 3.0).astype(np.float32)
