"""The SAM 3 tracker (``Sam3TrackerVideoModel``) through the transformers engine, against the library's own
session and iterator on the same tiny random-weight model: points, boxes, both directions, an object added
later, memory that stays flat. (The ``"sam3"`` engine tracks with this same model, fed by its detector.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hf_reference import dataset, library_masks, video

import vidlabel as vl
from vidlabel.segment.hf_loading import import_transformers
from vidlabel.segment.hf_session import TrackerEngine
from vidlabel.segment.hf_tiny import bias_object_scores, tiny_sam3_config

tf = import_transformers()


@pytest.fixture(scope="module")
def engine() -> TrackerEngine:
    torch.set_num_threads(2)
    eng = vl.segment.load("transformers", config=tiny_sam3_config(), random_weights=True, device="cpu")
    assert isinstance(eng, TrackerEngine) and type(eng.model) is tf.Sam3TrackerVideoModel
    bias_object_scores(eng.model)
    return eng


def test_both_ways_with_points_and_a_box_identical_to_the_library(engine: TrackerEngine) -> None:
    clip = video(16)
    ds, seq, (a, b) = dataset(clip)
    sess = engine.session(ds, seq)
    ma, _ = sess.prompt(8, a, points=[(30, 20)])
    mb, _ = sess.prompt(8, b, box=(50, 25, 90, 60))
    assert 0.02 < ma.mean() < 0.9 and 0.02 < mb.mean() < 0.9 and (ma != mb).mean() > 0.02  # non-trivial
    got = list(sess.propagate(start=8, direction="both"))
    assert [f for f, _ in got] == list(range(8, 16)) + list(range(7, -1, -1))
    theirs = library_masks(
        engine,
        clip,
        ("points", 8, a, [(30, 20)]),
        ("box", 8, b, (50, 25, 90, 60)),
        ("run", 8, False),
        ("run", 8, True),
    )
    for f, r in got:
        assert np.array_equal(r[a][0], theirs[a][f]), f"a, frame {f}"
        assert np.array_equal(r[b][0], theirs[b][f]), f"b, frame {f}"
    assert any(not np.array_equal(theirs[a][f], theirs[a][8]) for f in range(16))  # it tracks, not copies


def test_an_object_added_later_identical_to_the_library(engine: TrackerEngine) -> None:
    clip = video(14)
    ds, seq, (a, b) = dataset(clip)
    sess = engine.session(ds, seq)
    sess.prompt(0, a, points=[(30, 20)])
    first = {f: r[a][0] for f, r in sess.propagate()}
    sess.prompt(6, b, points=[(70, 40)])
    only_b = list(sess.propagate(start=6, entities=[b]))
    assert [f for f, _ in only_b] == list(range(6, 14))
    theirs = library_masks(engine, clip, ("points", 6, b, [(70, 40)]), ("run", 6, False))
    for f, r in only_b:
        assert np.array_equal(r[b][0], theirs[b][f]), f
    both = dict(sess.propagate(start=0))
    assert all(np.array_equal(both[f][a][0], first[f]) for f in range(14))


def test_memory_is_flat_from_30_to_300_frames(engine: TrackerEngine) -> None:
    held = {}
    for n in (30, 300):
        ds, seq, (a,) = dataset(video(n, seed=7), 1)
        sess = engine.session(ds, seq)
        sess.prompt(0, a, points=[(30, 20)])
        for _ in sess.propagate():
            pass
        held[n] = (sess.held_bytes(), sess.held_frames()[a], sess.frames.reads)
    assert held[300][:2] == held[30][:2], held  # the same window at any length
    assert held[300][2] == 300  # every frame read once
