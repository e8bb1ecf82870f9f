"""The versioned store: the dataset's state as a succession of immutable versions.

A version holds one :class:`TableVersion` per keyed table plus two small maps (frame lists and
frame sources). A writer builds the next version in a :class:`Draft`, and the dataset publishes
it with one reference swap; a reader takes the current version once and answers from it, so it
never sees half an edit and needs no lock.

A ``TableVersion`` is a compacted, immutable ``pyarrow.Table`` (the base) plus a persistent
delta (a HAMT from the ``immutables`` package: key -> row, or None for a deleted base row) and
persistent secondary indexes (projection -> set of keys). A put shares everything but the
O(log n) path it changes, so one edit on a 100,000-mask table costs microseconds. Compaction
(folding the delta into a new base) is memoised on the version that asked for it: it builds a
new object and never changes what a reader holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import immutables
import numpy as np
import pyarrow as pa

from .errors import ValidationError

Key = tuple[Any, ...]
Row = dict[str, Any]
Op = tuple[str, Key, Any, Any]  # (store, key, before, after)

_EMPTY: immutables.Map = immutables.Map()
COMPACT_AT = 4096  # rows in a delta before it may be folded into the base


class TableVersion:
    """One immutable version of a keyed Arrow table (see the module docstring)."""

    __slots__ = (
        "_base",
        "_cells",
        "_compacted",
        "_delta",
        "_f32",
        "_idx",
        "_live",
        "_pos",
        "key",
        "schema",
        "spec",
    )

    def __init__(
        self,
        schema: pa.Schema,
        key: tuple[str, ...],
        spec: Mapping[str, tuple[str, ...]],
        base: pa.Table,
        pos: dict[Key, int],
        delta: immutables.Map,
        idx: Mapping[str, immutables.Map],
        live: int,
        f32: tuple[str, ...] | None = None,
        cells: Cells | None = None,
    ) -> None:
        self.schema = schema
        self.key = key
        self.spec = spec
        self._base = base
        self._pos = pos  # never mutated once built: shared by every version on this base
        self._delta = delta
        self._idx = idx
        self._live = live
        self._f32 = f32 if f32 is not None else tuple(f.name for f in schema if pa.types.is_float32(f.type))
        self._compacted: TableVersion | None = None
        self._cells = cells if cells is not None else Cells(base)  # shared by every version on this base

    @classmethod
    def empty(
        cls, schema: pa.Schema, key: tuple[str, ...], spec: Mapping[str, tuple[str, ...]]
    ) -> TableVersion:
        return cls(schema, key, dict(spec), schema.empty_table(), {}, _EMPTY, {n: _EMPTY for n in spec}, 0)

    @classmethod
    def from_table(
        cls, schema: pa.Schema, key: tuple[str, ...], spec: Mapping[str, tuple[str, ...]], table: pa.Table
    ) -> TableVersion:
        """A version holding ``table`` (bulk load: no per-row edits). Duplicate keys are refused."""
        table = table.select(schema.names).cast(schema)
        if table.num_rows:
            table = table.sort_by([(k, "ascending") for k in key])
        table = table.combine_chunks()
        keys = list(zip(*[table.column(k).to_pylist() for k in key]))
        pos = {k: i for i, k in enumerate(keys)}
        if len(pos) != len(keys):
            raise ValidationError(f"duplicate keys {key} in a table being loaded")
        idx: dict[str, immutables.Map] = {}
        for name, cols in spec.items():
            buckets: dict[Key, dict[Key, None]] = {}
            for k, value in zip(keys, zip(*[table.column(c).to_pylist() for c in cols])):
                buckets.setdefault(value, {})[k] = None
            idx[name] = immutables.Map({v: immutables.Map(b) for v, b in buckets.items()})
        return cls(schema, key, dict(spec), table, pos, _EMPTY, idx, len(pos))

    # ---- reads -------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._live

    def __contains__(self, key: Key) -> bool:
        row = self._delta.get(key, self)
        if row is not self:
            return row is not None
        return key in self._pos

    def get(self, key: Key) -> Row | None:
        row = self._delta.get(key, self)
        if row is not self:
            return None if row is None else dict(row)
        pos = self._pos.get(key)
        if pos is None:
            return None
        cells = self._cells
        return {name: cells.get(name)(pos) for name in self.schema.names}

    def value(self, key: Key, column: str) -> Any:
        """One cell, without materialising the whole row (hot path: mask counts)."""
        row = self._delta.get(key, self)
        if row is not self:
            return None if row is None else row[column]
        pos = self._pos.get(key)
        if pos is None:
            return None
        return self._cells.get(column)(pos)

    def values(self, key: Key, columns: tuple[str, ...]) -> tuple[Any, ...] | None:
        """Some cells of a row as a tuple, or None if the row does not exist."""
        row = self._delta.get(key, self)
        if row is not self:
            return None if row is None else tuple(row[c] for c in columns)
        pos = self._pos.get(key)
        if pos is None:
            return None
        cells = self._cells
        return tuple(cells.get(c)(pos) for c in columns)

    def values_many(self, keys: Iterable[Key], columns: tuple[str, ...]) -> list[tuple[Any, ...] | None]:
        """``values`` of many rows, the column readers fetched once (hot path: a frames reply)."""
        delta, pos_of, me = self._delta, self._pos, self
        readers = [self._cells.get(c) for c in columns]
        out: list[tuple[Any, ...] | None] = []
        for key in keys:
            row = delta.get(key, me)
            if row is not me:
                out.append(None if row is None else tuple(row[c] for c in columns))
                continue
            pos = pos_of.get(key)
            out.append(None if pos is None else tuple(r(pos) for r in readers))
        return out

    def lookup(self, index: str, value: Key) -> set[Key]:
        """Keys whose row projects to ``value`` in the named index (a new set)."""
        return set(self._idx[index].get(value, _EMPTY))

    def count(self, index: str, value: Key) -> int:
        return len(self._idx[index].get(value, _EMPTY))

    def index_values(self, index: str) -> Iterable[Key]:
        return self._idx[index].keys()

    def __iter__(self) -> Iterator[Key]:
        return self.keys()

    def keys(self) -> Iterator[Key]:
        delta = self._delta
        for key in self._pos:
            if key not in delta:
                yield key
        for key, row in delta.items():
            if row is not None:
                yield key

    # ---- the next version ----------------------------------------------------------------
    def canonical(self, row: Row) -> Row:
        """The row as a read would give it back: float32 columns rounded to float32."""
        out = dict(row)
        for name in self._f32:
            v = out.get(name)
            if v is not None:
                out[name] = float(np.float32(v))
        return out

    def put(self, key: Key, row: Row | None) -> tuple[TableVersion, Row | None, Row | None]:
        """The version with ``key`` set to ``row`` (deleted with None), the previous row, the stored row."""
        src = self._compacted or self
        old = src.get(key)
        if old is None and row is None:
            return src, None, None
        if row is not None:
            row = src.canonical(row)
        # a row that only ever lived in the delta needs no tombstone
        delta = src._delta.delete(key) if row is None and key not in src._pos else src._delta.set(key, row)
        idx = src._idx
        if src.spec:
            idx = dict(idx)
            for name, cols in src.spec.items():
                before = None if old is None else tuple(old[c] for c in cols)
                after = None if row is None else tuple(row[c] for c in cols)
                if before == after:
                    continue
                tree = idx[name]
                if before is not None:
                    bucket = tree[before].delete(key)
                    tree = tree.set(before, bucket) if bucket else tree.delete(before)
                if after is not None:
                    tree = tree.set(after, tree.get(after, _EMPTY).set(key, None))
                idx[name] = tree
        live = src._live + (row is not None) - (old is not None)
        new = TableVersion(
            src.schema, src.key, src.spec, src._base, src._pos, delta, idx, live, src._f32, src._cells
        )
        return new, old, row

    # ---- whole table -------------------------------------------------------------------
    def compacted(self) -> TableVersion:
        """The same rows with an empty delta (memoised; readers of this version are not disturbed)."""
        done = self._compacted
        if done is not None:
            return done
        if not self._delta:
            self._compacted = self
            return self
        keep = np.ones(self._base.num_rows, dtype=bool)
        rows = []
        for key, row in self._delta.items():
            pos = self._pos.get(key)
            if pos is not None:
                keep[pos] = False
            if row is not None:
                rows.append(row)
        added = pa.Table.from_pydict(
            {name: [r.get(name) for r in rows] for name in self.schema.names}, schema=self.schema
        )
        merged = pa.concat_tables([self._base.filter(pa.array(keep)), added])
        if merged.num_rows:
            merged = merged.sort_by([(k, "ascending") for k in self.key])
        merged = merged.combine_chunks()
        keys = zip(*[merged.column(k).to_pylist() for k in self.key])
        positions = {k: i for i, k in enumerate(keys)}
        done = TableVersion(
            self.schema, self.key, self.spec, merged, positions, _EMPTY, self._idx, self._live
        )
        done._compacted = done
        self._compacted = done
        return done

    def table(self) -> pa.Table:
        """The table, compacted and sorted by key (a canonical order: equal data, equal tables)."""
        return self.compacted()._base

    @property
    def delta_size(self) -> int:
        return len(self._delta)


class Cells:
    """Cell reads from a compacted base without Arrow's per-scalar cost: each column, on first use,
    becomes numpy views of its buffers (offsets and data for bytes and strings, values for numbers)."""

    __slots__ = ("_get", "_table")

    def __init__(self, table: pa.Table) -> None:
        self._table = table
        self._get: dict[str, Callable[[int], Any]] = {}

    def get(self, name: str) -> Callable[[int], Any]:
        g = self._get.get(name)
        if g is None:  # two threads may build it at once: the same function either way
            g = self._get[name] = _cell_reader(self._table.column(name))
        return g


def _cell_reader(column: pa.ChunkedArray) -> Callable[[int], Any]:
    arr = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    t = arr.type
    # Python lists: indexing one is ~5x cheaper than a numpy scalar and ~20x than an Arrow scalar
    valid = arr.is_valid().to_pylist() if arr.null_count else None
    if pa.types.is_binary(t) or pa.types.is_string(t):
        bufs = arr.buffers()
        offsets = np.frombuffer(bufs[1], dtype=np.int32)[arr.offset : arr.offset + len(arr) + 1].tolist()
        data = memoryview(bufs[2]) if bufs[2] is not None else memoryview(b"")
        text = pa.types.is_string(t)

        def binary(i: int) -> Any:
            if valid is not None and not valid[i]:
                return None
            raw = bytes(data[offsets[i] : offsets[i + 1]])
            return raw.decode() if text else raw

        return binary
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        values = arr.to_pylist()  # nulls are None already
        return values.__getitem__
    return lambda i: arr[i].as_py()  # lists, structs, timestamps: Arrow's own conversion


class MapVersion:
    """An immutable key -> value map with the put/get interface of a table (frame lists, sources)."""

    __slots__ = ("_map",)

    def __init__(self, m: immutables.Map = _EMPTY) -> None:
        self._map = m

    def get(self, key: Key) -> Any:
        return self._map.get(key)

    def __contains__(self, key: Key) -> bool:
        return key in self._map

    def put(self, key: Key, value: Any) -> tuple[MapVersion, Any, Any]:
        old = self._map.get(key)
        if value is None:
            return (MapVersion(self._map.delete(key)) if key in self._map else self), old, None
        return MapVersion(self._map.set(key, value)), old, value

    def items(self) -> Iterator[tuple[Key, Any]]:
        return iter(self._map.items())


Store = TableVersion | MapVersion


class Snapshot:
    """A consistent, read-only view of the dataset's tables at one version.

    This is the narrow interface that the dataset's collaborators (exporters, the widget, engines)
    read through: ``snap.get("masks", key)``, ``snap.keys("masks", "by_frame", (seq, f))``, ... As
    a context manager it pins the version for the current thread, so that every ``Dataset`` read
    inside the block answers from it (an export sees one state while a propagation writes).
    """

    def __init__(self, stores: Mapping[str, Any], number: int, pin: Any = None) -> None:
        self._stores = stores
        self.number = number  # the version's serial number: 0, 1, 2, ... per published edit
        self._pin = pin

    def store(self, name: str) -> Any:
        s = self._stores[name]
        # the same rows, compacted if someone asked for this version's table: reads from the base's
        # positions are O(1), from a large delta they walk a deep tree
        return getattr(s, "_compacted", None) or s

    def __getitem__(self, name: str) -> Any:
        return self.store(name)

    def get(self, table: str, key: Key) -> Any:
        return self.store(table).get(key)

    def value(self, table: str, key: Key, column: str) -> Any:
        return self.store(table).value(key, column)

    def values(self, table: str, key: Key, columns: tuple[str, ...]) -> tuple[Any, ...] | None:
        return self.store(table).values(key, columns)

    def keys(self, table: str, index: str, value: Key) -> set[Key]:
        return self.store(table).lookup(index, value)

    def contains(self, table: str, key: Key) -> bool:
        return key in self.store(table)

    def count(self, table: str) -> int:
        return len(self._stores[table])

    def table(self, name: str) -> pa.Table:
        return self._stores[name].table()

    def frame_info(self, seq: str) -> Any:
        return self._stores["frames"].get((seq,))

    def source(self, seq: str) -> Any:
        return self._stores["sources"].get((seq,))

    def frozen(self, pin: Any = None) -> Snapshot:
        """This version as a snapshot of its own (a draft's: as it stands now)."""
        return Snapshot(self._stores, self.number, pin)

    def replaced(self, stores: Mapping[str, Any]) -> Snapshot:
        """The next version, with some stores replaced whole (a bulk load)."""
        return Snapshot({**self._stores, **stores}, self.number + 1)

    def __enter__(self) -> Snapshot:
        if self._pin is not None:
            self._pin.push(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pin is not None:
            self._pin.pop()


class _Live:
    """A table of a draft that always reads the draft's newest version (writers see their own puts)."""

    __slots__ = ("_draft", "_name")

    def __init__(self, draft: Draft, name: str) -> None:
        self._draft = draft
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._draft._stores[self._name], attr)

    def __contains__(self, key: Key) -> bool:
        return key in self._draft._stores[self._name]

    def __len__(self) -> int:
        return len(self._draft._stores[self._name])

    def __iter__(self) -> Iterator[Key]:
        return iter(self._draft._stores[self._name])


class Draft(Snapshot):
    """The next version being built by one writer: reads see its own puts; ``ops`` records them."""

    def __init__(self, base: Snapshot) -> None:
        super().__init__(dict(base._stores), base.number)
        self._stores: dict[str, Any]
        self.ops: list[Op] = []
        self._live = {name: _Live(self, name) for name in self._stores}

    def __getitem__(self, name: str) -> Any:
        return self._live[name]

    def put(self, store: str, key: Key, row: Any) -> Any:
        new, old, stored = self._stores[store].put(key, row)
        self._stores[store] = new
        if old is not None or stored is not None:
            self.ops.append((store, key, old, stored))
        return old

    def publish(self) -> Snapshot:
        # A delta grown past half its base is folded in now, by the writer: reads of the next
        # versions hit the base's positions instead of a deep tree, and each compaction costs about
        # what the edits since the last one added (amortised O(1) an edit).
        for name, store in self._stores.items():
            if isinstance(store, TableVersion) and store.delta_size > max(COMPACT_AT, len(store) // 2):
                self._stores[name] = store.compacted()
        return Snapshot(dict(self._stores), self.number + 1)

    def frozen(self, pin: Any = None) -> Snapshot:
        return Snapshot(dict(self._stores), self.number, pin)


def collapse(ops: list[Op]) -> list[Op]:
    """One op per (store, key): its first ``before`` and last ``after``; ops that changed nothing go."""
    first: dict[tuple[str, Key], Op] = {}
    last: dict[tuple[str, Key], Any] = {}
    for store, key, before, after in ops:
        k = (store, key)
        if k not in first:
            first[k] = (store, key, before, after)
        last[k] = after
    out = []
    for k, (store, key, before, _after) in first.items():
        after = last[k]
        if not same(before, after):
            out.append((store, key, before, after))
    return out


def same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if a is None or b is None:
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a == b
    return bool(getattr(a, "same_as", lambda other: a == other)(b))
