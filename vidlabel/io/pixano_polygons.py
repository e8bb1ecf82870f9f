"""Pixano mask polygons into COCO RLE, checked before pycocotools sees them.

Pixano keeps polygons as frame fractions (x / width, y / height: its importer scales them by the
frame size), so every value lies in [0, 1]. pycocotools trusts its input: a coordinate of 1e7
takes it a minute, larger ones overflow its buffers (the interpreter crashes), and NaN is dropped
silently. So a value must be finite and in [0, 1] (a rounding just past an edge is clipped), and a
mask may hold only so many points.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ValidationError

__all__ = ["MAX_POINTS", "polygons_rle"]

MAX_POINTS = 1 << 16  # (x, y) points of one mask: far more than any outline drawn or traced
_SLACK = 1e-3  # how far past the frame's edge a fraction may round


def _points(polygon: Any, what: str) -> np.ndarray:
    ok = isinstance(polygon, list) and len(polygon) >= 6 and len(polygon) % 2 == 0
    if not ok or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in polygon):
        raise ValidationError(f"{what}: a polygon must be a list of at least 3 (x, y) points")
    try:
        values = np.asarray(polygon, dtype=np.float64)
    except OverflowError:
        values = np.array([np.inf])
    if not np.isfinite(values).all():
        raise ValidationError(f"{what}: a polygon holds a value that is not a finite number")
    if values.min() < -_SLACK or values.max() > 1 + _SLACK:
        raise ValidationError(
            f"{what}: polygon values must be frame fractions in [0, 1] (Pixano's), "
            f"got values in [{values.min():.6g}, {values.max():.6g}]"
        )
    return np.clip(values, 0.0, 1.0)


def polygons_rle(polygons: Any, height: int, width: int, what: str) -> dict[str, Any]:
    """One mask ({size, counts}) from polygons in frame fractions, rasterised by pycocotools as COCO
    polygons are."""
    from pycocotools import mask as cocomask

    if not isinstance(polygons, list) or not polygons:
        raise ValidationError(f"{what}: polygons must be a non-empty list of polygons")
    if sum(len(p) // 2 if isinstance(p, list) else 0 for p in polygons) > MAX_POINTS:
        raise ValidationError(f"{what}: more than {MAX_POINTS} polygon points in one mask")
    scale = np.array([width, height], dtype=np.float64)
    scaled = [(_points(p, what).reshape(-1, 2) * scale).ravel().tolist() for p in polygons]
    rle = cocomask.merge(cocomask.frPyObjects(scaled, height, width))
    return {"size": [height, width], "counts": bytes(rle["counts"])}
