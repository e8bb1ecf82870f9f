"""Journal speed targets, each printed as a ratio to a baseline measured in the same run.

    python benchmarks/bench_journal.py [--dir DIR] [--repeats N]

Targets (issue 11): a user's single edit with its journal write stays within ~3x of the in-memory
edit, whose cost is about one pycocotools encode of a 480p mask, so append(wait=True) of a one-op
mask-row record should cost little beyond one fsync; a propagation's 200 frame records
(wait=False) should be near free on the caller's thread, and durable (one wait()) soon after.
Each durable append needs one fsync, so the first ratio is bounded by the disk: the bare SQLite
insert+commit line (same settings, caller's thread, no journal) is that floor, measured alongside.
The journal lives in DIR (default: a temporary folder under the current directory, so on the disk
a project would be on, not a tmpfs). Timings interleave candidate and baseline and take medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pycocotools.mask as cocomask
from bench_dataset import H, W, blob

from vidlabel.journal import Journal, Record, encode_value


def interleaved(fns: list[Callable[[], object]], repeats: int) -> list[float]:
    """Median seconds of each function, run in turn so that drift (this disk's fsync time swings
    by 10x from one second to the next) hits all of them alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
    return [statistics.median(ts) for ts in times]


def mask_record(counts: bytes, frame: int) -> Record:
    row = {"counts": counts, "size": [H, W], "frame": frame, "entity": "e1", "score": 0.93, "source": "sam2"}
    before = {**row, "counts": counts[: len(counts) // 2]}
    return Record("edit", "set_mask", [("masks", ("clip", frame, "e1"), before, row)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=Path.cwd())
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    masks = [np.asfortranarray(blob(rng).astype(np.uint8)) for _ in range(8)]
    turn = [0]

    def encode() -> object:
        turn[0] += 1
        return cocomask.encode(masks[turn[0] % len(masks)])

    real_counts = cocomask.encode(masks[0])["counts"]
    noisy = np.asfortranarray((rng.random((H, W)) < 0.02).astype(np.uint8) | masks[1])
    rows = {
        f"480p blob mask row ({len(real_counts)} B counts)": real_counts,
        "5 KB counts row": os.urandom(5000),
        f"ragged mask row ({len(cocomask.encode(noisy)['counts'])} B counts)": cocomask.encode(noisy)[
            "counts"
        ],
    }
    folder = Path(tempfile.mkdtemp(prefix="bench-journal-", dir=args.dir))
    try:
        j = Journal(folder / "journal.sqlite")
        # the floor under any durable commit: a bare SQLite insert + commit of the same bytes in a
        # file of the same settings (WAL, synchronous=FULL) on the caller's thread
        bare = sqlite3.connect(folder / "bare.sqlite", isolation_level=None)
        bare.execute("PRAGMA journal_mode = WAL")
        bare.execute("PRAGMA synchronous = FULL")
        bare.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, body BLOB)")
        body = encode_value(mask_record(os.urandom(5000), 0).ops)

        def bare_commit() -> None:
            bare.execute("BEGIN IMMEDIATE")
            bare.execute("INSERT INTO t (body) VALUES (?)", (body,))
            bare.execute("COMMIT")

        frame = [0]

        def next_frame() -> int:
            frame[0] += 1
            return frame[0]

        for name, counts in rows.items():
            one, floor, base = interleaved(
                [lambda c=counts: j.append(mask_record(c, next_frame())), bare_commit, encode], args.repeats
            )
            print(
                f"[{name}] append(wait=True) {one * 1e3:.3f} ms; bare SQLite commit {floor * 1e3:.3f} ms "
                f"({one / floor:.2f}x); pycocotools encode 480x854 {base * 1e3:.3f} ms ({one / base:.2f}x); "
                f"edit+journal vs in-memory edit (= encode): {(one + base) / base:.2f}x (target <= 3x)"
            )

        counts = real_counts
        caller, burst, enc200 = [], [], []
        for _ in range(max(5, args.repeats // 20)):
            t = time.perf_counter()
            for _ in range(200):
                encode()
            enc200.append(time.perf_counter() - t)
            t = time.perf_counter()
            for _ in range(200):
                j.append(mask_record(counts, next_frame()), wait=False)
            t1 = time.perf_counter()
            j.wait()
            t2 = time.perf_counter()
            caller.append(t1 - t)
            burst.append(t2 - t)
        c, b, e = statistics.median(caller), statistics.median(burst), statistics.median(enc200)
        commits_before = j.commit_count
        for _ in range(200):
            j.append(mask_record(counts, next_frame()), wait=False)
        j.wait()
        print(
            f"200 frames wait=False: caller's thread {c * 1e3:.2f} ms vs 200 encodes {e * 1e3:.2f} ms: "
            f"{c / e:.3f}x; durable after one wait() {b * 1e3:.2f} ms: {b / e:.3f}x "
            f"({j.commit_count - commits_before} commits for the last 200)"
        )
        j.close()
        bare.close()
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
