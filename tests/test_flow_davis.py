"""The flow engine's propagation on real video: the six DAVIS-2016 dev sequences in ``../shared/data``.

DAVIS's semi-supervised protocol: the true mask of the first frame is given (here as a mask prompt),
the engine propagates it to the end, and J and F are measured on every frame but the first and the
last (``vidlabel.metrics``). The frames are read from their JPEG files by the dataset, as a user's are.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import vidlabel as vl

DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "davis2016-dev"


def sequences() -> list[str]:
    assert DEV.is_dir(), f"the DAVIS-2016 dev sequences belong next to the repository, in {DEV}"
    return (DEV / "ImageSets" / "2016" / "val.txt").read_text().split()


def truth(name: str) -> np.ndarray:
    files = sorted((DEV / "Annotations" / "480p" / name).glob("*.png"))
    return np.stack([np.asarray(Image.open(p).convert("L")) > 127 for p in files])


@pytest.fixture(scope="module")
def propagated() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per sequence: ground truth, the engine's masks and its scores, frame by frame."""
    out = {}
    for name in sequences():
        gt = truth(name)
        ds = vl.Dataset()
        seq = ds.add_sequence(name, frames=str(DEV / "JPEGImages" / "480p" / name))
        e = ds.add_entity(seq, name="1")
        sess = vl.segment.load("flow").session(ds, seq)
        sess.prompt(0, e, mask=gt[0])
        pred = np.zeros_like(gt)
        scores = np.zeros(len(gt))
        for f, results in sess.propagate(0):
            if e in results:
                pred[f], scores[f] = results[e]
        out[name] = (gt, pred, scores)
    return out


def test_propagation_from_the_first_mask_holds_on_real_video(
    propagated: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> None:
    """The issue's bar: mean J&F >= 0.60 over the six (classical methods of 2016 reached 0.6-0.66 on
    DAVIS-2016; the warp alone gives about 0.40). Measured at 0.638 when this was written."""
    ev = vl.metrics.evaluate_arrays(
        {n: gt.astype(np.uint8) for n, (gt, _, _) in propagated.items()},
        {n: pred.astype(np.uint8) for n, (_, pred, _) in propagated.items()},
    )
    per = {k: round((j + f) / 2, 3) for k, (j, f) in ev.per_object.items()}
    assert ev.summary["J&F-Mean"] >= 0.60, f"J&F {ev.summary['J&F-Mean']:.3f}: {per}"
    # No sequence is lost outright (the weakest, libby, a small fast dog behind a fence, is at ~0.39).
    assert min(per.values()) >= 0.30, per


def test_the_score_follows_the_true_quality(
    propagated: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> None:
    """The score of a propagated frame is what a review queue sorts by: it must go with the true J,
    across sequences and within each, and say more than "frames since the keyframe" does (a score
    that only decays would do as well as 1 - t/T). Measured when written: Pearson r over every
    evaluated frame of the six 0.78 (1 - t/T: 0.27); mean within a sequence 0.77 (1 - t/T: 0.58)."""

    def r(a: list[float] | np.ndarray, b: list[float] | np.ndarray) -> float:
        return float(np.corrcoef(a, b)[0, 1])

    js: list[float] = []
    scores: list[float] = []
    clock: list[float] = []
    within, within_clock = [], []
    for gt, pred, score in propagated.values():
        t = np.arange(1, len(gt) - 1)
        j = [vl.metrics.jaccard(pred[i], gt[i]) for i in t]
        js += j
        scores += list(score[t])
        clock += list(1 - t / len(gt))
        within.append(r(j, score[t]))
        within_clock.append(r(j, 1 - t / len(gt)))
    assert all(0.0 <= s <= 1.0 for s in scores)
    pooled, pooled_clock = r(js, scores), r(js, clock)
    assert pooled >= 0.6 and pooled > pooled_clock + 0.2, (pooled, pooled_clock)
    assert np.mean(within) > np.mean(within_clock) + 0.05, (within, within_clock)


def test_a_prompt_does_not_depend_on_what_ran_before() -> None:
    """GrabCut and k-means draw from OpenCV's random state: a prompt's answer must not change with it
    (the same click after a propagation or another prompt gives the same mask)."""
    import cv2

    name = sequences()[3]
    gt = truth(name)
    ds = vl.Dataset()
    seq = ds.add_sequence(name, frames=str(DEV / "JPEGImages" / "480p" / name))
    e = ds.add_entity(seq, name="1")
    sess = vl.segment.load("flow").session(ds, seq)
    ys, xs = np.nonzero(gt[10])
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    click = [(int(np.median(xs)), int(np.median(ys)))]
    answers = []
    for seed in (0, 7, 99):
        cv2.setRNGSeed(seed)
        answers.append((sess.prompt(10, e, box=box)[0], sess.prompt(10, e, points=click)[0]))
    for got in answers[1:]:
        assert np.array_equal(got[0], answers[0][0]) and np.array_equal(got[1], answers[0][1])
