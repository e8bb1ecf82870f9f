"""A driver killed in the middle of a batch over a project (SIGKILL of the child process running it),
restarted with skip_done=True on the same folder: the union is the uninterrupted run's, and no
sequence was written twice."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_data import add, masks, write_frames

import vidlabel as vl

SCRIPT = Path(__file__).with_name("batch_script.py")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    root = tmp_path_factory.mktemp("batch-crash")
    specs = write_frames(root / "frames", num_frames=40, width=192, height=120)
    pristine = root / "pristine.vlproj"
    ds = vl.open(pristine)
    add(ds, specs)
    ds.close()
    ref = add(vl.Dataset(), specs)
    assert vl.batch.propagate(ref, "flow", progress=False).wait().done == ref.sequence_ids()
    return pristine, masks(ref)


def _run_and_kill(folder: Path, after: int, delay: float) -> tuple[list[str], bool]:
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    said: list[str] = []
    finished = False
    for line in proc.stdout:
        word, *rest = line.split()
        if word == "done":
            said.append(rest[0])
        finished = word == "finished"
        if len(said) >= after or finished:
            break
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return said, finished


@pytest.mark.parametrize(("after", "delay"), [(1, 0.0), (3, 0.05)])
def test_a_killed_driver_restarted_with_skip_done_carries_on(
    setup: tuple[Path, list], tmp_path: Path, after: int, delay: float
) -> None:
    pristine, reference = setup
    folder = tmp_path / "p.vlproj"
    shutil.copytree(pristine, folder)
    said, finished = _run_and_kill(folder, after, delay)
    assert not finished and len(said) >= after  # killed in the middle of the run
    ds = vl.open(folder)  # the dead driver's lock went with it
    sources = {m[0] for m in masks(ds) if not m[6]}
    assert set(said) <= sources  # every sequence it said was done is there, whole
    for seq in sources:  # and whatever is there is whole: exactly the uninterrupted run's rows
        assert [m for m in masks(ds) if m[0] == seq] == [m for m in reference if m[0] == seq]
    report = vl.batch.propagate(ds, "flow", skip_done=True, progress=False).wait()
    assert report.skipped == sorted(sources) and report.done == sorted(set(ds.sequence_ids()) - sources)
    assert report.done  # there was work left
    assert masks(ds) == reference
    labels = [label.removesuffix(" (cut off)") for label in ds.history()]
    assert sorted(labels) == [f"batch flow: {s}" for s in ds.sequence_ids()]  # each written once
    ds.close()
    again = vl.open(folder)
    assert masks(again) == reference
    assert vl.batch.propagate(again, "flow", progress=False).wait().skipped == again.sequence_ids()
    again.close()
