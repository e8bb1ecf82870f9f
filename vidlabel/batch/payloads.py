"""What travels between the driver and a worker: a sequence's prompts and where its frames are, and back
the masks as RLE.

A payload holds no pixels when the frames are files (image files, a video file): the worker opens the
paths itself. Frames embedded as encoded bytes, or held as arrays, travel beside the payload (on Ray
through the object store, put there only when the sequence is handed out); arrays cannot reach a
remote cluster and are refused for one before anything starts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ValidationError

if TYPE_CHECKING:
    from ..dataset import Dataset
    from ..frames import FrameSource

__all__ = ["FrameSpec", "Outcome", "Payload", "build_payloads", "frames_data"]

FILE_KINDS = ("images", "video")  # a worker that sees the same file system opens them itself
CARRIED_KINDS = ("encoded", "array")  # the pixels (or their encoded bytes) travel with the payload


@dataclass
class FrameSpec:
    """Where a sequence's frames are: ``kind`` is the frame source's (images, video, encoded, array).

    ``paths`` are the image files or the one video file. ``source`` is the driver's own frame source,
    set only for work done in the driver's process (it is never sent anywhere)."""

    kind: str
    paths: list[str] = field(default_factory=list)
    fps: float | None = None
    mimes: list[str] | None = None
    source: Any = field(default=None, repr=False, compare=False)

    def without_source(self) -> FrameSpec:
        return FrameSpec(self.kind, self.paths, self.fps, self.mimes)

    def open(self, data: Any = None) -> FrameSource:
        """The frame source in a worker; ``data`` is what ``frames_data`` sent for carried kinds."""
        from ..frames import ArraySource, EncodedSource, ImageFilesSource, VideoSource

        if self.source is not None:
            return self.source
        if self.kind == "images":
            return ImageFilesSource(self.paths, fps=self.fps)
        if self.kind == "video":
            return VideoSource(self.paths[0], fps=self.fps)
        if self.kind == "encoded" and data is not None:
            return EncodedSource(list(data), self.mimes, fps=self.fps)
        if self.kind == "array" and data is not None:
            return ArraySource(np.asarray(data), fps=self.fps)
        raise ValidationError(f"batch: frames of kind {self.kind!r} came without their data")


@dataclass
class Payload:
    """One sequence's work: its size, its frames, and per entity the keyframe masks (compressed RLE
    counts, score) and keyframe boxes (x, y, w, h) that prompt it."""

    sequence: str
    name: str
    num_frames: int
    height: int
    width: int
    fps: float | None
    frames: FrameSpec
    entities: list[tuple[str, str]]  # (id, name), in the dataset's order
    masks: dict[str, dict[int, tuple[bytes, float | None]]]
    boxes: dict[str, dict[int, tuple[float, float, float, float]]]
    direction: str = "both"
    texts: list[str] = field(default_factory=list)  # concepts to find as it propagates (sam3)
    # the entities' categories: what a run that finds counts against max_objects, per text
    categories: dict[str, str] = field(default_factory=dict)

    @property
    def keyframes(self) -> int:
        return sum(len(m) for m in self.masks.values()) + sum(len(b) for b in self.boxes.values())

    @property
    def planned_frames(self) -> int:
        """Frames its propagation computes, as a session plans it (``Session.plan`` from the
        keyframes): every frame for "both", from the first keyframe to the end going forward, from
        the last one to frame 0 going backward."""
        keyed = {f for m in self.masks.values() for f in m} | {f for b in self.boxes.values() for f in b}
        if not keyed:  # nothing to start from: a run that finds starts at one end
            return self.num_frames if self.texts else 0
        if self.direction == "forward":
            return self.num_frames - min(keyed)
        if self.direction == "backward":
            return max(keyed) + 1
        return self.num_frames

    def for_worker(self) -> Payload:
        """The payload as it is sent to another process (the driver's frame source stays here)."""
        out = Payload(**{k: getattr(self, k) for k in self.__dataclass_fields__})
        out.frames = self.frames.without_source()
        return out


@dataclass
class Outcome:
    """What a worker sends back for one sequence: per frame {entity: (RLE counts, score)}, or an error."""

    sequence: str
    frames: list[tuple[int, dict[str, tuple[bytes, float]]]] = field(default_factory=list)
    error: str | None = None
    details: str | None = None  # the worker's traceback
    cancelled: bool = False
    seconds: float = 0.0
    pid: int = 0
    # entities the run created for what it found: (worker's id, category, frame, counts, score, source)
    found: list[tuple[str, str, int, bytes, float, str]] = field(default_factory=list)


def build_payloads(
    ds: Dataset, sequences: Iterable[str], direction: str, texts: list[str] | None = None
) -> tuple[list[Payload], dict[str, str]]:
    """Payloads for the sequences that have prompts (every sequence with pixels when there are
    ``texts`` to find), read from one version of ``ds``; and {sequence: why it is skipped} for the
    others. Void entities (DAVIS's 255) are never prompts."""
    wanted = list(sequences)
    with ds.snapshot():
        void = {r["id"] for r in ds.table("entities").filter(pc.field("void")).select(["id"]).to_pylist()}
        masks = _keyframe_rows(ds, "masks", ["counts", "score"], wanted)
        boxes = _keyframe_rows(ds, "boxes", ["x", "y", "w", "h"], wanted)
        payloads: list[Payload] = []
        skipped: dict[str, str] = {}
        for seq in wanted:
            row = ds.sequence(seq)
            ents = [(e, ds.entity(e)["name"]) for e in ds.entity_ids(seq) if e not in void]
            seq_masks: dict[str, dict[int, tuple[bytes, float | None]]] = {}
            for f, e, counts, score in masks.get(seq, ()):
                if e not in void:
                    seq_masks.setdefault(e, {})[f] = (counts, score)
            seq_boxes: dict[str, dict[int, tuple[float, float, float, float]]] = {}
            for f, e, x, y, w, h in boxes.get(seq, ()):
                if e not in void and f not in seq_masks.get(e, {}):  # a mask there says more than a box
                    seq_boxes.setdefault(e, {})[f] = (x, y, w, h)
            if not seq_masks and not seq_boxes and not texts:
                skipped[seq] = "no keyframes (no keyframe mask or box on any of its entities)"
                continue
            if not texts and not seq_boxes and all(len(m) == row["num_frames"] for m in seq_masks.values()):
                skipped[seq] = "nothing to propagate: each entity with keyframes has one on every frame"
                continue
            source = ds.frame_source(seq)
            if source is None:
                skipped[seq] = "no pixels (imported without its frames; attach_frames gives it some)"
                continue
            payloads.append(
                Payload(
                    sequence=seq,
                    name=row["name"],
                    num_frames=int(row["num_frames"]),
                    height=int(row["height"]),
                    width=int(row["width"]),
                    fps=row["fps"],
                    frames=_frame_spec(source),
                    entities=ents,
                    # prompted in the dataset's entity order, each entity's keyframes in frame order
                    masks={e: dict(sorted(seq_masks[e].items())) for e, _ in ents if e in seq_masks},
                    boxes={e: dict(sorted(seq_boxes[e].items())) for e, _ in ents if e in seq_boxes},
                    direction=direction,
                    texts=list(texts or []),
                    categories={e: c for e, _ in ents if (c := ds.entity(e)["category"]) is not None},
                )
            )
    return payloads, skipped


def _keyframe_rows(ds: Dataset, table: str, columns: list[str], sequences: list[str]) -> dict[str, list[Any]]:
    """{sequence: [(frame, entity, *columns)]} of the keyframe rows of ``table``, in key order."""
    t = ds.table(table)
    t = t.filter(pc.field("keyframe") & pc.field("sequence_id").isin(pa.array(sequences, pa.string())))
    cols = [t.column(c).to_pylist() for c in ("sequence_id", "frame_index", "entity_id", *columns)]
    out: dict[str, list[Any]] = {}
    for seq, *rest in zip(*cols):
        out.setdefault(seq, []).append(tuple(rest))
    return out


def _frame_spec(source: FrameSource) -> FrameSpec:
    if source.kind == "images":
        paths = [u for u in source.frame_uris() if u is not None]
        return FrameSpec("images", paths, source.fps, source=source)
    if source.kind == "video":
        return FrameSpec("video", [str(source.uri)], source.fps, source=source)
    if source.kind == "encoded":
        return FrameSpec("encoded", [], source.fps, list(getattr(source, "mimes", [])) or None, source=source)
    return FrameSpec(source.kind, [], source.fps, source=source)


def frames_data(payload: Payload) -> Any:
    """What a worker in another process needs besides the payload to read the frames: the encoded bytes
    or the arrays (read from the driver's frame source), or None when the frames are files."""
    spec = payload.frames
    source = spec.source
    if spec.kind in FILE_KINDS:
        return None
    if spec.kind == "encoded":
        return [source.file_bytes(i) for i in range(len(source))]
    if spec.kind == "array":
        return np.stack([source.read(i, cache=False) for i in range(len(source))])
    raise ValidationError(
        f"batch: sequence {payload.sequence!r} has frames of kind {spec.kind!r}, which a worker in "
        "another process cannot open; run it with cluster=None"
    )
