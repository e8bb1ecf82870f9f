"""Parquet: one plain parquet file per table in a folder.

The schema version, the table's name and its custom fields ride in each file's Arrow
schema metadata, so pandas, polars and DuckDB read the files as they are (masks are a
binary ``counts`` column with ``height`` and ``width``). Writing is atomic: the files
go to a hidden sibling folder that replaces the target only once all of them are
written, so a failure midway leaves any earlier export intact.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .. import schema as sch
from ..errors import ValidationError
from ..validation import validate_tables
from .atomic import check_target, staged
from .extra import no_gc

if TYPE_CHECKING:
    from ..dataset import Dataset
    from ..frames import FrameSource

EMBED_COLUMNS = sch.FRAME_PAYLOAD


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
    from ..frames import ImageBytesSource
    from ..images import sniff_mime

    if isinstance(source, ImageBytesSource):
        data = source.file_bytes(i)
        return data, sniff_mime(data) or "application/octet-stream"
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
    with ds.snapshot():  # one consistent version even while a propagation thread writes
        tables = ds.tables()
    if embed_frames:
        tables["frames"] = _embedded_frames(ds, tables["frames"])
    with staged(target, "parquet", overwrite=overwrite, what="to_parquet") as tmp:
        write_tables(tables, ds.custom_fields, tmp, fsync=False)  # staged fsyncs before the swap
    return target


def write_tables(
    tables: Mapping[str, pa.Table], custom: Mapping[str, list[pa.Field]], folder: Path, *, fsync: bool = True
) -> None:
    """One parquet file per table into an existing folder (page checksums on; each file fsynced)."""
    for name, table in tables.items():
        table = _with_metadata(table, name, custom.get(name, []))
        # min/max statistics of RLE or image bytes help no reader and cost write time
        stats = [f.name for f in table.schema if not pa.types.is_binary(f.type)]
        file = folder / f"{name}.parquet"
        pq.write_table(table, file, write_statistics=stats, write_page_checksum=True)
        if fsync:
            with open(file, "rb+") as fh:
                os.fsync(fh.fileno())


def _read_table(folder: Path, name: str) -> pa.Table:
    file = folder / f"{name}.parquet"
    if not file.is_file():
        raise ValidationError(
            f"from_parquet: missing table {name!r} ({file.name} not found in {str(folder)!r})"
        )
    readable = [str(v).encode() for v in range(1, sch.SCHEMA_VERSION + 1)]
    try:  # one open file for schema and rows: an export swapped in meanwhile cannot mix into it
        with pq.ParquetFile(file, page_checksum_verification=True) as pf:
            meta = pf.schema_arrow.metadata or {}
            version = meta.get(sch.METADATA_VERSION)
            table = pf.read() if version in readable else None
    except (pa.ArrowException, OSError) as exc:
        raise ValidationError(f"from_parquet: {file.name} is damaged or not a parquet file: {exc}") from None
    if version is None:
        raise ValidationError(
            f"from_parquet: {file.name} has no vidlabel schema version; not a vidlabel export"
        )
    if table is None:
        raise ValidationError(
            f"from_parquet: {file.name} has schema version {version.decode(errors='replace')}, "
            f"this vidlabel reads versions 1 to {sch.SCHEMA_VERSION}"
        )
    for f in sch.BUILTIN[name]:  # older files lack newer columns: read as not set
        added = sch.ADDED_IN.get((name, f.name), 1)
        if f.name not in table.column_names and int(version) < added:
            table = table.append_column(f, pa.nulls(table.num_rows, f.type))
    return table


def read_tables(folder: Path, *, what: str = "from_parquet") -> dict[str, pa.Table]:
    """The seven tables of a parquet folder, validated (validation.py) before anything is built."""
    if not folder.is_dir():
        raise ValidationError(f"{what}: {str(folder)!r} is not a folder")
    tables = {name: _read_table(folder, name) for name in sch.TABLES}
    validate_tables(tables, source=f"{what} {str(folder)!r}")
    return tables


def read_parquet(path: Any, **options: Any) -> Dataset:
    from ..loading import dataset_from_tables

    folder = Path(path)
    with no_gc():  # see io.extra.no_gc: GC passes over the loaded rows grew the cost per sequence
        return dataset_from_tables(read_tables(folder), what="from_parquet", **options)
