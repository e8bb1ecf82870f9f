"""Temporal editing speed, each printed as a ratio to a baseline measured in the same run.

    python benchmarks/bench_temporal.py

Targets (issue 5):
- Moving a keyframe box on a long track (5,000 frames, a keyframe every 25, interpolated boxes
  in between) costs no more than 1.5x moving one on a short track with the same spacing (3
  keyframes): an edit reads and rewrites only the stretch between the keyframes around it.
- Filling a 30-frame gap by mask interpolation at 480p costs at most 8x the pycocotools decode and
  encode of those 30 masks (the I/O any interpolation does): the distance fields are computed once
  per gap, each frame is two warps, a blend and an encode.
- boxes_from_masks on a 4,000-frame track costs at most 1.3x per box what it costs on a 1,000-frame
  track (linear: it writes every box, then re-interpolates once; issue 12 measured 0.19/0.69/2.59 s
  at 1k/2k/4k before), and at most 2x set_boxes with the same boxes.
"""

from __future__ import annotations

import numpy as np
from bench_dataset import H, W, blob, paired, report

import vidlabel as vl
from vidlabel import rle as rlemod


def bench_keyframe_move(repeats: int) -> bool:
    ds = vl.Dataset()
    seq = ds.add_sequence("long", num_frames=5000, width=W, height=H)
    long, short = ds.add_entity(seq), ds.add_entity(seq)
    ds.set_boxes(seq, long, {f: (f % 700, 10, 50, 40) for f in range(0, 5000, 25)}, extend=True)
    ds.set_boxes(seq, short, {f: (f % 700, 10, 50, 40) for f in range(2475, 2526, 25)}, extend=True)
    boxes = len(ds.table("boxes")) - 51
    state = {"i": 0}

    def move(entity: str) -> None:
        ds.set_box(seq, 2500, entity, (state["i"] % 50, 20, 60, 40))
        state["i"] += 1

    c, b = paired(lambda: move(long), lambda: move(short), repeats)
    return report(f"move a keyframe box: track of {boxes:,} boxes vs of 51", c, b, 1.5)


def bench_mask_interpolation(repeats: int) -> bool:
    rng = np.random.default_rng(0)
    a = blob(rng)
    b = np.roll(blob(rng), 40, axis=1)
    ds = vl.Dataset()
    seq = ds.add_sequence("gap", num_frames=32, width=W, height=H)
    e = ds.add_entity(seq)
    ds.set_masks(seq, e, {0: a, 31: b})
    t = ds.tracklets(seq, e)[0]["id"]
    ds.merge_tracklets(t, ds.tracklets(seq, e)[1]["id"])
    ds.interpolate_masks(t)
    rles = [ds.rle(seq, f, e) for f in range(1, 31)]

    def baseline() -> None:
        for r in rles:
            assert r is not None
            rlemod.encode(rlemod.decode(r))

    c, base = paired(lambda: ds.interpolate_masks(t), baseline, repeats)
    return report("interpolate a 30-frame mask gap at 480p vs decode+encode of 30 masks", c, base, 8.0)


def bench_boxes_from_masks(repeats: int) -> bool:
    ok = True
    per_box = {}
    m = np.zeros((H, W), bool)
    m[100:200, 300:420] = True
    for n in (1000, 4000):
        ds = vl.Dataset()
        seq = ds.add_sequence("s", num_frames=n, width=W, height=H)
        e, other = ds.add_entity(seq), ds.add_entity(seq)
        ds.set_masks(seq, e, {f: m for f in range(n)})
        boxes = {f: (300.0, 100.0, 120.0, 100.0) for f in range(n)}

        def cand(ds: vl.Dataset = ds, seq: str = seq, e: str = e) -> None:
            ds.boxes_from_masks(seq, e)
            ds.undo()

        def base(ds: vl.Dataset = ds, seq: str = seq, other: str = other, boxes: dict = boxes) -> None:
            ds.set_boxes(seq, other, boxes)
            ds.undo()

        c, b = paired(cand, base, repeats)
        per_box[n] = c / n
        ok &= report(f"boxes_from_masks on {n:,} frames vs set_boxes of the same boxes", c, b, 2.0)
    return ok & report("boxes_from_masks per box: 4,000 frames vs 1,000", per_box[4000], per_box[1000], 1.3)


def main() -> None:
    ok = bench_keyframe_move(15) & bench_mask_interpolation(5) & bench_boxes_from_masks(5)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
