"""The quality signals: one function per signal, each giving its evidence in [0, 1] per mask of a track.

A track is one entity's masks on one sequence, in frame order (``Track``). Each mask is compared
with its two nearest neighbours in time (one on each side when there is one within
``NEAR`` frames, else the two nearest on one side), every neighbour's mask warped onto it by the
dense optical flow between the two frames (measure.py), so camera motion and the object's own
motion are not errors. A single wrong frame disagrees with both of its neighbours while its
neighbours still agree with theirs, so each signal takes the *smaller* disagreement of the two:
the frames next to a wrong one are not blamed for it.

Each signal is relative to the track's own behaviour: it fires on how far a frame's value lies
beyond the track's median by more than twice its robust spread (1.4826 x the median absolute
deviation), ``_beyond``, so a fast, deforming object (whose masks never agree well with their
neighbours) is not flagged from end to end, and a slow, rigid one is flagged for a small slip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter

import numpy as np

from .measure import FrameStats, PairStats

__all__ = [
    "NEAR",
    "Track",
    "area_jump",
    "centroid_jump",
    "disagreement",
    "engine_check",
    "flicker",
    "fragmentation",
    "gap_presence",
    "low_score",
    "neighbours",
    "overlap",
    "presence",
    "temporal",
]

NEAR = 3  # a neighbour is at most this many frames away


@dataclass
class Track:
    """One entity's masks on one sequence, and what was measured on them."""

    frames: np.ndarray  # int, the frames with a mask, ascending
    keyframe: np.ndarray  # bool: set by a person
    score: np.ndarray  # float, the engine's score (NaN where none)
    stats: list[FrameStats] = field(default_factory=list)
    # per mask and neighbour (n x 2, NaN where none), the PairStats fields seen from this mask:
    # "iou", "boundary", "shift", "log_area" (this mask's area over the neighbour's, log), "lone"
    # (the share of this mask's area in pieces the neighbour does not touch)
    near: dict[str, np.ndarray] = field(default_factory=dict)

    def set_near(self, i: int, slot: int, p: PairStats, earlier: bool) -> None:
        """Record comparison ``p`` as neighbour ``slot`` of mask ``i`` (``earlier``: its pair's first)."""
        if not self.near:
            self.near = {k: np.full((len(self.frames), 2), np.nan) for k in _NEAR_FIELDS}
        self.near["iou"][i, slot] = p.iou
        self.near["boundary"][i, slot] = p.boundary
        self.near["shift"][i, slot] = p.shift
        self.near["log_area"][i, slot] = p.log_area if earlier else -p.log_area
        self.near["lone"][i, slot] = p.lone[0] if earlier else p.lone[1]


_NEAR_FIELDS = ("iou", "boundary", "shift", "log_area", "lone")


def neighbours(frames: np.ndarray) -> np.ndarray:
    """For each mask (index into ``frames``), the indices of the two masks it is compared with
    (n x 2, -1 where there is none)."""
    f = np.asarray(frames, np.int64)
    n = len(f)
    i = np.arange(n)

    def ok(d: int) -> np.ndarray:
        j = i + d
        inside = (j >= 0) & (j < n)
        return inside & (np.abs(f[np.clip(j, 0, max(0, n - 1))] - f) <= NEAR)

    p1, p2, n1, n2 = ok(-1), ok(-2), ok(1), ok(2)
    out = np.full((n, 2), -1, np.int64)
    both = p1 & n1
    out[both] = np.c_[i - 1, i + 1][both]
    back = p1 & ~n1
    out[back, 0] = (i - 1)[back]
    out[back & p2, 1] = (i - 2)[back & p2]
    ahead = n1 & ~p1
    out[ahead, 0] = (i + 1)[ahead]
    out[ahead & n2, 1] = (i + 2)[ahead & n2]
    return out


def _beyond(x: np.ndarray, span: float, floor: float = 0.0) -> np.ndarray:
    """Evidence that ``x`` (a disagreement per mask, NaN where none) lies beyond the track's usual:
    0 up to its median plus twice its robust spread (``floor`` at least: what the flow's own error
    explains on a track so clean that its spread is nil), rising to 1 over ``span`` further."""
    x = np.asarray(x, np.float64)
    out = np.full(len(x), np.nan)
    ok = ~np.isnan(x)
    if not ok.any():
        return out
    med = float(np.median(x[ok]))
    spread = 1.4826 * float(np.median(np.abs(x[ok] - med)))
    out[ok] = np.clip((x[ok] - med - max(2.0 * spread, floor)) / span, 0.0, 1.0)
    return out


def _nearest(track: Track, value: str) -> np.ndarray:
    """Per mask, the smaller disagreement ``value`` with its neighbours (halved with only one)."""
    n = len(track.frames)
    if not track.near:
        return np.full(n, np.nan)
    a = track.near[value]
    a = 1.0 - a if value in ("iou", "boundary") else np.abs(a)
    have = (~np.isnan(a)).sum(axis=1)
    out = np.where(have > 0, np.fmin(a[:, 0], a[:, 1]), np.nan)
    return np.where(have == 1, 0.5 * out, out)


def temporal(track: Track) -> np.ndarray:
    """**temporal**: the mask against its neighbours' masks warped onto it by the optical flow.

    1 - IoU with each warped neighbour, the smaller of the two, beyond the track's usual by up to
    0.25 (then 1). Fires on a mask that moved without the image (a shift), lost or gained part of
    the object (a leak, an erosion, a piece of something else), on one frame.
    """
    return _beyond(_nearest(track, "iou"), 0.25, 0.05)


def flicker(track: Track) -> np.ndarray:
    """**flicker**: the outline against its warped neighbours' outlines.

    1 - the F-measure of the two outlines (one review pixel, two at 480p, of tolerance), the
    smaller of the two neighbours, beyond the track's usual by up to 0.3. Fires where the outline
    jumps on one frame while the area hardly changes (an erosion, a ragged edge), which IoU
    weighs little on a large object.
    """
    return _beyond(_nearest(track, "boundary"), 0.3, 0.08)


def area_jump(track: Track) -> np.ndarray:
    """**area_jump**: the area against the warped neighbours' areas (so a zoom is not a jump).

    |log of the area ratio|, the smaller of the two neighbours, beyond the track's usual change by
    up to 0.3 (a third more or a quarter less than its neighbours, on top of the usual). Fires on
    a leak, an erosion, a lost part.
    """
    return _beyond(_nearest(track, "log_area"), 0.3, 0.05)


def centroid_jump(track: Track) -> np.ndarray:
    """**centroid_jump**: the mask's centre against the warped neighbours' centres.

    Their distance in units of the object's size (square root of its area), the smaller of the
    two neighbours, beyond the track's usual by up to 0.15. The flow carries the neighbours along
    with the camera and the object, so steady motion leaves the centres together; a mask that
    slipped off its object, or grew a piece on one side, does not.
    """
    return _beyond(_nearest(track, "shift"), 0.15, 0.03)


def fragmentation(track: Track) -> np.ndarray:
    """**fragmentation**: pieces and holes the keyframes and the neighbours do not have.

    The number of pieces (8-connected components) and holes a mask may have is the nearest
    keyframe's (the track's median where it has none), or more where both of its neighbours have
    more (an object cut in two by an occluder stays cut for a while). Pieces count only where the
    warped neighbours have nothing: a leg cut off by a branch is where the neighbours have the leg,
    a piece picked up from the background is not. What is measured is the share of the mask's
    area in such extra pieces (the smaller of its two neighbours'), or in holes beyond the number;
    the evidence is how far that lies beyond the track's usual, 10% more giving 1. Fires on a piece
    of another object or of the background picked up apart from the object, and on an erosion that
    cuts thin parts off where the neighbours have none.
    """
    n = len(track.frames)
    out = np.full(n, np.nan)
    if n == 0:
        return out
    have_p = list(map(attrgetter("pieces"), track.stats))
    have_h = list(map(attrgetter("holes"), track.stats))
    pieces = np.fromiter(map(len, have_p), np.int64, n)
    holes = np.fromiter(map(len, have_h), np.int64, n)
    keys = np.flatnonzero(track.keyframe)
    if keys.size:  # the nearest keyframe's counts
        at = track.frames[keys]
        j = np.clip(np.searchsorted(at, track.frames), 1, max(1, len(at) - 1))
        left = np.clip(j - 1, 0, len(at) - 1)
        right = np.clip(j, 0, len(at) - 1)
        k = np.where(np.abs(at[left] - track.frames) <= np.abs(at[right] - track.frames), left, right)
        ref_p, ref_h = pieces[keys[k]], holes[keys[k]]
    else:
        ref_p = np.full(n, int(np.median(pieces)))
        ref_h = np.full(n, int(np.median(holes)))
    nb = neighbours(track.frames)
    both = (nb >= 0).all(axis=1)
    ref_p = np.where(both, np.maximum(ref_p, pieces[nb].min(axis=1)), ref_p)
    ref_h = np.where(both, np.maximum(ref_h, holes[nb].min(axis=1)), ref_h)
    lone = np.fmin(track.near["lone"][:, 0], track.near["lone"][:, 1]) if track.near else np.full(n, np.nan)
    # Only the masks with more pieces (holes) than they may have are walked: most have one and none.
    extra = np.zeros(n)
    allowed = np.maximum(1, ref_p)
    for i in np.flatnonzero(pieces > allowed).tolist():
        extra[i] = sum(have_p[i][allowed[i] :]) / sum(have_p[i])
    extra = np.where(
        np.isnan(lone), extra, np.minimum(extra, lone)
    )  # only what lies away from the neighbours
    hole_share = np.zeros(n)
    over = np.flatnonzero(holes > ref_h).tolist()
    for i in over:
        hole_share[i] = sum(have_h[i][ref_h[i] :]) / max(track.stats[i].area, 1.0)
    out = np.maximum(extra, hole_share)
    return _beyond(out, 0.1)


def overlap(track: Track) -> np.ndarray:
    """**overlap**: the share of the mask another entity's mask covers too, beyond the track's
    usual share by up to 10%. Two objects' masks should not claim the same pixels; one that
    does has probably leaked onto its neighbour (or the neighbour onto it)."""
    share = np.array([s.overlap for s in track.stats], np.float64)
    if not len(share):
        return share
    return np.clip((share - float(np.median(share))) / 0.1, 0.0, 1.0)


def presence(frames: np.ndarray, n_frames: int) -> np.ndarray:
    """**presence** on a mask: 1 / the length of the run of frames it belongs to when that run is
    at most two frames long and the entity shows elsewhere too (a blip: an object that appears
    for a frame and is gone again), else 0."""
    out = np.zeros(len(frames))
    if len(frames) < 2:
        return out
    starts = np.r_[0, np.flatnonzero(np.diff(frames) > 1) + 1]
    ends = np.r_[starts[1:], len(frames)]
    for s, e in zip(starts, ends):
        if e - s <= 2 and e - s < len(frames):
            out[s:e] = 1.0 / (e - s)
    return out


def gap_presence(gap: int) -> float:
    """**presence** on a frame where the entity has no mask inside its track: 1 / the length of the
    gap (an object that vanishes for one frame and comes back: 1; for four frames: 0.25, more
    likely a real occlusion)."""
    return 1.0 / max(1, gap)


def low_score(track: Track) -> np.ndarray:
    """**low_score**: the engine's score of the mask against the track's median score of
    propagated masks: 0 at the median or above, 1 at half of it or below. Null without a score."""
    s = np.asarray(track.score, np.float64)
    ok = ~np.isnan(s)
    out = np.full(len(s), np.nan)
    if not ok.any():
        return out
    pool = s[ok & ~track.keyframe] if (ok & ~track.keyframe).any() else s[ok]
    med = float(np.median(pool))
    if med <= 0:
        out[ok] = 0.0
        return out
    out[ok] = np.clip((med - s[ok]) / (0.5 * med), 0.0, 1.0)
    return out


def disagreement(iou: np.ndarray) -> np.ndarray:
    """**disagreement** (``compare=``): 1 - IoU with the other set's mask of the same entity on the
    frame, beyond the track's usual disagreement by up to 0.3 (two engines never agree exactly);
    and, whatever the track's usual, an IoU under 0.5 (fully under 0.2): two fair segmentations of
    one object overlap more than that, so one of them is wrong there, even where most of the track
    is (then its usual disagreement is high and the first part says nothing). A mask one set has
    and the other lacks counts as IoU 0. Null where the other set has nothing for the entity."""
    d = 1.0 - np.asarray(iou, np.float64)
    absolute = np.clip((d - 0.5) / 0.3, 0.0, 1.0)  # NaN stays NaN
    return np.fmax(_beyond(d, 0.3, 0.05), absolute)


def engine_check(iou: np.ndarray) -> np.ndarray:
    """**engine_check** (``engine=``): the engine, started from the previous frame's mask and run
    one frame forward, and started from the next frame's mask and run one frame backward, against
    the mask: 1 - IoU, the smaller of the two, beyond the track's usual by up to 0.25. Where the
    engine from both sides puts the object elsewhere, the mask is probably wrong."""
    return _beyond(1.0 - np.asarray(iou, np.float64), 0.25, 0.05)
