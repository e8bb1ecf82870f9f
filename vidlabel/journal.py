"""The durable journal behind a project folder: every committed transaction, in order.

Storage is one SQLite file in WAL mode with ``synchronous=FULL``: SQLite's atomic commit (checksummed
WAL frames, rolled back or replayed on the next open) is what makes a commit all-or-nothing under
power loss or SIGKILL; this module adds no recovery code of its own for the file. On top, every
record carries a CRC-32 of its sequence number and body, checked when read: SQLite does not notice a
flipped bit inside a page, we do, and the journal then ends at the last intact record.

Records are appended from the caller's thread and written by one background writer thread that
takes every record queued so far and writes them in one SQLite transaction (group commit), so a
propagation that appends a record per frame pays for one fsync per batch, not per frame. A lone
append(wait=True) that finds nothing queued and nothing being written commits on the caller's
thread instead (a user's single edit then waits for one commit, not for two thread hand-offs).
Records become durable strictly in sequence order either way.

Values are encoded with the safe tagged codec in journal_codec.py (never pickle: a project folder
can come from anyone).

Records are encoded on the caller's thread, not the writer's: ``append`` then refuses a value it
cannot store before it takes a sequence number (the journal stays healthy), and the stored record is
a snapshot of the rows at the time of the call even if the caller mutates them afterwards. This
costs a few microseconds per op (see benchmarks/bench_journal.py).
"""

from __future__ import annotations

import sqlite3
import struct
import threading
import time
import warnings
import weakref
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ValidationError
from .journal_codec import decode_value, encode_value

__all__ = ["Journal", "JournalError", "Op", "Record", "decode_value", "encode_value"]

Op = tuple[str, tuple, Any, Any]  # (store name, key tuple, before row | None, after row | None)


@dataclass
class Record:
    kind: str  # "edit", "undo", "redo", "group_close", ... (opaque to the journal)
    label: str
    ops: list[Op]
    extra: dict[str, Any] = field(default_factory=dict)  # small, plain values


class JournalError(RuntimeError):
    """Writing to the journal failed (disk full, I/O error): nothing after durable_seq is on disk."""


_BODY_VERSION = 1


def _encode_record(rec: Record) -> bytes:
    if not isinstance(rec, Record):
        raise ValidationError(f"journal: append takes a Record, got {type(rec).__name__}")
    if type(rec.kind) is not str or type(rec.label) is not str:
        raise ValidationError("journal: a record's kind and label must be str")
    if not isinstance(rec.extra, dict):
        raise ValidationError(f"journal: a record's extra must be a dict, got {type(rec.extra).__name__}")
    ops = []
    for op in rec.ops:
        if not (isinstance(op, tuple) and len(op) == 4 and type(op[0]) is str and type(op[1]) is tuple):
            raise ValidationError(f"journal: an op is (store, key tuple, before, after), got {op!r:.120}")
        ops.append(op)
    return encode_value((_BODY_VERSION, rec.kind, rec.label, ops, rec.extra))


def _decode_record(body: bytes) -> Record:
    v = decode_value(body)
    if not (type(v) is tuple and len(v) == 5 and v[0] == _BODY_VERSION):
        raise ValidationError("journal: record body is not a version-1 record")
    _, kind, label, ops, extra = v
    if type(kind) is not str or type(label) is not str or type(ops) is not list or type(extra) is not dict:
        raise ValidationError("journal: record fields have the wrong types")
    for op in ops:
        if not (type(op) is tuple and len(op) == 4 and type(op[0]) is str and type(op[1]) is tuple):
            raise ValidationError("journal: record holds a malformed op")
    return Record(kind, label, ops, extra)


_SEQ = struct.Struct("<q")


def _crc(seq: int, body: bytes) -> int:
    return zlib.crc32(body, zlib.crc32(_SEQ.pack(seq)))


# ---------------------------------------------------------------------------------------------
# the SQLite file

_APP_ID = 0x766C6A31  # "vlj1"
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE records (seq INTEGER PRIMARY KEY, crc INTEGER NOT NULL, body BLOB NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE state (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO state VALUES ('base', 0);
"""
_CHUNK = 256  # records fetched per query while iterating
_MAX_PENDING_BYTES = 64 << 20
_LINGER = 0.004  # seconds a commit of records nobody waits for may wait for more
_LINGER_RECORDS = 512  # wait=False appends block beyond this much unwritten data


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if readonly:
        uri = path.resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def _check_schema(conn: sqlite3.Connection, path: Path) -> None:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if app_id != _APP_ID:
        raise ValidationError(f"{path} is not a vidlabel journal (SQLite application_id {app_id:#x})")
    if version != _SCHEMA_VERSION:
        raise ValidationError(f"{path}: journal format {version}; this vidlabel reads {_SCHEMA_VERSION}")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"records", "meta", "state"} <= tables:
        raise ValidationError(f"{path}: journal tables missing (found {sorted(tables)})")


class _Writer:
    """The writer thread and everything it shares with callers (kept apart from Journal so that a
    finalizer can drain it when a Journal is dropped unclosed or the interpreter exits).

    One batch is written at a time, by whoever holds ``busy``: normally the thread, which takes
    everything queued; but an append(wait=True) that finds the queue empty and nobody writing
    commits its record itself, which saves the two thread hand-offs a user's single edit would
    otherwise wait for. Either way records reach the file in sequence order."""

    def __init__(self, conn: sqlite3.Connection, path: Path, last_seq: int) -> None:
        self.conn = conn
        self.path = path
        self.cv = threading.Condition()
        self.db_lock = threading.Lock()  # the connection: one batch or one truncate at a time
        self.queue: list[tuple[int, int, bytes]] = []
        self.pending_bytes = 0
        self.busy = False
        self.next_seq = last_seq + 1
        self.durable = last_seq
        self.commits = 0
        self.waiters = 0  # threads blocked until some record is durable
        self.error: JournalError | None = None
        self.stopping = False
        self.closed = False
        self.thread = threading.Thread(target=self.run, name=f"vidlabel-journal {path.name}", daemon=True)
        self.thread.start()

    def run(self) -> None:
        while True:
            with self.cv:
                while self.busy or not (self.queue or self.stopping):
                    self.cv.wait()
                if not self.queue:
                    return  # stopping, and everything appended is written
                # Nobody waits for these (a propagation's frames): linger a moment so that more
                # frames share one commit; fewer commits, less of this thread competing for the GIL.
                deadline = time.monotonic() + _LINGER
                while not (self.stopping or self.waiters) and len(self.queue) < _LINGER_RECORDS:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self.cv.wait(left)
                batch, self.queue, self.pending_bytes = self.queue, [], 0
                self.busy = True
                self.cv.notify_all()  # appends blocked on pending_bytes may go on
            if not self.write(batch):
                return

    def write(self, batch: list[tuple[int, int, bytes]]) -> bool:
        """Write and commit one batch (the caller holds busy); False once the journal failed."""
        try:
            with self.db_lock:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    self.conn.executemany("INSERT INTO records (seq, crc, body) VALUES (?, ?, ?)", batch)
                    self.conn.execute("COMMIT")
                except BaseException:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise
        except Exception as e:
            err = JournalError(
                f"journal {self.path}: writing records {batch[0][0]}..{batch[-1][0]} failed "
                f"({type(e).__name__}: {e}); records after {self.durable} are not on disk and "
                "this journal refuses further appends"
            )
            err.__cause__ = e
            with self.cv:
                self.error = err
                self.queue.clear()
                self.busy = False
                self.cv.notify_all()
            return False
        with self.cv:
            self.durable = batch[-1][0]
            self.commits += 1
            self.busy = False
            self.cv.notify_all()
        return True

    def check(self) -> None:
        if self.error is not None:
            raise self.error
        if self.closed or self.stopping:
            raise ValidationError(f"journal {self.path} is closed")

    def append(self, body: bytes, wait: bool) -> int:
        with self.cv:
            self.check()
            while self.pending_bytes > _MAX_PENDING_BYTES and self.error is None:
                self.cv.wait()
            self.check()
            seq = self.next_seq
            self.next_seq += 1
            item = (seq, _crc(seq, body), body)
            direct = wait and not self.queue and not self.busy
            if not direct:
                self.queue.append(item)
                self.pending_bytes += len(body)
                self.cv.notify_all()
                if wait:
                    self._wait(seq)
                return seq
            self.busy = True
        if not self.write([item]):
            assert self.error is not None
            raise self.error
        return seq

    def _wait(self, seq: int) -> None:  # holds cv
        self.waiters += 1
        self.cv.notify_all()  # a lingering writer commits now
        try:
            while self.durable < seq:
                if self.error is not None:
                    raise self.error
                self.cv.wait()
        finally:
            self.waiters -= 1

    def wait(self, seq: int | None) -> None:
        with self.cv:
            last = self.next_seq - 1
            if seq is None:
                seq = last
            elif seq > last:
                raise ValidationError(f"journal {self.path}: seq {seq} was never appended (last is {last})")
            self._wait(seq)

    def close(self) -> None:
        with self.cv:
            if self.closed:
                return
            self.stopping = True
            self.cv.notify_all()
        self.thread.join()
        with self.cv:
            self.closed = True
        with self.db_lock:
            self.conn.close()


class Journal:
    """An append-only, crash-safe log of records in one SQLite file (see the module docstring)."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._writer: _Writer | None = None
        self._read_lock = threading.Lock()
        self._base = 0
        if readonly and not self.path.is_file():
            raise ValidationError(f"journal {self.path} does not exist")
        conn: sqlite3.Connection | None = None
        try:
            conn = _connect(self.path, readonly)
            if not readonly:
                self._init_file(conn)
            conn.execute("BEGIN")  # one snapshot, whatever a writer elsewhere does meanwhile
            if readonly and _is_fresh(conn):
                last, bad = 0, None  # its creation never committed: an empty journal
            else:
                _check_schema(conn, self.path)
                self._base = _read_base(conn, self.path)
                last, bad = self._scan(conn)
            if bad is not None and not readonly:
                n = conn.execute("SELECT count(*) FROM records WHERE seq > ?", (last,)).fetchone()[0]
                conn.execute("DELETE FROM records WHERE seq > ?", (last,))
                warnings.warn(
                    f"journal {self.path}: dropped {n} record(s) after seq {last} ({bad})",
                    RuntimeWarning,
                    stacklevel=2,
                )
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as e:
            if conn is not None:
                conn.close()
            raise ValidationError(f"journal {self.path} cannot be opened: {e}") from None
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        self._durable_ro = last
        if readonly:
            self._reader = conn
        else:
            self._reader = _connect(self.path, readonly=True)
            self._writer = _Writer(conn, self.path, last)
            self._finalizer = weakref.finalize(self, self._writer.close)

    def _init_file(self, conn: sqlite3.Connection) -> None:
        if not _is_fresh(conn):
            _check_schema(conn, self.path)  # refuse a foreign file before changing anything in it
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise ValidationError(f"journal {self.path}: SQLite refused WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            if _is_fresh(conn):  # new file, or one whose creation was cut off before this commit
                for stmt in _SCHEMA.split(";"):  # not executescript: it would COMMIT first
                    if stmt.strip():
                        conn.execute(stmt)
                conn.execute(f"PRAGMA application_id = {_APP_ID}")
                conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _scan(self, conn: sqlite3.Connection) -> tuple[int, str | None]:
        """(last seq of the intact prefix, why the journal ends there or None)."""
        last = self._base
        for seq, crc, body in _iter_rows(conn, self._base):
            bad = _check_row(seq, crc, body, last)
            if bad is not None:
                return last, bad
            try:
                _decode_record(body)
            except ValidationError as e:
                return last, f"seq {seq} is undecodable: {e}"
            last = seq
        return last, None

    # -- writing --------------------------------------------------------------------------------

    def _live_writer(self) -> _Writer:
        if self._writer is None:
            raise ValidationError(f"journal {self.path} was opened readonly; it cannot be written")
        return self._writer

    def append(self, record: Record, *, wait: bool = True) -> int:
        """Queue one record; return its sequence number. wait=True returns once it is durable."""
        writer = self._live_writer()
        writer.check()
        body = _encode_record(record)
        return writer.append(body, wait)

    def wait(self, seq: int | None = None) -> None:
        """Block until record seq (default: every record appended so far) is durable."""
        if self._writer is None:
            return
        self._writer.wait(seq)

    @property
    def durable_seq(self) -> int:
        """The highest sequence number that is on disk."""
        if self._writer is None:
            return self._durable_ro
        with self._writer.cv:
            return self._writer.durable

    @property
    def commit_count(self) -> int:
        """SQLite transactions the writer thread has committed (one per group of records)."""
        if self._writer is None:
            return 0
        with self._writer.cv:
            return self._writer.commits

    def truncate(self, upto: int, meta: Mapping[str, bytes]) -> None:
        """In one SQLite transaction: set these meta entries, delete the records with seq <= upto."""
        writer = self._live_writer()
        items = []
        for k, v in meta.items():
            if type(k) is not str or not isinstance(v, bytes):
                raise ValidationError(f"journal meta: str keys, bytes values; got {k!r:.60}")
            items.append((k, bytes(v)))
        if type(upto) is not int or upto < 0:
            raise ValidationError(f"journal truncate: upto must be a non-negative int, got {upto!r}")
        writer.wait(upto)  # refuses a seq never appended; the records up to upto must be on disk first
        writer.check()
        try:
            with writer.db_lock:
                conn = writer.conn
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", items)
                    conn.execute("DELETE FROM records WHERE seq <= ?", (upto,))
                    conn.execute("UPDATE state SET value = max(value, ?) WHERE name = 'base'", (upto,))
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
        except sqlite3.DatabaseError as e:
            raise JournalError(f"journal {self.path}: truncate failed ({type(e).__name__}: {e})") from e
        self._base = max(self._base, upto)

    # -- reading --------------------------------------------------------------------------------

    def records(self, after: int = 0) -> Iterator[tuple[int, Record]]:
        """Every durable record with seq > after, in order, from one snapshot of the file.

        The journal ends at the first record that fails its checksum, cannot be decoded or leaves a
        gap: a RuntimeWarning says how many records were dropped and why."""
        # a connection of its own, in one read transaction: a concurrent truncate or append by the
        # writer (this process or another) cannot shift the rows between two chunks
        try:
            conn = _connect(self.path, readonly=True)
        except sqlite3.DatabaseError as e:
            raise ValidationError(f"journal {self.path} cannot be read: {e}") from None
        try:
            conn.execute("BEGIN")
            if _is_fresh(conn):
                return
            last = _read_base(conn, self.path)
            bad = None
            for seq, crc, body in _iter_rows(conn, last):
                bad = _check_row(seq, crc, body, last)
                if bad is None:
                    try:
                        rec = _decode_record(body)
                    except ValidationError as e:
                        bad = f"seq {seq} is undecodable: {e}"
                if bad is not None:
                    break
                last = seq
                if seq > after:
                    yield seq, rec
            if bad is not None:
                n = conn.execute("SELECT count(*) FROM records WHERE seq > ?", (last,)).fetchone()[0]
                warnings.warn(
                    f"journal {self.path}: dropped {n} record(s) after seq {last} ({bad})",
                    RuntimeWarning,
                    stacklevel=2,
                )
        except sqlite3.DatabaseError as e:
            raise ValidationError(f"journal {self.path} cannot be read: {e}") from None
        finally:
            conn.close()

    @property
    def base_seq(self) -> int:
        """Records up to this seq were dropped by truncate() (they live in a checkpoint)."""
        with self._read_lock:
            return 0 if _is_fresh(self._reader) else _read_base(self._reader, self.path)

    def meta(self) -> dict[str, bytes]:
        """The entries the last truncate() set."""
        with self._read_lock:
            if _is_fresh(self._reader):
                return {}
            return {k: bytes(v) for k, v in self._reader.execute("SELECT key, value FROM meta")}

    # -- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        """Make everything appended durable, stop the writer thread, close the file."""
        with self._read_lock:
            self._reader.close()  # first: the last connection to close checkpoints the WAL away
        if self._writer is not None:
            self._finalizer.detach()
            self._writer.close()
            if self._writer.error is not None:
                raise self._writer.error

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_fresh(conn: sqlite3.Connection) -> bool:
    """An empty SQLite file: new, or one whose creation was cut off before its first commit."""
    return bool(
        conn.execute("PRAGMA application_id").fetchone()[0] == 0
        and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    )


def _read_base(conn: sqlite3.Connection, path: Path) -> int:
    row = conn.execute("SELECT value FROM state WHERE name = 'base'").fetchone()
    if row is None or type(row[0]) is not int or row[0] < 0:
        raise ValidationError(f"journal {path}: its truncation point is missing or not a sequence number")
    return int(row[0])


def _iter_rows(conn: sqlite3.Connection, base: int) -> Iterator[tuple[int, int, bytes]]:
    pos = base
    while True:
        rows = conn.execute(
            "SELECT seq, crc, body FROM records WHERE seq > ? ORDER BY seq LIMIT ?", (pos, _CHUNK)
        ).fetchall()
        yield from rows
        if len(rows) < _CHUNK:
            return
        pos = rows[-1][0]


def _check_row(seq: Any, crc: Any, body: Any, last: int) -> str | None:
    if type(seq) is not int or seq != last + 1:
        return f"gap: seq {seq} follows {last}"
    if type(body) is not bytes or type(crc) is not int:
        return f"seq {seq} has the wrong column types"
    if _crc(seq, body) != crc:
        return f"seq {seq} fails its checksum"
    return None
