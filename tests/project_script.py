"""A deterministic editing session on a project, shared by the crash test's child process (which runs
it and is killed) and the test itself (which runs it in memory to know every committed state).

``commit points`` are the transactions a person would see acknowledged: each edit call that returns,
and each frame a propagation reports. The child prints ``begin K N`` before op K (N points) and
``ack K I`` once point I of op K is durable.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import disc
from test_segment_base import PaintEngine

import vidlabel as vl

H, W, FRAMES = 24, 32, 16

Ack = Callable[[int], None]


def make_ops(seed: int) -> list[tuple[int, Callable[[vl.Dataset, Ack], None]]]:
    """(commit points, op) pairs; op(ds, ack) calls ack(i) after each of its points is durable."""
    rng = np.random.default_rng(seed)
    ops: list[tuple[int, Callable[[vl.Dataset, Ack], None]]] = []

    def setup(ds: vl.Dataset, ack: Ack) -> None:
        ds.add_sequence("clip", frames=np.full((FRAMES, H, W, 3), 80, np.uint8), fps=8)
        ack(0)
        for i, name in enumerate(("a", "b", "c")):
            ds.add_entity("clip", name)
            ack(1 + i)
        ds.clear_history()  # later undos take back annotations, never the entities the ops name
        ack(4)

    ops.append((5, setup))
    for _ in range(40):
        kind = int(rng.integers(9))
        f = int(rng.integers(FRAMES))
        e = ["a", "b", "c"][int(rng.integers(3))]
        r = float(rng.uniform(2, 7))
        if kind <= 2:
            ops.append(
                (1, lambda ds, ack, f=f, e=e, r=r: (ds.set_mask("clip", f, e, disc(H, W, 12, 14, r)), ack(0)))
            )
        elif kind == 3:
            ops.append((1, lambda ds, ack, f=f, e=e: (ds.remove_mask("clip", f, e), ack(0))))
        elif kind == 4:
            ops.append((1, lambda ds, ack: (ds.undo(), ack(0))))
        elif kind == 5:
            ops.append((1, lambda ds, ack: (ds.redo(), ack(0))))
        elif kind == 6:
            box = (float(rng.uniform(0, 10)), 2.0, 8.0, 9.0)
            ops.append((1, lambda ds, ack, f=f, e=e, box=box: (ds.set_box("clip", f, e, box), ack(0))))
        elif kind == 7:
            start = int(rng.integers(FRAMES - 6))

            def propagate(ds: vl.Dataset, ack: Ack, start: int = start, e: str = e) -> None:
                sess = PaintEngine().session(ds, "clip")
                sess.prompt(start, e, points=[(14, 12)])
                ack(0)
                sess.propagate_into(
                    start=start, end=start + 5, progress=False, on_frame=lambda frame, done, total: ack(done)
                )

            ops.append((7, propagate))
        else:
            ops.append((1, lambda ds, ack: (ds.checkpoint(), ack(0))))
    return ops


def digest(ds: vl.Dataset) -> str:
    """What must survive: every table's content (frame paths aside: a project keeps pixels as files)."""
    h = hashlib.sha256()
    for name in ("entities", "tracklets", "masks", "boxes", "states"):
        h.update(repr(ds.table(name).to_pylist()).encode())
    seqs = ds.table("sequences").drop_columns(["source_uri", "source_kind"])
    h.update(repr(seqs.to_pylist()).encode())
    h.update(repr(ds.table("frames").drop_columns(["uri"]).to_pylist()).encode())
    return h.hexdigest()


def history_of(ds: vl.Dataset) -> tuple[list[str], list[str], list[str]]:
    """Undo labels, redo labels, runs going on."""
    h = ds.history
    return list(h.undo), list(h.redo), list(h.running)


def expected_histories(seed: int) -> list[list[tuple[list[str], list[str], list[str]]]]:
    """The history after each commit point of each op, run in memory."""
    import warnings

    ds = vl.Dataset()
    out: list[list[tuple[list[str], list[str], list[str]]]] = []
    for points, op in make_ops(seed):
        seen: list[tuple[list[str], list[str], list[str]]] = [([], [], [])] * points

        def ack(i: int, seen: list = seen) -> None:
            seen[i] = history_of(ds)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                op(ds, ack)
            except vl.ValidationError:
                ack(0)
        out.append(seen)
    return out


def expected_states(seed: int) -> list[list[str]]:
    """digest after each commit point of each op, run in memory."""
    import warnings

    ds = vl.Dataset()
    out: list[list[str]] = []
    for points, op in make_ops(seed):
        seen: list[str] = [""] * points

        def ack(i: int, seen: list[str] = seen) -> None:
            seen[i] = digest(ds)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                op(ds, ack)
            except vl.ValidationError:  # "checkpoint" of an in-memory dataset
                ack(0)
        out.append(seen)
    return out


_SAY = __import__("threading").Lock()


def say(line: str) -> None:
    """One whole line to the pipe: the checkpoint thread writes too, and print() is two writes."""
    with _SAY:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def child(folder: str, seed: int) -> None:
    import warnings

    warnings.simplefilter("ignore")
    from vidlabel.project import Project

    real = Project.checkpoint

    def checkpoint(self: Project) -> Path:  # say when one runs: the test counts kills inside one
        say("checkpoint-begin")
        try:
            return real(self)
        finally:
            say("checkpoint-end")

    Project.checkpoint = checkpoint  # type: ignore[method-assign]
    ds = vl.open(folder, checkpoint_bytes=6_000)  # small: automatic checkpoints happen mid-run
    for k, (points, op) in enumerate(make_ops(seed)):
        say(f"begin {k} {points}")
        op(ds, lambda i, k=k: say(f"ack {k} {i}"))
    say("done")


if __name__ == "__main__":
    child(sys.argv[1], int(sys.argv[2]))
