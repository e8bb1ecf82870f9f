"""The demo video's objects: textured parts, each drawn per frame through a known map from its sprite.

An object is one or more parts. A part is an RGBA sprite and, per frame, an affine from sprite to frame
coordinates; a non-rigid part applies a smooth deformation about the sprite centre first. Frame pixels are
filled by sampling the sprite through the inverse map, so the texture moves with the material and the
ground truth is exactly the warped alpha. The four kinds:

- ``rigid``: one sprite moved by shift, turn and scale (the flow engine's own motion model);
- ``articulated``: a body with legs of two segments, each turning about its joint;
- ``bending``: a band whose centreline bends into an arc of changing curvature, with a wave running along it;
- ``morphing``: a blob whose outline and texture follow a smooth, changing displacement field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

KINDS = ("rigid", "articulated", "bending", "morphing")
SHAPES = ("ellipse", "box", "star", "blob")
TEXTURES = ("stripes", "checker", "noise")
PAD = 4  # transparent border around every sprite, so sampling outside it gives alpha 0


@dataclass
class Bend:
    """Centred sprite coordinates (x along the band) to a bent band: a wave of amplitude ``amp`` moves
    each cross-section across the band, then the centreline is rolled onto an arc of curvature ``kappa``
    (the band's middle stays put). Exactly invertible while ``|kappa| * half-width < 1`` and the band's
    ends stay within ``end`` radians of its middle as seen from the arc's centre."""

    kappa: np.ndarray  # per frame
    amp: np.ndarray  # per frame
    phase: np.ndarray  # per frame
    wavenumber: float
    step: int = 2  # smooth where it matters (see undo), but curved: computed every 2 pixels, upsampled
    end: float = 2.5  # an angle (rad) about the arc's centre past the band's ends (<= 1.9) and short of pi

    def apply(self, t: int, q: np.ndarray, rough: bool = False) -> np.ndarray:
        x = q[:, 0]
        v = q[:, 1] + self.amp[t] * np.sin(self.wavenumber * x + self.phase[t])
        a = self.kappa[t] * x
        # sin(a)/kappa and (1 - cos a)/kappa written with sinc, so that kappa = 0 needs no special case.
        px = (1 - self.kappa[t] * v) * x * np.sinc(a / np.pi)
        py = v * np.cos(a) + x * np.sin(a / 2) * np.sinc(a / (2 * np.pi))
        return np.stack([px, py], axis=1)

    def undo(self, t: int, p: np.ndarray) -> np.ndarray:
        k = float(self.kappa[t])
        k = k if abs(k) > 1e-12 else 1e-12
        px, py = p[:, 0], p[:, 1]
        a = np.arctan2(k * px, 1 - k * py)
        x = a / k
        rho = np.hypot(k * px, 1 - k * py)
        v = (2 * py - k * (px * px + py * py)) / (1 + rho)  # (1 - rho) / k without the cancellation
        # Behind the arc's centre the angle jumps from +pi to -pi, from one end of the band to the other;
        # an upsampled map would draw a streak across that jump. Points in that wedge (never on the band)
        # go to the arc's centre instead, v = 1/kappa, well off the band (|kappa| * half-width < 0.5):
        # the map is then continuous wherever it can land on the band.
        v = np.where(np.abs(a) > self.end, 1 / k, v)
        y = v - self.amp[t] * np.sin(self.wavenumber * x + self.phase[t])
        return np.stack([x, y], axis=1)


@dataclass
class Morph:
    """A smooth displacement field: deformed point p shows canonical point p + D_t(p), with D_t a sum of
    plane sine waves. Its Lipschitz constant stays below 1, so the map is a diffeomorphism and the forward
    direction is a convergent fixed-point iteration."""

    amp: np.ndarray  # T x n
    phase: np.ndarray  # T x n
    waves: np.ndarray  # n x 2 wave vectors
    dirs: np.ndarray  # n x 2 unit displacement directions
    step: int = 4  # the map is smooth: computed every 4 pixels and upsampled, 16 times fewer sines

    def _disp(self, t: int, p: np.ndarray) -> np.ndarray:
        return np.asarray((self.amp[t] * np.sin(p @ self.waves.T + self.phase[t])) @ self.dirs)

    def undo(self, t: int, p: np.ndarray) -> np.ndarray:
        return p + self._disp(t, p)

    def apply(self, t: int, q: np.ndarray, rough: bool = False) -> np.ndarray:
        """The forward map, by fixed-point iteration; ``rough``: within half a pixel, for bounding boxes."""
        p = q.copy()
        # Contraction factor c <= 0.75: once a step moves points by under 0.1 px they are within
        # 0.1 c / (1 - c) = 0.3 px of the answer; 80 steps reach float precision.
        for _ in range(80):
            p, before = q - self._disp(t, p), p
            if rough and np.abs(p - before).max(initial=0) < 0.1:
                break
        return p


@dataclass
class Part:
    """An RGBA sprite and, per frame, the affine (T x 2 x 3) from sprite to frame coordinates, after the
    optional ``warp`` about the sprite centre."""

    sprite: np.ndarray
    affines: np.ndarray
    warp: Bend | Morph | None = None
    _outline: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Zero alpha on the sprite's edge: samples outside it (replicated edge) are then outside the shape.
        self.sprite[[0, -1], :, 3] = 0
        self.sprite[:, [0, -1], 3] = 0
        h, w = self.sprite.shape[:2]
        n = 48
        xs, ys = np.linspace(0, w, n), np.linspace(0, h, n)
        top, bottom = np.stack([xs, np.zeros(n)], 1), np.stack([xs, np.full(n, h)], 1)
        left, right = np.stack([np.zeros(n), ys], 1), np.stack([np.full(n, w), ys], 1)
        self._outline = np.concatenate([top, bottom, left, right])

    @property
    def centre(self) -> np.ndarray:
        h, w = self.sprite.shape[:2]
        return np.array([w / 2, h / 2])

    def to_frame(self, t: int, s: np.ndarray, rough: bool = False) -> np.ndarray:
        """N x 2 sprite (material) coordinates to frame coordinates at frame ``t`` (``rough``: to half a
        pixel)."""
        if self.warp is not None:
            s = self.warp.apply(t, s - self.centre, rough) + self.centre
        m = self.affines[t]
        return np.asarray(s @ m[:, :2].T + m[:, 2])

    def to_sprite(self, t: int, p: np.ndarray) -> np.ndarray:
        """N x 2 frame coordinates at frame ``t`` to the sprite coordinates drawn there."""
        m = self.affines[t]
        s = (p - m[:, 2]) @ np.linalg.inv(m[:, :2]).T
        if self.warp is not None:
            s = self.warp.undo(t, s - self.centre) + self.centre
        return np.asarray(s)

    def place(self, t: int, w: int, h: int) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
        """The part drawn into just the frame box it covers: ((y0, y1, x0, x1), RGBA pixels), or None."""
        if self.warp is None:
            return _place(self.sprite, self.affines[t], w, h)
        # The image of the sprite's border bounds the image of the sprite (the map is one-to-one).
        ends = self.to_frame(t, self._outline, rough=True)
        x0, y0 = np.floor(ends.min(axis=0)).astype(int) - 3
        x1, y1 = np.ceil(ends.max(axis=0)).astype(int) + 4
        x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), w), min(int(y1), h)
        if x1 <= x0 or y1 <= y0:
            return None
        # A grid one step wider than the box on each side, so that upsampling interpolates everywhere
        # in the box (cv2.resize clamps past its outermost samples).
        st = self.warp.step
        nx, ny = -(-(x1 - x0) // st) + 2, -(-(y1 - y0) // st) + 2
        gx = x0 - st + (np.arange(nx) + 0.5) * st - 0.5
        gy = y0 - st + (np.arange(ny) + 0.5) * st - 0.5
        grid = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
        fine: np.ndarray = self.to_sprite(t, grid).astype(np.float32).reshape(ny, nx, 2)
        if st > 1:
            fine = cv2.resize(fine, (nx * st, ny * st), interpolation=cv2.INTER_LINEAR)
        fine = fine[st : st + y1 - y0, st : st + x1 - x0]
        warped = cv2.remap(
            self.sprite, fine[..., 0], fine[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        return (y0, y1, x0, x1), warped

    def sprite_alpha_at(self, s: np.ndarray) -> np.ndarray:
        """Bilinear alpha of the sprite at N x 2 sprite coordinates (0 outside), as cv2.remap samples it."""
        a = np.pad(self.sprite[..., 3].astype(np.float64), 1)  # the zero border stands for "outside"
        x = np.clip(s[:, 0] + 1, 0, a.shape[1] - 1.001)
        y = np.clip(s[:, 1] + 1, 0, a.shape[0] - 1.001)
        x0, y0 = x.astype(int), y.astype(int)
        fx, fy = x - x0, y - y0
        top = a[y0, x0] * (1 - fx) + a[y0, x0 + 1] * fx
        bottom = a[y0 + 1, x0] * (1 - fx) + a[y0 + 1, x0 + 1] * fx
        return np.asarray(top * (1 - fy) + bottom * fy)


def _place(
    sprite: np.ndarray, m: np.ndarray, w: int, h: int
) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """Warp ``sprite`` by ``m`` into just the frame box it covers: ((y0, y1, x0, x1), pixels), or None.

    Warping that box rather than the whole frame is what makes generation fast.
    """
    sh, sw = sprite.shape[:2]
    corners = np.array([[0, 0, 1], [sw, 0, 1], [0, sh, 1], [sw, sh, 1]], np.float64) @ m.T
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


# ------------------------------------------------------------------------------------------ sprites
def smooth_noise(rng: np.random.Generator, h: int, w: int, octaves: tuple[int, ...]) -> np.ndarray:
    """Multi-octave value noise in [0, 1]: random grids of ``cells`` cells along the long side, upsampled."""
    acc = np.zeros((h, w), np.float32)
    for i, cells in enumerate(octaves):
        gh, gw = max(2, round(cells * h / max(h, w))), max(2, round(cells * w / max(h, w)))
        grid = rng.standard_normal((gh, gw)).astype(np.float32)
        acc += cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC) * 0.6**i
    acc -= acc.min()
    return acc / max(float(acc.max()), 1e-6)


def _texture(rng: np.random.Generator, kind: str, colour: np.ndarray, h: int, w: int) -> np.ndarray:
    """h x w x 3 uint8: the object's base colour mixed with a darker shade in a pattern."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "stripes":
        a, period = rng.uniform(0, math.pi), rng.uniform(8, 16)
        mix = 0.5 + 0.5 * np.sin((xx * math.cos(a) + yy * math.sin(a)) * 2 * math.pi / period)
    elif kind == "checker":
        p = int(rng.integers(8, 15))
        mix = ((xx // p + yy // p) % 2).astype(np.float32)
    else:
        mix = smooth_noise(rng, h, w, (4, 9, 19))
    dark = colour * 0.5
    img = dark + (colour - dark) * mix[..., None] + 5 * rng.standard_normal((h, w, 3), dtype=np.float32)
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


def _capsule(length: float, thick: float) -> tuple[np.ndarray, np.ndarray]:
    """Alpha of a horizontal stadium (a thick segment with round caps) and its first cap's centre (x, y)."""
    d = max(thick, 1.0)
    h, w = math.ceil(d) + 2 * PAD, math.ceil(length + d) + 2 * PAD
    alpha = np.zeros((h, w), np.uint8)
    p0 = np.array([PAD + d / 2, h / 2])
    p1 = p0 + np.array([length, 0.0])
    a, b = (int(v) for v in np.round(p0 * 16)), (int(v) for v in np.round(p1 * 16))
    cv2.line(alpha, tuple(a), tuple(b), 255, max(1, round(d)), cv2.LINE_AA, 4)  # 4 fractional bits
    return alpha, p0


# ------------------------------------------------------------------------------------------ motion
def _affine(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray, e: np.ndarray, f: np.ndarray
) -> np.ndarray:
    out = np.zeros((len(a), 3, 3))
    out[:, 0], out[:, 1], out[:, 2, 2] = np.stack([a, b, c], 1), np.stack([d, e, f], 1), 1
    return out


def _rot(theta: np.ndarray) -> np.ndarray:
    z = np.zeros_like(theta)
    return _affine(np.cos(theta), -np.sin(theta), z, np.sin(theta), np.cos(theta), z)


def _shift(x: float, y: float) -> np.ndarray:
    return np.array([[1.0, 0, x], [0, 1, y], [0, 0, 1]])


def _wave(rng: np.random.Generator, t: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """sin(2 pi t / period + phase) with a random period in [lo, hi] frames and a random phase."""
    return np.asarray(np.sin(2 * math.pi * t / rng.uniform(lo, hi) + rng.uniform(0, 2 * math.pi)))


def path(rng: np.random.Generator, t: np.ndarray, w: int, h: int) -> np.ndarray:
    """T x 3 x 3: a similarity from centred object coordinates to the frame, along a smooth path.

    Sinusoids through the middle third make the paths cross (occlusion) and keep shapes mostly in frame;
    periods are in frames, so the speed does not depend on the clip length.
    """
    cx = w / 2 + w * rng.uniform(0.2, 0.32) * _wave(rng, t, 70, 130)
    cy = h / 2 + h * rng.uniform(0.15, 0.28) * _wave(rng, t, 60, 120)
    scale = 1 + rng.uniform(0.15, 0.3) * _wave(rng, t, 40, 80)
    theta = rng.uniform(0, 2 * math.pi) + rng.uniform(-0.03, 0.03) * t
    cos, sin = scale * np.cos(theta), scale * np.sin(theta)
    return _affine(cos, -sin, cx, sin, cos, cy)


def _part(
    rng: np.random.Generator,
    alpha: np.ndarray,
    look: tuple[str, np.ndarray],
    m: np.ndarray,
    warp: Bend | Morph | None = None,
) -> Part:
    tex = _texture(rng, look[0], look[1], *alpha.shape)
    return Part(np.dstack([tex, alpha]), np.ascontiguousarray(m[:, :2]), warp)


def build(
    kind: str, rng: np.random.Generator, shape: str, r: float, look: tuple[str, np.ndarray], m: np.ndarray
) -> tuple[str, list[Part]]:
    """An object of ``kind`` about ``r`` pixels in radius moved by ``m`` (T x 3 x 3): (its shape's name,
    its parts in drawing order). ``look`` is (texture kind, base RGB); ``shape`` is used by rigid objects."""
    t = np.arange(len(m), dtype=np.float64)
    size = math.ceil(2.4 * r) + 2 * PAD  # blobs reach 1.16 r from their centre
    if kind == "rigid":
        alpha = _shape_alpha(rng, shape, r, size)
        return shape, [_part(rng, alpha, look, m @ _shift(-size / 2, -size / 2))]
    if kind == "bending":
        length, half = 2.4 * r, 0.22 * r
        alpha, _ = _capsule(length, 2 * half)
        # Curvature up to 1.6 rad over the half-length (a deep C either way); the tube condition
        # |kappa| * (half-width + wave) < 1 then holds with room to spare.
        kappa = 1.6 / (length / 2) * _wave(rng, t, 35, 60)
        wavelength = length * rng.uniform(0.45, 0.7)
        amp = 0.08 * r * (1 + 0.5 * _wave(rng, t, 30, 50))
        phase = rng.uniform(0, 2 * math.pi) + 2 * math.pi * t / rng.uniform(25, 40)
        bend = Bend(kappa, amp, phase, 2 * math.pi / wavelength)
        hs, ws = alpha.shape
        return "worm", [_part(rng, alpha, look, m @ _shift(-ws / 2, -hs / 2), bend)]
    if kind == "morphing":
        alpha = _shape_alpha(rng, "blob", r, size)
        n = 3
        ang = rng.uniform(0, 2 * math.pi, n)
        wavelengths = r * rng.uniform(1.8, 3.0, n)
        waves = np.stack([np.cos(ang), np.sin(ang)], 1) * (2 * math.pi / wavelengths)[:, None]
        turn = ang + rng.choice([0.0, math.pi / 2], n)  # compression or shear waves
        dirs = np.stack([np.cos(turn), np.sin(turn)], 1)
        lip = 0.25  # per wave: the three together stay a contraction (0.75 < 1)
        amp = (lip * wavelengths / (2 * math.pi)) * np.stack([_wave(rng, t, 30, 60) for _ in range(n)], 1)
        phase = rng.uniform(0, 2 * math.pi, n) + np.outer(t, rng.uniform(-0.08, 0.08, n))
        morph = Morph(amp, phase, waves, dirs)
        return "blob", [_part(rng, alpha, look, m @ _shift(-size / 2, -size / 2), morph)]
    # articulated: an elliptic body with legs of two segments; hips sit inside the body, which is drawn
    # last and hides them, knees are round caps shared by both segments.
    rx, ry = 0.42 * r, 0.3 * r
    size = math.ceil(2 * rx) + 2 * PAD
    body = np.zeros((size, size), np.uint8)
    cv2.ellipse(
        body, (size * 8, size * 8), (round(rx * 16), round(ry * 16)), 0, 0, 360, 255, -1, cv2.LINE_AA, 4
    )
    legs = int(rng.integers(3, 5))
    l1, l2, thick = 0.5 * r, 0.45 * r, 0.2 * r
    upper, u0 = _capsule(l1, thick)
    lower, v0 = _capsule(l2, thick)
    segments: list[Part] = []
    for j in range(legs):
        a = 2 * math.pi * (j + rng.uniform(-0.15, 0.15)) / legs
        hip = _shift(0.75 * rx * math.cos(a), 0.75 * ry * math.sin(a))
        swing = rng.uniform(0.3, 0.55) * _wave(rng, t, 30, 50)
        knee = rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 0.6) + rng.uniform(0.3, 0.6) * _wave(rng, t, 25, 45)
        m_up = m @ hip @ _rot(a + swing) @ _shift(-u0[0], -u0[1])
        m_lo = m_up @ _shift(u0[0] + l1, u0[1]) @ _rot(knee) @ _shift(-v0[0], -v0[1])
        segments += [_part(rng, lower, look, m_lo), _part(rng, upper, look, m_up)]
    return "figure", [*segments, _part(rng, body, look, m @ _shift(-size / 2, -size / 2))]
