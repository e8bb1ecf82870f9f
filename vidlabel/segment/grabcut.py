"""Interactive segmentation of one frame with GrabCut: a box and/or clicks in, a mask out.

GrabCut (iterated graph cuts on colour mixture models) runs on a crop around the box or the
clicks, downscaled to at most ``side`` pixels, so a prompt costs tens of milliseconds at 480p
whatever the object's size. The box is the probable object, outside it is background; positive
clicks pin small discs to the object, negative ones pin discs (and the like-coloured region
around them) to the background. With clicks alone, a region around the positive clicks is the
first guess, widened while the object runs into the crop's edge. The component(s) holding the
positive clicks are kept, and small holes filled. Used by the ``flow`` engine for prompts.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import ValidationError
from ..morphology import components, fill_holes
from .base import Prompt, Result

_DISC = 0.012  # radius of a click's pinned disc, as a share of the crop's long side
_LIKE = 24  # colour difference (per channel) within which a negative click's region spreads
_CLICK_REACH = 0.08  # with clicks alone, the object is first guessed this share of the short side around them


def _disc_radius(side: int) -> int:
    return max(2, round(_DISC * side))


def _grabcut(
    img: np.ndarray,
    rect: tuple[int, int, int, int] | None,
    reach: float,
    pos: np.ndarray,
    neg: np.ndarray,
    iters: int,
) -> np.ndarray:
    """GrabCut on ``img`` (the downscaled crop): a bool mask.

    ``rect`` (x0, y0, x1, y1) is a box: outside it is background for sure, inside probably the
    object. Without one, discs of radius ``reach`` around the positive clicks are probably the
    object and the rest probably background, so the object may grow beyond them where its
    colours go.
    """
    h, w = img.shape[:2]
    if rect is not None:
        mask = np.full((h, w), cv2.GC_BGD, np.uint8)
        x0, y0, x1, y1 = rect
        mask[y0:y1, x0:x1] = cv2.GC_PR_FGD
    else:
        mask = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
        for x, y in pos:
            cv2.circle(mask, (round(float(x)), round(float(y))), max(2, round(reach)), cv2.GC_PR_FGD, -1)
    for x, y in neg:
        # A negative click means the region it is on, not a dot: what is connected to it in like
        # colours is probably background, so the colour model learns it.
        seed = (min(w - 1, max(0, round(float(x)))), min(h - 1, max(0, round(float(y)))))
        region = np.zeros((h + 2, w + 2), np.uint8)
        flags = 4 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
        cv2.floodFill(img, region, seed, (0, 0, 0), (_LIKE,) * 3, (_LIKE,) * 3, flags)
        mask[(region[1:-1, 1:-1] > 0) & (mask == cv2.GC_PR_FGD)] = cv2.GC_PR_BGD
    r = _disc_radius(max(h, w))
    for (x, y), value in [*((p, cv2.GC_FGD) for p in pos), *((p, cv2.GC_BGD) for p in neg)]:
        cv2.circle(mask, (round(float(x)), round(float(y))), r, int(value), -1)
    kinds = np.bincount(mask.ravel(), minlength=4)
    if not kinds[cv2.GC_BGD] + kinds[cv2.GC_PR_BGD]:
        # A box over the whole crop (the whole frame) leaves no background to learn from: its
        # rim becomes probable background.
        rim = np.zeros((h, w), bool)
        rim[[0, -1], :] = rim[:, [0, -1]] = True
        mask[rim & (mask != cv2.GC_FGD)] = cv2.GC_PR_BGD
    if not (mask == cv2.GC_FGD).any() and not (mask == cv2.GC_PR_FGD).any():
        return np.zeros((h, w), bool)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(img, mask, (0, 0, 0, 0), bgd, fgd, iters, cv2.GC_INIT_WITH_MASK)
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)


def _separation(img: np.ndarray, fg: np.ndarray) -> float:
    """How far apart the colours of object and surroundings are (Bhattacharyya distance, 0..1)."""
    if not fg.any() or fg.all():
        return 0.0
    m = fg.view(np.uint8)
    bins, ranges = [8, 8, 8], [0, 256, 0, 256, 0, 256]
    hf = cv2.calcHist([img], [0, 1, 2], m, bins, ranges)
    hb = cv2.calcHist([img], [0, 1, 2], 1 - m, bins, ranges)
    return float(np.clip(cv2.compareHist(hf, hb, cv2.HISTCMP_BHATTACHARYYA), 0.0, 1.0))


def segment_prompt(rgb: np.ndarray, prompt: Prompt, *, side: int, iters: int, min_area: float) -> Result:
    """The mask (HxW bool) and score that GrabCut gives for a box and/or clicks on ``rgb``."""
    h, w = rgb.shape[:2]
    pos = prompt.points[prompt.labels == 1].astype(np.float64)
    neg = prompt.points[prompt.labels == 0].astype(np.float64)
    reach = _CLICK_REACH * min(h, w)
    if prompt.box is not None:
        bx0, by0, bx1, by1 = (float(v) for v in prompt.box)
    elif len(pos):
        bx0, by0 = pos.min(axis=0) - reach
        bx1, by1 = pos.max(axis=0) + reach
    else:
        raise ValidationError("prompt: negative clicks alone select nothing; add a positive click or a box")
    for attempt in range(2):
        # The crop: the region plus background for GrabCut to learn from; with clicks alone, room
        # for an object bigger than the first guess to grow into.
        bw, bh = bx1 - bx0, by1 - by0
        margin = 0.25 * max(bw, bh) + 8 if prompt.box is not None else (3 + 2 * attempt) * reach
        cx0, cy0 = max(0, int(bx0 - margin)), max(0, int(by0 - margin))
        cx1, cy1 = min(w, int(np.ceil(bx1 + margin))), min(h, int(np.ceil(by1 + margin)))
        s = min(1.0, side / max(cx1 - cx0, cy1 - cy0))
        sw, sh = max(1, round((cx1 - cx0) * s)), max(1, round((cy1 - cy0) * s))
        crop = rgb[cy0:cy1, cx0:cx1]
        small = np.array(crop)  # its own writable copy: OpenCV's flood fill wants one
        if s < 1:
            small = np.asarray(cv2.resize(small, (sw, sh), interpolation=cv2.INTER_AREA))
        sx, sy = sw / (cx1 - cx0), sh / (cy1 - cy0)

        spos, sneg = (pos - (cx0, cy0)) * (sx, sy), (neg - (cx0, cy0)) * (sx, sy)
        if prompt.box is not None:
            region = (
                max(0, int((bx0 - cx0) * sx)),
                max(0, int((by0 - cy0) * sy)),
                min(sw, int(np.ceil((bx1 - cx0) * sx))),
                min(sh, int(np.ceil((by1 - cy0) * sy))),
            )
            fg = _grabcut(small, region, 0.0, spos, sneg, iters)
        else:
            fg = _grabcut(small, None, reach * sx, spos, sneg, iters)
        fg = _clean_prompt(fg, spos, sneg, min_area * sx * sy)
        if prompt.box is not None or attempt == 1:
            break
        # Clicks alone: an object that runs into a crop edge inside the frame is bigger than the
        # crop; widen it and cut again.
        touches = (
            (cx0 > 0 and fg[:, 0].any())
            or (cy0 > 0 and fg[0].any())
            or (cx1 < w and fg[:, -1].any())
            or (cy1 < h and fg[-1].any())
        )
        if not touches:
            break
    score = _separation(small, fg)
    out = np.zeros((h, w), bool)
    if s < 1:
        up = cv2.resize(fg.view(np.uint8) * np.uint8(255), (cx1 - cx0, cy1 - cy0))  # bilinear: smooth edges
        out[cy0:cy1, cx0:cx1] = np.asarray(up) > 127
    else:
        out[cy0:cy1, cx0:cx1] = fg
    # Clicks are promises: a positive click is in the mask and a negative one is not, whatever the
    # resampling did at the edges.
    for (x, y), value in [*((p, True) for p in pos), *((p, False) for p in neg)]:
        out[min(int(y), h - 1), min(int(x), w - 1)] = value
    return out, score if out.any() else 0.0


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
