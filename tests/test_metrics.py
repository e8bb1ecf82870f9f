"""DAVIS 2017 semi-supervised metrics: hand-derived cases and per-definition references."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vidlabel.errors import ValidationError
from vidlabel.metrics import (
    SUMMARY_KEYS,
    Evaluation,
    _boundary,
    evaluate,
    evaluate_arrays,
    f_measure,
    jaccard,
    statistics,
)

# ------------------------------------------------------------------------------ straightforward references


def ref_boundary(m: np.ndarray) -> np.ndarray:
    """seg2bmap restated: a pixel differs from its east, south or south-east neighbour, where the frame is
    extended by repeating its last row and column (so the last row compares east only, the last column
    south only, and the bottom-right corner nothing)."""
    p = np.pad(m, ((0, 1), (0, 1)), mode="edge")
    return (m != p[:-1, 1:]) | (m != p[1:, :-1]) | (m != p[1:, 1:])


def ref_offsets(r: float) -> list[tuple[int, int]]:
    # skimage disk grid -r..r (step 1), kept where x^2+y^2 <= r^2, read relative to cv2's anchor K // 2
    grid = np.arange(-r, r + 1)
    a = len(grid) // 2
    return [
        (i - a, j - a)
        for i in range(len(grid))
        for j in range(len(grid))
        if grid[i] ** 2 + grid[j] ** 2 <= r * r
    ]


def ref_matched(a: np.ndarray, b: np.ndarray, offs: list[tuple[int, int]]) -> int:
    """Pixels of a that have a pixel of b at one of the kernel offsets (whole frame, no cv2)."""
    h, w = a.shape
    near = np.zeros_like(b)
    for dy, dx in offs:  # near[y, x] |= b[y + dy, x + dx] where that is inside the frame
        near[max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)] |= b[
            max(dy, 0) : h - max(-dy, 0), max(dx, 0) : w - max(-dx, 0)
        ]
    return int(np.count_nonzero(a & near))


def ref_f(pred, gt, void=None, bound_th=0.008) -> float:
    pred, gt = pred.astype(bool), gt.astype(bool)
    if void is not None:
        pred, gt = pred & ~void, gt & ~void
    h, w = gt.shape
    r = bound_th if bound_th >= 1 else math.ceil(bound_th * math.sqrt(h * h + w * w))
    pb, gb = ref_boundary(pred), ref_boundary(gt)
    n_p, n_g = int(pb.sum()), int(gb.sum())
    if n_p == 0 and n_g > 0:
        p, rc = 1.0, 0.0
    elif n_p > 0 and n_g == 0:
        p, rc = 0.0, 1.0
    elif n_p == 0 and n_g == 0:
        p, rc = 1.0, 1.0
    else:
        offs = ref_offsets(r)
        p, rc = ref_matched(pb, gb, offs) / n_p, ref_matched(gb, pb, offs) / n_g
    return 0.0 if p + rc == 0 else 2 * p * rc / (p + rc)


def ref_j(pred, gt, void=None) -> float:
    keep = np.ones(gt.shape, bool) if void is None else ~void
    union = int(((pred | gt) & keep).sum())
    return 1.0 if union == 0 else int((pred & gt & keep).sum()) / union


def ref_stats(x: np.ndarray) -> tuple[float, float, float]:
    n = len(x)
    # quarters of 1..n rounded half up, as 0-based indices; values are exact multiples of 0.25
    ids = [math.floor(1 + i * (n - 1) / 4 + 0.5) - 1 for i in range(5)]
    first, last = x[ids[0] : ids[1] + 1], x[ids[3] : ids[4] + 1]

    def nmean(v):
        v = [e for e in v if not math.isnan(e)]
        return sum(v) / len(v) if v else math.nan

    return nmean(x), sum(1 for e in x if e > 0.5) / n, nmean(first) - nmean(last)


def ref_protocol(gt, pred, void=None, use_void=False):
    """The official semi-supervised protocol, spelled out sequence by sequence, object by object."""
    void = void or {}
    per_obj, stats = {}, []
    for name, g in gt.items():
        p = pred[name]
        vmap = (g == 255) | void.get(name, False)
        first = g[0][~vmap[0]]
        n = int(first.max()) if first.size else 0
        for k in range(1, n + 1):
            js, fs = [], []
            for t in range(1, len(g) - 1):
                gk, pk = (g[t] == k) & ~vmap[t], p[t] == k
                v = vmap[t] if use_void else None
                js.append(ref_j(pk, gk, v))
                fs.append(ref_f(pk, gk, v))
            js, fs = np.array(js), np.array(fs)
            jst, fst = ref_stats(js), ref_stats(fs)
            per_obj[f"{name}_{k}"] = (js, fs)
            stats.append((*jst, *fst))
    s = np.array(stats).mean(axis=0)
    summary = dict(zip(SUMMARY_KEYS, [(s[0] + s[3]) / 2, *s]))
    return summary, per_obj


# --------------------------------------------------------------------------------------------- generators


def blob_video(rng, t, h, w, ids, start=None):
    """T x H x W index map of moving ellipses; object k is painted from frame start[k] on."""
    start = start or {}
    yy, xx = np.mgrid[:h, :w]
    out = np.zeros((t, h, w), np.int32)
    for k in ids:
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)  # some blobs touch the frame edges
        vy, vx = rng.uniform(-2, 2, size=2)
        ry, rx = rng.uniform(3, 9, size=2)
        for i in range(start.get(k, 0), t):
            inside = ((yy - cy - vy * i) / ry) ** 2 + ((xx - cx - vx * i) / rx) ** 2 <= 1
            out[i][inside] = k
    return out


def perturb(rng, gt):
    """Prediction: each frame shifted by up to 2 px, with some pixels relabelled at random."""
    pred = np.empty_like(gt)
    for i in range(len(gt)):
        dy, dx = rng.integers(-2, 3, size=2)
        pred[i] = np.roll(gt[i], (dy, dx), axis=(0, 1))
    noise = rng.random(gt.shape) < 0.02
    pred[noise] = rng.integers(0, int(gt.max()) + 1, size=int(noise.sum()))
    return pred


def rect_void(rng, t, h, w):
    v = np.zeros((t, h, w), bool)
    for i in range(t):
        y, x = rng.integers(0, h - 8), rng.integers(0, w - 8)
        v[i, y : y + 8, x : x + 10] = True
    return v


def make_case(seed=0):
    rng = np.random.default_rng(seed)
    gt, pred, void = {}, {}, {}
    # a: three objects, separate void map overlapping them
    gt["a"] = blob_video(rng, 10, 36, 48, [1, 2, 3])
    for k in (1, 2, 3):  # make sure every object is on the first frame
        gt["a"][0, 2 * k : 2 * k + 3, 5 * k : 5 * k + 3] = k
    pred["a"] = perturb(rng, gt["a"])
    void["a"] = rect_void(rng, 10, 36, 48)
    # b: ids 1 and 3 on frame 0 (2 only later), 4 appears later (ignored), raw 255 void pixels,
    #    prediction never uses 3 (padded as empty) and has an out-of-range id on its first frame only
    g = blob_video(rng, 12, 30, 40, [1, 2, 3, 4], start={2: 4, 4: 3})
    g[0, 0:4, 0:4], g[0, 26:30, 36:40] = 1, 3
    g[:, 10:14, 15:30] = 255
    p = perturb(rng, np.where(g == 255, 0, g))
    p[p == 3] = 0
    p[p == 4] = 2
    p[0, :2, :2] = 7
    gt["b"], pred["b"] = g, p
    # c: exact on some frames, empty on others
    gt["c"] = blob_video(rng, 11, 32, 32, [1, 2])
    gt["c"][0, 0:3, 0:3], gt["c"][0, 29:32, 29:32] = 1, 2
    pred["c"] = gt["c"].copy()
    pred["c"][3:6] = 0
    return gt, pred, void


def assert_matches_ref(ev: Evaluation, summary, per_obj):
    assert list(ev.summary) == list(SUMMARY_KEYS)
    for k in SUMMARY_KEYS:
        assert ev.summary[k] == pytest.approx(summary[k], abs=1e-6), k
    assert list(ev.per_object) == list(per_obj)
    for key, (js, fs) in per_obj.items():
        np.testing.assert_allclose(ev.per_frame[key]["J"], js, atol=1e-6)
        np.testing.assert_allclose(ev.per_frame[key]["F"], fs, atol=1e-6)
        assert ev.per_object[key] == pytest.approx((np.mean(js), np.mean(fs)), abs=1e-6)


# ---------------------------------------------------------------------------------------------- J


def test_jaccard_hand_cases():
    pred = np.zeros((4, 4), bool)
    gt = np.zeros((4, 4), bool)
    pred[0:2, 0:2] = True  # 4 px
    gt[0:2, 1:3] = True  # 4 px, 2 shared
    assert jaccard(pred, gt) == pytest.approx(2 / 6)
    void = np.zeros((4, 4), bool)
    void[:, 0] = True  # removes the 2 pred-only pixels from the union
    assert jaccard(pred, gt, void) == pytest.approx(2 / 4)
    assert jaccard(pred.astype(np.uint8), gt.astype(np.uint8)) == pytest.approx(2 / 6)  # 0/1 arrays
    assert jaccard(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0
    stack = jaccard(np.stack([pred, pred, ~gt]), np.stack([gt, pred, gt]))
    assert isinstance(stack, np.ndarray)
    np.testing.assert_allclose(stack, [2 / 6, 1.0, 0.0])


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValidationError, match=r"\(4, 4\).*\(4, 5\)"):
        jaccard(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValidationError, match="void"):
        f_measure(np.zeros((4, 4)), np.zeros((4, 4)), void=np.zeros((3, 4)))
    with pytest.raises(ValidationError):
        jaccard(np.zeros(4), np.zeros(4))


# ---------------------------------------------------------------------------------------------- F


def test_boundary_rule_at_frame_edges():
    m = np.zeros((3, 3), bool)
    m[2, 2] = True  # bottom-right pixel: the corner itself is never boundary
    expected = np.zeros((3, 3), bool)
    expected[1, 1] = expected[1, 2] = expected[2, 1] = True
    np.testing.assert_array_equal(_boundary(m), expected)
    m = np.zeros((3, 3), bool)
    m[0, 0] = True  # top-left pixel: only itself (nothing lies north or west)
    np.testing.assert_array_equal(_boundary(m), m)
    m = np.zeros((4, 4), bool)
    m[:, 3] = True  # a column along the right edge: the frame edge is no boundary
    expected = np.zeros((4, 4), bool)
    expected[:, 2] = True
    np.testing.assert_array_equal(_boundary(m), expected)


def test_f_hand_cases():
    sq = np.zeros((20, 20), bool)
    sq[5:10, 5:10] = True
    empty = np.zeros_like(sq)
    assert f_measure(sq, sq) == 1.0
    assert f_measure(empty, sq) == 0.0  # P = 1, R = 0
    assert f_measure(sq, empty) == 0.0  # P = 0, R = 1
    assert f_measure(empty, empty) == 1.0
    shifted = np.roll(sq, 1, axis=1)  # every boundary pixel moves by exactly 1 px
    assert f_measure(shifted, sq, bound_th=1) == 1.0
    assert f_measure(np.roll(sq, 3, axis=1), sq, bound_th=1) < 1.0


def test_f_beyond_radius_by_hand():
    # gt: pixel (3,3) -> boundary {(2,2),(2,3),(3,2),(3,3)};
    # pred: pixels (3,5),(4,5) -> boundary {(2,4),(2,5),(3,4),(3,5),(4,4),(4,5)}.
    gt = np.zeros((10, 10), bool)
    gt[3, 3] = True
    pred = np.zeros((10, 10), bool)
    pred[3:5, 5] = True
    # r = 1 (4-neighbourhood): pred (2,4),(3,4) and gt (2,3),(3,3) match -> P = 2/6, R = 2/4, F = 2/5
    assert f_measure(pred, gt, bound_th=1) == pytest.approx(0.4)
    # r = 2: offsets with dy^2+dx^2 <= 4; pred (4,5) is (1,2) from (3,3) -> unmatched: P = 5/6, R = 1,
    # F = 10/11 (a 5x5 cv2 ellipse contains (1,2) and would give 1)
    assert f_measure(pred, gt, bound_th=2) == pytest.approx(10 / 11)
    # relative tolerance: 100x100 has diagonal 141.42, so 0.01 -> r = 2 and 0.007 -> r = 1
    big_p, big_g = np.zeros((100, 100), bool), np.zeros((100, 100), bool)
    big_p[:10, :10], big_g[:10, :10] = pred, gt
    assert f_measure(big_p, big_g, bound_th=0.01) == pytest.approx(10 / 11)
    assert f_measure(big_p, big_g, bound_th=0.007) == pytest.approx(0.4)


def test_f_cropped_equals_uncropped_reference():
    rng = np.random.default_rng(7)
    for case in range(24):
        h, w = rng.integers(8, 40, size=2)
        vid = blob_video(rng, 2, h, w, [1, 2])
        gt, pred = vid[0] == 1, vid[1] >= 1
        if case % 3 == 0:  # salt noise: scattered boundaries far apart
            pred ^= rng.random((h, w)) < 0.03
        void = rng.random((h, w)) < 0.05 if case % 4 == 0 else None
        for bound_th in (0.008, 0.05, 1, 2, 2.5, 3):
            got = f_measure(pred, gt, void, bound_th=bound_th)
            assert got == pytest.approx(ref_f(pred, gt, void, bound_th), abs=1e-12), (case, bound_th)
    stack_p, stack_g = np.stack([pred, gt]), np.stack([gt, gt])
    np.testing.assert_allclose(f_measure(stack_p, stack_g), [ref_f(pred, gt), 1.0])


# --------------------------------------------------------------------------------------------- statistics


def test_statistics_decay_bins_by_hand():
    # n = 10: linspace(1, 10, 5) = 1, 3.25, 5.5, 7.75, 10 -> ids 0, 2, 5, 7, 9
    x = np.arange(10) / 10
    m, r, d = statistics(x)
    assert m == pytest.approx(0.45)
    assert r == pytest.approx(0.4)  # 0.6, 0.7, 0.8, 0.9 (0.5 itself is not > 0.5)
    assert d == pytest.approx((0.0 + 0.1 + 0.2) / 3 - (0.7 + 0.8 + 0.9) / 3)
    # n = 3: 1, 1.5, 2, 2.5, 3 rounds half up -> ids 0, 1, 1, 2, 2: first bin x[0:2], last bin x[2:3]
    # (numpy's half-to-even rounding would make the last bin x[1:3] and D = 0.5)
    assert statistics([1.0, 0.5, 0.0])[2] == pytest.approx(0.75)
    assert statistics([0.7]) == pytest.approx((0.7, 1.0, 0.0))


def test_statistics_long_series_does_not_wrap():
    # n = 300: ids 0, 75, 150, 224, 299 (299 would wrap to 43 as uint8 and empty the last bin)
    x = np.r_[np.ones(150), np.zeros(150)]
    m, r, d = statistics(x)
    assert (m, r, d) == pytest.approx((0.5, 0.5, 1.0))
    y = np.linspace(0, 1, 300)
    assert statistics(y)[2] == pytest.approx(y[0:76].mean() - y[224:300].mean())


def test_statistics_nan_handling():
    x = [math.nan, 1.0, 0.2, math.nan, 0.9]
    m, r, d = statistics(x)
    assert m == pytest.approx(0.7)  # nan skipped
    assert r == pytest.approx(2 / 5)  # nan counted as a miss
    assert d == pytest.approx(1.0 - 0.9)  # bins x[0:2] and x[3:5], nan skipped inside
    assert math.isnan(statistics([math.nan, math.nan, 1.0, math.nan, math.nan])[2])
    assert all(math.isnan(v) for v in statistics([]))
    with pytest.raises(ValidationError):
        statistics(np.zeros((2, 2)))


# ------------------------------------------------------------------------------------------- protocol


def test_evaluate_arrays_matches_reference():
    gt, pred, void = make_case()
    ev = evaluate_arrays(gt, pred, void)
    summary, per_obj = ref_protocol(gt, pred, void)
    assert_matches_ref(ev, summary, per_obj)
    assert set(per_obj) == {"a_1", "a_2", "a_3", "b_1", "b_2", "b_3", "c_1", "c_2"}
    assert len(ev.per_frame["b_1"]["J"]) == 10  # 12 frames minus first and last
    np.testing.assert_array_equal(ev.per_frame["c_1"]["J"][2:5], 0.0)  # empty pred frames 3..5
    assert ev.per_frame["c_1"]["J"][0] == 1.0


def test_evaluate_arrays_use_void_matches_reference():
    gt, pred, void = make_case(seed=3)
    ev = evaluate_arrays(gt, pred, void, use_void=True)
    assert_matches_ref(ev, *ref_protocol(gt, pred, void, use_void=True))
    assert ev.summary != evaluate_arrays(gt, pred, void).summary


def test_evaluate_arrays_errors():
    gt, pred, void = make_case()
    bad = dict(pred, a=np.where(pred["a"] == 1, 4, pred["a"]))  # id 4 > 3 objects
    with pytest.raises(ValidationError, match=r"'a'.*4"):
        evaluate_arrays(gt, bad, void)
    with pytest.raises(ValidationError, match="shape"):
        evaluate_arrays(gt, dict(pred, c=pred["c"][:, :-1]), void)
    with pytest.raises(ValidationError, match="void"):
        evaluate_arrays(gt, pred, dict(void, a=void["a"][:5]))
    with pytest.raises(ValidationError, match="'c'"):
        evaluate_arrays(gt, {k: v for k, v in pred.items() if k != "c"})
    with pytest.raises(ValidationError, match="frames"):
        evaluate_arrays({"x": gt["c"][:2]}, {"x": pred["c"][:2]})


# ------------------------------------------------------------------------------------------- datasets


class FakeDataset:
    """The read API evaluate() relies on, backed by dicts."""

    def __init__(self):
        self.seqs, self.ents, self.by_seq, self.masks = {}, {}, {}, {}

    def add_sequence(self, sid, name, t, h, w):
        self.seqs[sid] = {"id": sid, "name": name, "width": w, "height": h, "num_frames": t}
        self.by_seq[sid] = []

    def add_entity(self, sid, eid, name, frames, void=False):
        self.ents[eid] = {"id": eid, "name": name, "void": void}
        self.by_seq[sid].append(eid)
        for t, m in enumerate(frames):
            if m.any():  # no mask where the entity is absent
                self.masks[(sid, t, eid)] = m.copy()

    def sequence_ids(self):
        return list(self.seqs)

    def sequence(self, sid):
        return self.seqs[sid]

    def entity_ids(self, sid):
        return list(self.by_seq[sid])

    def entity(self, eid):
        return self.ents[eid]

    def mask(self, sid, t, eid):
        return self.masks.get((sid, t, eid))


def to_datasets(gt, pred, void, rng):
    gds, pds = FakeDataset(), FakeDataset()
    for name, g in gt.items():
        t, h, w = g.shape
        gds.add_sequence(f"g-{name}", name, t, h, w)
        pds.add_sequence(f"p-{name}", name, t, h, w)
        ids = [int(k) for k in np.unique(g) if 0 < k < 255]
        for k in rng.permutation(ids):  # creation order must not matter
            gds.add_entity(f"g-{name}", f"g-{name}-{k}", str(k), g == k)
        v = (g == 255) | void.get(name, False)
        gds.add_entity(f"g-{name}", f"g-{name}-void", "void", v, void=True)
        for k in rng.permutation([int(k) for k in np.unique(pred[name]) if k > 0]):
            pds.add_entity(f"p-{name}", f"p-{name}-{k}", str(k), pred[name] == k)
    return gds, pds


def test_evaluate_dataset_equals_arrays():
    gt, pred, void = make_case(seed=5)
    gds, pds = to_datasets(gt, pred, void, np.random.default_rng(1))
    ev_arr = evaluate_arrays(gt, pred, void)
    ev_ds = evaluate(pds, gds)
    assert ev_ds.summary == pytest.approx(ev_arr.summary, abs=1e-12)
    assert list(ev_ds.per_object) == list(ev_arr.per_object)
    for key, jf in ev_arr.per_object.items():
        assert ev_ds.per_object[key] == pytest.approx(jf, abs=1e-12)
    for key, frames in ev_arr.per_frame.items():
        np.testing.assert_allclose(ev_ds.per_frame[key]["J"], frames["J"], atol=1e-12)
        np.testing.assert_allclose(ev_ds.per_frame[key]["F"], frames["F"], atol=1e-12)
    ev_used = evaluate(pds, gds, use_void=True)
    assert ev_used.summary == pytest.approx(evaluate_arrays(gt, pred, void, use_void=True).summary)
    only_c = evaluate(pds, gds, sequences=["c"])
    assert set(only_c.per_object) == {"c_1", "c_2"}
    assert only_c.per_object["c_1"] == pytest.approx(ev_arr.per_object["c_1"])


def test_evaluate_dataset_errors_and_overlaps():
    gt, pred, void = make_case(seed=5)
    rng = np.random.default_rng(2)
    gds, pds = to_datasets(gt, pred, void, rng)
    del pds.seqs["p-b"]
    with pytest.raises(ValidationError, match="'b'"):
        evaluate(pds, gds)
    with pytest.raises(ValidationError, match="'zzz'"):
        evaluate(pds, gds, sequences=["zzz"])
    # an extra prediction object only on the (unevaluated) first frame is ignored; on frame 2 it is not
    gds, pds = to_datasets(gt, pred, void, rng)
    extra = np.zeros_like(gt["a"], dtype=bool)
    extra[0, :3, :3] = True
    pds.add_entity("p-a", "p-a-9", "9", extra)
    evaluate(pds, gds)
    extra[2, :3, :3] = True
    pds.add_entity("p-a", "p-a-8", "8", extra)
    with pytest.raises(ValidationError, match=r"'a' frame 2.*8"):
        evaluate(pds, gds)
    # each prediction object is scored on its own mask, so overlapping masks are fine
    g = np.zeros((4, 12, 12), np.int32)
    g[:, 2:6, 2:6], g[:, 6:10, 6:10] = 1, 2
    gds, pds = FakeDataset(), FakeDataset()
    gds.add_sequence("s", "s", 4, 12, 12)
    pds.add_sequence("s", "s", 4, 12, 12)
    gds.add_entity("s", "g1", "1", g == 1)
    gds.add_entity("s", "g2", "2", g == 2)
    pds.add_entity("s", "p1", "1", g > 0)  # covers object 2 as well
    pds.add_entity("s", "p2", "2", g == 2)
    ev = evaluate(pds, gds)
    assert ev.per_object["s_2"] == (1.0, 1.0)
    assert ev.per_object["s_1"][0] == pytest.approx(16 / 32)
    pds.add_entity("s", "px", "car", g == 1)
    with pytest.raises(ValidationError, match="'car'"):
        evaluate(pds, gds)


def test_evaluate_matches_names_and_ids_and_refuses_guesses():
    g = np.zeros((4, 12, 12), np.int32)
    g[:, 2:6, 2:6], g[:, 6:10, 6:10] = 1, 2
    gds, pds = FakeDataset(), FakeDataset()
    gds.add_sequence("s", "s", 4, 12, 12)
    pds.add_sequence("s", "s", 4, 12, 12)
    gds.add_entity("s", "g-dog", "dog", g == 2)  # no DAVIS id: takes the smallest free one, 1
    gds.add_entity("s", "g-2", "2", g == 1)
    pds.add_entity("s", "p-2", "2", g == 1)  # by id
    pds.add_entity("s", "p-dog", "dog", g == 2)  # by name
    ev = evaluate(pds, gds)
    assert ev.matches == {"s_1": ("dog", "dog"), "s_2": ("2", "2")}
    assert ev.summary["J&F-Mean"] == 1.0
    pds.add_entity("s", "p-1", "1", g == 2)  # object 1 is the ground truth's "dog": "1" would be a guess
    with pytest.raises(ValidationError, match=r"ambiguous match: prediction entity '1' is DAVIS id 1.*'dog'"):
        evaluate(pds, gds)
    gds.add_entity("s", "g-dup", "2", g == 1)
    with pytest.raises(ValidationError, match="two ground-truth entities are named '2'"):
        evaluate(pds, gds)


def test_to_pandas():
    pytest.importorskip("pandas")
    gt, pred, void = make_case()
    ev = evaluate_arrays(gt, pred, void)
    df = ev.to_pandas()
    assert list(df.columns) == ["Sequence", "J-Mean", "F-Mean"]
    assert list(df["Sequence"]) == list(ev.per_object)
    assert df["J-Mean"].tolist() == [j for j, _ in ev.per_object.values()]
