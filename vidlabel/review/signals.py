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
    # per mask, its neighbours' comparisons, oriented from this frame (see ``oriented``)
    near: list[list[PairStats]] = field(default_factory=list)


def neighbours(frames: np.ndarray) -> list[list[int]]:
    """For each mask (index into ``frames``), the indices of the masks it is compared with."""
    out: list[list[int]] = []
    n = len(frames)
    for i, f in enumerate(frames):
        before = [j for j in (i - 1, i - 2) if j >= 0 and f - frames[j] <= NEAR]
        after = [j for j in (i + 1, i + 2) if j < n and frames[j] - f <= NEAR]
        if before and after:
            out.append([before[0], after[0]])
        else:
            out.append(before or after)
    return out


def oriented(p: PairStats, earlier: bool) -> PairStats:
    """A pair's numbers seen from its later frame when ``earlier`` is False (the area ratio flips)."""
    return p if earlier else p._replace(log_area=-p.log_area, lone=p.lone[::-1])


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
    out = np.full(len(track.frames), np.nan)
    for i, near in enumerate(track.near):
        vals = [getattr(p, value) if value != "log_area" else abs(p.log_area) for p in near]
        vals = [1.0 - v if value in ("iou", "boundary") else v for v in vals]
        if vals:
            out[i] = min(vals) if len(vals) > 1 else 0.5 * vals[0]
    return out


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


def _beyond_reference(have: tuple[float, ...], allowed: int) -> float:
    """Share of a mask's area in the pieces (or holes) past the ``allowed`` largest."""
    total = sum(have)
    return 0.0 if total == 0 else float(sum(have[allowed:]) / total)


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
    pieces = np.array([len(s.pieces) for s in track.stats])
    holes = np.array([len(s.holes) for s in track.stats])
    keys = np.flatnonzero(track.keyframe)
    nb = neighbours(track.frames)
    for i, s in enumerate(track.stats):
        if keys.size:
            k = keys[np.argmin(np.abs(track.frames[keys] - track.frames[i]))]
            ref_p, ref_h = int(pieces[k]), int(holes[k])
        else:
            ref_p, ref_h = int(np.median(pieces)), int(np.median(holes))
        if len(nb[i]) == 2:
            ref_p = max(ref_p, int(min(pieces[j] for j in nb[i])))
            ref_h = max(ref_h, int(min(holes[j] for j in nb[i])))
        extra = _beyond_reference(s.pieces, max(1, ref_p))
        if track.near[i]:  # only as much as lies away from what the neighbours show
            extra = min(extra, min(p.lone[0] for p in track.near[i]))
        hole_share = sum(s.holes[ref_h:]) / max(s.area, 1.0)
        out[i] = max(extra, hole_share)
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
    frame, beyond the track's usual disagreement by up to 0.3 (two engines never agree exactly).
    A mask one set has and the other lacks counts as IoU 0. Null where the other set has nothing
    for the entity."""
    return _beyond(1.0 - np.asarray(iou, np.float64), 0.3, 0.05)


def engine_check(iou: np.ndarray) -> np.ndarray:
    """**engine_check** (``engine=``): the engine, started from the previous frame's mask and run
    one frame forward, and started from the next frame's mask and run one frame backward, against
    the mask: 1 - IoU, the smaller of the two, beyond the track's usual by up to 0.25. Where the
    engine from both sides puts the object elsewhere, the mask is probably wrong."""
    return _beyond(1.0 - np.asarray(iou, np.float64), 0.25, 0.05)
