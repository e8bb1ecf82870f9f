"""The Annotator's kernel side, driven through its messages as the browser sends them (no browser here).

The browser end to end is tests/e2e; these check the protocol: replies, buffers, traits, the
worker thread, and that nothing bad from the browser changes the dataset or raises.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import assert_same, disc, snapshot
from pycocotools import mask as cocomask
from test_segment_base import PaintEngine, PaintSession

import vidlabel as vl
from vidlabel.segment.base import Pass, Result


class Recorder:
    """Stands in for the comm: keeps what the widget sends."""

    def __init__(self, w: vl.Annotator) -> None:
        self.msgs: list[tuple[dict[str, Any], list[Any]]] = []
        w._send = self._send  # type: ignore[method-assign]

    def _send(self, msg: dict[str, Any], buffers: list[Any] | None = None) -> None:
        self.msgs.append((msg, list(buffers or [])))

    def custom(self, kind: str | None = None) -> list[dict[str, Any]]:
        out = [m["content"] for m, _ in self.msgs if m.get("method") == "custom"]
        return [c for c in out if kind is None or c["kind"] == kind]

    def reply(self, rid: int) -> tuple[dict[str, Any], list[Any]]:
        found = [(m["content"], b) for m, b in self.msgs if m.get("method") == "custom"]
        found = [(c, b) for c, b in found if c["kind"] == "reply" and c["id"] == rid]
        assert len(found) == 1, f"expected one reply to {rid}, got {found}"
        return found[0]

    def states(self) -> list[dict[str, Any]]:
        return [m["state"] for m, _ in self.msgs if m.get("method") == "update"]


def ask(w: vl.Annotator, rec: Recorder, rid: int, kind: str, **fields: Any) -> dict[str, Any]:
    w._on_msg(w, {"kind": kind, "id": rid, **fields}, [])
    w.wait(10)
    return rec.reply(rid)[0]


@pytest.fixture
def paint(ds: vl.Dataset) -> PaintEngine:
    ds.add_entity("clip", "a")
    ds.add_entity("clip", "b", color="#00ff00")
    ds.clear_history()
    return PaintEngine()


@pytest.fixture
def widget(ds: vl.Dataset, paint: PaintEngine) -> Generator[tuple[vl.Annotator, Recorder]]:
    w = vl.Annotator(ds, engine=paint)
    rec = Recorder(w)
    yield w, rec
    w.close()


def test_opens_on_the_first_sequence_with_its_entities(ds: vl.Dataset, widget: Any) -> None:
    w, _ = widget
    assert (w.sequence, w.frame, w.entity, w.engine_name) == ("clip", 0, "", "paint")
    assert w.info == {"name": "clip", "num_frames": 12, "width": 64, "height": 48, "fps": 12.0}
    assert [(e["name"], e["color"], e["index"]) for e in w.entities] == [
        ("a", "#800000", 1),  # the DAVIS palette's colour for object 1
        ("b", "#00ff00", 2),  # the entity's own colour
    ]
    assert w.sequences == [{"id": "clip", "name": "clip", "num_frames": 12}]
    bundle = Path(vl.__file__).parent / "static" / "widget.js"
    assert w._esm == bundle.read_text()  # the shipped bundle, no CDN


def test_bad_construction_is_refused(ds: vl.Dataset) -> None:
    with pytest.raises(vl.ValidationError, match=r"expected a vidlabel\.Dataset"):
        vl.Annotator("not a dataset")  # type: ignore[arg-type]
    with pytest.raises(vl.ValidationError, match="no sequences"):
        vl.Annotator(vl.Dataset())
    with pytest.raises(vl.ValidationError, match="unknown sequence 'nope'"):
        vl.Annotator(ds, sequence="nope", engine=None)
    with pytest.raises(vl.ValidationError, match="unknown engine"):
        vl.Annotator(ds, engine="sam9")
    with pytest.raises(vl.ValidationError, match="engine name"):
        vl.Annotator(ds, engine=None, max_side=3)
    with pytest.raises(vl.ValidationError, match=r"Annotator\.engine"):
        vl.Annotator(ds, engine=3)


def test_cell_sets_traits_by_name_and_bad_values_raise(ds: vl.Dataset, widget: Any) -> None:
    w, _ = widget
    w.frame = 11
    w.entity = "b"  # a name resolves to the id
    assert w.entity == ds.entity("b", "clip")["id"]
    w.hidden = ["a"]
    assert w.hidden == [ds.entity("a", "clip")["id"]]
    for name, value, match in [
        ("frame", 12, "frame 12 is out of range"),
        ("frame", -1, "out of range"),
        ("entity", "zebra", "unknown entity 'zebra'"),
        ("tool", "lasso", "Annotator.tool"),
        ("opacity", 1.5, "from 0 to 1"),
        ("opacity", float("nan"), "from 0 to 1"),
        ("hidden", ["zebra"], "unknown entity"),
        ("sequence", "other", "unknown sequence"),
    ]:
        with pytest.raises(vl.ValidationError, match=match):
            setattr(w, name, value)
    assert (w.frame, w.tool, w.opacity) == (11, "point", 0.5)


def test_sequence_picker_switches_and_resets_the_selection(frames: np.ndarray) -> None:
    ds = vl.Dataset()
    ds.add_sequence("one", frames=frames)
    ds.add_sequence("two", frames=frames[:5])
    e = ds.add_entity("one", "x")
    w = vl.Annotator(ds, engine=None, frame=7, entity="x")
    assert (w.sequence, w.frame, w.entity) == ("one", 7, e)
    w.sequence = "two"
    assert (w.info["num_frames"], w.frame, w.entity, w.entities) == (5, 0, "", [])
    w.close()


def test_browser_trait_updates_that_are_bad_are_shown_and_put_back(ds: vl.Dataset, widget: Any) -> None:
    w, rec = widget
    w.frame = 3
    before = snapshot(ds)
    for state, match in [
        ({"frame": 40}, "out of range"),
        ({"frame": "x"}, "frame"),
        ({"entity": "ghost"}, "unknown entity"),
        ({"entities": []}, "entities can only be set by the kernel"),
        ({"opacity": -2}, "from 0 to 1"),
    ]:
        rec.msgs.clear()
        w.set_state(state)  # what ipywidgets calls on an "update" from the browser; must not raise
        assert match in w.error
        (key,) = state
        resent = [s for s in rec.states() if key in s]
        assert resent, f"{key} was not sent back to the browser"
        assert resent[-1][key] == getattr(w, key)
    assert w.frame == 3
    assert_same(before, ds)
    w.set_state({"frame": 5, "error": ""})
    assert (w.frame, w.error) == (5, "")


def test_frames_reply_carries_jpeg_bytes_and_the_stored_rle(ds: vl.Dataset, widget: Any) -> None:
    w, rec = widget
    a = ds.entity("a", "clip")["id"]
    ds.set_mask("clip", 2, a, disc(48, 64, 20, 30, 8), score=0.25)
    reply = ask(w, rec, 1, "frames", start=1, stop=4)
    _, buffers = rec.reply(1)
    assert reply["ok"] and reply["sequence"] == "clip" and reply["revision"] == w.revision
    assert [i["frame"] for i in reply["items"]] == [1, 2, 3]
    for item in reply["items"]:
        data, mime = ds.frame_bytes("clip", item["frame"])
        assert (bytes(buffers[item["image"]]), item["mime"]) == (data, mime)
    (m,) = reply["items"][1]["masks"]
    assert (m["entity"], m["height"], m["width"], m["keyframe"], m["source"]) == (a, 48, 64, True, "human")
    assert m["score"] == pytest.approx(0.25)
    rle = {"size": [48, 64], "counts": bytes(buffers[m["counts"]])}
    assert np.array_equal(cocomask.decode(rle).astype(bool), ds.mask("clip", 2, a))
    masks_only = ask(w, rec, 2, "frames", start=2, stop=3, images=False)
    assert masks_only["items"][0]["image"] is None and len(masks_only["items"][0]["masks"]) == 1


def test_jpeg_files_pass_through_untouched(tmp_path: Path) -> None:
    root = vl.demo.write_davis(
        tmp_path / "davis", sequences={"orbit": vl.demo.synthetic_video(4, 96, 64, 1, 0)}
    )
    ds = vl.read_davis(root)
    seq = ds.sequence_ids()[0]
    w = vl.Annotator(ds, engine=None)
    rec = Recorder(w)
    reply = ask(w, rec, 1, "frames", start=0, stop=4)
    _, buffers = rec.reply(1)
    files = sorted((root / "JPEGImages" / "480p" / seq).glob("*.jpg"))
    assert [bytes(buffers[i["image"]]) for i in reply["items"]] == [f.read_bytes() for f in files]
    w.close()


def test_click_writes_a_keyframe_and_tells_the_browser(ds: vl.Dataset, widget: Any) -> None:
    w, rec = widget
    a = ds.entity("a", "clip")["id"]
    rev = w.revision
    reply = ask(w, rec, 1, "prompt", frame=4, entity=a, points=[[30, 20]], labels=[1])
    assert reply == {"kind": "reply", "id": 1, "ok": True, "frame": 4, "entity": a, "score": 0.9}
    assert np.array_equal(ds.mask("clip", 4, a), disc(48, 64, 20, 30, 5))
    assert ds.annotation("masks", "clip", 4, a)["keyframe"]
    changed = rec.custom("changed")
    assert changed[-1]["frames"] == [4] and changed[-1]["revision"] == w.revision > rev
    assert w.tracks[a] == {
        "tracklets": [[4, 4]],
        "ids": [f"{a}#1"],
        "interpolate": [True],
        "keyframes": [4],
        "box_keyframes": [],
        "flags": [],
    }
    assert w.can_undo
    # a second click with clear=False adds to the frame's prompt (a negative point here)
    ask(w, rec, 2, "prompt", frame=4, entity=a, points=[[33, 20]], labels=[0], clear=False)
    assert ds.mask("clip", 4, a).sum() < disc(48, 64, 20, 30, 5).sum()
    ask(w, rec, 3, "prompt", frame=5, entity=a, box=[10, 10, 20, 30])
    assert ds.mask("clip", 5, a).sum() == 200


def test_propagate_fills_frames_with_progress_and_undoes_as_one_step(ds: vl.Dataset, widget: Any) -> None:
    w, rec = widget
    a = ds.entity("a", "clip")["id"]
    w.frame, w.entity = 3, "a"
    ask(w, rec, 1, "prompt", frame=3, entity=a, points=[[30, 20]], labels=[1])
    reply = ask(w, rec, 2, "propagate", direction="forward", entities="selected")
    assert reply["ok"] and (reply["frames"], reply["written"], reply["kept"]) == (9, 8, 1)
    assert not reply["cancelled"]
    assert ds.mask_frames("clip", a) == list(range(3, 12))
    assert w.progress["total"] == 9 and w.progress["done"] == 9 and not w.progress["running"]
    assert w.busy == ""
    assert w.tracks[a]["tracklets"] == [[3, 11]] and w.tracks[a]["keyframes"] == [3]
    assert "propagate forward from frame 3" in w.undo_label
    changed = {f for c in rec.custom("changed") for f in c["frames"] or []}
    assert changed >= set(range(3, 12))
    assert ask(w, rec, 3, "undo")["done"]
    assert ds.mask_frames("clip", a) == [3]
    assert ask(w, rec, 4, "redo")["done"]
    assert ds.mask_frames("clip", a) == list(range(3, 12))


def test_propagate_all_backward_from_a_given_frame(ds: vl.Dataset, widget: Any) -> None:
    w, rec = widget
    a, b = (ds.entity(n, "clip")["id"] for n in "ab")
    ask(w, rec, 1, "prompt", frame=6, entity=a, points=[[30, 20]], labels=[1])
    ask(w, rec, 2, "prompt", frame=8, entity=b, points=[[10, 10]], labels=[1])
    reply = ask(w, rec, 3, "propagate", direction="backward", entities="all", frame=8)
    assert reply["ok"], reply
    assert ds.mask_frames("clip", a) == list(range(0, 7))
    assert ds.mask_frames("clip", b) == list(range(0, 9))


def test_propagation_follows_keyframes_edited_from_cells(ds: vl.Dataset, widget: Any) -> None:
    """Undo of a click and a cell-side keyframe reach the engine: it starts from what the dataset holds."""
    w, rec = widget
    a = ds.entity("a", "clip")["id"]
    ask(w, rec, 1, "prompt", frame=0, entity=a, points=[[30, 20]], labels=[1])
    ask(w, rec, 2, "undo")
    square = np.zeros((48, 64), bool)
    square[5:15, 40:60] = True
    ds.set_mask("clip", 0, a, square)  # from a cell: a keyframe the engine never saw
    w.entity = a
    ask(w, rec, 3, "propagate", direction="forward", entities="selected")
    assert all(np.array_equal(ds.mask("clip", f, a), square) for f in range(12))


def test_cell_edits_show_up_in_an_open_widget(ds: vl.Dataset, widget: Any) -> None:
    w, rec = widget
    rev = w.revision
    c = ds.add_entity("clip", "c", category="dog")
    w.wait()  # cell edits reach the widget a moment later, gathered; wait() sends them now
    assert [e["name"] for e in w.entities] == ["a", "b", "c"]
    # a new entity: its bar travels as a patch, the entity list as a trait; nothing to refetch
    assert rec.custom("changed")[-1]["tracks"] == {c: w.tracks[c]}
    assert not any("tracks" in s for s in rec.states())
    ds.set_mask("clip", 7, c, disc(48, 64, 10, 10, 4))
    w.wait()
    assert rec.custom("changed")[-1] == {
        "kind": "changed",
        "sequence": "clip",
        "frames": [7],
        "revision": w.revision,
        "tracks": {
            c: {
                "tracklets": [[7, 7]],
                "ids": [f"{c}#1"],
                "interpolate": [True],
                "keyframes": {"add": [7], "remove": []},
            }
        },
    }
    assert w.revision == rev + 1
    assert w.tracks[c]["tracklets"] == [[7, 7]]
    assert w.can_undo and w.undo_label == "set mask 7"
    ds.undo()
    w.wait()
    assert w.tracks[c]["tracklets"] == [] and w.can_redo
    w.entity = "c"
    ds.remove_entity(c)
    w.wait()
    assert w.entity == "" and "c" not in [e["name"] for e in w.entities]
    assert rec.custom("changed")[-1]["tracks"] == {c: None}
    w.close()
    n = len(rec.msgs)
    ds.add_entity("clip", "d")  # a closed widget no longer follows
    assert len(rec.msgs) == n


def test_entity_and_erase_messages(ds: vl.Dataset, widget: Any) -> None:
    w, rec = widget
    reply = ask(w, rec, 1, "add_entity", name="zebra", category="animal", color="#123456")
    z = reply["entity"]
    assert w.entity == z and ds.entity(z)["color"] == "#123456"
    for f in range(2, 9):
        ds.set_mask("clip", f, z, disc(48, 64, 20, 20, 6))
    assert ask(w, rec, 2, "erase", entity=z, start=4, stop=5)["removed"] == 1
    assert ask(w, rec, 3, "erase", entity=z, start=6, stop=12)["removed"] == 3
    assert ds.mask_frames("clip", z) == [2, 3, 5]
    ask(w, rec, 4, "set_entity", entity=z, name="horse", color="#abcdef")
    assert ds.entity(z)["name"] == "horse" and w.entities[-1]["color"] == "#abcdef"
    ask(w, rec, 5, "delete_entity", entity="horse")
    assert z not in ds.entity_ids("clip") and w.entity == ""
    assert ask(w, rec, 6, "undo")["done"] and z in ds.entity_ids("clip")
    assert ask(w, rec, 7, "add_entity")["entity"] in ds.entity_ids("clip")  # default name


BAD = [
    ({"kind": "explode", "id": 1}, "unknown kind 'explode'"),
    ({"kind": "frames", "id": 2, "start": 0, "stop": 99}, "must hold 1 to 64 frames"),
    ({"kind": "frames", "id": 3, "start": 10, "stop": 14}, "outside sequence"),
    ({"kind": "frames", "id": 4, "start": -2, "stop": 1}, "outside sequence"),
    ({"kind": "frames", "id": 5, "start": "0", "stop": 1}, "start: expected an integer"),
    ({"kind": "frames", "id": 6, "start": 0, "stop": 1, "bogus": 1}, "unknown field(s) bogus"),
    (
        {"kind": "prompt", "id": 7, "frame": 20, "entity": "a", "points": [[1, 1]], "labels": [1]},
        "out of range",
    ),
    ({"kind": "prompt", "id": 8, "frame": 0, "entity": "a", "points": [[None, 1]], "labels": [1]}, "finite"),
    ({"kind": "prompt", "id": 9, "frame": 0, "entity": "ghost", "points": [[1, 1]], "labels": [1]}, "ghost"),
    ({"kind": "prompt", "id": 10, "frame": 0, "entity": "a", "points": [[1, 1]], "labels": [2]}, "labels[0]"),
    ({"kind": "prompt", "id": 11, "frame": 0, "entity": "a", "points": [[1, 1]], "labels": []}, "0 labels"),
    ({"kind": "prompt", "id": 12, "frame": 0, "entity": "a", "points": [[99, 1]], "labels": [1]}, "outside"),
    ({"kind": "prompt", "id": 13, "frame": 0, "entity": "a"}, "at least one point or a box"),
    ({"kind": "prompt", "id": 14, "frame": 0, "entity": "a", "box": [1, 2, 3]}, "box: expected"),
    ({"kind": "propagate", "id": 15, "direction": "sideways"}, "direction"),
    ({"kind": "propagate", "id": 16, "entities": "selected"}, "no entity is selected"),
    ({"kind": "propagate", "id": 17, "entities": "all"}, "nothing to propagate"),
    ({"kind": "erase", "id": 18, "entity": "a", "start": 3, "stop": 3}, "is empty"),
    ({"kind": "erase", "id": 19, "entity": "a", "start": 0, "stop": 13}, "outside the sequence"),
    ({"kind": "add_entity", "id": 20, "name": "a"}, "duplicate name"),
    ({"kind": "add_entity", "id": 21, "color": "blue"}, "entities.color"),
    ({"kind": "set_entity", "id": 22, "entity": "a"}, "nothing to change"),
    ({"kind": "delete_entity", "id": 23, "entity": 5}, "non-empty string"),
    ({"kind": "undo", "id": 24}, None),  # nothing to undo: ok, done false
    ({"kind": "frames", "id": True, "start": 0, "stop": 1}, "message.id"),
    ({"kind": "frames", "start": 0, "stop": 1}, "message.id"),
    (["frames", 0, 1], "expected a JSON object"),
    ("{}", "expected a JSON object"),
]


@pytest.mark.parametrize(("msg", "match"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_messages_get_an_error_reply_and_change_nothing(
    ds: vl.Dataset, widget: Any, caplog: pytest.LogCaptureFixture, msg: Any, match: str | None
) -> None:
    w, rec = widget
    before = snapshot(ds)
    with caplog.at_level(logging.WARNING):
        w._on_msg(w, msg, [])
        w.wait(10)
    replies = rec.custom("reply")
    assert len(replies) == 1
    reply = replies[0]
    if match is None:
        assert reply["ok"] and reply["done"] is False
    else:
        assert not reply["ok"] and match in reply["error"], reply
        assert w.error == reply["error"]
        ok_id = isinstance(msg, dict) and isinstance(msg.get("id"), int) and not isinstance(msg["id"], bool)
        assert reply["id"] == (msg["id"] if ok_id else None)
    assert_same(before, ds)
    assert not caplog.records, [r.getMessage() for r in caplog.records]


def test_no_engine_means_no_prompts(ds: vl.Dataset, paint: PaintEngine) -> None:
    w = vl.Annotator(ds, engine=None)
    rec = Recorder(w)
    reply = ask(w, rec, 1, "prompt", frame=0, entity="a", points=[[3, 3]], labels=[1])
    assert not reply["ok"] and "no engine" in reply["error"]
    w.close()


class GatedSession(PaintSession):
    """Propagates one frame each time the test opens the gate; can also fail on a given frame."""

    gate: threading.Semaphore
    fail_at: int | None = None

    def _run_pass(self, leg: Pass, entities: list[str]) -> Generator[tuple[int, dict[str, Result]]]:
        for f, results in super()._run_pass(leg, entities):
            assert self.gate.acquire(timeout=10)
            if f == self.fail_at:
                raise RuntimeError("the GPU fell over")
            yield f, results


class GatedEngine(PaintEngine):
    name = "gated"

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__()
        self.gate = threading.Semaphore(0)
        self.fail_at = fail_at

    def session(self, ds: vl.Dataset, sequence: str) -> GatedSession:
        s = GatedSession(self, ds, sequence)
        s.gate, s.fail_at = self.gate, self.fail_at
        return s


def _wait_for(cond: Any) -> None:
    for _ in range(1000):
        if cond():
            return
        threading.Event().wait(0.01)
    raise AssertionError("condition not reached")


def test_frames_are_served_and_edits_refused_while_propagating_and_cancel_stops_it(
    ds: vl.Dataset, paint: PaintEngine
) -> None:
    engine = GatedEngine()
    w = vl.Annotator(ds, engine=engine, entity="a")
    rec = Recorder(w)
    a = w.entity
    ds.set_mask("clip", 0, a, disc(48, 64, 20, 20, 5))
    w._on_msg(w, {"kind": "propagate", "id": 1, "direction": "forward", "entities": "selected"}, [])
    engine.gate.release(3)  # frames 0 (the start), 1, 2
    _wait_for(lambda: len(ds.mask_frames("clip", a)) == 3)
    assert w.busy == "propagate" and w.progress["running"]
    w._on_msg(w, {"kind": "frames", "id": 2, "start": 0, "stop": 4}, [])  # answered at once, mid-run
    assert rec.reply(2)[0]["ok"]
    w._on_msg(w, {"kind": "erase", "id": 3, "entity": a, "start": 0, "stop": 1}, [])
    assert "a propagation is running" in rec.reply(3)[0]["error"]
    w._on_msg(w, {"kind": "cancel", "id": 4}, [])
    assert rec.reply(4)[0]["cancelled"] is True
    engine.gate.release(20)
    w.wait(10)
    done = rec.reply(1)[0]
    assert done["ok"] and done["cancelled"] and done["frames"] < 12
    assert w.progress["cancelled"] and not w.progress["running"] and w.busy == ""
    kept = ds.mask_frames("clip", a)
    assert 3 <= len(kept) < 12 and kept == list(range(len(kept)))
    ds.undo()  # the cancelled run is one undo step
    assert ds.mask_frames("clip", a) == [0]
    w._on_msg(w, {"kind": "cancel", "id": 5}, [])
    assert rec.reply(5)[0]["cancelled"] is False
    w.close()


def test_a_failing_engine_is_reported_and_finished_frames_are_kept(
    ds: vl.Dataset, paint: PaintEngine, caplog: pytest.LogCaptureFixture
) -> None:
    engine = GatedEngine(fail_at=5)
    w = vl.Annotator(ds, engine=engine, entity="a")
    rec = Recorder(w)
    ds.set_mask("clip", 0, w.entity, disc(48, 64, 20, 20, 5))
    engine.gate.release(50)
    with caplog.at_level(logging.ERROR, logger="vidlabel.widget"):
        reply = ask(w, rec, 1, "propagate", direction="forward", entities="selected")
    assert not reply["ok"] and "the GPU fell over" in reply["error"] and "the GPU fell over" in w.error
    assert ds.mask_frames("clip", w.entity) == [0, 1, 2, 3, 4]
    assert w.busy == "" and not w.progress["running"]
    assert ask(w, rec, 2, "frames", start=0, stop=1)["ok"]  # the widget still works
    w.close()


class UnpreparedEngine(PaintEngine):
    name = "unprepared"

    def session(self, ds: vl.Dataset, sequence: str) -> PaintSession:
        raise RuntimeError("out of GPU memory")


def test_a_session_that_cannot_be_built_ends_the_run_progress(
    ds: vl.Dataset, paint: PaintEngine, caplog: pytest.LogCaptureFixture
) -> None:
    w = vl.Annotator(ds, engine=UnpreparedEngine(), entity="a")
    rec = Recorder(w)
    ds.set_mask("clip", 0, w.entity, disc(48, 64, 20, 20, 5))
    with caplog.at_level(logging.ERROR, logger="vidlabel.widget"):
        reply = ask(w, rec, 1, "propagate", direction="forward", entities="selected")
    assert not reply["ok"] and "out of GPU memory" in reply["error"]
    assert w.progress["label"] == "unprepared: preparing clip"
    assert not w.progress["running"] and w.busy == "" and not w._propagating  # no bar left spinning
    w.close()


def test_the_wheel_ships_the_bundle(tmp_path: Path) -> None:
    import subprocess
    import sys
    import zipfile

    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(root),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    (wheel,) = tmp_path.glob("vidlabel-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "vidlabel/static/widget.js" in names
    shipped = zipfile.ZipFile(wheel).read("vidlabel/static/widget.js")
    assert shipped == (root / "vidlabel" / "static" / "widget.js").read_bytes()


def test_an_edit_redraws_only_the_track_bars_it_touched(ds: vl.Dataset, widget: Any) -> None:
    w, rec = widget
    a, b = ds.entity("a", "clip")["id"], ds.entity("b", "clip")["id"]
    ds.set_mask("clip", 2, a, disc(48, 64, 20, 20, 5))
    w.wait()
    assert list(rec.custom("changed")[-1]["tracks"]) == [a]
    assert w.tracks[a]["tracklets"] == [[2, 2]] and w.tracks[b]["tracklets"] == []


@pytest.fixture
def ds(either_ds: vl.Dataset) -> vl.Dataset:
    """Every test here runs on an in-memory dataset and on a project-backed one."""
    return either_ds
