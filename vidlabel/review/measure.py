"""What the signals are computed from: one frame's masks, and a pair of frames joined by optical flow.

All at the review scale (small.py), on crops around the masks. A pair's numbers are measured in
the earlier frame: the later frame's mask is warped there by the dense flow between the two frames
(the flow follows the image, camera motion included, not the masks), then compared with the
earlier frame's mask. A mask that is right on both frames agrees with its warped neighbour
whatever the camera and the object do; a mask wrong on one frame disagrees with both of its
neighbours.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from ..morphology import bbox

__all__ = ["FrameStats", "PairStats", "frame_stats", "pair_stats"]

_PIECE = 0.01  # a component or a hole counts when it holds this share of the mask's area (2 px at least)
_K3 = np.ones((3, 3), np.uint8)


class FrameStats(NamedTuple):
    """One entity's mask on one frame (review scale)."""

    area: float  # soft pixels
    pieces: tuple[float, ...]  # areas of its components that count, largest first
    holes: tuple[float, ...]  # areas of its holes that count, largest first
    overlap: float  # share of its pixels another entity's mask covers too


class PairStats(NamedTuple):
    """One entity's masks on two frames, the later warped to the earlier by the flow."""

    iou: float  # soft IoU of the earlier mask and the warped later one
    boundary: float  # F-measure of their outlines, one review pixel of tolerance
    shift: float  # distance between their centres, over the square root of the larger area
    log_area: float  # log of the ratio of their areas (earlier / warped)
    # share of each mask's area in pieces the other does not touch (earlier's, then warped later's)
    lone: tuple[float, float] = (0.0, 0.0)


def _significant(areas: np.ndarray, total: float) -> tuple[float, ...]:
    keep = areas[areas >= max(2.0, _PIECE * total)]
    return tuple(float(a) for a in np.sort(keep)[::-1])


def frame_stats(mask: np.ndarray, others: np.ndarray | None) -> FrameStats:
    """Stats of a soft mask; ``others`` is the union (bool) of the other entities' masks on the frame."""
    fg = mask > 0.5
    box = bbox(fg, 1)
    area = float(mask.sum())
    if box is None:
        return FrameStats(area, (), (), 0.0)
    x0, y0, x1, y1 = box
    crop = np.zeros((y1 - y0 + 2, x1 - x0 + 2), np.uint8)  # a background frame all round
    crop[1:-1, 1:-1] = fg[y0:y1, x0:x1]
    total = float(np.count_nonzero(crop))
    _, _, stats, _ = cv2.connectedComponentsWithStats(crop, connectivity=8)
    pieces = _significant(stats[1:, cv2.CC_STAT_AREA].astype(float), total)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(1 - crop, connectivity=4)
    outside = labels[0, 0]
    holes = (
        np.delete(stats[:, cv2.CC_STAT_AREA], [0, outside]).astype(float) if len(stats) > 2 else np.zeros(0)
    )
    overlap = 0.0
    if others is not None and total:
        overlap = float(np.count_nonzero(fg[y0:y1, x0:x1] & others[y0:y1, x0:x1])) / total
    return FrameStats(area, pieces, _significant(holes, total), overlap)


def _outline(m: np.ndarray) -> np.ndarray:
    u = m.view(np.uint8)
    return m & ~cv2.erode(u, _K3, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)


def _boundary_f(a: np.ndarray, b: np.ndarray) -> float:
    ba, bb = _outline(a), _outline(b)
    na, nb = np.count_nonzero(ba), np.count_nonzero(bb)
    if na == 0 or nb == 0:
        return 1.0 if na == nb else 0.0
    precision = np.count_nonzero(ba & cv2.dilate(bb.view(np.uint8), _K3).astype(bool)) / na
    recall = np.count_nonzero(bb & cv2.dilate(ba.view(np.uint8), _K3).astype(bool)) / nb
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _lone(m: np.ndarray, other: np.ndarray) -> float:
    """Share of ``m``'s area in pieces (that count) that do not touch ``other`` (one pixel of slack)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m.view(np.uint8), connectivity=8)
    if n <= 2:  # one piece: it is the object, wherever it is (temporal judges that)
        return 0.0
    areas = stats[:, cv2.CC_STAT_AREA].astype(float)
    total = float(areas[1:].sum())
    near = cv2.dilate(other.view(np.uint8), _K3).astype(bool)
    touched = np.bincount(labels[near & m], minlength=n) > 0
    alone = ~touched & (areas >= max(2.0, _PIECE * total))
    alone[0] = False
    return float(areas[alone].sum() / total)


def pair_stats(a: np.ndarray, b: np.ndarray, flow: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> PairStats:
    """Soft masks ``a`` (earlier frame) and ``b`` (later), ``flow`` from the earlier to the later."""
    union = (a > 0) | (b > 0)
    pad = 8 + int(0.25 * np.sqrt(max(float(a.sum()), float(b.sum()))))
    box = bbox(union, pad)
    if box is None:
        return PairStats(1.0, 1.0, 0.0, 0.0)
    x0, y0, x1, y1 = box
    fx = gx[y0:y1, x0:x1] + flow[y0:y1, x0:x1, 0]
    fy = gy[y0:y1, x0:x1] + flow[y0:y1, x0:x1, 1]
    warped = cv2.remap(b, fx, fy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    here = a[y0:y1, x0:x1]
    sa, sw = float(here.sum()), float(warped.sum())
    if sa == 0 or sw == 0:
        return PairStats(0.0, 0.0, 1.0, float(np.log((sa + 1.0) / (sw + 1.0))))
    inter = float(np.minimum(here, warped).sum())
    iou = inter / (sa + sw - inter)
    xs, ys = gx[y0:y1, x0:x1], gy[y0:y1, x0:x1]
    ca = np.array([(here * xs).sum(), (here * ys).sum()]) / sa
    cw = np.array([(warped * xs).sum(), (warped * ys).sum()]) / sw
    shift = float(np.hypot(*(ca - cw)) / np.sqrt(max(sa, sw)))
    ba, bw = here > 0.5, warped > 0.5
    boundary = _boundary_f(ba, bw)
    return PairStats(iou, boundary, shift, float(np.log(sa / sw)), (_lone(ba, bw), _lone(bw, ba)))
