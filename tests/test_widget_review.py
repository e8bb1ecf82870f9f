"""The review in the Annotator, kernel side: the queue in the ``review`` trait and ``review`` events,
accepting (``mark_reviewed``), corrections that mark what they corrected, the queue following edits
off the message thread, and malformed review messages. The browser side is js/src/review*.ts and
the real-browser test tests/e2e/test_annotator_review.py.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Generator
from typing import Any

import numpy as np
import pytest
from conftest import assert_same, disc, snapshot
from test_segment_base import PaintEngine
from test_widget import Recorder, ask

import vidlabel as vl
from vidlabel.widget.review import as_trait, queue_rows

H, W = 48, 64


@pytest.fixture
def tracked(ds: vl.Dataset) -> vl.Dataset:
    """Two entities with a keyframe on 0 and propagated-like masks after it: ``a`` jumps on frame 5
    and vanishes on frame 8 (inside its track), ``b`` stays put."""
    a, b = ds.add_entity("clip", "a"), ds.add_entity("clip", "b")
    ds.set_mask("clip", 0, a, disc(H, W, 20, 20, 8))
    ds.set_mask("clip", 0, b, disc(H, W, 30, 45, 6))
    for f in range(1, 12):
        if f != 8:
            m = disc(H, W, 38, 50, 3) if f == 5 else disc(H, W, 20, 20 + f * 0.5, 8)
            ds.set_mask("clip", f, a, m, keyframe=False)
        ds.set_mask("clip", f, b, disc(H, W, 30, 45, 6), keyframe=False)
    ds.clear_history()
    return ds


@pytest.fixture
def widget(tracked: vl.Dataset) -> Generator[tuple[vl.Annotator, Recorder]]:
    w = vl.Annotator(tracked, engine=PaintEngine())
    w.wait(30)  # the first queue has landed
    rec = Recorder(w)
    yield w, rec
    w.close()


def expected(ds: vl.Dataset) -> dict[str, Any]:
    return {e: as_trait(rows) for e, rows in queue_rows(ds.review("clip")).items()}


def apply(mirror: dict[str, Any], event: dict[str, Any]) -> None:
    """The browser's side of a ``review`` event (js/src/review.ts applyReviewPatch)."""
    ents = mirror["entities"]
    for eid, p in event["entities"].items():
        if p is None:
            ents.pop(eid, None)
            continue
        q = ents.get(eid, {"frames": [], "suspicion": [], "reasons": []})
        rows = {f: (s, r) for f, s, r in zip(q["frames"], q["suspicion"], q["reasons"], strict=True)}
        for f in p["remove"]:
            rows.pop(f, None)
        for f, s, r in p["set"]:
            rows[f] = (s, r)
        ents[eid] = as_trait(rows)
    mirror["version"] = max(mirror["version"], event["version"])
    mirror["error"] = event["error"]


def ids(ds: vl.Dataset) -> tuple[str, str]:
    a, b = ds.entity_ids("clip")
    return a, b


def queued(w: vl.Annotator, eid: str) -> dict[int, str]:
    q = w.review["entities"].get(eid, {"frames": [], "reasons": []})
    return dict(zip(q["frames"], q["reasons"], strict=True))


def test_the_trait_holds_the_queue_and_events_keep_a_browser_copy_exact(
    tracked: vl.Dataset, widget: Any
) -> None:
    w, rec = widget
    a, b = ids(tracked)
    assert w.review["enabled"] and w.review["sequence"] == "clip" and w.review["error"] == ""
    assert w.review["version"] == tracked.version
    assert w.review["entities"] == expected(tracked)
    assert queued(w, a)[8] and queued(w, a)[5]  # the vanished and the jumping frame are flagged
    mirror = copy.deepcopy(w.get_state()["review"])  # what a browser gets on (re)load
    before = copy.deepcopy(mirror)
    tracked.set_mask("clip", 3, a, disc(H, W, 10, 50, 4), keyframe=False)  # a cell edit
    tracked.remove_masks("clip", b, [7])
    w.wait(30)
    events = rec.custom("review")
    assert events and all(e["sequence"] == "clip" for e in events)
    for e in events:
        apply(mirror, e)
    assert mirror == {**w.review, "enabled": True} and mirror["entities"] == expected(tracked)
    assert mirror["version"] == tracked.version
    assert before != mirror  # the state taken earlier is a copy, not the patched trait


def test_accept_marks_reviewed_and_undo_restores(tracked: vl.Dataset, widget: Any) -> None:
    w, rec = widget
    a, _ = ids(tracked)
    assert 5 in queued(w, a)
    reply = ask(w, rec, 1, "mark_reviewed", entity=a, start=5, stop=6)
    assert reply["ok"] and reply["changed"] == 1 and reply["version"] == tracked.version
    assert tracked.reviewed_frames("clip", a) == [5]
    assert w.undo_label == "mark frame 5 reviewed"
    assert 5 not in queued(w, a) and w.review["version"] >= reply["version"]
    (event,) = [e for e in rec.custom("review") if a in e["entities"]]
    assert event["entities"][a]["remove"] == [5]
    assert ask(w, rec, 2, "undo")["done"]
    assert tracked.reviewed_frames("clip", a) == []
    assert 5 in queued(w, a) and w.review["entities"] == expected(tracked)
    # the object is absent on frame 8: accepting that needs no mask
    assert ask(w, rec, 3, "mark_reviewed", entity=a, start=8, stop=9)["changed"] == 1
    assert 8 not in queued(w, a) and tracked.mask("clip", 8, a) is None
    # accepting again changes nothing and still answers with a version the queue reaches
    again = ask(w, rec, 4, "mark_reviewed", entity=a, start=8, stop=9)
    assert again["changed"] == 0 and w.review["version"] >= again["version"]
    # no entity: every entity of those frames; reviewed=false clears
    assert ask(w, rec, 5, "mark_reviewed", start=1, stop=3)["changed"] == 4
    assert ask(w, rec, 6, "mark_reviewed", start=1, stop=2, reviewed=False)["changed"] == 2
    assert tracked.reviewed_frames("clip", a) == [2, 8]


def test_a_prompt_marks_its_frame_reviewed_in_the_same_undo_step(tracked: vl.Dataset, widget: Any) -> None:
    w, rec = widget
    a, _ = ids(tracked)
    old = tracked.mask("clip", 5, a)
    steps = len(tracked.history())
    reply = ask(w, rec, 1, "prompt", frame=5, entity=a, points=[[20, 20]], labels=[1])
    assert reply["ok"], reply
    assert tracked.reviewed_frames("clip", a) == [5]
    assert tracked.annotation("masks", "clip", 5, a)["keyframe"]
    assert len(tracked.history()) == steps + 1 and w.undo_label == "set mask 5"
    assert 5 not in queued(w, a)
    assert ask(w, rec, 2, "undo")["done"]
    assert tracked.reviewed_frames("clip", a) == []
    assert np.array_equal(tracked.mask("clip", 5, a), old)
    assert not tracked.annotation("masks", "clip", 5, a)["keyframe"]
    assert 5 in queued(w, a)


def test_an_erase_marks_what_it_erased_inside_the_track_in_one_undo_step(
    tracked: vl.Dataset, widget: Any
) -> None:
    w, rec = widget
    a, b = ids(tracked)
    old = snapshot(tracked)
    steps = len(tracked.history())
    assert ask(w, rec, 1, "erase", entity=a, start=5, stop=6)["removed"] == 1
    assert tracked.mask("clip", 5, a) is None and tracked.reviewed_frames("clip", a) == [5]
    assert len(tracked.history()) == steps + 1
    assert 5 not in queued(w, a)  # no "vanished" row for what the person erased
    assert ask(w, rec, 2, "undo")["done"]
    assert_same(old, tracked)
    # at the end of the track: the tracklet shrinks as an erase does, no mark keeps it long
    assert ask(w, rec, 3, "erase", entity=b, start=10, stop=12)["removed"] == 2
    assert [(t["start_frame"], t["end_frame"]) for t in tracked.tracklets("clip", b)] == [(0, 9)]
    assert tracked.reviewed_frames("clip", b) == []


def test_the_queue_follows_cell_edits_off_the_message_thread_once_per_burst(
    tracked: vl.Dataset, widget: Any
) -> None:
    w, rec = widget
    a, _ = ids(tracked)
    threads: list[str] = []
    real = tracked.review

    def review(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    tracked.review = review  # type: ignore[method-assign]
    assert 3 not in queued(w, a) or not queued(w, a)[3]
    for f in (2, 3, 4):  # a burst of three edits; on frame 3 the mask jumps away and shrinks
        m = disc(H, W, 38, 50, 3) if f == 3 else disc(H, W, 20, 20 + f * 0.5 + 0.5, 8)
        tracked.set_mask("clip", f, a, m, keyframe=False)
    deadline = time.monotonic() + 20
    while not rec.custom("review") and time.monotonic() < deadline:  # no wait(): it comes by itself
        time.sleep(0.02)
    (event,) = rec.custom("review")
    assert threads == ["vidlabel-annotator-review"]  # once for the burst, on the review thread
    assert event["version"] == tracked.version
    assert w.review["entities"] == expected(tracked)
    assert queued(w, a)[3], queued(w, a)


def test_no_review_runs_while_a_cell_propagates(tracked: vl.Dataset, widget: Any) -> None:
    """A run from a cell (an undo group open in another thread) writes for longer than the longest
    wait between recomputes: the queue is recomputed once, after the run, not every few seconds."""
    from vidlabel.widget import review as feed

    w, _rec = widget
    a, _ = ids(tracked)
    calls: list[bool] = []
    real = tracked.review

    def review(*args: Any, **kwargs: Any) -> Any:
        calls.append(tracked.grouping)
        return real(*args, **kwargs)

    tracked.review = review  # type: ignore[method-assign]

    def run() -> None:
        with tracked.undo_group("cell run"):
            for f in range(1, 9):
                tracked.set_mask("clip", f, a, disc(H, W, 20, 22 + f, 8), keyframe=False)
                time.sleep(feed.MAX_WAIT / 3)

    t = threading.Thread(target=run)
    t.start()
    assert tracked.grouping or not t.is_alive()
    t.join()
    assert not tracked.grouping
    w.wait(30)
    assert calls == [False]  # once, after the run
    assert w.review["entities"] == expected(tracked)


def test_a_sequences_first_queue_is_sent_as_state_for_a_view_that_starts_late(
    tracked: vl.Dataset, widget: Any
) -> None:
    """The first queue of a sequence may be ready before the browser's view listens for events (from
    the review cache, at once): it goes as the trait's state, which a view reads whenever it starts,
    so the counter cannot be left empty, or patched from nothing by the next event."""
    w, rec = widget
    tracked.add_sequence("other", frames=np.zeros((6, H, W, 3), np.uint8))
    e = tracked.add_entity("other", "c")
    tracked.set_masks("other", e, {f: disc(H, W, 20, 20 + 3 * (f == 3), 8) for f in range(6)}, keyframe=False)
    tracked.review("other")  # cached: the widget's first queue for it is ready at once
    w.sequence = "other"
    w.wait(30)
    sent = [st["review"] for st in rec.states() if "review" in st]
    want = {k: as_trait(rows) for k, rows in queue_rows(tracked.review("other")).items()}
    assert sent and sent[-1]["sequence"] == "other" and sent[-1]["version"] == tracked.version
    assert sent[-1]["entities"] == want and want
    assert not [m for m in rec.custom("review") if m["sequence"] == "other"]  # not as a lone event


def test_a_review_request_answers_once_the_queue_is_current(tracked: vl.Dataset, widget: Any) -> None:
    w, rec = widget
    a, _ = ids(tracked)
    tracked.remove_masks("clip", a, [6])
    reply = ask(w, rec, 1, "review")
    assert reply["ok"] and reply["sequence"] == "clip" and reply["version"] == tracked.version
    assert queued(w, a).get(6)


def test_without_review_nothing_is_queued_or_marked(tracked: vl.Dataset) -> None:
    w = vl.Annotator(tracked, engine=PaintEngine(), review=False)
    rec = Recorder(w)
    a, _ = ids(tracked)
    try:
        assert w.review == {"enabled": False}
        assert ask(w, rec, 1, "prompt", frame=5, entity=a, points=[[20, 20]], labels=[1])["ok"]
        assert tracked.reviewed_frames("clip", a) == []
        reply = ask(w, rec, 2, "review")
        assert not reply["ok"] and "review=False" in reply["error"]
        assert rec.custom("review") == []
    finally:
        w.close()
    with pytest.raises(vl.ValidationError, match="unknown option"):
        vl.Annotator(tracked, engine=None, review={"bogus": 1})
    with pytest.raises(vl.ValidationError, match=r"Annotator\.review"):
        vl.Annotator(tracked, engine=None, review="yes")


def test_review_options_reach_ds_review(tracked: vl.Dataset) -> None:
    w = vl.Annotator(tracked, engine=None, review={"weights": {"presence": 0.0}})
    try:
        w.wait(30)
        weighted = tracked.review("clip", weights={"presence": 0.0})
        assert w.review["entities"] == {e: as_trait(rows) for e, rows in queue_rows(weighted).items()}
        assert w.review["entities"] != expected(tracked)  # the options changed the queue
        with pytest.raises(vl.ValidationError, match="unknown signal 'nonsense'"):
            vl.Annotator(tracked, engine=None, review={"weights": {"nonsense": 1.0}})
    finally:
        w.close()


BAD = [
    ({"kind": "mark_reviewed", "id": 1, "entity": "a", "start": 3, "stop": 3}, "is empty"),
    ({"kind": "mark_reviewed", "id": 2, "entity": "a", "start": 0, "stop": 13}, "outside the sequence"),
    ({"kind": "mark_reviewed", "id": 3, "entity": "a", "start": -1, "stop": 2}, "outside the sequence"),
    ({"kind": "mark_reviewed", "id": 4, "entity": "ghost", "start": 0, "stop": 1}, "unknown entity 'ghost'"),
    ({"kind": "mark_reviewed", "id": 5, "entity": "", "start": 0, "stop": 1}, "non-empty string"),
    (
        {"kind": "mark_reviewed", "id": 6, "entity": "a", "start": "0", "stop": 1},
        "start: expected an integer",
    ),
    (
        {"kind": "mark_reviewed", "id": 7, "entity": "a", "start": 0, "stop": 1, "reviewed": "yes"},
        "true or false",
    ),
    ({"kind": "mark_reviewed", "id": 8, "entity": "a", "stop": 1}, "start: expected an integer"),
    (
        {"kind": "mark_reviewed", "id": 9, "entity": "a", "start": 0, "stop": 1, "why": 1},
        "unknown field(s) why",
    ),
    ({"kind": "review", "id": 10, "sequence": "clip"}, "unknown field(s) sequence"),
    ({"kind": "mark_reviewed", "id": 11, "start": 0, "stop": 10**6}, "more than"),
]


@pytest.mark.parametrize(("msg", "match"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_malformed_review_messages_get_an_error_reply_and_change_nothing(
    tracked: vl.Dataset, widget: Any, caplog: pytest.LogCaptureFixture, msg: Any, match: str
) -> None:
    w, rec = widget
    before = snapshot(tracked)
    with caplog.at_level(logging.WARNING):
        w._on_msg(w, msg, [])
        w.wait(10)
    (reply,) = rec.custom("reply")
    assert not reply["ok"] and match in reply["error"] and reply["id"] == msg["id"], reply
    assert w.error == reply["error"]
    assert_same(before, tracked)
    assert not caplog.records, [r.getMessage() for r in caplog.records]


def test_one_mark_reviewed_message_is_bounded_in_frame_entity_pairs(
    tracked: vl.Dataset, widget: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bound counts (frame, entity) pairs: every entity over a long range is as much work as one
    entity over a range that many times longer, and holds the writer's lock as long."""
    import vidlabel.widget.annotator as annotator

    w, rec = widget
    monkeypatch.setattr(annotator, "MAX_REVIEW_FRAMES", 20)
    before = tracked.version
    reply = ask(w, rec, 1, "mark_reviewed", start=0, stop=12)  # 12 frames x 2 entities
    assert not reply["ok"] and "24 (frame, entity) pairs" in reply["error"]
    assert tracked.version == before
    assert ask(w, rec, 2, "mark_reviewed", entity="a", start=0, stop=12)["ok"]
