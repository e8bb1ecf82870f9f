"""COCO run-length encoding through pycocotools.

Masks are stored exactly as ``pycocotools.mask.encode`` writes them: column-major,
compressed ``counts`` bytes, with the mask's height and width. Everything here
delegates the coding to pycocotools; the only thing done by hand is checking that
compressed strings are well formed and their runs add up to their size (one string,
or a whole column at once), because pycocotools' decoder does not check a string
that is too short (it returns uninitialised memory).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pycocotools.mask as cocomask

from .errors import ValidationError
from .schema import size_problem

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


def ious(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """IoU of every mask of ``a`` with every mask of ``b`` (all of one size): a len(a) x len(b) array,
    computed on the runs (no decode)."""
    if not a or not b:
        return np.zeros((len(a), len(b)))
    ra = [{"size": list(r["size"]), "counts": r["counts"]} for r in a]
    rb = [{"size": list(r["size"]), "counts": r["counts"]} for r in b]
    return np.asarray(cocomask.iou(ra, rb, [0] * len(rb)), dtype=float).reshape(len(a), len(b))


# Problems a compressed counts string can have, by the code counts_problems gives them.
PROBLEMS = {
    1: "invalid RLE character (COCO RLE strings hold only '0' to 'o')",
    2: "truncated RLE string (its last value is unfinished)",
    3: "an RLE value longer than 6 characters",
    4: "RLE has a negative run length",
    5: "RLE runs do not add up to the mask's size",
}
# Six characters carry 30 bits, signed: every run and difference of a mask of up to 2**29 pixels
# (schema.MAX_PIXELS is 2**26). pycocotools computes a value in a C int shifted by 5 per character,
# which is only defined up to six; refusing longer values keeps what passes exactly what it decodes.
_MAX_CHARS = 6
# Bytes scanned at once: small enough that the scratch arrays are reused from the heap rather than
# mapped afresh (measured fastest), and that int64 sums over one slice cannot overflow (2**16
# values under 2**29 in size: partial sums under 2**45, and sums of 2**15 of those under 2**60).
_CHUNK = 1 << 16


def _owners(bounds: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Which string (``bounds`` are their start offsets, then the end) each position belongs to."""
    return np.unique(np.searchsorted(bounds, idx, side="right") - 1)


def _flag(code: np.ndarray, strings: np.ndarray, problem: int) -> None:
    code[strings[code[strings] == 0]] = problem  # a string keeps the first problem found


def _scan(data: np.ndarray, lo: np.ndarray, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check the compressed counts strings ``data[lo[i]:lo[i+1]]`` against their sizes ``pixels[i]``.

    Returns per string a problem code (0 when valid, else a key of PROBLEMS) and the sum of its
    runs, and the decoded values of all strings end to end (see ``runs``). The
    COCO API's format: characters offset by 48 carry 5 bits each, 0x20 marks that more follow,
    0x10 in the last one is the sign; from the fourth run on, a value is the difference to the
    run two before, so the runs are two interleaved cumulative sums of the values.
    """
    n = lo.size - 1
    code = np.zeros(n, np.int8)
    c = data - np.uint8(48)  # wraps below '0', so one comparison finds both ends
    if c.size and c.max() > 63:
        invalid = c > 63
        _flag(code, _owners(lo, np.flatnonzero(invalid)), 1)
        c[invalid] = 0  # scanned as terminal zeros so that the other strings are still checked
    last = c < 32  # no continuation bit
    nonempty = lo[1:] > lo[:-1]
    final = lo[1:][nonempty] - 1
    unfinished = ~last[final]
    if unfinished.any():
        _flag(code, np.flatnonzero(nonempty)[unfinished], 2)
        last[final] = True  # values never run on into the next string
    sign = c & 16
    sign += sign  # doubled: numpy's shifts of uint8 are several times slower than an add
    values = c.view(np.int8) - sign.view(np.int8)  # a value's last character: its top 5 bits, signed
    vstart = lo
    if not last.all():  # values of several characters (a few per cent): Horner over them
        more = np.flatnonzero(~last)
        ends = more[np.r_[more[1:] != more[:-1] + 1, True]] + 1
        length = ends - more[np.r_[True, more[1:] != more[:-1] + 1]] + 1
        top = values[ends].astype(np.int32)
        sel = np.arange(ends.size)
        k = 1
        while sel.size:
            if k == _MAX_CHARS:
                _flag(code, _owners(lo, ends[sel]), 3)
                top[sel] = 0
                break
            top[sel] = top[sel] * 32 + (c[ends[sel] - k] & 31)
            k += 1
            sel = sel[length[sel] > k]
        values = values[last].astype(np.int32)  # one entry per value, at its last character
        values[ends - np.searchsorted(more, ends)] = top
        vstart = lo - np.searchsorted(more, lo)
    a, b = vstart[:-1], vstart[1:]
    has = b > a
    first = values[a[has]]  # the first run is its value
    _flag(code, np.flatnonzero(has)[first < 0], 4)
    total = np.zeros(n, np.int64)
    total[has] = first
    # chains[q, i]: the sum of the first i values of parity q, then sentinels equal to the full
    # sums, for chains that are empty at the end of the slice (int64 input: numpy's cumsum casts
    # smaller integers slowly)
    wide = values.astype(np.int64)
    chains = np.zeros((2, values.size // 2 + 3), np.int64)
    for q in (0, 1):
        m = (values.size - q + 1) // 2
        np.cumsum(wide[q::2], out=chains[q, 1 : m + 1])
        chains[q, m + 1 :] = chains[q, m]
    for q in (0, 1):  # the runs from j = 1 (or 2) on whose global value index has parity q
        chain = chains[q]
        x = np.where(((a + 1) & 1) == q, a + 1, a + 2)  # each string's first index of the chain
        p0 = (x - q + 1) // 2  # positions in values[q::2]
        p1 = np.maximum((b - q + 1) // 2, p0)
        base = chain[p0]
        upto = chain[1:]  # upto[i] - base: the run at position i of the string's chain
        if b[-1] > _CHUNK and np.abs(chain).max() > 2 * pixels.max():  # one long string: no overflow
            _flag(code, np.arange(n), 4)
            continue
        idx = np.empty(2 * n, np.int64)
        idx[0::2], idx[1::2] = p0, p1
        some = p1 > p0
        low = np.minimum.reduceat(upto, idx)[0::2]
        _flag(code, np.flatnonzero(some & (low < base)), 4)
        summed = np.add.reduceat(upto, idx)[0::2]
        total += np.where(some, summed - (p1 - p0) * base, 0)
    _flag(code, np.flatnonzero(total != pixels), 5)
    return code, total, values


def counts_problems(counts: pa.Array | pa.ChunkedArray, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check a binary column of compressed counts against each mask's height*width, vectorised.

    Returns per row a problem code (0: valid; see PROBLEMS) and the sum of its runs. Nulls are
    not looked at (code 0): the caller refuses them first.
    """
    chunks = counts.chunks if isinstance(counts, pa.ChunkedArray) else [counts]
    pixels = np.asarray(pixels, np.int64)
    codes, totals, done = [], [], 0
    for chunk in chunks:
        if not pa.types.is_binary(chunk.type):
            raise TypeError(f"counts must be a binary column, got {chunk.type}")
        k = len(chunk)
        offsets = np.frombuffer(chunk.buffers()[1], np.int32, k + 1, chunk.offset * 4).astype(np.int64)
        data_buf = chunk.buffers()[2]
        data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
        i = 0
        while i < k:  # slices of whole strings of about _CHUNK bytes
            j = int(np.searchsorted(offsets, offsets[i] + _CHUNK, side="right")) - 1
            j = min(max(j, i + 1), k)
            lo = offsets[i : j + 1]
            code, total, _ = _scan(data[lo[0] : lo[-1]], lo - lo[0], pixels[done + i : done + j])
            codes.append(code)
            totals.append(total)
            i = j
        done += k
    if not codes:
        return np.zeros(0, np.int8), np.zeros(0, np.int64)
    return np.concatenate(codes), np.concatenate(totals)


def _compressed_runs(counts: bytes, height: int, width: int) -> None:
    """Refuse a compressed counts string that is not a valid height x width mask."""
    data = np.frombuffer(counts, np.uint8)
    code, total, _ = _scan(data, np.array([0, data.size]), np.array([height * width], np.int64))
    if code[0] == 5:
        raise ValidationError(
            f"masks.counts: RLE runs add up to {int(total[0])} pixels, "
            f"expected {height}*{width}={height * width}"
        )
    if code[0]:
        raise ValidationError(f"masks.counts: {PROBLEMS[int(code[0])]}")


def runs(counts: bytes, height: int, width: int) -> np.ndarray:
    """The run lengths of a valid compressed counts string (as pycocotools' rleFrString reads them)."""
    _compressed_runs(counts, height, width)
    v = _scan(np.frombuffer(counts, np.uint8), np.array([0, len(counts)]), np.array([height * width]))[2]
    out = v.astype(np.int64)
    out[1::2] = np.cumsum(v[1::2])
    out[2::2] = np.cumsum(v[2::2])
    return out


def normalize(rle: Mapping[str, Any], height: int | None = None, width: int | None = None) -> RLE:
    """Validate a user RLE dict and return it compressed, with bytes counts.

    Accepts compressed counts (bytes or str, as COCO JSON stores them) and uncompressed
    counts (a list of ints, as YouTube-VIS files often do). Raises ValidationError if the
    size is not ``[height, width]`` (when given) or over schema.MAX_SIDE / MAX_PIXELS, or the
    runs do not cover exactly h*w pixels.
    """
    if not isinstance(rle, Mapping) or "size" not in rle or "counts" not in rle:
        raise ValidationError("masks: an RLE must be a dict with 'size' and 'counts'")
    size = rle["size"]
    try:
        if isinstance(size, (str, bytes)) or len(size) != 2:
            raise ValueError
        if any(isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()) for v in size):
            raise ValueError
        h, w = (int(size[0]), int(size[1]))
    except (TypeError, ValueError, IndexError):
        raise ValidationError(f"masks.size: expected [height, width], got {size!r}") from None
    if h < 0 or w < 0:
        raise ValidationError(f"masks.size: negative size {size!r}")
    if height is not None and width is not None and (h, w) != (height, width):
        raise ValidationError(
            f"masks.size: RLE size [{h}, {w}] does not match the frame size [{height}, {width}]"
        )
    problem = size_problem(h, w)
    if problem:
        raise ValidationError(f"masks.size: {problem}")
    counts = rle["counts"]
    if isinstance(counts, (list, tuple, np.ndarray)):
        try:
            runs = [int(c) for c in counts]
        except (TypeError, ValueError):
            raise ValidationError("masks.counts: uncompressed runs must be integers") from None
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
    _compressed_runs(counts, h, w)
    return {"size": [h, w], "counts": counts}
