"""Synthetic demo videos with exact ground-truth masks (offline data for notebooks, tests and benchmarks).

Textured sprites (ellipses, rounded boxes, stars, blobs) move along smooth sinusoidal paths, scale,
rotate and occlude one another over a slowly panning noise background, so that a mask propagator
(SAM2, dense optical flow) has real work to do while the answer is known exactly.
"""

from __future__ import annotations

import colorsys
import math
import pathlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PIL import Image

from .errors import ValidationError
from .palette import davis_palette

if TYPE_CHECKING:
    from .dataset import Dataset

__all__ = ["SyntheticVideo", "synthetic", "synthetic_video", "write_davis"]

SHAPES = ("ellipse", "box", "star", "blob")
_TEXTURES = ("stripes", "checker", "noise")


@dataclass
class SyntheticVideo:
    """A generated clip and its ground truth.

    ``masks`` holds the *visible* pixels: an object's mask excludes what objects in front of it cover.
    ``depth_order`` lists object ids from back to front; :meth:`full_mask` gives the unoccluded shape.
    """

    frames: np.ndarray  # T x H x W x 3 uint8 RGB
    masks: np.ndarray  # T x H x W uint8: 0 background, k = object k
    categories: list[str]  # category of object k at [k - 1]
    fps: float
    depth_order: tuple[int, ...] = ()  # object ids, back to front
    colours: list[tuple[int, int, int]] = field(default_factory=list)  # base RGB of object k at [k - 1]
    # What full_mask() needs to redraw a shape: the alpha sprite of each object and its per-frame affine
    # (K x T x 2 x 3). Kept instead of T x K x H x W full masks, which would dwarf the frames themselves.
    _sprites: list[np.ndarray] = field(default_factory=list, repr=False)
    _affines: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 2, 3)), repr=False)

    @property
    def num_objects(self) -> int:
        return len(self.categories)

    def _check_id(self, k: int) -> None:
        if not 1 <= k <= self.num_objects:
            raise ValidationError(f"k must be an object id in 1..{self.num_objects}, got {k!r}")

    def object_mask(self, k: int) -> np.ndarray:
        """T x H x W bool: the visible pixels of object ``k``."""
        self._check_id(k)
        return self.masks == k

    def full_mask(self, k: int) -> np.ndarray:
        """T x H x W bool: the whole shape of object ``k``, including the parts that are occluded."""
        self._check_id(k)
        t_count, h, w = self.masks.shape
        out = np.zeros((t_count, h, w), dtype=bool)
        for t in range(t_count):
            placed = _place(self._sprites[k - 1], self._affines[k - 1, t], w, h)
            if placed is not None:
                (y0, y1, x0, x1), warped = placed
                out[t, y0:y1, x0:x1] = warped[..., 3] >= 128
        return out


def _place(
    sprite: np.ndarray, m: np.ndarray, w: int, h: int
) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """Warp ``sprite`` by ``m`` into just the frame box it covers: ((y0, y1, x0, x1), pixels), or None.

    Warping that box rather than the whole frame is what makes generation fast.
    """
    s = sprite.shape[0]
    corners = np.array([[0, 0, 1], [s, 0, 1], [0, s, 1], [s, s, 1]], np.float64) @ m.T
    x0, y0 = np.floor(corners.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), w), min(int(y1), h)
    if x1 <= x0 or y1 <= y0:
        return None
    shifted = m - np.array([[0, 0, x0], [0, 0, y0]], np.float64)
    # Replicate the border: sprite canvases are padded with zero alpha, so this keeps colours at the
    # shape edge free of black bleed while the alpha still falls to zero outside.
    warped = cv2.warpAffine(
        sprite, shifted, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return (y0, y1, x0, x1), warped


def _smooth_noise(rng: np.random.Generator, h: int, w: int, octaves: tuple[int, ...]) -> np.ndarray:
    """Multi-octave value noise in [0, 1]: random grids of ``cells`` cells along the long side, upsampled."""
    acc = np.zeros((h, w), np.float32)
    for i, cells in enumerate(octaves):
        gh, gw = max(2, round(cells * h / max(h, w))), max(2, round(cells * w / max(h, w)))
        grid = rng.standard_normal((gh, gw)).astype(np.float32)
        acc += cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC) * 0.6**i
    acc -= acc.min()
    return acc / max(float(acc.max()), 1e-6)


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Muted two-tone noise plus per-pixel grain, so optical flow finds texture everywhere."""
    n = _smooth_noise(rng, h, w, (3, 7, 15, 31, 63))[..., None]
    hue = rng.uniform()
    dark = np.array(colorsys.hsv_to_rgb(hue, 0.25, 0.22), np.float32) * 255
    light = np.array(colorsys.hsv_to_rgb((hue + 0.1) % 1, 0.2, 0.62), np.float32) * 255
    img = dark + (light - dark) * n + 7 * rng.standard_normal((h, w, 3), dtype=np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _shape_alpha(rng: np.random.Generator, shape: str, r: float, size: int) -> np.ndarray:
    """size x size uint8 alpha (255 inside) of a shape of radius about ``r`` centred in the canvas."""
    alpha = np.zeros((size, size), np.uint8)
    c = size / 2
    if shape == "ellipse":
        axes = (round(r), round(r * rng.uniform(0.5, 0.8)))
        cv2.ellipse(alpha, (round(c), round(c)), axes, 0, 0, 360, 255, -1, cv2.LINE_AA)
    elif shape == "box":
        hw, hh = r * 0.9, r * rng.uniform(0.5, 0.75)
        cr = round(min(hw, hh) * 0.35)
        x0, y0, x1, y1 = round(c - hw), round(c - hh), round(c + hw), round(c + hh)
        cv2.rectangle(alpha, (x0 + cr, y0), (x1 - cr, y1), 255, -1)
        cv2.rectangle(alpha, (x0, y0 + cr), (x1, y1 - cr), 255, -1)
        for x, y in ((x0 + cr, y0 + cr), (x1 - cr, y0 + cr), (x0 + cr, y1 - cr), (x1 - cr, y1 - cr)):
            cv2.circle(alpha, (x, y), cr, 255, -1, cv2.LINE_AA)
    else:
        if shape == "star":
            n = int(rng.integers(5, 8))
            ang = np.arange(2 * n) * math.pi / n
            rad = np.where(np.arange(2 * n) % 2 == 0, r, r * rng.uniform(0.45, 0.6))
        else:  # blob: a circle with a few random low harmonics on its radius
            ang = np.linspace(0, 2 * math.pi, 96, endpoint=False)
            rad = np.full_like(ang, r * 0.8)
            for harmonic in (2, 3, 4):
                rad += r * rng.uniform(0.04, 0.12) * np.cos(harmonic * ang + rng.uniform(0, 2 * math.pi))
        pts = np.stack([c + rad * np.cos(ang), c + rad * np.sin(ang)], axis=1)
        cv2.fillPoly(alpha, [np.round(pts * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    return alpha


def _texture(rng: np.random.Generator, kind: str, colour: np.ndarray, size: int) -> np.ndarray:
    """size x size x 3 uint8: the object's base colour mixed with a darker shade in a pattern."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    if kind == "stripes":
        a, period = rng.uniform(0, math.pi), rng.uniform(8, 16)
        mix = 0.5 + 0.5 * np.sin((xx * math.cos(a) + yy * math.sin(a)) * 2 * math.pi / period)
    elif kind == "checker":
        p = int(rng.integers(8, 15))
        mix = ((xx // p + yy // p) % 2).astype(np.float32)
    else:
        mix = _smooth_noise(rng, size, size, (4, 9, 19))
    dark = colour * 0.5
    img = dark + (colour - dark) * mix[..., None] + 5 * rng.standard_normal((size, size, 3), dtype=np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _check_int(name: str, value: object, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValidationError(f"{name} must be an int, got {type(value).__name__}")
    if value < lo or (hi is not None and value > hi):
        bound = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise ValidationError(f"{name} must be {bound}, got {value}")
    return int(value)


def synthetic_video(
    num_frames: int = 50,
    width: int = 854,
    height: int = 480,
    num_objects: int = 3,
    seed: int = 0,
    fps: float = 24.0,
) -> SyntheticVideo:
    """Textured objects that move, scale, rotate and occlude one another; deterministic in ``seed``."""
    t_count = _check_int("num_frames", num_frames, 1)
    w, h = _check_int("width", width, 16), _check_int("height", height, 16)
    k_count = _check_int("num_objects", num_objects, 1, 20)
    seed = _check_int("seed", seed, 0)
    if not isinstance(fps, (int, float)) or isinstance(fps, bool) or not math.isfinite(fps) or fps <= 0:
        raise ValidationError(f"fps must be a positive number, got {fps!r}")
    rng = np.random.default_rng(seed)

    # The background is drawn larger than the frame and panned slowly across it.
    pan_v = rng.uniform(-1.0, 1.0, 2) * min(w, h) / 480
    margin = min(int(np.ceil(np.abs(pan_v).max() * t_count / 2)) + 2, max(w, h))
    bg = _background(rng, h + 2 * margin, w + 2 * margin)

    short = min(w, h)
    hue0 = rng.uniform()
    t = np.arange(t_count, dtype=np.float64)
    categories: list[str] = []
    colours: list[tuple[int, int, int]] = []
    sprites: list[np.ndarray] = []
    affines = np.zeros((k_count, t_count, 2, 3))
    for k in range(k_count):
        shape = SHAPES[int(rng.integers(len(SHAPES)))] if k >= len(SHAPES) else SHAPES[(k + seed) % 4]
        r = short * rng.uniform(0.15, 0.24) / max(1.0, math.sqrt(k_count / 4))
        size = math.ceil(2 * r) + 8
        # Hues spread by the golden ratio stay apart for any count; high saturation sets objects off
        # against the muted background.
        hue = (hue0 + k * 0.618034) % 1
        rgb = np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.65, 0.9), rng.uniform(0.85, 1.0))) * 255
        alpha = _shape_alpha(rng, shape, r, size)
        tex = _texture(rng, _TEXTURES[k % len(_TEXTURES)], rgb.astype(np.float32), size)
        sprites.append(np.dstack([tex, alpha]))
        categories.append(shape)
        colours.append((int(rgb[0]), int(rgb[1]), int(rgb[2])))

        # Sinusoids through the middle third make the paths cross (occlusion) and keep shapes mostly
        # in frame; periods are in frames, so the speed does not depend on the clip length.
        cx = w / 2 + w * rng.uniform(0.2, 0.32) * np.sin(
            2 * math.pi * t / rng.uniform(70, 130) + rng.uniform(0, 6.3)
        )
        cy = h / 2 + h * rng.uniform(0.15, 0.28) * np.sin(
            2 * math.pi * t / rng.uniform(60, 120) + rng.uniform(0, 6.3)
        )
        scale = 1 + rng.uniform(0.15, 0.3) * np.sin(
            2 * math.pi * t / rng.uniform(40, 80) + rng.uniform(0, 6.3)
        )
        theta = rng.uniform(0, 2 * math.pi) + rng.uniform(-0.03, 0.03) * t
        cos, sin = scale * np.cos(theta), scale * np.sin(theta)
        # Rotate and scale about the sprite centre, then move that centre to (cx, cy).
        affines[k, :, 0, :] = np.stack([cos, -sin, cx - cos * size / 2 + sin * size / 2], axis=1)
        affines[k, :, 1, :] = np.stack([sin, cos, cy - sin * size / 2 - cos * size / 2], axis=1)
    depth_order = tuple(int(i) + 1 for i in rng.permutation(k_count))

    frames = np.empty((t_count, h, w, 3), np.uint8)
    masks = np.zeros((t_count, h, w), np.uint8)
    for ti in range(t_count):
        # Sub-pixel crop of the background: smooth pan instead of whole-pixel jumps.
        cx_bg, cy_bg = pan_v * (ti - (t_count - 1) / 2) + margin + (np.array([w, h]) - 1) / 2
        frame = frames[ti]
        frame[:] = cv2.getRectSubPix(bg, (w, h), (float(cx_bg), float(cy_bg)))
        for k in depth_order:  # painter's algorithm: later objects cover earlier ones
            placed = _place(sprites[k - 1], affines[k - 1, ti], w, h)
            if placed is None:
                continue
            (y0, y1, x0, x1), warped = placed
            # cv2.copyTo writes through the strided ROI views, several times faster than numpy masking.
            inside = (warped[..., 3] >= 128).view(np.uint8)
            cv2.copyTo(cv2.cvtColor(warped, cv2.COLOR_RGBA2RGB), inside, frame[y0:y1, x0:x1])
            cv2.copyTo(np.full_like(inside, k), inside, masks[ti, y0:y1, x0:x1])
    return SyntheticVideo(frames, masks, categories, float(fps), depth_order, colours, sprites, affines)


def _default_sequences() -> dict[str, SyntheticVideo]:
    return {"synthetic": synthetic_video(num_frames=10, width=320, height=180)}


def write_davis(
    root: str | pathlib.Path,
    *,
    sequences: dict[str, SyntheticVideo] | None = None,
    resolution: str = "480p",
    split: str = "val",
    jpeg_quality: int = 95,
) -> pathlib.Path:
    """Write ``sequences`` in the DAVIS 2017 layout under ``root`` and return ``root``.

    ``JPEGImages/<res>/<seq>/00000.jpg``, ``Annotations/<res>/<seq>/00000.png`` (palette PNGs whose
    pixel value is the object id) and ``ImageSets/2017/<split>.txt`` (overwritten) listing the names.
    """
    seqs = _default_sequences() if sequences is None else sequences
    if not isinstance(seqs, dict) or not seqs:
        raise ValidationError("sequences must be a non-empty dict of name -> SyntheticVideo")
    for label, value in (
        ("resolution", resolution),
        ("split", split),
        *((f"sequence name {n!r}", n) for n in seqs),
    ):
        if (
            not isinstance(value, str)
            or not value
            or value in (".", "..")
            or any(c in value for c in "/\\\n")
        ):
            raise ValidationError(f"{label} must be a non-empty name without path separators")
    for name, video in seqs.items():
        if not isinstance(video, SyntheticVideo):
            raise ValidationError(f"sequences[{name!r}] must be a SyntheticVideo, got {type(video).__name__}")
    quality = _check_int("jpeg_quality", jpeg_quality, 1, 100)

    root = pathlib.Path(root)
    palette = davis_palette().tobytes()
    for name, video in seqs.items():
        jpg_dir = root / "JPEGImages" / resolution / name
        png_dir = root / "Annotations" / resolution / name
        jpg_dir.mkdir(parents=True, exist_ok=True)
        png_dir.mkdir(parents=True, exist_ok=True)
        for t, (frame, mask) in enumerate(zip(video.frames, video.masks, strict=True)):
            # 4:4:4 chroma: the default 4:2:0 smears the per-pixel colour grain (~29 dB instead of ~36).
            Image.fromarray(frame).save(jpg_dir / f"{t:05d}.jpg", quality=quality, subsampling=0)
            png = Image.fromarray(mask)
            png.putpalette(palette)  # turns the "L" image into mode "P"
            png.save(png_dir / f"{t:05d}.png")
    sets = root / "ImageSets" / "2017"
    sets.mkdir(parents=True, exist_ok=True)
    (sets / f"{split}.txt").write_text("".join(f"{name}\n" for name in seqs))
    return root


def synthetic(
    num_frames: int = 50,
    width: int = 854,
    height: int = 480,
    num_objects: int = 3,
    seed: int = 0,
    name: str = "synthetic",
    fps: float = 24.0,
    with_masks: bool = True,
    state_fields: Any = None,
) -> Dataset:
    """A Dataset holding one synthetic sequence and, with ``with_masks``, its ground truth as keyframes.

    ``state_fields`` declares per-frame state fields (``{"occluded": pa.bool_()}``), as for Dataset.
    """
    from .dataset import Dataset

    video = synthetic_video(num_frames, width, height, num_objects, seed, fps)
    ds = Dataset(state_fields=state_fields)
    seq = ds.add_sequence(name, frames=video.frames, fps=fps)
    if with_masks:
        with ds.transaction("synthetic ground truth"):
            for k in range(1, video.num_objects + 1):
                eid = ds.add_entity(seq, name=str(k), category=video.categories[k - 1])
                obj = video.object_mask(k)
                for t in np.flatnonzero(obj.any(axis=(1, 2))):
                    ds.set_mask(seq, int(t), eid, obj[t], source="synthetic", keyframe=True)
    ds.clear_history()  # generated data is not an undoable user action
    return ds
