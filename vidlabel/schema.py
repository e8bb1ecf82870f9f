"""Arrow schemas of the dataset's tables, the schema version, and custom fields.

Built-in columns are fixed here; custom fields (declared once per dataset for
sequences, entities and states) are appended after them and validated on every edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from .errors import ValidationError

SCHEMA_VERSION = 4  # 2: entities.color; 3: tracklets.interpolate; 4: states.reviewed
METADATA_VERSION = b"vidlabel.schema_version"
METADATA_TABLE = b"vidlabel.table"
METADATA_CUSTOM = b"vidlabel.custom_fields"

TABLES = ("sequences", "frames", "entities", "tracklets", "masks", "boxes", "states")

_KEY = [
    pa.field("sequence_id", pa.string(), nullable=False),
    pa.field("frame_index", pa.int32(), nullable=False),
    pa.field("entity_id", pa.string(), nullable=False),
]

BUILTIN: dict[str, list[pa.Field]] = {
    "sequences": [
        pa.field("id", pa.string(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("split", pa.string()),
        pa.field("status", pa.string()),
        pa.field("fps", pa.float64()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("num_frames", pa.int32()),
        pa.field("source_uri", pa.string()),
        pa.field("source_kind", pa.string()),
    ],
    "frames": [
        pa.field("sequence_id", pa.string(), nullable=False),
        pa.field("frame_index", pa.int32(), nullable=False),
        pa.field("timestamp", pa.float64()),
        pa.field("uri", pa.string()),
    ],
    "entities": [
        pa.field("id", pa.string(), nullable=False),
        pa.field("sequence_id", pa.string(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("category", pa.string()),
        pa.field("void", pa.bool_()),  # DAVIS 255 pixels: excluded from evaluation, not an object
        pa.field("color", pa.string()),  # "#rrggbb" chosen by a person; null: the palette colour of its index
    ],
    "tracklets": [
        pa.field("id", pa.string(), nullable=False),
        pa.field("sequence_id", pa.string(), nullable=False),
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("start_frame", pa.int32()),
        pa.field("end_frame", pa.int32()),
        pa.field("start_timestamp", pa.float64()),
        pa.field("end_timestamp", pa.float64()),
        pa.field("interpolate", pa.bool_()),  # boxes between keyframes interpolated; null (older files): on
    ],
    "masks": [
        *_KEY,
        pa.field("tracklet_id", pa.string()),
        pa.field("height", pa.int32()),
        pa.field("width", pa.int32()),
        pa.field("counts", pa.binary()),  # COCO compressed RLE, column-major, as pycocotools writes it
        pa.field("source", pa.string()),
        pa.field("score", pa.float32()),
        pa.field("keyframe", pa.bool_()),
    ],
    "boxes": [
        *_KEY,
        pa.field("tracklet_id", pa.string()),
        pa.field("x", pa.float32()),
        pa.field("y", pa.float32()),
        pa.field("w", pa.float32()),
        pa.field("h", pa.float32()),
        pa.field("source", pa.string()),
        pa.field("score", pa.float32()),
        pa.field("keyframe", pa.bool_()),
    ],
    "states": [
        *_KEY,
        pa.field("tracklet_id", pa.string()),
        pa.field("reviewed", pa.bool_()),  # a person accepted this (frame, entity); null: not reviewed
        # what was accepted: a 64-bit digest of the mask's RLE counts then (null: no mask); a mark holds while
        # the mask is still that one, whatever changed it since (an undo, an erase, an import)
        pa.field("reviewed_mask", pa.int64()),
    ],
}

# Built-in columns newer than version 1, with the version that added them (older files read as null).
ADDED_IN: dict[tuple[str, str], int] = {
    ("entities", "color"): 2,
    ("tracklets", "interpolate"): 3,
    ("states", "reviewed"): 4,
    ("states", "reviewed_mask"): 4,
}


def upgrade_row(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """A row written before some built-in columns existed (a project's older journal or undo
    history), with those columns added as null; rows lacking any other column are left as they are."""
    missing = [f.name for f in BUILTIN.get(table, ()) if f.name not in row]
    if not missing or any((table, name) not in ADDED_IN for name in missing):
        return row
    return {**row, **dict.fromkeys(missing)}


KEYS: dict[str, tuple[str, ...]] = {
    "sequences": ("id",),
    "frames": ("sequence_id", "frame_index"),
    "entities": ("id",),
    "tracklets": ("id",),
    "masks": ("sequence_id", "frame_index", "entity_id"),
    "boxes": ("sequence_id", "frame_index", "entity_id"),
    "states": ("sequence_id", "frame_index", "entity_id"),
}

CUSTOMIZABLE = {"sequences", "entities", "states"}

# Columns an export with embedded frames adds to the frames table (the encoded image and its type).
FRAME_PAYLOAD = [pa.field("data", pa.binary()), pa.field("mime", pa.string())]

# Bounds on what a file may declare, so that a small hostile file cannot make the first decode of a
# frame or mask allocate gigabytes: 16384 pixels a side, 2**26 pixels (64 MiB as a bool mask) a frame.
MAX_SIDE = 16384
MAX_PIXELS = 2**26
MAX_FRAMES = 2**24  # a week of video at 25 fps


def size_problem(height: int, width: int) -> str | None:
    """Why a frame or mask of ``height`` x ``width`` pixels is refused, or None when it is fine."""
    if height <= 0 or width <= 0:
        return f"size {height}x{width} (height x width) is not positive"
    if height > MAX_SIDE or width > MAX_SIDE or height * width > MAX_PIXELS:
        return (
            f"size {height}x{width} (height x width) is over the bound of {MAX_SIDE} pixels a side "
            f"and {MAX_PIXELS} pixels in all"
        )
    return None


def normalize_fields(table: str, fields: Mapping[str, Any] | list[pa.Field] | None) -> list[pa.Field]:
    """Turn a user's custom-field declaration into Arrow fields, refusing clashes with built-ins.

    A built-in column may be declared again with its own type (``category: pa.string()``
    on entities); it is then not added twice.
    """
    if not fields:
        return []
    items = [(f.name, f.type) for f in fields] if isinstance(fields, list) else list(fields.items())
    builtin = {f.name: f for f in BUILTIN[table]}
    out: list[pa.Field] = []
    seen: set[str] = set()
    for name, typ in items:
        if not isinstance(name, str) or not name:
            raise ValidationError(f"{table}: custom field names must be non-empty strings, got {name!r}")
        if not isinstance(typ, pa.DataType):
            raise ValidationError(
                f"{table}.{name}: a custom field's type must be a pyarrow DataType, got {typ!r}"
            )
        if name in seen:
            raise ValidationError(f"{table}.{name}: custom field declared twice")
        seen.add(name)
        if name in builtin:
            if builtin[name].type != typ:
                raise ValidationError(
                    f"{table}.{name}: is a built-in column of type {builtin[name].type}, "
                    f"cannot redeclare as {typ}"
                )
            continue
        if table != "sequences" and name in ("sequence_id", "frame_index", "entity_id"):
            raise ValidationError(f"{table}.{name}: reserved column name")
        out.append(pa.field(name, typ))
    return out


def table_schema(table: str, custom: list[pa.Field] | None = None) -> pa.Schema:
    return pa.schema([*BUILTIN[table], *(custom or [])])


def coerce_value(table: str, field: pa.Field, value: Any) -> Any:
    """Check ``value`` against a field's Arrow type and return it as a plain Python value.

    Strict about kinds (a string is not a float, a bool is not an int) so that a typo in
    a cell is caught at the edit, not at export time.
    """
    if value is None:
        return None
    t = field.type
    where = f"{table}.{field.name}"
    is_bool = isinstance(value, (bool, np.bool_))
    if pa.types.is_boolean(t):
        ok = is_bool
    elif pa.types.is_integer(t):
        ok = not is_bool and isinstance(value, (int, np.integer))
    elif pa.types.is_floating(t):
        ok = not is_bool and isinstance(value, (int, float, np.integer, np.floating))
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        ok = isinstance(value, str)
    else:
        ok = True  # lists, structs, timestamps: left to Arrow's own conversion below
    if not ok:
        raise ValidationError(f"{where}: expected a value of type {t}, got {type(value).__name__} {value!r}")
    try:
        out = pa.scalar(value, type=t).as_py()
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError) as exc:
        raise ValidationError(f"{where}: {value!r} is not a valid {t}: {exc}") from None
    return out
