"""Synthetic demo videos with exact ground-truth masks (offline data for notebooks, tests and benchmarks).

Textured objects move along smooth sinusoidal paths, scale, rotate and occlude one another over a slowly
panning noise background, so that a mask propagator (SAM2, dense optical flow) has real work to do while
the answer is known exactly. Not all of them are rigid: articulated figures turn their legs about joints,
worms bend, blobs morph (see :mod:`vidlabel.demo_objects`), so the demo does not flatter an engine whose
motion model is shift, turn and scale.
"""

from __future__ import annotations

import colorsys
import math
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PIL import Image

from .demo_objects import KINDS, SHAPES, TEXTURES, Part, build, path, smooth_noise
from .errors import ValidationError
from .palette import davis_palette

if TYPE_CHECKING:
    from .dataset import Dataset

__all__ = ["KINDS", "SHAPES", "SyntheticVideo", "synthetic", "synthetic_video", "write_davis"]


@dataclass
class SyntheticVideo:
    """A generated clip and its ground truth.

    ``masks`` holds the *visible* pixels: an object's mask excludes what objects in front of it cover.
    ``depth_order`` lists object ids from back to front; :meth:`full_mask` gives the unoccluded shape.
    ``kinds`` says how each object moves (one of :data:`KINDS`); :meth:`track` where its material goes.
    """

    frames: np.ndarray  # T x H x W x 3 uint8 RGB
    masks: np.ndarray  # T x H x W uint8: 0 background, k = object k
    categories: list[str]  # category of object k at [k - 1]
    fps: float
    depth_order: tuple[int, ...] = ()  # object ids, back to front
    colours: list[tuple[int, int, int]] = field(default_factory=list)  # base RGB of object k at [k - 1]
    kinds: list[str] = field(default_factory=list)  # how object k moves, at [k - 1]
    # What full_mask() and track() need to redraw a shape: each object's parts (sprites and per-frame
    # maps). Kept instead of T x K x H x W full masks, which would dwarf the frames themselves.
    _objects: list[list[Part]] = field(default_factory=list, repr=False)

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
            for part in self._objects[k - 1]:
                placed = part.place(t, w, h)
                if placed is not None:
                    (y0, y1, x0, x1), warped = placed
                    out[t, y0:y1, x0:x1] |= warped[..., 3] >= 128
        return out

    def track(self, k: int, t: int, points: Any, to: int) -> np.ndarray:
        """Where the material of object ``k`` seen at frame ``t`` is at frame ``to``: the exact motion.

        ``points`` is N x 2 (x, y) in frame ``t`` pixel coordinates; the answer is N x 2 in frame ``to``,
        NaN for points not on the object's shape at ``t`` (occlusion is ignored: see :meth:`full_mask`).
        """
        self._check_id(k)
        t_count = self.masks.shape[0]
        for name, value in (("t", t), ("to", to)):
            _check_int(name, value, 0, t_count - 1)
        pts = np.asarray(points, np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or not np.isfinite(pts).all():
            raise ValidationError("points must be an N x 2 array of finite (x, y)")
        out = np.full_like(pts, np.nan)
        todo = np.ones(len(pts), bool)
        for part in reversed(self._objects[k - 1]):  # the topmost part under a point owns it
            s = part.to_sprite(t, pts[todo])
            on = part.sprite_alpha_at(s) >= 128
            idx = np.flatnonzero(todo)[on]
            out[idx] = part.to_frame(to, s[on])
            todo[idx] = False
        return out


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Muted two-tone noise plus per-pixel grain, so optical flow finds texture everywhere."""
    n = smooth_noise(rng, h, w, (3, 7, 15, 31, 63))[..., None]
    hue = rng.uniform()
    dark = np.array(colorsys.hsv_to_rgb(hue, 0.25, 0.22), np.float32) * 255
    light = np.array(colorsys.hsv_to_rgb((hue + 0.1) % 1, 0.2, 0.62), np.float32) * 255
    img = dark + (light - dark) * n + 7 * rng.standard_normal((h, w, 3), dtype=np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _check_int(name: str, value: object, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValidationError(f"{name} must be an int, got {type(value).__name__}")
    if value < lo or (hi is not None and value > hi):
        bound = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise ValidationError(f"{name} must be {bound}, got {value}")
    return int(value)


def _kinds(kinds: object, count: int, seed: int) -> list[str]:
    """The kind of each object: ``kinds`` checked, or the default mix."""
    if kinds is None:
        # One of each, rigid first: a demo made only of the flow engine's own motion model flatters it.
        # Bending and morphing swap places with the seed, so few objects still see both across seeds.
        mix = [
            "rigid",
            "articulated",
            *(("bending", "morphing") if seed % 2 == 0 else ("morphing", "bending")),
        ]
        return [mix[k % len(mix)] for k in range(count)]
    if isinstance(kinds, str):
        kinds = [kinds] * count
    if not isinstance(kinds, (list, tuple)) or len(kinds) != count:
        raise ValidationError(f"kinds must be None, one kind or a sequence of {count} kinds (one per object)")
    for i, kind in enumerate(kinds):
        if kind not in KINDS:
            raise ValidationError(f"kinds[{i}] must be one of {', '.join(KINDS)}, got {kind!r}")
    return list(kinds)


def synthetic_video(
    num_frames: int = 50,
    width: int = 854,
    height: int = 480,
    num_objects: int = 3,
    seed: int = 0,
    fps: float = 24.0,
    *,
    kinds: str | Sequence[str] | None = None,
) -> SyntheticVideo:
    """Textured objects that move, turn, scale, deform and occlude one another; deterministic in ``seed``.

    ``kinds`` says how each object moves (see :data:`KINDS`): ``"rigid"`` (a sprite moved by shift, turn
    and scale), ``"articulated"`` (a body whose two-segment legs turn about their joints), ``"bending"``
    (a band whose centreline bends) or ``"morphing"`` (a blob following a smooth deformation field). One
    kind applies to every object; a list gives one per object. The default mixes them: rigid,
    articulated, then bending and morphing (in an order that alternates with the seed), and again.
    The categories name kind and shape (``"rigid star"``, ``"articulated figure"``, ``"bending worm"``,
    ``"morphing blob"``).
    """
    t_count = _check_int("num_frames", num_frames, 1)
    w, h = _check_int("width", width, 16), _check_int("height", height, 16)
    k_count = _check_int("num_objects", num_objects, 1, 20)
    seed = _check_int("seed", seed, 0)
    if not isinstance(fps, (int, float)) or isinstance(fps, bool) or not math.isfinite(fps) or fps <= 0:
        raise ValidationError(f"fps must be a positive number, got {fps!r}")
    kind_of = _kinds(kinds, k_count, seed)
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
    objects: list[list[Part]] = []
    # Paths first: an object's path does not then depend on how many random numbers its sprites took.
    paths = [path(rng, t, w, h) for _ in range(k_count)]
    for k in range(k_count):
        shape = SHAPES[int(rng.integers(len(SHAPES)))] if k >= len(SHAPES) else SHAPES[(k + seed) % 4]
        r = short * rng.uniform(0.15, 0.24) / max(1.0, math.sqrt(k_count / 4))
        # Hues spread by the golden ratio stay apart for any count; high saturation sets objects off
        # against the muted background.
        hue = (hue0 + k * 0.618034) % 1
        rgb = np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.65, 0.9), rng.uniform(0.85, 1.0))) * 255
        look = (TEXTURES[k % len(TEXTURES)], rgb.astype(np.float32))
        name, parts = build(kind_of[k], rng, shape, r, look, paths[k])
        objects.append(parts)
        categories.append(f"{kind_of[k]} {name}")
        colours.append((int(rgb[0]), int(rgb[1]), int(rgb[2])))
    depth_order = tuple(int(i) + 1 for i in rng.permutation(k_count))

    frames = np.empty((t_count, h, w, 3), np.uint8)
    masks = np.zeros((t_count, h, w), np.uint8)
    for ti in range(t_count):
        # Sub-pixel crop of the background: smooth pan instead of whole-pixel jumps.
        cx_bg, cy_bg = pan_v * (ti - (t_count - 1) / 2) + margin + (np.array([w, h]) - 1) / 2
        frame = frames[ti]
        frame[:] = cv2.getRectSubPix(bg, (w, h), (float(cx_bg), float(cy_bg)))
        for k in depth_order:  # painter's algorithm: later objects cover earlier ones, later parts too
            for part in objects[k - 1]:
                placed = part.place(ti, w, h)
                if placed is None:
                    continue
                (y0, y1, x0, x1), warped = placed
                # cv2.copyTo writes through the strided ROI views, several times faster than numpy masking.
                inside = (warped[..., 3] >= 128).view(np.uint8)
                cv2.copyTo(cv2.cvtColor(warped, cv2.COLOR_RGBA2RGB), inside, frame[y0:y1, x0:x1])
                cv2.copyTo(np.full_like(inside, k), inside, masks[ti, y0:y1, x0:x1])
    return SyntheticVideo(frames, masks, categories, float(fps), depth_order, colours, kind_of, objects)


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
    *,
    kinds: str | Sequence[str] | None = None,
) -> Dataset:
    """A Dataset holding one synthetic sequence and, with ``with_masks``, its ground truth as keyframes.

    ``state_fields`` declares per-frame state fields (``{"occluded": pa.bool_()}``), as for Dataset;
    ``kinds`` is as for :func:`synthetic_video`, and each entity's category names its kind and shape.
    """
    from .dataset import Dataset

    video = synthetic_video(num_frames, width, height, num_objects, seed, fps, kinds=kinds)
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
