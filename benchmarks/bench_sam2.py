"""SAM2 engine: speed and host memory against the bare SAM2VideoPredictor, measured in the same run.

    python benchmarks/bench_sam2.py                 # issue sizes: 30-frame timing, 100 vs 1,000 frames memory
    python benchmarks/bench_sam2.py --quick         # smaller, for a smoke run
    python benchmarks/bench_sam2.py --device cuda   # on a GPU

Targets (issue 3):
* propagation through a session takes at most 1.05x the wall time of the bare predictor on the same
  model, frames and prompt (both include opening the video: init_state for the bare predictor,
  which loads every frame; the session, which loads none);
* peak RSS growth while propagating, from a 100-frame to a 1,000-frame video, at most 1.2x for the
  session. The bare predictor's growth is printed beside it (it holds every frame as a float tensor
  and every frame's outputs, so it grows about linearly).

Random weights (no checkpoint can be downloaded here): speed does not depend on the weights.
Each memory run is its own process; the peak is reset (/proc/self/clear_refs) once the model is
built (and, for the session, the user's dataset opened), so growth counts what the engine adds:
init_state, the prompt and propagation for the bare predictor; the session, the prompt and
propagation for ours.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_dataset import paired  # interleaved medians, shared by the benchmarks
from PIL import Image

import vidlabel as vl

CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"


def write_frames(folder: Path, num_frames: int, width: int, height: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    done = 0
    while done < num_frames:  # in chunks, so a 1,000-frame video never sits in memory at once
        n = min(100, num_frames - done)
        video = vl.demo.synthetic_video(num_frames=n, width=width, height=height, num_objects=2, seed=done)
        for i, frame in enumerate(video.frames):
            Image.fromarray(frame).save(folder / f"{done + i:05d}.jpg", quality=90)
        done += n


def engine(size: int, device: str) -> vl.segment.Engine:
    return vl.segment.load("sam2", config=CONFIG, random_weights=True, image_size=size, device=device)


def run_bare(pred: object, folder: Path, point: tuple[float, float], keep: bool = True) -> list[np.ndarray]:
    """The bare predictor's masks (or, with keep=False, none kept: memory runs measure the engine alone)."""
    import torch

    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=pred.device.type == "cuda")  # type: ignore[attr-defined]
    out = []
    with torch.inference_mode(), autocast:
        state = pred.init_state(str(folder))  # type: ignore[attr-defined]
        pred.add_new_points_or_box(state, 0, 1, points=np.array([point], np.float32), labels=np.array([1]))  # type: ignore[attr-defined]
        for _, _, m in pred.propagate_in_video(state):  # type: ignore[attr-defined]
            mask = (m[0, 0] > 0).cpu().numpy()
            if keep:
                out.append(mask)
    return out


def open_dataset(folder: Path) -> tuple[vl.Dataset, str, str]:
    ds = vl.Dataset()
    seq = ds.add_sequence("clip", frames=str(folder))
    return ds, seq, ds.add_entity(seq)


def run_session(
    eng: vl.segment.Engine,
    folder: Path,
    point: tuple[float, float],
    opened: tuple[vl.Dataset, str, str] | None = None,
    keep: bool = True,
) -> list[np.ndarray]:
    ds, seq, ent = opened or open_dataset(folder)
    with eng.session(ds, seq) as sess:
        sess.prompt(0, ent, points=[point])
        return [r[ent][0] for _, r in sess.propagate() if keep]


def bench_speed(size: int, device: str, num_frames: int, repeats: int) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "clip"
        write_frames(folder, num_frames, 854, 480)
        eng = engine(size, device)
        pred = eng.predictor  # type: ignore[attr-defined]
        point = (427.0, 240.0)
        ours, bare = run_session(eng, folder, point), run_bare(pred, folder, point)  # warm-up, and a check
        same = all(np.array_equal(a, b) for a, b in zip(ours, bare, strict=True))
        cand, base = paired(
            lambda: run_session(eng, folder, point), lambda: run_bare(pred, folder, point), repeats
        )
    ratio = cand / base
    ok = ratio <= 1.05 and same
    print(
        f"speed  {num_frames} frames 854x480, SAM 2.1 tiny at {size}px on {device}: session {cand:.2f} s "
        f"({num_frames / cand:.2f} fps), bare predictor {base:.2f} s ({num_frames / base:.2f} fps)\n"
        f"       ratio {ratio:.3f} (target <= 1.05); masks identical to the bare predictor's: {same}  "
        f"[{'OK' if ok else 'MISSED'}]"
    )
    return ok


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_child(kind: str, folder: Path, size: int, device: str) -> None:
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 2)))
    eng = engine(size, device)
    point = (213.0, 120.0)
    # The dataset is the user's and exists before any engine runs: open it first. (The bare predictor
    # has no dataset; it gets the same module imports, so that both start from the same point.)
    opened = open_dataset(folder)
    if kind == "bare":
        del opened
    before = _rss_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    if kind == "bare":
        run_bare(eng.predictor, folder, point, keep=False)  # type: ignore[attr-defined]
    else:
        run_session(eng, folder, point, opened, keep=False)
    peak = _rss_kib("VmHWM")
    print(json.dumps({"growth_mib": (peak - before) / 1024, "before_mib": before / 1024}))


def bench_memory(size: int, device: str, small: int, large: int) -> bool:
    growth: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (small, large):
            folder = Path(tmp) / f"clip{n}"
            write_frames(folder, n, 427, 240)
            for kind in ("session", "bare"):
                t = time.perf_counter()
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--memory-child",
                        kind,
                        str(folder),
                        "--size",
                        str(size),
                        "--device",
                        device,
                    ],
                    capture_output=True,
                    text=True,
                )
                if out.returncode:
                    raise RuntimeError(f"memory run {kind} {n} failed:\n{out.stderr[-3000:]}")
                growth[(kind, n)] = json.loads(out.stdout.strip().splitlines()[-1])["growth_mib"]
                print(
                    f"memory {kind:7s} {n:5d} frames: peak RSS growth {growth[(kind, n)]:8.1f} MiB "
                    f"({time.perf_counter() - t:.0f} s)"
                )
    ours = growth[("session", large)] / growth[("session", small)]
    bare = growth[("bare", large)] / growth[("bare", small)]
    ok = ours <= 1.2
    print(
        f"memory growth {small} -> {large} frames at {size}px: session {ours:.2f}x (target <= 1.2), "
        f"bare predictor {bare:.2f}x  [{'OK' if ok else 'MISSED'}]"
    )
    return ok


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--size", type=int, default=256, help="SAM2 input size (the model's own is 1024)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--only", choices=("speed", "memory"), help="run one of the two benchmarks")
    ap.add_argument("--memory-child", nargs=2, metavar=("KIND", "FOLDER"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args.memory_child[0], Path(args.memory_child[1]), args.size, args.device)
        return
    frames, repeats = (10, 1) if args.quick else (30, 3)
    results = []
    if args.only != "memory":
        results.append(bench_speed(args.size, args.device, frames, repeats))
    if args.only != "speed":
        small, large = (30, 300) if args.quick else (100, 1000)
        results.append(bench_memory(args.size, args.device, small, large))
    print("all targets met" if all(results) else "some targets missed")


if __name__ == "__main__":
    main()
