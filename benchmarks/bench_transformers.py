"""transformers engine: speed and host memory against the library's own session and iterator, in the same run.

    python benchmarks/bench_transformers.py            # 30-frame timing, RSS growth 100 vs 1,000 frames
    python benchmarks/bench_transformers.py --quick    # smaller, for a smoke run
    python benchmarks/bench_transformers.py --device cuda

Targets (issue 17): propagation through a session at most 1.1x the wall time of the library's own
``propagate_in_video_iterator`` on the same tiny random-weight model, frames and prompt (both include
preparing the video: the library's session preprocesses every frame up front, ours none); peak RSS growth
from a 100-frame to a 1,000-frame video at most 1.2x for the session (the library's growth is printed beside
it: it keeps every preprocessed frame and every frame's outputs). Each memory run is its own process, the
peak reset (/proc/self/clear_refs) once the model is built and the dataset opened.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from bench_dataset import paired

import vidlabel as vl

H, W = 240, 320


def _engine(device: str) -> object:
    from vidlabel.segment.hf_tiny import bias_object_scores, tiny_sam2_config

    eng = vl.segment.load("transformers", config=tiny_sam2_config(256), random_weights=True, device=device)
    bias_object_scores(eng.model)  # type: ignore[attr-defined]
    return eng


def _dataset(n: int) -> tuple[vl.Dataset, str, str]:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (n, H, W, 3), dtype=np.uint8)
    ds = vl.Dataset()
    seq = ds.add_sequence("v", frames=frames)
    return ds, seq, ds.add_entity(seq)


def ours(eng: object, ds: vl.Dataset, seq: str, e: str) -> None:
    sess = eng.session(ds, seq)  # type: ignore[attr-defined]
    sess.prompt(0, e, points=[(100, 80)], write=False)
    for _ in sess.propagate():
        pass


def library(eng: object, ds: vl.Dataset, seq: str, e: str) -> None:
    import torch
    from transformers.models.sam2_video.modeling_sam2_video import Sam2VideoInferenceSession

    from vidlabel.segment.hf_session import LazyFrames, upscale

    lazy = LazyFrames(ds, seq, eng.input_size, eng.mean, eng.std, eng.dtype)  # type: ignore[attr-defined]
    n = ds.num_frames(seq)
    video = torch.stack([lazy.preprocess(ds.frame(seq, i, cache=False)) for i in range(n)])
    st = Sam2VideoInferenceSession(
        video=video,
        video_height=H,
        video_width=W,
        dtype=eng.dtype,  # type: ignore[attr-defined]
        inference_device=eng.device,
    )  # type: ignore[attr-defined]
    s = eng.image_size  # type: ignore[attr-defined]
    k = st.obj_id_to_idx(e)
    st.add_point_inputs(
        k,
        0,
        {
            "point_coords": torch.tensor([[[[100 * s / W, 80 * s / H]]]]),
            "point_labels": torch.tensor([[[1]]]),
        },
    )
    st.obj_with_new_inputs = [e]
    model = eng.model  # type: ignore[attr-defined]
    with torch.inference_mode():
        model(inference_session=st, frame_idx=0)
        for out in model.propagate_in_video_iterator(st, start_frame_idx=0):
            upscale(out.pred_masks, s, H, W)


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def memory_run(which: str, n: int, device: str) -> None:
    import torch

    torch.set_num_threads(2)
    eng = _engine(device)
    ds, seq, e = _dataset(n)
    ds.frame(seq, 0)
    Path("/proc/self/clear_refs").write_text("5")
    base = _rss_kib("VmRSS")
    (ours if which == "session" else library)(eng, ds, seq, e)
    print(json.dumps({"growth_mib": (_rss_kib("VmHWM") - base) / 1024}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--_memory", nargs=2)
    args = ap.parse_args()
    if args._memory:
        memory_run(args._memory[0], int(args._memory[1]), args.device)
        return
    import torch

    torch.set_num_threads(2)
    eng = _engine(args.device)
    n = 10 if args.quick else 30
    ds, seq, e = _dataset(n)
    ours(eng, ds, seq, e)  # warm up both
    library(eng, ds, seq, e)
    t_ours, t_lib = paired(lambda: ours(eng, ds, seq, e), lambda: library(eng, ds, seq, e), 3)
    ratio = t_ours / t_lib
    print(
        f"{n} frames: session {t_ours:.2f} s, library iterator {t_lib:.2f} s: {ratio:.2f}x (target <= 1.1x)"
    )
    sizes = (50, 200) if args.quick else (100, 1000)
    growth: dict[str, list[float]] = {}
    for which in ("session", "library"):
        for size in sizes:
            out = subprocess.run(
                [sys.executable, __file__, "--device", args.device, "--_memory", which, str(size)],
                capture_output=True,
                text=True,
                check=True,
            )
            growth.setdefault(which, []).append(json.loads(out.stdout.strip().splitlines()[-1])["growth_mib"])
    for which, (small, big) in growth.items():
        print(
            f"{which}: RSS growth {small:.0f} MiB at {sizes[0]} frames, {big:.0f} MiB at {sizes[1]}: "
            f"{big / max(small, 1e-9):.2f}x" + (" (target <= 1.2x)" if which == "session" else "")
        )


if __name__ == "__main__":
    main()
