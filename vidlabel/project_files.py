"""The small file-level pieces of a project folder: json files written durably, fsync of folders,
names for frame folders, and the check every journaled row passes on replay (see project.py)."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import ValidationError


class PendingSource:
    """A frame source named in the journal, reopened from the sequence's rows once replay is done."""

    def __init__(self, seq: str) -> None:
        self.seq = seq

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PendingSource) and other.seq == self.seq

    def __hash__(self) -> int:
        return hash(self.seq)


def check_row(folder: Path, store: Any, key: tuple[Any, ...], row: Any, ds: Any) -> None:
    """A journaled row must be one the dataset could hold: a known store, a key of the right shape,
    and for tables exactly the schema's columns with the key's values (validation.py checks the rest)."""
    from . import schema as sch

    where = f"open: project {str(folder)!r}: journal row of {store!r} at {key!r}"
    if store in ("frames", "sources"):
        if len(key) != 1 or not isinstance(key[0], str):
            raise ValidationError(f"{where}: malformed key")
        if (
            store == "frames"
            and row is not None
            and (not isinstance(row, dict) or set(row) != {"timestamps", "uris"})
        ):
            raise ValidationError(f"{where}: malformed frame list")
        return
    if store not in sch.KEYS or store == "frames":
        raise ValidationError(f"{where}: unknown table")
    if row is None:
        return
    names = ds.schema(store).names if ds is not None else None
    if not isinstance(row, dict) or (names is not None and list(row) != names and set(row) != set(names)):
        raise ValidationError(f"{where}: its columns are not the table's")
    if tuple(row.get(k) for k in sch.KEYS[store]) != key:
        raise ValidationError(
            f"{where}: the row's key columns say {tuple(row.get(k) for k in sch.KEYS[store])!r}"
        )


def safe_name(seq_id: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in seq_id).strip(".") or "sequence"
    return keep[:64]


def write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as fh:
        json.dump(value, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValidationError(f"open: {str(path)!r} is unreadable: {exc}") from None
    if not isinstance(value, dict):
        raise ValidationError(f"open: {str(path)!r} is not a vidlabel project file")
    return value


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes) -> None:
    """A new file, on disk (fsynced) when this returns."""
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


@contextmanager
def new_folder(final: Path) -> Iterator[Path]:
    """A temp sibling to fill; once the block ends it is fsynced and renamed to ``final`` (its
    parent fsynced too), so ``final`` never exists half-written; on error the temp is removed."""
    tmp = final.parent / f".tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        fsync_dir(tmp)
        os.replace(tmp, final)
        fsync_dir(final.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
