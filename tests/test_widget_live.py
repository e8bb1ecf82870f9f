"""The Annotator following a dataset that changes under it: track bar patches, bursts, engine sessions.

No browser here: a Python mirror of the browser's copy of ``tracks`` applies the patches the
kernel sends, as js/src/timeline.ts does, and must always equal a track read afresh.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from conftest import disc
from test_segment_base import PaintEngine, PaintSession
from test_widget import Recorder, ask

import vidlabel as vl
from vidlabel.widget.tracks import full_track, run_set, runs


def apply_patch(tracks: dict[str, Any], patch: dict[str, Any]) -> None:
    """The browser's side of a ``changed`` event's ``tracks`` (see protocol.md)."""
    for eid, p in patch.items():
        if p is None:
            tracks.pop(eid, None)
            continue
        track = tracks.setdefault(eid, {})
        for name, value in p.items():
            if isinstance(value, list):
                track[name] = copy.deepcopy(value)
            elif name == "flags":
                frames = {f for s, e in track[name] for f in range(s, e + 1)}
                frames |= {f for s, e in value["add"] for f in range(s, e + 1)}
                frames -= {f for s, e in value["remove"] for f in range(s, e + 1)}
                track[name] = runs(sorted(frames))
            else:
                track[name] = sorted((set(track[name]) | set(value["add"])) - set(value["remove"]))


def fresh(w: vl.Annotator) -> dict[str, Any]:
    ds, seq = w.dataset, w.sequence
    return {e: full_track(ds, seq, e, ("occluded",)) for e in ds.entity_ids(seq)}


@pytest.fixture
def big() -> vl.Dataset:
    ds = vl.Dataset(state_fields={"occluded": pa.bool_()})
    seq = ds.add_sequence("long", num_frames=400, width=32, height=24)
    for name in "abc":
        e = ds.add_entity(seq, name)
        ds.set_masks(seq, e, {f: disc(24, 32, 12, 16, 4) for f in range(400)})  # fully keyframed
    ds.clear_history()
    return ds


def test_edits_send_patches_that_keep_the_browser_copy_exact(big: vl.Dataset) -> None:
    w = vl.Annotator(big, engine=None)
    rec = Recorder(w)
    seq = "long"
    a, b, c = big.entity_ids(seq)
    mirror = copy.deepcopy(w.tracks)  # what the browser got with the widget's state
    assert mirror == fresh(w)
    rng = np.random.default_rng(4)
    m = disc(24, 32, 10, 10, 3)
    for step in range(60):
        e = [a, b, c][int(rng.integers(3))]
        f = int(rng.integers(400))
        k = int(rng.integers(8))
        if k == 0:
            big.set_mask(seq, f, e, m, keyframe=False)
        elif k == 1:
            big.remove_masks(seq, e, range(f, min(400, f + int(rng.integers(1, 5)))))
        elif k == 2:
            big.set_states(seq, e, range(f, min(400, f + 3)), occluded=bool(rng.integers(2)))
        elif k == 3:
            big.set_box(seq, f, e, (1, 1, 4, 4))
        elif k == 4 and big.can_undo:
            big.undo()
        elif k == 5 and big.can_redo:
            big.redo()
        elif k == 6:
            big.set_mask(seq, f, e, m)
        else:
            big.remove_state(seq, f, e)
        if step % 3 == 0:  # several edits per flush, as in a burst
            w.wait()
            for msg in rec.custom("changed"):
                apply_patch(mirror, msg.get("tracks", {}))
            rec.msgs.clear()
            assert w.tracks == fresh(w), step
            assert mirror == w.tracks, step
    w.close()


def test_an_edit_sends_what_it_touched_not_the_whole_track(big: vl.Dataset) -> None:
    w = vl.Annotator(big, engine=None)
    rec = Recorder(w)
    a = big.entity("a", "long")["id"]
    big.set_mask("long", 123, a, disc(24, 32, 5, 5, 2), keyframe=False)
    w.wait()
    assert not any("tracks" in s for s in rec.states())  # the 3 x 400 keyframes are not sent again
    (changed,) = rec.custom("changed")
    assert changed["frames"] == [123]
    assert changed["tracks"] == {a: {"keyframes": {"add": [], "remove": [123]}}}
    assert 123 not in w.tracks[a]["keyframes"] and len(w.tracks[a]["keyframes"]) == 399
    w.close()


def test_a_burst_of_cell_edits_reaches_the_widget_as_one_message(big: vl.Dataset) -> None:
    w = vl.Annotator(big, engine=None)
    w._flush_interval = 3600.0  # nothing is sent by the flusher thread during this test
    rec = Recorder(w)
    a = big.entity("a", "long")["id"]
    for f in range(100, 130):
        big.set_mask("long", f, a, disc(24, 32, 5, 5, 2), keyframe=False)
    assert rec.msgs == []  # the edits only noted what they touched
    w.wait()
    (changed,) = rec.custom("changed")
    assert changed["frames"] == list(range(100, 130))
    assert changed["tracks"][a]["keyframes"] == {"add": [], "remove": list(range(100, 130))}
    assert w.undo_label == "set mask 129"
    w.close()


def test_renaming_an_entity_rereads_no_track(big: vl.Dataset, monkeypatch: Any) -> None:
    import vidlabel.widget.follow as follow_module

    w = vl.Annotator(big, engine=None)
    rec = Recorder(w)
    a = big.entity("a", "long")["id"]
    read: list[str] = []
    real = follow_module.full_track
    monkeypatch.setattr(follow_module, "full_track", lambda ds, s, e, f: read.append(e) or real(ds, s, e, f))
    big.set_entity(a, name="bear", color="#123456")
    w.wait()
    assert read == []
    assert w.entities[0]["name"] == "bear" and w.entities[0]["color"] == "#123456"
    d = big.add_entity("long", "d")
    w.wait()
    assert read == [d] and rec.custom("changed")[-1]["tracks"] == {d: w.tracks[d]}
    w.close()


def test_flag_runs_are_kept_in_place() -> None:
    spans: list[list[int]] = []
    frames: set[int] = set()
    rng = np.random.default_rng(1)
    for _ in range(500):
        f, on = int(rng.integers(30)), bool(rng.integers(2))
        assert run_set(spans, f, on) == ((f in frames) != on)
        frames = frames | {f} if on else frames - {f}
        assert spans == runs(sorted(frames))


# ------------------------------------------------------------------ engine sessions off the message thread
class SlowEngine(PaintEngine):
    """Building a session waits for ``go`` (SAM2 encodes frames there); records the building threads."""

    def __init__(self) -> None:
        super().__init__()
        self.go = threading.Event()
        self.building = threading.Event()
        self.built_on: list[str] = []
        self.closed: list[str] = []

    def session(self, ds: vl.Dataset, sequence: str) -> PaintSession:
        self.built_on.append(threading.current_thread().name)
        self.building.set()
        assert self.go.wait(20), "the test never let the session build"
        engine = self

        class Closing(PaintSession):
            def close(self) -> None:
                engine.closed.append(self.sequence)
                super().close()

        return Closing(self, ds, sequence)


def test_the_first_prompt_builds_the_session_on_the_worker(ds: vl.Dataset) -> None:
    a = ds.add_entity("clip", "a")
    eng = SlowEngine()
    w = vl.Annotator(ds, engine=eng)
    rec = Recorder(w)
    prompt = {"kind": "prompt", "id": 1, "frame": 4, "entity": a, "points": [[30, 20]], "labels": [1]}
    w._on_msg(w, prompt, [])
    assert eng.building.wait(20)
    # the session is still being built: the message thread answers frames meanwhile, and says why it waits
    w._on_msg(w, {"kind": "frames", "id": 2, "start": 0, "stop": 2}, [])
    assert rec.reply(2)[0]["ok"] and w.busy == "preparing paint"
    assert not [c for c in rec.custom("reply") if c["id"] == 1]
    eng.go.set()
    w.wait(20)
    assert rec.reply(1)[0]["ok"] and w.busy == ""
    assert eng.built_on[0].startswith("vidlabel-annotator") and ds.mask_frames("clip", a) == [4]
    w.close()


def test_propagate_builds_its_session_on_the_worker_and_still_refuses(ds: vl.Dataset) -> None:
    a = ds.add_entity("clip", "a")
    ds.set_mask("clip", 0, a, disc(48, 64, 20, 30, 5))
    eng = SlowEngine()
    w = vl.Annotator(ds, engine=eng, entity=a)
    rec = Recorder(w)
    w._on_msg(w, {"kind": "propagate", "id": 1, "direction": "forward"}, [])
    assert eng.building.wait(20)
    w._on_msg(w, {"kind": "frames", "id": 2, "start": 0, "stop": 1}, [])
    assert rec.reply(2)[0]["ok"]
    assert w.progress["running"] and w.progress["label"] == "paint: preparing clip"
    eng.go.set()
    w.wait(20)
    assert rec.reply(1)[0]["ok"] and ds.mask_frames("clip", a) == list(range(12))
    b = ds.add_entity("clip", "b")
    w.entity = b
    reply = ask(w, rec, 3, "propagate", direction="forward")
    assert not reply["ok"] and "nothing to propagate" in reply["error"]
    w.close()


def test_sessions_of_sequences_not_shown_are_released(ds: vl.Dataset, frames: np.ndarray) -> None:
    for name in ("two", "three"):
        ds.add_sequence(name, frames=frames)
    ids = ds.sequence_ids()
    ents = {s: ds.add_entity(s, "a") for s in ids}
    eng = SlowEngine()
    eng.go.set()
    w = vl.Annotator(ds, engine=eng, keep_sessions=1)
    rec = Recorder(w)
    for k, s in enumerate(ids):
        w.sequence = s
        ask(w, rec, k, "prompt", frame=1, entity=ents[s], points=[[10, 10]], labels=[1])
    w.wait()
    assert list(w._sessions) == ids[1:] and eng.closed == [ids[0]]  # one other sequence's session kept
    w.sequence = ids[0]
    w.wait()
    assert eng.closed == [ids[0], ids[1]] and list(w._sessions) == [ids[2]]
    w.close()
    with pytest.raises(vl.ValidationError, match="keep_sessions"):
        vl.Annotator(ds, engine=None, keep_sessions=-1)


def test_the_state_sent_to_a_new_view_is_not_patched_under_it(big: vl.Dataset) -> None:
    w = vl.Annotator(big, engine=None)
    a = big.entity("a", "long")["id"]
    sent = w.get_state()["tracks"]  # what a view being created is sent (serialised later, elsewhere)
    before = copy.deepcopy(sent)
    big.set_mask("long", 7, a, disc(24, 32, 5, 5, 2), keyframe=False)
    big.set_states("long", a, range(3, 9), occluded=True)
    w.wait()
    assert sent == before and w.tracks[a]["flags"] == [[3, 8]] and 7 not in w.tracks[a]["keyframes"]
    w.close()


@pytest.fixture
def ds(either_ds: vl.Dataset) -> vl.Dataset:
    """Every test here runs on an in-memory dataset and on a project-backed one."""
    return either_ds
