"""The batch tests' demo: six synthetic sequences with keyframes, their frames held every way a
sequence can hold them (JPEG files, a video file, encoded bytes, arrays), and the reference a batch
must equal: a plain loop of engine sessions over the same keyframes. ``GatedEngine``: an engine whose
every frame waits for the test."""

from __future__ import annotations

import io
import threading
from collections.abc import Generator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

import vidlabel as vl
from vidlabel.segment.base import Engine, Pass, Prompt, Result, Session

KINDS = ("images", "images", "video", "encoded", "array", "images")


def write_frames(
    root: Path,
    n: int = 6,
    *,
    num_frames: int = 16,
    width: int = 128,
    height: int = 80,
    kinds: tuple[str, ...] = KINDS,
) -> list[dict[str, Any]]:
    """Write the frames of ``n`` demo sequences under ``root``; per sequence what ``add`` needs."""
    out = []
    for k in range(n):
        kind = kinds[k % len(kinds)]
        video = vl.demo.synthetic_video(
            num_frames=num_frames, width=width, height=height, num_objects=2, seed=10 + k
        )
        spec: dict[str, Any] = {"name": f"seq{k}", "kind": kind, "masks": video.masks}
        if kind == "images":
            folder = root / f"seq{k}"
            folder.mkdir(parents=True, exist_ok=True)
            for i, frame in enumerate(video.frames):
                Image.fromarray(frame).save(folder / f"{i:05d}.jpg", quality=92)
            spec["frames"] = str(folder)
        elif kind == "video":
            spec["frames"] = str(_write_mp4(root / f"seq{k}.mp4", video.frames))
        elif kind == "encoded":
            spec["frames"] = [_png(f) for f in video.frames]
        else:
            spec["frames"] = video.frames
        out.append(spec)
    return out


def add(ds: vl.Dataset, specs: list[dict[str, Any]], *, middle: int = 3) -> vl.Dataset:
    """The sequences, each entity with its first visible frame as a keyframe mask; in sequence
    ``middle`` the keyframes are in the middle of the video (so "both" really goes backward too), and
    the second entity of sequence 1 has a second keyframe further on."""
    for k, spec in enumerate(specs):
        seq = ds.add_sequence(spec["name"], frames=spec["frames"], fps=12)
        masks = spec["masks"]
        for obj in (1, 2):
            eid = ds.add_entity(seq, str(obj))
            seen = np.flatnonzero((masks == obj).any(axis=(1, 2)))
            frames = [int(seen[len(seen) // 2])] if k == middle else [int(seen[0])]
            if k == 1 and obj == 2:
                frames.append(int(seen[-1]))
            for f in frames:
                ds.set_mask(seq, f, eid, masks[f] == obj)
    ds.clear_history()
    return ds


def demo(root: Path, **kw: Any) -> vl.Dataset:
    return add(vl.Dataset(), write_frames(root, **kw))


def loop_of_sessions(ds: vl.Dataset, engine: Any, direction: str = "both") -> None:
    """What a person would write without the batch: a session per sequence, its keyframes as prompts."""
    for seq in ds.sequence_ids():
        sess = engine.session(ds, seq)
        prompted = False
        for eid in ds.entity_ids(seq):
            for f in ds.mask_frames(seq, eid):
                if ds.annotation("masks", seq, f, eid)["keyframe"]:
                    sess.prompt(f, eid, mask=ds.mask(seq, f, eid), write=False)
                    prompted = True
        if prompted:
            sess.propagate_into(direction=direction, progress=False)
        sess.close()


def masks(ds: vl.Dataset) -> list[tuple[Any, ...]]:
    """Every mask row, tracklet ids aside."""
    t = ds.table("masks")
    cols = ["sequence_id", "frame_index", "entity_id", "counts", "source", "score", "keyframe"]
    return list(zip(*(t.column(c).to_pylist() for c in cols)))


def _png(frame: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG")
    return buf.getvalue()


def _write_mp4(path: Path, frames: np.ndarray, fps: int = 12) -> Path:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.bit_rate = 4_000_000
        for i, f in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


class GatedEngine(Engine):
    """Carries each entity's first keyframe mask to every frame, computing a frame only once the test
    releases a permit of ``gate`` (a stand-in for a slow engine, whose pace the test sets)."""

    name = "gated"

    def __init__(self) -> None:
        self.gate = threading.Semaphore(0)

    def session(self, ds: vl.Dataset, sequence: str) -> GatedSession:
        return GatedSession(self, ds, sequence)


class GatedSession(Session):
    engine: GatedEngine

    def _segment(self, frame: int, entity: str, prompt: Prompt) -> Result:
        assert prompt.mask is not None  # the batch tests prompt with masks
        return prompt.mask.copy(), 1.0

    def _run_pass(self, leg: Pass, entities: list[str]) -> Generator[tuple[int, dict[str, Result]]]:
        for f in leg.frames:
            if not self.engine.gate.acquire(timeout=30):
                raise RuntimeError("the test never let this frame be computed")
            yield f, {e: (self._first(e), 0.5) for e in entities}

    def _first(self, entity: str) -> np.ndarray:
        prompt = self._prompts[entity][min(self._prompts[entity])]
        assert prompt.result is not None
        return prompt.result

    def _forget(self, entity: str) -> None:
        pass

    def _clear(self) -> None:
        pass
