"""``ds.suggest_keyframes`` on constructed videos: exact answers where the right frame is known."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import vidlabel as vl
from vidlabel.review import appearance

H, W = 48, 64


def _scene(n: int, seed: int, base: tuple[int, int, int]) -> np.ndarray:
    """``n`` frames of one scene: a textured background, a square drifting slowly, a little noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    bg = np.stack([(c + 40 * np.sin((xx * (i + 1) + yy * (3 - i)) / 9.0)) for i, c in enumerate(base)], -1)
    out = np.empty((n, H, W, 3), np.uint8)
    for t in range(n):
        f = bg.copy()
        x = 10 + t // 3
        f[16:32, x : x + 16] = (250, 250, 250)
        out[t] = np.clip(f + rng.normal(0, 3, f.shape), 0, 255).astype(np.uint8)
    return out


def _box(t: int) -> np.ndarray:
    m = np.zeros((H, W), bool)
    x = 10 + t // 3
    m[16:32, x : x + 16] = True
    return m


def _dataset(frames: np.ndarray, scores: dict[int, float] | None = None) -> tuple[vl.Dataset, str, str]:
    """A keyframe on frame 0 and, for each frame in ``scores``, a propagated mask with that score."""
    ds = vl.Dataset()
    seq = ds.add_sequence("clip", frames=frames)
    e = ds.add_entity(seq, name="obj")
    ds.set_mask(seq, 0, e, _box(0), source="human", keyframe=True, score=1.0)
    for t, s in (scores or {}).items():
        ds.set_mask(seq, t, e, _box(t), source="flow", keyframe=False, score=s)
    return ds, seq, e


def _frames(table: pa.Table) -> list[int]:
    return [int(f) for f in table.column("frame_index").to_pylist()]


def test_after_a_scene_cut_the_first_new_frame_is_suggested() -> None:
    frames = np.concatenate([_scene(20, 1, (60, 90, 140)), _scene(20, 2, (170, 120, 40))])
    ds, seq, _ = _dataset(frames)
    got = ds.suggest_keyframes(seq, 1)
    assert _frames(got) == [20]
    row = got.to_pylist()[0]
    assert row["distance"] > 0.3 and "far from labelled frames" in row["reason"]
    assert (row["first_frame"], row["last_frame"]) == (20, 39)
    # With propagated masks whose scores fall after the cut, it is the same frame.
    ds2, seq2, _ = _dataset(frames, {t: (0.95 if t < 20 else 0.3) for t in range(1, 40)})
    assert _frames(ds2.suggest_keyframes(seq2, 1)) == [20]


def test_labelled_frames_are_never_suggested() -> None:
    ds, seq, e = _dataset(_scene(30, 3, (80, 100, 120)), {t: 0.5 for t in range(1, 30)})
    for t in (7, 15, 22):
        ds.set_mask(seq, t, e, _box(t), source="human", keyframe=True)
    got = _frames(ds.suggest_keyframes(seq, 30))
    assert sorted(got) == sorted(set(range(30)) - {0, 7, 15, 22})  # fewer than asked: all there are
    assert not {0, 7, 15, 22} & set(_frames(ds.suggest_keyframes(seq, 3)))


def test_suggestions_spread_over_the_video() -> None:
    n = 60
    ds, seq, _ = _dataset(_scene(n, 4, (90, 110, 100)), {t: 1.0 - t / (2 * n) for t in range(1, n)})
    got = sorted(_frames(ds.suggest_keyframes(seq, 3)))
    assert len(got) == 3
    gaps = np.diff([0, *got, n])
    assert gaps.min() >= n // (2 * 4), got  # never crowded next to one another or to frame 0
    assert all(lo <= f < lo + 20 for f, lo in zip(got, (0, 20, 40))), got  # one per third


def test_untrusted_masks_pull_the_suggestion() -> None:
    n = 40
    frames = np.repeat(_scene(1, 5, (100, 100, 100)), n, axis=0)  # nothing changes in appearance
    scores = {t: 0.95 for t in range(1, n)} | {t: 0.2 for t in range(24, 31)}
    ds, seq, _ = _dataset(frames, scores)
    row = ds.suggest_keyframes(seq, 1).to_pylist()[0]
    assert row["frame_index"] == 24  # where the untrusted stretch starts: it re-anchors all of it
    assert row["trust"] == pytest.approx(0.2) and "masks trusted 0.20" in row["reason"]


def test_a_mask_missing_inside_the_track_is_not_trusted() -> None:
    n = 40
    frames = np.repeat(_scene(1, 6, (100, 100, 100)), n, axis=0)
    scores = {t: 0.95 for t in range(1, n) if not 12 <= t < 18}
    ds, seq, _ = _dataset(frames, scores)
    row = ds.suggest_keyframes(seq, 1).to_pylist()[0]
    assert row["frame_index"] == 12 and row["trust"] == 0.0


def test_entity_restricts_what_counts_as_labelled() -> None:
    frames = np.concatenate([_scene(20, 7, (60, 90, 140)), _scene(20, 8, (170, 120, 40))])
    ds, seq, obj = _dataset(frames)
    b = ds.add_entity(seq, name="other")
    ds.set_mask(seq, 0, b, _box(0), source="human", keyframe=True)
    ds.set_mask(seq, 20, b, _box(20), source="human", keyframe=True)
    assert 20 not in _frames(ds.suggest_keyframes(seq, 3))  # labelled (for "other")
    assert _frames(ds.suggest_keyframes(seq, 1, entity=obj)) == [20]  # not labelled for obj
    assert _frames(ds.suggest_keyframes(seq, 1, entity="obj")) == [20]  # by name too
    assert 20 not in _frames(ds.suggest_keyframes(seq, 3, entity=b))


def test_nothing_labelled_yet_names_a_representative_frame() -> None:
    ds = vl.Dataset()
    frames = np.concatenate([_scene(30, 9, (60, 90, 140)), _scene(10, 10, (170, 120, 40))])
    seq = ds.add_sequence("clip", frames=frames)
    ds.add_entity(seq)
    got = ds.suggest_keyframes(seq, 2).to_pylist()
    assert got[0]["frame_index"] < 30 and got[0]["distance"] is None  # the larger scene first
    assert got[1]["frame_index"] >= 30  # then the other one
    assert "nothing labelled yet" in got[0]["reason"]


def test_table_columns_and_types() -> None:
    ds, seq, _ = _dataset(_scene(20, 11, (80, 80, 80)), {t: 0.7 for t in range(1, 20)})
    got = ds.suggest_keyframes(seq, 2)
    assert got.schema.field("frame_index").type == pa.int32()
    assert got.schema.field("reason").type == pa.string()
    for name in ("gain", "distance", "trust"):
        assert got.schema.field(name).type == pa.float32()
    assert got.num_rows == 2
    gains = got.column("gain").to_pylist()
    assert gains[0] >= gains[1] > 0  # best first


def test_descriptors_are_computed_once_per_sequence(monkeypatch: pytest.MonkeyPatch) -> None:
    ds, seq, e = _dataset(_scene(20, 12, (80, 80, 80)), {t: 0.7 for t in range(1, 20)})
    calls = []
    real = appearance.describe
    monkeypatch.setattr(appearance, "describe", lambda *a: calls.append(1) or real(*a))
    first = ds.suggest_keyframes(seq, 2)
    ds.set_mask(seq, int(first.column("frame_index")[0].as_py()), e, _box(3), keyframe=True)
    second = ds.suggest_keyframes(seq, 2)
    assert len(calls) == 1  # the edit changed what is labelled, not the frames
    assert first.column("frame_index")[0] not in second.column("frame_index").to_pylist()


@pytest.mark.parametrize("k", [0, -1, True, 1.5, "2", None])
def test_bad_k_is_refused(k: object) -> None:
    ds, seq, _ = _dataset(_scene(10, 13, (80, 80, 80)))
    before = ds.table("masks")
    with pytest.raises(vl.ValidationError, match="k must be a positive integer"):
        ds.suggest_keyframes(seq, k)  # type: ignore[arg-type]
    assert ds.table("masks").equals(before)


def test_bad_references_are_refused() -> None:
    ds, seq, _ = _dataset(_scene(10, 14, (80, 80, 80)))
    with pytest.raises(vl.ValidationError, match="unknown sequence"):
        ds.suggest_keyframes("nope", 2)
    with pytest.raises(vl.ValidationError, match="unknown entity"):
        ds.suggest_keyframes(seq, 2, entity="nobody")
    bare = ds.add_sequence("bare", num_frames=5, width=W, height=H)
    with pytest.raises(vl.ValidationError, match="no pixels"):
        ds.suggest_keyframes(bare, 2)
