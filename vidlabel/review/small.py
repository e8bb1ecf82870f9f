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
from ..frames import ImageBytesSource

__all__ = ["MAX_SIDE", "Scale"]

MAX_SIDE = 240
_REDUCED = {1: cv2.IMREAD_GRAYSCALE, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4}
# DIS at its fastest preset (the review reads every pair of frames of a video), which computes its
# finest flow at 1/4 of the image it is given (its "finest scale" 2): at 427x240 a 107x60 grid, as
# fine as a neighbour's mask needs to land. A smaller frame keeps a grid of ``FLOW_SIDE`` at
# least (on a 160x120 frame the grid is the frame's): a coarse grid smears the outline of a small
# object (a 30 px square moving over a pan disagreed with its warped neighbours by 1 - IoU = 0.16
# on a 40x30 grid, by 0.03 on 160x120).
_PRESET = cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST
FLOW_SIDE = 100


class Scale:
    """A ``width`` x ``height`` sequence at the review scale: ``k`` the factor, ``size`` (w, h)."""

    def __init__(self, width: int, height: int) -> None:
        k = 1
        while max(width, height) > MAX_SIDE * k and k < 4:
            k *= 2
        self.k = k
        self.width, self.height = width, height
        # Whole blocks of k x k pixels (the last k - 1 columns or rows may be left out): OpenCV's
        # area resize is several times faster on a whole factor.
        self.size = (max(1, width // k), max(1, height // k))
        self._dis: Any = cv2.DISOpticalFlow.create(_PRESET)
        finest = 2
        while finest > 0 and max(self.size) / 2**finest < FLOW_SIDE:
            finest -= 1
        self._dis.setFinestScale(finest)
        w, h = self.size
        self.gx, self.gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))

    def grey(self, source: Any, f: int) -> np.ndarray:
        """Frame ``f`` of ``source`` in grey at the review scale (uint8)."""
        img = None
        if isinstance(source, ImageBytesSource):
            data = np.frombuffer(source.file_bytes(f), np.uint8)
            img = cv2.imdecode(data, _REDUCED[self.k])
        if img is None:
            img = cv2.cvtColor(np.ascontiguousarray(source.read(f, cache=False)), cv2.COLOR_RGB2GRAY)
        w, h = self.size
        if img.shape[0] >= h * self.k and img.shape[1] >= w * self.k and self.k > 1:  # not reduced on decode
            img = cv2.resize(img[: h * self.k, : w * self.k], self.size, interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(img[:h, :w])

    def mask(self, rle: rlemod.RLE) -> np.ndarray:
        """A mask at the review scale, soft (float32 share of each cell covered)."""
        full = rlemod.decode(rle)
        if self.k == 1:
            return np.ascontiguousarray(full, np.float32)
        k = self.k
        w, h = self.size
        out = np.zeros((h, w), np.float32)
        x, y, bw, bh = rlemod.bbox(rle)
        # Only the mask's box, widened to whole blocks, is shrunk.
        x0, y0 = int(x) // k, int(y) // k
        x1, y1 = min(w, -(-int(x + bw) // k)), min(h, -(-int(y + bh) // k))
        if x1 <= x0 or y1 <= y0:
            return out
        # pycocotools decodes column-major: its transpose is C-ordered, which OpenCV takes as it is.
        # As 0/255 bytes the area average keeps the share covered (in steps of 1/255).
        cols = full.T.view(np.uint8)[x0 * k : x1 * k, y0 * k : y1 * k] * np.uint8(255)
        small = cv2.resize(cols, (y1 - y0, x1 - x0), interpolation=cv2.INTER_AREA)
        out[y0:y1, x0:x1] = small.T * np.float32(1 / 255)
        return out

    def flow(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Dense flow from grey frame ``a`` to ``b``: where each pixel of ``a`` is in ``b`` (HxWx2)."""
        return np.asarray(self._dis.calc(a, b, None))
