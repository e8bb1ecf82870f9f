"""YouTube-VOS folders: ``JPEGImages/<seq>/*.jpg``, ``Annotations/<seq>/*.png`` and ``meta.json``.

PNGs are palette images whose values are object ids; ``meta.json`` lists each video's objects with
their category and the frames they appear on (``{"videos": {seq: {"objects": {"1": {"category",
"frames"}}}}}``). Frames are named by file stem ("00000", "00005", ...: the train set annotates every
5th frame of a 30 fps video), and a name's frame index is its position in the sorted JPEGImages
listing (or in the sorted names of meta.json and Annotations when there are no images).

The export paints non-void entities with their DAVIS ids (a name "1".."254" keeps its id, others take
the smallest free ids; the higher id wins where masks overlap) and writes a PNG only for frames
holding a mask. YouTube-VOS has no void: void entities stay out
of the PNGs, and, like masks that lost pixels to an overlap, travel whole in the "vidlabel" facts
of meta.json (see io.extra), so that a round trip is exact. Read without those facts, a 255 pixel
value is a void entity, as in DAVIS.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .. import rle as rlemod
from ..dataset import Dataset
from ..errors import ValidationError
from ..frames import IMAGE_SUFFIXES
from ..naming import natural_key
from ..validation import check_frame_size, check_sequence
from . import davis_export as dx
from .atomic import check_target, staged
from .davis import VOID, progress_bar, read_index_png, select
from .extra import (
    KEY,
    VERSION,
    ExportView,
    add_entity,
    dataset_for,
    fields_facts,
    folder_names,
    frame_stems,
    is_folder_name,
    no_gc,
    pick_sequences,
    sequence_facts,
    sequence_kwargs,
    where,
)

__all__ = ["read_youtube_vos", "write_youtube_vos"]

META = "meta.json"
DEFAULT_CATEGORY = "object"


def write_youtube_vos(
    ds: Dataset,
    root: str | os.PathLike[str],
    *,
    sequences: str | Iterable[str] | None = None,
    images: bool = True,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write a YouTube-VOS folder (atomic: it appears whole or not at all).

    Frames are named by the stems of the sequence's frame files when those are unique and in order,
    else ``00000``, ``00001``, ...; JPEGs are written for sequences with pixels when ``images``.
    """
    target = Path(root)
    check_target(target, "to_youtube_vos", overwrite=overwrite, kind="youtube_vos")
    seq_ids = pick_sequences(ds, sequences)
    names = folder_names(ds, seq_ids, "to_youtube_vos")
    orders = {seq: dx.object_values(ds, seq, void=None) for seq in seq_ids}
    snap = ExportView(ds)
    videos: dict[str, Any] = {}
    facts: dict[str, Any] = {}
    with no_gc(), staged(target, "youtube_vos", overwrite=overwrite, what="to_youtube_vos") as tmp:
        for seq in progress_bar(seq_ids, "YouTube-VOS export", enabled=progress):
            name = names[seq]
            with ds.snapshot():  # one consistent view of the sequence
                stems = frame_stems(ds, seq)
                rles = snap.frame_rles(seq, len(stems))
                ents = [snap.facts(seq, e) for e in snap.entity_ids(seq)]
                facts[name] = sequence_facts(ds, seq, stems)
            size = (facts[name]["height"], facts[name]["width"])
            inexact = dx.write_index_pngs(
                rles, orders[seq], tmp / "Annotations" / name, stems, size, every_frame=False
            )
            if images and ds.frame_source(seq) is not None:
                dx.write_frames(ds, seq, tmp / "JPEGImages" / name, stems)
            values = dict(orders[seq])
            objects = {}
            for ent in ents:
                value = ent["value"] = values.get(ent["id"])
                for m in ent["masks"]:  # what the PNGs cannot hold travels as RLE
                    if value is None or ent["id"] in inexact.get(m[0], ()):
                        m.append(rles[m[0]][ent["id"]]["counts"].decode("ascii"))
                if value is not None:
                    objects[str(value)] = {
                        "category": ent["category"] or DEFAULT_CATEGORY,
                        "frames": [stems[m[0]] for m in ent["masks"]],
                    }
            videos[name] = {"objects": objects}
            facts[name]["entities"] = ents
        meta = {
            "videos": videos,
            KEY: {"version": VERSION, "fields": fields_facts(ds, "to_youtube_vos"), "videos": facts},
        }
        (tmp / META).write_text(json.dumps(meta, separators=(",", ":")), encoding="utf-8")
    return target


def read_youtube_vos(
    root: str | os.PathLike[str],
    *,
    sequences: str | Iterable[str] | None = None,
    dataset: Dataset | None = None,
    progress: bool = True,
) -> Dataset:
    """Import a YouTube-VOS folder; ``meta.json`` is optional (then objects have no category).

    Videos with JPEGImages get pixels; the others import without them, frame uris being the names.
    With ``dataset`` everything is added as one undoable step, all or nothing; otherwise a new
    dataset is returned.
    """
    with no_gc():  # see extra.no_gc: GC passes over the new rows grew the cost per mask
        return _read_youtube_vos(root, sequences=sequences, dataset=dataset, progress=progress)


def _read_youtube_vos(
    root: str | os.PathLike[str],
    *,
    sequences: str | Iterable[str] | None = None,
    dataset: Dataset | None = None,
    progress: bool = True,
) -> Dataset:
    base = Path(root)
    if not base.is_dir():
        raise ValidationError(f"YouTube-VOS root {os.fspath(root)!r} is not a folder")
    meta_file = base / META
    meta: dict[str, Any] = {}
    if meta_file.is_file():
        try:
            meta = json.loads(meta_file.read_bytes())
        except ValueError as e:
            raise ValidationError(f"{meta_file} is not JSON: {e}") from None
        if not isinstance(meta, dict) or not isinstance(meta.get("videos", {}), dict):
            raise ValidationError(f"{meta_file}: expected {{'videos': {{name: {{'objects': ...}}}}}}")
    listed = meta.get("videos", {})
    found = set(listed)
    for sub in ("Annotations", "JPEGImages"):
        if (base / sub).is_dir():
            found.update(p.name for p in (base / sub).iterdir() if p.is_dir())
    if not found:
        raise ValidationError(
            f"YouTube-VOS root {os.fspath(root)!r} has no videos (no {META}, no Annotations)"
        )
    bad = sorted(n for n in found if not is_folder_name(n))
    if bad:
        raise ValidationError(f"{meta_file}: video name {bad[0]!r} is not a folder name")
    names = sorted(found, key=natural_key)
    if sequences is not None:
        names = select(names, sequences, lambda bad: f"YouTube-VOS: unknown video(s) {bad} in {base}")
    facts = meta.get(KEY) if isinstance(meta.get(KEY), dict) else None
    with where(meta_file, KEY):
        ds = dataset_for(facts, dataset)
        saved = dict((facts or {}).get("videos") or {})
    with ds.transaction(f"import YouTube-VOS ({len(names)} videos)"):
        for name in progress_bar(names, "YouTube-VOS", enabled=progress):
            with where(meta_file, f"video {name!r}"):
                objects = dict((listed.get(name) or {}).get("objects") or {})
            _read_video(ds, base, name, objects, saved.get(name), meta_file)
    if dataset is None:
        ds.clear_history()
    return ds


def _files(folder: Path, suffixes: Iterable[str]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in suffixes and p.is_file()), key=natural_key
    )


def _read_video(
    ds: Dataset,
    base: Path,
    name: str,
    objects: Mapping[str, Any],
    facts: Mapping[str, Any] | None,
    meta_file: Path,
) -> None:
    images = _files(base / "JPEGImages" / name, IMAGE_SUFFIXES)
    pngs = {p.stem: p for p in _files(base / "Annotations" / name, {".png"})}
    with where(meta_file, f"video {name!r}"):
        meta_frames = {str(f) for o in objects.values() for f in o.get("frames") or []}
        kwargs = sequence_kwargs(facts)
        if images:
            stems = [p.stem for p in images]
            seq = ds.add_sequence(name, frames=[str(p) for p in images], **kwargs)
            check_sequence(ds, seq)
        else:
            stems = [
                str(s)
                for s in (facts or {}).get("frames") or sorted(set(pngs) | meta_frames, key=natural_key)
            ]
            if not stems:
                raise ValidationError("no frames: no JPEGImages, no Annotations")
            w, h = (facts["width"], facts["height"]) if facts else _png_size(next(iter(pngs.values())))
            h, w = check_frame_size(h, w, "frame size")
            seq = ds.add_sequence(name, num_frames=len(stems), width=w, height=h, uris=stems, **kwargs)
        index = {s: i for i, s in enumerate(stems)}
        if len(index) < len(stems):
            raise ValidationError("two frames share a file stem")
        unknown = sorted(meta_frames - set(index), key=natural_key)
        if unknown:
            raise ValidationError(f"object frames {unknown[:3]} are not frames of the video")
    for stem, path in pngs.items():
        if stem not in index:
            raise ValidationError(f"mask {path} matches no frame of video {name!r} (by file stem)")
    row = ds.sequence(seq)
    size = (row["height"], row["width"])
    frames = sorted(index[s] for s in pngs)

    def decode(f: int) -> dict[int, rlemod.RLE]:
        path = pngs[stems[f]]
        labels = read_index_png(path)
        if labels.shape != size:
            raise ValidationError(
                f"mask {path} is {labels.shape[1]}x{labels.shape[0]}, the video {size[1]}x{size[0]}"
            )
        values = np.flatnonzero(np.bincount(labels.ravel(), minlength=256)[1:]) + 1
        return {int(v): rlemod.encode(labels == v) for v in values}

    by_value: dict[int, dict[int, rlemod.RLE]] = {}
    for f, found in zip(frames, dx.run_all(decode, frames, dx._WORKERS)):
        for v, rle in found.items():
            by_value.setdefault(v, {})[f] = rle
    done: set[int] = set()
    for k, ent in enumerate((facts or {}).get("entities") or []):
        with where(meta_file, f"{KEY}.videos[{name!r}].entities[{k}]"):
            value = ent.get("value")
            masks: dict[int, Any] = dict(by_value.get(value, {})) if value is not None else {}
            for m in ent.get("masks", []):
                if len(m) > 4:
                    masks[int(m[0])] = {"size": list(size), "counts": m[4]}
            if value is not None:
                done.add(int(value))
            add_entity(ds, seq, ent, name=str(value), category=None, void=False, masks=masks)
    for value in _object_values(objects, by_value, done, meta_file, name):
        obj = objects.get(str(value)) or {}
        void = value == VOID and str(value) not in objects
        with where(meta_file, f"video {name!r} object {value}"):
            category = obj.get("category")
            add_entity(
                ds, seq, None, name=str(value), category=category, void=void, masks=by_value.get(value, {})
            )


def _object_values(
    objects: Mapping[str, Any], by_value: Mapping[int, Any], done: set[int], meta_file: Path, name: str
) -> list[int]:
    """Pixel values still to import, in order: meta.json's objects and values found in the PNGs."""
    values = set(by_value)
    for key in objects:
        if not (isinstance(key, str) and key.isdigit() and 1 <= int(key) <= 255):
            raise ValidationError(f"{meta_file}: video {name!r}: object id {key!r} is not a number 1..255")
        values.add(int(key))
    return sorted(values - done)


def _png_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as im:
            return im.size
    except Exception as e:  # Pillow raises several kinds for bad data
        raise ValidationError(f"mask {path} cannot be read: {e}") from e
