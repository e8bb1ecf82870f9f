"""Atomic, durable exports that never destroy what is not theirs. Shared by every writer.

An export is written into a hidden temp sibling of its target, every file and folder of it is
fsynced, and it then takes the target's place. On Linux the swap is one ``renameat2`` call with
``RENAME_EXCHANGE``: at every moment the target path holds the old export or the new one, never
nothing and never half of each. Where that call is missing (another OS, a file system refusing the
flag) two renames are used instead, and for the moment between them the target path is missing.
An error midway leaves the old content intact and removes the temp sibling.

``overwrite=True`` replaces only a missing target, an empty file or folder, or a previous vidlabel
export of the same kind: a folder export is recognised by the marker file it writes (its kind and
the top-level names it wrote; a folder holding anything else is refused), a file export by the
head its content starts with (see :func:`file_head`). Anything else is refused with an error that
says what is there. A file export never replaces a folder, nor a folder export a file.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import stat
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import ValidationError

__all__ = ["MARKER", "check_target", "file_head", "staged", "swap_in"]

MARKER = ".vidlabel-export.json"
_MARKER_MAX = 1 << 20  # a marker larger than this was not written by vidlabel
_SHOWN = 5  # names quoted in a refusal
_FSYNC_WORKERS = 8  # concurrent fsyncs share journal commits


def file_head(kind: str) -> bytes:
    """The bytes a vidlabel file export of ``kind`` starts with: JSON ``{"vidlabel":{"export":kind``.

    Writers put that object first (json.dump keeps insertion order; compact separators), so a
    previous export is recognised from its first bytes without parsing the whole file.
    """
    return b'{"vidlabel":{"export":' + json.dumps(kind).encode() + b","


# ---------------------------------------------------------------------- what is at the target
def _entries(entries: list[os.DirEntry[str]]) -> str:
    """'3 entries (notes.txt, raw/, x.csv)': how many, and the first few names (folders end in '/')."""
    shown = sorted(e.name + ("/" if e.is_dir(follow_symlinks=False) else "") for e in entries)
    more = ", ..." if len(shown) > _SHOWN else ""
    count = "1 entry" if len(shown) == 1 else f"{len(shown)} entries"
    return f"{count} ({', '.join(shown[:_SHOWN])}{more})"


def _marker(folder: Path) -> dict[str, Any] | None:
    """The folder's vidlabel marker, or None when it has none that vidlabel wrote."""
    path = folder / MARKER
    try:
        st = path.lstat()
        if not stat.S_ISREG(st.st_mode) or st.st_size > _MARKER_MAX:
            return None
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    ok = (
        isinstance(data, dict)
        and isinstance(data.get("kind"), str)
        and isinstance(data.get("entries"), list)
        and all(isinstance(n, str) for n in data["entries"])
    )
    return data if ok else None


def _folder_problem(target: Path, kind: str) -> str | None:
    """Why the folder may not be replaced by a ``kind`` export, or None when it may (empty or ours)."""
    with os.scandir(target) as it:
        entries = list(it)
    if not entries:
        return None
    marker = _marker(target)
    if marker is None:
        return f"holds {_entries(entries)} and no vidlabel {kind} marker"
    if marker["kind"] != kind:
        return f"is a vidlabel {marker['kind']} export, not a {kind} one"
    written = set(marker["entries"]) | {MARKER}
    foreign = [e for e in entries if e.name not in written]
    if foreign:
        return f"is a vidlabel {kind} export but also holds {_entries(foreign)} it did not write"
    return None


def _file_problem(target: Path, kind: str) -> str | None:
    """Why the file may not be replaced by a ``kind`` file export, or None when it may (empty or ours)."""
    size = target.stat().st_size
    if size == 0:
        return None
    head = file_head(kind)
    with open(target, "rb") as fh:
        start = fh.read(len(head))
    if start == head:
        return None
    return f"is a file of {size} bytes that is not a vidlabel {kind} export"


def check_target(target: Path, what: str, *, overwrite: bool, kind: str, folder: bool = True) -> None:
    """Refuse a target that the ``kind`` export may not replace; see the module doc for the rules.

    Without ``overwrite`` only a missing target or an empty file or folder is accepted.
    """
    where = repr(str(target))
    if not (target.exists() or target.is_symlink()):
        return
    if folder and not target.is_dir():
        raise ValidationError(f"{what}: {where} is not a folder; give the path of a folder")
    if not folder and target.is_dir():
        raise ValidationError(f"{what}: {where} is a folder; give the path of a file")
    if not folder and not target.is_file():
        raise ValidationError(f"{what}: {where} is not a regular file; refusing to replace it")
    problem = _folder_problem(target, kind) if folder else _file_problem(target, kind)
    if problem is not None:
        allowed = "an empty folder" if folder else "an empty file"
        raise ValidationError(
            f"{what}: {where} {problem}; refusing to replace it "
            f"(overwrite=True replaces only {allowed} or a previous vidlabel {kind} export)"
        )
    empty = not any(target.iterdir()) if folder else target.stat().st_size == 0
    if not empty and not overwrite:
        raise ValidationError(
            f"{what}: {where} exists and is not empty; pass overwrite=True to replace it "
            f"(it is a previous vidlabel {kind} export)"
        )


# ---------------------------------------------------------------------- writing
def _write_marker(tmp: Path, kind: str) -> None:
    from .. import __version__

    entries = sorted(p.name for p in tmp.iterdir() if p.name != MARKER)
    data = {"kind": kind, "vidlabel": __version__, "entries": entries}
    (tmp / MARKER).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


@contextmanager
def staged(
    target: Path, kind: str, *, overwrite: bool = False, what: str | None = None, folder: bool = True
) -> Iterator[Path]:
    """Yield a temp sibling of ``target`` (a new empty folder, or a file path not yet created)
    that replaces ``target`` when the block ends without error; on error it is removed.

    A folder gets the ``kind`` marker; a file must start with :func:`file_head` of ``kind``. The
    target is checked again (as :func:`check_target` does) just before the swap, so content that
    appeared meanwhile is not destroyed either.
    """
    what = what or f"{kind} export"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    if folder:
        tmp.mkdir()
    try:
        yield tmp
        if folder:
            _write_marker(tmp, kind)
        else:
            with open(tmp, "rb") as fh:
                if fh.read(len(file_head(kind))) != file_head(kind):
                    raise RuntimeError(f"{what}: the file written does not start with {file_head(kind)!r}")
        check_target(target, what, overwrite=overwrite, kind=kind, folder=folder)
        swap_in(tmp, target)
    except BaseException:
        _remove(tmp)
        raise


def _fsync(path: str, directory: bool = False) -> None:
    if directory and sys.platform == "win32":  # folders cannot be opened (nor fsynced) there
        return
    fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_tree(root: Path) -> None:
    """fsync every file under ``root`` (a folder or a file), then every folder, deepest first."""
    if not root.is_dir():
        _fsync(str(root))
        return
    files: list[str] = []
    folders: list[str] = []
    for here, _, names in os.walk(root):
        folders.append(here)
        files.extend(os.path.join(here, n) for n in names)
    if len(files) > 2 * _FSYNC_WORKERS:
        with ThreadPoolExecutor(_FSYNC_WORKERS) as pool:
            list(pool.map(_fsync, files))
    else:
        for f in files:
            _fsync(f)
    for d in reversed(folders):
        _fsync(d, directory=True)


# renameat2(2) flags (linux/fs.h); AT_FDCWD resolves relative paths as rename(2) does
_AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP}


def _load_renameat2() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2  # glibc >= 2.28
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_renameat2: Any = _load_renameat2()


def _rename2(src: Path, dst: Path, flags: int) -> bool:
    """renameat2 with ``flags``; False where the call or the flag is not supported here."""
    if _renameat2 is None:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in _UNSUPPORTED:
        return False
    raise OSError(err, os.strerror(err), str(src), None, str(dst))


def swap_in(tmp: Path, target: Path) -> None:
    """Durably replace ``target`` by ``tmp``: fsync all of ``tmp``, swap, fsync the parent, delete the old.

    No checks: callers decide whether ``target`` may be replaced (see :func:`staged`). With
    RENAME_EXCHANGE the target path is never missing; without it, it is for the moment between
    two renames.
    """
    _sync_tree(tmp)
    parent = str(target.parent)
    if not (target.exists() or target.is_symlink()):
        if not _rename2(tmp, target, RENAME_NOREPLACE):
            os.replace(tmp, target)
        _fsync(parent, directory=True)
        return
    if _rename2(tmp, target, RENAME_EXCHANGE):
        _fsync(parent, directory=True)
        _remove(tmp)  # the exchange left the old content under the temp name
        return
    old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)
        raise
    _fsync(parent, directory=True)
    _remove(old)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
