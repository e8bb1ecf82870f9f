"""``review(engine=...)``: the engine itself checks each mask from its neighbours (a forward-backward check).

For a mask on frame f, the engine is started from the entity's mask on frame f - 1 and run one
frame forward, and started from its mask on f + 1 and run one frame backward; each prediction's
IoU with the mask on f is measured, and the larger (the better agreement) kept: a mask that the
engine reaches from neither side is probably wrong. It costs two short engine passes per mask, so
it is computed only for the rows asked for, and only when asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import rle as rlemod
from ..errors import ValidationError

if TYPE_CHECKING:
    from ..dataset import Dataset
    from .signals import Track

__all__ = ["check_engine", "ious"]


def check_engine(engine: Any) -> None:
    from ..segment import Engine

    if not isinstance(engine, Engine):
        raise ValidationError(
            f"review: engine must be an engine (vl.segment.load('flow'), ...), got {type(engine).__name__}"
        )


def ious(ds: Dataset, seq_id: str, eid: str, track: Track, engine: Any, todo: np.ndarray) -> np.ndarray:
    """Per mask of ``track`` (where ``todo``), the better IoU of the engine's predictions from the
    previous and the next frame's masks; NaN where neither neighbour has a mask."""
    out = np.full(len(track.frames), np.nan)
    have = {int(f) for f in track.frames}
    if not todo.any():
        return out
    row = ds.snapshot().get("sequences", (seq_id,))
    size = [int(row["height"]), int(row["width"])]
    store = ds.snapshot()["masks"]

    def mask(f: int) -> np.ndarray:
        return rlemod.decode({"size": size, "counts": store.value((seq_id, f, eid), "counts")})

    session = engine.session(ds, seq_id)
    try:
        for i in np.flatnonzero(todo):
            f = int(track.frames[i])
            ours = rlemod.encode(mask(f))
            best = np.nan
            for start, direction in ((f - 1, "forward"), (f + 1, "backward")):
                if start not in have:
                    continue
                session.reset()
                session.prompt(start, eid, mask=mask(start), write=False)
                for g, results in session.propagate(start, direction, end=f, entities=[eid]):
                    if g == f and eid in results:
                        iou = rlemod.iou(ours, rlemod.encode(np.asarray(results[eid][0], bool)))
                        best = iou if np.isnan(best) else max(best, iou)
            out[i] = best
    finally:
        session.close()
    return out
