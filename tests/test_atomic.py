"""Exports never destroy what is not theirs, swap in atomically and durably (io.atomic), for every writer."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_io_export import H, W, build, rect

import vidlabel as vl
from vidlabel.io import atomic
from vidlabel.io.atomic import MARKER

WRITE: dict[str, Callable[..., Any]] = {
    "parquet": lambda ds, path, **kw: ds.to_parquet(path, **kw),
    "davis": lambda ds, path, **kw: ds.to_davis(path, progress=False, **kw),
    "youtube_vos": lambda ds, path, **kw: ds.to_youtube_vos(path, progress=False, **kw),
    "coco": lambda ds, path, **kw: ds.to_coco(path, **kw),
}
READ: dict[str, Callable[[Path], vl.Dataset]] = {
    "parquet": vl.Dataset.from_parquet,
    "davis": lambda p: vl.read_davis(p, progress=False),
    "youtube_vos": lambda p: vl.read_youtube_vos(p, progress=False),
    "coco": lambda p: vl.read_coco(p, progress=False),
}
FOLDERS = ["parquet", "davis", "youtube_vos"]


def state(root: Path) -> dict[str, tuple[str, bytes, int]]:
    """Everything under ``root``: kind, bytes (files) and mtime of every file and folder."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.stat()
        out[str(p.relative_to(root))] = (
            ("dir", b"", st.st_mtime_ns)
            if p.is_dir()
            else (
                "file",
                p.read_bytes(),
                st.st_mtime_ns,
            )
        )
    return out


def foreign_folder(path: Path) -> None:
    path.mkdir()
    (path / "notes.txt").write_text("my notes")
    (path / "raw").mkdir()
    (path / "raw" / "take1.bin").write_bytes(b"\x00\x01" * 100)
    (path / "x.csv").write_text("a,b\n1,2\n")


@pytest.mark.parametrize("fmt", WRITE)
def test_overwrite_refuses_foreign_content_and_leaves_it_untouched(tmp_path: Path, fmt: str):
    out = tmp_path / "out"
    if fmt == "coco":
        out.write_text('{"mine": [1, 2, 3]}')
        message = r"is a file of 19 bytes that is not a vidlabel coco export; refusing to replace it"
    else:
        foreign_folder(out)
        message = rf"holds 3 entries \(notes.txt, raw/, x.csv\) and no vidlabel {fmt} marker; refusing"
    before = state(tmp_path)
    for overwrite in (True, False):
        with pytest.raises(vl.ValidationError, match=message):
            WRITE[fmt](build(), out, overwrite=overwrite)
        assert state(tmp_path) == before  # bytes and mtimes, and no temp sibling


@pytest.mark.parametrize("fmt", WRITE)
def test_a_file_export_never_replaces_a_folder_nor_a_folder_export_a_file(tmp_path: Path, fmt: str):
    out = tmp_path / "out"
    if fmt == "coco":
        out.mkdir()  # even an empty one
        message = "is a folder; give the path of a file"
    else:
        out.write_bytes(b"")  # even an empty one
        message = "is not a folder; give the path of a folder"
    before = state(tmp_path)
    with pytest.raises(vl.ValidationError, match=message):
        WRITE[fmt](build(), out, overwrite=True)
    assert state(tmp_path) == before


@pytest.mark.parametrize("fmt", WRITE)
def test_overwrite_replaces_a_previous_export_of_the_same_kind(tmp_path: Path, fmt: str):
    out = tmp_path / "out"
    ds = build()
    WRITE[fmt](ds, out)
    assert READ[fmt](out).entity_ids("clip")  # what it wrote reads back
    ds.remove_entity("clip", "car")
    with pytest.raises(vl.ValidationError, match="exists and is not empty; pass overwrite=True"):
        WRITE[fmt](ds, out)
    WRITE[fmt](ds, out, overwrite=True)
    back = READ[fmt](out)
    assert len(back.entity_ids("clip")) == len(ds.entity_ids("clip"))  # the new content is there
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temp or old sibling left
    if fmt != "coco":
        marker = json.loads((out / MARKER).read_text())
        assert marker["kind"] == fmt and marker["vidlabel"] == vl.__version__
        assert marker["entries"] == sorted(p.name for p in out.iterdir() if p.name != MARKER)


@pytest.mark.parametrize(("fmt", "other"), [(a, b) for a in FOLDERS for b in FOLDERS if a != b])
def test_overwrite_refuses_an_export_of_another_kind(tmp_path: Path, fmt: str, other: str):
    out = tmp_path / "out"
    WRITE[other](build(), out)
    before = state(tmp_path)
    with pytest.raises(vl.ValidationError, match=f"is a vidlabel {other} export, not a {fmt} one"):
        WRITE[fmt](build(), out, overwrite=True)
    assert state(tmp_path) == before


@pytest.mark.parametrize("fmt", FOLDERS)
def test_overwrite_refuses_an_export_that_holds_files_it_did_not_write(tmp_path: Path, fmt: str):
    out = tmp_path / "out"
    WRITE[fmt](build(), out)
    (out / "notes.txt").write_text("added by hand")
    before = state(tmp_path)
    with pytest.raises(vl.ValidationError, match=r"also holds 1 entry \(notes.txt\) it did not write"):
        WRITE[fmt](build(), out, overwrite=True)
    assert state(tmp_path) == before


def test_content_appearing_while_an_export_is_written_is_not_replaced(tmp_path: Path, monkeypatch):
    out = tmp_path / "out"
    real = pq.write_table

    def meanwhile(table: Any, where: Any, **kw: Any) -> None:
        if not out.exists():
            foreign_folder(out)  # someone else fills the target after it was checked
        real(table, where, **kw)

    monkeypatch.setattr(pq, "write_table", meanwhile)
    with pytest.raises(vl.ValidationError, match="no vidlabel parquet marker"):
        build().to_parquet(out)
    assert (out / "notes.txt").read_text() == "my notes" and len(list(out.iterdir())) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is a Linux call")
def test_readers_never_see_the_target_missing_or_half_written(tmp_path: Path, monkeypatch):
    small, large = build(), build()
    large.set_mask("clip", 0, "person", rect(H, W, 0, 0, 5, 5))  # one mask more
    rows = {len(small.table("masks")), len(large.table("masks"))}
    assert len(rows) == 2
    out = tmp_path / "out"
    small.to_parquet(out)
    exchanges = []
    real = atomic._renameat2

    def counting(*args: Any) -> int:
        exchanges.append(args[-1] == atomic.RENAME_EXCHANGE)
        return int(real(*args))

    monkeypatch.setattr(atomic, "_renameat2", counting)
    seen: list[Any] = []  # what the reader found: (marker, masks file) bytes, or the error
    done = threading.Event()

    def read() -> None:  # bytes only: pyarrow is kept out of the thread, parsing comes after
        while not done.is_set() and len(seen) < 20_000:
            try:
                seen.append(((out / MARKER).read_bytes(), (out / "masks.parquet").read_bytes()))
            except OSError as e:  # the export missing
                seen.append(e)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for k in range(30):
            (large if k % 2 else small).to_parquet(out, overwrite=True)
    finally:
        done.set()
        reader.join()
    assert sum(exchanges) == 30  # every overwrite was one exchange
    errors = [s for s in seen if isinstance(s, OSError)]
    assert seen and not errors, errors[:3]
    for marker, masks in set(seen):  # each file whole: a parquet table of one of the two exports
        assert json.loads(marker)["kind"] == "parquet"
        assert pq.read_table(pa.BufferReader(masks)).num_rows in rows
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("fmt", WRITE)
def test_without_the_exchange_call_two_renames_still_replace_the_export(
    tmp_path: Path, fmt: str, monkeypatch
):
    monkeypatch.setattr(atomic, "_renameat2", None)  # as on a system without renameat2
    out = tmp_path / "out"
    ds = build()
    WRITE[fmt](ds, out)
    ds.remove_entity("clip", "car")
    WRITE[fmt](ds, out, overwrite=True)
    assert len(READ[fmt](out).entity_ids("clip")) == len(ds.entity_ids("clip"))
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names fsynced fds through /proc")
@pytest.mark.parametrize("fmt", WRITE)
def test_every_file_and_folder_is_fsynced_before_the_swap_and_the_parent_after(
    tmp_path: Path, fmt: str, monkeypatch
):
    out = tmp_path / "out"
    WRITE[fmt](build(), out)
    synced: list[tuple[str, bool]] = []  # (path, whether the new export was already in place)
    old = out.stat().st_ino
    real = os.fsync

    def recording(fd: int) -> None:
        synced.append((os.readlink(f"/proc/self/fd/{fd}"), out.stat().st_ino != old))
        real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    WRITE[fmt](build(), out, overwrite=True)
    temps = {Path(p).name for p, _ in synced if Path(p).name.startswith(".out.tmp-")}
    assert len(temps) == 1, synced
    tmp = tmp_path / temps.pop()
    before = {p for p, swapped in synced if not swapped}
    after = {p for p, swapped in synced if swapped}
    if fmt == "coco":
        assert before == {str(tmp)}
    else:
        written = {str(tmp / p.relative_to(out)) for p in out.rglob("*")} | {str(tmp)}
        assert before == written  # every file and folder of the new export, and nothing else
    assert str(tmp_path) in after and str(tmp_path) not in before  # the parent, once swapped


@pytest.mark.parametrize("fmt", WRITE)
def test_a_failing_fsync_leaves_the_old_export_and_no_temp(tmp_path: Path, fmt: str, monkeypatch):
    out = tmp_path / "out"
    WRITE[fmt](build(), out)
    before = state(tmp_path)

    def failing(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing)
    with pytest.raises(OSError, match="Input/output error"):
        WRITE[fmt](build(), out, overwrite=True)
    assert state(tmp_path) == before
