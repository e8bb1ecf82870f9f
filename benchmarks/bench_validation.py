"""Validating a load costs a fraction of reading it, printed as a ratio measured in the same run.

    python benchmarks/bench_validation.py            # full size (100,000 masks)
    python benchmarks/bench_validation.py --quick    # smaller, for a smoke run

Target (issue 11): validate_tables over the seven tables of a 100,000-mask dataset (DAVIS-sized
854x480 masks, one tracklet per entity) well under 1x pyarrow.parquet.read_table of the same
seven tables from disk (warm page cache: the baseline is the decode, not the disk). Timings
interleave candidate and baseline and take medians.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pycocotools.mask as cocomask
from bench_dataset import H, W, blob

from vidlabel import schema as sch
from vidlabel.validation import validate_tables


def build(n_masks: int) -> dict[str, pa.Table]:
    """Seven tables as a dataset stores them: sequences of 100 frames, 10 entities each."""
    rng = np.random.default_rng(0)
    counts = [bytes(cocomask.encode(np.asfortranarray(blob(rng), np.uint8))["counts"]) for _ in range(200)]
    frames_per, ents_per = 100, 10
    n_seq = max(1, n_masks // (frames_per * ents_per))
    seqs = [f"seq{s:04d}" for s in range(n_seq)]
    ents = [(s, f"{s}/{e:03d}") for s in seqs for e in range(1, ents_per + 1)]

    def table(name: str, cols: dict[str, Any]) -> pa.Table:
        schema = sch.table_schema(name)
        n = len(next(iter(cols.values())))
        full = {f.name: cols.get(f.name, [None] * n) for f in schema}
        return pa.Table.from_pydict(full, schema=schema)

    m_seq, m_frame, m_ent, m_tr = [], [], [], []
    for s, e in ents:
        for f in range(frames_per):
            m_seq.append(s)
            m_frame.append(f)
            m_ent.append(e)
            m_tr.append(f"{e}#1")
    n = len(m_seq)
    return {
        "sequences": table(
            "sequences",
            {
                "id": seqs,
                "name": seqs,
                "fps": [24.0] * n_seq,
                "width": [W] * n_seq,
                "height": [H] * n_seq,
                "num_frames": [frames_per] * n_seq,
            },
        ),
        "frames": table(
            "frames",
            {
                "sequence_id": [s for s in seqs for _ in range(frames_per)],
                "frame_index": [f for _ in seqs for f in range(frames_per)],
                "timestamp": [f / 24 for _ in seqs for f in range(frames_per)],
            },
        ),
        "entities": table(
            "entities",
            {"id": [e for _, e in ents], "sequence_id": [s for s, _ in ents], "name": [e for _, e in ents]},
        ),
        "tracklets": table(
            "tracklets",
            {
                "id": [f"{e}#1" for _, e in ents],
                "sequence_id": [s for s, _ in ents],
                "entity_id": [e for _, e in ents],
                "start_frame": [0] * len(ents),
                "end_frame": [frames_per - 1] * len(ents),
            },
        ),
        "masks": table(
            "masks",
            {
                "sequence_id": m_seq,
                "frame_index": m_frame,
                "entity_id": m_ent,
                "tracklet_id": m_tr,
                "height": [H] * n,
                "width": [W] * n,
                "counts": [counts[i % len(counts)] for i in range(n)],
                "source": ["human"] * n,
                "score": [0.9] * n,
                "keyframe": [True] * n,
            },
        ),
        "boxes": table(
            "boxes",
            {
                "sequence_id": m_seq,
                "frame_index": m_frame,
                "entity_id": m_ent,
                "tracklet_id": m_tr,
                "x": [1.0] * n,
                "y": [2.0] * n,
                "w": [30.0] * n,
                "h": [40.0] * n,
                "source": ["human"] * n,
                "keyframe": [True] * n,
            },
        ),
        "states": table(
            "states", {"sequence_id": m_seq, "frame_index": m_frame, "entity_id": m_ent, "tracklet_id": m_tr}
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n_masks = 10_000 if args.quick else 100_000
    repeats = 3 if args.quick else 5
    tables = build(n_masks)
    nbytes = tables["masks"].column("counts").nbytes
    with tempfile.TemporaryDirectory() as tmp:
        for name, t in tables.items():
            pq.write_table(t, Path(tmp) / f"{name}.parquet")

        def read() -> dict[str, pa.Table]:
            return {name: pq.read_table(Path(tmp) / f"{name}.parquet") for name in sch.TABLES}

        loaded = read()
        validate_tables(loaded, source="bench")  # warm up, and the tables are sound
        c, b = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            read()
            b.append(time.perf_counter() - t)
            t = time.perf_counter()
            validate_tables(loaded, source="bench")
            c.append(time.perf_counter() - t)
    v, r = statistics.median(c), statistics.median(b)
    print(
        f"validate_tables, {tables['masks'].num_rows} masks ({nbytes / 2**20:.0f} MiB of counts): "
        f"{v * 1e3:.0f} ms; pq.read_table of the seven tables: {r * 1e3:.0f} ms; ratio {v / r:.2f}x "
        "(target well under 1x)"
    )


if __name__ == "__main__":
    main()
