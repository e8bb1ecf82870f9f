"""Interactive segmentation of one frame: a box and/or clicks in, a mask out.

Two steps. Geodesic distances (``geodesic.py``) from the object's evidence (the positive clicks)
and from the background seeds (the frame's border, or what lies outside a box, and the negative
clicks) say which pixels are surely the object, surely background, or in between. A pixel is
surely the object when the evidence is ``_CONF`` times nearer than the background; surely
background when the frame's border is ``_BG_CONF`` times nearer (a much weaker hint than a
click: a textured object's rim is far from one click) or a negative click ``_CONF`` times
nearer. This finds the extent of a large, low-contrast object from one click, where a colour
model learnt from a disc around the click keeps only the part coloured like the disc. GrabCut
(iterated graph cuts on colour mixture models) then places the boundary in the uncertain band,
on a crop around the object downscaled to at most ``side`` pixels.

A box alone on a frame of a video is GrabCut with motion as a second feature (``jointcut.py``):
what moves unlike the background (``motion.py``) is evidence of the object, and the cut starts
from it; on a crop ``box_side`` long, where thin parts (a swan's neck) survive the cut. Measured
on the DAVIS-2016 dev frames: mean J 0.552 with colour alone at 160 px, 0.594 at 240, 0.761 with
motion at 240. Where motion says nothing (a still object, a one-frame sequence) a box is plain
GrabCut: outside the box is background, inside probably the object. When
GrabCut's colour models collapse (next to nothing left in the box) the cut is redone with the
box's pixels whose colours are commoner outside it starting as background, and failing that
those colour statistics alone give the mask: a box never gives an empty mask. A negative click
given with a box in one prompt takes the box's own answer as the evidence (its parts the clicks
are not on, or if they are on its only part, its half farther from them) and removes what is
nearer the clicks; clicks added to a prompt afterwards (``clear=False``) edit its mask instead
(``correct.py``).

Positive click pixels are in the mask and negative ones out; the component(s) holding the
positive clicks (or the main ones, for a box alone) are kept and small holes filled; a box
bounds the mask. The score is the colour separation of object and surroundings in the crop
(Bhattacharyya distance of their colour histograms, 0..1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import cv2
import numpy as np

from ..errors import ValidationError
from ..morphology import components, fill_holes
from .base import Prompt, Result, Session
from .correct import correct
from .geodesic import Costs
from .jointcut import cut_with_motion
from .motion import neighbours, residual

_DISC = 0.012  # radius of a click's pinned disc, as a share of the crop's long side
_CONF = 2.0  # sure object (or background, for negative clicks) when the other side is this much farther
_BG_CONF = 8.0  # sure background when the frame's border or the box's outside is this much nearer
_MARGIN = 0.25  # the crop around the box or the guessed object, as a share of its long side
_COLLAPSED = 0.02  # a cut keeping less than this share of its box has lost its colour model


def _disc_radius(side: int) -> int:
    return max(2, round(_DISC * side))


def _geodesic_labels(
    costs: Costs, box: tuple[float, float, float, float] | None, evidence: np.ndarray, neg: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """GrabCut labels at working size from geodesic distances, and the guessed object.

    ``evidence`` (working size, bool) is what is known to be the object: the positive clicks, or
    for a box with negative clicks only, the box's own answer away from them. The background
    seeds are the negative clicks and the frame's border (without a box) or the box's outside.
    Sure object where the evidence is ``_CONF`` times nearer than the background seeds, sure
    background where those are ``_BG_CONF`` times nearer, or a negative click simply nearer; in
    between, without a box, the nearer side is the probable label (inside a box everything
    stays probably the object: the box says so). The guess is the pixels nearer the evidence.
    """
    h, w = costs.shape
    outside = np.ones((h, w), bool)
    if box is not None:
        s = costs.scale
        x0, y0 = max(0, int(box[0] * s)), max(0, int(box[1] * s))
        outside[y0 : int(np.ceil(box[3] * s)), x0 : int(np.ceil(box[2] * s))] = False
    else:
        outside[1:-1, 1:-1] = False  # the frame's border: mostly background in a framed shot
    negs = np.zeros((h, w), bool)
    if len(neg):
        negs[costs.to_work(neg)] = True
    dp, db = costs.distance(evidence), costs.distance(outside | negs)
    guess = dp < db
    if box is None:
        labels = np.where(guess, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    else:
        labels = np.full((h, w), cv2.GC_PR_FGD, np.uint8)
    labels[dp * _CONF < db] = cv2.GC_FGD
    labels[db * _BG_CONF < dp] = cv2.GC_BGD
    if len(neg):
        # What a negative click touches: what is nearer to it than to the object's evidence.
        labels[costs.distance(negs) < dp] = cv2.GC_BGD
    return labels, guess


def _colour_ratio(img: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Per pixel: how much commoner its colour (8 levels a channel) is inside ``inner`` than outside."""
    q = (img >> 5).astype(np.int32)
    idx = (q[..., 0] << 6) | (q[..., 1] << 3) | q[..., 2]
    hi = np.bincount(idx[inner], minlength=512) + 1.0
    ho = np.bincount(idx[~inner], minlength=512) + 1.0
    return ((hi / hi.sum()) / (ho / ho.sum()))[idx]


def _separation(img: np.ndarray, fg: np.ndarray) -> float:
    """How far apart the colours of object and surroundings are (Bhattacharyya distance, 0..1)."""
    if not fg.any() or fg.all():
        return 0.0
    m = fg.view(np.uint8)
    bins, ranges = [8, 8, 8], [0, 256, 0, 256, 0, 256]
    hf = cv2.calcHist([img], [0, 1, 2], m, bins, ranges)
    hb = cv2.calcHist([img], [0, 1, 2], 1 - m, bins, ranges)
    return float(np.clip(cv2.compareHist(hf, hb, cv2.HISTCMP_BHATTACHARYYA), 0.0, 1.0))


def _cut(img: np.ndarray, mask: np.ndarray, iters: int) -> np.ndarray:
    """GrabCut from the labels in ``mask`` (changed in place): the object, as a bool mask."""
    kinds = np.bincount(mask.ravel(), minlength=4)
    if not kinds[cv2.GC_FGD] + kinds[cv2.GC_PR_FGD]:
        return np.zeros(mask.shape, bool)
    if not kinds[cv2.GC_BGD] + kinds[cv2.GC_PR_BGD]:
        # A box over the whole frame leaves no background to learn from: its rim becomes
        # probable background.
        rim = np.zeros(mask.shape, bool)
        rim[[0, -1], :] = rim[:, [0, -1]] = True
        mask[rim & (mask != cv2.GC_FGD)] = cv2.GC_PR_BGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut seeds its colour models with k-means++: the same prompt, the same mask
    cv2.grabCut(img, mask, (0, 0, 0, 0), bgd, fgd, iters, cv2.GC_INIT_WITH_MASK)
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)


class PromptOptions(Protocol):
    """What an engine answering prompts with GrabCut sets: see ``FlowOptions``."""

    @property
    def prompt_side(self) -> int: ...
    @property
    def box_side(self) -> int: ...
    @property
    def grabcut_iters(self) -> int: ...
    @property
    def min_area(self) -> int: ...


# The prompt options of an engine and their bounds (inclusive; None: no upper bound). GrabCut's time
# grows with its iterations: past 20 a prompt is slow and no better.
PROMPT_BOUNDS: tuple[tuple[str, int, int | None], ...] = (
    ("prompt_side", 32, 4096),
    ("box_side", 32, 4096),
    ("grabcut_iters", 1, 20),
    ("min_area", 0, None),
)


def check_ints(engine: str, options: object, bounds: tuple[tuple[str, int, int | None], ...]) -> None:
    """Refuse an engine option that is not an int within its bounds."""
    for name, lo, hi in bounds:
        value = getattr(options, name)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
            raise ValidationError(f"{engine} engine: {name} must be an int >= {lo}, got {value!r}")
        if hi is not None and value > hi:
            raise ValidationError(f"{engine} engine: {name} must be an int <= {hi}, got {value!r}")


def answer(
    frame: Callable[[], np.ndarray],
    prompt: Prompt,
    options: PromptOptions,
    others: Callable[[], Sequence[np.ndarray]] | None = None,
    previous: Prompt | None = None,
) -> Result:
    """A session's prompt answered: a mask prompt as given, anything else by ``segment_prompt`` on the
    frame (``frame()`` reads it only then). ``others()`` gives the frames motion is measured
    against (``motion.neighbours``), read only for a box: what moves unlike its surroundings
    there is evidence of the object. ``previous`` is the prompt this frame had: when ``prompt``
    is it with clicks added, each added click corrects its mask (``correct.py``)."""
    if prompt.mask is not None:
        return prompt.mask.astype(bool, copy=True), 1.0
    o = options
    rgb = frame()
    added = _added_clicks(previous, prompt)
    if added is not None and previous is not None and previous.result is not None:
        mask = _corrected(rgb, prompt, previous.result, added, o)
        return mask, previous.score if mask.any() else 0.0
    motion = None
    if prompt.box is not None and others is not None:
        near = others()
        if near:
            motion = residual(rgb, near, tuple(float(v) for v in prompt.box))  # type: ignore[arg-type]
    try:
        mask, score = segment_prompt(
            rgb,
            prompt,
            side=o.prompt_side,
            iters=o.grabcut_iters,
            min_area=o.min_area,
            motion=motion,
            box_side=o.box_side,
        )
    except cv2.error as e:  # GrabCut needs pixels of both kinds to learn colours from
        raise ValidationError(
            f"prompt: GrabCut cannot segment this prompt on a {rgb.shape[1]}x{rgb.shape[0]} frame "
            f"(too few pixels inside or outside it); give a mask prompt instead ({e.err})"
        ) from e
    if prompt.box is not None and not mask.any():
        # A box too small to cut (a pixel or two) holds the object: it is the answer.
        x0, y0, x1, y1 = prompt.box
        mask[int(y0) : max(int(y0) + 1, int(np.ceil(y1))), int(x0) : max(int(x0) + 1, int(np.ceil(x1)))] = (
            True
        )
        score = 0.0
    return mask, score


class GrabCutSession(Session):
    """A session whose prompts GrabCut answers (the flow engine and the baselines): the frame, its
    neighbours for a box's motion evidence (read only for a box) and the frame's previous prompt."""

    options: PromptOptions

    def _segment(self, frame: int, entity: str, prompt: Prompt) -> Result:
        return answer(
            lambda: self.dataset.frame(self.sequence, frame),
            prompt,
            self.options,
            lambda: self._neighbours(frame),
            self._prompts.get(entity, {}).get(frame),
        )

    def _neighbours(self, frame: int) -> list[np.ndarray]:
        """The frames a box's motion is measured against; one that cannot be read (corrupt, missing,
        another size) is left out: it is evidence, not the frame prompted on."""
        out = []
        for f in neighbours(frame, self.num_frames):
            try:
                img = self.dataset.frame(self.sequence, f)
            except ValidationError:
                continue
            if img.shape[:2] == (self.height, self.width):
                out.append(img)
        return out


def _corrected(
    rgb: np.ndarray, prompt: Prompt, mask: np.ndarray, added: list[tuple[np.ndarray, int]], o: PromptOptions
) -> np.ndarray:
    """``mask`` edited by each click of ``added`` in turn (``correct.py``)."""
    costs = Costs(rgb)
    background = np.ones(costs.shape, bool)
    box = None if prompt.box is None else tuple(float(v) for v in prompt.box)
    if box is None:
        background[1:-1, 1:-1] = False  # the frame's border
    else:
        x0, y0, x1, y1 = (v * costs.scale for v in box)
        background[max(0, int(y0)) : int(np.ceil(y1)), max(0, int(x0)) : int(np.ceil(x1))] = False
    negs = prompt.points[prompt.labels == 0]
    if len(negs):
        background[costs.to_work(negs)] = True
    for (x, y), label in added:
        mask = correct(
            rgb,
            costs,
            mask,
            background,
            box,  # type: ignore[arg-type]
            (float(x), float(y)),
            bool(label),
            side=o.prompt_side,
            iters=o.grabcut_iters,
        )
    return mask


def _added_clicks(previous: Prompt | None, prompt: Prompt) -> list[tuple[np.ndarray, int]] | None:
    """The clicks ``prompt`` adds to ``previous`` (same box, its clicks first), or None if it is
    not ``previous`` with clicks added."""
    if previous is None or previous.mask is not None or previous.result is None:
        return None
    n = len(previous.points)
    same_box = (previous.box is None and prompt.box is None) or (
        previous.box is not None and prompt.box is not None and np.array_equal(previous.box, prompt.box)
    )
    if (
        not same_box
        or len(prompt.points) <= n
        or not np.array_equal(prompt.points[:n], previous.points)
        or not np.array_equal(prompt.labels[:n], previous.labels)
    ):
        return None
    return [(p, int(v)) for p, v in zip(prompt.points[n:], prompt.labels[n:], strict=True)]


def segment_prompt(
    rgb: np.ndarray,
    prompt: Prompt,
    *,
    side: int,
    iters: int,
    min_area: float,
    motion: np.ndarray | None = None,
    box_side: int | None = None,
) -> Result:
    """The mask (HxW bool) and score for a box and/or clicks on ``rgb``; ``motion`` (HxW float, or
    None) is each pixel's residual motion (``motion.residual``), evidence for a box. A box alone
    is cut on a crop ``box_side`` long (``side`` if None), anything else ``side``."""
    h, w = rgb.shape[:2]
    pos = prompt.points[prompt.labels == 1].astype(np.float64)
    neg = prompt.points[prompt.labels == 0].astype(np.float64)
    box = None if prompt.box is None else tuple(float(v) for v in prompt.box)
    if box is None and not len(pos):
        raise ValidationError("prompt: negative clicks alone select nothing; add a positive click or a box")
    labels, guess = None, None
    if len(pos) or len(neg):
        costs = Costs(rgb)
        evidence = np.zeros(costs.shape, bool)
        if len(pos):
            evidence[costs.to_work(pos)] = True
        else:
            # A box with negative clicks only: the object is what the box alone gives, away from
            # the clicks (its half farther from them); what the clicks touch is what is nearer to
            # them than to that.
            alone = Prompt(np.zeros((0, 2), np.float32), np.zeros(0, np.int32), box=prompt.box)
            first = segment_prompt(
                rgb, alone, side=side, iters=iters, min_area=min_area, motion=motion, box_side=box_side
            )[0]
            first = cv2.resize(first.view(np.uint8), costs.shape[::-1], interpolation=cv2.INTER_AREA) > 0
            if first.any():
                negs = np.zeros(costs.shape, bool)
                negs[costs.to_work(neg)] = True
                _, parts, _ = components(first)
                clicked = np.unique(parts[negs])
                evidence = first & ~np.isin(parts, clicked[clicked > 0])
                if not evidence.any():
                    # The clicks are on the box's only part: its half farther from them is the
                    # object's evidence.
                    dn = costs.distance(negs)
                    evidence = first & (dn >= np.median(dn[first]))
        if evidence.any():
            work, guess_work = _geodesic_labels(costs, box, evidence, neg)  # type: ignore[arg-type]
            labels = cv2.resize(work, (w, h), interpolation=cv2.INTER_NEAREST)
            if box is None:
                guess = cv2.resize(guess_work.view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
                guess[np.clip(pos[:, 1].astype(int), 0, h - 1), np.clip(pos[:, 0].astype(int), 0, w - 1)] = (
                    True
                )
                guess = _keep_clicked(guess, pos)
    if box is not None:
        bx0, by0, bx1, by1 = box
    else:
        assert guess is not None
        ys, xs = np.nonzero(guess)
        bx0, by0 = min(xs.min(), pos[:, 0].min()), min(ys.min(), pos[:, 1].min())
        bx1, by1 = max(xs.max() + 1, pos[:, 0].max() + 1), max(ys.max() + 1, pos[:, 1].max() + 1)
    if box is not None and not len(pos) and not len(neg) and box_side is not None:
        side = box_side
    # The crop: the box or the guess, and background around it for GrabCut to learn from.
    margin = _MARGIN * max(bx1 - bx0, by1 - by0) + 8
    cx0, cy0 = max(0, int(bx0 - margin)), max(0, int(by0 - margin))
    cx1, cy1 = min(w, int(np.ceil(bx1 + margin))), min(h, int(np.ceil(by1 + margin)))
    s = min(1.0, side / max(cx1 - cx0, cy1 - cy0))
    sw, sh = max(1, round((cx1 - cx0) * s)), max(1, round((cy1 - cy0) * s))
    small = np.ascontiguousarray(rgb[cy0:cy1, cx0:cx1])
    if s < 1:
        small = np.asarray(cv2.resize(small, (sw, sh), interpolation=cv2.INTER_AREA))
    sx, sy = sw / (cx1 - cx0), sh / (cy1 - cy0)

    def to_crop(a: np.ndarray) -> np.ndarray:
        return np.asarray(cv2.resize(a[cy0:cy1, cx0:cx1], (sw, sh), interpolation=cv2.INTER_NEAREST))

    mask = to_crop(labels) if labels is not None else np.full((sh, sw), cv2.GC_PR_FGD, np.uint8)
    inner = np.zeros((sh, sw), bool)
    if box is not None:
        ix0, iy0 = max(0, int((bx0 - cx0) * sx)), max(0, int((by0 - cy0) * sy))
        ix1, iy1 = min(sw, int(np.ceil((bx1 - cx0) * sx))), min(sh, int(np.ceil((by1 - cy0) * sy)))
        inner[iy0:iy1, ix0:ix1] = True
        mask[~inner] = cv2.GC_BGD
    spos, sneg = (pos - (cx0, cy0)) * (sx, sy), (neg - (cx0, cy0)) * (sx, sy)
    r = _disc_radius(max(sh, sw))
    for (x, y), value in [*((p, cv2.GC_FGD) for p in spos), *((p, cv2.GC_BGD) for p in sneg)]:
        cv2.circle(mask, (round(float(x)), round(float(y))), r, int(value), -1)
    start = mask.copy()
    fg = None
    if motion is not None and box is not None and not len(pos) and not len(neg):
        moving = np.asarray(cv2.resize(motion[cy0:cy1, cx0:cx1], (sw, sh), interpolation=cv2.INTER_AREA))
        fg = cut_with_motion(small, inner, moving, iters)
        if fg is not None and np.count_nonzero(fg) < _COLLAPSED * np.count_nonzero(inner):
            fg = None  # the motion misled the cut: colour alone
    if fg is None:
        fg = _cut(small, mask, iters)
        if (
            box is not None
            and not len(pos)
            and np.count_nonzero(fg & inner) < _COLLAPSED * np.count_nonzero(inner)
        ):
            fg = _recut(small, start, inner, iters)
    fg = _clean_prompt(fg, spos, sneg, min_area * sx * sy)
    score = _separation(small, fg)
    out = np.zeros((h, w), bool)
    if s < 1:
        up = cv2.resize(fg.view(np.uint8) * np.uint8(255), (cx1 - cx0, cy1 - cy0))  # bilinear: smooth edges
        out[cy0:cy1, cx0:cx1] = np.asarray(up) > 127
    else:
        out[cy0:cy1, cx0:cx1] = fg
    if box is not None:  # a box bounds the mask, whatever the upsampling smoothed over its edge
        keep = np.zeros((h, w), bool)
        keep[max(0, int(by0)) : int(np.ceil(by1)), max(0, int(bx0)) : int(np.ceil(bx1))] = True
        out &= keep
    # Clicks are promises: a positive click is in the mask and a negative one is not, whatever the
    # resampling did at the edges.
    for (x, y), value in [*((p, True) for p in pos), *((p, False) for p in neg)]:
        out[min(int(y), h - 1), min(int(x), w - 1)] = value
    return out, float(score) if out.any() else 0.0


def _recut(img: np.ndarray, start: np.ndarray, inner: np.ndarray, iters: int) -> np.ndarray:
    """A box whose cut collapsed: start again with the box's colours commoner outside as background,
    and if that collapses too, answer with those colour statistics alone."""
    ratio = _colour_ratio(img, inner)
    mask = start.copy()
    mask[inner & (ratio < 1) & (mask == cv2.GC_PR_FGD)] = cv2.GC_PR_BGD
    fg = _cut(img, mask, iters)
    if np.count_nonzero(fg & inner) >= _COLLAPSED * np.count_nonzero(inner):
        return fg
    likely = inner & (ratio >= 1) & (start != cv2.GC_BGD)
    return likely if likely.any() else inner & (start != cv2.GC_BGD)


def _keep_clicked(fg: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """The components of ``fg`` holding a positive click."""
    n, labels, _ = components(fg)
    h, w = fg.shape
    keep = np.zeros(n, bool)
    keep[labels[np.clip(pos[:, 1].astype(int), 0, h - 1), np.clip(pos[:, 0].astype(int), 0, w - 1)]] = True
    keep[0] = False
    return keep[labels]


def _clean_prompt(fg: np.ndarray, pos: np.ndarray, neg: np.ndarray, min_area: float) -> np.ndarray:
    """Keep the components under the positive clicks (or the main ones), fill holes, drop specks."""
    n, labels, areas = components(fg)
    if n <= 1:
        return fg
    h, w = fg.shape
    keep = np.zeros(n, bool)
    if len(pos):
        xs = np.clip(pos[:, 0].astype(int), 0, w - 1)
        ys = np.clip(pos[:, 1].astype(int), 0, h - 1)
        keep[labels[ys, xs]] = True
        keep[0] = False
    if not keep.any():
        # A box alone: the largest component and any other of comparable size (an object cut in
        # two by something in front of it).
        big = areas[1:].max()
        keep[1:] = areas[1:] >= max(0.25 * big, min_area)
    out = keep[labels]
    closed = np.zeros((h, w), bool)
    if len(neg):
        xs = np.clip(neg[:, 0].astype(int), 0, w - 1)
        ys = np.clip(neg[:, 1].astype(int), 0, h - 1)
        closed[ys, xs] = True
    return fill_holes(out, max(min_area, 0.05 * np.count_nonzero(out)), closed)
