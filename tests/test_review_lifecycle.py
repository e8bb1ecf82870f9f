"""What the review's caches hold on to, and refusals of malformed comparisons."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import vidlabel as vl


def _tracked() -> tuple[vl.Dataset, str, str]:
    ds = vl.Dataset()
    rng = np.random.default_rng(0)
    seq = ds.add_sequence("s", frames=rng.integers(0, 255, (12, 64, 80, 3), np.uint8))
    e = ds.add_entity(seq)
    m = np.zeros((64, 80), bool)
    m[10:30, 10:30] = True
    ds.set_masks(seq, e, {f: np.roll(m, f, 1) for f in range(12)}, keyframe=False)
    ds.set_mask(seq, 0, e, m)
    return ds, seq, e


def test_a_removed_sequence_is_let_go_by_the_review_and_keyframe_caches() -> None:
    ds, seq, _e = _tracked()
    ds.review(seq)
    ds.suggest_keyframes(seq, k=2)
    source = weakref.ref(ds.frame_source(seq))
    ds.remove_sequence(seq)
    ds.clear_history()  # the undo history keeps the sequence (and its source) for an undo
    other = ds.add_sequence("t", frames=np.zeros((3, 8, 8, 3), np.uint8))
    ds.add_entity(other)
    ds.suggest_keyframes(other, k=1)
    gc.collect()
    assert source() is None


def test_a_comparison_tuple_that_is_not_mask_and_score_is_refused() -> None:
    ds, seq, e = _tracked()
    before = ds.version
    for bad in ((), (np.ones((64, 80), bool), 0.5, "extra")):
        with pytest.raises(vl.ValidationError, match=r"compare\[1\].*a tuple must be \(mask, score\)"):
            ds.review(seq, compare={1: {e: bad}})
    assert ds.version == before


def test_editing_a_sequences_row_keeps_what_the_review_measured() -> None:
    """A sequence's status or split touches no pixel and no mask: no flow is computed again."""
    from vidlabel.review.cache import cache_for

    ds, seq, _e = _tracked()
    first = ds.review(seq)
    cache = cache_for(ds, seq)
    flows = cache.computed["flow"]
    assert flows > 0
    ds.set_sequence(seq, status="in review", split="train")
    again = ds.review(seq)
    assert cache_for(ds, seq) is cache and cache.computed["flow"] == flows
    assert again.equals(first)
    ds.attach_frames(seq, np.zeros((12, 64, 80, 3), np.uint8))  # new pixels: measured again
    ds.review(seq)
    assert cache_for(ds, seq) is not cache and cache_for(ds, seq).computed["flow"] == flows
