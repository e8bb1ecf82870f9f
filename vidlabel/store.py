"""A keyed Arrow table that takes single-row edits without copying the table.

The compacted rows live in an immutable ``pyarrow.Table`` (the base); edits go to a
delta dict (key -> row, or None for a deletion) and are folded into a new base only
when a whole table is asked for. Secondary indexes map a projection of a row (e.g.
``(sequence_id, frame_index)``) to the keys having it, so per-frame and per-entity
queries never scan the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from .errors import ValidationError

Key = tuple[Any, ...]
Row = dict[str, Any]


class KeyedTable:
    def __init__(
        self, schema: pa.Schema, key: tuple[str, ...], indexes: dict[str, tuple[str, ...]] | None = None
    ):
        self.schema = schema
        self.key = key
        self._indexes_spec = dict(indexes or {})
        self._base = schema.empty_table()
        self._base_pos: dict[Key, int] = {}
        self._delta: dict[Key, Row | None] = {}
        self._live = 0
        self._indexes: dict[str, dict[Key, set[Key]]] = {name: {} for name in self._indexes_spec}

    # ---- reads -------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._live

    def __contains__(self, key: Key) -> bool:
        if key in self._delta:
            return self._delta[key] is not None
        return key in self._base_pos

    def get(self, key: Key) -> Row | None:
        if key in self._delta:
            row = self._delta[key]
            return None if row is None else dict(row)
        pos = self._base_pos.get(key)
        if pos is None:
            return None
        return {name: col[pos].as_py() for name, col in zip(self.schema.names, self._base.columns)}

    def value(self, key: Key, column: str) -> Any:
        """One cell, without materialising the whole row (hot path: mask counts)."""
        if key in self._delta:
            row = self._delta[key]
            return None if row is None else row[column]
        pos = self._base_pos.get(key)
        if pos is None:
            return None
        return self._base.column(column)[pos].as_py()

    def values(self, key: Key, columns: tuple[str, ...]) -> tuple[Any, ...] | None:
        """Some cells of a row as a tuple, or None if the row does not exist (hot path: serving masks)."""
        if key in self._delta:
            row = self._delta[key]
            return None if row is None else tuple(row[c] for c in columns)
        pos = self._base_pos.get(key)
        if pos is None:
            return None
        return tuple(self._base.column(c)[pos].as_py() for c in columns)

    def lookup(self, index: str, value: Key) -> set[Key]:
        """Keys whose row projects to ``value`` in the named index (a copy: safe to edit while iterating)."""
        return set(self._indexes[index].get(value, ()))

    def index_values(self, index: str) -> Iterable[Key]:
        return self._indexes[index].keys()

    def __iter__(self) -> Iterator[Key]:
        return self.keys()

    def keys(self) -> Iterator[Key]:
        for key in self._base_pos:
            if key not in self._delta:
                yield key
        for key, row in self._delta.items():
            if row is not None:
                yield key

    # ---- writes ------------------------------------------------------------------------
    def put(self, key: Key, row: Row | None) -> Row | None:
        """Set (or delete, with None) the row at ``key``; returns the previous row."""
        old = self.get(key)
        if old is None and row is None:
            return None
        if row is not None:
            row = dict(row)
        self._delta[key] = row
        # A delete of a row that only ever lived in the delta needs no tombstone.
        if row is None and key not in self._base_pos:
            del self._delta[key]
        self._live += (row is not None) - (old is not None)
        for name, cols in self._indexes_spec.items():
            if old is not None:
                self._unindex(name, tuple(old[c] for c in cols), key)
            if row is not None:
                self._indexes[name].setdefault(tuple(row[c] for c in cols), set()).add(key)
        return old

    def _unindex(self, name: str, value: Key, key: Key) -> None:
        bucket = self._indexes[name].get(value)
        if bucket is not None:
            bucket.discard(key)
            if not bucket:
                del self._indexes[name][value]

    def load(self, table: pa.Table) -> None:
        """Replace everything with ``table`` (bulk import, parquet load): no per-row edits."""
        table = table.select(self.schema.names).cast(self.schema)
        self._delta = {}
        self._set_base(table)
        if len(self._base_pos) != table.num_rows:
            self._set_base(self.schema.empty_table())
            raise ValidationError(f"duplicate keys {self.key} in a table being loaded")

    # ---- whole table -------------------------------------------------------------------
    def table(self) -> pa.Table:
        """The table, compacted and sorted by key (a canonical order: equal data, equal tables)."""
        if self._delta:
            keep = np.ones(self._base.num_rows, dtype=bool)
            for key in self._delta:
                pos = self._base_pos.get(key)
                if pos is not None:
                    keep[pos] = False
            rows = [r for r in self._delta.values() if r is not None]
            added = pa.Table.from_pydict(
                {name: [r[name] for r in rows] for name in self.schema.names}, schema=self.schema
            )
            merged = pa.concat_tables([self._base.filter(pa.array(keep)), added])
            self._delta = {}
            self._set_base(merged)
        return self._base

    def _set_base(self, table: pa.Table) -> None:
        if table.num_rows:
            table = table.sort_by([(k, "ascending") for k in self.key])
        self._base = table.combine_chunks()
        key_cols = [self._base.column(k).to_pylist() for k in self.key]
        self._base_pos = {k: i for i, k in enumerate(zip(*key_cols))} if key_cols else {}
        self._live = len(self._base_pos)
        self._indexes = {name: {} for name in self._indexes_spec}
        for name, cols in self._indexes_spec.items():
            idx = self._indexes[name]
            proj = zip(*[self._base.column(c).to_pylist() for c in cols])
            for key, value in zip(self._base_pos, proj):
                idx.setdefault(value, set()).add(key)
