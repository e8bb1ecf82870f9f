"""Mask clean-up speed, printed as ratios to a baseline measured in the same run.

    python benchmarks/bench_cleanup.py            # 100 and 3,000 frames at 480p
    python benchmarks/bench_cleanup.py --quick    # 100 and 600 frames, for a smoke run

The baseline is the pycocotools decode and encode of the same masks: the I/O that any edit
rewriting every mask does. Targets (issue 13):
- Each mask is decoded once. clean_masks (opening, specks, holes) costs at most 5x the baseline
  per mask: on top of the I/O, two labellings (mask, background) of a crop around the mask, here
  a large one (each frame's speck is far from the object). smooth_masks (window 2) costs at most
  2x: a running sum over the window, one add and one subtract per mask, instead of re-reading
  the neighbours.
- Linear: the cost per mask relative to the baseline at 3,000 frames is at most 1.3x what it is
  at 100 frames.
- Local: smooth_masks(frames=t), one frame, reads only the masks of t - 2 .. t + 2, so its cost
  per call does not grow with the sequence: relative to the decode and encode of those five
  masks, at most 1.3x at 3,000 frames what it is at 100 (before, it fetched every mask's row
  and counted masks over every frame: a call grew with the sequence).
Every mask here changes (each frame has a speck and a hole to clean, and pixel noise that the
vote smooths), so all of them are re-encoded and written, in one undo step.
"""

from __future__ import annotations

import argparse

import numpy as np
from bench_dataset import H, W, blob, paired, report

import vidlabel as vl
from vidlabel import rle as rlemod


def build(n: int) -> tuple[vl.Dataset, str, str, list[rlemod.RLE]]:
    rng = np.random.default_rng(n)
    shapes = [blob(rng) for _ in range(8)]
    masks = {}
    for f in range(n):
        m = np.roll(shapes[(f // 25) % len(shapes)], f % 25, axis=1)
        ys, xs = np.nonzero(m[::16, ::16])
        cy, cx = 16 * ys[len(ys) // 2], 16 * xs[len(xs) // 2]
        m[cy : cy + 3, cx : cx + 3] = False  # a hole
        m[5:9, 5 + f % 40 : 9 + f % 40] = True  # a speck
        flicker = rng.random((40, 40)) < 0.05
        m[cy - 20 : cy + 20, cx - 20 : cx + 20] ^= flicker  # pixel noise on the object
        masks[f] = rlemod.encode(m)
    ds = vl.Dataset()
    seq = ds.add_sequence("s", num_frames=n, width=W, height=H)
    e = ds.add_entity(seq)
    ds.set_masks(seq, e, masks, source="sam2", keyframe=False)
    ds.clear_history()
    return ds, seq, e, list(masks.values())


def bench(sizes: tuple[int, int], repeats: dict[int, int]) -> bool:
    ok = True
    ratio: dict[tuple[str, int], float] = {}
    one: dict[int, float] = {}
    for n in sizes:
        ds, seq, _, rles = build(n)

        def baseline(rles: list[rlemod.RLE] = rles) -> None:
            for r in rles:
                rlemod.encode(rlemod.decode(r))

        def undo(ds: vl.Dataset = ds) -> None:  # untimed: each timed call starts from the same masks
            if ds.can_undo:
                ds.undo()

        for op, call in (("clean_masks", ds.clean_masks), ("smooth_masks", ds.smooth_masks)):
            changed = call(seq)
            assert changed == n, (op, changed, n)  # every mask rewritten: the case measured
            undo()
            c, b = paired(lambda call=call, seq=seq: call(seq), baseline, repeats[n], settle=undo)
            undo()
            ratio[op, n] = c / b
            print(f"  {op} on {n:,} frames: {c / n * 1e3:.3f} ms per mask, baseline {b / n * 1e3:.3f} ms")
            target = 5.0 if op == "clean_masks" else 2.0
            ok &= report(f"{op}, {n:,} masks at 480p vs decode+encode of them", c, b, target)
        mid = n // 2
        assert ds.smooth_masks(seq, frames=mid) == 1  # the pixel noise: the one frame is rewritten
        undo()
        near = rles[mid - 2 : mid + 3]

        def near_io(near: list[rlemod.RLE] = near) -> None:
            for r in near:
                rlemod.encode(rlemod.decode(r))

        c, b = paired(lambda ds=ds, seq=seq, mid=mid: ds.smooth_masks(seq, frames=mid), near_io, 31, undo)
        undo()
        one[n] = c / b
        print(f"  smooth_masks(frames={mid}) on {n:,} frames: {c * 1e3:.3f} ms per call")
    small, big = sizes
    for op in ("clean_masks", "smooth_masks"):
        ok &= report(
            f"{op} per mask (vs baseline): {big:,} frames vs {small:,}",
            ratio[op, big],
            ratio[op, small],
            1.3,
        )
    ok &= report(
        f"smooth_masks(frames=t) per call (vs its 5 masks' I/O): {big:,} vs {small:,}",
        one[big],
        one[small],
        1.3,
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = (100, 600) if args.quick else (100, 3000)
    raise SystemExit(0 if bench(sizes, {sizes[0]: 9, sizes[1]: 3}) else 1)


if __name__ == "__main__":
    main()
