"""Prompts of the flow engine on real images: six DAVIS-2016 sequences, frames 0, n//2 and n-1 of each.

Each prompt goes through a session on the whole sequence, loaded from its JPEG folder as a user's
would be (``sess.prompt``, the engine's defaults: a box's engine reads the frames around it for
motion evidence), and is scored with ``vl.metrics.jaccard`` against the ground truth: one click
at the object's interior point farthest from its outline, a tight box around the object, a negative click on a
region the box wrongly took, and a second click on what the first one missed. Thresholds sit a
little under the figures measured when they were set (printed by ``python
tests/test_segment_prompts_davis.py``); the same measures run on the fourteen held-out DAVIS
sequences. Also here: the geodesic distances behind the clicks, checked exactly against Dijkstra.
"""

from __future__ import annotations

import heapq
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import vidlabel as vl
from vidlabel.segment.geodesic import Costs

DAVIS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "davis2016-dev"


Case = tuple[str, int, np.ndarray, np.ndarray]  # sequence, frame, RGB, ground truth


@cache
def cases() -> list[Case]:
    assert DAVIS.is_dir(), f"the DAVIS-2016 development data is missing: {DAVIS}"
    out = []
    for seq in (DAVIS / "ImageSets" / "2016" / "val.txt").read_text().split():
        jpgs = sorted((DAVIS / "JPEGImages" / "480p" / seq).glob("*.jpg"))
        n = len(jpgs)
        for f in (0, n // 2, n - 1):
            rgb = np.asarray(Image.open(jpgs[f]).convert("RGB"))
            gt = np.asarray(
                Image.open(DAVIS / "Annotations" / "480p" / seq / f"{jpgs[f].stem}.png").convert("L")
            )
            out.append((seq, f, rgb, gt > 127))
    return out


@cache
def dataset(seq: str) -> vl.Dataset:
    """The whole sequence, read from its JPEG folder as a user would load it: a prompt's engine may
    read the frames around the prompted one (a box's motion evidence)."""
    ds = vl.Dataset()
    ds.add_sequence(seq, frames=str(DAVIS / "JPEGImages" / "480p" / seq))
    ds.add_entity(seq, name="object")
    return ds


def session(seq: str) -> vl.segment.Session:
    return vl.segment.load("flow").session(dataset(seq), seq)


def inside(mask: np.ndarray) -> tuple[int, int]:
    """The pixel of ``mask`` farthest from its outline, as (x, y)."""
    d = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    y, x = np.unravel_index(int(d.argmax()), d.shape)
    return int(x), int(y)


def bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def largest_part(mask: np.ndarray) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros_like(mask)
    return labels == 1 + int(stats[1:, cv2.CC_STAT_AREA].argmax())


def per_sequence(rows: list[tuple[str, float]]) -> str:
    by: dict[str, list[float]] = {}
    for seq, v in rows:
        by.setdefault(seq, []).append(v)
    return ", ".join(f"{s} {np.mean(v):.3f}" for s, v in by.items())


# ------------------------------------------------------------------------------------------ measures
@cache
def clicks() -> list[tuple[str, float, float]]:
    """Per case: J of one click, and the share of the object it covers."""
    out = []
    for seq, f, _, gt in cases():
        mask, score = session(seq).prompt(f, "object", points=[inside(gt)], write=False)
        assert 0.0 <= score <= 1.0
        out.append((seq, vl.metrics.jaccard(mask, gt), np.count_nonzero(mask & gt) / np.count_nonzero(gt)))
    return out


@cache
def boxes() -> list[tuple[str, float, int, int]]:
    """Per case: J of a tight box, the mask's area, and its pixels outside the box."""
    out = []
    for seq, f, _, gt in cases():
        x0, y0, x1, y1 = bbox(gt)
        mask, _ = session(seq).prompt(f, "object", box=(x0, y0, x1, y1), write=False)
        outside = np.count_nonzero(mask) - np.count_nonzero(mask[y0:y1, x0:x1])
        out.append((seq, vl.metrics.jaccard(mask, gt), int(np.count_nonzero(mask)), outside))
    return out


@cache
def negatives() -> list[tuple[str, float, float, float, bool, float, bool]]:
    """Where a tight box took a wrong region of some size (1% of the box or more): a negative click
    at that region's interior point. Per case: J before and after, the share of the region left,
    whether the clicked pixel is out, the share of the object's pixels the click took out, and
    whether the click added nothing."""
    out = []
    for seq, f, _, gt in cases():
        x0, y0, x1, y1 = bbox(gt)
        sess = session(seq)
        before, _ = sess.prompt(f, "object", box=(x0, y0, x1, y1), write=False)
        wrong = largest_part(before & ~gt)
        if np.count_nonzero(wrong) < 0.01 * (x1 - x0) * (y1 - y0):
            continue
        x, y = inside(wrong)
        after, _ = sess.prompt(f, "object", points=[(x, y)], labels=[0], clear=False, write=False)
        left = np.count_nonzero(after & wrong) / np.count_nonzero(wrong)
        lost = np.count_nonzero(before & ~after & gt) / np.count_nonzero(gt)
        out.append(
            (
                seq,
                vl.metrics.jaccard(before, gt),
                vl.metrics.jaccard(after, gt),
                left,
                not after[y, x],
                lost,
                not (after & ~before).any(),
            )
        )
    return out


@cache
def second_clicks() -> list[tuple[str, float, float, float, bool]]:
    """One click, then a second positive click (clear=False) inside the largest part it missed.
    Per case: J after one click and after both, the share of the missed part the second adds, and
    whether it removed nothing."""
    out = []
    for seq, f, _, gt in cases():
        sess = session(seq)
        first, _ = sess.prompt(f, "object", points=[inside(gt)], write=False)
        missed = largest_part(gt & ~first)
        if not missed.any():
            continue
        both, _ = sess.prompt(f, "object", points=[inside(missed)], clear=False, write=False)
        assert both[inside(missed)[::-1]]
        added = np.count_nonzero(both & missed) / np.count_nonzero(missed)
        kept = not (first & ~both).any()
        out.append((seq, vl.metrics.jaccard(first, gt), vl.metrics.jaccard(both, gt), added, kept))
    return out


# ------------------------------------------------------------------------------------------- tests
def test_one_click_gives_the_object() -> None:
    """The issue's bar: mean J >= 0.50 from one click, and no click gives a few pixels."""
    rows = clicks()
    j = np.mean([r[1] for r in rows])
    assert j >= 0.50, f"one click: mean J {j:.3f} ({per_sequence([(r[0], r[1]) for r in rows])})"
    worst = min(r[2] for r in rows)
    assert worst >= 0.25, f"a click covered only {worst:.1%} of its object"


def test_a_tight_box_gives_the_object_inside_it() -> None:
    """The issue's bar: mean J >= 0.75 from a tight box (0.761 measured when this was set), never
    an empty mask, never a pixel outside the box."""
    rows = boxes()
    j = np.mean([r[1] for r in rows])
    assert j >= 0.75, f"tight box: mean J {j:.3f} ({per_sequence([(r[0], r[1]) for r in rows])})"
    assert all(r[2] > 0 for r in rows), "a box that holds an object gave an empty mask"
    assert all(r[3] == 0 for r in rows), "a box's mask went outside the box"


def test_a_negative_click_removes_the_wrong_region() -> None:
    """A negative click edits the box's mask: it removes the region it is on and adds nothing. It
    also takes some of the object next to that region (it removes the mask's pixels geodesically
    nearer the click than the mask's far half: ``correct.py``): when this was written, 12 cases,
    mean J 0.724 -> 0.696, 81% of the clicked regions removed and 7.9% of the object with them.
    J is held from falling by more than 0.04 and the object's share taken is bounded."""
    rows = negatives()
    assert len(rows) >= 6, "too few boxes took a wrong region to measure negative clicks on"
    assert all(r[4] for r in rows), "a negative click's pixel stayed in the mask"
    assert all(r[6] for r in rows), "a negative click added pixels to the mask"
    left = np.mean([r[3] for r in rows])
    assert left <= 0.30, f"{left:.0%} of the clicked wrong regions stayed, on average"
    lost = np.mean([r[5] for r in rows])
    assert lost <= 0.10, f"a negative click took out {lost:.1%} of the object, on average"
    before, after = np.mean([r[1] for r in rows]), np.mean([r[2] for r in rows])
    assert after >= before - 0.04, f"a negative click took mean J from {before:.3f} to {after:.3f}"


def test_a_second_click_adds_the_part_it_is_on() -> None:
    """A second click edits the first click's mask: it adds what it is on and removes nothing
    (``correct.py``); mean J holds (0.546 -> 0.537 when this was written: part of what a click
    near the object's edge adds is background)."""
    rows = second_clicks()
    assert all(r[4] for r in rows), "a second positive click removed pixels from the mask"
    added = np.mean([r[3] for r in rows])
    assert added >= 0.50, f"a second click added {added:.0%} of the part it was on, on average"
    first, both = np.mean([r[1] for r in rows]), np.mean([r[2] for r in rows])
    assert both >= first - 0.03, (
        f"two clicks: mean J {first:.3f} -> {both:.3f} ({per_sequence([(r[0], r[2]) for r in rows])})"
    )


# ------------------------------------------------------------------------------- geodesic distances
def dijkstra(costs: Costs, seeds: np.ndarray) -> np.ndarray:
    h, w = costs.shape
    dist = np.full((h, w), np.inf)
    heap = [(0.0, int(y), int(x)) for y, x in zip(*np.nonzero(seeds))]
    for _, y, x in heap:
        dist[y, x] = 0.0
    heapq.heapify(heap)
    while heap:
        d, y, x = heapq.heappop(heap)
        if d > dist[y, x]:
            continue
        steps = []
        if x + 1 < w:
            steps.append((y, x + 1, costs.right[y, x]))
        if x > 0:
            steps.append((y, x - 1, costs.right[y, x - 1]))
        if y + 1 < h:
            steps.append((y + 1, x, costs.down[y, x]))
        if y > 0:
            steps.append((y - 1, x, costs.down[y - 1, x]))
        for ny, nx, c in steps:
            if d + c < dist[ny, nx]:
                dist[ny, nx] = d + c
                heapq.heappush(heap, (d + c, ny, nx))
    return dist


@pytest.mark.parametrize("kind", ["noise", "walls"])
def test_geodesic_distances_are_shortest_paths(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The row and column sweeps give Dijkstra's distances (given sweeps enough to converge)."""
    import vidlabel.segment.geodesic as geodesic

    monkeypatch.setattr(geodesic, "_MAX_SWEEPS", 100)
    rng = np.random.default_rng(3)
    if kind == "noise":
        img = rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)
    else:  # a maze-like image: flat corridors between bright walls, so paths wind
        img = np.zeros((40, 56, 3), np.uint8)
        for k, x in enumerate(range(6, 56, 8)):
            img[(slice(0, 32) if k % 2 else slice(8, 40)), x : x + 2] = 255
    costs = Costs(img)
    seeds = np.zeros(costs.shape, bool)
    seeds[3, 2] = seeds[30, 50] = True
    got = costs.distance(seeds)
    want = dijkstra(costs, seeds)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-2)


if __name__ == "__main__":  # the figures the thresholds were set from
    c = clicks()
    print(f"click: mean J {np.mean([r[1] for r in c]):.3f}; {per_sequence([(r[0], r[1]) for r in c])}")
    print(f"       least share of an object covered {min(r[2] for r in c):.3f}")
    b = boxes()
    print(f"box:   mean J {np.mean([r[1] for r in b]):.3f}; {per_sequence([(r[0], r[1]) for r in b])}")
    print(f"       smallest mask {min(r[2] for r in b)} px; pixels outside a box {max(r[3] for r in b)}")
    n = negatives()
    print(
        f"negative: {len(n)} cases, mean J {np.mean([r[1] for r in n]):.3f} -> "
        f"{np.mean([r[2] for r in n]):.3f}, "
        f"share of the wrong region left {np.mean([r[3] for r in n]):.3f}, "
        f"share of the object taken {np.mean([r[5] for r in n]):.3f}; "
        f"{per_sequence([(r[0], r[3]) for r in n])}"
    )
    s = second_clicks()
    print(
        f"second click: mean J {np.mean([r[1] for r in s]):.3f} -> {np.mean([r[2] for r in s]):.3f}, "
        f"share of the missed part added {np.mean([r[3] for r in s]):.3f}; "
        f"{per_sequence([(r[0], r[2]) for r in s])}"
    )
