"""Frames and masks at the review's reduced scale, and the optical flow between two frames.

The signals are measured at a whole fraction of the frame (long side at most ``MAX_SIDE``: 427x240
for 854x480), as the flow engine tracks. JPEG frames are decoded straight to that scale in grey
(libjpeg's DCT scaling: a fraction of a full decode), other sources are decoded and shrunk.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from .. import rle as rlemod
from ..frames import _ImageBytesSource

__all__ = ["MAX_SIDE", "Scale"]

MAX_SIDE = 480
_REDUCED = {1: cv2.IMREAD_GRAYSCALE, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4}
# DIS at its fastest preset: at this scale it follows what the review needs (where a neighbour's
# mask lands), and the review reads every frame pair of a video.
_PRESET = cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST


class Scale:
    """A ``width`` x ``height`` sequence at the review scale: ``k`` the factor, ``size`` (w, h)."""

    def __init__(self, width: int, height: int) -> None:
        k = 1
        while max(width, height) > MAX_SIDE * k and k < 4:
            k *= 2
        self.k = k
        self.width, self.height = width, height
        self.size = (-(-width // k), -(-height // k))
        self._dis: Any = cv2.DISOpticalFlow.create(_PRESET)
        w, h = self.size
        self.gx, self.gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))

    def grey(self, source: Any, f: int) -> np.ndarray:
        """Frame ``f`` of ``source`` in grey at the review scale (uint8)."""
        img = None
        if isinstance(source, _ImageBytesSource) and source._cache.get(source._key(f)) is None:
            data = np.frombuffer(source._bytes(f), np.uint8)
            img = cv2.imdecode(data, _REDUCED[self.k])
        if img is None:
            img = cv2.cvtColor(np.ascontiguousarray(source.read(f, cache=False)), cv2.COLOR_RGB2GRAY)
        if img.shape[::-1] != self.size:
            img = cv2.resize(img, self.size, interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(img)

    def mask(self, rle: rlemod.RLE) -> np.ndarray:
        """A mask at the review scale, soft (float32 share of each cell covered)."""
        full = rlemod.decode(rle)
        # pycocotools decodes column-major: its transpose is C-ordered, which OpenCV takes without a copy.
        small = full.T.view(np.uint8).astype(np.float32)
        if self.k > 1:
            small = cv2.resize(small, self.size[::-1], interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(small.T)

    def flow(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Dense flow from grey frame ``a`` to ``b``: where each pixel of ``a`` is in ``b`` (HxWx2)."""
        return np.asarray(self._dis.calc(a, b, None))
