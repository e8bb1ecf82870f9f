"""Project folders: a dataset that survives a dead kernel.

``vl.open("shoot.vlproj")`` gives a Dataset whose every committed transaction is in the folder's
journal (journal.py: SQLite, WAL, synchronous=FULL) before the edit call returns; a propagation's
frames are group-committed and reported once durable. A checkpoint folds the journal into the
parquet layout ``to_parquet`` writes (plus the undo history), automatically once the journal has
grown by ``checkpoint_bytes`` and on ``ds.checkpoint()``; reopening loads the newest checkpoint and
replays the journal records after it. The layout::

    shoot.vlproj/
      project.json          what this folder is
      lock                  the writer's lock (lock.py): pid and host of the holder
      journal.sqlite        committed transactions since the checkpoint (+ -wal, -shm)
      checkpoints/<n>/      tables as parquet + history.bin, n = the last journal record they hold
      frames/<sequence>/    pixels of sequences added from arrays (lossless PNG)

Paths inside the folder are stored relative to it, so the folder can be moved.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from . import schema as sch
from .core import FrameInfo
from .errors import ValidationError
from .history import Step, op_bytes
from .journal import Journal, Record, decode_value, encode_value
from .lock import ProjectLock
from .project_files import (
    PendingSource,
    check_row,
    new_folder,
    read_json,
    safe_name,
    write_durably,
    write_json,
)
from .versions import Op

if TYPE_CHECKING:
    from .dataset import Dataset
    from .frames import FrameSource

FORMAT = "vidlabel-project"
FORMAT_VERSION = 1
DEFAULT_CHECKPOINT_BYTES = 64 * 2**20
_SOURCE = "frame-source"  # what a frame source is in the journal: it is reopened from its rows


def open_project(
    path: str | os.PathLike[str],
    *,
    readonly: bool = False,
    sequence_fields: Any = None,
    entity_fields: Any = None,
    state_fields: Any = None,
    checkpoint_bytes: int = DEFAULT_CHECKPOINT_BYTES,
    **options: Any,
) -> Dataset:
    """Open the project folder at ``path`` (created, with the given custom fields, if missing).

    A second writer is refused with an error naming the process that holds the folder;
    ``readonly=True`` gives a consistent snapshot that refuses edits.
    """
    from .dataset import Dataset

    folder = Path(path).resolve()
    marker = folder / "project.json"
    if not marker.is_file():
        if readonly:
            raise ValidationError(f"open: {str(folder)!r} is not a vidlabel project (no project.json)")
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise ValidationError(
                f"open: {str(folder)!r} exists and is not a vidlabel project; give a new or empty folder"
            )
        ds = Dataset(
            sequence_fields=sequence_fields, entity_fields=entity_fields, state_fields=state_fields, **options
        )
        Project.create(folder, ds, checkpoint_bytes=checkpoint_bytes)
        return ds
    if sequence_fields or entity_fields or state_fields:
        declared = Project.fields_of(folder)
        asked = Dataset(
            sequence_fields=sequence_fields, entity_fields=entity_fields, state_fields=state_fields
        )
        for table, fields in asked.custom_fields.items():
            if fields and [(f.name, str(f.type)) for f in fields] != declared.get(table):
                raise ValidationError(
                    f"open: project {str(folder)!r} declares {table} fields {declared.get(table)}, "
                    f"not {[(f.name, str(f.type)) for f in fields]}"
                )
    return Project.reopen(folder, readonly=readonly, checkpoint_bytes=checkpoint_bytes, **options)


class Project:
    """The folder behind a project-backed Dataset: its journal, lock and checkpoints (see the module)."""

    def __init__(
        self, folder: Path, journal: Journal, lock: ProjectLock | None, *, checkpoint_bytes: int
    ) -> None:
        self.folder = folder.resolve()
        self.journal = journal
        self.lock = lock
        self.readonly = lock is None
        self.checkpoint_bytes = int(checkpoint_bytes)
        self._ds: Dataset | None = None
        self._last = 0  # the journal number of the last record appended
        self._since = 0  # bytes journaled since the last checkpoint, roughly
        self._checkpointing = threading.Lock()
        self._groups: list[tuple[int, str, list[Op]]] = []  # runs a checkpoint caught going on
        self._retired: list[str] = []  # entity ids the checkpoint says are never to be given again
        self.base_meta: bytes | None = None  # the checkpoint's journal number, as read at open
        self._auto: threading.Thread | None = None
        self.closed = False

    def __repr__(self) -> str:
        mode = "closed" if self.closed else "read-only" if self.readonly else "writer"
        return f"<vidlabel.Project {str(self.folder)!r} ({mode}, journal at {self._last})>"

    # ------------------------------------------------------------------ making and opening
    @classmethod
    def create(cls, folder: Path, ds: Dataset, *, checkpoint_bytes: int) -> Project:
        folder.mkdir(parents=True, exist_ok=True)
        lock = ProjectLock(folder).acquire()
        try:
            write_json(folder / "project.json", {"format": FORMAT, "version": FORMAT_VERSION})
            journal = Journal(folder / "journal.sqlite")
            project = cls(folder, journal, lock, checkpoint_bytes=checkpoint_bytes)
            project._ds = ds
            ds.project = project
            project._keep_array_frames()
            project._bind(ds)
            project.checkpoint()
        except BaseException:
            lock.release()
            raise
        return project

    @classmethod
    def reopen(cls, folder: Path, *, readonly: bool, checkpoint_bytes: int, **options: Any) -> Dataset:
        if not readonly:
            return cls._reopen(folder, readonly=False, checkpoint_bytes=checkpoint_bytes, **options)
        # a read-only open races the writer's checkpoints: if one landed while we read (the journal
        # moved past the checkpoint we loaded, or that checkpoint went), read again
        for attempt in range(5):
            with Journal(folder / "journal.sqlite", readonly=True) as before:
                seen = before.meta().get("seq")
            try:
                ds = cls._reopen(folder, readonly=True, checkpoint_bytes=checkpoint_bytes, **options)
            except ValidationError:
                with Journal(folder / "journal.sqlite", readonly=True) as now:
                    moved = now.meta().get("seq") != seen
                if attempt == 4 or not moved:  # a damaged folder stays damaged: say so at once
                    raise
                continue
            project = ds.project
            with Journal(folder / "journal.sqlite", readonly=True) as now:
                if now.meta().get("seq") == project.base_meta:
                    return ds
            project.journal.close()
        raise ValidationError(
            f"open: project {str(folder)!r} kept changing under a read-only open; try again"
        )

    @classmethod
    def _reopen(cls, folder: Path, *, readonly: bool, checkpoint_bytes: int, **options: Any) -> Dataset:
        from .io.parquet import read_tables
        from .loading import dataset_from_tables

        info = read_json(folder / "project.json")
        if info.get("format") != FORMAT or info.get("version") != FORMAT_VERSION:
            raise ValidationError(
                f"open: {str(folder)!r}: project.json is not a vidlabel project of version 1"
            )
        lock = None if readonly else ProjectLock(folder).acquire()
        try:
            journal = Journal(folder / "journal.sqlite", readonly=readonly)
            meta = journal.meta()
            name = meta.get("checkpoint", b"").decode(errors="replace")
            ckpt = folder / "checkpoints" / name
            if not name or not ckpt.is_dir():
                raise ValidationError(f"open: project {str(folder)!r} has no checkpoint {name!r}")
            try:
                tables = read_tables(ckpt, what=f"open {folder.name}: checkpoint")
            except ValidationError as exc:
                raise ValidationError(
                    f"open: project {str(folder)!r}: checkpoint {name} is damaged: {exc}"
                ) from None
            ds = dataset_from_tables(tables, root=folder, what=f"open {folder.name}", **options)
            project = cls(folder, journal, lock, checkpoint_bytes=checkpoint_bytes)
            project._ds = ds
            undo, redo = project._read_history(ckpt / "history.bin")
            ds.restore_history(undo, redo, project._groups, project._retired)
            project.base_meta = meta.get("seq")
            base = int(meta.get("seq", b"0"))
            project._last = base
            reopened: set[str] = set()
            replayed = 0
            for seq, rec in journal.records(after=base):
                replayed += 1
                ops = [project._decode_op(op) for op in rec.ops]
                reopened |= {op[1][0] for op in ops if op[0] == "sources" and op[3] is not None}
                ds.replay(rec.kind, rec.label, ops, rec.extra)
                project._last = seq
            cut = ds.finish_replay()
            if replayed:  # the journal's rows pass the same checks as a checkpoint's
                from .validation import validate_tables

                where = f"open {str(folder)!r} (checkpoint + {replayed} journal records)"
                try:
                    tables = ds.tables()
                except (pa.ArrowException, OverflowError, TypeError, ValueError) as exc:
                    # a row whose value does not fit its column's type (a damaged or hostile journal)
                    raise ValidationError(f"{where}: a journal row does not fit its table: {exc}") from None
                validate_tables(tables, source=where)
            project._reopen_sources(sorted(reopened))
            project._bind(ds)
            for gid in cut:  # later opens close these runs here too, before what comes next
                if not readonly:
                    project.record("group_close", "", [], {"group": gid, "cut_off": True}, wait=True)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        if readonly:
            ds.refuse_edits(f"project {str(folder)!r} was opened with readonly=True; edits are refused")
        return ds

    @staticmethod
    def fields_of(folder: Path) -> dict[str, list[tuple[str, str]]]:
        from .io.parquet import read_tables
        from .loading import custom_fields

        name = Journal(folder / "journal.sqlite", readonly=True).meta().get("checkpoint", b"").decode()
        tables = read_tables(folder / "checkpoints" / name)
        return {
            t: [(f.name, str(f.type)) for f in custom_fields(tables[t], t)]
            for t in ("sequences", "entities", "states")
        }

    def _bind(self, ds: Dataset) -> None:
        self._ds = ds
        ds.project = self
        if not self.readonly:
            ds.attach_sink(self)

    def _reopen_sources(self, seqs: list[str]) -> None:
        from .loading import open_frames

        ds = self._ds
        assert ds is not None
        for seq in seqs:
            if seq not in ds.sequence_ids():
                continue
            row = ds.sequence(seq)
            uris = [ds.frame_uri(seq, i) for i in range(row["num_frames"])]
            source = open_frames(row, uris, root=None, cache=ds.frame_cache)
            ds.replace_source(seq, source)

    # ------------------------------------------------------------------ the journal (Dataset's sink)
    def record(self, kind: str, label: str, ops: list[Op], extra: dict[str, Any], *, wait: bool) -> int:
        rec = Record(kind, label, [self._encode_op(op) for op in ops], extra)
        self._last = self.journal.append(rec, wait=wait)
        self._since += sum(op_bytes(op) for op in ops)
        if self._since > self.checkpoint_bytes and (self._auto is None or not self._auto.is_alive()):
            self._since = 0
            self._auto = threading.Thread(
                target=self._auto_checkpoint, name="vidlabel-checkpoint", daemon=True
            )
            self._auto.start()
        return self._last

    def durable(self) -> int:
        return self.journal.durable_seq

    def last(self) -> int:
        return self._last

    def wait(self, ticket: int | None = None) -> None:
        self.journal.wait(ticket)

    def _auto_checkpoint(self) -> None:
        try:
            self.checkpoint()
        except Exception as exc:  # the journal still holds everything: a missed checkpoint loses nothing
            warnings.warn(
                f"vidlabel: automatic checkpoint of {self.folder} failed: {exc!r}",
                RuntimeWarning,
                stacklevel=1,
            )

    # ------------------------------------------------------------------ values in files
    def _rel(self, uri: Any) -> Any:
        if not isinstance(uri, str) or "://" in uri:
            return uri
        path = os.path.abspath(uri)
        root = str(self.folder)
        return os.path.relpath(path, root) if path.startswith(root + os.sep) else uri

    def _abs(self, uri: Any) -> Any:
        if not isinstance(uri, str) or "://" in uri or os.path.isabs(uri):
            return uri
        return str(self.folder / uri)

    def _encode_op(self, op: Op) -> Op:
        store, key, before, after = op
        return (store, key, self._encode(store, before), self._encode(store, after))

    def _encode(self, store: str, v: Any) -> Any:
        if v is None:
            return None
        if store == "frames":
            return {
                "timestamps": np.asarray(v.timestamps, np.float64).tolist(),
                "uris": [self._rel(u) for u in v.uris],
            }
        if store == "sources":
            return _SOURCE
        if store == "sequences":
            return {**v, "source_uri": self._rel(v.get("source_uri"))}
        return v

    def _decode_op(self, op: Any) -> Op:
        """A journal op back as the dataset's, checked: its checksum only says it is what was written."""
        try:
            store, key, before, after = op
            key = tuple(key)
        except (TypeError, ValueError):
            raise ValidationError(f"open: project {str(self.folder)!r}: a journal op is malformed") from None
        if (
            store in sch.KEYS and store != "frames"
        ):  # rows journaled before a newer built-in column read it as null
            before, after = (sch.upgrade_row(store, r) if isinstance(r, dict) else r for r in (before, after))
        for row in (before, after):
            check_row(self.folder, store, key, row, self._ds)
        return (store, key, self._decode(store, key, before), self._decode(store, key, after))

    def _decode(self, store: str, key: Any, v: Any) -> Any:
        if v is None:
            return None
        if store == "frames":
            return FrameInfo(np.asarray(v["timestamps"], np.float64), [self._abs(u) for u in v["uris"]])
        if store == "sources":
            return PendingSource(key[0])
        if store == "sequences":
            return {**v, "source_uri": self._abs(v.get("source_uri"))}
        return v

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(self) -> Path:
        """Fold the journal into a new checkpoint (tables as parquet, plus the undo history)."""
        from .io.parquet import write_tables

        ds = self._ds
        assert ds is not None
        if self.readonly:
            raise ValidationError(f"checkpoint: project {str(self.folder)!r} was opened read-only")
        with self._checkpointing:
            cap = ds.capture()  # version, history and journal number from one instant
            upto = cap.journal
            self.journal.wait(upto)
            with cap.snapshot:
                tables = ds.tables()
            tables = self._relative_tables(tables)
            root = self.folder / "checkpoints"
            root.mkdir(exist_ok=True)
            final = root / f"{upto:012d}"
            if not final.exists():
                with new_folder(final) as tmp:
                    write_tables(tables, ds.custom_fields, tmp)
                    history = (
                        [self._encode_step(s) for s in cap.undo],
                        [self._encode_step(s) for s in cap.redo],
                        [
                            [g, label, encode_value([self._encode_op(op) for op in ops])]
                            for g, label, ops in cap.groups
                        ],
                        cap.retired,
                    )
                    write_durably(tmp / "history.bin", encode_value(history))
            old = self.journal.meta().get("checkpoint", b"").decode()
            self.journal.truncate(upto, {"checkpoint": final.name.encode(), "seq": str(upto).encode()})
            # older checkpoints and temps a crash left behind go; the one before this stays for a
            # read-only open that may be loading it right now
            for stale in root.iterdir():
                if stale.name in (final.name, old) or stale.is_symlink() or not stale.is_dir():
                    continue
                if stale.name.startswith(".tmp-") or (stale.name.isdigit() and len(stale.name) == 12):
                    shutil.rmtree(stale, ignore_errors=True)
            self._since = 0
            return final

    def _relative_tables(self, tables: Mapping[str, pa.Table]) -> dict[str, pa.Table]:
        out = dict(tables)
        frames = out["frames"]
        uris = pa.array([self._rel(u) for u in frames.column("uri").to_pylist()], pa.string())
        out["frames"] = frames.set_column(frames.schema.get_field_index("uri"), "uri", uris)
        seqs = out["sequences"]
        src = pa.array([self._rel(u) for u in seqs.column("source_uri").to_pylist()], pa.string())
        out["sequences"] = seqs.set_column(seqs.schema.get_field_index("source_uri"), "source_uri", src)
        return out

    def _encode_step(self, step: Step) -> list[Any]:
        ops = encode_value([self._encode_op(op) for op in step.ops])
        return [step.label, step.nbytes, ops, step.rebased]

    def _read_history(self, file: Path) -> tuple[list[Step], list[Step]]:
        """The undo and redo steps a checkpoint holds; each step's rows are decoded on first use."""
        if not file.is_file():
            return [], []
        try:
            undo, redo, *more = decode_value(file.read_bytes())
            self._retired = [str(e) for e in (more[1] if len(more) > 1 else [])]
            parts = [
                [
                    self._lazy_step(str(e[0]), int(e[1]), bytes(e[2]), bool(e[3]) if len(e) > 3 else False)
                    for e in p
                ]
                for p in (undo, redo)
            ]
            self._groups = [
                (int(gid), str(label), [self._decode_op(op) for op in decode_value(bytes(blob))])
                for gid, label, blob in (more[0] if more else [])
            ]
        except (ValidationError, ValueError, TypeError) as exc:
            warnings.warn(
                f"project {self.folder}: undo history unreadable ({exc}); starting without it",
                RuntimeWarning,
                stacklevel=3,
            )
            return [], []
        return parts[0], parts[1]

    def _lazy_step(self, label: str, nbytes: int, blob: bytes, rebased: bool = False) -> Step:
        def load() -> list[Op]:
            try:
                ops = [self._decode_op(op) for op in decode_value(blob)]
            except (ValidationError, ValueError, TypeError) as exc:
                raise ValidationError(
                    f"project {self.folder}: undo step {label!r} is unreadable: {exc}"
                ) from None
            return [self._resolve_pending(op, ops) for op in ops]

        step = Step(label, None, None, nbytes, load=load)
        step.rebased = rebased  # its undo trims tracklets, as it would have before the checkpoint
        return step

    def _resolve_pending(self, op: Op, ops: list[Op]) -> Op:
        """A frame source in an undo step comes back as the source its own rows (or today's) describe."""
        store, key, before, after = op
        if store != "sources":
            return op
        return (store, key, self._source_for(key[0], before, ops), self._source_for(key[0], after, ops))

    def _source_for(self, seq: str, v: Any, ops: list[Op]) -> Any:
        from .loading import open_frames

        if not isinstance(v, PendingSource):
            return v
        ds = self._ds
        assert ds is not None
        row = next((o[2] or o[3] for o in ops if o[0] == "sequences" and o[1] == (seq,)), None)
        info = next((o[2] or o[3] for o in ops if o[0] == "frames" and o[1] == (seq,)), None)
        if row is None and seq in ds.sequence_ids():
            row = ds.sequence(seq)
        if info is None and seq in ds.sequence_ids():
            info = FrameInfo(ds.timestamps(seq), [ds.frame_uri(seq, i) for i in range(ds.num_frames(seq))])
        if row is None or info is None:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return open_frames(row, list(info.uris), root=None, cache=ds.frame_cache)

    # ------------------------------------------------------------------ frames kept in the folder
    def keep_frames(self, seq_id: str, source: FrameSource) -> FrameSource:
        """Pixels that live only in memory (arrays) are written into the folder as PNG files, so a
        reopened project has them; file-backed sources are left where they are."""
        from .frames import open_source

        if source.kind in ("images", "video"):
            return source
        import cv2

        root = self.folder / "frames"
        root.mkdir(exist_ok=True)
        final = root / f"{safe_name(seq_id)}-{uuid.uuid4().hex[:8]}"  # never reused: undo may need the old
        paths = []
        with new_folder(final) as tmp:
            for i in range(len(source)):
                ok, png = cv2.imencode(
                    ".png",
                    np.ascontiguousarray(source.read(i, cache=False)[..., ::-1]),
                    [cv2.IMWRITE_PNG_COMPRESSION, 1],
                )
                if not ok:
                    raise ValidationError(f"frames: could not encode frame {i} of {seq_id!r} as PNG")
                write_durably(tmp / f"{i:06d}.png", png.tobytes())
                paths.append(final / f"{i:06d}.png")
        return open_source(
            [str(p) for p in paths], fps=source.fps, cache=self._ds.frame_cache if self._ds else None
        )

    def _keep_array_frames(self) -> None:
        """A dataset being saved into a new project: its array-backed sequences get files too."""
        ds = self._ds
        assert ds is not None
        for seq in ds.sequence_ids():
            src = ds.frame_source(seq)
            if src is not None and src.kind not in ("images", "video"):
                ds.replace_source(seq, self.keep_frames(seq, src))

    # ------------------------------------------------------------------ closing
    def release(self) -> None:
        """Stop being the dataset's folder (it moved to another by save_as): journal closed, lock freed."""
        self.closed = True
        self.journal.close()
        if self.lock is not None:
            self.lock.release()

    def close(self) -> None:
        """Make everything durable, checkpoint if the journal is large, let go of the folder."""
        if self.closed:
            return
        ds = self._ds
        try:
            if not self.readonly and ds is not None:
                self.journal.wait()
                if self._last > int(self.journal.meta().get("seq", b"0")):
                    self.checkpoint()  # the next open reads one checkpoint, nothing to replay
        finally:
            self.closed = True
            if ds is not None:
                ds.attach_sink(None)
                ds.refuse_edits(f"project {str(self.folder)!r} is closed; open it again with vl.open")
            self.journal.close()
            if self.lock is not None:
                self.lock.release()
