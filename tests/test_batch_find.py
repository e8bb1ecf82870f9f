"""vl.batch.propagate with text prompts (the sam3 engine): what a loop of finding sessions would make.

The tiny SAM 3 has random weights, so what its detector finds is arbitrary: sessions get a stand-in
detector (``detect``, the one method propagation asks) that sees chosen squares on chosen frames of
each sequence, and, like a real one, what is already tracked there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from batch_data import masks
from conftest import assert_same, snapshot
from hf_reference import tiny_sam3

import vidlabel as vl
from vidlabel.segment.hf_loading import import_transformers

import_transformers()

from vidlabel.segment.sam3_find import SAM3Session  # noqa: E402  (after the transformers check)

H, W, N = 64, 96, 10


def _square(x: int, y: int, s: int = 16) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[y : y + s, x : x + s] = True
    return m


A, B, C = _square(8, 8), _square(60, 36), _square(40, 4)
# what the stand-in detector sees, per sequence name and frame
SEES = {"empty": {2: [A]}, "keyed": {0: [A], 5: [B]}, "none": {}, "late": {7: [C], 8: [B]}}


@pytest.fixture(scope="module")
def sam3() -> Any:
    return tiny_sam3()


@pytest.fixture
def seeing(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    asked: list[tuple[str, int]] = []

    def detect(self: Any, text: str, frame: int, threshold: Any = None, max_objects: Any = None) -> Any:
        ds, seq = self.dataset, self.sequence
        name = ds.sequence(seq)["name"]
        asked.append((name, frame))
        held = [m for e in ds.entity_ids(seq) if (m := ds.mask(seq, frame, e)) is not None and m.any()]
        return [(m, 0.9) for m in SEES[name].get(frame, []) + held]

    monkeypatch.setattr(SAM3Session, "detect", detect)
    return asked


def _dataset() -> vl.Dataset:
    ds = vl.Dataset()
    for k, name in enumerate(SEES):
        video = vl.demo.synthetic_video(width=W, height=H, num_frames=N, num_objects=2, seed=20 + k)
        seq = ds.add_sequence(name, frames=list(video.frames))
        if name == "keyed":  # a person's keyframe, on the instance the detector also sees on frame 0
            ds.set_mask(seq, 0, ds.add_entity(seq, "mine", category="ball"), A)
    ds.clear_history()
    return ds


def _loop(ds: vl.Dataset, sam3: Any) -> None:
    """What a person would write without the batch."""
    for seq in ds.sequence_ids():
        with sam3.session(ds, seq) as sess:
            for eid in ds.entity_ids(seq):
                for f in ds.mask_frames(seq, eid):
                    sess.prompt(f, eid, mask=ds.mask(seq, f, eid), write=False)
            sess.propagate_into(find="ball", direction="both", progress=False)


def _entities(ds: vl.Dataset) -> list[tuple[str, str, str | None]]:
    return [
        (s, ds.entity(e)["name"], ds.entity(e)["category"])
        for s in ds.sequence_ids()
        for e in ds.entity_ids(s)
    ]


def test_text_prompts_make_the_entities_and_masks_a_loop_of_sessions_makes(
    sam3: Any, seeing: list[tuple[str, int]]
) -> None:
    loop = _dataset()
    _loop(loop, sam3)
    seeing.clear()
    ds = _dataset()
    job = vl.batch.propagate(ds, sam3, text="ball", progress=False)
    report = job.wait(timeout=600)
    seqs = {ds.sequence(s)["name"]: s for s in ds.sequence_ids()}
    # Every sequence is propagated, those without keyframes too (a text is a prompt).
    assert report.done == ds.sequence_ids() and report.skipped == []
    assert report.source == 'sam3 {"find":["ball"]}'
    assert _entities(ds) == _entities(loop)
    assert [len(report[seqs[n]].found) for n in SEES] == [1, 1, 0, 2]
    for seq, r in report.sequences.items():
        assert r.found == ds.entity_ids(seq)[-len(r.found) :] if r.found else r.found == []
    # The same masks, keyframes (the found instances', with the detector's score) and all; only the
    # propagated masks' source differs: a batch's names the engine and the texts.
    rows = masks(ds)
    assert {r[4] for r in rows if not r[6]} == {report.source}
    assert {r[4] for r in rows if r[6] and r[2] in report[seqs["empty"]].found} == {f"sam3:{sam3.model_id}"}

    def strip(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return sorted((s, f, e, c, round(sc or 0, 4), k) for s, f, e, c, _, sc, k in rows)

    assert strip(rows) == strip(masks(loop))
    # The person's keyframe matched what the detector saw there: no second entity for it.
    assert [ds.entity(e)["name"] for e in ds.entity_ids(seqs["keyed"])] == ["mine", "2"]
    # Each sequence, the entities it found with it, is one undo step (one with nothing found, none).
    assert ds.history() == [f"batch {report.source}: {n}" for n in ("empty", "keyed", "late")]
    ds.undo()  # the last sequence's: its two entities go with their masks
    assert ds.entity_ids(seqs["late"]) == [] and not any(r[0] == seqs["late"] for r in masks(ds))
    assert len(ds.entity_ids(seqs["empty"])) == 1


def test_a_rerun_skips_what_it_did_and_another_text_does_not(
    sam3: Any, seeing: list[tuple[str, int]]
) -> None:
    ds = _dataset()
    first = vl.batch.propagate(ds, sam3, text="ball", sequences=["empty"], progress=False).wait()
    assert first.done == [ds.sequence_ids()[0]]
    before = snapshot(ds)
    again = vl.batch.propagate(ds, sam3, text=["ball"], sequences=["empty"], progress=False).wait()
    assert again.done == [] and "done before" in (again[ds.sequence_ids()[0]].error or "")
    assert_same(before, ds)
    # Not skipped: the same sequence again finds nothing it holds already.
    forced = vl.batch.propagate(ds, sam3, text="ball", sequences=["empty"], skip_done=False, progress=False)
    assert forced.wait().done == [ds.sequence_ids()[0]] and forced.report()[ds.sequence_ids()[0]].found == []
    assert len(ds.entity_ids(ds.sequence_ids()[0])) == 1
    # Another text is another source: the sequence is done again for it.
    spaced = vl.batch.propagate(ds, sam3, text=[" ball ", "ball"], sequences=["empty"], progress=False).wait()
    assert spaced.source == first.source and spaced.done == []  # the same text, however it is spaced
    other = vl.batch.propagate(ds, sam3, text="cup", sequences=["empty"], progress=False).wait()
    assert other.source == 'sam3 {"find":["cup"]}' and other.done == [ds.sequence_ids()[0]]


def test_text_without_a_finding_engine_or_with_no_text_is_refused(sam3: Any) -> None:
    ds = _dataset()
    before = snapshot(ds)
    cases: list[tuple[Any, Any, str]] = [
        ("flow", "ball", "need the sam3 engine"),
        ("sam2", "ball", "need the sam3 engine"),
        (sam3, "", "non-empty"),
        (sam3, "   ", "non-empty"),
        (sam3, [], "non-empty"),
        (sam3, ["ball", ""], "non-empty"),
        (sam3, 3, "non-empty"),
        (sam3, "a red ball " * 9, "at most 80 characters"),
    ]
    for engine, text, match in cases:
        with pytest.raises(vl.ValidationError, match=match):
            vl.batch.propagate(ds, engine, text=text, progress=False)
    assert_same(before, ds)
    # Without text, a sequence with no keyframes is still skipped with sam3.
    report = vl.batch.propagate(ds, sam3, sequences=["empty"], progress=False).wait()
    assert report.skipped == [ds.sequence_ids()[0]]


def test_found_entities_get_ids_of_their_own_in_the_dataset(sam3: Any, seeing: list[tuple[str, int]]) -> None:
    # The worker's dataset leaves out void entities (DAVIS's 255), so the ids it gives what it finds
    # are not the ones the dataset has free: each is made anew here and its masks follow it.
    ds = _dataset()
    seq = ds.sequence_ids()[0]  # "empty": the detector sees A from frame 2
    void = ds.add_entity(seq, "void", void=True)
    ds.set_mask(seq, 0, void, _square(80, 50, 8))
    ds.clear_history()
    report = vl.batch.propagate(ds, sam3, text="ball", sequences=[seq], progress=False).wait()
    (ball,) = report[seq].found
    assert ball != void and ds.entity_ids(seq) == [void, ball] and ds.entity(ball)["category"] == "ball"
    assert ds.mask_frames(seq, void) == [0]  # the void entity got nothing of the ball's
    assert ds.mask_frames(seq, ball)[0] == 2 and len(ds.mask_frames(seq, ball)) >= 5
    assert ds.annotation("masks", seq, 2, ball)["keyframe"]


def test_max_objects_counts_the_entities_of_the_category_already_there(
    sam3: Any, seeing: list[tuple[str, int]]
) -> None:
    ds = _dataset()
    seq = ds.sequence_ids()[0]  # "empty": the detector sees A from frame 2
    for k in range(sam3.max_objects):  # as many balls as a run may make, drawn by hand elsewhere
        ds.add_entity(seq, f"ball {k}", category="ball")
    report = vl.batch.propagate(ds, sam3, text="ball", sequences=[seq], progress=False).wait()
    assert report.done == [seq] and report[seq].found == [] and len(ds.entity_ids(seq)) == sam3.max_objects
    other = vl.batch.propagate(ds, sam3, text="cup", sequences=[seq], progress=False).wait()
    assert len(other[seq].found) == 1  # another text has its own count
