"""The columns of a Pixano library's tables that vidlabel reads: their types, and where nulls may be.

Pixano writes every column non-null, but a library is a folder anyone can write, so each table is
checked once, column by column (``pyarrow.compute``), before any row is turned into Python values:
a null frame_index or a string where a number belongs is then an error naming the table, the row
and its record, not a TypeError deep in the reader.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ValidationError

__all__ = ["COLUMNS", "check_columns"]

Check = Callable[[pa.DataType], bool]


def _lists(inner: Check) -> Check:
    def check(t: pa.DataType) -> bool:
        listed = pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)
        return listed and inner(t.value_type)

    return check


def _text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def _number(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t))


def _data(t: pa.DataType) -> bool:
    return bool(pa.types.is_binary(t) or pa.types.is_large_binary(t) or _text(t))


_INT, _BOOL = pa.types.is_integer, pa.types.is_boolean
# table -> {column: (what its type must be, what it is called in errors, whether it may be null)}
COLUMNS: dict[str, dict[str, tuple[Check, str, bool]]] = {
    "records": {"id": (_text, "strings", False), "split": (_text, "strings", True)}
    | {"status": (_text, "strings", True)},
    "sequence_frames": {
        "record_id": (_text, "strings", False),
        "frame_index": (_INT, "integers", False),
        "uri": (_text, "strings", False),
        "raw_bytes": (_data, "bytes", True),
        "width": (_INT, "integers", False),
        "height": (_INT, "integers", False),
        "timestamp": (_number, "numbers", True),
    },
    "entities": {"id": (_text, "strings", False), "record_id": (_text, "strings", False)},
    "tracklets": {
        "entity_id": (_text, "strings", False),
        "start_timestep": (_INT, "integers", False),
        "end_timestep": (_INT, "integers", False),
    },
    "masks": {
        "entity_id": (_text, "strings", False),
        "frame_index": (_INT, "integers", False),
        "size": (_lists(_INT), "lists of integers", False),
        "counts": (_data, "bytes", False),
        "source_type": (_text, "strings", True),
        "source_name": (_text, "strings", True),
    },
    "bboxes": {
        "entity_id": (_text, "strings", False),
        "frame_index": (_INT, "integers", False),
        "coords": (_lists(_number), "lists of numbers", False),
        "format": (_text, "strings", False),
        "is_normalized": (_BOOL, "booleans", False),
        "confidence": (_number, "numbers", True),
    },
    "entity_dynamic_states": {
        "entity_id": (_text, "strings", False),
        "frame_index": (_INT, "integers", False),
    },
}


def _row(data: pa.Table, index: int) -> str:
    """Row ``index`` as errors name it: its number and the record (or entity) it belongs to."""
    for key in ("record_id", "entity_id", "id"):
        if key in data.column_names:
            return f"row {index} ({key} {data.column(key)[index].as_py()!r})"
    return f"row {index}"


def check_columns(data: pa.Table, table: str, where: Path) -> None:
    """Refuse a table whose read columns have other types, or nulls where Pixano writes none."""
    for name, (ok, kind, nullable) in COLUMNS[table].items():
        column = data.column(name)
        if pa.types.is_null(column.type) and (nullable or not len(column)):
            continue  # a column of nulls only (or of no rows): no type to check
        if not ok(column.type) and not pa.types.is_null(column.type):
            raise ValidationError(f"{where}: column {name} holds {column.type}, not {kind}")
        if not nullable and column.null_count:
            first = pc.index(pc.is_null(column), True).as_py()
            raise ValidationError(f"{where}: {_row(data, first)}: {name} is null")
        if not pa.types.is_null(column.type) and pa.types.is_nested(column.type):
            values = pc.list_flatten(column)
            if values.null_count:
                parents = pc.list_parent_indices(column)
                first = parents[pc.index(pc.is_null(values), True).as_py()].as_py()
                raise ValidationError(f"{where}: {_row(data, first)}: {name} holds a null")
