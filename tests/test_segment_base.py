"""The engine protocol (vidlabel.segment.base) with a small stand-in engine: validation, planning,
cancellation, busy sessions, and writing results into a dataset as one undo step."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import pytest
from conftest import assert_same, disc, snapshot

import vidlabel as vl
from vidlabel.segment.base import Engine, Pass, Prompt, Result, Session


class PaintEngine(Engine):
    """Paints discs at positive clicks (minus negative ones) or fills the box; carries keyframes on."""

    name = "paint"

    def __init__(self) -> None:
        self.calls: list[tuple[int, str, int]] = []  # (frame, entity, number of points) per _segment

    def session(self, ds: vl.Dataset, sequence: str) -> PaintSession:
        return PaintSession(self, ds, sequence)


class PaintSession(Session):
    engine: PaintEngine

    def _segment(self, frame: int, entity: str, prompt: Prompt) -> Result:
        self.engine.calls.append((frame, entity, len(prompt.points)))
        if prompt.mask is not None:
            return prompt.mask.copy(), 1.0
        out = np.zeros((self.height, self.width), bool)
        if prompt.box is not None:
            x0, y0, x1, y1 = (int(v) for v in prompt.box)
            out[y0:y1, x0:x1] = True
        for (x, y), label in zip(prompt.points, prompt.labels, strict=True):
            d = disc(self.height, self.width, y, x, 5)
            out = out | d if label else out & ~d
        return out, 0.9

    def _run_pass(self, leg: Pass, entities: list[str]) -> Generator[tuple[int, dict[str, Result]]]:
        for f in leg.frames:
            results = {}
            for e in entities:
                keys = [k for k in self._prompts[e] if (k >= f if leg.reverse else k <= f)]
                if keys:
                    k = min(keys) if leg.reverse else max(keys)
                    p = self._prompts[e][k]
                    assert p.result is not None
                    results[e] = (p.result, 0.5)
            yield f, results

    def _forget(self, entity: str) -> None:
        pass

    def _clear(self) -> None:
        pass


@pytest.fixture
def sess(ds: vl.Dataset) -> PaintSession:
    ds.add_entity("clip", name="a")
    ds.add_entity("clip", name="b")
    ds.clear_history()
    return PaintEngine().session(ds, "clip")


def test_engines_by_name() -> None:
    assert {"flow", "sam2", "transformers", "sam3"} <= set(vl.segment.available())
    with pytest.raises(vl.ValidationError, match="unknown engine 'sam9'"):
        vl.segment.load("sam9")


def test_prompt_writes_a_human_keyframe(sess: PaintSession, ds: vl.Dataset) -> None:
    mask, score = sess.prompt(2, "a", points=[(10, 10)])
    assert mask[10, 10] and score == 0.9
    row = ds.annotation("masks", "clip", 2, "clip/001")
    assert (
        row is not None
        and row["keyframe"]
        and row["source"] == "human"
        and row["score"] == pytest.approx(0.9)
    )
    assert np.array_equal(ds.mask("clip", 2, "clip/001"), mask)
    sess.prompt(3, "a", points=[(10, 10)], write=False)
    assert ds.mask("clip", 3, "clip/001") is None
    assert sess.keyframes("a") == [2, 3] and sess.entities == ["clip/001"]


def test_clicks_accumulate_with_clear_false(sess: PaintSession) -> None:
    sess.prompt(0, "a", box=(0, 0, 20, 20))
    sess.prompt(0, "a", points=[(30, 30)], clear=False)
    mask, _ = sess.prompt(0, "a", points=[(5, 5)], labels=[0], clear=False)
    p = sess.prompts("a")["clip/001"][0]
    assert p.kind == "box+points" and len(p.points) == 2 and list(p.labels) == [1, 0]
    assert mask[15, 15] and mask[30, 30] and not mask[5, 5]
    mask, _ = sess.prompt(0, "a", points=[(40, 40)])  # clear=True replaces box and points
    assert sess.prompts("a")["clip/001"][0].box is None and not mask[15, 15]


def test_a_stored_box_prompts_as_box_xywh(sess: PaintSession, ds: vl.Dataset) -> None:
    """The boxes table holds (x, y, w, h); box_xywh takes that as it is, box= takes the two corners."""
    ds.set_box("clip", 1, "a", (10, 5, 30, 20))
    stored = ds.box("clip", 1, "a")
    assert stored is not None
    mask, _ = sess.prompt(1, "a", box_xywh=stored)
    x, y, w, h = stored
    corners, _ = sess.prompt(2, "a", box=(x, y, x + w, y + h))
    assert np.array_equal(mask, corners)
    assert mask.sum() == 30 * 20 and mask[5, 10] and mask[24, 39] and not mask[25, 40]
    held = sess.prompts("a")["clip/001"]
    assert list(held[1].box) == [10, 5, 40, 25] and list(held[1].box) == list(held[2].box)


BAD_PROMPTS: list[tuple[dict[str, Any], str]] = [
    ({"points": [(64, 10)]}, r"point \(64, 10\) is outside the 64x48 frame"),
    ({"points": [(-1, 10)]}, "outside"),
    ({"points": [(10, 48)]}, "outside"),
    ({"points": [(np.nan, 10)]}, "finite"),
    ({"points": (10, 10)}, r"list of \(x, y\) pairs"),
    ({"points": [(1, 2, 3)]}, r"list of \(x, y\) pairs"),
    ({"points": []}, "at least one point, a box or a mask"),
    ({}, "at least one point, a box or a mask"),
    ({"points": [(5, 5)], "labels": [1, 0]}, "2 labels for 1 points"),
    ({"points": [(5, 5)], "labels": [2]}, "labels must be 1"),
    ({"box": (10, 10, 10, 20)}, "zero area"),
    ({"box": (10, 20, 30, 5)}, "zero area"),
    ({"box": (10, 10, 70, 20)}, "goes outside"),
    ({"box": (1, 2, 3)}, r"box must be \(x0, y0, x1, y1\)"),
    ({"mask": np.ones((10, 10), bool)}, r"mask shape \(10, 10\)"),
    ({"mask": np.zeros((48, 64), bool)}, "mask is empty"),
    ({"mask": np.full((48, 64), 2, np.uint8)}, "bool or 0/1"),
    ({"mask": np.ones((48, 64), bool), "points": [(5, 5)]}, "mask alone"),
    ({"box": (0, 0, 20, 20), "box_xywh": (0, 0, 20, 20)}, "not both"),
    ({"box_xywh": (1, 2, 3)}, r"box_xywh must be \(x, y, w, h\)"),
    ({"box_xywh": (10, 10, 0, 20)}, "width and height above 0"),
    ({"box_xywh": (10, 10, 20, -5)}, "width and height above 0"),
    ({"box_xywh": (10, 10, np.nan, 5)}, "width and height above 0"),
    ({"box_xywh": (50, 10, 20, 5)}, "goes outside the 64x48 frame"),
    ({"box_xywh": (5, 5, 10, 10), "mask": np.ones((48, 64), bool)}, "mask alone"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_PROMPTS)
def test_bad_prompts_are_refused_and_change_nothing(
    sess: PaintSession, ds: vl.Dataset, kwargs: dict[str, Any], message: str
) -> None:
    sess.prompt(0, "a", points=[(10, 10)])
    before, history = snapshot(ds), ds.history()
    with pytest.raises(vl.ValidationError, match=message):
        sess.prompt(0, "a", **kwargs)
    assert_same(before, ds)
    assert ds.history() == history
    assert len(sess.prompts("a")["clip/001"][0].points) == 1
    assert len(sess.engine.calls) == 1  # the engine was never asked


def test_unknown_entity_and_frame(sess: PaintSession, ds: vl.Dataset) -> None:
    before = snapshot(ds)
    with pytest.raises(vl.ValidationError, match="unknown entity 'zebra'"):
        sess.prompt(0, "zebra", points=[(1, 1)])
    with pytest.raises(vl.ValidationError, match="frame 12 is out of range"):
        sess.prompt(12, "a", points=[(1, 1)])
    with pytest.raises(vl.ValidationError, match="expected an integer"):
        sess.prompt(1.5, "a", points=[(1, 1)])  # type: ignore[arg-type]
    other = ds.add_sequence("other", frames=np.zeros((2, 48, 64, 3), np.uint8))
    stranger = ds.add_entity(other)
    before = snapshot(ds)
    with pytest.raises(vl.ValidationError, match="belongs to sequence 'other'"):
        sess.prompt(0, stranger, points=[(1, 1)])
    assert_same(before, ds)


def test_session_needs_pixels() -> None:
    ds = vl.Dataset()
    ds.add_sequence("blind", num_frames=3, width=8, height=8)
    with pytest.raises(vl.ValidationError, match="no pixels"):
        PaintEngine().session(ds, "blind")
    with pytest.raises(vl.ValidationError, match="unknown sequence"):
        PaintEngine().session(ds, "nope")


def test_plans(sess: PaintSession) -> None:
    with pytest.raises(vl.ValidationError, match="no prompts yet"):
        sess.plan()
    sess.prompt(4, "a", points=[(1, 1)])
    sess.prompt(7, "b", points=[(1, 1)])
    assert sess.plan() == [Pass(4, 11, False)]
    assert sess.plan(direction="backward") == [Pass(7, 0, True)]
    assert sess.plan(5, "both") == [Pass(5, 11, False), Pass(5, 0, True)]
    assert sess.plan(0, "both") == [Pass(0, 11, False)]
    assert sess.plan(5, "both", (None, 8)) == [Pass(5, 8, False), Pass(5, 0, True)]
    assert sess.plan(5, "backward", 2) == [Pass(5, 2, True)]
    for args, message in [
        ((5, "sideways"), "direction must be"),
        ((5, "forward", 3), "end 3 is before start 5"),
        ((5, "backward", 8), "end 8 is after start 5"),
        ((5, "both", 8), r"\(first, last\) pair"),
        ((5, "both", (6, 9)), r"start 5 is outside the range \[6, 9\]"),
        ((12,), "frame 12 is out of range"),
        ((0, "forward", 40), "frame 40 is out of range"),
    ]:
        with pytest.raises(vl.ValidationError, match=message):
            sess.plan(*args)


def test_propagate_frames_and_entities(sess: PaintSession) -> None:
    sess.prompt(4, "a", points=[(10, 10)])
    sess.prompt(6, "b", points=[(20, 20)])
    got = list(sess.propagate(5, "both"))
    assert [f for f, _ in got] == [5, 6, 7, 8, 9, 10, 11, 4, 3, 2, 1, 0]
    by_frame = dict(got)
    assert set(by_frame[5]) == {"clip/001"} and set(by_frame[6]) == {"clip/001", "clip/002"}
    assert (
        set(by_frame[4]) == set(by_frame[0]) == {"clip/001", "clip/002"}
    )  # backward: keyframes 4 and 6 lie ahead
    only_b = list(sess.propagate(6, entities="b"))
    assert all(set(r) == {"clip/002"} for _, r in only_b)
    c = sess.dataset.add_entity("clip", name="c")
    with pytest.raises(vl.ValidationError, match="entity 'clip/003' has no prompt in this session"):
        sess.propagate(entities=["a", c])
    with pytest.raises(vl.ValidationError, match="unknown entity"):
        sess.propagate(entities=["zebra"])


def test_cancel_and_close_stop_between_frames(sess: PaintSession) -> None:
    sess.prompt(0, "a", points=[(10, 10)])
    token = vl.segment.CancelToken()
    frames = []
    for f, _ in sess.propagate(cancel=token):
        frames.append(f)
        if f == 3:
            token.cancel()
    assert frames == [0, 1, 2, 3] and token.cancelled
    token.reset()
    gen = sess.propagate()
    next(gen)
    for call in (
        lambda: sess.prompt(1, "a", points=[(1, 1)]),
        lambda: sess.remove("a"),
        sess.reset,
        lambda: next(sess.propagate()),
    ):
        with pytest.raises(vl.ValidationError, match="the session is propagating"):
            call()
    gen.close()
    sess.prompt(1, "a", points=[(1, 1)])
    # A generator that was never started does not leave the session busy.
    sess.propagate()
    sess.prompt(2, "a", points=[(1, 1)])


def test_propagate_into_is_one_undo_step_and_keeps_keyframes(sess: PaintSession, ds: vl.Dataset) -> None:
    a = "clip/001"
    sess.prompt(2, "a", points=[(10, 10)])
    ds.set_mask("clip", 5, a, disc(48, 64, 30, 30, 6))  # a human keyframe the session does not know
    ds.set_mask("clip", 0, a, disc(48, 64, 30, 30, 6), source="old", keyframe=False)  # stale propagation
    history = ds.history()
    changes: list[vl.Change] = []
    ds.observe(changes.append)
    report = sess.propagate_into(start=2, direction="both", progress=False)
    assert report.frames == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 0] and not report.cancelled
    assert report.kept == 2 and report.written == 10
    assert len(changes) == 10  # results land frame by frame
    assert ds.history() == [*history, "paint: propagate both from frame 2"]
    assert ds.annotation("masks", "clip", 5, a)["source"] == "human"  # kept
    row = ds.annotation("masks", "clip", 7, a)
    assert row["source"] == "paint" and not row["keyframe"] and row["score"] == 0.5
    assert ds.annotation("masks", "clip", 0, a)["source"] == "paint"  # a stale propagation is replaced
    assert ds.undo()
    assert ds.history() == history
    assert ds.mask_frames("clip", a) == [0, 2, 5] and ds.annotation("masks", "clip", 0, a)["source"] == "old"
    report = sess.propagate_into(start=2, end=5, overwrite_keyframes=True, progress=False)
    assert report.kept == 0 and ds.annotation("masks", "clip", 5, a)["source"] == "paint"


def test_propagate_into_another_dataset(sess: PaintSession, ds: vl.Dataset, frames: np.ndarray) -> None:
    sess.prompt(0, "a", points=[(10, 10)])
    pred = vl.Dataset()
    pred.add_sequence("clip", frames=frames)
    pred.add_entity("clip", id="clip/001")
    sess.propagate_into(pred, progress=False)
    assert pred.mask_frames("clip", "clip/001") == list(range(12))  # the prompt frame too: no keyframe there
    assert ds.mask_frames("clip", "clip/001") == [0]
    small = vl.Dataset()
    small.add_sequence("clip", frames=frames[:5])
    small.add_entity("clip", id="clip/001")
    with pytest.raises(vl.ValidationError, match="has 5 frames"):
        sess.propagate_into(small, progress=False)
    lacking = vl.Dataset()
    lacking.add_sequence("clip", frames=frames)
    with pytest.raises(vl.ValidationError, match="unknown entity 'clip/001'"):
        sess.propagate_into(lacking, progress=False)


def test_undo_group(ds: vl.Dataset) -> None:
    e = ds.add_entity("clip")
    ds.clear_history()
    seen: list[str] = []
    ds.observe(lambda c: seen.append(c.label))
    with ds.undo_group("batch"):
        ds.set_mask("clip", 0, e, disc(48, 64, 10, 10, 4))
        with ds.undo_group("inner"):  # joins the outer group
            ds.set_mask("clip", 1, e, disc(48, 64, 10, 10, 4))
        with pytest.raises(vl.ValidationError, match="while 'batch' is running"):
            ds.undo()
    assert seen == ["set mask 0", "set mask 1"] and ds.history() == ["batch"]
    with pytest.raises(RuntimeError), ds.undo_group("broken"):
        ds.set_mask("clip", 2, e, disc(48, 64, 10, 10, 4))
        raise RuntimeError("stopped midway")
    assert ds.history() == ["batch", "broken"] and ds.mask_frames("clip", e) == [0, 1, 2]
    assert ds.undo() and ds.undo()
    assert ds.mask_frames("clip", e) == [] and ds.redo() and ds.mask_frames("clip", e) == [0, 1]


def test_remove_and_reset(sess: PaintSession) -> None:
    sess.prompt(0, "a", points=[(1, 1)])
    sess.prompt(0, "b", points=[(1, 1)])
    sess.remove("a")
    assert sess.entities == ["clip/002"]
    with pytest.raises(vl.ValidationError, match="has no prompts"):
        sess.remove("a")
    sess.reset()
    assert sess.entities == [] and "0 prompts" in repr(sess)


def test_closed_sessions_and_removed_entities(sess: PaintSession, ds: vl.Dataset) -> None:
    sess.prompt(0, "a", points=[(1, 1)])
    sess.prompt(0, "b", points=[(1, 1)])
    ds.remove_entity("clip", "b")
    with pytest.raises(vl.ValidationError, match=r"'clip/002' is no longer in the dataset; session.remove"):
        sess.propagate()
    with pytest.raises(vl.ValidationError, match="unknown entity"):
        sess.propagate(entities="b")
    sess.remove("clip/002")  # by id: its name is gone with it
    assert [f for f, _ in sess.propagate(end=1)] == [0, 1]
    with sess:
        pass
    with pytest.raises(vl.ValidationError, match="the session is closed"):
        sess.prompt(1, "a", points=[(1, 1)])
    with pytest.raises(vl.ValidationError, match="the session is closed"):
        list(sess.propagate(entities="a"))


def test_an_entity_removed_during_a_run_is_dropped_and_the_run_goes_on(
    sess: PaintSession, ds: vl.Dataset
) -> None:
    import threading

    sess.prompt(0, "a", points=[(1, 1)])
    sess.prompt(0, "b", points=[(1, 1)])
    a, b = ds.resolve_entity("clip", "a"), ds.resolve_entity("clip", "b")

    def on_frame(frame: int, done: int, total: int) -> None:
        if frame == 1:  # another thread (a cell) removes b while the run is in flight
            t = threading.Thread(target=ds.remove_entity, args=("clip", "b"))
            t.start()
            t.join()

    report = sess.propagate_into(progress=False, on_frame=on_frame)
    n = ds.num_frames("clip")
    assert report.frames == list(range(n)) and report.dropped == [b] and "dropped" in repr(report)
    assert ds.mask_frames("clip", a) == list(range(n))
    assert b not in ds.entity_ids("clip")
    # the removal is its own undo step, not part of the run's: undoing the run leaves b removed
    steps = ds.history()
    assert steps[-2:] == ["remove entity b", "paint: propagate forward from frame 0"], steps
    with pytest.warns(RuntimeWarning, match="changed by a later edit"):  # b's masks the removal took
        assert ds.undo() and b not in ds.entity_ids("clip") and ds.mask_frames("clip", a) == [0]
    assert ds.undo() and b in ds.entity_ids("clip")


def test_a_new_entity_given_a_removed_ones_id_gets_none_of_its_results(
    sess: PaintSession, ds: vl.Dataset
) -> None:
    import threading

    sess.prompt(0, "a", points=[(1, 1)])
    sess.prompt(0, "b", points=[(1, 1)])
    b = ds.resolve_entity("clip", "b")

    def replace_b() -> None:
        ds.remove_entity("clip", "b")
        assert ds.add_entity("clip", "cyclist") != b  # a generated id is never a removed one's
        ds.add_entity("clip", "cyclist 2", id=b)  # but one given may be (an import's)

    def on_frame(frame: int, done: int, total: int) -> None:
        if frame == 1:
            t = threading.Thread(target=replace_b)
            t.start()
            t.join()

    report = sess.propagate_into(progress=False, on_frame=on_frame)
    assert report.dropped == [b] and ds.entity(b)["name"] == "cyclist 2"
    assert ds.mask_frames("clip", "cyclist 2") == []  # nothing of b's run written into the newcomer
    assert ds.mask_frames("clip", "cyclist") == []
