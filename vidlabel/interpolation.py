"""Filling frames between two keyframes: linear boxes and shape-interpolated masks.

Masks are interpolated through signed distance fields. Blending two SDFs in place
shrinks a moving object half-way (the two shapes overlap less than either), so each
keyframe's field is first moved so the two centroids meet at the interpolated
centroid; the blend then only morphs the shape. A translating shape comes out as
itself, translated, to within the rasterisation of the sub-pixel shift.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Box = tuple[float, float, float, float]


def lerp_box(a: Sequence[float], b: Sequence[float], t: float) -> Box:
    """The box a fraction ``t`` of the way from ``a`` to ``b`` (both x, y, w, h)."""
    x, y, w, h = ((1.0 - t) * float(p) + t * float(q) for p, q in zip(a, b))
    return (x, y, w, h)


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """Distance to the mask's edge in pixels, negative inside (float32, same shape)."""
    import cv2  # loaded on first use: `import vidlabel` stays light

    m = np.ascontiguousarray(mask, dtype=np.uint8)
    inside = cv2.distanceTransform(m, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    outside = cv2.distanceTransform(1 - m, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    # Pixel centres next to the edge sit at +-1; the edge itself is the zero crossing between them.
    return (outside - inside).astype(np.float32)


def centroid(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    return float(xs.mean()), float(ys.mean())


def _shift(field: np.ndarray, dx: float, dy: float) -> np.ndarray:
    import cv2

    h, w = field.shape
    m = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]], np.float32)
    return cv2.warpAffine(field, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class MaskInterpolator:
    """Masks between two keyframe masks; the distance fields are computed once for the whole gap."""

    def __init__(self, first: np.ndarray, last: np.ndarray) -> None:
        if first.shape != last.shape:
            raise ValueError(f"mask shapes differ: {first.shape} and {last.shape}")
        if not first.any() or not last.any():
            raise ValueError("both keyframe masks must be non-empty")
        self._sdf = (signed_distance(first), signed_distance(last))
        self._c = (centroid(first), centroid(last))

    def at(self, t: float) -> np.ndarray:
        """The mask a fraction ``t`` (0..1) of the way from the first keyframe to the last."""
        (x0, y0), (x1, y1) = self._c
        cx, cy = (1 - t) * x0 + t * x1, (1 - t) * y0 + t * y1
        a = _shift(self._sdf[0], cx - x0, cy - y0)
        b = _shift(self._sdf[1], cx - x1, cy - y1)
        return ((1 - t) * a + t * b) < 0


def interpolate_mask(first: np.ndarray, last: np.ndarray, t: float) -> np.ndarray:
    return MaskInterpolator(first, last).at(t)
