"""evaluate_engine's per-sequence rows on names holding "_" (exact, synthetic)."""

from __future__ import annotations

import numpy as np
import pytest

import vidlabel as vl
from vidlabel.segment.evaluate import evaluate_engine

H, W, N = 40, 60, 7
SEQUENCES = ("my", "my_clip", "my_1")  # "my_1" is also what "my"'s first object would be keyed by
OBJECTS = ("left_arm", "right_arm")


def ground_truth() -> vl.Dataset:
    """Each sequence's objects move at their own speed, so that every (sequence, object) has its own
    J under the copy baseline: a row mixing another's objects in would show."""
    rng = np.random.default_rng(0)
    gt = vl.Dataset()
    for s, seq in enumerate(SEQUENCES):
        gt.add_sequence(seq, frames=rng.integers(0, 255, (N, H, W, 3), dtype=np.uint8))
        for i, name in enumerate(OBJECTS):
            e = gt.add_entity(seq, name)
            masks = {}
            for f in range(N):
                m = np.zeros((H, W), bool)
                x = 4 + 28 * i + f * (s + i + 1) // 2
                m[5 + 10 * i : 20 + 10 * i, x : x + 12] = True
                masks[f] = m
            gt.set_masks(seq, e, masks)
    return gt


def test_names_with_underscores_keep_their_objects() -> None:
    gt = ground_truth()
    res = evaluate_engine(vl.segment.load("copy"), gt, progress=False)
    assert sorted(res.sequences) == sorted(SEQUENCES)
    for seq in SEQUENCES:
        row = res.sequences[seq]
        assert row["objects"] == 2 and row["frames"] == N
        assert list(res.per_frame[seq]) == list(OBJECTS)
        # The copy holds frame 0's mask: J on frame t is that of frame 0's mask against frame t's.
        sid = gt.resolve_sequence(seq)
        js = []
        for name in OBJECTS:
            eid = gt.resolve_entity(sid, name)
            first = gt.mask(sid, 0, eid)
            want = [vl.metrics.jaccard(first, gt.mask(sid, t, eid)) for t in range(1, N - 1)]
            assert np.allclose(res.per_frame[seq][name], want, atol=1e-12), (seq, name)
            js.append(np.mean(want))
        assert row["J-Mean"] == pytest.approx(np.mean(js), abs=1e-12)
        alone = evaluate_engine(vl.segment.load("copy"), gt, sequences=seq, progress=False)
        assert alone.sequences[seq]["J&F"] == pytest.approx(row["J&F"], abs=1e-12)
    jf = [res.sequences[s]["J&F"] for s in SEQUENCES]
    assert len(set(jf)) == len(jf)  # the rows differ: each is its own sequence's
    assert np.mean(jf) == pytest.approx(res.summary["J&F-Mean"], abs=1e-12)  # two objects in each


def test_evaluate_engine_refuses_what_is_not_a_dataset() -> None:
    from vidlabel.segment.evaluate import evaluate_engine

    with pytest.raises(vl.ValidationError, match="gt_ds must be a Dataset"):
        evaluate_engine(vl.segment.load("copy"), None)  # type: ignore[arg-type]
