"""Build a Dataset from whole tables (a parquet folder, a project's checkpoint): frame lists and sources.

The tables are validated by the caller (validation.py); here they become the dataset's first
version, and each sequence gets its frame source back from what its rows say (embedded frame
bytes, image files, a video file). Relative uris are resolved against ``root`` (a project folder
can be moved); frames that cannot be found leave the sequence without pixels, with a warning.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from . import schema as sch
from .core import FrameInfo
from .errors import ValidationError

if TYPE_CHECKING:
    from .dataset import Dataset
    from .frames import FrameSource


def custom_fields(table: pa.Table, name: str) -> list[pa.Field]:
    builtin = {f.name for f in sch.BUILTIN[name]}
    return [table.schema.field(c) for c in table.column_names if c not in builtin]


def resolve(uri: str | None, root: Path | None) -> str | None:
    """An absolute path for a uri stored relative to ``root`` (None and absolute uris unchanged)."""
    if uri is None or root is None or "://" in uri or os.path.isabs(uri):
        return uri
    return str(root / uri)


def dataset_from_tables(
    tables: Mapping[str, pa.Table], *, root: Path | None = None, what: str = "from_parquet", **options: Any
) -> Dataset:
    from .dataset import Dataset

    root = root.resolve() if root is not None else None  # resolving twice must change nothing
    ds = Dataset(
        sequence_fields=custom_fields(tables["sequences"], "sequences"),
        entity_fields=custom_fields(tables["entities"], "entities"),
        state_fields=custom_fields(tables["states"], "states"),
        **options,
    )
    frames = tables["frames"].sort_by([("sequence_id", "ascending"), ("frame_index", "ascending")])
    embedded = "data" in frames.column_names
    # each sequence's rows are one slice of the sorted table: no scan of every frame per sequence
    slices: dict[str, tuple[int, int]] = {}
    at = 0
    for seq_id, run in groupby(frames.column("sequence_id").to_pylist()):
        n = sum(1 for _ in run)
        slices[seq_id] = (at, n)
        at += n
    infos: dict[str, FrameInfo] = {}
    wanted: list[tuple[dict[str, Any], pa.Table, list[str | None]]] = []
    for seq in tables["sequences"].to_pylist():
        seq_id = seq["id"]
        rows = frames.slice(*slices.get(seq_id, (0, 0)))
        if rows.num_rows != seq["num_frames"]:
            raise ValidationError(
                f"{what}: sequence {seq_id!r} has {rows.num_rows} frame rows, "
                f"expected num_frames={seq['num_frames']}"
            )
        uris = [resolve(u, root) for u in rows.column("uri").to_pylist()]
        infos[seq_id] = FrameInfo(rows.column("timestamp").to_numpy(zero_copy_only=False), uris)
        wanted.append((seq, rows, uris))
    plain = {
        n: tables[n].drop_columns([c for c in ("data", "mime") if c in tables[n].column_names])
        for n in sch.TABLES
        if n != "frames"
    }
    ds.load_tables(plain, infos, validated=True)  # read_tables validated them
    for seq, rows, uris in wanted:
        embedded_frames = None
        if embedded and rows.column("data").null_count == 0:
            embedded_frames = (rows.column("data").to_pylist(), rows.column("mime").to_pylist())
        source = open_frames(seq, uris, root=root, cache=ds.frame_cache, embedded=embedded_frames)
        if source is not None:
            ds.attach_frames(seq["id"], source)
    ds.clear_history()
    return ds


def open_frames(
    seq: Mapping[str, Any],
    uris: list[str | None],
    *,
    root: Path | None,
    cache: Any,
    embedded: tuple[list[bytes], list[str]] | None = None,
) -> FrameSource | None:
    """The frame source a sequence row (and its frame uris) describes, or None with a warning when
    its frames cannot be found or no longer match the row (the annotations stay, without pixels)."""
    from .frames import EncodedSource, open_source

    source: FrameSource | None = None
    try:
        if embedded is not None:
            source = EncodedSource(embedded[0], embedded[1], fps=seq["fps"], cache=cache)
        elif seq["source_kind"] == "images":
            paths = [resolve(u, root) for u in uris if u is not None]
            source = open_source(paths, fps=seq["fps"], cache=cache)
        elif seq["source_kind"] == "video" and seq["source_uri"]:
            source = open_source(resolve(seq["source_uri"], root), fps=seq["fps"], cache=cache)
    except ValidationError as exc:
        warnings.warn(
            f"sequence {seq['id']!r}: frames not found ({exc}); annotations loaded without pixels",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    if source is not None and (
        len(source) != seq["num_frames"] or tuple(source.size) != (seq["width"], seq["height"])
    ):
        warnings.warn(
            f"sequence {seq['id']!r}: its frames changed on disk; annotations loaded without pixels",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return source
