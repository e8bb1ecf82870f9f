"""COCO run-length encoding through pycocotools.

Masks are stored exactly as ``pycocotools.mask.encode`` writes them: column-major,
compressed ``counts`` bytes, with the mask's height and width. Everything here
delegates the coding to pycocotools; the only thing done by hand is checking that
a compressed string's runs add up to its size, because pycocotools' decoder does
not check a string that is too short (it returns uninitialised memory).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pycocotools.mask as cocomask

from .errors import ValidationError

RLE = dict[str, Any]  # {"size": [h, w], "counts": bytes}


def encode(mask: np.ndarray) -> RLE:
    """Encode an HxW bool (or 0/1 integer) mask as compressed COCO RLE with bytes counts."""
    fortran = np.asfortranarray(mask, dtype=np.uint8)
    rle = cocomask.encode(fortran)
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": bytes(rle["counts"])}


def decode(rle: Mapping[str, Any]) -> np.ndarray:
    """Decode one compressed RLE to an HxW bool array (column-major, as pycocotools gives it)."""
    out = cocomask.decode({"size": list(rle["size"]), "counts": rle["counts"]})
    return out.view(bool)


def area(rle: Mapping[str, Any]) -> int:
    return int(cocomask.area({"size": list(rle["size"]), "counts": rle["counts"]}))


def bbox(rle: Mapping[str, Any]) -> tuple[float, float, float, float]:
    """Tight box (x, y, w, h) in pixels; (0, 0, 0, 0) for an empty mask."""
    x, y, w, h = cocomask.toBbox({"size": list(rle["size"]), "counts": rle["counts"]})
    return float(x), float(y), float(w), float(h)


def iou(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    """Intersection over union of two masks of the same size (1.0 when both are empty)."""
    ra = {"size": list(a["size"]), "counts": a["counts"]}
    rb = {"size": list(b["size"]), "counts": b["counts"]}
    if area(ra) == 0 and area(rb) == 0:
        return 1.0
    return float(cocomask.iou([ra], [rb], [0])[0][0])


def _compressed_total(counts: bytes) -> int:
    """Sum of the runs of a compressed counts string (the string format of the COCO API:
    6-bit groups offset by 48, 0x20 continues, sign in bit 0x10 of the last group, runs
    from the third on stored as differences to the run two before)."""
    runs: list[int] = []
    pos, n = 0, len(counts)
    while pos < n:
        value, shift, more = 0, 0, True
        while more:
            if pos >= n:
                raise ValidationError("masks.counts: truncated RLE string")
            c = counts[pos] - 48
            if c < 0 or c > 63:
                raise ValidationError(f"masks.counts: invalid RLE character {chr(counts[pos])!r}")
            value |= (c & 0x1F) << (5 * shift)
            more = bool(c & 0x20)
            pos += 1
            shift += 1
            if not more and (c & 0x10):
                value |= -1 << (5 * shift)
        if len(runs) > 2:
            value += runs[-2]
        if value < 0:
            raise ValidationError("masks.counts: RLE has a negative run length")
        runs.append(value)
    return sum(runs)


def normalize(rle: Mapping[str, Any], height: int | None = None, width: int | None = None) -> RLE:
    """Validate a user RLE dict and return it compressed, with bytes counts.

    Accepts compressed counts (bytes or str, as COCO JSON stores them) and uncompressed
    counts (a list of ints, as YouTube-VIS files often do). Raises ValidationError if the
    size is not ``[height, width]`` (when given) or the runs do not cover exactly h*w pixels.
    """
    if not isinstance(rle, Mapping) or "size" not in rle or "counts" not in rle:
        raise ValidationError("masks: an RLE must be a dict with 'size' and 'counts'")
    size = rle["size"]
    try:
        h, w = (int(size[0]), int(size[1]))
        if len(size) != 2:
            raise ValueError
    except (TypeError, ValueError, IndexError):
        raise ValidationError(f"masks.size: expected [height, width], got {size!r}") from None
    if h < 0 or w < 0:
        raise ValidationError(f"masks.size: negative size {size!r}")
    if height is not None and width is not None and (h, w) != (height, width):
        raise ValidationError(f"masks.size: RLE size [{h}, {w}] does not match the frame size [{height}, {width}]")
    counts = rle["counts"]
    if isinstance(counts, (list, tuple, np.ndarray)):
        runs = [int(c) for c in counts]
        if any(c < 0 for c in runs) or sum(runs) != h * w:
            raise ValidationError(f"masks.counts: uncompressed runs add up to {sum(runs)}, expected {h}*{w}={h * w}")
        out = cocomask.frPyObjects({"size": [h, w], "counts": runs}, h, w)
        return {"size": [h, w], "counts": bytes(out["counts"])}
    if isinstance(counts, str):
        counts = counts.encode("ascii", errors="replace")
    if not isinstance(counts, (bytes, bytearray, memoryview)):
        raise ValidationError(f"masks.counts: expected bytes, str or a list of ints, got {type(counts).__name__}")
    counts = bytes(counts)
    total = _compressed_total(counts)
    if total != h * w:
        raise ValidationError(f"masks.counts: RLE runs add up to {total} pixels, expected {h}*{w}={h * w}")
    return {"size": [h, w], "counts": counts}
