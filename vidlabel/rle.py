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
    if mask.dtype == np.bool_:
        mask = mask.view(np.uint8)
    elif mask.dtype != np.uint8:
        mask = mask.astype(np.uint8)
    if not mask.flags.f_contiguous:
        # column-major copy: OpenCV's transpose is ~3x faster than numpy's strided copy
        if mask.flags.c_contiguous and mask.size:
            import cv2  # imported here: `import vidlabel` stays light

            mask = cv2.transpose(mask).T
        else:
            mask = np.asfortranarray(mask)
    rle = cocomask.encode(mask)
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


def _compressed_runs(counts: bytes) -> np.ndarray:
    """The runs of a compressed counts string, to check them (the COCO API's string format:
    characters offset by 48 carry 5 bits each, 0x20 marks that more follow, 0x10 in the last
    one is the sign; from the third run on, values are differences to the run two before)."""
    c = np.frombuffer(counts, dtype=np.uint8).astype(np.int64) - 48
    if c.size == 0:
        return np.zeros(0, np.int64)
    if c.min() < 0 or c.max() > 63:
        bad = counts[int(np.flatnonzero((c < 0) | (c > 63))[0])]
        raise ValidationError(f"masks.counts: invalid RLE character {chr(bad)!r}")
    last = (c & 0x20) == 0
    if not last[-1]:
        raise ValidationError("masks.counts: truncated RLE string")
    ends = np.flatnonzero(last)
    starts = np.concatenate([[0], ends[:-1] + 1])
    shift = np.arange(c.size) - np.repeat(starts, ends - starts + 1)
    if shift.max() > 10:
        raise ValidationError("masks.counts: RLE value too long")
    values = np.add.reduceat((c & 0x1F) << (5 * shift), starts)
    negative = (c[ends] & 0x10) != 0
    values = values - np.where(negative, 1 << (5 * (shift[ends] + 1)), 0)
    runs = values.copy()
    # run[i] = value[i] + run[i-2] for i > 2: prefix sums over each parity, from index 1 and 2
    if runs.size > 3:
        runs[1::2] = np.cumsum(values[1::2])
        runs[2::2] = np.cumsum(values[2::2])
    return runs


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
        raise ValidationError(
            f"masks.size: RLE size [{h}, {w}] does not match the frame size [{height}, {width}]"
        )
    counts = rle["counts"]
    if isinstance(counts, (list, tuple, np.ndarray)):
        runs = [int(c) for c in counts]
        if any(c < 0 for c in runs) or sum(runs) != h * w:
            raise ValidationError(
                f"masks.counts: uncompressed runs add up to {sum(runs)}, expected {h}*{w}={h * w}"
            )
        out = cocomask.frPyObjects({"size": [h, w], "counts": runs}, h, w)
        return {"size": [h, w], "counts": bytes(out["counts"])}
    if isinstance(counts, str):
        counts = counts.encode("ascii", errors="replace")
    if not isinstance(counts, (bytes, bytearray, memoryview)):
        raise ValidationError(
            f"masks.counts: expected bytes, str or a list of ints, got {type(counts).__name__}"
        )
    counts = bytes(counts)
    decoded = _compressed_runs(counts)
    total = int(decoded.sum())
    if (decoded < 0).any():
        raise ValidationError("masks.counts: RLE has a negative run length")
    if total != h * w:
        raise ValidationError(f"masks.counts: RLE runs add up to {total} pixels, expected {h}*{w}={h * w}")
    return {"size": [h, w], "counts": counts}
