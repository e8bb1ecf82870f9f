"""Crash safety of projects, tested the way SQLite tests its atomic commit: a child process edits a
project (masks, entities, boxes, undo/redo, propagations, checkpoints, automatic ones included) and
reports every acknowledged commit; it is SIGKILLed at random moments; the reopened project must equal
the state after the last acknowledged commit or a later one of the same op, never a partial one."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
from project_script import digest, expected_histories, expected_states

import vidlabel as vl

SCRIPT = Path(__file__).with_name("project_script.py")
RUNS = 52
SEEDS = 4


def _kill_run(
    folder: Path, seed: int, after: int, delay: float
) -> tuple[tuple[int, int] | None, tuple[int, int] | None, bool]:
    """Run the child, kill it ``delay`` seconds after its ``after``-th ack; (last ack, last begun op,
    finished)."""
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(folder), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    first, finished = threading.Event(), threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("ack") and sum(x.startswith("ack") for x in lines) >= after:
                first.set()
            elif line.startswith("done"):
                finished.set()
        finished.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    if first.wait(60):
        finished.wait(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reader.join(10)  # what the pipe still held was written before the kill: those acks count too
    acked: tuple[int, int] | None = None
    begun: tuple[int, int] | None = None
    done = False
    _kill_run.in_checkpoint = False  # type: ignore[attr-defined]
    for line in lines:
        if line.startswith("checkpoint-"):
            _kill_run.in_checkpoint = line.startswith("checkpoint-begin")  # type: ignore[attr-defined]
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
    histories = {seed: expected_histories(seed) for seed in range(SEEDS)}
    # kill within the session: its length (first ack to done) measured once, here, on this machine
    rng = np.random.default_rng(12345)
    outcomes = {"exact": 0, "one more": 0, "finished": 0}
    during_checkpoint = 0
    for run in range(RUNS):
        seed = run % SEEDS
        folder = tmp_path / f"run{run}.vlproj"
        points = sum(len(p) for p in states[seed])
        # after a random acknowledged commit, a random moment later: inside a commit, a frame write,
        # a checkpoint (automatic ones start after commits), or between them
        after = int(rng.integers(1, points))
        acked, begun, finished = _kill_run(folder, seed, after, float(rng.uniform(0, 0.01)))
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
        # and the undo history is that point's: a run under way comes back as a step, cut off or not
        undo = [label.removesuffix(" (cut off)") for label in ds.history()]
        redo = ds.history.redo
        fits = []
        for k, i in matches:
            want_undo, want_redo, running = histories[seed][k][i]
            fits.append((undo, redo) == (want_undo, want_redo) or (undo, redo) == (want_undo + running, []))
        assert any(fits), f"run {run} (seed {seed}): history {undo} / {redo} is no committed point's"
        outcomes["finished" if finished else ("exact" if matches[0] == acked else "one more")] += 1
        during_checkpoint += bool(_kill_run.in_checkpoint)  # type: ignore[attr-defined]
        # the reopened project is a working one: its tracklets hold its annotations, undo works
        for t in ds.tracklets("clip") if "clip" in ds.sequence_ids() else []:
            assert t["start_frame"] <= t["end_frame"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.undo()
        ds.close()
    assert sum(outcomes.values()) >= 50, outcomes
    assert outcomes["exact"] + outcomes["one more"] >= 40, outcomes  # most kills landed mid-session
    assert during_checkpoint >= 3, during_checkpoint  # some kills landed inside a checkpoint
    print(f"kill runs: {outcomes}, {during_checkpoint} inside a checkpoint")
