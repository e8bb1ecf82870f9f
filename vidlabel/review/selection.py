"""Choosing the frames worth labelling: a greedy pick under a small model of propagation error.

The model: a propagated mask's error grows with how different its frame looks from the keyframe it
was carried from (appearance distance ``d``, appearance.py) and with how many frames lie between
them (``s``, as a share of the video): ``error ~ base + lam * d + mu * s``, capped at 1 (0 on the
keyframe itself). The three rates are
fitted (least squares, non-negative) on the video's own current masks, whose error is estimated as
``1 - score``; where nothing is measured, ``DEFAULT_RATES`` stand in.

Labelling frame ``c`` makes it exact and re-anchors the propagation there: the frames from ``c`` up
to the next labelled frame (and, before the first labelled frame, those before ``c``, reached going
backward) are then carried from ``c``, with the model's error. The gain of ``c`` is the error it
removes over those frames; the pick is greedy (the best ``c``, then the best given it, ...), which
spreads the picks: a frame next to one already chosen removes little more. A frame far in
appearance from every labelled one, in a stretch where the masks are least trusted, gains most.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_RATES", "Pick", "fit_rates", "pick"]

# (base, lam, mu) where a video has no measured error to fit them on: about the middle of what was
# fitted on the DAVIS-2016 dev sequences' flow propagations.
DEFAULT_RATES = (0.05, 0.5, 0.1)


@dataclass(frozen=True)
class Pick:
    frame: int
    gain: float  # error removed, summed over the frames it re-anchors (in frames)
    first: int  # the frames it re-anchors: first .. last inclusive
    last: int
    error: float  # the estimated error of the frame before it is labelled


def anchors(n: int, labelled: list[int]) -> np.ndarray:
    """Each frame's keyframe under propagation: the nearest labelled frame before it, else after it."""
    lab = np.asarray(sorted(labelled), np.int64)
    t = np.arange(n)
    i = np.searchsorted(lab, t, side="right") - 1
    return np.where(i >= 0, lab[np.maximum(i, 0)], lab[0])


def fit_rates(dist: np.ndarray, steps: np.ndarray, error: np.ndarray) -> tuple[float, float, float]:
    """Non-negative least squares of ``error ~ base + lam * dist + mu * steps`` over the frames given
    (``base``: what a propagation loses on its first frame already). Three unknowns: every subset of
    them is tried and the best fit with no negative rate kept."""
    if len(error) < 4:
        return DEFAULT_RATES
    x = np.stack([np.ones(len(error)), dist, steps], axis=1).astype(np.float64)
    y = error.astype(np.float64)
    best: tuple[float, np.ndarray] | None = None
    for cols in itertools.chain.from_iterable(itertools.combinations(range(3), r) for r in (1, 2, 3)):
        coef, *_ = np.linalg.lstsq(x[:, cols], y, rcond=None)
        if (coef < 0).any():
            continue
        full = np.zeros(3)
        full[list(cols)] = coef
        r = float(((x @ full - y) ** 2).sum())
        if best is None or r < best[0]:
            best = (r, full)
    if best is None:
        return DEFAULT_RATES
    base, lam, mu = best[1]
    return float(base), float(lam), float(mu)


def pick(
    error: np.ndarray,
    dist_from: np.ndarray,
    candidates: np.ndarray,
    labelled: list[int],
    k: int,
    rates: tuple[float, float, float],
    gap: int = 0,
) -> list[Pick]:
    """Greedily pick up to ``k`` of ``candidates``.

    ``error``: every frame's current estimated error in [0, 1] (0 on labelled frames).
    ``dist_from[i]``: the appearance distance from ``candidates[i]`` to every frame.
    """
    n = len(error)
    base, lam, mu = rates
    cur = error.astype(np.float64).copy()
    lab = sorted(set(labelled))
    out: list[Pick] = []
    taken = set(lab)
    for _ in range(k):
        best: tuple[float, int, int, int] | None = None
        for i, c in enumerate(candidates.tolist()):
            if c in taken or (taken and min(abs(c - x) for x in taken) < gap):
                continue
            lo, hi = _reach(c, lab, n)
            seg = np.arange(lo, hi + 1)
            predicted = np.minimum(1.0, base + lam * dist_from[i, seg] + mu * np.abs(seg - c) / n)
            predicted[seg == c] = 0.0
            gain = float((cur[seg] - predicted).sum())
            if best is None or gain > best[0] + 1e-12:
                best = (gain, i, lo, hi)
        if best is None:  # every frame labelled or too close to a keyframe
            break
        gain, i, lo, hi = best
        c = int(candidates[i])
        out.append(Pick(c, gain, lo, hi, float(error[c])))
        seg = np.arange(lo, hi + 1)
        cur[seg] = np.minimum(1.0, base + lam * dist_from[i, seg] + mu * np.abs(seg - c) / n)
        cur[c] = 0.0
        taken.add(c)
        lab = sorted(taken)
    return out


def _reach(c: int, labelled: list[int], n: int) -> tuple[int, int]:
    """The frames that labelling ``c`` re-anchors: up to the next labelled frame, and back to 0 before
    the first labelled frame (or everything when nothing is labelled)."""
    after = [x for x in labelled if x > c]
    before = [x for x in labelled if x < c]
    hi = after[0] - 1 if after else n - 1
    lo = c if before else 0
    return lo, hi
