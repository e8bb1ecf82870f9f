"""The motion evidence of a box prompt (``segment/motion.py``, ``segment/jointcut.py``) on constructed frames.

A textured background shifted by the camera and a textured square moving its own way: the residual
is near zero on the background and the square's own motion on it, and the joint cut finds the
square where colour alone cannot (it has the background's colours).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

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


def flat_object_video(jpeg: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Five 120x160 frames: a flat red 30x40 rectangle moving 4 px right a frame over a still
    blurred-noise texture (JPEG-compressed at ``jpeg`` if given); the rectangle's mask on frame 2."""
    rng = np.random.default_rng(0)
    bg = cv2.GaussianBlur(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), (0, 0), 1.5)
    frames = []
    for t in range(5):
        f = bg.copy()
        f[40:70, 53 + 4 * t : 93 + 4 * t] = (220, 30, 30)
        if jpeg:
            f = cv2.imdecode(cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, jpeg])[1], cv2.IMREAD_COLOR)
        frames.append(f)
    mask = np.zeros((120, 160), bool)
    mask[40:70, 61:101] = True
    return np.stack(frames), mask


@pytest.mark.parametrize("jpeg", [None, 90])
def test_a_flat_coloured_moving_object_keeps_its_motion(jpeg: int | None) -> None:
    """Inside a flat object the neighbour's colours are the same wherever either motion takes a
    pixel, so they cannot veto its flow: the whole object stays moving evidence and the box
    gives it (vetoing there left a strip along its trailing edge: J 0.23)."""
    frames, rect = flat_object_video(jpeg)
    ds = vl.Dataset()
    seq = ds.add_sequence("flat", frames=frames)
    ds.add_entity(seq, name="rect")
    box = (59, 38, 103, 72)
    res = residual(frames[2], [frames[0], frames[4]], tuple(map(float, box)))  # type: ignore[arg-type]
    assert res is not None
    assert np.median(res[45:65, 70:95]) > 1.0  # moving (the flow is short of 8 px inside a flat patch)
    mask, _ = vl.segment.load("flow").session(ds, seq).prompt(2, "rect", box=box, write=False)
    assert vl.metrics.jaccard(mask, rect) > 0.9


def smear_scene() -> tuple[list[np.ndarray], np.ndarray]:
    """Five 160x240 frames: a textured 40x40 square moving 4 px right a frame over a still, softly
    textured background (where DIS's refinement carries the square's motion onto what is around
    it); the square's mask on frame 2."""
    rng = np.random.default_rng(0)
    soft = cv2.GaussianBlur(rng.normal(0, 1, (160, 240, 3)).astype(np.float32), (0, 0), 6)
    bg = np.clip(128 + soft / soft.std() * 20, 0, 255).astype(np.uint8)
    obj = cv2.GaussianBlur(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8), (0, 0), 1.5)
    frames = []
    for t in range(5):
        f = bg.copy()
        f[60:100, 60 + 4 * t : 100 + 4 * t] = obj
        frames.append(f)
    square = np.zeros((160, 240), bool)
    square[60:100, 68:108] = True
    return frames, square


def test_the_flows_smear_onto_still_texture_is_vetoed() -> None:
    """Where the colours say the background's motion explains a pixel better than its own flow,
    its residual is zero. Compared with the veto turned off (``_TELLS`` past any difference), the
    smeared background beside the square shrinks and the square keeps its motion."""
    import vidlabel.segment.motion as motion

    frames, square = smear_scene()
    box = (53.0, 45.0, 123.0, 115.0)
    on = residual(frames[2], [frames[0], frames[4]], box)
    old = motion._TELLS
    try:
        motion._TELLS = np.inf
        off = residual(frames[2], [frames[0], frames[4]], box)
    finally:
        motion._TELLS = old
    assert on is not None and off is not None
    near = cv2.dilate(square.view(np.uint8), np.ones((21, 21), np.uint8)).view(bool) & ~square
    smeared_off, smeared_on = np.mean(off[near] > 1.0), np.mean(on[near] > 1.0)
    assert smeared_off > 0.15, smeared_off  # the scene does smear
    assert smeared_on < 0.5 * smeared_off, (smeared_on, smeared_off)
    core = cv2.erode(square.view(np.uint8), np.ones((9, 9), np.uint8)).view(bool)
    assert np.mean(on[core] > 2.0) > 0.9
