"""vl.batch.propagate on a local Ray (one for the whole module, two CPUs): the same masks as in this
process, with one worker or two, with the flow engine and with SAM2; workers killed in the middle."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from batch_data import add, loop_of_sessions, masks, write_frames

import vidlabel as vl

ray = pytest.importorskip("ray")  # in the test extra: CI has it

SAM2 = {
    "config": "configs/sam2.1/sam2.1_hiera_t.yaml",
    "random_weights": True,
    "image_size": 256,
    "device": "cpu",
    "seed": 0,
}


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    return write_frames(tmp_path_factory.mktemp("batch-ray"))


@pytest.fixture(scope="module")
def reference(specs: list[dict]) -> list[tuple[Any, ...]]:
    ds = add(vl.Dataset(), specs)
    assert vl.batch.propagate(ds, "flow", progress=False).wait().done == ds.sequence_ids()
    return masks(ds)


@pytest.mark.parametrize("workers", [1, 2])
def test_local_ray_gives_the_in_process_masks(
    specs: list[dict], reference: list[tuple[Any, ...]], workers: int
) -> None:
    # frames as JPEG files, a video file, encoded bytes and arrays (through the object store)
    ds = add(vl.Dataset(), specs)
    job = vl.batch.propagate(ds, "flow", cluster="ray", workers=workers, progress=False)
    assert len(job.workers) == workers
    report = job.wait(timeout=300)
    assert report.done == ds.sequence_ids(), report
    assert masks(ds) == reference
    assert sorted(ds.history()) == [f"batch flow: {s}" for s in report.done]  # each once
    pids = {r.worker for r in report.sequences.values()}
    assert 1 <= len(pids) <= workers and os.getpid() not in pids  # computed in the workers
    assert all(w.state == "dead" for w in job.workers)  # let go once the job ended


def test_sam2_random_weights_the_same_here_and_on_one_or_two_workers(tmp_path: Path) -> None:
    pytest.importorskip("sam2")
    import torch

    specs = write_frames(tmp_path, 2, num_frames=5, width=96, height=64, kinds=("images", "array"))
    # A worker of one CPU runs torch on one thread; torch's float sums depend on the thread count
    # (seen here: two threads change a few pixels), so this process does the same while it compares.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        loop = add(vl.Dataset(), specs)
        loop_of_sessions(loop, vl.segment.load("sam2", **SAM2))
        here = add(vl.Dataset(), specs)
        source = vl.batch.propagate(here, "sam2", SAM2, progress=False).wait().source
    finally:
        torch.set_num_threads(threads)
    assert source.startswith("sam2 {") and '"image_size":256' in source
    assert [m[:4] + m[5:] for m in masks(here)] == [m[:4] + m[5:] for m in masks(loop)]
    assert len([m for m in masks(here) if not m[6]]) > 0  # random weights still give masks
    for workers in (1, 2):
        ds = add(vl.Dataset(), specs)
        job = vl.batch.propagate(ds, "sam2", SAM2, cluster="ray", workers=workers, progress=False)
        report = job.wait(300)
        assert report.done == ["seq0", "seq1"], report
        assert masks(ds) == masks(here)


def test_sam3_text_prompts_find_the_same_entities_on_ray(tmp_path: Path) -> None:
    """The real (random-weight) detector: what it finds is arbitrary, but the same here and on Ray,
    the entities a worker makes are made in this process with the masks under their new ids."""
    import torch

    from vidlabel.segment.hf_loading import import_transformers
    from vidlabel.segment.hf_tiny import char_tokens, tiny_sam3_config

    import_transformers()  # not a plain import: this machine's torchvision cannot load

    options = {
        "config": tiny_sam3_config().to_dict(),  # plain data: a worker unpickles it before transformers
        "random_weights": True,
        "device": "cpu",
        "tokenizer": char_tokens,  # importable: the workers are given it by name
        "threshold": 0.3,
        "max_objects": 3,
    }
    specs = write_frames(tmp_path, 2, num_frames=4, width=96, height=64, kinds=("images", "encoded"))

    def fresh() -> vl.Dataset:
        ds = vl.Dataset()
        for spec in specs:  # no keyframes: the text is the only prompt
            ds.add_sequence(spec["name"], frames=spec["frames"])
        return ds

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a one-CPU worker (see the SAM2 test)
    try:
        here = fresh()
        report = vl.batch.propagate(here, "sam3", options, text="person", progress=False).wait(300)
    finally:
        torch.set_num_threads(threads)
    assert report.done == ["seq0", "seq1"] and "char_tokens" in report.source
    found = [e for r in report.sequences.values() for e in r.found]
    assert found and all(here.entity(e)["category"] == "person" for e in found)
    ds = fresh()
    job = vl.batch.propagate(ds, "sam3", options, text="person", cluster="ray", workers=2, progress=False)
    remote = job.wait(300)
    assert remote.done == ["seq0", "seq1"], remote
    assert os.getpid() not in {r.worker for r in remote.sequences.values()}
    assert [r.found for r in remote.sequences.values()] == [r.found for r in report.sequences.values()]
    assert [(e, ds.entity(e)["category"]) for s in ds.sequence_ids() for e in ds.entity_ids(s)] == [
        (e, here.entity(e)["category"]) for s in here.sequence_ids() for e in here.entity_ids(s)
    ]
    assert masks(ds) == masks(here)


@pytest.fixture(scope="module")
def long_specs(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    # long enough (about half a second a sequence) for a kill to land inside one
    return write_frames(
        tmp_path_factory.mktemp("batch-kill"), num_frames=48, width=192, height=120, kinds=("images",)
    )


@pytest.fixture(scope="module")
def long_reference(long_specs: list[dict]) -> list[tuple[Any, ...]]:
    ds = add(vl.Dataset(), long_specs)
    vl.batch.propagate(ds, "flow", progress=False).wait()
    return masks(ds)


def _kill_one_mid_run(ds: vl.Dataset, how: str) -> tuple[Any, str, int]:
    """Kill the worker of a sequence whose first frames the driver has counted (the workers' counts
    reach it while they work), a dozen frames at least before its end."""
    job = vl.batch.propagate(ds, "flow", cluster="ray", workers=2, retries=2)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        report = job.report()
        counted = [r for r in report.sequences.values() if r.status == "running" and 0 < r.computed <= 36]
        if counted and counted[-1].worker:
            victim = counted[-1]
            worker = next(w for w in job.workers if w.pid == victim.worker)
            if how == "ray.kill":
                ray.kill(worker.handle)
            else:
                os.kill(victim.worker, signal.SIGKILL)
            return job, victim.sequence, victim.worker
        time.sleep(0.002)
    raise AssertionError("no sequence was seen under way with its frames on the bar")


@pytest.mark.parametrize("how", ["ray.kill", "SIGKILL"])
def test_a_worker_killed_mid_run_loses_only_its_sequence(
    long_specs: list[dict], long_reference: list[tuple[Any, ...]], how: str
) -> None:
    ds = add(vl.Dataset(), long_specs)
    job, lost, killed = _kill_one_mid_run(ds, how)
    bar, shown = job.progress, []
    while job.running:
        shown.append(bar.n)
        time.sleep(0.01)
    report = job.wait(timeout=300)
    # the lost sequence's frames are counted once: the bar waits for the retry to pass them (never
    # going back), never shows more than planned, and holds exactly the frames at the end
    assert shown == sorted(shown) and max(shown) <= bar.total == 6 * 48
    assert bar.n == bar.total and report[lost].computed == report[lost].frames == 48
    assert "retried=1" in bar.postfix and "6/6 seq" in bar.desc
    assert report.done == ds.sequence_ids(), report  # the run completes
    assert report[lost].attempts == 2 and "worker died" not in repr(report)
    assert all(r.attempts == 1 for s, r in report.sequences.items() if s != lost)
    # every sequence written exactly once, and the masks are the in-process run's
    assert sorted(ds.history()) == sorted(f"batch flow: {s}" for s in ds.sequence_ids())
    assert masks(ds) == long_reference
    assert report[lost].worker != killed  # done by a live worker
    assert sum(w.deaths for w in job.workers) >= 1


def test_a_sequence_that_kills_every_worker_is_reported_failed(long_specs: list[dict]) -> None:
    ds = add(vl.Dataset(), long_specs[:2])
    job = vl.batch.propagate(ds, "flow", cluster="ray", workers=1, retries=1, restarts=5, progress=False)
    killed: set[tuple[str, int]] = set()
    deadline = time.monotonic() + 120
    while job.running and time.monotonic() < deadline:
        for r in job.report().sequences.values():
            attempt = (r.sequence, r.attempts)
            if r.sequence == "seq0" and r.status == "running" and r.worker and attempt not in killed:
                killed.add(attempt)
                os.kill(r.worker, signal.SIGKILL)
        time.sleep(0.002)
    report = job.wait(timeout=60)
    assert report.failed == ["seq0"] and report.done == ["seq1"], report
    assert report["seq0"].attempts == 2 and "worker died" in (report["seq0"].error or "")
    assert ds.history() == ["batch flow: seq1"]


def test_cancel_on_ray_gives_up_the_sequences_under_way_whole(long_specs: list[dict]) -> None:
    ds = add(vl.Dataset(), long_specs)
    before = masks(ds)
    job = vl.batch.propagate(ds, "flow", cluster="ray", workers=2)
    deadline = time.monotonic() + 120
    while not job.report().done and time.monotonic() < deadline:
        time.sleep(0.005)
    job.cancel()
    report = job.wait(timeout=60)
    assert report.finished and report.cancelled and not report.failed
    assert job.progress.n == 48 * len(report.done)  # the frames of the sequences given up leave the bar
    assert sorted(report.done + report.cancelled) == ds.sequence_ids()
    for seq in report.cancelled:  # nothing of them written
        assert [m for m in masks(ds) if m[0] == seq] == [m for m in before if m[0] == seq]
    assert sorted(ds.history()) == [f"batch flow: {s}" for s in report.done]
    assert all(w.state == "dead" for w in job.workers)


def test_an_engine_that_does_not_load_on_the_workers_fails_every_sequence_with_its_error(
    specs: list[dict],
) -> None:
    ds = add(vl.Dataset(), specs[:2])
    job = vl.batch.propagate(ds, "flow", {"tracker": "magic"}, cluster="ray", workers=2, progress=False)
    report = job.wait(timeout=120)
    assert report.failed == ["seq0", "seq1"]
    assert "no worker could load the engine" in (report["seq0"].error or "")
    assert "tracker must be one of" in (report["seq0"].error or "")
    assert ds.history() == []
