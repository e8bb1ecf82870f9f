"""Write a Pixano source folder that ``pixano data import LIB <folder>`` (Pixano 0.8.0) takes as it is.

Layout: ``dataset.yaml`` (video workspace, one ``sequence_frames`` view named ``image``, the attrs
below) and per split ``<split>/metadata.jsonl``: a ``{"$pixano": "jsonl/2"}`` header, then one line a
sequence with its frames (``<split>/media/<digest of its id>/<stem>.jpg|png``, listed with frame_index and
timestamp) and its entities inline: masks as compressed COCO RLE, exactly the dataset's bytes,
keyframe boxes and the boxes between them (``xywh`` pixels), tracklets (``start_timestep`` ..
``end_timestep``) and per-frame states.

What goes where:

- records: the line ``id`` (the sequence id made routable, see io.pixano_ids), ``split`` (a
  sequence without one goes to ``default``), attrs ``name``, ``fps``, ``status`` (Pixano's own
  field) and the plain custom fields;
- entities: the ``id`` (routable), attrs ``name``, ``category``, ``void`` and the custom fields;
- states: their custom fields and ``reviewed`` (marks that still hold);
- masks and boxes: Pixano's ``source`` (``name`` = vidlabel's source, ``type`` its kind), the
  box score as ``confidence``, attrs ``keyframe`` and the mask's ``score``;
- a ``vidlabel`` attr (a JSON object) on each of them holds the rest: the original ids, the exact
  field types, which values were null (Pixano stores every attr non-null, so a null is written as
  its type's zero and listed there), an entity's colour and tracklets' interpolation switches.

JPEG and PNG frames are copied byte for byte; other frames (arrays, video) are written as PNG, so
pixels are exact. Pixano needs the pixels: a sequence without frames is refused.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image

from ..dataset import Dataset
from ..errors import ValidationError
from ..frames import ImageBytesSource
from ..images import JPEG_MIME, sniff_mime
from .atomic import check_target, staged
from .davis import progress_bar
from .extra import ExportView, fields_facts, frame_stems, is_folder_name, no_gc, pick_sequences
from .pixano_ids import media_folder, routable
from .pixano_records import KEY, NO_SPLIT, RESERVED
from .pixano_schema import SPEC_FILE, ZERO, pixano_type, write_dataset_yaml

__all__ = ["write_pixano"]

METADATA = "metadata.jsonl"
VIEW = "image"
_HEADER = {"$pixano": "jsonl/2"}
_SOURCE_TYPES = {"human": "human", "import": "ground_truth", "interpolated": "other", "clean": "other"}
_SOURCE_TYPES["smooth"] = "other"
# Pixano's base fields of states: a custom field of that name would be taken for them
_STATE_BASE = {"id", "record_id", "entity_id", "tracklet_id", "view_id", "frame_id", "frame_index"}
_STATE_BASE |= {"source_type", "source_name", "source_metadata"}
_WORKERS = min(8, os.cpu_count() or 1)
_TABLE_SLOT = {"sequences": "record", "entities": "entity", "states": "entity_dynamic_state"}


def write_pixano(
    ds: Dataset,
    root: str | os.PathLike[str],
    *,
    sequences: str | Iterable[str] | None = None,
    name: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write a Pixano source folder (atomic: it appears whole or not at all); ``name`` is the dataset
    name Pixano gives it (the folder's name by default)."""
    target = Path(root)
    check_target(target, "to_pixano", overwrite=overwrite, kind="pixano")
    name = target.resolve().name if name is None else name
    if not is_folder_name(name) or name.startswith("."):
        raise ValidationError(f"to_pixano: dataset name {name!r} cannot be a folder name")
    with ds.snapshot():  # one version for the whole export: every sequence's rows, facts and frames
        seq_ids = pick_sequences(ds, sequences)
        if not seq_ids:
            raise ValidationError("to_pixano: no sequences to write (Pixano imports no empty source)")
        fields = fields_facts(ds, "to_pixano")
        _check_fields(fields)
        splits = _splits(ds, seq_ids)
        snap = ExportView(ds)
        lines: dict[str, list[str]] = {}
        with no_gc(), staged(target, "pixano", overwrite=overwrite, what="to_pixano") as tmp:
            _write_spec(tmp / SPEC_FILE, name, fields)
            for seq in progress_bar(seq_ids, "Pixano export", enabled=progress):
                line = _line(ds, snap, seq, splits[seq], fields, tmp / splits[seq])
                lines.setdefault(splits[seq], []).append(json.dumps(line, separators=(",", ":")))
            for split, text in lines.items():
                rows = [json.dumps(_HEADER), *text]
                (tmp / split / METADATA).write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    return target


def _splits(ds: Dataset, seq_ids: Iterable[str]) -> dict[str, str]:
    """Sequence id -> the split folder its line goes in; a sequence Pixano cannot import is refused."""
    splits = {}
    for seq in seq_ids:
        row = ds.sequence(seq)
        split = NO_SPLIT if row["split"] is None else row["split"]
        if not is_folder_name(split) or split.startswith("."):  # Pixano skips folders named .*
            raise ValidationError(f"to_pixano: split {split!r} of sequence {seq!r} cannot be a folder name")
        if ds.frame_source(seq) is None:
            raise ValidationError(
                f"to_pixano: sequence {seq!r} has no pixels, and Pixano imports frames with their pixels "
                "(attach_frames first, or leave it out with sequences=)"
            )
        splits[seq] = split
    return splits


# ---------------------------------------------------------------------- schema
def _check_fields(fields: Mapping[str, Mapping[str, str]]) -> None:
    for table, decl in fields.items():
        slot = _TABLE_SLOT[table]
        taken = RESERVED[slot] | (_STATE_BASE if slot == "entity_dynamic_state" else set())
        for field_name in decl:
            if field_name in taken or not field_name.isidentifier():
                raise ValidationError(
                    f"to_pixano: {table} field {field_name!r} cannot be a Pixano attr "
                    f"(not an identifier, or one of {', '.join(sorted(taken))})"
                )


def _write_spec(path: Path, name: str, fields: Mapping[str, Mapping[str, str]]) -> None:
    def custom(table: str) -> dict[str, tuple[str, Any]]:
        out = {}
        for n, t in fields[table].items():
            kind = pixano_type(_arrow(t))
            assert kind is not None  # fields_facts keeps plain types only
            out[n] = (kind, ZERO[kind])
        return out

    key = ("str", "")
    write_dataset_yaml(
        path,
        name,
        {
            "record": {"name": ("str", ""), "fps": ("float", 0.0), **custom("sequences"), KEY: key},
            "entity": {
                "name": ("str", ""),
                "category": ("str", ""),
                "void": ("bool", False),
                **custom("entities"),
                KEY: key,
            },
            "entity_dynamic_state": {"reviewed": ("bool", False), **custom("states"), KEY: key},
            "mask": {"keyframe": ("bool", True), "score": ("float", 0.0), KEY: key},
            "bbox": {"keyframe": ("bool", True), KEY: key},
        },
    )


def _arrow(alias: str) -> Any:
    import pyarrow as pa

    return pa.type_for_alias(alias)


def _attrs(
    values: Mapping[str, Any], kinds: Mapping[str, str], saved: Mapping[str, Any], nulls: Iterable[str] = ()
) -> dict[str, Any]:
    """Attrs with nulls as their type's zero, listed (with ``nulls``) in the vidlabel attr, which holds
    ``saved`` too and comes last; no vidlabel attr when there is nothing to say."""
    out: dict[str, Any] = {}
    nulls = list(nulls)
    for n, v in values.items():
        if v is None:
            nulls.append(n)
            v = ZERO[kinds[n]]
        out[n] = v
    extra = {**saved, "null": nulls} if nulls else dict(saved)
    if extra:
        out[KEY] = json.dumps(extra, separators=(",", ":"))
    return out


def _kinds(fields: Mapping[str, str], **builtin: str) -> dict[str, str]:
    return {**builtin, **{n: str(pixano_type(_arrow(t))) for n, t in fields.items()}}


# ---------------------------------------------------------------------- lines
def _line(
    ds: Dataset,
    snap: ExportView,
    seq: str,
    split: str,
    fields: Mapping[str, Mapping[str, str]],
    split_dir: Path,
) -> dict[str, Any]:
    row = ds.sequence(seq)
    timestamps = [float(t) for t in ds.timestamps(seq)]
    uris = _write_frames(ds, seq, split_dir, f"media/{media_folder(seq)}")
    values = {"name": row["name"], "fps": row["fps"], **{n: row.get(n) for n in fields["sequences"]}}
    kinds = _kinds(fields["sequences"], name="str", fps="float", status="str")
    if row["status"] is not None:  # Pixano's own field (its default "new" when left out)
        values["status"] = row["status"]
    own_nulls = [k for k in ("status", "split") if row[k] is None]
    attrs = _attrs(values, kinds, {"id": seq, "fields": fields}, own_nulls)
    frames = [{"uri": u, "frame_index": i, "timestamp": t} for i, (u, t) in enumerate(zip(uris, timestamps))]
    line: dict[str, Any] = {
        "id": routable(seq),
        "split": split,
        "attrs": attrs,
        "views": {VIEW: {"frames": frames, **({"fps": row["fps"]} if row["fps"] else {})}},
    }
    rles = snap.frame_rles(seq, len(timestamps))
    line["entities"] = [
        _entity(snap.facts(seq, eid), rles, timestamps, fields) for eid in snap.entity_ids(seq)
    ]
    return line


def _source(name: str) -> dict[str, str]:
    return {"type": _SOURCE_TYPES.get(name, "model"), "name": name}


def _entity(
    facts: Mapping[str, Any],
    rles: list[dict[str, Any]],
    timestamps: list[float],
    fields: Mapping[str, Mapping[str, str]],
) -> dict[str, Any]:
    eid = facts["id"]
    saved: dict[str, Any] = {"id": eid}
    if facts["color"] is not None:
        saved["color"] = facts["color"]
    if not all(facts["interpolate"]):
        saved["interpolate"] = facts["interpolate"]
    values = {"name": facts["name"], "category": facts["category"], "void": facts["void"], **facts["fields"]}
    kinds = _kinds(fields["entities"], name="str", category="str", void="bool")
    annotations: list[dict[str, Any]] = []
    for frame, source, score, keyframe in facts["masks"]:
        rle = rles[frame][eid]
        annotations.append(
            {
                "kind": "mask",
                "view": VIEW,
                "frame_index": frame,
                "source": _source(source),
                "rle": {"size": list(rle["size"]), "counts": rle["counts"].decode("ascii")},
                "attrs": _attrs(
                    {"keyframe": keyframe, "score": score}, {"keyframe": "bool", "score": "float"}, {}
                ),
            }
        )
    for frame, x, y, w, h, source, score, keyframe in facts["boxes"]:
        box_attrs = _attrs({"keyframe": keyframe}, {}, {}, ["score"] if score is None else [])
        annotations.append(
            {
                "kind": "bbox",
                "view": VIEW,
                "frame_index": frame,
                "source": _source(source),
                "coords": [x, y, w, h],
                "format": "xywh",
                "is_normalized": False,
                "confidence": 1.0 if score is None else score,
                "attrs": box_attrs,
            }
        )
    states = {int(f): dict(v) for f, v in facts["states"]}
    reviewed = set(facts["reviewed"])
    state_kinds = _kinds(fields["states"], reviewed="bool")
    return {
        "id": routable(eid),
        "attrs": _attrs(values, kinds, saved),
        "annotations": annotations,
        "tracklets": [
            {
                "view": VIEW,
                "start_timestep": s,
                "end_timestep": e,
                "start_timestamp": timestamps[s],
                "end_timestamp": timestamps[e],
            }
            for s, e in facts["tracklets"]
        ],
        "states": [
            {
                "frame_index": f,
                "attrs": _attrs(
                    {**{n: states.get(f, {}).get(n) for n in fields["states"]}, "reviewed": f in reviewed},
                    state_kinds,
                    {},
                ),
            }
            for f in sorted(set(states) | reviewed)
        ],
    }


# ---------------------------------------------------------------------- frames
def _write_frames(ds: Dataset, seq: str, split_dir: Path, folder: str) -> list[str]:
    """Every frame of the sequence under ``split_dir/folder``; their paths relative to ``split_dir``."""
    source = ds.frame_source(seq, required=True)
    assert source is not None  # required=True raises instead
    stems = frame_stems(ds, seq)
    (split_dir / folder).mkdir(parents=True)

    def one(i: int) -> str:
        data = source.file_bytes(i) if isinstance(source, ImageBytesSource) else None
        mime = sniff_mime(data) if data is not None else None
        if data is None or mime is None:
            buf = io.BytesIO()
            Image.fromarray(ds.frame(seq, i, cache=False)).save(buf, format="PNG", compress_level=3)
            data, mime = buf.getvalue(), "image/png"
        uri = f"{folder}/{stems[i]}{'.jpg' if mime == JPEG_MIME else '.png'}"
        (split_dir / uri).write_bytes(data)
        return uri

    # a video decoder seeks and decodes in order: one thread; files and arrays read in any order
    with ThreadPoolExecutor(1 if source.kind == "video" else _WORKERS) as pool:
        return list(pool.map(one, range(len(stems))))
