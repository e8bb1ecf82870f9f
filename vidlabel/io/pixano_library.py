"""Read a Pixano library: the LanceDB tables the Pixano app works on (``pip install 'vidlabel[pixano]'``).

A library (Pixano 0.8.0) keeps each dataset under ``LIB/library/<dataset>/``: ``info.json`` (its id,
name and schema) and ``db/<table>.lance``, read here with ``lancedb`` alone (not the pixano
package): ``records`` (id, split, status, ..., record attrs: no name column, ids often derived
hashes), ``sequence_frames`` (record_id, frame_index, timestamp, width, height, ``raw_bytes`` of an
embedded frame with an empty ``uri``, or a ``uri``), ``entities`` (record_id, entity attrs),
``tracklets`` (entity_id, start_timestep, end_timestep), ``masks`` (entity_id, frame_index, ``size``,
``counts``: compressed COCO RLE), ``bboxes`` and ``entity_dynamic_states``. Columns past Pixano's base
fields are the attrs. A mask's ``tracklet_id`` is not trusted (Pixano's importer points every mask
at its entity's last tracklet): masks belong to the tracklet whose frames hold them.

Embedded frames are read as embedded bytes; frames kept as uris are not opened (a library may name
any path or URL): those sequences come without pixels, their uris kept. A sequence's name is its
record's ``name`` attr, else the record id when a person chose it, else the folder of its frames'
uris, else the record id. Nothing in a library is trusted: sizes, frame indices and spans are
checked as in a source folder, and a bad row is an error naming its table and record.
"""

from __future__ import annotations

import json
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa

from ..dataset import Dataset
from ..errors import ValidationError
from ..validation import check_frame_size
from .davis import progress_bar
from .extra import is_folder_name
from .pixano import fps_of, recover_index_values
from .pixano_columns import check_columns
from .pixano_ids import looks_derived
from .pixano_load import add_records
from .pixano_records import (
    NEW,
    NO_SPLIT,
    Box,
    Entity,
    Mask,
    Record,
    field_types,
    prepare,
    saved_facts,
    still_null,
    take,
)
from .pixano_schema import pixano_type, short

__all__ = ["read_pixano_library"]

INFO = "info.json"
READ = {"records", "sequence_frames", "entities", "tracklets", "masks", "bboxes", "entity_dynamic_states"}
IGNORED = {"embeddings", "timeseries"}  # derived data, nothing a person annotated
_BASE = {
    "records": {"id", "split", "created_at", "updated_at", "status", "comment"},
    "entities": {"id", "record_id", "parent_id"},
    "entity_dynamic_states": {"id", "record_id", "entity_id", "tracklet_id", "source_type", "source_name"}
    | {"source_metadata", "view_id", "frame_id", "frame_index"},
}
_ANNOTATION = {"id", "record_id", "entity_id", "source_type", "source_name", "source_metadata", "view_id"}
_PER_FRAME = _ANNOTATION | {"tracklet_id", "entity_dynamic_state_id", "frame_id", "frame_index"}
_BASE["masks"] = _PER_FRAME | {"size", "counts"}
_BASE["bboxes"] = _PER_FRAME | {"coords", "format", "is_normalized", "confidence"}
_NEEDED = {
    "records": {"id", "split", "status"},
    "sequence_frames": {"record_id", "frame_index", "uri", "raw_bytes", "width", "height", "timestamp"},
    "entities": {"id", "record_id"},
    "tracklets": {"entity_id", "start_timestep", "end_timestep"},
    "masks": {"entity_id", "frame_index", "size", "counts", "source_type", "source_name"},
    "bboxes": {"entity_id", "frame_index", "coords", "format", "is_normalized", "confidence"},
    "entity_dynamic_states": {"entity_id", "frame_index"},
}
_SLOTS = {"records": "record", "entities": "entity", "entity_dynamic_states": "entity_dynamic_state"}
_SLOTS |= {"masks": "mask", "bboxes": "bbox"}


def read_pixano_library(
    library: str | os.PathLike[str],
    name: str,
    *,
    splits: str | Iterable[str] | None = None,
    dataset: Dataset | None = None,
    progress: bool = True,
) -> Dataset:
    """Import the dataset ``name`` (its name or id) of the Pixano library folder ``library``.

    Record, entity and state attrs become sequence, entity and state custom fields. With
    ``dataset`` everything is added as one undoable step, all or nothing; otherwise a new dataset
    is returned.
    """
    try:
        import lancedb
    except ImportError:
        raise ValidationError(
            "reading a Pixano library needs lancedb: pip install 'vidlabel[pixano]'"
        ) from None
    db_dir = _dataset_folder(Path(library), name) / "db"
    tables = _tables(lancedb.connect(str(db_dir)), db_dir)
    types = {t: _plain_columns(tables.get(t), t, db_dir) for t in _BASE}
    records = _records(tables, db_dir, types)
    if splits is not None:
        wanted = {splits} if isinstance(splits, str) else set(splits)
        records = [r for r in records if r.split in wanted]
    ds = prepare(
        field_types(records, {_SLOTS[t]: dict(d) for t, d in types.items()}, str(db_dir)),
        dataset,
        str(db_dir),
    )
    add_records(
        ds,
        records,
        f"import Pixano library ({len(records)} sequences)",
        lambda recs: progress_bar(recs, "Pixano library", enabled=progress),
    )
    if dataset is None:
        ds.clear_history()
    return ds


def _dataset_folder(library: Path, name: str) -> Path:
    base = library / "library"
    if not base.is_dir():
        raise ValidationError(f"Pixano library {str(library)!r} has no library/ folder (not a library?)")
    if not isinstance(name, str) or not is_folder_name(name):
        raise ValidationError(f"Pixano library: {name!r} is not a dataset name")
    found = []
    for folder in sorted(p for p in base.iterdir() if p.is_dir() and (p / "db").is_dir()):
        info = _info(folder / INFO)
        if name in (folder.name, info.get("name"), info.get("id")):
            return folder
        found.append(folder.name)
    raise ValidationError(
        f"Pixano library {str(library)!r} has no dataset {name!r} (found: {', '.join(found) or 'none'})"
    )


def _info(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > 1 << 24:
            return {}
        info = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return {}
    return info if isinstance(info, dict) else {}


def _tables(db: Any, db_dir: Path) -> dict[str, pa.Table]:
    names = [p.name[: -len(".lance")] for p in db_dir.iterdir() if p.name.endswith(".lance")]
    out: dict[str, pa.Table] = {}
    for table in sorted(names):
        if table in IGNORED:
            continue
        try:
            data = db.open_table(table).to_arrow()
        except Exception as e:  # lance raises its own kinds for a damaged table
            raise ValidationError(f"{db_dir / table}.lance cannot be read: {e}") from None
        if table not in READ:
            if data.num_rows:
                raise ValidationError(
                    f"{db_dir / table}.lance holds {data.num_rows} rows vidlabel does not read "
                    f"(it reads {', '.join(sorted(READ))})"
                )
            continue
        missing = sorted(_NEEDED[table] - set(data.column_names))
        if missing:
            raise ValidationError(f"{db_dir / table}.lance lacks column(s) {', '.join(missing)}")
        check_columns(data, table, Path(f"{db_dir / table}.lance"))
        out[table] = data
    for table in ("records", "sequence_frames"):
        if table not in out:
            raise ValidationError(f"Pixano library dataset {str(db_dir.parent)!r} has no {table} table")
    return out


def _grouped(table: pa.Table | None, key: str, skip: Iterable[str] = ()) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    if table is None:
        return out
    for row in table.drop_columns([c for c in skip if c in table.column_names]).to_pylist():
        out.setdefault(row[key], []).append(row)
    return out


def _attrs(row: Mapping[str, Any], table: str, types: Mapping[str, pa.DataType]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in _BASE[table] and k in types}


def _plain_columns(table: pa.Table | None, name: str, where: Path) -> dict[str, pa.DataType]:
    """The attr columns vidlabel reads (plain types, or lists of them); a warning names the others."""
    if table is None:
        return {}
    out, left = {}, []
    for f in table.schema:
        if f.name in _BASE[name]:
            continue
        inner = f.type.value_type if pa.types.is_list(f.type) else f.type
        if pixano_type(inner) is None:
            left.append(f"{f.name} ({f.type})")
        else:
            out[f.name] = f.type
    if left:
        warnings.warn(f"{where / name}.lance: attr column(s) {', '.join(left)} are not read", stacklevel=4)
    return out


def _records(
    tables: Mapping[str, pa.Table], db_dir: Path, types: Mapping[str, Mapping[str, pa.DataType]]
) -> list[Record]:
    frames = _grouped(tables["sequence_frames"], "record_id", skip=("preview",))
    entities = _grouped(tables.get("entities"), "record_id")
    by_entity = {
        t: _grouped(tables.get(t), "entity_id")
        for t in ("tracklets", "masks", "bboxes", "entity_dynamic_states")
    }
    known = {row["id"] for rows in entities.values() for row in rows}
    for t, groups in (("sequence_frames", frames), ("entities", entities)):
        stray = sorted(set(groups) - set(tables["records"].column("id").to_pylist()))
        if stray:
            raise ValidationError(f"{db_dir / t}.lance: rows of unknown record {stray[0]!r}")
    for t, groups in by_entity.items():
        stray = sorted(set(groups) - known)
        if stray:
            raise ValidationError(f"{db_dir / t}.lance: rows of unknown entity {stray[0]!r}")
    out = []
    for row in tables["records"].to_pylist():
        where = f"{db_dir / 'records'}.lance: record {row['id']!r}"
        rec = _record(row, where, frames.get(row["id"], []), types)
        for ent in entities.get(row["id"], []):
            try:
                rec.entities.append(_entity(ent, by_entity, types, "tracklets" in tables))
            except ValidationError as e:
                raise ValidationError(f"{where}: {e}") from None
        recover_index_values(rec)
        out.append(rec)
    names = Counter(r.name for r in out)
    for rec in out:
        if names[rec.name] > 1:
            rec.seq_id = rec.id  # two records of one name: their ids tell them apart
    return out


def _record(
    row: Mapping[str, Any],
    where: str,
    frames: list[dict[str, Any]],
    types: Mapping[str, Mapping[str, pa.DataType]],
) -> Record:
    attrs = _attrs(row, "records", types["records"])
    saved = saved_facts(attrs, where)
    if not frames:
        raise ValidationError(f"{where}: no sequence_frames rows (vidlabel reads video records)")
    if len({f["logical_name"] for f in frames if "logical_name" in f}) > 1:
        raise ValidationError(f"{where}: frames of several views; vidlabel reads one frame view")
    frames.sort(key=lambda f: f["frame_index"])
    embedded = [bool(f["raw_bytes"]) for f in frames]
    timestamps = [f["timestamp"] for f in frames]
    fps = take(attrs, "fps", saved) if "fps" in attrs else fps_of(timestamps)
    split = None if still_null("split", row["split"], saved, written=NO_SPLIT) else row["split"]
    status = None if still_null("status", row["status"], saved, written=NEW) else row["status"]
    rec = Record(where, row["id"], "", split, status, fps, frame_index=[f["frame_index"] for f in frames])
    rec.saved = saved
    if all(embedded):
        rec.data = [f["raw_bytes"] for f in frames]
    elif any(embedded):
        raise ValidationError(f"{where}: some frames are embedded and some are not")
    else:
        rec.uris = [f["uri"] for f in frames]
        sizes = {(f["width"], f["height"]) for f in frames}
        if len(sizes) != 1:
            raise ValidationError(f"{where}: frames of different sizes {sorted(sizes)[:2]}")
        width, height = next(iter(sizes))
        h, w = check_frame_size(height, width, f"{where}: frame size")
        rec.size = (w, h)
    folder = PurePosixPath(rec.uris[0]).parent.name if rec.uris and rec.uris[0] else ""
    names = [take(attrs, "name", saved), None if looks_derived(row["id"]) else row["id"], folder, row["id"]]
    rec.name = next(n for n in names if n)
    for n in ("name", "fps"):
        attrs.pop(n, None)
    rec.attrs = {n: take(attrs, n, saved) for n in list(attrs)}
    return rec


def _entity(
    row: Mapping[str, Any],
    by_entity: Mapping[str, Mapping[str, list[dict[str, Any]]]],
    types: Mapping[str, Mapping[str, pa.DataType]],
    has_tracklets: bool,
) -> Entity:
    eid = row["id"]
    ent = Entity(id=eid, attrs=_attrs(row, "entities", types["entities"]))
    for m in by_entity["masks"].get(eid, []):
        source = m["source_name"] or m["source_type"] or "import"
        counts = (
            m["counts"].decode("ascii", errors="replace") if isinstance(m["counts"], bytes) else m["counts"]
        )
        ent.masks.append(
            Mask(m["frame_index"], m["size"], counts, source, _attrs(m, "masks", types["masks"]))
        )
    for b in by_entity["bboxes"].get(eid, []):
        coords = b["coords"]
        if not isinstance(coords, list) or len(coords) != 4 or b["format"] not in ("xywh", "xyxy"):
            raise ValidationError(
                f"entity {eid!r}: a box has coords {short(coords)} in format {b['format']!r}"
            )
        x, y, p, q = (float(c) for c in coords)
        xywh = (x, y, p, q) if b["format"] == "xywh" else (x, y, p - x, q - y)
        source = b.get("source_name") or b.get("source_type") or "import"
        attrs = _attrs(b, "bboxes", types["bboxes"])
        ent.boxes.append(
            Box(b["frame_index"], xywh, b["confidence"], source, attrs, bool(b["is_normalized"]))
        )
    spans = [(t["start_timestep"], t["end_timestep"]) for t in by_entity["tracklets"].get(eid, [])]
    if has_tracklets and spans:
        ent.tracklets = spans
    for s in by_entity["entity_dynamic_states"].get(eid, []):
        ent.states.append(
            (s["frame_index"], _attrs(s, "entity_dynamic_states", types["entity_dynamic_states"]))
        )
    return ent
