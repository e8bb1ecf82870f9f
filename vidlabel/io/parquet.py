"""Parquet: one plain parquet file per table in a folder.

The schema version, the table's name and its custom fields ride in each file's Arrow
schema metadata, so pandas, polars and DuckDB read the files as they are (masks are a
binary ``counts`` column with ``height`` and ``width``). Writing is atomic: the files
go to a hidden sibling folder that replaces the target only once all of them are
written, so a failure midway leaves any earlier export intact.
"""

from __future__ import annotations

import json
import warnings
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import schema as sch
from ..errors import ValidationError
from .atomic import check_target, staged
from .extra import no_gc

if TYPE_CHECKING:
    from ..dataset import Dataset
    from ..frames import FrameSource

EMBED_COLUMNS = [pa.field("data", pa.binary()), pa.field("mime", pa.string())]


def _with_metadata(table: pa.Table, name: str, custom: list[pa.Field]) -> pa.Table:
    meta = dict(table.schema.metadata or {})
    meta.update(
        {
            sch.METADATA_VERSION: str(sch.SCHEMA_VERSION).encode(),
            sch.METADATA_TABLE: name.encode(),
            sch.METADATA_CUSTOM: json.dumps([f.name for f in custom]).encode(),
        }
    )
    return table.replace_schema_metadata(meta)


def _frame_payload(source: FrameSource, i: int) -> tuple[bytes, str]:
    """Image files travel as their own bytes; decoded pixels (arrays, video) as lossless PNG."""
    from ..frames import _ImageBytesSource, _sniff_mime

    if isinstance(source, _ImageBytesSource):
        data = source._bytes(i)
        return data, _sniff_mime(data) or "application/octet-stream"
    ok, png = cv2.imencode(".png", np.ascontiguousarray(source.read(i)[..., ::-1]))
    if not ok:
        raise ValidationError(f"to_parquet: could not encode frame {i} of {source!r} as PNG")
    return png.tobytes(), "image/png"


def _embedded_frames(ds: Dataset, frames: pa.Table) -> pa.Table:
    from tqdm.auto import tqdm

    data: list[bytes | None] = []
    mimes: list[str | None] = []
    seqs = frames.column("sequence_id").to_pylist()
    idx = frames.column("frame_index").to_pylist()
    for seq_id, i in tqdm(
        list(zip(seqs, idx)), desc="embedding frames", disable=len(seqs) < 200, leave=False
    ):
        source = ds.frame_source(seq_id)
        if source is None:
            data.append(None)
            mimes.append(None)
            continue
        payload, mime = _frame_payload(source, i)
        data.append(payload)
        mimes.append(mime)
    return frames.append_column(EMBED_COLUMNS[0], pa.array(data, pa.binary())).append_column(
        EMBED_COLUMNS[1], pa.array(mimes, pa.string())
    )


def write_parquet(ds: Dataset, path: Any, *, overwrite: bool = False, embed_frames: bool = False) -> Path:
    target = Path(path)
    check_target(target, "to_parquet", overwrite=overwrite, kind="parquet")
    with ds._lock:  # a consistent snapshot even while a propagation thread writes
        tables = ds.tables()
    if embed_frames:
        tables["frames"] = _embedded_frames(ds, tables["frames"])
    with staged(target, "parquet", overwrite=overwrite, what="to_parquet") as tmp:
        for name, table in tables.items():
            table = _with_metadata(table, name, ds.custom_fields.get(name, []))
            # min/max statistics of RLE or image bytes help no reader and cost write time
            stats = [f.name for f in table.schema if not pa.types.is_binary(f.type)]
            pq.write_table(table, tmp / f"{name}.parquet", write_statistics=stats)
    return target


def _read_table(folder: Path, name: str) -> pa.Table:
    file = folder / f"{name}.parquet"
    if not file.is_file():
        raise ValidationError(
            f"from_parquet: missing table {name!r} ({file.name} not found in {str(folder)!r})"
        )
    readable = [str(v).encode() for v in range(1, sch.SCHEMA_VERSION + 1)]
    try:  # one open file for schema and rows: an export swapped in meanwhile cannot mix into it
        with pq.ParquetFile(file) as pf:
            meta = pf.schema_arrow.metadata or {}
            version = meta.get(sch.METADATA_VERSION)
            table = pf.read() if version in readable else None
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValidationError(f"from_parquet: {file.name} is not a readable parquet file: {exc}") from None
    if version is None:
        raise ValidationError(
            f"from_parquet: {file.name} has no vidlabel schema version; not a vidlabel export"
        )
    if table is None:
        raise ValidationError(
            f"from_parquet: {file.name} has schema version {version.decode(errors='replace')}, "
            f"this vidlabel reads versions 1 to {sch.SCHEMA_VERSION}"
        )
    for f in sch.BUILTIN[name]:
        added = sch.ADDED_IN.get((name, f.name), 1)
        if f.name not in table.column_names and int(version) < added:
            table = table.append_column(f, pa.nulls(table.num_rows, f.type))  # older file: not set
        if f.name not in table.column_names:
            raise ValidationError(f"from_parquet: table {name!r} lacks column {f.name!r}")
        if not table.schema.field(f.name).type.equals(f.type):
            raise ValidationError(
                f"from_parquet: {name}.{f.name} has type {table.schema.field(f.name).type}, expected {f.type}"
            )
    return table


def _custom_fields(table: pa.Table, name: str) -> list[pa.Field]:
    builtin = {f.name for f in sch.BUILTIN[name]}
    return [table.schema.field(c) for c in table.column_names if c not in builtin]


def _check_refs(tables: dict[str, pa.Table]) -> None:
    """Every annotation points at a known sequence and entity (cheap: vectorised set lookups)."""
    seq_ids = tables["sequences"].column("id")
    ent_ids = tables["entities"].column("id")
    checks = [("entities", "sequence_id", seq_ids), ("tracklets", "entity_id", ent_ids)]
    checks += [(t, "entity_id", ent_ids) for t in ("masks", "boxes", "states")]
    checks += [(t, "sequence_id", seq_ids) for t in ("frames", "tracklets", "masks", "boxes", "states")]
    for table, column, known in checks:
        col = tables[table].column(column)
        if len(col) and not pc.all(pc.is_in(col, value_set=known)).as_py():
            bad = pc.filter(col, pc.invert(pc.is_in(col, value_set=known)))[0].as_py()
            raise ValidationError(f"from_parquet: {table}.{column} refers to unknown id {bad!r}")


def read_parquet(path: Any) -> Dataset:
    with no_gc():  # see io.extra.no_gc: GC passes over the loaded rows grew the cost per sequence
        return _read_parquet(path)


def _read_parquet(path: Any) -> Dataset:
    from ..dataset import Dataset, _FrameInfo
    from ..frames import EncodedSource, open_source

    folder = Path(path)
    if not folder.is_dir():
        raise ValidationError(f"from_parquet: {str(folder)!r} is not a folder")
    tables = {name: _read_table(folder, name) for name in sch.TABLES}
    _check_refs(tables)
    ds = Dataset(
        sequence_fields=_custom_fields(tables["sequences"], "sequences"),
        entity_fields=_custom_fields(tables["entities"], "entities"),
        state_fields=_custom_fields(tables["states"], "states"),
    )
    for name in ("sequences", "entities", "tracklets", "masks", "boxes", "states"):
        ds._tables[name].load(tables[name])
    frames = tables["frames"].sort_by([("sequence_id", "ascending"), ("frame_index", "ascending")])
    embedded = "data" in frames.column_names
    # each sequence's rows are one slice of the sorted table: no scan of every frame per sequence
    starts: dict[str, tuple[int, int]] = {}
    at = 0
    for seq_id, run in groupby(frames.column("sequence_id").to_pylist()):
        n = sum(1 for _ in run)
        starts[seq_id] = (at, n)
        at += n
    for seq in tables["sequences"].to_pylist():
        seq_id = seq["id"]
        rows = frames.slice(*starts.get(seq_id, (0, 0)))
        if rows.num_rows != seq["num_frames"]:
            raise ValidationError(
                f"from_parquet: sequence {seq_id!r} has {rows.num_rows} frame rows, "
                f"expected num_frames={seq['num_frames']}"
            )
        uris = rows.column("uri").to_pylist()
        ds._frames.put((seq_id,), _FrameInfo(rows.column("timestamp").to_numpy(zero_copy_only=False), uris))
        source: FrameSource | None = None
        try:
            if embedded and rows.column("data").null_count == 0:
                source = EncodedSource(
                    rows.column("data").to_pylist(),
                    rows.column("mime").to_pylist(),
                    fps=seq["fps"],
                    cache=ds.frame_cache,
                )
            elif seq["source_kind"] == "images":
                source = open_source([u for u in uris if u is not None], fps=seq["fps"], cache=ds.frame_cache)
            elif seq["source_kind"] == "video" and seq["source_uri"]:
                source = open_source(seq["source_uri"], fps=seq["fps"], cache=ds.frame_cache)
        except ValidationError as exc:
            warnings.warn(
                f"sequence {seq_id!r}: frames not found ({exc}); annotations loaded without pixels",
                RuntimeWarning,
                stacklevel=3,
            )
            source = None
        if source is not None and (
            len(source) != seq["num_frames"] or tuple(source.size) != (seq["width"], seq["height"])
        ):
            warnings.warn(
                f"sequence {seq_id!r}: its frames changed on disk; annotations loaded without pixels",
                RuntimeWarning,
                stacklevel=3,
            )
            source = None
        if source is not None:
            ds._sources.put((seq_id,), source)
    return ds
