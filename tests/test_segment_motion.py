"""The motion evidence of a box prompt (``segment/motion.py``, ``segment/jointcut.py``) on constructed frames.

A textured background shifted by the camera and a textured square moving its own way: the residual
is near zero on the background and the square's own motion on it, and the joint cut finds the
square where colour alone cannot (it has the background's colours).
"""

from __future__ import annotations

import numpy as np

import vidlabel as vl
from vidlabel.segment.jointcut import cut_with_motion
from vidlabel.segment.motion import neighbours, residual


def scene(shift: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Five 160x240 frames: the background moves 2 px right a frame, the square ``shift`` px down."""
    rng = np.random.default_rng(0)
    texture = np.asarray(
        np.clip(rng.normal(128, 50, (200, 300, 3)), 0, 255).astype(np.uint8)
    )  # the same colours on the background and on the square
    blur = np.stack([np.convolve(c, np.ones(3) / 3, "same") for c in texture.reshape(-1, 3).T], -1)
    texture = blur.reshape(texture.shape).astype(np.uint8)
    patch = texture[100:150, 200:250].copy()
    frames, masks = [], []
    for t in range(5):
        img = np.ascontiguousarray(texture[20:180, 30 - 2 * t : 270 - 2 * t])
        y0 = 40 + shift * t
        img[y0 : y0 + 50, 90:140] = patch
        mask = np.zeros(img.shape[:2], bool)
        mask[y0 : y0 + 50, 90:140] = True
        frames.append(img)
        masks.append(mask)
    return frames, masks[2]


def test_neighbours_are_two_frames_away_or_the_nearest_there_are() -> None:
    assert neighbours(5, 10) == [3, 7]
    assert neighbours(0, 10) == [2]
    assert neighbours(9, 10) == [7]
    assert neighbours(0, 2) == [1]
    assert neighbours(0, 1) == []


def test_the_residual_is_the_objects_own_motion() -> None:
    frames, square = scene(shift=3)
    box = (85.0, 41.0, 145.0, 101.0)
    res = residual(frames[2], [frames[0], frames[4]], box)
    assert res is not None and res.shape == square.shape
    inner = np.zeros_like(square)
    inner[52:90, 100:130] = True  # the square's middle, away from the flow's blur at its edges
    ring = np.ones_like(square)
    ring[20:130, 60:170] = False
    assert np.median(res[ring]) < 0.5
    assert abs(np.median(res[inner]) - 6.0) < 1.5  # 3 px a frame, two frames away


def test_motion_finds_an_object_coloured_like_its_background() -> None:
    frames, square = scene(shift=3)
    box = (80, 35, 150, 105)
    ds = vl.Dataset()
    seq = ds.add_sequence("moving", frames=np.stack(frames))
    ds.add_entity(seq, name="square")
    mask, _ = vl.segment.load("flow").session(ds, seq).prompt(2, "square", box=box, write=False)
    assert vl.metrics.jaccard(mask, square) > 0.8
    # The same frame alone: colour cannot tell the square from the background.
    alone = vl.Dataset()
    one = alone.add_sequence("alone", frames=frames[2][None])
    alone.add_entity(one, name="square")
    guess, _ = vl.segment.load("flow").session(alone, one).prompt(0, "square", box=box, write=False)
    assert vl.metrics.jaccard(guess, square) < 0.7
    # Still: nothing moves unlike the background, so the motion says nothing and colour decides.
    still, _ = scene(shift=0)
    img = still[2]
    inner = np.zeros(img.shape[:2], bool)
    inner[35:105, 80:150] = True
    assert cut_with_motion(img, inner, np.zeros(img.shape[:2], np.float32), 3) is None
