"""COCO for video: write YouTube-VIS JSON; read YouTube-VIS and CocoVID (mmtracking) JSON.

YouTube-VIS holds one annotation per object with a list of per-frame ``segmentations`` (compressed
RLE or null), ``bboxes`` and ``areas``; CocoVID holds ``images`` with ``video_id``/``frame_id`` and one
annotation per image and ``instance_id``. vidlabel's own facts (entity ids, names, colours, void,
tracklet spans, per-frame sources, boxes, states) ride under a ``"vidlabel"`` key that other tools
ignore (see io.extra), so that a round trip is exact.

Void entities are written as crowd annotations (``iscrowd: 1``), which COCO-style evaluation
ignores as DAVIS does void; ``iscrowd: 1`` reads back as void. Foreign files: masks import as
keyframes of source "import"; a box imports only on a frame where the object has no mask (there it
is the only shape; elsewhere YouTube-VIS boxes are the masks' own), as a keyframe box.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pycocotools.mask as cocomask

from .. import __version__
from .. import rle as rlemod
from ..dataset import Dataset
from ..errors import ValidationError
from ..naming import natural_key
from ..validation import check_frame_size, check_sequence
from .atomic import check_target, staged
from .davis import progress_bar
from .extra import (
    KEY,
    VERSION,
    ExportView,
    add_entity,
    dataset_for,
    fields_facts,
    folder_names,
    frame_stems,
    no_gc,
    pick_sequences,
    sequence_facts,
    sequence_kwargs,
    where,
)

__all__ = ["read_coco", "write_coco"]

DEFAULT_CATEGORY = "object"  # for entities without a category
KIND = "coco"  # the export kind io.atomic recognises


def write_coco(
    ds: Dataset,
    path: str | os.PathLike[str],
    *,
    sequences: str | Iterable[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write one YouTube-VIS JSON file (atomic: the old file stays until the new one is whole).

    Videos are numbered from 1 in sequence order; ``file_names`` are ``"<seq name>/<frame stem>.jpg"``
    (the layout write_youtube_vos gives its JPEGImages). ``bboxes`` hold the stored box, else the
    mask's tight box; categories are the entities' (``"object"`` where they have none).
    """
    target = Path(path)
    check_target(target, "to_coco", overwrite=overwrite, kind=KIND, folder=False)
    seq_ids = pick_sequences(ds, sequences)
    names = folder_names(ds, seq_ids, "to_coco")
    with no_gc():
        data = _document(ds, seq_ids, names)
        text = json.dumps(data, separators=(",", ":"))  # dumps runs the C encoder; dump to a file does not
    with staged(target, KIND, overwrite=overwrite, what="to_coco", folder=False) as tmp:
        tmp.write_text(text, encoding="ascii")
    return target


def _document(ds: Dataset, seq_ids: list[str], names: Mapping[str, str]) -> dict[str, Any]:
    snap = ExportView(ds)
    cats: dict[str, int] = {}
    videos: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for vid, seq in enumerate(seq_ids, start=1):
        with ds.snapshot():  # a consistent view of the sequence even while a propagation thread writes
            row = ds.sequence(seq)
            stems = frame_stems(ds, seq)
            videos.append(
                {
                    "id": vid,
                    "name": names[seq],
                    "width": row["width"],
                    "height": row["height"],
                    "length": len(stems),
                    "file_names": [f"{names[seq]}/{s}.jpg" for s in stems],
                    KEY: sequence_facts(ds, seq),
                }
            )
            for eid in snap.entity_ids(seq):
                category = snap.entities[eid]["category"] or DEFAULT_CATEGORY
                cid = cats.setdefault(category, len(cats) + 1)
                anns.append(_annotation(snap, row, eid, len(anns) + 1, vid, cid, len(stems)))
    return {  # the "vidlabel" object first: its head marks the file as a vidlabel export (io.atomic)
        KEY: {"export": KIND, "version": VERSION, "fields": fields_facts(ds, "to_coco")},
        "info": {"description": "vidlabel export (YouTube-VIS layout)", "version": __version__},
        "licenses": [],
        "videos": videos,
        "categories": [{"id": i, "name": n, "supercategory": n} for n, i in cats.items()],
        "annotations": anns,
    }


def _annotation(
    snap: ExportView, row: Mapping[str, Any], eid: str, aid: int, vid: int, cid: int, n: int
) -> dict[str, Any]:
    seq = row["id"]
    facts = snap.facts(seq, eid)
    segs: list[Any] = [None] * n
    areas: list[Any] = [None] * n
    boxes: list[Any] = [None] * n
    cols, rows = snap.columns["masks"], snap.rows("masks", seq, eid)
    rles = [{"size": [cols["height"][i], cols["width"][i]], "counts": cols["counts"][i]} for i in rows]
    if rles:  # pycocotools measures a list of RLEs in one call
        for f, rle, area, box in zip(
            (cols["frame_index"][i] for i in rows),
            rles,
            _areas(rles),
            cocomask.toBbox(rles).tolist(),
        ):
            segs[f] = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
            areas[f] = area
            boxes[f] = box
    for f, x, y, w, h, *_ in facts["boxes"]:
        boxes[f] = [x, y, w, h]
    return {
        "id": aid,
        "video_id": vid,
        "category_id": cid,
        "iscrowd": int(facts["void"]),
        "width": row["width"],
        "height": row["height"],
        "segmentations": segs,
        "bboxes": boxes,
        "areas": areas,
        KEY: facts,
    }


def _areas(rles: list[dict[str, Any]]) -> list[int]:
    """pycocotools.mask.area of a list, 255 at a time: for longer lists it builds a uint8 array of the
    list's length, which NumPy 2 refuses (OverflowError)."""
    return [a for i in range(0, len(rles), 255) for a in cocomask.area(rles[i : i + 255]).tolist()]


# ---------------------------------------------------------------------- reading
@dataclass
class _Instance:
    place: str  # where in the file, for error messages
    category: str | None
    void: bool
    facts: dict[str, Any] | None
    masks: dict[int, rlemod.RLE] = field(default_factory=dict)
    boxes: dict[int, list[float]] = field(default_factory=dict)


@dataclass
class _Video:
    name: str
    width: int
    height: int
    file_names: list[str]
    facts: dict[str, Any] | None
    instances: list[_Instance] = field(default_factory=list)


def read_coco(
    path: str | os.PathLike[str],
    images: str | os.PathLike[str] | None = None,
    *,
    dataset: Dataset | None = None,
    progress: bool = True,
) -> Dataset:
    """Import a YouTube-VIS or CocoVID JSON file; one sequence per video.

    With ``images`` (the folder that ``file_names`` are relative to) and the files there, sequences
    get pixels; otherwise they import without them, frame uris being the file names. Entities are
    named "1", "2", ... per video (or as the "vidlabel" facts say). With ``dataset`` everything is
    added as one undoable step, all or nothing; otherwise a new dataset is returned.
    """
    with no_gc():  # see extra.no_gc: GC passes over the new rows grew the cost per mask
        return _read_coco(path, images, dataset=dataset, progress=progress)


def _read_coco(
    path: str | os.PathLike[str],
    images: str | os.PathLike[str] | None = None,
    *,
    dataset: Dataset | None = None,
    progress: bool = True,
) -> Dataset:
    file = Path(path)
    try:
        data = json.loads(file.read_bytes())
    except OSError as e:
        raise ValidationError(f"cannot read COCO file {file}: {e}") from None
    except ValueError as e:
        raise ValidationError(f"{file} is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise ValidationError(f"{file}: expected a JSON object at the top, got {type(data).__name__}")
    with where(file, "categories"):
        cats = {c["id"]: str(c["name"]) for c in data.get("categories") or []}
    if data.get("images"):
        videos = _cocovid(data, cats, file)
    elif "videos" in data:
        videos = _youtube_vis(data, cats, file)
    else:
        raise ValidationError(f"{file}: neither YouTube-VIS ('videos') nor CocoVID ('images') JSON")
    facts = data.get(KEY) if isinstance(data.get(KEY), dict) else None
    with where(file, KEY):
        ds = dataset_for(facts, dataset)
    root = None if images is None else Path(images)
    with ds.transaction(f"import COCO {file.name} ({len(videos)} videos)"):
        for v in progress_bar(videos, "COCO", enabled=progress):
            _add_video(ds, v, root, file)
    if dataset is None:
        ds.clear_history()
    return ds


def _youtube_vis(data: Mapping[str, Any], cats: Mapping[Any, str], file: Path) -> list[_Video]:
    by_id: dict[Any, _Video] = {}
    for k, v in enumerate(data["videos"] or []):
        with where(file, f"videos[{k}]"):
            names = [str(n) for n in v["file_names"]]
            if "length" in v and v["length"] != len(names):
                raise ValidationError(f"length {v['length']} but {len(names)} file_names")
            if v["id"] in by_id:
                raise ValidationError(f"duplicate video id {v['id']!r}")
            folder = PurePosixPath(names[0]).parent.name if names else ""  # "<video>/00000.jpg"
            name = v.get("name") or folder or f"video{v['id']}"
            facts = v.get(KEY) if isinstance(v.get(KEY), dict) else None
            h, w = check_frame_size(v["height"], v["width"], "frames")
            by_id[v["id"]] = _Video(str(name), w, h, names, facts)
    for k, a in enumerate(data.get("annotations") or []):
        place = f"annotations[{k}]"
        with where(file, place):
            video = by_id.get(a["video_id"])
            if video is None:
                raise ValidationError(f"unknown video_id {a['video_id']!r}")
            n = len(video.file_names)
            segs = _per_frame(a.get("segmentations"), n, "segmentations")
            boxes = _per_frame(a.get("bboxes"), n, "bboxes")
            inst = _instance(place, a, cats)
            for f, seg in enumerate(segs):
                rle = _rle(seg, video.height, video.width)
                if rle is not None:
                    inst.masks[f] = rle
                elif boxes[f] is not None:
                    inst.boxes[f] = [float(x) for x in boxes[f]]
            video.instances.append(inst)
    return list(by_id.values())


def _cocovid(data: Mapping[str, Any], cats: Mapping[Any, str], file: Path) -> list[_Video]:
    with where(file, "videos"):
        named = {v["id"]: v for v in data.get("videos") or []}
    frames: dict[Any, list[tuple[int, Any, str, int, int]]] = {}
    for k, im in enumerate(data["images"]):
        with where(file, f"images[{k}]"):
            if named and im["video_id"] not in named:
                raise ValidationError(f"unknown video_id {im['video_id']!r}")
            h, w = check_frame_size(im["height"], im["width"], "frames")
            item = (int(im["frame_id"]), im["id"], str(im["file_name"]), w, h)
            frames.setdefault(im["video_id"], []).append(item)
    videos: dict[Any, _Video] = {}
    image_at: dict[Any, tuple[Any, int]] = {}  # image id -> (video id, frame index)
    for vid, items in frames.items():
        with where(file, f"images of video {vid!r}"):
            items.sort(key=lambda i: i[0])  # frames in frame_id order, which may skip (every 5th frame)
            if len({i[0] for i in items}) < len(items):
                raise ValidationError("two images share a frame_id")
            if len({i[3:] for i in items}) > 1:
                raise ValidationError("the images differ in size")
            for f, item in enumerate(items):
                if item[1] in image_at:
                    raise ValidationError(f"duplicate image id {item[1]!r}")
                image_at[item[1]] = (vid, f)
        name = str(named.get(vid, {}).get("name") or f"video{vid}")
        videos[vid] = _Video(name, items[0][3], items[0][4], [i[2] for i in items], None)
    tracks: dict[tuple[Any, Any], _Instance] = {}
    for k, a in enumerate(data.get("annotations") or []):
        place = f"annotations[{k}]"
        with where(file, place):
            if a["image_id"] not in image_at:
                raise ValidationError(f"unknown image_id {a['image_id']!r}")
            vid, f = image_at[a["image_id"]]
            inst_id = a.get("instance_id")
            if inst_id is None:  # detections without tracks: each annotation is its own object
                inst_id = ("annotation", a.get("id", k))
            inst = tracks.setdefault((vid, inst_id), _instance(place, a, cats))
            inst.void = inst.void or bool(a.get("iscrowd"))
            if f in inst.masks or f in inst.boxes:
                raise ValidationError(f"instance {inst_id!r} has two annotations on image {a['image_id']!r}")
            rle = _rle(a.get("segmentation"), videos[vid].height, videos[vid].width)
            if rle is not None:
                inst.masks[f] = rle
            elif a.get("bbox"):
                inst.boxes[f] = [float(x) for x in a["bbox"]]
    for (vid, _), inst in sorted(tracks.items(), key=lambda kv: natural_key(str(kv[0][1]))):
        videos[vid].instances.append(inst)
    return list(videos.values())


def _instance(place: str, a: Mapping[str, Any], cats: Mapping[Any, str]) -> _Instance:
    cid = a.get("category_id")
    if cid is not None and cid not in cats:
        raise ValidationError(f"unknown category_id {cid!r}")
    facts = a.get(KEY) if isinstance(a.get(KEY), dict) else None
    return _Instance(place, None if cid is None else cats[cid], bool(a.get("iscrowd")), facts)


def _per_frame(values: Any, n: int, what: str) -> list[Any]:
    if values is None:
        return [None] * n
    if not isinstance(values, list) or len(values) != n:
        got = len(values) if isinstance(values, list) else type(values).__name__
        raise ValidationError(f"{what}: expected a list of {n} (one per frame), got {got}")
    return values


def _rle(seg: Any, h: int, w: int) -> rlemod.RLE | None:
    """A segmentation as an RLE dict: RLE as it is (compressed or not) or polygons made compressed.

    RLE dicts are checked once, by set_masks as it stores them (an error names the annotation);
    checking them here as well doubled the cost of reading a file.
    """
    if seg is None or (isinstance(seg, list) and not seg):
        return None
    if isinstance(seg, Mapping):
        return dict(seg)
    if isinstance(seg, list):
        polys = [[float(x) for x in p] for p in seg]
        if any(len(p) < 6 or len(p) % 2 for p in polys):
            raise ValidationError("a polygon needs at least 3 (x, y) points")
        merged = cocomask.merge(cocomask.frPyObjects(polys, h, w))
        return {"size": [h, w], "counts": bytes(merged["counts"])}
    raise ValidationError(f"a segmentation must be an RLE dict, polygons or null, got {type(seg).__name__}")


def _inside(root: Path, name: str) -> Path:
    """``root / name``, refused when the name leads outside ``root`` (an absolute path, "..")."""
    path = root / name
    if not os.path.realpath(path).startswith(os.path.join(os.path.realpath(root), "")):
        raise ValidationError(f"file name {name!r} leads outside the images folder {str(root)!r}")
    return path


def _add_video(ds: Dataset, v: _Video, root: Path | None, file: Path) -> None:
    with where(file, f"video {v.name!r}"):
        kwargs = sequence_kwargs(v.facts)
        paths = [_inside(root, n) for n in v.file_names] if root is not None else []
        missing = next((p for p in paths if not p.is_file()), None)
        if paths and missing is None:
            seq = ds.add_sequence(v.name, frames=[str(p) for p in paths], **kwargs)
            check_sequence(ds, seq)
            row = ds.sequence(seq)
            if (row["width"], row["height"]) != (v.width, v.height):
                raise ValidationError(
                    f"its images are {row['width']}x{row['height']}, the file says {v.width}x{v.height}"
                )
        else:
            if missing is not None:
                warnings.warn(
                    f"{file}: video {v.name!r}: {missing} not found; imported without pixels",
                    RuntimeWarning,
                    stacklevel=5,
                )
            seq = ds.add_sequence(
                v.name,
                num_frames=len(v.file_names),
                width=v.width,
                height=v.height,
                uris=v.file_names,
                **kwargs,
            )
    for k, inst in enumerate(v.instances, start=1):
        with where(file, inst.place):
            add_entity(
                ds,
                seq,
                inst.facts,
                name=str(k),
                category=inst.category,
                void=inst.void,
                masks=inst.masks,
                boxes=inst.boxes,
            )
