"""The synthetic demo video: exact ground truth, motion that gives an engine real work, DAVIS export."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from PIL import Image

from vidlabel.demo import KINDS, SHAPES, SyntheticVideo, synthetic, synthetic_video, write_davis
from vidlabel.errors import ValidationError
from vidlabel.palette import davis_palette


@pytest.fixture(scope="module")
def default_video() -> SyntheticVideo:
    return synthetic_video()


def small(**kw: object) -> SyntheticVideo:
    args: dict = {"num_frames": 8, "width": 160, "height": 96, "num_objects": 4, **kw}
    return synthetic_video(**args)


def centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


def test_shapes_and_dtypes() -> None:
    v = small(fps=12)
    assert v.frames.shape == (8, 96, 160, 3) and v.frames.dtype == np.uint8
    assert v.masks.shape == (8, 96, 160) and v.masks.dtype == np.uint8
    assert len(v.categories) == v.num_objects == 4
    assert v.kinds == ["rigid", "articulated", "bending", "morphing"]  # the default mixes every kind
    for category, kind in zip(v.categories, v.kinds, strict=True):
        assert category.split()[0] == kind  # "rigid star", "bending worm", ...
    assert v.categories[0].split()[1] in SHAPES
    assert v.fps == 12.0 and isinstance(v.fps, float)
    assert set(np.unique(v.masks)) <= set(range(5))
    assert sorted(v.depth_order) == [1, 2, 3, 4]
    assert v.object_mask(2).shape == v.full_mask(2).shape == (8, 96, 160)
    assert v.object_mask(2).dtype == v.full_mask(2).dtype == np.bool_


def test_default_video_shape_and_speed(default_video: SyntheticVideo) -> None:
    assert default_video.frames.shape == (50, 480, 854, 3)
    assert default_video.num_objects == 3 and len(set(default_video.categories)) == 3
    t0 = time.perf_counter()
    synthetic_video(seed=1)
    assert time.perf_counter() - t0 < 5.0  # generous: ~0.7 s on 2 cores, CI machines are slower


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"num_frames": 1}, (1, 96, 160)),
        ({"width": 16, "height": 16}, (8, 16, 16)),
        ({"num_objects": 20}, None),
    ],
)
def test_edge_sizes(kw: dict, expected: tuple[int, int, int] | None) -> None:
    v = small(**kw)
    if expected is not None:
        assert v.masks.shape == expected
    assert len(v.categories) == kw.get("num_objects", 4)


def test_deterministic_in_seed() -> None:
    a, b, c = small(seed=7), small(seed=7), small(seed=8)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.masks, b.masks)
    assert a.categories == b.categories and a.depth_order == b.depth_order
    assert not np.array_equal(a.frames, c.frames)
    assert not np.array_equal(a.masks, c.masks)


def test_objects_move_and_scale(default_video: SyntheticVideo) -> None:
    v = default_video
    for k in range(1, v.num_objects + 1):
        full = v.full_mask(k)
        areas = full.sum(axis=(1, 2))
        shown = np.flatnonzero(areas > 0)
        steps = [
            np.linalg.norm(centroid(full[t + 1]) - centroid(full[t])) for t in shown[:-1] if areas[t + 1]
        ]
        assert np.mean(steps) > 1.0, f"object {k} barely moves"
        assert np.linalg.norm(centroid(full[shown[-1]]) - centroid(full[shown[0]])) > 20
        # Area changes by more than a border crop would explain: the shape itself grows and shrinks.
        inner = full[:, 40:-40, 40:-40].sum(axis=(1, 2))
        inside = shown[inner[shown] == areas[shown]]
        assert inner[inside].max() > 1.15 * inner[inside].min(), f"object {k} does not scale"


def test_objects_rotate() -> None:
    # Rotation shows as a change in the orientation of the shape's second moments.
    v = synthetic_video(num_frames=40, width=320, height=320, num_objects=1, seed=3)
    angles = []
    for t in (0, 39):
        m = cv2.moments(v.full_mask(1)[t].astype(np.uint8), binaryImage=True)
        angles.append(0.5 * np.arctan2(2 * m["mu11"], m["mu20"] - m["mu02"]))
    assert abs(np.angle(np.exp(2j * (angles[1] - angles[0])))) > 0.1


def test_occlusion_follows_depth_order(default_video: SyntheticVideo) -> None:
    v = default_video
    full = {k: v.full_mask(k) for k in range(1, v.num_objects + 1)}
    partial = False
    for rank, k in enumerate(v.depth_order):
        visible = v.object_mask(k)
        assert not (visible & ~full[k]).any(), "visible pixels outside the object's own shape"
        in_front = np.zeros_like(visible)
        for j in v.depth_order[rank + 1 :]:
            in_front |= full[j]
        # Visible exactly where the shape is and nothing in front covers it.
        np.testing.assert_array_equal(visible, full[k] & ~in_front)
        vis, whole = visible.sum(axis=(1, 2)), full[k].sum(axis=(1, 2))
        partial |= bool(np.any((vis > 0) & (vis < 0.9 * whole)))
    assert partial, "no object is ever partially occluded"
    # The frontmost object is never covered.
    np.testing.assert_array_equal(v.object_mask(v.depth_order[-1]), full[v.depth_order[-1]])


def test_occlusion_is_common_across_seeds() -> None:
    hits = 0
    for seed in range(6):
        v = synthetic_video(num_frames=30, width=427, height=240, seed=seed)
        hits += any(
            (v.full_mask(k).sum(axis=(1, 2)) > v.object_mask(k).sum(axis=(1, 2))).any()
            for k in range(1, v.num_objects + 1)
        )
    assert hits >= 4


def test_objects_mostly_in_frame(default_video: SyntheticVideo) -> None:
    v = default_video
    h, w = v.masks.shape[1:]
    for k in range(1, v.num_objects + 1):
        areas = v.full_mask(k).sum(axis=(1, 2))
        assert (areas > 0).mean() >= 0.8
        assert (v.object_mask(k).sum(axis=(1, 2)) > 0).mean() >= 0.6
        assert areas.max() < 0.25 * h * w


def test_background_is_textured(default_video: SyntheticVideo) -> None:
    v = default_video
    frame = v.frames[0].astype(np.float32)
    bg = v.masks[0] == 0
    assert frame[bg].std(axis=0).min() > 8  # coarse variation: not a flat colour
    # Fine texture too (optical flow needs gradients everywhere): high-pass energy on the background.
    grey = cv2.cvtColor(v.frames[0], cv2.COLOR_RGB2GRAY).astype(np.float32)
    highpass = grey - cv2.GaussianBlur(grey, (0, 0), 2)
    inner_bg = cv2.erode(bg.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    assert highpass[inner_bg].std() > 2
    # Every 32x32 background patch has some texture.
    for y in range(0, 480 - 32, 32):
        for x in range(0, 854 - 32, 32):
            if inner_bg[y : y + 32, x : x + 32].all():
                assert grey[y : y + 32, x : x + 32].std() > 1.5


def test_masks_match_frame_colours(default_video: SyntheticVideo) -> None:
    v = default_video
    frames, masks = v.frames[::3].astype(np.float32), v.masks[::3]  # every 3rd frame keeps the test quick
    bg_mean = frames[masks == 0].mean(axis=0)
    expected = np.array(v.colours, np.float32) * 0.75  # textures mix the colour with a half-dark shade
    for k in range(1, v.num_objects + 1):
        per_frame = [
            f[m == k].mean(axis=0) for f, m in zip(frames, masks, strict=True) if (m == k).sum() > 200
        ]
        per_frame_arr = np.array(per_frame)
        mean = per_frame_arr.mean(axis=0)
        assert np.linalg.norm(mean - bg_mean) > 40, f"object {k} looks like the background"
        assert per_frame_arr.std(axis=0).max() < 12, f"object {k}'s colour drifts: mask and pixels disagree"
        # The mask picks out this object's own colour, not another object's.
        assert np.argmin(np.linalg.norm(expected - mean, axis=1)) == k - 1
    # A ring just outside the frontmost mask is not the object's colour: mask edges sit on object edges.
    m = (v.masks[25] == v.depth_order[-1]).astype(np.uint8)
    ring = cv2.dilate(m, np.ones((9, 9), np.uint8)) > cv2.dilate(m, np.ones((3, 3), np.uint8))
    core = cv2.erode(m, np.ones((3, 3), np.uint8)).astype(bool)
    frame = v.frames[25].astype(np.float32)
    assert np.linalg.norm(frame[ring].mean(axis=0) - frame[core].mean(axis=0)) > 25


@pytest.mark.parametrize(
    ("kw", "name"),
    [
        ({"num_frames": 0}, "num_frames"),
        ({"num_frames": 2.5}, "num_frames"),
        ({"width": 15}, "width"),
        ({"height": 8}, "height"),
        ({"num_objects": 0}, "num_objects"),
        ({"num_objects": 21}, "num_objects"),
        ({"num_objects": True}, "num_objects"),
        ({"seed": -1}, "seed"),
        ({"fps": 0}, "fps"),
        ({"fps": float("nan")}, "fps"),
    ],
)
def test_bad_arguments(kw: dict, name: str) -> None:
    with pytest.raises(ValidationError, match=name):
        synthetic_video(**kw)


def test_bad_object_id() -> None:
    v = small()
    for k in (0, 5):
        with pytest.raises(ValidationError, match="k must be"):
            v.object_mask(k)
        with pytest.raises(ValidationError, match="k must be"):
            v.full_mask(k)


def test_write_davis_layout(tmp_path) -> None:
    seqs = {"alpha": small(seed=1), "beta": small(num_frames=3, num_objects=2, seed=2)}
    root = write_davis(tmp_path / "davis", sequences=seqs, resolution="Full-Resolution", split="train")
    assert root == tmp_path / "davis"
    assert (root / "ImageSets" / "2017" / "train.txt").read_text().split("\n") == ["alpha", "beta", ""]
    pal = davis_palette()
    for name, v in seqs.items():
        jpgs = sorted((root / "JPEGImages" / "Full-Resolution" / name).iterdir())
        pngs = sorted((root / "Annotations" / "Full-Resolution" / name).iterdir())
        assert [p.name for p in jpgs] == [f"{t:05d}.jpg" for t in range(len(v.frames))]
        assert [p.name for p in pngs] == [f"{t:05d}.png" for t in range(len(v.frames))]
        for t in range(len(v.frames)):
            with Image.open(pngs[t]) as png:
                assert png.mode == "P"
                palette = np.array(png.getpalette(), np.uint8).reshape(-1, 3)
                np.testing.assert_array_equal(palette[: v.num_objects + 1], pal[: v.num_objects + 1])
                np.testing.assert_array_equal(np.array(png), v.masks[t])
            with Image.open(jpgs[t]) as jpg:
                decoded = np.array(jpg.convert("RGB")).astype(np.int16)
            assert decoded.shape == v.frames[t].shape
            mse = np.mean((decoded - v.frames[t]) ** 2)
            assert 10 * np.log10(255**2 / mse) > 33, "JPEG too far from the frame"


def test_write_davis_jpeg_quality(tmp_path) -> None:
    v = small(num_frames=1)
    errors = []
    for q in (95, 20):
        root = write_davis(tmp_path / str(q), sequences={"s": v}, jpeg_quality=q)
        with Image.open(root / "JPEGImages" / "480p" / "s" / "00000.jpg") as jpg:
            errors.append(np.abs(np.array(jpg).astype(np.int16) - v.frames[0]).mean())
    assert errors[1] > errors[0] * 1.3


def test_write_davis_default(tmp_path) -> None:
    root = write_davis(str(tmp_path))
    assert (root / "ImageSets" / "2017" / "val.txt").read_text() == "synthetic\n"
    jpgs = sorted((root / "JPEGImages" / "480p" / "synthetic").glob("*.jpg"))
    assert len(jpgs) == 10
    with Image.open(jpgs[0]) as im:
        assert im.size == (320, 180)
    with Image.open(root / "Annotations" / "480p" / "synthetic" / "00009.png") as png:
        assert png.mode == "P" and np.array(png).max() >= 1


@pytest.mark.parametrize(
    "kw",
    [
        {"jpeg_quality": 0},
        {"jpeg_quality": 101},
        {"resolution": "a/b"},
        {"split": ""},
        {"sequences": {}},
        {"sequences": {"../x": None}},
        {"sequences": {"x": np.zeros((2, 16, 16, 3), np.uint8)}},
    ],
)
def test_write_davis_bad_arguments(tmp_path, kw: dict) -> None:
    with pytest.raises(ValidationError):
        write_davis(tmp_path, **kw)
    assert not any(tmp_path.iterdir()), "nothing is written when an argument is bad"


def test_synthetic_dataset() -> None:
    ds = synthetic(num_frames=6, width=96, height=64, num_objects=3, seed=5, name="demo", fps=10.0)
    v = synthetic_video(num_frames=6, width=96, height=64, num_objects=3, seed=5, fps=10.0)
    assert ds.sequence_ids() == ["demo"]
    assert ds.num_frames("demo") == 6
    assert ds.sequence("demo")["fps"] == 10.0
    eids = ds.entity_ids("demo")
    assert [ds.entity(e)["name"] for e in eids] == ["1", "2", "3"]
    assert [ds.entity(e)["category"] for e in eids] == v.categories
    for t in range(6):
        np.testing.assert_array_equal(ds.frame("demo", t), v.frames[t])
        for k, eid in enumerate(eids, start=1):
            got = ds.mask("demo", t, eid)
            if v.object_mask(k)[t].any():
                assert got is not None
                np.testing.assert_array_equal(got, v.object_mask(k)[t])
            else:
                assert got is None
    assert not ds.can_undo  # generated ground truth is not a user edit


def test_synthetic_dataset_without_masks() -> None:
    ds = synthetic(num_frames=3, width=64, height=48, with_masks=False)
    assert ds.sequence_ids() == ["synthetic"] and ds.num_frames("synthetic") == 3
    assert all(not ds.masks("synthetic", t) for t in range(3))
    assert ds.entity_ids("synthetic") == [] and not ds.can_undo


# ------------------------------------------------------------------------------------- non-rigid kinds
NON_RIGID = [k for k in KINDS if k != "rigid"]


def each_kind(seed: int = 0, size: int = 320, frames: int = 30) -> SyntheticVideo:
    """Three objects of each kind, the checker- and noise-textured ones (2 and 3 of each) among them."""
    kinds = [k for k in KINDS for _ in range(3)]
    return synthetic_video(frames, size, size, len(kinds), seed, kinds=kinds)


def pixels(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.stack([xs, ys], axis=1).astype(np.float64)


def similarity_fit(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """2 x 3: the least-squares similarity (shift, turn, scale) taking points p to points q."""
    x, y, one, zero = p[:, 0], p[:, 1], np.ones(len(p)), np.zeros(len(p))
    a = np.concatenate([np.stack([x, -y, one, zero], 1), np.stack([y, x, zero, one], 1)])
    c, s, tx, ty = np.linalg.lstsq(a, np.concatenate([q[:, 0], q[:, 1]]), rcond=None)[0]
    return np.array([[c, -s, tx], [s, c, ty]])


def inside_frame(mask: np.ndarray) -> bool:
    return bool(mask.any()) and not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def test_kinds_argument() -> None:
    assert KINDS == ("rigid", "articulated", "bending", "morphing")
    v = small(kinds="bending")
    assert v.kinds == ["bending"] * 4 and v.categories == ["bending worm"] * 4
    v = small(kinds=("morphing", "rigid", "articulated", "morphing"))
    assert v.kinds == ["morphing", "rigid", "articulated", "morphing"]
    assert v.categories[0] == "morphing blob" and v.categories[2] == "articulated figure"
    assert v.categories[1].startswith("rigid ") and v.categories[1].split()[1] in SHAPES
    # The default mixes kinds, one rigid object first; bending and morphing trade places with the seed.
    assert synthetic_video(4, 64, 48, 3, seed=0).kinds == ["rigid", "articulated", "bending"]
    assert synthetic_video(4, 64, 48, 3, seed=1).kinds == ["rigid", "articulated", "morphing"]
    assert small(num_objects=1).kinds == ["rigid"]
    # Naming the default kinds gives the default video.
    a, b = small(seed=3), small(seed=3, kinds=["rigid", "articulated", "morphing", "bending"])
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.masks, b.masks)
    ds = synthetic(num_frames=2, width=64, height=48, num_objects=2, kinds="articulated")
    assert [ds.entity(e)["category"] for e in ds.entity_ids("synthetic")] == ["articulated figure"] * 2


@pytest.mark.parametrize(
    ("kinds", "match"),
    [
        ("wobbly", "kinds"),
        (["rigid", "bending", "stretchy", "rigid"], r"kinds\[2\]"),
        (["rigid", "bending"], "kinds"),
        (["rigid"] * 5, "kinds"),
        (3, "kinds"),
        ([None] * 4, r"kinds\[0\]"),
        ({"rigid": 1}, "kinds"),
    ],
)
def test_bad_kinds(kinds: object, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        small(kinds=kinds)
    with pytest.raises(ValidationError, match=match):
        synthetic(num_frames=2, width=64, height=48, num_objects=4, kinds=kinds)  # type: ignore[arg-type]


def test_every_kind_is_deterministic_in_seed() -> None:
    a, b, c = each_kind(4, 160, 6), each_kind(4, 160, 6), each_kind(5, 160, 6)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.masks, b.masks)
    assert a.depth_order == b.depth_order and a.categories == b.categories
    np.testing.assert_array_equal(a.full_mask(6), b.full_mask(6))
    pts = pixels(a.full_mask(8)[0])
    np.testing.assert_array_equal(a.track(8, 0, pts, 5), b.track(8, 0, pts, 5))
    assert not np.array_equal(a.masks, c.masks)


def test_every_kind_masks_are_its_drawn_pixels() -> None:
    """A pixel is in an object's shape exactly where its sprites' alpha, sampled through the object's
    own map (track), is at least half: the masks are the drawn alpha, not an approximation of it."""
    v = each_kind(seed=1, size=240, frames=12)
    h, w = v.masks.shape[1:]
    grid = pixels(np.ones((h, w), bool))
    for k in range(1, v.num_objects + 1):
        full = v.full_mask(k)
        assert full.any(axis=(1, 2)).mean() > 0.5, f"object {k} ({v.kinds[k - 1]}) is hardly in frame"
        for t in range(0, 12, 3):
            on = ~np.isnan(v.track(k, t, grid, t)[:, 0]).reshape(h, w)
            differ = on ^ full[t]
            # Only antialiased edge pixels (alpha within rounding of 128) may fall either way.
            m = full[t].astype(np.uint8)
            edge = (cv2.dilate(m, np.ones((3, 3), np.uint8)) - cv2.erode(m, np.ones((3, 3), np.uint8))) > 0
            assert not (differ & ~edge).any(), f"object {k} ({v.kinds[k - 1]}), frame {t}"
            # ... and those only where the alpha is near the threshold: warpAffine interpolates in fixed
            # point, and non-rigid maps are upsampled from every 2nd or 4th pixel (off by up to ~0.15 px
            # where a worm bends most, which moves an antialiased edge's alpha by up to ~40). The parts
            # are internals: read here.
            ys, xs = np.nonzero(differ)
            pts = np.stack([xs, ys], axis=1).astype(np.float64)
            alpha = np.max(
                [part.sprite_alpha_at(part.to_sprite(t, pts)) for part in v._objects[k - 1]], axis=0
            )
            assert (np.abs(alpha - 128) < 40).all(), (k, t, alpha)
            # Each visible pixel was drawn by its object: the same point maps onto the object's shape.
            np.testing.assert_array_equal(v.masks[t] == k, full[t] & (v.masks[t] == k))


@pytest.mark.parametrize("seed", [0, 3])
def test_every_kind_occludes_in_depth_order(seed: int) -> None:
    """Visible masks are the full shapes minus whatever is in front, for every kind; full ⊇ visible."""
    v = each_kind(seed=seed, size=256, frames=16)
    full = {k: v.full_mask(k) for k in range(1, v.num_objects + 1)}
    in_front = np.zeros_like(v.masks, dtype=bool)
    partial = set()
    for k in reversed(v.depth_order):
        visible = v.object_mask(k)
        assert not (visible & ~full[k]).any()
        np.testing.assert_array_equal(visible, full[k] & ~in_front)
        if (
            (visible.sum(axis=(1, 2)) > 0) & (visible.sum(axis=(1, 2)) < 0.9 * full[k].sum(axis=(1, 2)))
        ).any():
            partial.add(v.kinds[k - 1])
        in_front |= full[k]
    assert len(partial) >= 3, f"only {partial} are ever partly hidden"


@pytest.mark.parametrize("kind", KINDS)
def test_shapes_deform_only_if_non_rigid(kind: str) -> None:
    """Carry frame 0's shape to frame t by the best similarity fit of the object's true motion: a rigid
    object's shape is matched, a non-rigid one's is not; the Hu moments (blind to similarity) agree."""
    for seed in (0, 1):
        v = synthetic_video(50, 400, 400, 1, seed, kinds=kind)
        full = v.full_mask(1)
        shown = [t for t in range(50) if inside_frame(full[t])]
        assert len(shown) > 20
        t0 = shown[0]
        p0 = pixels(full[t0])
        ious, hu = [], []
        for t in shown[1:]:
            q = v.track(1, t0, p0[::5], t)  # every 5th pixel is plenty for a fit
            on = ~np.isnan(q[:, 0])  # all but a few antialiased edge pixels
            m = similarity_fit(p0[::5][on], q[on])
            moved = cv2.warpAffine(full[t0].astype(np.uint8), m, (400, 400), flags=cv2.INTER_NEAREST) > 0
            ious.append((moved & full[t]).sum() / (moved | full[t]).sum())
            hu.append(
                cv2.matchShapes(full[t0].astype(np.uint8), full[t].astype(np.uint8), cv2.CONTOURS_MATCH_I2, 0)
            )
        if kind == "rigid":
            assert min(ious) > 0.97 and max(hu) < 0.05, (min(ious), max(hu))
        else:
            assert min(ious) < 0.9 and max(hu) > 0.3, (min(ious), max(hu))


@pytest.mark.parametrize("kind", KINDS)
def test_texture_moves_with_the_material(kind: str) -> None:
    """Dense optical flow (OpenCV DIS) measured on the frames agrees with the objects' true motion
    (track) on interior pixels: the texture is carried by the deformation, not painted on a moving mask.
    Object 3 has a noise texture: stripes leave DIS an aperture problem and checkers a period to slip by."""
    v = synthetic_video(30, 400, 400, 3, 0, kinds=kind)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    kernel = np.ones((15, 15), np.uint8)  # DIS patches straddling an edge see two motions
    errors, grey_errors, still_errors = [], [], []
    for t in range(0, 29, 2):
        g0, g1 = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in v.frames[t : t + 2])
        flow = dis.calc(g0, g1, None)
        for k in (3,):
            core0 = cv2.erode((v.masks[t] == k).astype(np.uint8), kernel) > 0
            core1 = cv2.erode((v.masks[t + 1] == k).astype(np.uint8), kernel) > 0
            p = pixels(core0)
            q = v.track(k, t, p, t + 1)
            assert not np.isnan(q).any(), "an interior pixel is not on its object's shape"
            qi = np.round(q).astype(int)
            keep = ((qi >= 0) & (qi < 400)).all(axis=1)
            keep[keep] = core1[qi[keep, 1], qi[keep, 0]]
            p, q = p[keep], q[keep]
            xs, ys = p[:, 0].astype(int), p[:, 1].astype(int)
            errors.append(np.linalg.norm(q - p - flow[ys, xs], axis=1))
            # Brightness constancy along the true motion, against leaving the pixel where it was.
            at = cv2.remap(
                g1, q[:, 0].astype(np.float32)[None], q[:, 1].astype(np.float32)[None], cv2.INTER_LINEAR
            )
            grey_errors.append(np.abs(at.ravel().astype(np.float32) - g0[ys, xs]))
            still_errors.append(np.abs(g1[ys, xs].astype(np.float32) - g0[ys, xs]))
    err = np.concatenate(errors)
    assert len(err) > 5000
    assert np.median(err) < 0.5 and np.percentile(err, 90) < 1.5, (np.median(err), np.percentile(err, 90))
    grey, still = np.concatenate(grey_errors).mean(), np.concatenate(still_errors).mean()
    assert grey < 3 and still > 4 * grey, (grey, still)


def test_track_follows_parts_and_refuses_bad_input() -> None:
    v = small(kinds=["articulated", "bending", "morphing", "rigid"], num_frames=4)
    for k in range(1, 5):
        p = pixels(v.full_mask(k)[0])
        same = v.track(k, 0, p, 0)  # to the same frame: itself (NaN only at antialiased edge pixels)
        assert np.isnan(same[:, 0]).mean() < 0.03
        np.testing.assert_allclose(same[~np.isnan(same[:, 0])], p[~np.isnan(same[:, 0])], atol=1e-6)
        there = v.track(k, 0, p, 2)
        p, there = p[~np.isnan(there[:, 0])], there[~np.isnan(there[:, 0])]
        back = v.track(k, 2, there, 0)
        # There and back is the identity but at antialiased edge pixels, and (for a figure) where a
        # point went under another of its parts, which then owns the pixel.
        assert (np.linalg.norm(back - p, axis=1) < 1e-6).mean() > 0.97  # NaN compares False
    assert np.isnan(v.track(1, 0, [[-50.0, -50.0]], 1)).all()  # not on the shape
    for kw, name in (
        ({"t": 4}, "t"),
        ({"to": -1}, "to"),
        ({"points": [1, 2]}, "points"),
        ({"k": 5}, "k must"),
    ):
        args = {"k": 1, "t": 0, "points": [[1.0, 2.0]], "to": 1, **kw}
        with pytest.raises(ValidationError, match=name):
            v.track(**args)  # type: ignore[arg-type]
