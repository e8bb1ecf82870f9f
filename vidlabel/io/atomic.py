"""Atomic exports: write into a hidden temp sibling, then swap it in with renames.

Readers of an export path see the old content or the new, never half of each; an error
midway leaves the old content intact and removes the temp sibling. Shared by every writer.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ValidationError

__all__ = ["check_target", "staged", "swap_in"]


def check_target(target: Path, what: str, *, overwrite: bool, folder: bool) -> None:
    """Refuse to replace existing content unless ``overwrite`` (an empty file or folder is not content).

    ``folder`` says what the export is: a file export never replaces a folder, overwrite or not.
    """
    if not folder and target.is_dir():
        raise ValidationError(f"{what}: {str(target)!r} is a folder; give the path of a file")
    if not target.exists() or overwrite:
        return
    if (target.is_file() and target.stat().st_size > 0) or (target.is_dir() and any(target.iterdir())):
        raise ValidationError(
            f"{what}: {str(target)!r} exists and is not empty; pass overwrite=True to replace it"
        )


@contextmanager
def staged(target: Path, *, folder: bool = True) -> Iterator[Path]:
    """Yield a temp sibling of ``target`` (a new empty folder, or a file path not yet created)
    that replaces ``target`` when the block ends without error; on error it is removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    if folder:
        tmp.mkdir()
    try:
        yield tmp
        swap_in(tmp, target)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def swap_in(tmp: Path, target: Path) -> None:
    """Replace ``target`` by ``tmp`` with renames, so readers see the old or the new set, never half."""
    if not target.exists():
        os.replace(tmp, target)
        return
    old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)
        raise
    if old.is_dir():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink(missing_ok=True)
