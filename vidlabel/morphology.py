"""Binary mask morphology with OpenCV: connected components, hole filling, opening, speck removal.

Shared by the GrabCut prompt (segment/grabcut.py), the flow engine and the dataset's mask
clean-up (cleanup.py). The mask is 8-connected and its background 4-connected, the standard pair:
an outline closed only by diagonal steps encloses a hole (background cannot leak between two
diagonal neighbours of the outline), and a thing and a hole never cross each other. A hole is
filled when it has fewer than the given number of pixels (strictly: ``area < hole_area``, in
``fill_holes`` and ``tidy`` alike). Every operation here is symmetric under transposition (both
connectivities and the disc kernel are), so callers may hand in the transpose of a column-major
mask (a C-contiguous view that OpenCV takes without a copy) and get the transpose of the answer.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["bbox", "components", "fill_holes", "open_disc", "tidy"]


def bbox(m: np.ndarray, pad: int) -> tuple[int, int, int, int] | None:
    """The box (x0, y0, x1, y1, exclusive ends) of the non-zero pixels of ``m``, ``pad`` wider on each side
    within the array, or None if there are none."""
    ys, xs = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    if not len(ys):
        return None
    h, w = m.shape
    return (
        max(0, int(xs[0]) - pad),
        max(0, int(ys[0]) - pad),
        min(w, int(xs[-1]) + pad + 1),
        min(h, int(ys[-1]) + pad + 1),
    )


def components(fg: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """8-connected components of a bool mask: (count with the background, labels, areas)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg.view(np.uint8), connectivity=8)
    return n, labels, stats[:, cv2.CC_STAT_AREA]


def fill_holes(fg: np.ndarray, hole_area: float, keep_open: np.ndarray | None = None) -> np.ndarray:
    """``fg`` with its holes filled: 4-connected background not reaching the array's edge, of fewer
    than ``hole_area`` pixels. ``keep_open``: pixels whose holes stay open."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats((~fg).view(np.uint8), connectivity=4)
    areas = stats[:, cv2.CC_STAT_AREA]
    if n <= 1:
        return fg
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    fill = areas < hole_area
    fill[0] = False
    fill[border] = False
    if keep_open is not None:  # holes holding a negative click were asked for
        fill[np.unique(labels[keep_open])] = False
    return fg | fill[labels] if fill.any() else fg


def open_disc(fg: np.ndarray, radius: int) -> np.ndarray:
    """Morphological opening (erode, then dilate) by a disc of ``radius`` pixels: removes what a
    disc of that size cannot fit in (spurs, thin bridges, specks). Pixels outside the array count
    as neither (OpenCV's default border), so the frame's edge erodes nothing."""
    if radius <= 0:
        return fg
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return np.asarray(cv2.morphologyEx(fg.view(np.uint8), cv2.MORPH_OPEN, kernel)).view(bool)


def tidy(fg: np.ndarray, *, radius: int, min_area: int, hole_area: int) -> np.ndarray:
    """An opening by a disc of ``radius``, then components (8-connected) of fewer than ``min_area``
    pixels dropped, then holes (4-connected) of fewer than ``hole_area`` pixels filled (each step
    skipped at 0). ``fg`` must be C-contiguous.

    What ``components`` and ``fill_holes`` would give, from labels alone: areas are counted only
    when there is more than one component or a hole to judge (a clean mask costs two labellings
    and no counting), and only over the pixels that may need them, a fraction of what OpenCV's
    full statistics cost."""
    out = open_disc(fg, radius)
    if min_area > 1 and out.any():
        n, labels = _labels(out, 8)
        if n > 2:
            keep = np.bincount(labels[labels > 0], minlength=n) >= min_area  # the mask's pixels only
            keep[0] = False
            if not keep[1:].all():
                out = np.take(keep, labels)
        elif np.count_nonzero(out) < min_area:  # a single component, too small
            out = np.zeros_like(out)
    if hole_area > 1 and out.any():
        n, labels = _labels(~out, 4)  # label 0: the mask itself
        inside = np.ones(n, bool)
        inside[0] = False
        inside[labels[[0, -1]]] = False  # background reaching the edge is no hole
        inside[labels[:, [0, -1]]] = False
        if inside.any():
            # Count the pixels of the labels that may be holes: not the mask's (0), nor, when it
            # holds the corner, the outer background's (1), most of the crop.
            outer = 1 if labels[0, 0] == 1 else 0
            fill = inside & (np.bincount(labels[labels > outer], minlength=n) < hole_area)
            if fill.any():
                out = out | np.take(fill, labels)
    return out


def _labels(fg: np.ndarray, connectivity: int) -> tuple[int, np.ndarray]:
    """Labels of a bool mask's components and their count, the background (label 0) included."""
    n, labels = cv2.connectedComponents(fg.view(np.uint8), connectivity=connectivity, ltype=cv2.CV_32S)
    return int(n), labels
