"""Projects and concurrent reads, each printed as a ratio to a baseline measured in the same run.

    python benchmarks/bench_project.py            # full size (100,000 masks to reopen)
    python benchmarks/bench_project.py --quick    # smaller, for a smoke run

Targets (issue 11):
- a single set_mask on a project (durable before it returns) <= 3x the same edit in memory;
- a propagation's frame writes on a project (group commit, reported once durable) <= 1.2x in memory;
- reopening a project of 100,000 masks <= 2x from_parquet of the same data;
- a read (masks of a frame) during a concurrent edit storm <= 1.2x an uncontended read.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from bench_dataset import H, W, blob, paired, report, unique_rles

import vidlabel as vl


def bench_single_edit(tmp: Path, repeats: int, rng: np.random.Generator) -> bool:
    proj = vl.open(tmp / "edit.vlproj")
    mem = vl.Dataset()
    for ds in (proj, mem):
        ds.add_sequence("s", num_frames=10**6, width=W, height=H)
        ds.add_entity("s", "a")
    masks = [blob(rng) for _ in range(8)]
    i = iter(range(10**9))

    def on(ds: vl.Dataset) -> None:
        k = next(i)
        ds.set_mask("s", k, "a", masks[k % len(masks)])

    c, b = paired(lambda: on(proj), lambda: on(mem), repeats)
    proj.close()
    return report("set_mask 480p on a project (durable) vs in memory", c, b, 3.0)


def bench_propagation_writes(tmp: Path, repeats: int, rng: np.random.Generator) -> bool:
    """What propagate_into does per run: one undo group, a transaction per frame writing 2 masks,
    and (on a project) every frame reported once durable."""
    proj = vl.open(tmp / "prop.vlproj")
    mem = vl.Dataset()
    frames = 30
    for ds in (proj, mem):
        ds.add_sequence("s", num_frames=frames * (repeats + 1), width=W, height=H)
        ds.add_entity("s", "a")
        ds.add_entity("s", "b")
    masks = [blob(rng) for _ in range(8)]
    runs = {id(proj): 0, id(mem): 0}

    def run(ds: vl.Dataset) -> None:
        start = runs[id(ds)] * frames
        runs[id(ds)] += 1
        pending: list[int] = []
        with ds.undo_group("propagate"):
            for f in range(start, start + frames):
                with ds.transaction(f"frame {f}"):
                    ds.set_mask("s", f, "a", masks[f % 8], source="bench", keyframe=False)
                    ds.set_mask("s", f, "b", masks[(f + 3) % 8], source="bench", keyframe=False)
                pending.append(ds.commit_ticket())
                while pending and ds.is_durable(pending[0]):
                    pending.pop(0)
        ds.wait_durable()

    c, b = paired(lambda: run(proj), lambda: run(mem), repeats)
    proj.close()
    return report(f"propagation writes, {frames} frames x 2 masks: project vs memory", c, b, 1.2)


def bench_reopen(tmp: Path, n_masks: int, repeats: int, rng: np.random.Generator) -> bool:
    n_ent = 10
    n_frames = n_masks // n_ent
    rles = unique_rles(n_masks, rng)
    ds = vl.open(tmp / "big.vlproj")
    ds.add_sequence("s", num_frames=n_frames, width=W, height=H)
    ents = [ds.add_entity("s") for _ in range(n_ent)]
    with ds.transaction("fill"):
        for k, e in enumerate(ents):
            ds.set_masks("s", e, {f: rles[k * n_frames + f] for f in range(n_frames)})
    ds.checkpoint()
    ds.to_parquet(tmp / "big.parquet")
    ds.close()

    def candidate() -> None:
        vl.open(tmp / "big.vlproj").close()

    def baseline() -> None:
        vl.Dataset.from_parquet(tmp / "big.parquet")

    c, b = paired(candidate, baseline, repeats)
    return report(f"reopen a project of {n_masks:,} masks vs from_parquet", c, b, 2.0)


def bench_read_under_storm(repeats: int, rng: np.random.Generator) -> bool:
    ds = vl.Dataset()
    ds.add_sequence("s", num_frames=2000, width=W, height=H)
    ents = [ds.add_entity("s") for _ in range(10)]
    rles = unique_rles(10 * 20, rng)
    with ds.transaction("fill"):
        for k, e in enumerate(ents):
            ds.set_masks("s", e, {f: rles[k * 20 + f] for f in range(20)})
    masks = [blob(rng) for _ in range(4)]
    stop = threading.Event()

    def storm() -> None:  # a propagation's pace: an edit, then the engine's turn (sleep)
        k = 0
        while not stop.is_set():
            with ds.transaction("storm"):
                ds.set_mask("s", 100 + k % 1800, ents[k % 10], masks[k % 4])
                if k % 50 == 0:
                    ds.table("masks")  # compaction too
            k += 1
            time.sleep(0.002)

    def reads() -> float:
        t = time.perf_counter()
        ds.masks("s", 5)
        return time.perf_counter() - t

    quiet = [reads() for _ in range(repeats)]
    writer = threading.Thread(target=storm)
    writer.start()
    try:
        busy = [reads() for _ in range(repeats)]
    finally:
        stop.set()
        writer.join()
    quiet += [reads() for _ in range(repeats)]
    return report(
        "masks(seq, frame) during an edit storm vs quiet",
        statistics.median(busy),
        statistics.median(quiet),
        1.2,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    tmp = Path(tempfile.mkdtemp())
    try:
        results = [
            bench_single_edit(tmp, 100 if args.quick else 300, rng),
            bench_propagation_writes(tmp, 5 if args.quick else 15, rng),
            bench_reopen(tmp, 10_000 if args.quick else 100_000, 3 if args.quick else 5, rng),
            bench_read_under_storm(100 if args.quick else 400, rng),
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{sum(results)}/{len(results)} targets met")


if __name__ == "__main__":
    main()
