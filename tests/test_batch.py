"""vl.batch.propagate in this process (cluster=None): what it writes, what it skips, bad input.

The Ray runner is in test_batch_ray.py, a driver killed in the middle in test_batch_crash.py."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from batch_data import GatedEngine, add, demo, loop_of_sessions, masks, write_frames

import vidlabel as vl


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    return write_frames(tmp_path_factory.mktemp("batch"))


def test_in_process_equals_a_loop_of_sessions(specs: list[dict]) -> None:
    ref = add(vl.Dataset(), specs)
    loop_of_sessions(ref, vl.segment.load("flow"))
    ds = add(vl.Dataset(), specs)
    before = masks(ds)
    job = vl.batch.propagate(ds, engine="flow", progress=False)
    report = job.wait()
    assert report.finished and report.done == ds.sequence_ids() and not report.failed
    assert masks(ds) == masks(ref) != before
    # one undo step per sequence, and undoing one takes back exactly that sequence's masks
    assert ds.history() == [f"batch flow: {s}" for s in ds.sequence_ids()]
    ds.undo()
    assert [m for m in masks(ds) if m[0] == "seq5"] == [m for m in before if m[0] == "seq5"]
    assert [m for m in masks(ds) if m[0] != "seq5"] == [m for m in masks(ref) if m[0] != "seq5"]
    r = report["seq1"]
    assert (r.frames, r.kept, r.attempts) == (16, 3, 1) and r.written > 0


def test_keyframes_kept_and_the_source_names_engine_and_options(specs: list[dict]) -> None:
    ds = add(vl.Dataset(), specs[:2])
    keyframes = [m for m in masks(ds)]
    assert all(m[4] == "human" and m[6] for m in keyframes)
    job = vl.batch.propagate(ds, "flow", {"max_side": 64, "tracker": "dense"}, progress=False)
    assert job.wait().done == ["seq0", "seq1"]
    source = 'flow {"max_side":64,"tracker":"dense"}'
    assert job.report().source == source
    rows = masks(ds)
    assert [m for m in rows if m[6]] == keyframes  # every keyframe as it was
    propagated = [m for m in rows if not m[6]]
    assert propagated and {m[4] for m in propagated} == {source}
    assert all(0.0 <= m[5] <= 1.0 for m in propagated)


def test_a_long_option_is_named_by_a_digest_in_the_source() -> None:
    from vidlabel.batch.write import source_name

    config = {"model_type": "sam2_video", "hidden": list(range(100))}  # a config's to_dict(), in small
    name = source_name("transformers", {"config": config, "device": "cpu"})
    assert name.startswith('transformers {"config":"sam2_video sha256:') and name.endswith(
        '","device":"cpu"}'
    )
    assert len(name) < 100 and name == source_name("transformers", {"device": "cpu", "config": dict(config)})
    folder = "/data/models/" + "x" * 150  # a model's path names it: kept whole, however long
    assert source_name("transformers", {"model": folder}) == f'transformers {{"model":"{folder}"}}'
    other = source_name("transformers", {"config": {**config, "hidden": list(range(101))}, "device": "cpu"})
    assert other != name  # another config is another source: skip_done tells them apart


def test_skip_done_skips_what_holds_this_source_and_redoes_what_was_undone(specs: list[dict]) -> None:
    ds = add(vl.Dataset(), specs[:3])
    vl.batch.propagate(ds, "flow", progress=False).wait()
    after = masks(ds)
    job = vl.batch.propagate(ds, "flow", progress=False)
    again = job.wait()
    assert again.skipped == ["seq0", "seq1", "seq2"] and "done before" in (again["seq0"].error or "")
    assert job.workers == []  # nothing to do: no engine loaded
    assert ds.history() == ["batch flow: seq0", "batch flow: seq1", "batch flow: seq2"]
    ds.undo("batch flow: seq1")
    third = vl.batch.propagate(ds, "flow", progress=False).wait()
    assert third.done == ["seq1"] and third.skipped == ["seq0", "seq2"]
    assert masks(ds) == after
    # other options are another source: not done yet
    other = vl.batch.propagate(ds, "flow", {"max_side": 64}, sequences=["seq0"], progress=False).wait()
    assert other.done == ["seq0"]
    # skip_done=False runs them again
    forced = vl.batch.propagate(ds, "flow", sequences=["seq2"], skip_done=False, progress=False).wait()
    assert forced.done == ["seq2"]


def test_a_sequence_without_keyframes_is_skipped_and_reported(specs: list[dict]) -> None:
    ds = add(vl.Dataset(), specs[:2])
    bare = ds.add_sequence("bare", frames=np.zeros((4, 32, 40, 3), np.uint8))
    ds.add_entity(bare, "lonely")  # an entity, but no keyframe
    ds.add_sequence("pixelless", num_frames=3, width=8, height=8)
    e = ds.add_entity("pixelless")
    ds.set_mask("pixelless", 0, e, np.ones((8, 8), bool))
    job = vl.batch.propagate(ds, "flow")
    report = job.wait()
    assert report.done == ["seq0", "seq1"]
    assert report.skipped == ["bare", "pixelless"]
    # the bar plans the frames of the sequences run; skipped ones count among the sequences done
    assert job.progress.n == job.progress.total == 32
    assert "4/4 seq" in job.progress.desc and "skipped=2" in job.progress.postfix
    assert "no keyframes" in (report["bare"].error or "")
    assert "no pixels" in (report["pixelless"].error or "")
    assert "skipped" in repr(report) and "no keyframes" in repr(report)
    # asked for by name, it is reported the same way
    only = vl.batch.propagate(ds, "flow", sequences=["bare"], progress=False).wait()
    assert only.skipped == ["bare"] and list(only.sequences) == ["bare"]


def test_keyframe_boxes_prompt_too(specs: list[dict]) -> None:
    ds = vl.Dataset()
    spec = specs[0]
    seq = ds.add_sequence("boxed", frames=spec["frames"], fps=12)
    e = ds.add_entity(seq, "1")
    f = int(np.flatnonzero((spec["masks"] == 1).any(axis=(1, 2)))[0])
    ys, xs = np.nonzero(spec["masks"][f] == 1)
    ds.set_box(seq, f, e, (float(xs.min()), float(ys.min()), float(np.ptp(xs) + 1), float(np.ptp(ys) + 1)))
    report = vl.batch.propagate(ds, "flow", progress=False).wait()
    assert report.done == ["boxed"] and report["boxed"].written > 5
    assert ds.mask(seq, f, e) is not None and not ds.annotation("masks", seq, f, e)["keyframe"]


def test_a_failing_sequence_is_reported_and_the_others_go_on(specs: list[dict], tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    from PIL import Image

    for i, frame in enumerate(vl.demo.synthetic_video(num_frames=8, width=64, height=48, seed=1).frames):
        Image.fromarray(frame).save(folder / f"{i:05d}.jpg")
    ds = add(vl.Dataset(), specs[:2])
    seq = ds.add_sequence("broken", frames=str(folder))
    e = ds.add_entity(seq)
    ds.set_mask(seq, 0, e, np.ones((48, 64), bool))
    (folder / "00005.jpg").write_bytes(b"not a jpeg")
    before = [m for m in masks(ds) if m[0] == "broken"]
    report = vl.batch.propagate(ds, "flow", progress=False).wait()
    assert report.done == ["seq0", "seq1"] and report.failed == ["broken"]
    assert "00005.jpg" in (report["broken"].error or "") and "Traceback" in (report["broken"].details or "")
    assert [m for m in masks(ds) if m[0] == "broken"] == before  # nothing of it written


def test_cancel_stops_between_frames_and_writes_no_sequence_in_part(tmp_path: Path) -> None:
    ds = demo(tmp_path, num_frames=40, width=192, height=120)
    before = masks(ds)
    job = vl.batch.propagate(ds, "flow", progress=False)
    while not job.report().done:
        time.sleep(0.005)
    job.cancel()
    report = job.wait()
    assert report.finished and report.cancelled and not report.failed
    assert len(report.done) + len(report.cancelled) == 6
    for seq in ds.sequence_ids():
        rows = [m for m in masks(ds) if m[0] == seq]
        if seq in report.done:
            assert rows != [m for m in before if m[0] == seq]
        else:  # untouched: not even the frames it had done when cancelled
            assert rows == [m for m in before if m[0] == seq]
    assert ds.history() == [f"batch flow: {s}" for s in report.done]


def test_progress_counts_frames_before_a_sequence_finishes(specs: list[dict]) -> None:
    ds = add(vl.Dataset(), specs[:2])
    engine = GatedEngine()
    job = vl.batch.propagate(ds, engine)
    bar = job.progress
    try:
        assert (bar.total, bar.unit) == (32, "frame")  # the frames planned: 2 sequences of 16
        deadline = time.monotonic() + 30
        while bar.n < 3 and time.monotonic() < deadline:
            engine.gate.release()  # one frame at a time, slower than the bar is redrawn
            time.sleep(0.25)
        shown, report = bar.n, job.report()
        assert 3 <= shown < 16, shown  # frames of seq0, while it runs
        assert report["seq0"].status == "running" and not report.done
        assert report["seq0"].frames == 0  # the report tells a sequence's frames once it is written
        assert report["seq0"].computed >= shown and "frames computed" in repr(report)
        assert "0/2 seq" in bar.desc
    finally:
        engine.gate.release(1000)
    report = job.wait(timeout=60)
    assert report.done == ["seq0", "seq1"] and [r.frames for r in report.sequences.values()] == [16, 16]
    assert bar.n == bar.total == 32
    assert "2/2 seq" in bar.desc and "failed=0" in bar.postfix and "fps=" in bar.postfix


def test_an_entity_removed_while_it_runs_is_dropped_and_a_newcomer_gets_none_of_its_masks(
    specs: list[dict],
) -> None:
    ds = add(vl.Dataset(), specs[:1])
    first, second = ds.entity_ids("seq0")
    engine = GatedEngine()
    job = vl.batch.propagate(ds, engine, progress=False)
    try:
        engine.gate.release(2)  # the worker is under way
        ds.remove_entity("seq0", second)
        newcomer = ds.add_entity("seq0", "late")  # never the removed one's id
        assert newcomer != second
        mine = np.zeros((80, 128), bool)
        mine[10:20, 10:20] = True
        ds.set_mask("seq0", 12, first, mine)  # a person's keyframe set while the job runs
    finally:
        engine.gate.release(1000)
    report = job.wait(timeout=60)
    assert report.done == ["seq0"] and report["seq0"].dropped == [second] and report["seq0"].kept >= 1
    assert ds.mask_frames("seq0", newcomer) == []
    assert len(ds.mask_frames("seq0", first)) == 16
    assert (
        np.array_equal(ds.mask("seq0", 12, first), mine)
        and ds.annotation("masks", "seq0", 12, first)["keyframe"]
    )


@pytest.mark.parametrize("direction", ["forward", "backward", "both"])
def test_the_frames_planned_are_the_frames_computed(specs: list[dict], direction: str) -> None:
    ds = add(vl.Dataset(), specs[:2], middle=0)  # seq0's keyframes mid-video, seq1's at both ends
    job = vl.batch.propagate(ds, "flow", direction=direction)
    report = job.wait(timeout=60)
    assert report.done == ["seq0", "seq1"]
    frames = sum(r.frames for r in report.sequences.values())
    assert job.progress.total == job.progress.n == frames
    assert (frames == 32) if direction == "both" else (16 < frames < 32)


def test_progress_plans_the_frames_of_the_direction_and_drops_a_failed_sequence(
    specs: list[dict], tmp_path: Path
) -> None:
    from PIL import Image

    folder = tmp_path / "broken"
    folder.mkdir()
    for i, frame in enumerate(vl.demo.synthetic_video(num_frames=8, width=64, height=48, seed=1).frames):
        Image.fromarray(frame).save(folder / f"{i:05d}.jpg")
    ds = add(vl.Dataset(), [specs[0], specs[3]], middle=1)  # seq3's keyframes in the middle
    seq = ds.add_sequence("broken", frames=str(folder))
    e = ds.add_entity(seq)
    ds.set_mask(seq, 2, e, np.ones((48, 64), bool))
    (folder / "00006.jpg").write_bytes(b"not a jpeg")
    first = {s: min(m[1] for m in masks(ds) if m[0] == s and m[6]) for s in ds.sequence_ids()}
    planned = {s: ds.sequence(s)["num_frames"] - first[s] for s in ds.sequence_ids()}
    job = vl.batch.propagate(ds, "flow", direction="forward")
    assert planned["seq3"] < 16 and planned["broken"] == 6
    assert job.progress.total == sum(planned.values())  # from each first keyframe to the end
    report = job.wait(timeout=60)
    assert report.done == ["seq0", "seq3"] and report.failed == ["broken"]
    assert [report[s].frames for s in report.done] == [planned["seq0"], planned["seq3"]]
    # the frames broken had computed before its bad frame are not counted: nothing of it is written
    assert job.progress.n == planned["seq0"] + planned["seq3"] < job.progress.total
    assert "failed=1" in job.progress.postfix and "2/3 seq" in job.progress.desc


def test_one_job_at_a_time_on_a_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = demo(tmp_path, num_frames=30)
    job = vl.batch.propagate(ds, "flow", progress=False)
    loads: list[str] = []
    real = vl.segment.load
    monkeypatch.setattr(vl.segment, "load", lambda name, **kw: loads.append(name) or real(name, **kw))
    with pytest.raises(vl.ValidationError, match="already running"):
        vl.batch.propagate(ds, "flow", progress=False)
    assert loads == []  # refused before a second engine is loaded (a model on a busy GPU)
    monkeypatch.undo()
    job.wait()
    assert vl.batch.propagate(ds, "flow", progress=False).wait().skipped == ds.sequence_ids()


def test_a_sequence_keyed_on_every_frame_is_skipped_and_an_unknown_one_is_named(specs: list[dict]) -> None:
    ds = add(vl.Dataset(), specs[:2])  # seq1 as a DAVIS import holds it: every frame a keyframe
    square = np.zeros((80, 128), bool)
    square[10:30, 10:30] = True
    for eid in ds.entity_ids("seq1"):
        for f in range(16):
            ds.set_mask("seq1", f, eid, square)
    report = vl.batch.propagate(ds, "flow", progress=False).wait()
    assert report.done == ["seq0"] and report.skipped == ["seq1"]
    assert "nothing to propagate" in (report["seq1"].error or "")
    with pytest.raises(vl.ValidationError, match=r"no sequence 'nope' in this job \(it has seq0, seq1\)"):
        report["nope"]


def test_an_engine_object_runs_in_process_only(specs: list[dict]) -> None:
    ds = add(vl.Dataset(), specs[:1])
    engine = vl.segment.load("flow", max_side=64)
    assert vl.batch.propagate(ds, engine, progress=False).wait().done == ["seq0"]
    with pytest.raises(vl.ValidationError, match="by name"):
        vl.batch.propagate(ds, engine, cluster="ray", skip_done=False, progress=False)
    with pytest.raises(vl.ValidationError, match="engine_options"):
        vl.batch.propagate(ds, engine, {"max_side": 32}, progress=False)


def test_bad_input_is_refused_and_changes_nothing(specs: list[dict]) -> None:
    ds = add(vl.Dataset(), specs[:2])
    before, version = masks(ds), ds.version
    bad = [
        ({"engine": "sam4"}, "unknown engine 'sam4'"),
        ({"engine": "flow", "direction": "sideways"}, "direction"),
        ({"engine": "flow", "sequences": ["nope"]}, "nope"),
        ({"engine": "flow", "workers": 0}, "workers"),
        ({"engine": "flow", "workers": 2}, "workers= is for a Ray cluster"),
        ({"engine": "sam3", "engine_options": {"model": "facebook/sam3", "treshold": 0.3}}, "unknown option"),
        ({"engine": "flow", "retries": -1}, "retries"),
        ({"engine": "flow", "engine_options": {"tracker": "magic"}}, "tracker"),
        ({"engine": "flow", "engine_options": {"colour": 3}}, "unknown option"),
        ({"engine": "flow", "cluster": "slurm"}, "cluster must be"),
        ({"engine": "flow", "cluster": "ray://nohost"}, "cluster must be"),
    ]
    for kwargs, message in bad:
        with pytest.raises(vl.ValidationError, match=message):
            vl.batch.propagate(ds, progress=False, **kwargs)  # type: ignore[arg-type]
    assert masks(ds) == before and ds.version == version and ds.history() == []


def test_in_memory_frames_are_refused_for_a_remote_cluster_before_connecting(specs: list[dict]) -> None:
    ds = add(vl.Dataset(), specs)  # seq4 holds arrays
    with pytest.raises(vl.ValidationError, match=r"'seq4' hold their frames as in-memory arrays"):
        vl.batch.propagate(ds, "flow", cluster="ray://127.0.0.1:1", progress=False)
    assert "ray" not in sys.modules or not sys.modules["ray"].is_initialized()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_ray_address_that_does_not_answer_is_a_clear_error(specs: list[dict]) -> None:
    ds = add(vl.Dataset(), specs[:2])  # files only
    port = _free_port()
    with pytest.raises(vl.ValidationError, match=rf"'ray://127.0.0.1:{port}' does not answer"):
        vl.batch.propagate(ds, "flow", cluster=f"ray://127.0.0.1:{port}", progress=False)
    assert ds.history() == []


def test_an_address_that_accepts_but_is_no_ray_gives_up_within_the_timeout(tmp_path: Path) -> None:
    # A listener that never speaks: Ray's client alone would retry for about 30 s. In a child
    # process, so that the Ray client it leaves trying cannot meet the other tests' local Ray.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                accepted.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    code = textwrap.dedent(f"""
        import sys, time, numpy as np
        import vidlabel as vl
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from batch_data import demo
        ds = demo(__import__("pathlib").Path({str(tmp_path)!r}), n=2, kinds=("images",))
        t0 = time.monotonic()
        try:
            vl.batch.propagate(
                ds, "flow", cluster="ray://127.0.0.1:{port}", connect_timeout=3, progress=False
            )
        except vl.ValidationError as e:
            print("refused", round(time.monotonic() - t0, 1), e)
    """)
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    finally:
        stop.set()
        listener.close()
        for s in accepted:
            s.close()
    line = next((x for x in out.stdout.splitlines() if x.startswith("refused")), None)
    assert line is not None, out.stdout + out.stderr
    assert "no Ray client answered within 3 s" in line
    # the timeout is what ended it, not Ray's own 30 s of retries
    assert float(line.split()[1]) < 20


def test_ray_is_imported_only_for_a_cluster(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import vidlabel as vl
        from batch_data import demo
        ds = demo(__import__("pathlib").Path({str(tmp_path)!r}), n=1, kinds=("array",))
        print(vl.batch.propagate(ds, "flow", progress=False).wait().done, "ray" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split("\n")[-2] == "['seq0'] False", out.stdout + out.stderr
