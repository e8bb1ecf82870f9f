"""Motion evidence for a prompt on a frame of a video: how differently each pixel moves from the background.

What a person boxes in a video is, almost always, what moves differently from its surroundings.
The background's motion between the frame and a neighbour ``GAP`` frames away is one homography
(a camera turning, or moving past a distant or flat scene), fitted with RANSAC to the dense DIS
flow outside the box, where there is only background; a pixel's residual is how far its flow is
from that homography's. Residuals are measured towards each neighbour on either side and the
smaller kept: what the object uncovers or covers is out of view in one of the two, and a pixel
that moves like the background towards either one is background. The residual is used only as
a feature whose distribution inside the box is compared with that outside it (``grabcut.py``),
so its scale (flow noise, parallax, water) does not need a threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import maxflow
import numpy as np

GAP = 2  # frames between the prompt's frame and each neighbour: a slow object moves enough, DIS follows a fast one
WORK_SIDE = 480  # long side the flow is computed at
_STEP = 4  # flow sampled every this many working pixels for the homography
_RANSAC_PX = 1.0  # RANSAC inlier distance, working pixels
_MIN_SAMPLES = 64  # fewer background samples than this: no homography, no motion evidence

_DIS = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM


def neighbours(frame: int, num_frames: int) -> list[int]:
    """The frames motion is measured against: ``GAP`` before and after, or the nearest there are."""
    gap = min(GAP, num_frames - 1)
    return [f for f in (frame - gap, frame + gap) if 0 <= f < num_frames and f != frame]


def residual(
    rgb: np.ndarray, others: Sequence[np.ndarray], box: tuple[float, float, float, float]
) -> np.ndarray | None:
    """Per pixel of ``rgb`` (frame size, float32, frame pixels): how far its motion towards the
    nearest-agreeing neighbour in ``others`` is from the background's, fitted outside ``box``.
    None when nothing can be measured (no neighbour, too little outside the box)."""
    h, w = rgb.shape[:2]
    s = min(1.0, WORK_SIDE / max(h, w))
    sw, sh = max(16, round(w * s)), max(16, round(h * s))  # DIS needs a few patches a side

    def grey(img: np.ndarray) -> np.ndarray:
        small = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA)
        return np.asarray(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))

    x0, y0, x1, y1 = box
    sx, sy = sw / w, sh / h
    outside = np.ones((sh, sw), bool)
    outside[max(0, int(y0 * sy)) : int(np.ceil(y1 * sy)), max(0, int(x0 * sx)) : int(np.ceil(x1 * sx))] = False
    sample = outside[::_STEP, ::_STEP]
    if np.count_nonzero(sample) < _MIN_SAMPLES:
        return None
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    here = np.stack([xx, yy], axis=-1)
    src = here[::_STEP, ::_STEP][sample]
    g0 = grey(rgb)
    dis = cv2.DISOpticalFlow.create(_DIS)
    best: np.ndarray | None = None
    for other in others:
        if other.shape != rgb.shape:
            continue
        flow = dis.calc(g0, grey(other), None)
        dst = src + flow[::_STEP, ::_STEP][sample]
        hom, _ = cv2.findHomography(src, dst, cv2.RANSAC, _RANSAC_PX)
        if hom is None:
            continue
        moved = cv2.perspectiveTransform(here.reshape(-1, 1, 2), hom).reshape(sh, sw, 2)
        res = np.linalg.norm(here + flow - moved, axis=-1)
        best = res if best is None else np.minimum(best, res)
    if best is None:
        return None
    # Back to frame size and frame pixels.
    return np.asarray(cv2.resize(best / np.float32(s), (w, h), interpolation=cv2.INTER_LINEAR), np.float32)


# Residual histogram bins (frame pixels): log-spaced from the flow's sub-pixel noise to the largest
# motions DIS follows.
_BINS = np.r_[0.0, np.geomspace(0.25, 64.0, 16)].astype(np.float32)
_NB = len(_BINS) + 1
_MIN_MOVING = 0.1  # motion is evidence when at least this share of the box moves unlike outside it
_GAMMA = 50.0  # GrabCut's smoothness weight (Rother et al. 2004), with its contrast weighting
_K = 5  # Gaussians per colour model, as OpenCV's GrabCut


def _hist_llr(q: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log p(bin | a) - log p(bin | b) per bin, from the pixels of ``a`` and ``b`` (add-one smoothed)."""
    ha = np.bincount(q[a], minlength=_NB) + 1.0
    hb = np.bincount(q[b], minlength=_NB) + 1.0
    return np.asarray(np.log((ha / ha.sum()) / (hb / hb.sum())), np.float32)


def _gmm_log(model: np.ndarray, px: np.ndarray) -> np.ndarray:
    """log p(colour) under one of OpenCV GrabCut's models (1x65: 5 weights, 5 means, 5 covariances)."""
    m = model.ravel()
    weights, means, covs = m[:_K], m[_K : 4 * _K].reshape(_K, 3), m[4 * _K :].reshape(_K, 3, 3)
    logs = np.full((_K, len(px)), -np.inf, np.float32)
    for k in range(_K):
        if weights[k] <= 0:
            continue
        whiten = np.linalg.cholesky(np.linalg.inv(covs[k])).astype(np.float32)
        z = (px - means[k].astype(np.float32)) @ whiten
        logs[k] = np.log(weights[k]) - 0.5 * np.log(np.linalg.det(covs[k])) - 0.5 * np.square(z).sum(axis=1)
    top = logs.max(axis=0)
    return np.asarray(top + np.log(np.exp(logs - top).sum(axis=0)), np.float32)


_EDGES = (  # the 8-neighbourhood's four directions: structure for PyMaxflow, and the slices it pairs
    (np.array([[0, 0, 0], [0, 0, 1], [0, 0, 0]]), (slice(None), slice(1, None)), (slice(None), slice(None, -1))),
    (np.array([[0, 0, 0], [0, 0, 0], [0, 1, 0]]), (slice(1, None), slice(None)), (slice(None, -1), slice(None))),
    (np.array([[0, 0, 0], [0, 0, 0], [0, 0, 1]]), (slice(1, None), slice(1, None)), (slice(None, -1), slice(None, -1))),
    (np.array([[0, 0, 0], [0, 0, 0], [1, 0, 0]]), (slice(1, None), slice(None, -1)), (slice(None, -1), slice(1, None))),
)


def _smoothness(img: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """GrabCut's contrast-sensitive weights on the 8-neighbourhood: gamma exp(-beta |dc|^2) / distance."""
    c = img.astype(np.float32)
    diffs = [np.square(c[a] - c[b]).sum(axis=-1) for _, a, b in _EDGES]
    beta = 1.0 / (2.0 * max(1e-6, float(np.mean(np.concatenate([d.ravel() for d in diffs])))))
    out = []
    for (structure, _, b), d, dist in zip(_EDGES, diffs, (1.0, 1.0, np.sqrt(2), np.sqrt(2)), strict=True):
        wts = np.zeros(c.shape[:2], np.float32)
        wts[b] = _GAMMA / dist * np.exp(-beta * d)
        out.append((wts, structure))
    return out


def cut_with_motion(img: np.ndarray, inner: np.ndarray, motion: np.ndarray, iters: int) -> np.ndarray | None:
    """A box's object on ``img`` (crop, uint8 RGB) with ``inner`` the box, from colour and motion.

    GrabCut, with the residual motion (``motion``, crop size) as a second, independent feature:
    each label's likelihood of a pixel is its colour model's times its motion histogram's, both
    re-estimated from the labelling every iteration. The first labelling is the box's pixels
    whose motion is commoner inside the box than outside (what moves like the background starts
    as background), where GrabCut starts from the whole box. None when the motion says nothing
    (under ``_MIN_MOVING`` of the box moves unlike outside it: a still object): colour alone then.
    """
    q = np.digitize(motion, _BINS)
    outside = ~inner
    first = _hist_llr(q, inner, outside)
    pi = np.bincount(q[inner], minlength=_NB) / max(1, np.count_nonzero(inner))
    po = np.bincount(q[outside], minlength=_NB) / max(1, np.count_nonzero(outside))
    if 0.5 * np.abs(pi - po).sum() < _MIN_MOVING:  # total variation: a lower bound on the share moving
        return None
    fg = inner & (first[q] > 0)
    edges = _smoothness(img)
    px = img.reshape(-1, 3).astype(np.float32)
    for _ in range(iters):
        labels = np.where(inner, np.where(fg, cv2.GC_PR_FGD, cv2.GC_PR_BGD), cv2.GC_BGD).astype(np.uint8)
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.setRNGSeed(0)  # k-means++ seeding: the same prompt, the same mask
        cv2.grabCut(img, labels, (0, 0, 0, 0), bgd, fgd, 0, cv2.GC_INIT_WITH_MASK)  # the models only
        llr = (_gmm_log(fgd, px) - _gmm_log(bgd, px)).reshape(inner.shape) + _hist_llr(q, fg, ~fg)[q]
        g = maxflow.Graph[float]()
        nodes = g.add_grid_nodes(inner.shape)
        for wts, structure in edges:
            g.add_grid_edges(nodes, weights=wts, structure=structure, symmetric=True)
        # Source side is the object: a pixel pays its llr to be background, -llr to be the object;
        # outside the box it is background for sure.
        g.add_grid_tedges(nodes, np.where(inner, np.maximum(llr, 0), 0), np.where(inner, np.maximum(-llr, 0), 1e9))
        g.maxflow()
        new = inner & ~np.asarray(g.get_grid_segments(nodes))
        if not new.any():
            break
        fg = new
    return fg
