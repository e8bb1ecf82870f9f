"""Write DAVIS 2017 folders; the palette-PNG and JPEG writers here are shared with the YouTube-VOS export.

``Annotations/<res>/<seq>/00000.png`` holds one palette PNG per frame whose pixel values are object
ids (0 background, 255 void), with the DAVIS palette, as the official davis2017-evaluation reads them
(``np.array(Image.open(png))``, objects from the first frame's values). An entity named by a DAVIS id
("1".."254") keeps that id, the others take the smallest free ids in entity order (io.davis.object_ids);
``vidlabel.json`` beside ``Annotations`` records each id's entity name, so that read_davis gives the
names back. DAVIS holds no tracklets: read back, tracklets are runs of frames.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from .. import rle as rlemod
from ..dataset import Dataset
from ..errors import ValidationError
from ..images import JPEG_MIME
from ..naming import natural_key
from ..palette import davis_palette
from .atomic import check_target, staged
from .davis import MAX_OBJECTS, OBJECTS_FILE, VOID, object_ids, progress_bar
from .extra import folder_names, is_folder_name, pick_sequences

__all__ = [
    "object_names",
    "object_values",
    "snapshot_rles",
    "write_davis",
    "write_frames",
    "write_index_png",
    "write_index_pngs",
]

_WORKERS = min(8, os.cpu_count() or 1)  # Pillow encodes off the GIL
T = TypeVar("T")


def write_davis(
    ds: Dataset,
    root: str | os.PathLike[str],
    *,
    sequences: str | Iterable[str] | None = None,
    resolution: str = "480p",
    images: bool = True,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write ``JPEGImages/<res>/<seq>/*.jpg``, ``Annotations/<res>/<seq>/*.png`` and ``ImageSets/2017``.

    Every frame gets a PNG. Where masks overlap, the higher object id wins, and objects win over
    void; a warning counts masks that lost pixels.
    JPEGs are written for sequences with pixels when ``images``: JPEG frame files pass through as
    they are, other frames are encoded. Atomic: the folder appears whole or not at all.
    """
    target = Path(root)
    check_target(target, "to_davis", overwrite=overwrite, kind="davis")
    seq_ids = pick_sequences(ds, sequences)
    names = folder_names(ds, seq_ids, "to_davis")
    if not is_folder_name(resolution):
        raise ValidationError(f"to_davis: resolution {resolution!r} cannot be a folder name")
    orders = {seq: object_values(ds, seq, void=VOID) for seq in seq_ids}
    lost = 0
    with staged(target, "davis", overwrite=overwrite, what="to_davis") as tmp:
        for seq in progress_bar(seq_ids, "DAVIS export", enabled=progress):
            stems = [f"{i:05d}" for i in range(ds.num_frames(seq))]
            folder = tmp / "Annotations" / resolution / names[seq]
            size = (ds.sequence(seq)["height"], ds.sequence(seq)["width"])
            inexact = write_index_pngs(snapshot_rles(ds, seq), orders[seq], folder, stems, size)
            lost += sum(map(len, inexact.values()))
            if images and ds.frame_source(seq) is not None:
                write_frames(ds, seq, tmp / "JPEGImages" / resolution / names[seq], stems)
        splits: dict[str, list[str]] = {}
        for seq in seq_ids:
            split = ds.sequence(seq)["split"]
            if split:
                splits.setdefault(split, []).append(names[seq])
        for split, listed in splits.items():
            if not is_folder_name(split):
                raise ValidationError(f"to_davis: split {split!r} cannot be a file name")
            sets = tmp / "ImageSets" / "2017"
            sets.mkdir(parents=True, exist_ok=True)
            (sets / f"{split}.txt").write_text("".join(f"{n}\n" for n in sorted(listed, key=natural_key)))
        (tmp / OBJECTS_FILE).write_text(json.dumps(object_names(ds, orders), indent=1), encoding="utf-8")
    if lost:
        warnings.warn(
            f"to_davis: {lost} masks overlap others and lost pixels to them "
            "(the higher object id wins, objects win over void)",
            RuntimeWarning,
            stacklevel=2,
        )
    return target


def object_values(ds: Dataset, seq: str, *, void: int | None) -> list[tuple[str, int]]:
    """(entity id, pixel value) in paint order: void entities first (when ``void`` is a value), then
    the others by increasing DAVIS id (see io.davis.object_ids), so that objects win over void and
    higher ids over lower ones."""
    eids = ds.entity_ids(seq)
    voids = [e for e in eids if ds.entity(e)["void"]]
    objects = [e for e in eids if not ds.entity(e)["void"]]
    if len(objects) > MAX_OBJECTS:
        raise ValidationError(
            f"sequence {seq!r} has {len(objects)} entities; an index PNG holds at most {MAX_OBJECTS}"
        )
    head = [(e, void) for e in voids] if void is not None else []
    ids = object_ids([ds.entity(e)["name"] for e in objects])
    return head + sorted(zip(objects, ids), key=lambda pair: pair[1])


def object_names(ds: Dataset, orders: Mapping[str, Sequence[tuple[str, int]]]) -> dict[str, Any]:
    """What ``vidlabel.json`` holds: per sequence name, each object id's entity name and the void names."""
    out: dict[str, Any] = {}
    for seq, order in orders.items():
        names = {e: ds.entity(e)["name"] for e, _ in order}
        out[ds.sequence(seq)["name"]] = {
            "objects": {str(v): names[e] for e, v in order if v != VOID},
            "void": [names[e] for e, v in order if v == VOID],
        }
    return {"version": 1, "sequences": out}


def write_index_png(path: Path, labels: np.ndarray) -> None:
    """One HxW uint8 label image as a palette ("P") PNG with the DAVIS palette."""
    h, w = labels.shape
    im = Image.frombytes("P", (w, h), np.ascontiguousarray(labels, dtype=np.uint8).tobytes())
    im.putpalette(davis_palette().tobytes())
    im.save(path, format="PNG")


def snapshot_rles(ds: Dataset, seq: str) -> list[dict[str, rlemod.RLE]]:
    """Every frame's masks as RLE (a consistent view even while a propagation thread writes)."""
    with ds.snapshot():
        return [ds.rles(seq, f) for f in range(ds.num_frames(seq))]


def write_index_pngs(
    rles: Sequence[Mapping[str, rlemod.RLE]],
    order: Sequence[tuple[str, int]],
    folder: Path,
    stems: Sequence[str],
    size: tuple[int, int],
    *,
    every_frame: bool = True,
) -> dict[int, list[str]]:
    """Paint the masks of the entities in ``order`` into ``folder/<stem>.png`` of ``size`` (h, w), one
    file per frame (or only per frame holding one of their masks).

    Returns frame -> the entities whose mask the PNG does not hold exactly (overlaps, shared values).
    """
    wanted = {e for e, _ in order}
    frames = [f for f, r in enumerate(rles) if every_frame or wanted & r.keys()]
    folder.mkdir(parents=True, exist_ok=True)

    def one(f: int) -> list[str]:
        masks = [(e, v, rlemod.decode(rles[f][e])) for e, v in order if e in rles[f]]
        labels = np.zeros(size, np.uint8)
        for _, value, m in masks:
            labels[m] = value
        write_index_png(folder / f"{stems[f]}.png", labels)
        return [e for e, value, m in masks if not np.array_equal(labels == value, m)]

    inexact = dict(zip(frames, run_all(one, frames, _WORKERS)))
    return {f: e for f, e in inexact.items() if e}


def frame_jpeg(ds: Dataset, seq: str, i: int, kind: str) -> bytes:
    """JPEG bytes of a frame: image files and embedded images as they are when they are JPEG
    (``ds.frame_bytes`` passes those through), else encoded by Pillow without filling the cache."""
    if kind in ("images", "encoded"):
        data, mime = ds.frame_bytes(seq, i)
        if mime == JPEG_MIME:
            return data
    buf = io.BytesIO()
    Image.fromarray(ds.frame(seq, i, cache=False)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def write_frames(ds: Dataset, seq: str, folder: Path, stems: Sequence[str]) -> None:
    """Every frame of a sequence with pixels as ``folder/<stem>.jpg``."""
    source = ds.frame_source(seq)
    if source is None:
        raise ValidationError(f"sequence {seq!r} has no pixels to write")
    folder.mkdir(parents=True, exist_ok=True)

    def one(i: int) -> None:
        (folder / f"{stems[i]}.jpg").write_bytes(frame_jpeg(ds, seq, i, source.kind))

    # a video decoder seeks and decodes in order: one thread; files and arrays read in any order
    run_all(one, range(len(stems)), 1 if source.kind == "video" else _WORKERS)


def run_all(fn: Callable[[int], T], items: Iterable[int], workers: int) -> list[T]:
    """``[fn(i) for i in items]`` on a thread pool; the first error cancels what has not started."""
    pool = ThreadPoolExecutor(workers)
    try:
        out = list(pool.map(fn, items))
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return out
