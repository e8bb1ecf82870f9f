"""``review(compare=...)``: a second set of masks (another dataset, or an engine's output) to compare with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import rle as rlemod
from ..errors import ValidationError

if TYPE_CHECKING:
    from ..dataset import Dataset

__all__ = ["Other", "gap_disagreement", "ious", "resolve"]


class Other:
    """The second set of masks: ``rle(entity, frame)`` and which entities it has masks for."""

    def __init__(self, masks: dict[str, dict[int, rlemod.RLE]]) -> None:
        self.masks = masks

    def rle(self, eid: str, f: int) -> rlemod.RLE | None:
        return self.masks.get(eid, {}).get(f)


def resolve(ds: Dataset, seq_id: str, compare: Any) -> Other:
    """Read ``compare`` once (from one version of it): a Dataset holding the sequence (by id, else by
    name; entities matched by id, else by name), or ``{frame: {entity: mask or (mask, score)}}``."""
    from ..dataset import Dataset

    row = ds.snapshot().get("sequences", (seq_id,))
    h, w = int(row["height"]), int(row["width"])
    n = int(row["num_frames"])
    if isinstance(compare, Dataset):
        return _from_dataset(ds, seq_id, compare, (h, w))
    if not isinstance(compare, Mapping):
        raise ValidationError(
            "review: compare must be a Dataset or {frame: {entity: mask}}, got " + type(compare).__name__
        )
    out: dict[str, dict[int, rlemod.RLE]] = {}
    for f, per in compare.items():
        if isinstance(f, (bool, np.bool_)) or not isinstance(f, (int, np.integer)) or not 0 <= int(f) < n:
            raise ValidationError(f"review: compare has frame {f!r}, not a frame of sequence {seq_id!r}")
        if not isinstance(per, Mapping):
            raise ValidationError(f"review: compare[{f}] must be {{entity: mask}}, got {type(per).__name__}")
        for e, m in per.items():
            eid = ds.resolve_entity(seq_id, e)
            if isinstance(m, tuple):  # (mask, score), as engines give
                if len(m) != 2:
                    raise ValidationError(
                        f"review: compare[{f}][{e!r}]: a tuple must be (mask, score), got {len(m)} items"
                    )
                m = m[0]
            if isinstance(m, Mapping):
                enc = rlemod.normalize(m, h, w)
            elif isinstance(m, np.ndarray) and m.shape == (h, w):
                enc = rlemod.encode(m.astype(bool))
            else:
                raise ValidationError(
                    f"review: compare[{f}][{e!r}] must be a {h}x{w} mask or an RLE, got {type(m).__name__}"
                    + (f" of shape {m.shape}" if isinstance(m, np.ndarray) else "")
                )
            if rlemod.area(enc):
                out.setdefault(eid, {})[int(f)] = enc
            else:
                out.setdefault(eid, {})
    return Other(out)


def _from_dataset(ds: Dataset, seq_id: str, other: Dataset, size: tuple[int, int]) -> Other:
    with other.snapshot() as snap:
        name = ds.snapshot().get("sequences", (seq_id,))["name"]
        theirs = seq_id if snap.contains("sequences", (seq_id,)) else None
        if theirs is None:
            named = [k[0] for k in snap["sequences"] if snap.value("sequences", k, "name") == name]
            if len(named) != 1:
                raise ValidationError(f"review: compare has no sequence {seq_id!r} (nor one named {name!r})")
            theirs = named[0]
        row = snap.get("sequences", (theirs,))
        if (int(row["height"]), int(row["width"])) != size:
            raise ValidationError(
                f"review: compare's sequence {theirs!r} is {row['width']}x{row['height']}, "
                f"not {size[1]}x{size[0]}"
            )
        out: dict[str, dict[int, rlemod.RLE]] = {}
        store = snap["masks"]
        for (eid,) in ds.snapshot()["entities"].lookup("by_sequence", (seq_id,)):
            try:
                their = other.resolve_entity(theirs, eid)
            except ValidationError:
                ename = ds.snapshot().value("entities", (eid,), "name")
                if ename is None:
                    continue
                try:
                    their = other.resolve_entity(theirs, ename)
                except ValidationError:
                    continue
            keys = store.lookup("by_entity", (theirs, their))
            out[eid] = {k[1]: {"size": [size[0], size[1]], "counts": store.value(k, "counts")} for k in keys}
    return Other(out)


def ious(ds: Dataset, seq_id: str, eid: str, frames: np.ndarray, other: Other) -> np.ndarray:
    """IoU of each of the entity's masks on ``frames`` with the other set's (0 where it has none;
    NaN throughout where the other set knows nothing of the entity)."""
    out = np.full(len(frames), np.nan)
    if eid not in other.masks:
        return out
    store = ds.snapshot()["masks"]
    row = ds.snapshot().get("sequences", (seq_id,))
    size = [int(row["height"]), int(row["width"])]
    for i, f in enumerate(frames):
        theirs = other.rle(eid, int(f))
        if theirs is None:
            out[i] = 0.0
            continue
        ours = {"size": size, "counts": store.value((seq_id, int(f), eid), "counts")}
        out[i] = rlemod.iou(ours, theirs)
    return out


def gap_disagreement(other: Other, eid: str, f: int) -> float:
    """Where the entity has no mask: 1 if the other set has one, 0 if neither has, NaN if it knows
    nothing of the entity."""
    if eid not in other.masks:
        return float("nan")
    return float(other.rle(eid, f) is not None)
