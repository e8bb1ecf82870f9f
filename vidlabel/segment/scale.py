"""The tracking scale the flow and warp engines work at: a whole fraction of the frame.

A whole factor makes the downscale cheap and exact (INTER_AREA averages whole blocks), and keeps the
long side at most ``max_side`` pixels (427x240 for 854x480 at 480).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from ..dataset import Dataset

__all__ = ["TrackingScale"]

_MIN_SIDE = 16


class TrackingScale:
    """Frames and masks of a ``width`` x ``height`` sequence at tracking scale; ``size`` is (w, h)."""

    def __init__(self, width: int, height: int, max_side: int) -> None:
        k = -(-max(height, width) // max_side)
        # At least 16 a side, a thin frame stretched to it: DIS optical flow needs 12 (OpenCV's DIS
        # crashes the process below that), Lucas-Kanade's window 15.
        self.size = (max(_MIN_SIDE, round(width / k)), max(_MIN_SIDE, round(height / k)))  # (w, h)

    def frame(self, ds: Dataset, sequence: str, f: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame ``f`` at tracking scale: RGB and grey."""
        # A pass reads each frame once: it takes what the decode cache has but adds nothing to it,
        # so the frames a person is looking at stay there.
        rgb = ds.frame(sequence, f, cache=False)
        if rgb.shape[1::-1] != self.size:
            rgb = cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA)
        return rgb, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)

    def shrink(self, mask: np.ndarray) -> np.ndarray:
        """A frame-size mask at tracking scale, soft (float32)."""
        small = mask.astype(np.float32)
        if small.shape[::-1] != self.size:
            small = np.asarray(cv2.resize(small, self.size, interpolation=cv2.INTER_AREA), np.float32)
        return small
