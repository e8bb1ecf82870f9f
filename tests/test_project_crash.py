"""Crash safety of projects, tested the way SQLite tests its atomic commit: a child process edits a
project (masks, entities, boxes, undo/redo, propagations, checkpoints, automatic ones included) and
reports every acknowledged commit; it is SIGKILLed at random moments; the reopened project must equal
the state after the last acknowledged commit or a later one of the same op, never a partial one."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
from project_script import digest, expected_states

import vidlabel as vl

SCRIPT = Path(__file__).with_name("project_script.py")
RUNS = 52
SEEDS = 4


def _kill_run(
    folder: Path, seed: int, delay: float
) -> tuple[tuple[int, int] | None, tuple[int, int] | None, bool]:
    """Run the child, kill it ``delay`` seconds after its first ack; (last ack, last begun op, finished)."""
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(folder), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    first = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("ack"):
                first.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    if first.wait(60):
        time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reader.join(10)  # what the pipe still held was written before the kill: those acks count too
    acked: tuple[int, int] | None = None
    begun: tuple[int, int] | None = None
    done = False
    for line in lines:
        word, *nums = line.split() or [""]
        if word == "ack":
            acked = (int(nums[0]), int(nums[1]))
        elif word == "begin":
            begun = (int(nums[0]), int(nums[1]))
        elif word == "done":
            done = True
    return acked, begun, done


def test_sigkill_at_random_moments_keeps_every_acknowledged_commit(tmp_path: Path) -> None:
    states = {seed: expected_states(seed) for seed in range(SEEDS)}
    rng = np.random.default_rng(12345)
    outcomes = {"exact": 0, "one more": 0, "finished": 0}
    for run in range(RUNS):
        seed = run % SEEDS
        folder = tmp_path / f"run{run}.vlproj"
        acked, begun, finished = _kill_run(folder, seed, float(rng.uniform(0.0, 0.2)))
        if acked is None:  # killed before the project existed: nothing was acknowledged
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = vl.open(folder)
        got = digest(ds)
        flat = [(k, i) for k, pts in enumerate(states[seed]) for i in range(len(pts))]
        at = flat.index(acked)
        # allowed: the acknowledged point, or later points of the op under way (a propagation's
        # frames are durable before they are reported), or the first point of the next op begun
        last_op = begun[0] if begun is not None else acked[0]
        allowed = [p for p in flat[at:] if p[0] <= last_op]
        matches = [p for p in allowed if states[seed][p[0]][p[1]] == got]
        assert matches, f"run {run} (seed {seed}): reopened state is no committed state at or after {acked}"
        outcomes["finished" if finished else ("exact" if matches[0] == acked else "one more")] += 1
        # the reopened project is a working one: its tracklets hold its annotations, undo works
        for t in ds.tracklets("clip") if "clip" in ds.sequence_ids() else []:
            assert t["start_frame"] <= t["end_frame"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.undo()
        ds.close()
    assert sum(outcomes.values()) >= 50, outcomes
    assert outcomes["exact"] + outcomes["one more"] >= 40, outcomes  # most kills landed mid-session
    print(f"kill runs: {outcomes}")
