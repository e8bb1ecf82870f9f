"""The review queue's ranking on real video: the six DAVIS-2016 dev sequences in ``../shared/data``.

The ground-truth masks stand for a propagated result (every frame a non-keyframe mask, frame 0 the
keyframe a person set), and realistic errors are injected on random frames with a fixed seed:

- ``shift``: the mask moved off its object by 10-20% of the object's size (a tracker lagging);
- ``lost``: the mask missing on one frame (a tracker losing the object and finding it again);
- ``leak``: a blob of background next to the object, a fifth to two fifths of its area, joined to it;
- ``erosion``: the mask eaten away all round until it lost 20-35% of its area (a tracker shrinking);
- ``piece``: a piece of another object (another sequence's true mask, 15-30% of this one's area)
  added somewhere in the background (a tracker picking up a distractor).

Each mask is given the score the flow engine would give it (dense.py's check of a mask against
its keyframe's colour models and area, reused through its own functions), so the engine score
alone can be measured as a ranking too. The measure is precision@k, k the number of injected
errors of a sequence: the share of the k most suspicious rows of ``ds.review`` that are injected
errors, summed over the six sequences; against a random order and the engine score alone. Once with
every kind mixed (two of each per sequence), once per kind alone (three per sequence).

Run as a script to print the figures: ``python tests/test_review_davis.py``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import vidlabel as vl
from vidlabel.segment.dense import checked_score, colour_index, colour_table
from vidlabel.segment.scale import TrackingScale

DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "davis2016-dev"
KINDS = ("shift", "lost", "leak", "erosion", "piece")
SEED = 14


def sequences() -> list[str]:
    assert DEV.is_dir(), f"the DAVIS-2016 dev sequences belong next to the repository, in {DEV}"
    return (DEV / "ImageSets" / "2016" / "val.txt").read_text().split()


@cache
def truth(name: str) -> np.ndarray:
    files = sorted((DEV / "Annotations" / "480p" / name).glob("*.png"))
    return np.stack([np.asarray(Image.open(p).convert("L")) > 127 for p in files])


def frames_dir(name: str) -> str:
    return str(DEV / "JPEGImages" / "480p" / name)


# ---------------------------------------------------------------------- errors
def _disc(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def shift(m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    d = rng.uniform(0.10, 0.20) * np.sqrt(m.sum())
    a = rng.uniform(0, 2 * np.pi)
    t = np.float32([[1, 0, d * np.cos(a)], [0, 1, d * np.sin(a)]])
    return cv2.warpAffine(m.astype(np.uint8), t, m.shape[::-1], flags=cv2.INTER_NEAREST) > 0


def leak(m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    edge = m & ~cv2.erode(m.astype(np.uint8), _disc(1)).astype(bool)
    ys, xs = np.nonzero(edge)
    i = rng.integers(len(ys))
    # The blob is centred on the outline, so about half of it falls outside the object.
    want = 2 * rng.uniform(0.2, 0.4) * m.sum()
    ratio = rng.uniform(1, 3)
    ax = np.sqrt(want / (np.pi * ratio))
    blob = np.zeros(m.shape, np.uint8)
    cv2.ellipse(
        blob, (int(xs[i]), int(ys[i])), (int(ax * ratio), max(1, int(ax))), rng.uniform(0, 180), 0, 360, 1, -1
    )
    return m | blob.astype(bool)


def erosion(m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    target = (1 - rng.uniform(0.20, 0.35)) * m.sum()
    out = m
    for r in range(1, 60):
        e = cv2.erode(m.astype(np.uint8), _disc(r)).astype(bool)
        if not e.any():
            break
        out = e
        if e.sum() <= target:
            break
    return out


def piece(m: np.ndarray, rng: np.random.Generator, name: str) -> np.ndarray:
    others = [s for s in sequences() if s != name]
    src = truth(str(rng.choice(others)))
    o = src[rng.integers(len(src))]
    ys, xs = np.nonzero(o)
    o = o[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.uint8)
    s = np.sqrt(rng.uniform(0.15, 0.30) * m.sum() / o.sum())
    o = cv2.resize(
        o, (max(1, int(o.shape[1] * s)), max(1, int(o.shape[0] * s))), interpolation=cv2.INTER_NEAREST
    )
    h, w = m.shape
    oh, ow = min(o.shape[0], h), min(o.shape[1], w)
    o = o[:oh, :ow].astype(bool)
    for _ in range(200):  # somewhere in the background, off the object
        y, x = int(rng.integers(0, h - oh + 1)), int(rng.integers(0, w - ow + 1))
        if not (m[y : y + oh, x : x + ow] & o).any():
            break
    out = m.copy()
    out[y : y + oh, x : x + ow] |= o
    return out


def inject(
    name: str, gt: np.ndarray, plan: list[str], rng: np.random.Generator
) -> dict[int, tuple[str, np.ndarray | None]]:
    """Errors of the kinds in ``plan`` on distinct random frames (never the keyframe 0)."""
    frames = rng.choice(np.arange(1, len(gt)), size=len(plan), replace=False)
    out: dict[int, tuple[str, np.ndarray | None]] = {}
    for f, kind in zip(frames, plan):
        m = gt[f]
        made = (
            shift(m, rng)
            if kind == "shift"
            else None
            if kind == "lost"
            else leak(m, rng)
            if kind == "leak"
            else erosion(m, rng)
            if kind == "erosion"
            else piece(m, rng, name)
        )
        out[int(f)] = (kind, made)
    return out


# ---------------------------------------------------------------------- the flow engine's score
def engine_scores(name: str, masks: dict[int, np.ndarray]) -> dict[int, float]:
    """The score dense.py gives a mask on each frame against keyframe 0 (``checked_score``)."""
    ds = vl.Dataset()
    seq = ds.add_sequence(name, frames=frames_dir(name))
    h, w = masks[0].shape
    scale = TrackingScale(w, h, 480)
    rgb0, _ = scale.frame(ds, seq, 0)
    m0 = scale.shrink(masks[0]) > 0.5
    llr = colour_table(rgb0, m0)
    out = {}
    for f, m in masks.items():
        small = scale.shrink(m) > 0.5
        if small.sum() < 4:
            out[f] = 0.0
            continue
        rgb, _ = scale.frame(ds, seq, f)
        out[f] = checked_score(small, colour_index(rgb), llr, int(m0.sum()))
    return out


# ---------------------------------------------------------------------- the measure
def run(plans: dict[str, list[str]], seed: int) -> dict[str, dict]:
    """Per sequence: the injected errors, and the orders of ds.review and of the score."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in sequences():
        gt = truth(name)
        errors = inject(name, gt, plans[name], rng)
        masks = {f: gt[f] for f in range(len(gt))}
        for f, (_, m) in errors.items():
            if m is None:
                del masks[f]
            else:
                masks[f] = m
        masks = {f: m for f, m in masks.items() if m.any()}
        scores = engine_scores(name, masks)
        ds = vl.Dataset()
        seq = ds.add_sequence(name, frames=frames_dir(name))
        e = ds.add_entity(seq, name="1")
        ds.set_mask(seq, 0, e, masks[0], score=1.0)
        ds.set_masks(
            seq, e, {f: m for f, m in masks.items() if f}, source="flow", score=scores, keyframe=False
        )
        q = ds.review(seq)
        rows = q.column("frame_index").to_pylist()
        by_score = sorted(rows, key=lambda f: (scores.get(f, 0.0), f))
        jays = {
            f: 0.0 if m is None else float((m & gt[f]).sum() / (m | gt[f]).sum())
            for f, (_, m) in errors.items()
        }
        reasons = dict(zip(rows, q.column("reasons").to_pylist()))
        out[name] = {"errors": errors, "review": rows, "score": by_score, "J": jays, "reasons": reasons}
    return out


def precision(result: dict[str, dict], order: str, kind: str | None = None) -> float:
    """Hits in the top k of each sequence (k = its number of errors), over the errors (of ``kind``)."""
    hits = total = 0
    for r in result.values():
        errs = r["errors"]
        top = set(r[order][: len(errs)])
        for f, (k, _) in errs.items():
            if kind is None or k == kind:
                total += 1
                hits += f in top
    return hits / max(1, total)


def random_precision(result: dict[str, dict], draws: int = 200) -> float:
    rng = np.random.default_rng(0)
    got = []
    for _ in range(draws):
        hits = total = 0
        for r in result.values():
            rows = list(r["review"])
            rng.shuffle(rows)
            hits += len(set(rows[: len(r["errors"])]) & set(r["errors"]))
            total += len(r["errors"])
        got.append(hits / total)
    return float(np.mean(got))


@cache
def mixed() -> dict[str, dict]:
    return run({n: [k for k in KINDS for _ in range(2)] for n in sequences()}, SEED)


@cache
def alone(kind: str) -> dict[str, dict]:
    return run({n: [kind] * 3 for n in sequences()}, SEED + 1 + KINDS.index(kind))


# ---------------------------------------------------------------------- tests
def test_the_queue_puts_the_injected_errors_first() -> None:
    """Every kind mixed, 10 errors per sequence: precision@k of ds.review measured at 0.950 when
    written (random order 0.153, the engine score alone 0.617). Under seeds 1-4 it was 0.908 in all
    (the weights were chosen there, see weights.py). Of the three errors it misses, two are masks
    lost on the last two frames of blackswan: a track that ends early looks like an object that
    left, and is no row of the queue."""
    r = mixed()
    p, by_score, rand = precision(r, "review"), precision(r, "score"), random_precision(r)
    assert p >= 0.9, (p, by_score, rand)
    assert p > by_score + 0.2 and p > rand + 0.5


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_error_is_found_alone(kind: str) -> None:
    """Each kind alone, 3 per sequence: precision@k of ds.review; the figures when written are in
    FLOORS (a little under what was measured)."""
    p = precision(alone(kind), "review")
    assert p >= FLOORS[kind], (kind, p, precision(alone(kind), "score"))


# Measured when written: shift 0.889, lost 0.944, leak 0.889, erosion 0.944, piece 0.833 (the
# engine score alone: 0.667, 1.000, 0.500, 0.556, 0.389; a random order about 0.05).
FLOORS = {"shift": 0.8, "lost": 0.9, "leak": 0.8, "erosion": 0.85, "piece": 0.75}


if __name__ == "__main__":
    r = mixed()
    print(f"mixed (2 of each kind per sequence, k = {sum(len(x['errors']) for x in r.values())} in all)")
    print(f"  ds.review      precision@k {precision(r, 'review'):.3f}")
    print(f"  engine score   precision@k {precision(r, 'score'):.3f}")
    print(f"  random order   precision@k {random_precision(r):.3f}")
    for kind in KINDS:
        js = [j for x in r.values() for f, j in x["J"].items() if x["errors"][f][0] == kind]
        print(
            f"  {kind:<8} found in top k: review {precision(r, 'review', kind):.3f}  "
            f"score {precision(r, 'score', kind):.3f}   (mean J of the injected masks {np.mean(js):.2f})"
        )
    print("per sequence (review hits / k):")
    for name, x in r.items():
        top = x["review"][: len(x["errors"])]
        missed = {f: x["errors"][f][0] for f in x["errors"] if f not in top}
        print(f"  {name:<15} {len(set(top) & set(x['errors']))}/{len(x['errors'])}  missed {missed}")
        for f in top:
            if f not in x["errors"]:
                print(f"      false alarm at frame {f}: {x['reasons'].get(f)}")
    print("each kind alone (3 per sequence, k = 18):")
    for kind in KINDS:
        a = alone(kind)
        print(
            f"  {kind:<8} review {precision(a, 'review'):.3f}  score {precision(a, 'score'):.3f}  "
            f"random {random_precision(a):.3f}"
        )
