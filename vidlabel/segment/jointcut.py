"""GrabCut with a second feature: a box's object from its colours and from how it moves.

Each label's likelihood of a pixel is its colour model's (a mixture of ``_K`` full-covariance
Gaussians, as OpenCV's GrabCut) times its motion histogram's, the two features taken as
independent given the label; both are re-estimated from the labelling every iteration, and a
graph cut with GrabCut's contrast-sensitive smoothness on the 8-neighbourhood relabels the box.
The first labelling is the box's pixels whose motion is commoner inside the box than outside it:
what moves like the background starts as background, where GrabCut starts from the whole box
and must find the background inside it from colour alone (which fails when the object's colours
are in the box's background too: a black swan on dark water, a dark dog on shaded grass).
"""

from __future__ import annotations

import cv2
import maxflow
import numpy as np

# Residual histogram bins (frame pixels): log-spaced from the flow's sub-pixel noise to the largest
# motions DIS follows.
_BINS = np.r_[0.0, np.geomspace(0.25, 64.0, 16)].astype(np.float32)
_NB = len(_BINS) + 1
_MIN_MOVING = 0.1  # motion is evidence when at least this share of the box moves unlike outside it
_GAMMA = 50.0  # GrabCut's smoothness weight (Rother et al. 2004)
_K = 5  # Gaussians per colour model, as OpenCV's GrabCut
_ONES = np.ones(3, np.float32)
_SETTLED = 0.01  # the cut has converged when it relabels at most this share of the object
_COV_FLOOR = 0.01  # added to a covariance's diagonal, as OpenCV's GrabCut does to a singular one


def _hist_llr(q: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log p(bin | a) - log p(bin | b) per bin, from the pixels of ``a`` and ``b`` (add-one smoothed)."""
    ha = np.bincount(q[a], minlength=_NB) + 1.0
    hb = np.bincount(q[b], minlength=_NB) + 1.0
    return np.asarray(np.log((ha / ha.sum()) / (hb / hb.sum())), np.float32)


class _Mixture:
    """A Gaussian mixture over RGB: OpenCV GrabCut's k-means start, then its own re-estimation."""

    def __init__(self, model: np.ndarray) -> None:
        m = model.ravel()
        self._set(m[:_K], m[_K : 4 * _K].reshape(_K, 3), m[4 * _K :].reshape(_K, 3, 3))

    def _set(self, weights: np.ndarray, means: np.ndarray, covs: np.ndarray) -> None:
        self.parts = []
        for w, mu, cov in zip(weights, means, covs, strict=True):
            if w <= 0:
                continue
            whiten = np.linalg.cholesky(np.linalg.inv(cov)).astype(np.float32)
            offset = float(np.log(w) - 0.5 * np.log(np.linalg.det(cov)))
            self.parts.append((mu.astype(np.float32), whiten, offset))

    def logs(self, px: np.ndarray) -> np.ndarray:
        """log of each component's weighted density at each pixel, (components, N) float32."""
        out = np.empty((len(self.parts), len(px)), np.float32)
        for k, (mu, whiten, offset) in enumerate(self.parts):
            z = (px - mu) @ whiten
            out[k] = offset - 0.5 * (np.square(z) @ _ONES)
        return out

    @staticmethod
    def log_density(logs: np.ndarray) -> np.ndarray:
        top = logs.max(axis=0)
        return np.asarray(top + np.log(np.exp(logs - top).sum(axis=0)), np.float32)

    def refit(self, px: np.ndarray, logs: np.ndarray) -> None:
        """GrabCut's learning step: each pixel to its likeliest component, each component refitted."""
        comp = logs.argmax(axis=0)
        weights, means, covs = [], [], []
        for k in range(len(self.parts)):
            x = px[comp == k].astype(np.float64)
            if len(x) < 2:
                continue
            weights.append(len(x) / len(px))
            means.append(x.mean(axis=0))
            covs.append(np.cov(x.T) + np.eye(3) * _COV_FLOOR)
        if weights:
            self._set(np.array(weights), np.array(means), np.array(covs))


_EDGES = (  # the 8-neighbourhood's four directions: structure for PyMaxflow, the two ends' slices, length
    (
        np.array([[0, 0, 0], [0, 0, 1], [0, 0, 0]]),
        (slice(None), slice(1, None)),
        (slice(None), slice(None, -1)),
        1.0,
    ),
    (
        np.array([[0, 0, 0], [0, 0, 0], [0, 1, 0]]),
        (slice(1, None), slice(None)),
        (slice(None, -1), slice(None)),
        1.0,
    ),
    (
        np.array([[0, 0, 0], [0, 0, 0], [0, 0, 1]]),
        (slice(1, None), slice(1, None)),
        (slice(None, -1), slice(None, -1)),
        np.sqrt(2),
    ),
    (
        np.array([[0, 0, 0], [0, 0, 0], [1, 0, 0]]),
        (slice(1, None), slice(None, -1)),
        (slice(None, -1), slice(1, None)),
        np.sqrt(2),
    ),
)


def _smoothness(img: np.ndarray, inner: np.ndarray) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """GrabCut's weights, gamma exp(-beta |dc|^2) / length, of the edges between pixels of ``inner``
    (each at the edge's first end), and per pixel of ``inner`` the weights of its edges to pixels
    outside it: those outside are background for sure, so this is what being the object costs it."""
    c = img.astype(np.float32)
    diffs = [np.square(c[a] - c[b]).sum(axis=-1) for _, a, b, _ in _EDGES]
    beta = 1.0 / (2.0 * max(1e-6, float(np.mean(np.concatenate([d.ravel() for d in diffs])))))
    edges, border = [], np.zeros(inner.shape, np.float32)
    for (structure, a, b, length), d in zip(_EDGES, diffs, strict=True):
        wts = np.zeros(inner.shape, np.float32)
        wts[b] = _GAMMA / length * np.exp(-beta * d)
        into = np.zeros(inner.shape, bool)  # the edge's second end, at its first end's position
        into[b] = inner[a]
        border += np.where(inner & ~into, wts, 0)
        out_first = np.zeros(inner.shape, np.float32)
        out_first[a] = np.where(inner[b], 0, wts[b])  # second end inside, first end outside
        border += np.where(inner, out_first, 0)
        edges.append((np.where(inner & into, wts, 0).astype(np.float32), structure))
    return edges, border


def cut_with_motion(img: np.ndarray, inner: np.ndarray, motion: np.ndarray, iters: int) -> np.ndarray | None:
    """The object in the box ``inner`` (a rectangle of the crop ``img``, uint8 RGB), given each
    pixel's residual motion (``motion``, crop size, frame pixels); see the module doc. None when
    the motion says nothing (under ``_MIN_MOVING`` of the box moves unlike what is outside it, by
    total variation: a still object): colour alone then."""
    q = np.digitize(motion, _BINS)
    outside = ~inner
    pi = np.bincount(q[inner], minlength=_NB) / max(1, int(np.count_nonzero(inner)))
    po = np.bincount(q[outside], minlength=_NB) / max(1, int(np.count_nonzero(outside)))
    moving = 0.5 * float(np.abs(pi - po).sum())
    if not outside.any() or moving < _MIN_MOVING:
        return None
    fg = inner & (_hist_llr(q, inner, outside)[q] > 0)
    if not fg.any():
        return None
    ys, xs = np.nonzero(inner)
    box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    edges, border = _smoothness(img, inner)
    edges = [(w[box], s) for w, s in edges]
    px = img.reshape(-1, 3).astype(np.float32)
    labels = np.where(inner, np.where(fg, cv2.GC_PR_FGD, cv2.GC_PR_BGD), cv2.GC_BGD).astype(np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # k-means++ seeding: the same prompt, the same mask
    cv2.grabCut(img, labels, (0, 0, 0, 0), bgd, fgd, 0, cv2.GC_INIT_WITH_MASK)  # the start models only
    obj, bg = _Mixture(fgd), _Mixture(bgd)
    inbox = px[inner.ravel()]  # the object's model is needed in the box only
    lo, lb = obj.logs(inbox), bg.logs(px)
    for it in range(iters):
        if it:  # GrabCut's order: components assigned and models refitted, then the cut
            flat = fg.ravel()
            obj.refit(px[flat], lo[:, fg[inner]])
            bg.refit(px[~flat], lb[:, ~flat])
            lo, lb = obj.logs(inbox), bg.logs(px)
        llr = np.zeros(inner.shape, np.float32)
        llr[inner] = _Mixture.log_density(lo) - _Mixture.log_density(lb[:, inner.ravel()])
        llr = (llr + _hist_llr(q, fg, ~fg)[q])[box]
        g = maxflow.Graph[float]()
        nodes = g.add_grid_nodes(llr.shape)
        for wts, structure in edges:
            g.add_grid_edges(nodes, weights=wts, structure=structure, symmetric=True)
        # Source side is the object: a pixel pays its llr to be background, -llr (and its edges to
        # the box's outside) to be the object.
        g.add_grid_tedges(nodes, np.maximum(llr, 0), np.maximum(-llr, 0) + border[box])
        g.maxflow()
        inside = ~np.asarray(g.get_grid_segments(nodes))
        if not inside.any():
            break
        moved = np.count_nonzero(inside != fg[box])
        fg = np.zeros(inner.shape, bool)
        fg[box] = inside
        if it and moved <= _SETTLED * np.count_nonzero(fg):
            break  # settled since the models were last refitted: another round would refit the same
    return fg
