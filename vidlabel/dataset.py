"""Dataset: the public facade over the versioned store, the history, the journal and validation.

Every change goes through a method here (or in annotations.py, temporal.py, cleanup.py, mixed
in): it is validated first, then applied in a transaction that publishes a new version, so an
edit applies all or nothing and readers never see half of it (core.py). Each outermost
transaction is one undo step and one change event for observers (an open widget, say). A
dataset made with ``vl.open(folder)`` also writes each committed transaction to its project's
journal before the call returns (project.py).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from . import schema as sch
from .annotations import ANNOTATIONS as _ANNOTATIONS
from .cleanup import CleanupMixin
from .core import Change, FrameInfo, reads, writes
from .errors import ValidationError
from .files import FilesMixin
from .history import DEFAULT_MAX_BYTES, DEFAULT_MAX_STEPS
from .naming import natural_key
from .review import KeyframesMixin, ReviewMixin, ReviewStateMixin

if TYPE_CHECKING:
    import pandas as pd

    from .frames import FrameCache, FrameSource

__all__ = ["Change", "Dataset", "FrameInfo"]

_FrameInfo = FrameInfo  # the name older code imports


class Dataset(FilesMixin, CleanupMixin, ReviewStateMixin, ReviewMixin, KeyframesMixin):
    """Sequences, frames, entities, tracklets, masks, boxes and per-frame states.

    >>> ds = Dataset(state_fields={"occluded": pa.bool_()})
    >>> seq = ds.add_sequence("clip", frames=np.zeros((3, 4, 5, 3), np.uint8))
    >>> bear = ds.add_entity(seq, category="bear")

    ``history_bytes`` and ``history_steps`` bound the undo history (the oldest steps go first).
    ``vl.open(folder)`` gives a dataset kept in a project folder instead of memory alone.
    """

    def __init__(
        self,
        *,
        sequence_fields: Mapping[str, pa.DataType] | list[pa.Field] | None = None,
        entity_fields: Mapping[str, pa.DataType] | list[pa.Field] | None = None,
        state_fields: Mapping[str, pa.DataType] | list[pa.Field] | None = None,
        cache_bytes: int = 512 * 2**20,
        history_bytes: int = DEFAULT_MAX_BYTES,
        history_steps: int = DEFAULT_MAX_STEPS,
    ) -> None:
        super().__init__(
            {
                "sequences": sch.normalize_fields("sequences", sequence_fields),
                "entities": sch.normalize_fields("entities", entity_fields),
                "states": sch.normalize_fields("states", state_fields),
            },
            history_bytes=history_bytes,
            history_steps=history_steps,
        )
        self._cache_bytes = cache_bytes
        self._cache: FrameCache | None = None
        self.project: Any = None  # the Project of a dataset opened with vl.open, else None

    # ------------------------------------------------------------------ sequences
    @writes
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
            if self.project is not None:  # pixels held only in memory go into the project folder
                source = self.project.keep_frames(seq_id, source)
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
        from .validation import check_frame_size

        check_frame_size(h, w, f"sequences: sequence {seq_id!r}")
        if n > sch.MAX_FRAMES:
            raise ValidationError(f"sequences.num_frames: {n} frames is over the bound of {sch.MAX_FRAMES}")
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
            self._put("frames", (seq_id,), FrameInfo(timestamps, frame_uris))
            if source is not None:
                self._put("sources", (seq_id,), source)
        return seq_id

    @writes
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

    @writes
    def remove_sequence(self, seq: str) -> None:
        """Remove a sequence with its frames, entities and all their annotations (one undo step)."""
        seq_id = self._seq(seq)
        with self.transaction(f"remove sequence {seq_id}"):
            for eid in self.entity_ids(seq_id):
                self._drop_entity(seq_id, eid)
            self._put("sources", (seq_id,), None)
            self._put("frames", (seq_id,), None)
            self._put("sequences", (seq_id,), None)

    @writes
    def attach_frames(self, seq: str, frames: Any) -> None:
        """Give a sequence pixels, e.g. after a move: what ``add_sequence`` takes (a glob, a folder, a
        list of image paths, a video file, arrays) or a frame source, of the same length and size."""
        from .frames import open_source

        seq_id = self._seq(seq)
        row = self.sequence(seq_id)
        source = open_source(frames, fps=row["fps"], cache=self.frame_cache)
        if len(source) != row["num_frames"] or tuple(source.size) != (row["width"], row["height"]):
            raise ValidationError(
                f"frames: source has {len(source)} frames of {source.size}, sequence {seq_id!r} "
                f"has {row['num_frames']} of {(row['width'], row['height'])}"
            )
        if self.project is not None:
            source = self.project.keep_frames(seq_id, source)
        with self.transaction(f"attach frames to {seq_id}"):
            self._describe_source(seq_id, source)

    def _describe_source(self, seq_id: str, source: FrameSource | None) -> None:
        """Set a sequence's source with the rows that say where its pixels are (a reopen finds them)."""
        self._put("sources", (seq_id,), source)
        if source is None:
            return
        row = self._tables["sequences"].get((seq_id,))
        info: FrameInfo = self._tables.frame_info(seq_id)
        uris = list(source.frame_uris())
        if any(u is not None for u in uris) or source.uri is not None:
            self._put("sequences", (seq_id,), {**row, "source_kind": source.kind, "source_uri": source.uri})
            self._put("frames", (seq_id,), FrameInfo(info.timestamps, uris))

    @writes
    def replace_source(self, seq: str, source: FrameSource | None) -> None:
        """Give a sequence its frame source back without an undo step (a project reopened or saved)."""
        seq_id = self._seq(seq)
        with self.quietly(), self.transaction("frames found again"):
            self._describe_source(seq_id, source)

    # ------------------------------------------------------------------ entities
    @writes
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
        if id is None:  # never one an entity had before (see _retired_entities)
            k = 1
            while (f"{seq_id}/{k:03d}",) in ents or f"{seq_id}/{k:03d}" in self._retired_entities:
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

    @writes
    def set_entity(self, seq: str, entity: str | None = None, **values: Any) -> None:
        """Rename an entity or change its category, colour or custom fields.

        ``ds.set_entity(seq, "bear", category="animal")`` (sequence first, as everywhere), or
        ``ds.set_entity(entity_id, ...)`` with an entity's id alone (ids are unique in a dataset).
        """
        eid = self._either_order("set_entity", seq, entity)
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

    @writes
    def rename_entity(self, seq: str, entity: str, name: str | None = None) -> None:
        """Give an entity a new name: ``ds.rename_entity(seq, "1", "bear")``, or
        ``ds.rename_entity(entity_id, "bear")`` by id."""
        if name is None:  # (entity id, name)
            self.set_entity(seq, name=entity)
            return
        if not self._is_sequence(seq) and self._is_sequence(name):  # the old (entity, name, seq)
            _deprecated("rename_entity(entity, name, seq)", "rename_entity(seq, entity, name)", 4)
            seq, entity, name = name, seq, entity
        self.set_entity(seq, entity, name=name)

    @writes
    def remove_entity(self, seq: str, entity: str | None = None) -> None:
        """Delete an entity with its tracklets, masks, boxes and states (one undo step).

        ``ds.remove_entity(seq, "bear")`` (sequence first), or ``ds.remove_entity(entity_id)``.
        """
        eid = self._either_order("remove_entity", seq, entity)
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

    def _is_sequence(self, value: Any) -> bool:
        return isinstance(value, str) and (value,) in self._tables["sequences"]

    def _either_order(self, what: str, first: Any, second: Any) -> str:
        """(seq, entity) as the API reads now; (entity id) alone; or the old (entity, seq) with a
        DeprecationWarning."""
        if second is None:
            return self._any_entity(first, None)
        if self._is_sequence(first):
            return self._entity(first, second)
        if self._is_sequence(second):
            _deprecated(f"{what}(entity, seq)", f"{what}(seq, entity)")
            return self._entity(second, first)
        raise ValidationError(f"sequences.id: unknown sequence {first!r}")

    def _any_entity(self, entity: str, seq: str | None) -> str:
        if seq is not None:
            return self._entity(self._seq(seq), entity)
        if isinstance(entity, str) and (entity,) in self._tables["entities"]:
            return entity
        raise ValidationError(
            f"entities.id: unknown entity {entity!r} (give the sequence to look it up by name)"
        )

    # ------------------------------------------------------------------ reads
    @reads
    def sequence_ids(self) -> list[str]:
        """Every sequence's id, in natural order ("clip2" before "clip10")."""
        return sorted((k[0] for k in self._tables["sequences"]), key=natural_key)

    @reads
    def sequence(self, seq: str) -> dict[str, Any]:
        """A sequence's row: id, name, split, status, fps, width, height, num_frames, source, custom."""
        row = self._tables["sequences"].get((self._seq(seq),))
        assert row is not None
        return row

    @reads
    def num_frames(self, seq: str) -> int:
        """How many frames a sequence has."""
        return int(self.sequence(seq)["num_frames"])

    @reads
    def timestamps(self, seq: str) -> np.ndarray:
        """Each frame's time in seconds (from the video, or frame / fps), as a float64 array."""
        info: FrameInfo = self._tables.frame_info(self._seq(seq))
        return info.timestamps.copy()

    @reads
    def entity_ids(self, seq: str) -> list[str]:
        """The entities of a sequence, by id (generated ids follow creation order)."""
        keys = self._tables["entities"].lookup("by_sequence", (self._seq(seq),))
        return sorted((k[0] for k in keys), key=natural_key)

    @reads
    def entity(self, entity: str, seq: str | None = None) -> dict[str, Any]:
        """An entity's row (id, sequence_id, name, category, void, color, custom fields), by id or
        by name within ``seq``."""
        row = self._tables["entities"].get((self._any_entity(entity, seq),))
        assert row is not None
        return row

    @reads
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

    @reads
    def frame_source(self, seq: str, *, required: bool = False) -> FrameSource | None:
        """The sequence's frame source, None if it has no pixels (``required=True``: an error then)."""
        seq_id = self._seq(seq)
        return self._source(seq_id) if required else self._tables.source(seq_id)

    def _source(self, seq_id: str) -> FrameSource:
        source = self._tables.source(seq_id)
        if source is None:
            raise ValidationError(
                f"frames: sequence {seq_id!r} has no pixels (imported without its frames); "
                "use attach_frames to give it some"
            )
        return source

    @reads
    def frame(self, seq: str, frame: int, *, cache: bool = True) -> np.ndarray:
        """Frame pixels as HxWx3 uint8 RGB. ``cache=False`` does not add the frame to the decode cache
        (one pass over a long video would otherwise push out the frames being looked at)."""
        seq_id = self._seq(seq)
        return self._source(seq_id).read(self._frame(seq_id, frame), cache=cache)

    @reads
    def frame_bytes(self, seq: str, frame: int) -> tuple[bytes, str]:
        """Frame as encoded bytes for display, with its mime type (JPEG files pass through as they are)."""
        seq_id = self._seq(seq)
        return self._source(seq_id).encoded(self._frame(seq_id, frame))

    @reads
    def frame_uri(self, seq: str, frame: int) -> str | None:
        """Where a frame's pixels live (an image path), or None (arrays, video frames, no pixels)."""
        seq_id = self._seq(seq)
        info: FrameInfo = self._tables.frame_info(seq_id)
        return info.uris[self._frame(seq_id, frame)]

    # ------------------------------------------------------------------ tables
    @reads
    def table(self, name: str) -> pa.Table:
        """One table as a pyarrow.Table, sorted by its key."""
        if name == "frames":
            return self._frames_table()
        if name not in sch.TABLES:
            raise ValidationError(f"unknown table {name!r}; tables are {', '.join(sch.TABLES)}")
        return self._tables[name].table()

    @reads
    def _frames_table(self) -> pa.Table:
        seqs, idx, ts, uris = [], [], [], []
        for seq_id in sorted(k[0] for k in self._tables["sequences"]):
            info: FrameInfo = self._tables.frame_info(seq_id)
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

    @reads
    def tables(self) -> dict[str, pa.Table]:
        """Every table as a pyarrow.Table, all from one version: {name: table}."""
        return {name: self.table(name) for name in sch.TABLES}

    def to_pandas(self, name: str) -> pd.DataFrame:
        """One table as a pandas DataFrame (pandas must be installed)."""
        return self.table(name).to_pandas()

    @reads
    def equals(self, other: Dataset) -> bool:
        """Same tables (content and schema), frame pixels aside; each side read at one version."""
        with other.snapshot():
            return all(self.table(n).equals(other.table(n)) for n in sch.TABLES)

    @reads
    def __len__(self) -> int:
        return len(self._tables["sequences"])

    def __iter__(self) -> Iterator[str]:
        """Iterate over sequence ids."""
        return iter(self.sequence_ids())

    @reads
    def __repr__(self) -> str:
        t = self._tables
        return (
            f"<vidlabel.Dataset: {len(t['sequences'])} sequences, {len(t['entities'])} entities, "
            f"{len(t['tracklets'])} tracklets, {len(t['masks'])} masks, {len(t['boxes'])} boxes, "
            f"{len(t['states'])} states>"
        )


_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def _deprecated(old: str, new: str, stacklevel: int = 5) -> None:
    """Warn where the user's call is (stacklevel: frames between here and it, the @writes wrapper counted)."""
    warnings.warn(
        f"{old} is deprecated: call {new}, sequence first as everywhere else",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def _check_color(color: Any) -> str | None:
    """An entity's display colour: ``"#rrggbb"`` (stored lower-case) or None for the palette's."""
    if color is None:
        return None
    if not isinstance(color, str) or not _COLOR.fullmatch(color):
        raise ValidationError(f"entities.color: expected a colour like '#ff8800', got {color!r}")
    return color.lower()
