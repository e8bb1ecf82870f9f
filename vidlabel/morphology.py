"""Binary mask morphology with OpenCV: connected components, hole filling, opening, speck removal.

Shared by the GrabCut prompt (segment/grabcut.py), the flow engine and the dataset's mask
clean-up (cleanup.py). Every operation here is symmetric under transposition (8-connectivity, a
disc kernel), so callers may hand in the transpose of a column-major mask (a C-contiguous view
that OpenCV takes without a copy) and get the transpose of the answer.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["components", "fill_holes", "open_disc", "tidy"]


def components(fg: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """8-connected components of a bool mask: (count with the background, labels, areas)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg.view(np.uint8), connectivity=8)
    return n, labels, stats[:, cv2.CC_STAT_AREA]


def fill_holes(fg: np.ndarray, max_area: float, keep_open: np.ndarray | None = None) -> np.ndarray:
    """``fg`` with its holes (background not connected to the border) under ``max_area`` filled."""
    n, labels, areas = components(~fg)
    if n <= 1:
        return fg
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    fill = areas <= max_area
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
    """An opening by a disc of ``radius``, then components under ``min_area`` pixels dropped, then
    holes under ``hole_area`` pixels filled (each step skipped at 0). ``fg`` must be C-contiguous."""
    out = open_disc(fg, radius)
    if min_area > 1 and out.any():
        _, labels, areas = components(out)
        keep = areas >= min_area
        keep[0] = False
        if not keep[1:].all():
            out = keep[labels]
    if hole_area > 1 and out.any():
        out = fill_holes(out, hole_area - 1)  # areas are whole pixels: "< hole_area" is "<= hole_area - 1"
    return out
