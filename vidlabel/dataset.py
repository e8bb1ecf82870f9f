"""The in-memory dataset: Arrow tables, validated transactional edits, undo/redo, change events.

Every change goes through a method here. A method validates its input, then applies
its row edits inside a transaction; if anything fails midway the rows already
changed are put back, so an edit applies all or nothing. Each outermost transaction
is one undo step and one change event for observers (an open widget, say).
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from . import schema as sch
from .annotations import ANNOTATIONS as _ANNOTATIONS
from .errors import ValidationError
from .naming import natural_key
from .store import Key, KeyedTable, Row
from .temporal import TemporalMixin
from .tracklets import TrackletKeeper

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd
    from PIL import Image

    from .frames import FrameCache, FrameSource


@dataclass
class Change:
    """What one edit, undo or redo touched; passed to observers."""

    label: str
    kind: str  # "edit", "undo" or "redo"
    tables: set[str] = field(default_factory=set)
    sequences: set[str] = field(default_factory=set)
    frames: dict[str, set[int]] = field(default_factory=dict)  # sequence id -> touched frame indices
    # sequence id -> entities whose annotations or tracklets changed
    entities: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class _Transaction:
    label: str
    ops: list[tuple[str, Key, Row | None, Row | None]] = field(default_factory=list)


@dataclass
class _FrameInfo:
    timestamps: np.ndarray
    uris: list[str | None]


class _DictStore:
    """The put/get interface of KeyedTable over a plain dict (frame lists, frame sources)."""

    def __init__(self) -> None:
        self.data: dict[Key, Any] = {}

    def get(self, key: Key) -> Any:
        return self.data.get(key)

    def put(self, key: Key, value: Any) -> Any:
        old = self.data.get(key)
        if value is None:
            self.data.pop(key, None)
        else:
            self.data[key] = value
        return old


class Dataset(TemporalMixin):
    """Sequences, frames, entities, tracklets, masks, boxes and per-frame states.

    >>> ds = Dataset(state_fields={"occluded": pa.bool_()})
    >>> seq = ds.add_sequence("clip", frames=np.zeros((3, 4, 5, 3), np.uint8))
    >>> bear = ds.add_entity(seq, category="bear")
    """

    def __init__(
        self,
        *,
        sequence_fields: Mapping[str, pa.DataType] | list[pa.Field] | None = None,
        entity_fields: Mapping[str, pa.DataType] | list[pa.Field] | None = None,
        state_fields: Mapping[str, pa.DataType] | list[pa.Field] | None = None,
        cache_bytes: int = 512 * 2**20,
    ) -> None:
        self.custom_fields: dict[str, list[pa.Field]] = {
            "sequences": sch.normalize_fields("sequences", sequence_fields),
            "entities": sch.normalize_fields("entities", entity_fields),
            "states": sch.normalize_fields("states", state_fields),
        }
        by_frame = ("sequence_id", "frame_index")
        by_entity = ("sequence_id", "entity_id")
        self._tables: dict[str, KeyedTable] = {
            "sequences": KeyedTable(self.schema("sequences"), sch.KEYS["sequences"]),
            "entities": KeyedTable(
                self.schema("entities"),
                sch.KEYS["entities"],
                {"by_sequence": ("sequence_id",), "by_name": ("sequence_id", "name")},
            ),
            "tracklets": KeyedTable(
                self.schema("tracklets"), sch.KEYS["tracklets"], {"by_entity": by_entity}
            ),
        }
        for name in _ANNOTATIONS:
            self._tables[name] = KeyedTable(
                self.schema(name), sch.KEYS[name], {"by_frame": by_frame, "by_entity": by_entity}
            )
        self._frames = _DictStore()  # (seq,) -> _FrameInfo
        self._sources = _DictStore()  # (seq,) -> FrameSource
        self._cache_bytes = cache_bytes
        self._cache: FrameCache | None = None
        self._lock = threading.RLock()
        self._txn: _Transaction | None = None
        self._group: _Transaction | None = None
        self._undo: list[_Transaction] = []
        self._redo: list[_Transaction] = []
        self._observers: list[Callable[[Change], None]] = []
        self._tracklets = TrackletKeeper(self)

    # ------------------------------------------------------------------ schema
    def schema(self, table: str) -> pa.Schema:
        """The Arrow schema of a table, custom fields included."""
        if table not in sch.TABLES:
            raise ValidationError(f"unknown table {table!r}; tables are {', '.join(sch.TABLES)}")
        return sch.table_schema(table, self.custom_fields.get(table))

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def transaction(self, label: str = "edit") -> Iterator[None]:
        """Group edits into one undo step and one change event; all or nothing.

        Nested transactions join the outermost one.
        """
        with self._lock:
            if self._txn is not None:
                yield
                return
            txn = self._txn = _Transaction(label)
            try:
                yield
            except BaseException:
                self._replay(txn.ops, backwards=True)
                raise
            finally:
                self._txn = None
            if txn.ops:
                if self._group is not None:
                    self._group.ops.extend(txn.ops)
                else:
                    self._undo.append(txn)
                self._redo.clear()
                self._notify(txn, "edit")

    @contextmanager
    def undo_group(self, label: str) -> Iterator[None]:
        """Make every edit committed inside one undo step, while each still commits (and notifies) on its own.

        Long work such as propagation writes frame by frame, so observers see results land as they
        come and readers are not locked out, yet one undo takes the whole run back. What was
        committed stays committed if the block stops early (cancelled, or an error): each
        committed edit is whole, and the part done is one undo step. Undo and redo are refused
        while a group is open. Nested groups join the outermost one.
        """
        with self._lock:
            if self._txn is not None:
                raise ValidationError("undo_group: not allowed inside a transaction")
            if self._group is not None:
                outer = True
            else:
                outer = False
                self._group = _Transaction(label)
        try:
            yield
        finally:
            if not outer:
                with self._lock:
                    group, self._group = self._group, None
                    if group is not None and group.ops:
                        self._undo.append(group)

    def _store(self, name: str) -> Any:
        if name == "frames":
            return self._frames
        if name == "sources":
            return self._sources
        return self._tables[name]

    def _put(self, store: str, key: Key, row: Any) -> Any:
        if self._txn is None:
            raise RuntimeError("internal: an edit outside a transaction")
        old = self._store(store).put(key, row)
        if old is not None or row is not None:
            self._txn.ops.append((store, key, old, row))
        return old

    def _replay(self, ops: list[tuple[str, Key, Any, Any]], *, backwards: bool) -> None:
        if backwards:
            for store, key, old, _new in reversed(ops):
                self._store(store).put(key, old)
        else:
            for store, key, _old, new in ops:
                self._store(store).put(key, new)

    def undo(self) -> bool:
        """Undo the last edit; False when there is nothing to undo."""
        with self._lock:
            if self._txn is not None:
                raise ValidationError("undo: not allowed inside a transaction")
            if self._group is not None:
                raise ValidationError(f"undo: not allowed while {self._group.label!r} is running")
            if not self._undo:
                return False
            txn = self._undo.pop()
            self._replay(txn.ops, backwards=True)
            self._redo.append(txn)
            self._notify(txn, "undo")
            return True

    def redo(self) -> bool:
        """Redo the last undone edit; False when there is nothing to redo."""
        with self._lock:
            if self._txn is not None:
                raise ValidationError("redo: not allowed inside a transaction")
            if self._group is not None:
                raise ValidationError(f"redo: not allowed while {self._group.label!r} is running")
            if not self._redo:
                return False
            txn = self._redo.pop()
            self._replay(txn.ops, backwards=False)
            self._undo.append(txn)
            self._notify(txn, "redo")
            return True

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def history(self) -> list[str]:
        """Labels of the undoable steps, oldest first."""
        return [t.label for t in self._undo]

    def clear_history(self) -> None:
        """Forget undo/redo (after an import, say: loading is not an undoable user action)."""
        with self._lock:
            self._undo.clear()
            self._redo.clear()

    # ------------------------------------------------------------------ observers
    def observe(self, callback: Callable[[Change], None]) -> Callable[[], None]:
        """Call ``callback(change)`` after every edit, undo and redo. Returns an unsubscribe function."""
        self._observers.append(callback)

        def unobserve() -> None:
            if callback in self._observers:
                self._observers.remove(callback)

        return unobserve

    def _notify(self, txn: _Transaction, kind: str) -> None:
        change = Change(txn.label, kind)
        for store, key, old, new in txn.ops:
            change.tables.add(store)
            row = new if new is not None else old
            if store in _ANNOTATIONS:
                change.sequences.add(key[0])
                change.frames.setdefault(key[0], set()).add(key[1])
                change.entities.setdefault(key[0], set()).add(key[2])
            elif store in ("sequences", "frames", "sources"):
                change.sequences.add(key[0])
            elif isinstance(row, dict) and "sequence_id" in row:
                change.sequences.add(row["sequence_id"])
                if store == "tracklets":
                    change.entities.setdefault(row["sequence_id"], set()).add(row["entity_id"])
        for cb in list(self._observers):
            try:
                cb(change)
            except Exception as exc:  # an observer must never break an edit
                warnings.warn(f"vidlabel observer {cb!r} failed: {exc!r}", RuntimeWarning, stacklevel=2)

    # ------------------------------------------------------------------ resolving references
    def _seq(self, seq: Any) -> str:
        if isinstance(seq, str) and (seq,) in self._tables["sequences"]:
            return seq
        raise ValidationError(f"sequences.id: unknown sequence {seq!r}")

    def _entity(self, seq_id: str, entity: Any) -> str:
        ents = self._tables["entities"]
        if isinstance(entity, str):
            row = ents.get((entity,))
            if row is not None:
                if row["sequence_id"] != seq_id:
                    raise ValidationError(
                        f"entities.id: entity {entity!r} belongs to sequence "
                        f"{row['sequence_id']!r}, not {seq_id!r}"
                    )
                return entity
            found = ents.lookup("by_name", (seq_id, entity))
            if found:
                return str(next(iter(found))[0])
        raise ValidationError(f"entities.id: unknown entity {entity!r} in sequence {seq_id!r}")

    def _frame(self, seq_id: str, frame: Any) -> int:
        if isinstance(frame, (bool, np.bool_)) or not isinstance(frame, (int, np.integer)):
            raise ValidationError(
                f"frames.frame_index: expected an integer, got {type(frame).__name__} {frame!r}"
            )
        n = len(self._frames.get((seq_id,)).uris)
        if not 0 <= int(frame) < n:
            raise ValidationError(
                f"frames.frame_index: frame {int(frame)} is out of range for sequence "
                f"{seq_id!r} with {n} frames"
            )
        return int(frame)

    def _custom(
        self, table: str, values: Mapping[str, Any], *, partial_of: Row | None = None
    ) -> dict[str, Any]:
        fields = {f.name: f for f in self.custom_fields[table]}
        unknown = set(values) - set(fields)
        if unknown:
            declared = ", ".join(fields) or "none"
            raise ValidationError(
                f"{table}: unknown field(s) {', '.join(sorted(unknown))} (declared: {declared})"
            )
        out = {name: (partial_of or {}).get(name) for name in fields}
        for name, value in values.items():
            out[name] = sch.coerce_value(table, fields[name], value)
        return out

    # ------------------------------------------------------------------ sequences
    def add_sequence(
        self,
        name: str,
        frames: Any = None,
        *,
        fps: float | None = None,
        id: str | None = None,
        split: str | None = None,
        status: str | None = None,
        num_frames: int | None = None,
        width: int | None = None,
        height: int | None = None,
        uris: Sequence[str | None] | None = None,
        **custom: Any,
    ) -> str:
        """Add a video; returns its id (its name unless ``id`` is given).

        ``frames``: a glob (``"frames/*.jpg"``), a folder, a list of image paths, a video file,
        a T,H,W,3 uint8 array or a list of H,W,3 arrays. With ``frames=None`` the sequence has
        no pixels (annotations only): give ``num_frames``, ``width`` and ``height``.
        """
        if not isinstance(name, str) or not name:
            raise ValidationError(f"sequences.name: expected a non-empty string, got {name!r}")
        seq_id = name if id is None else id
        if not isinstance(seq_id, str) or not seq_id:
            raise ValidationError(f"sequences.id: expected a non-empty string, got {seq_id!r}")
        if (seq_id,) in self._tables["sequences"]:
            raise ValidationError(f"sequences.id: duplicate id {seq_id!r}")
        if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float)) or not fps > 0):
            raise ValidationError(f"sequences.fps: expected a positive number, got {fps!r}")
        extra = self._custom("sequences", custom)
        source: FrameSource | None = None
        if frames is not None:
            from .frames import open_source

            source = open_source(frames, fps=fps, cache=self.frame_cache)
            n, (w, h) = len(source), source.size
            fps = fps if fps is not None else source.fps
            timestamps = np.asarray(source.timestamps(), dtype=np.float64)
            if fps is None or not np.all(np.isfinite(timestamps)):
                timestamps = np.arange(n, dtype=np.float64) / (fps or 24.0)
            frame_uris = list(source.frame_uris())
            kind, uri = source.kind, source.uri
        else:
            for label, value in (("num_frames", num_frames), ("width", width), ("height", height)):
                if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                    raise ValidationError(
                        f"sequences.{label}: a sequence without frames needs a positive "
                        f"integer {label}, got {value!r}"
                    )
            n, w, h = int(num_frames), int(width), int(height)  # type: ignore[arg-type]
            timestamps = np.arange(n, dtype=np.float64) / (fps or 24.0)
            frame_uris = list(uris) if uris is not None else [None] * n
            if len(frame_uris) != n:
                raise ValidationError(f"frames.uri: {len(frame_uris)} uris for {n} frames")
            kind, uri = None, None
        for label, v in (("split", split), ("status", status)):
            if v is not None and not isinstance(v, str):
                raise ValidationError(f"sequences.{label}: expected a string, got {v!r}")
        row = {
            "id": seq_id,
            "name": name,
            "split": split,
            "status": status,
            "fps": None if fps is None else float(fps),
            "width": int(w),
            "height": int(h),
            "num_frames": int(n),
            "source_uri": uri,
            "source_kind": kind,
            **extra,
        }
        with self.transaction(f"add sequence {name}"):
            self._put("sequences", (seq_id,), row)
            self._put("frames", (seq_id,), _FrameInfo(timestamps, frame_uris))
            if source is not None:
                self._put("sources", (seq_id,), source)
        return seq_id

    def set_sequence(self, seq: str, **values: Any) -> None:
        """Change a sequence's name, split, status or custom fields."""
        seq_id = self._seq(seq)
        row = self._tables["sequences"].get((seq_id,))
        assert row is not None
        builtin = {"name", "split", "status"}
        for key in builtin & set(values):
            v = values[key]
            if not (v is None and key != "name") and not (isinstance(v, str) and v):
                raise ValidationError(f"sequences.{key}: expected a non-empty string, got {v!r}")
        custom = {k: v for k, v in values.items() if k not in builtin}
        new = {
            **row,
            **{k: values[k] for k in builtin & set(values)},
            **self._custom("sequences", custom, partial_of=row),
        }
        with self.transaction(f"edit sequence {seq_id}"):
            self._put("sequences", (seq_id,), new)

    def remove_sequence(self, seq: str) -> None:
        """Remove a sequence with its frames, entities and all their annotations (one undo step)."""
        seq_id = self._seq(seq)
        with self.transaction(f"remove sequence {seq_id}"):
            for eid in self.entity_ids(seq_id):
                self._drop_entity(seq_id, eid)
            self._put("sources", (seq_id,), None)
            self._put("frames", (seq_id,), None)
            self._put("sequences", (seq_id,), None)

    def attach_frames(self, seq: str, source: FrameSource) -> None:
        """Give a sequence pixels (a frame source of the same length and size), e.g. after a move."""
        seq_id = self._seq(seq)
        row = self.sequence(seq_id)
        if len(source) != row["num_frames"] or tuple(source.size) != (row["width"], row["height"]):
            raise ValidationError(
                f"frames: source has {len(source)} frames of {source.size}, sequence {seq_id!r} "
                f"has {row['num_frames']} of {(row['width'], row['height'])}"
            )
        with self.transaction(f"attach frames to {seq_id}"):
            self._put("sources", (seq_id,), source)

    # ------------------------------------------------------------------ entities
    def add_entity(
        self,
        seq: str,
        name: str | None = None,
        *,
        category: str | None = None,
        id: str | None = None,
        void: bool = False,
        color: str | None = None,
        **custom: Any,
    ) -> str:
        """Add a tracked object to a sequence; returns its id.

        ``name`` defaults to the next free integer ("1", "2", ... as DAVIS object ids) and must
        be unique within the sequence; entities can be referred to by id or by name.
        """
        seq_id = self._seq(seq)
        ents = self._tables["entities"]
        if name is None:
            k = len(ents.lookup("by_sequence", (seq_id,))) + 1
            while ents.lookup("by_name", (seq_id, str(k))):
                k += 1
            name = str(k)
        if not isinstance(name, str) or not name:
            raise ValidationError(f"entities.name: expected a non-empty string, got {name!r}")
        if ents.lookup("by_name", (seq_id, name)):
            raise ValidationError(f"entities.name: duplicate name {name!r} in sequence {seq_id!r}")
        if category is not None and not isinstance(category, str):
            raise ValidationError(f"entities.category: expected a string, got {category!r}")
        if not isinstance(void, (bool, np.bool_)):
            raise ValidationError(f"entities.void: expected a bool, got {void!r}")
        color = _check_color(color)
        if id is None:
            k = 1
            while (f"{seq_id}/{k:03d}",) in ents:
                k += 1
            id = f"{seq_id}/{k:03d}"
        elif not isinstance(id, str) or not id:
            raise ValidationError(f"entities.id: expected a non-empty string, got {id!r}")
        elif (id,) in ents:
            raise ValidationError(f"entities.id: duplicate id {id!r}")
        row = {
            "id": id,
            "sequence_id": seq_id,
            "name": name,
            "category": category,
            "void": bool(void),
            "color": color,
            **self._custom("entities", custom),
        }
        with self.transaction(f"add entity {name}"):
            self._put("entities", (id,), row)
        return id

    def set_entity(self, entity: str, seq: str | None = None, **values: Any) -> None:
        """Rename an entity or change its category, colour or custom fields."""
        eid = self._any_entity(entity, seq)
        row = self._tables["entities"].get((eid,))
        assert row is not None
        new = dict(row)
        if "name" in values:
            name = values.pop("name")
            if not isinstance(name, str) or not name:
                raise ValidationError(f"entities.name: expected a non-empty string, got {name!r}")
            clash = self._tables["entities"].lookup("by_name", (row["sequence_id"], name)) - {(eid,)}
            if clash:
                raise ValidationError(
                    f"entities.name: duplicate name {name!r} in sequence {row['sequence_id']!r}"
                )
            new["name"] = name
        if "category" in values:
            cat = values.pop("category")
            if cat is not None and not isinstance(cat, str):
                raise ValidationError(f"entities.category: expected a string, got {cat!r}")
            new["category"] = cat
        if "color" in values:
            new["color"] = _check_color(values.pop("color"))
        new.update(self._custom("entities", values, partial_of=row))
        with self.transaction(f"edit entity {new['name']}"):
            self._put("entities", (eid,), new)

    def rename_entity(self, entity: str, name: str, seq: str | None = None) -> None:
        self.set_entity(entity, seq, name=name)

    def remove_entity(self, entity: str, seq: str | None = None) -> None:
        """Delete an entity with its tracklets, masks, boxes and states (one undo step)."""
        eid = self._any_entity(entity, seq)
        row = self._tables["entities"].get((eid,))
        assert row is not None
        with self.transaction(f"remove entity {row['name']}"):
            self._drop_entity(row["sequence_id"], eid)

    def _drop_entity(self, seq_id: str, eid: str) -> None:
        for name in _ANNOTATIONS:
            for key in self._tables[name].lookup("by_entity", (seq_id, eid)):
                self._put(name, key, None)
        for key in self._tables["tracklets"].lookup("by_entity", (seq_id, eid)):
            self._put("tracklets", key, None)
        self._put("entities", (eid,), None)

    def _any_entity(self, entity: str, seq: str | None) -> str:
        if seq is not None:
            return self._entity(self._seq(seq), entity)
        if isinstance(entity, str) and (entity,) in self._tables["entities"]:
            return entity
        raise ValidationError(
            f"entities.id: unknown entity {entity!r} (give the sequence to look it up by name)"
        )

    # ------------------------------------------------------------------ reads
    def sequence_ids(self) -> list[str]:
        return sorted((k[0] for k in self._tables["sequences"]), key=natural_key)

    def sequence(self, seq: str) -> dict[str, Any]:
        row = self._tables["sequences"].get((self._seq(seq),))
        assert row is not None
        return row

    def num_frames(self, seq: str) -> int:
        return int(self.sequence(seq)["num_frames"])

    def timestamps(self, seq: str) -> np.ndarray:
        info: _FrameInfo = self._frames.get((self._seq(seq),))
        return info.timestamps.copy()

    def entity_ids(self, seq: str) -> list[str]:
        """The entities of a sequence, by id (generated ids follow creation order)."""
        keys = self._tables["entities"].lookup("by_sequence", (self._seq(seq),))
        return sorted((k[0] for k in keys), key=natural_key)

    def entity(self, entity: str, seq: str | None = None) -> dict[str, Any]:
        row = self._tables["entities"].get((self._any_entity(entity, seq),))
        assert row is not None
        return row

    def tracklets(self, seq: str, entity: str | None = None) -> list[dict[str, Any]]:
        """Tracklets of a sequence (or of one entity), sorted by entity then start frame."""
        seq_id = self._seq(seq)
        eids = [self._entity(seq_id, entity)] if entity is not None else self.entity_ids(seq_id)
        store = self._tables["tracklets"]
        out: list[dict[str, Any]] = []
        for eid in eids:
            rows = [store.get(k) for k in store.lookup("by_entity", (seq_id, eid))]
            out.extend(sorted((r for r in rows if r is not None), key=lambda r: r["start_frame"]))
        return out

    # ------------------------------------------------------------------ frames
    @property
    def frame_cache(self) -> FrameCache:
        """The decode cache shared by all of this dataset's frame sources (bounded in bytes)."""
        if self._cache is None:
            from .frames import FrameCache

            self._cache = FrameCache(self._cache_bytes)
        return self._cache

    def frame_source(self, seq: str) -> FrameSource | None:
        return self._sources.get((self._seq(seq),))

    def _source(self, seq_id: str) -> FrameSource:
        source = self._sources.get((seq_id,))
        if source is None:
            raise ValidationError(
                f"frames: sequence {seq_id!r} has no pixels (imported without its frames); "
                "use attach_frames to give it some"
            )
        return source

    def frame(self, seq: str, frame: int, *, cache: bool = True) -> np.ndarray:
        """Frame pixels as HxWx3 uint8 RGB. ``cache=False`` does not add the frame to the decode cache
        (one pass over a long video would otherwise push out the frames being looked at)."""
        seq_id = self._seq(seq)
        return self._source(seq_id).read(self._frame(seq_id, frame), cache=cache)

    def frame_bytes(self, seq: str, frame: int) -> tuple[bytes, str]:
        """Frame as encoded bytes for display, with its mime type (JPEG files pass through as they are)."""
        seq_id = self._seq(seq)
        return self._source(seq_id).encoded(self._frame(seq_id, frame))

    def frame_uri(self, seq: str, frame: int) -> str | None:
        seq_id = self._seq(seq)
        info: _FrameInfo = self._frames.get((seq_id,))
        return info.uris[self._frame(seq_id, frame)]

    # ------------------------------------------------------------------ tables
    def table(self, name: str) -> pa.Table:
        """One table as a pyarrow.Table, sorted by its key."""
        if name == "frames":
            return self._frames_table()
        if name not in self._tables:
            raise ValidationError(f"unknown table {name!r}; tables are {', '.join(sch.TABLES)}")
        with self._lock:
            return self._tables[name].table()

    def _frames_table(self) -> pa.Table:
        seqs, idx, ts, uris = [], [], [], []
        for seq_id in sorted(k[0] for k in self._tables["sequences"]):
            info: _FrameInfo = self._frames.get((seq_id,))
            n = len(info.uris)
            seqs.append(pa.array([seq_id] * n, pa.string()))
            idx.append(pa.array(np.arange(n, dtype=np.int32)))
            ts.append(pa.array(info.timestamps, pa.float64()))
            uris.append(pa.array(info.uris, pa.string()))
        schema = self.schema("frames")
        if not seqs:
            return schema.empty_table()
        cols = [pa.concat_arrays(c) for c in (seqs, idx, ts, uris)]
        return pa.Table.from_arrays(cols, schema=schema)

    def tables(self) -> dict[str, pa.Table]:
        return {name: self.table(name) for name in sch.TABLES}

    def to_pandas(self, name: str) -> pd.DataFrame:
        return self.table(name).to_pandas()

    def equals(self, other: Dataset) -> bool:
        """Same tables (content and schema), frame pixels aside."""
        return all(self.table(n).equals(other.table(n)) for n in sch.TABLES)

    def __len__(self) -> int:
        return len(self._tables["sequences"])

    def __iter__(self) -> Iterator[str]:
        """Iterate over sequence ids."""
        return iter(self.sequence_ids())

    def __repr__(self) -> str:
        t = self._tables
        return (
            f"<vidlabel.Dataset: {len(t['sequences'])} sequences, {len(t['entities'])} entities, "
            f"{len(t['tracklets'])} tracklets, {len(t['masks'])} masks, {len(t['boxes'])} boxes, "
            f"{len(t['states'])} states>"
        )

    # ------------------------------------------------------------------ files and pictures
    def to_parquet(self, path: Any, *, overwrite: bool = False, embed_frames: bool = False) -> None:
        """Write one parquet file per table into the folder ``path`` (atomic; see io.parquet)."""
        from .io.parquet import write_parquet

        write_parquet(self, path, overwrite=overwrite, embed_frames=embed_frames)

    def to_davis(self, root: Any, *, overwrite: bool = False, **options: Any) -> Path:
        """DAVIS 2017 folder: palette PNGs per frame, JPEG frames, ImageSets (atomic; see io.davis_export)."""
        from .io.davis_export import write_davis

        return write_davis(self, root, overwrite=overwrite, **options)

    def to_coco(self, path: Any, *, overwrite: bool = False, **options: Any) -> Path:
        """One YouTube-VIS style JSON file: videos, categories, per-frame RLE (atomic; see io.coco)."""
        from .io.coco import write_coco

        return write_coco(self, path, overwrite=overwrite, **options)

    def to_youtube_vos(self, root: Any, *, overwrite: bool = False, **options: Any) -> Path:
        """YouTube-VOS folder: JPEGImages, palette PNG Annotations, meta.json (atomic; see io.youtube_vos)."""
        from .io.youtube_vos import write_youtube_vos

        return write_youtube_vos(self, root, overwrite=overwrite, **options)

    @classmethod
    def from_parquet(cls, path: Any) -> Dataset:
        from .io.parquet import read_parquet

        return read_parquet(path)

    def render(self, seq: str, frame: int, **options: Any) -> Image.Image:
        """The frame with its masks (and boxes) painted on, as a PIL image; see render.render_frame."""
        from .render import render_frame

        return render_frame(self, seq, frame, **options)


_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def _check_color(color: Any) -> str | None:
    """An entity's display colour: ``"#rrggbb"`` (stored lower-case) or None for the palette's."""
    if color is None:
        return None
    if not isinstance(color, str) or not _COLOR.fullmatch(color):
        raise ValidationError(f"entities.color: expected a colour like '#ff8800', got {color!r}")
    return color.lower()
