"""Active selection on real video: labelling the frames ``ds.suggest_keyframes`` picks, against
labelling as many evenly spaced frames, on the six DAVIS-2016 dev sequences in ``../shared/data``.

The protocol, as a user would run it: the true first mask is given as a mask prompt, the flow engine
propagates it forward; ``suggest_keyframes(seq, k)`` names k frames; the "person" labels them with
the ground truth (mask prompts in the same session: keyframes), and one forward propagation from the
first frame re-anchors at each keyframe (segment/base.py: a prompt on a frame of a pass restarts the
entity from it). The same is done for k evenly spaced frames (round(i * N / (k + 1))). J&F follows
the DAVIS protocol (vidlabel.metrics.evaluate; first and last frames excluded).

Run as a script to print the per-sequence figures.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

import vidlabel as vl

DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "davis2016-dev"
KS = (2, 3, 5)


@cache
def truth() -> vl.Dataset:
    assert DEV.is_dir(), f"the DAVIS-2016 dev sequences belong next to the repository, in {DEV}"
    return vl.read_davis(DEV, progress=False)


def _run(name: str, keyframes: list[int]) -> float:
    """J&F of one forward propagation from the true first mask, re-anchored at ``keyframes``."""
    gt = truth()
    eg = gt.entity_ids(name)[0]
    ds = vl.Dataset()
    seq = ds.add_sequence(name, frames=str(DEV / "JPEGImages" / "480p" / name))
    e = ds.add_entity(seq, name="1")
    sess = vl.segment.load("flow").session(ds, seq)
    for f in sorted({0, *keyframes}):
        sess.prompt(f, e, mask=gt.mask(name, f, eg))
    sess.propagate_into(start=0, progress=False)
    return vl.metrics.evaluate(ds, gt, sequences=name).summary["J&F-Mean"]


def even(n: int, k: int) -> list[int]:
    return [round(i * n / (k + 1)) for i in range(1, k + 1)]


def measure() -> dict[str, dict[str, float | list[int]]]:
    """Per sequence: J&F from the first mask alone, then per k the suggested and the even frames and
    the J&F of labelling each."""
    gt = truth()
    out: dict[str, dict[str, float | list[int]]] = {}
    for name in gt.sequence_ids():
        eg = gt.entity_ids(name)[0]
        ds = vl.Dataset()
        seq = ds.add_sequence(name, frames=str(DEV / "JPEGImages" / "480p" / name))
        e = ds.add_entity(seq, name="1")
        sess = vl.segment.load("flow").session(ds, seq)
        sess.prompt(0, e, mask=gt.mask(name, 0, eg))
        sess.propagate_into(start=0, progress=False)
        row: dict[str, float | list[int]] = {
            "first": vl.metrics.evaluate(ds, gt, sequences=name).summary["J&F-Mean"]
        }
        n = ds.num_frames(seq)
        for k in KS:
            picked = sorted(int(f) for f in ds.suggest_keyframes(seq, k).column("frame_index").to_pylist())
            spaced = even(n, k)
            row[f"suggested{k}"], row[f"even{k}"] = picked, spaced
            row[f"jf_suggested{k}"], row[f"jf_even{k}"] = _run(name, picked), _run(name, spaced)
        out[name] = row
    return out


@pytest.fixture(scope="module")
def measured() -> dict[str, dict[str, float | list[int]]]:
    return measure()


def _mean(m: dict[str, dict[str, float | list[int]]], key: str) -> float:
    return float(np.mean([float(r[key]) for r in m.values()]))  # type: ignore[arg-type]


# Mean J&F of the six measured when written: k=2 suggested 0.6933, even 0.6985 (the suggestion loses
# by 0.005: breakdance -0.037 and car-roundabout -0.025, where the engine's score recovers while the
# true J does not, so long stretches stay on one keyframe); k=3 suggested 0.7287, even 0.7141 (+0.015,
# libby +0.09); k=5 suggested 0.7617, even 0.7556 (+0.006). For scale: moving evenly spaced keyframes
# by up to 3 frames moves a sequence's J&F by 0.003-0.010 (std), and the best pair of keyframes, found
# by trying every pair, reaches 0.729 at k=2. Taking the trust from the review's suspicion instead of
# the score (carried from each keyframe) measured 0.6957 / 0.7152 / 0.7543 at k = 2 / 3 / 5, no better:
# on clean propagations the review flags few frames (mean suspicion 0.003-0.04 but libby's 0.22).
# Asserted a little under what was measured: k=3 and k=5 beat even spacing or tie; k=2 is not worse
# beyond that noise.
MARGIN = {2: -0.01, 3: +0.01, 5: -0.002}


@pytest.mark.parametrize("k", KS)
def test_suggested_frames_against_evenly_spaced_ones(
    measured: dict[str, dict[str, float | list[int]]], k: int
) -> None:
    sug, ev = _mean(measured, f"jf_suggested{k}"), _mean(measured, f"jf_even{k}")
    detail = {n: (r[f"suggested{k}"], round(float(r[f"jf_suggested{k}"]), 3)) for n, r in measured.items()}  # type: ignore[arg-type]
    assert sug >= ev + MARGIN[k], f"k={k}: suggested {sug:.4f}, even {ev:.4f}: {detail}"
    # Labelling helps at all: more than the first mask alone.
    assert sug > _mean(measured, "first") + 0.03


def test_suggestions_are_spread_and_never_labelled(
    measured: dict[str, dict[str, float | list[int]]],
) -> None:
    for name, r in measured.items():
        for k in KS:
            picked = r[f"suggested{k}"]
            assert isinstance(picked, list) and len(picked) == k, (name, picked)
            assert 0 not in picked, (name, picked)  # frame 0 holds the first (labelled) mask
            assert min(np.diff([0, *picked])) >= 2, (name, picked)


if __name__ == "__main__":
    m = measure()
    for name, r in m.items():
        parts = [f"{name:15s} first {float(r['first']):.3f}"]  # type: ignore[arg-type]
        for k in KS:
            parts.append(
                f"k={k}: suggested {r[f'suggested{k}']} {float(r[f'jf_suggested{k}']):.3f}"  # type: ignore[arg-type]
                f" even {r[f'even{k}']} {float(r[f'jf_even{k}']):.3f}"  # type: ignore[arg-type]
            )
        print("  ".join(parts))
    for k in KS:
        print(
            f"mean k={k}: suggested {_mean(m, f'jf_suggested{k}'):.4f} even {_mean(m, f'jf_even{k}'):.4f} "
            f"first mask only {_mean(m, 'first'):.4f}"
        )
