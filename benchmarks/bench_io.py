"""Export and import costs at 10,000 frames and 100,000 masks, as ratios measured in the same run.

    python benchmarks/bench_io.py            # 1,000 vs 10,000 frames of 10 objects (10k vs 100k masks)
    python benchmarks/bench_io.py --quick    # 100 vs 1,000 frames, for a smoke run

Targets (issue 12 item 8): what an export or import costs per mask does not grow with the sequence:
the per-mask time at the large size over the per-mask time at the small size stays <= 1.3 for
to_parquet, from_parquet, to_coco, read_coco, to_davis, to_youtube_vos and read_youtube_vos
(sequences without pixels; 48x64 masks, so the per-mask work is the bookkeeping, not pixels).
Two more: to_parquet of the large dataset against pyarrow.parquet.write_table of the same tables,
each file and the folder fsynced as the export does (<= 1.3), and from_parquet of 1,000 sequences
of 10 frames against 100 such sequences, per sequence (<= 1.3: no sequence costs a scan of all
frames). Each ratio's two sides run alternately and take medians; on a busy machine the
file-heavy exports (DAVIS, YouTube-VOS: one PNG per frame) still vary from run to run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pycocotools.mask as cocomask

import vidlabel as vl

H, W, OBJECTS = 48, 64, 10


def shapes() -> list[dict]:
    """16 small distinct RLEs, cycled through the frames."""
    out = []
    for k in range(16):
        m = np.zeros((H, W), np.uint8, order="F")
        m[2 + k : 20 + k, 3 * k : 3 * k + 12] = 1
        out.append({"size": [H, W], "counts": cocomask.encode(m)["counts"]})
    return out


def build(sequences: int, frames: int, objects: int = OBJECTS) -> vl.Dataset:
    """``sequences`` annotation-only sequences of ``frames`` frames, ``objects`` masked on every frame."""
    rles = shapes()
    ds = vl.Dataset()
    for s in range(sequences):
        seq = ds.add_sequence(f"seq{s:05d}", num_frames=frames, width=W, height=H)
        for e in range(objects):
            eid = ds.add_entity(seq)
            ds.set_masks(seq, eid, {f: rles[(f + e) % 16] for f in range(frames)})
    ds.clear_history()
    ds.table("masks")  # compacted once, as after any edit session, before anything is timed
    return ds


def report(name: str, ratio: float, target: float, detail: str) -> bool:
    ok = ratio <= target
    print(f"{name:<52} {detail:<44} ratio {ratio:5.2f}  (target <= {target})  {'OK' if ok else 'MISSED'}")
    return ok


def operations(ds: vl.Dataset, tmp: Path) -> dict[str, Callable[[], object]]:
    """Each export replaces its previous output (overwrite=True), each import reads what was written."""
    return {
        "to_parquet": lambda: ds.to_parquet(tmp / "pq", overwrite=True),
        "from_parquet": lambda: vl.Dataset.from_parquet(tmp / "pq"),
        "to_coco": lambda: ds.to_coco(tmp / "vis.json", overwrite=True),
        "read_coco": lambda: vl.read_coco(tmp / "vis.json", progress=False),
        "to_davis": lambda: ds.to_davis(tmp / "davis", overwrite=True, progress=False),
        "to_youtube_vos": lambda: ds.to_youtube_vos(tmp / "ytvos", overwrite=True, progress=False),
        "read_youtube_vos": lambda: vl.read_youtube_vos(tmp / "ytvos", progress=False),
    }


def per_mask(small: vl.Dataset, large: vl.Dataset, repeats: int) -> dict[str, tuple[float, float]]:
    """Operation -> (seconds per mask on ``small``, on ``large``): medians of runs that alternate
    between the two, so that the load of a shared machine drifts into both alike."""
    tmp = Path(tempfile.mkdtemp(prefix="vidlabel-bench-io-"))
    try:
        ops = [operations(ds, tmp / k) for k, ds in (("small", small), ("large", large))]
        masks = [len(small.table("masks")), len(large.table("masks"))]
        out = {}
        for name in ops[0]:
            times: list[list[float]] = [[], []]
            for _ in range(repeats):
                for k in (0, 1):
                    t = time.perf_counter()
                    ops[k][name]()
                    times[k].append((time.perf_counter() - t) / masks[k])
            out[name] = (statistics.median(times[0]), statistics.median(times[1]))
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def paired(
    candidate: Callable[[], object], baseline: Callable[[], object], repeats: int
) -> tuple[float, float]:
    """Medians of candidate and baseline, run alternately (os.sync before each: a flushed disk)."""
    c, b = [], []
    for _ in range(repeats):
        os.sync()
        t = time.perf_counter()
        baseline()
        b.append(time.perf_counter() - t)
        os.sync()
        t = time.perf_counter()
        candidate()
        c.append(time.perf_counter() - t)
    return statistics.median(c), statistics.median(b)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    small_frames, large_frames = (100, 1_000) if args.quick else (1_000, 10_000)
    warnings.simplefilter("ignore", RuntimeWarning)  # no pixels to export: nothing to warn about here
    ok = True

    small, large = build(1, small_frames), build(1, large_frames)
    n_small, n_large = len(small.table("masks")), len(large.table("masks"))
    for name, (a, b) in per_mask(small, large, 3).items():
        detail = f"{b * 1e6:8.1f} us/mask at {n_large:,} vs {a * 1e6:8.1f} at {n_small:,}"
        ok &= report(
            f"{name}: per-mask cost, {large_frames:,} vs {small_frames:,} frames", b / a, 1.3, detail
        )

    tmp = Path(tempfile.mkdtemp(prefix="vidlabel-bench-io-"))
    try:
        tables = {
            name: large.table(name) for name in ("sequences", "frames", "entities", "tracklets", "masks")
        }
        tables.update(boxes=large.table("boxes"), states=large.table("states"))

        def plain() -> None:  # the same tables written as durably: each file and the folder fsynced
            shutil.rmtree(tmp / "plain", ignore_errors=True)
            (tmp / "plain").mkdir()
            for name, table in tables.items():
                with open(tmp / "plain" / f"{name}.parquet", "wb") as fh:
                    pq.write_table(table, fh)
                    fh.flush()
                    os.fsync(fh.fileno())
            fd = os.open(tmp / "plain", os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)

        cand, base = paired(lambda: large.to_parquet(tmp / "pq", overwrite=True), plain, 5)
        detail = f"{cand * 1e3:8.1f} ms vs {base * 1e3:8.1f} ms"
        ok &= report(f"to_parquet of {n_large:,} masks vs pyarrow, fsynced", cand / base, 1.3, detail)

        few, many = build(100, 10, objects=2), build(1_000, 10, objects=2)
        few.to_parquet(tmp / "few")
        many.to_parquet(tmp / "many")
        cand, base = paired(
            lambda: vl.Dataset.from_parquet(tmp / "many"), lambda: vl.Dataset.from_parquet(tmp / "few"), 9
        )
        cand, base = cand / 1_000, base / 100
        detail = f"{cand * 1e3:8.3f} ms/seq vs {base * 1e3:8.3f} ms/seq"
        ok &= report("from_parquet: per-sequence cost, 1,000 vs 100 sequences", cand / base, 1.3, detail)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
