"""Pixano records as the readers hand them over, what the ``vidlabel`` attr says of them, and the custom
fields they need.

Each reader (io.pixano for source folders and exports, io.pixano_library for libraries) turns what it
reads into :class:`Record` s: a video, its frames, attrs and entities, each entity with its masks,
boxes, tracklets and per-frame states, in Pixano's terms, checked for shape only (io.pixano_load adds
them to a dataset). What Pixano cannot hold travels in a ``vidlabel`` attr, a JSON object, on
records, entities, states, masks and boxes (see io.pixano_export): the original ids, the exact custom
field types, the fields that were null (Pixano columns are never null, so a null is written as its
type's zero), an entity's colour and its tracklets' interpolation switches. Without it (data Pixano
made) every attr is taken as it is; attrs added in Pixano to data vidlabel wrote are read as well.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ..dataset import Dataset
from ..errors import ValidationError
from ..schema import BUILTIN
from .pixano_schema import pixano_type, short

__all__ = [
    "KEY",
    "NEW",
    "NO_SPLIT",
    "RESERVED",
    "TABLES",
    "Box",
    "Entity",
    "Mask",
    "Record",
    "field_types",
    "nulls",
    "prepare",
    "saved_facts",
    "still_null",
    "take",
]

KEY = "vidlabel"  # the attr holding what Pixano has no column for
NO_SPLIT = "default"  # the split folder of a sequence that has none (Pixano's records all have one)
NEW = "new"  # Pixano's status of a record that gives none
TABLES = {"record": "sequences", "entity": "entities", "entity_dynamic_state": "states"}
# Attrs that fill vidlabel's own columns (or Pixano's base fields): never custom fields.
RESERVED = {
    "record": {KEY, "id", "split", "name", "fps", "status", "comment", "created_at", "updated_at"},
    "entity": {KEY, "id", "record_id", "parent_id", "name", "category", "void"},
    "entity_dynamic_state": {KEY, "reviewed"},
    "mask": {KEY, "keyframe", "score"},
    "bbox": {KEY, "keyframe"},
}
_PYTHON_TYPES = {bool: pa.bool_(), int: pa.int64(), float: pa.float64(), str: pa.string()}


@dataclass
class Mask:
    frame: int  # Pixano's frame_index
    size: Any  # [height, width] and compressed COCO RLE counts, or ...
    counts: Any
    source: str
    attrs: dict[str, Any]
    polygons: list[list[float]] | None = None  # ... polygons of (x, y) in [0, 1]


@dataclass
class Box:
    frame: int
    xywh: tuple[float, float, float, float]  # pixels, or fractions of the frame when normalized
    score: float | None
    source: str
    attrs: dict[str, Any]
    normalized: bool = False


@dataclass
class Entity:
    id: str  # Pixano's ("" when the line gives none)
    attrs: dict[str, Any]
    masks: list[Mask] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    tracklets: list[tuple[int, int]] | None = None  # None: none given (tracklets follow the masks)
    states: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    index_value: int | None = None  # the index-PNG value Pixano's importer made it from, if known


@dataclass
class Record:
    where: str  # "path/metadata.jsonl:line", or "table row id": what errors name
    id: str  # Pixano's record id ("" when the line gives none)
    name: str
    split: str | None
    status: str | None
    fps: Any
    frames: list[str] = field(default_factory=list)  # image files, or ...
    data: list[bytes] | None = None  # ... embedded frames, or neither (no pixels: uris and size)
    uris: list[str] = field(default_factory=list)
    size: tuple[int, int] | None = None  # (width, height) of frames without pixels
    frame_index: list[int] | None = None  # Pixano's frame_index of each frame, when given
    masks: list[tuple[list[str], dict[int, str] | None]] = field(default_factory=list)  # index PNGs
    attrs: dict[str, Any] = field(default_factory=dict)  # record attrs left for custom fields
    entities: list[Entity] = field(default_factory=list)
    saved: dict[str, Any] = field(default_factory=dict)  # the record's vidlabel attr
    # entities made from index PNGs, as Pixano's importer makes them: the schema's entity attr defaults,
    # and (with a tracklet slot) one tracklet from the first to the last frame holding the value
    defaults: dict[str, Any] = field(default_factory=dict)
    one_tracklet: bool = False
    seq_id: str | None = None  # the sequence's id (None: its name), unless the vidlabel attr has it


# ---------------------------------------------------------------------- the vidlabel attr
def saved_facts(attrs: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The JSON object of the ``vidlabel`` attr ({} when absent or empty)."""
    raw = attrs.get(KEY)
    if raw in (None, ""):
        return {}
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise ValidationError(f"{where}: attr {KEY!r} is not a JSON object: {short(raw)}")
    nulls = value.get("null", [])
    if not isinstance(nulls, list) or not all(isinstance(n, str) for n in nulls):
        raise ValidationError(f"{where}: {KEY}.null must be a list of field names, got {short(nulls)}")
    return value


def nulls(saved: Mapping[str, Any]) -> set[str]:
    return set(saved.get("null", ()))


def still_null(name: str, value: Any, saved: Mapping[str, Any], written: Any = None) -> bool:
    """Whether field ``name``, listed null in the vidlabel attr, still holds what the export wrote in
    its place (its type's zero, or ``written``): an edit made in Pixano since then is a value."""
    if name not in nulls(saved):
        return False
    zero = value is None or (isinstance(value, (str, int, float)) and not value)  # "", 0, 0.0, False
    return zero or (written is not None and value == written)


def take(
    attrs: dict[str, Any], name: str, saved: Mapping[str, Any], default: Any = None, written: Any = None
) -> Any:
    """Pop attr ``name`` (``default`` when absent): None while it still holds the zero (or ``written``)
    that stood for a null at export, see :func:`still_null`."""
    value = attrs.pop(name, default)
    return None if still_null(name, value, saved, written) else value


# ---------------------------------------------------------------------- custom fields
def _infer(values: Iterable[tuple[str, str, Any]]) -> dict[str, pa.DataType]:
    """Arrow types of undeclared attrs from their values (int and float mix to float)."""
    seen: dict[str, dict[pa.DataType, str]] = {}  # name -> {type: where first seen}
    for where, name, value in values:
        kinds = seen.setdefault(name, {})
        if value is None:
            continue
        typ = _PYTHON_TYPES.get(type(value))
        if typ is None:
            raise ValidationError(
                f"{where}: attr {name} = {short(value)}: only strings, booleans, integers and floats are read"
            )
        kinds.setdefault(typ, where)
    out = {}
    for name, kinds in seen.items():
        if set(kinds) == {pa.int64(), pa.float64()}:
            kinds = {pa.float64(): kinds[pa.float64()]}
        if len(kinds) > 1:
            places = "; ".join(f"{t} at {w}" for t, w in kinds.items())
            raise ValidationError(f"Pixano attr {name} holds values of mixed types ({places})")
        out[name] = next(iter(kinds)) if kinds else pa.string()
    return out


def _saved_types(records: Sequence[Record]) -> tuple[dict[str, dict[str, pa.DataType]], dict[str, str]]:
    """The exact field types vidlabel exports recorded ({table: {name: type}}, merged over every record
    that has them: lines of two exports may be read together) and where each was first declared."""
    out: dict[str, dict[str, pa.DataType]] = {t: {} for t in TABLES.values()}
    origin: dict[str, str] = {}
    for rec in records:
        fields = rec.saved.get("fields")
        if fields is None:
            continue
        try:
            decl = {
                t: {str(n): pa.type_for_alias(a) for n, a in dict(fields.get(t) or {}).items()} for t in out
            }
        except (AttributeError, TypeError, ValueError, KeyError):
            raise ValidationError(f"{rec.where}: {KEY}.fields is not {{table: {{name: type}}}}") from None
        bad = [f"{n} ({t})" for d in decl.values() for n, t in d.items() if pixano_type(t) is None]
        if bad:
            raise ValidationError(f"{rec.where}: {KEY}.fields declares types vidlabel does not carry: {bad}")
        for table, d in decl.items():
            for n, t in d.items():
                if out[table].setdefault(n, t) != t:
                    raise ValidationError(
                        f"{rec.where}: {KEY}.fields: {table} field {n} is {t} here but "
                        f"{out[table][n]} at {origin[f'{table}.{n}']}"
                    )
                origin.setdefault(f"{table}.{n}", rec.where)
    return out, origin


def field_types(
    records: Sequence[Record], declared: Mapping[str, Mapping[str, pa.DataType]], declared_at: str
) -> dict[str, dict[str, pa.DataType]]:
    """{table: {field: type}} of the custom fields the records need: the exact types vidlabel exports
    recorded for their fields; for any other attr (one added in Pixano, or data Pixano made), the
    schema's ``declared`` type ({slot: {name: type}}, from ``declared_at``), else one inferred from
    the values."""
    saved, origin = _saved_types(records)
    out: dict[str, dict[str, pa.DataType]] = {}
    for slot, table in TABLES.items():
        known = {n: t for n, t in (declared.get(slot) or {}).items() if n not in RESERVED[slot]}
        known.update(saved[table])
        values: list[tuple[str, str, Any]] = []
        for rec in records:
            rows = [rec.attrs] if slot == "record" else []
            for ent in rec.entities if slot != "record" else ():
                rows += [ent.attrs] if slot == "entity" else [a for _, a in ent.states]
            values += [
                (rec.where, n, v)
                for a in rows
                for n, v in a.items()
                if n not in known and n not in RESERVED[slot]
            ]
        out[table] = {**known, **_infer(values)}
        clash = sorted(set(out[table]) & {f.name for f in BUILTIN[table]})
        if clash:
            name = clash[0]
            at = origin.get(f"{table}.{name}")
            if at is not None:
                at = f"{at}: {KEY}.fields"
            elif name in (declared.get(slot) or {}):
                at = declared_at
            else:
                at = next(w for w, n, _ in values if n == name)
            raise ValidationError(
                f"{at}: Pixano {slot} attrs {', '.join(clash)} clash with vidlabel's built-in columns"
            )
    return out


def prepare(fields: Mapping[str, Mapping[str, pa.DataType]], dataset: Dataset | None, where: str) -> Dataset:
    """A new dataset declaring ``fields``, or ``dataset`` once it is seen to declare them."""
    if dataset is None:
        return Dataset(
            sequence_fields=dict(fields["sequences"]),
            entity_fields=dict(fields["entities"]),
            state_fields=dict(fields["states"]),
        )
    for table, decl in fields.items():
        have = {f.name: f.type for f in dataset.custom_fields[table]}
        bad = sorted(n for n, t in decl.items() if n not in have or not _fits(t, have[n]))
        if bad:
            raise ValidationError(
                f"{where}: Pixano {table} attrs {', '.join(bad)} are not declared as {table} fields of "
                f"the dataset (declared: {', '.join(sorted(have)) or 'none'})"
            )
    return dataset


def _fits(found: pa.DataType, declared: pa.DataType) -> bool:
    """Whether values read as ``found`` go into a field of type ``declared`` (ints into floats too)."""
    if found == declared:
        return True
    kinds = (pixano_type(found), pixano_type(declared))
    return kinds[0] is not None and (kinds[0] == kinds[1] or kinds == ("int", "float"))
