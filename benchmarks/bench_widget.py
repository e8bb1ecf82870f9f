"""Annotator kernel-side speed: answering the browser's request for one 480p frame plus its masks.

    python benchmarks/bench_widget.py            # 60 frames, 3 objects, 400 paired repeats
    python benchmarks/bench_widget.py --quick

Target (issue 4): at most 1.2x the baseline of reading the frame's JPEG file and its masks' RLE
bytes, i.e. no decode and re-encode of JPEG frames on the hot path. The candidate is the whole
message handler as the kernel runs it: parse and check the request, look the frame and masks up,
and build the reply up to the comm's send. A second line adds the JSON encoding of the reply's
header that the kernel's session does in any send (transport, the same for every message; shown,
not targeted). Candidate and baseline alternate, over different frames, and the medians are
compared. The browser-side figures come from bench_widget_browser.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_dataset import paired, report

import vidlabel as vl


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n_frames, repeats = (20, 100) if args.quick else (60, 400)
    with tempfile.TemporaryDirectory() as tmp:
        video = vl.demo.synthetic_video(n_frames, 854, 480, 3, seed=0)
        root = vl.demo.write_davis(Path(tmp) / "davis", sequences={"bench": video})
        ds = vl.read_davis(root)
        seq = ds.sequence_ids()[0]
        files = sorted((root / "JPEGImages" / "480p" / "bench").glob("*.jpg"))
        masks = ds._tables["masks"]
        w = vl.Annotator(ds, engine=None)
        sent: list[object] = []
        encode = {"json": False}

        def send(msg: dict, buffers: list | None = None) -> None:
            # the comm's send; with encode["json"], what the kernel's session then does with the header
            sent.append((json.dumps(msg) if encode["json"] else msg, buffers))

        w._send = send  # type: ignore[method-assign]
        n_masks = sum(len(masks.lookup("by_frame", (seq, f))) for f in range(n_frames))
        print(f"{n_frames} frames of 854x480 from a DAVIS folder, {n_masks} masks, {repeats} paired repeats")
        state = {"c": 0, "b": 0, "id": 0}

        def candidate() -> None:
            f = state["c"] = (state["c"] + 7) % n_frames
            state["id"] += 1
            w._on_msg(w, {"kind": "frames", "id": state["id"], "start": f, "stop": f + 1}, [])
            sent.clear()

        def baseline() -> None:
            f = state["b"] = (state["b"] + 7) % n_frames
            data = files[f].read_bytes()
            rles = [masks.value(k, "counts") for k in masks.lookup("by_frame", (seq, f))]
            assert data and len(rles) >= 0

        for _ in range(20):  # warm both paths (imports, page cache)
            candidate()
            baseline()
        cand, base = paired(candidate, baseline, repeats)
        ok = report("frames request (1 frame + masks) vs file read + RLE bytes", cand, base, 1.2)
        encode["json"] = True
        cand, base = paired(candidate, baseline, repeats)
        ratio = cand / base
        print(
            f"{'  the same plus the JSON header encoding (not targeted)':<58} {cand * 1e3:9.3f} ms vs "
            f"{base * 1e3:9.3f} ms  ratio {ratio:5.2f}"
        )
        w.close()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
