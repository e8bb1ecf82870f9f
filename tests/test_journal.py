"""The project journal: exact value round trips, safe decoding, group commit, crash safety, tails."""

from __future__ import annotations

import datetime as dt
import os
import random
import select
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import time
import warnings
import zlib
import zoneinfo
from decimal import Decimal
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vidlabel import ValidationError
from vidlabel.journal import Journal, JournalError, Record, decode_value, encode_value
from vidlabel.lock import ProjectLock

ROOT = Path(__file__).resolve().parents[1]

# Deterministic records derived from their sequence number, shared by this module and the child
# processes it kills (exec'd in both, so the two sides cannot drift apart).
COMMON = r'''
import bisect, zlib

def record_for(seq):
    from vidlabel.journal import Record
    ops = []
    for i in range(1 + seq % 3):
        counts = zlib.crc32(b"%d/%d" % (seq, i)).to_bytes(4, "little") * (25 + (seq * 37 + i) % 700)
        before = None if (seq + i) % 3 else {"counts": counts[:50], "frame": seq - 1}
        after = {"counts": counts, "frame": seq, "score": seq / 7, "key": (seq, str(i)), "ok": seq % 2 == 0}
        ops.append(("masks", (seq % 11, i), before, after))
    return Record("edit", "record %d" % seq, ops, {"seq": seq})

# bursts of records acknowledged together: a size-1 burst is one append(wait=True), a longer one
# append(wait=False) for each record then wait()
SIZES = [1, 1, 5, 1, 40, 3, 1, 1, 12, 90]
ACKS = []
_s = 0
while _s < 1_000_000:
    _s += SIZES[len(ACKS) % len(SIZES)]
    ACKS.append(_s)

def next_ack(seq):
    """The acknowledged seq that closes the burst seq belongs to."""
    return ACKS[bisect.bisect_left(ACKS, seq)]
'''
ns: dict[str, Any] = {}
exec(COMMON, ns)
record_for = ns["record_for"]
next_ack = ns["next_ack"]
ACKS: list[int] = ns["ACKS"]

# the child that the crash test kills: appends deterministic records forever, reporting each
# acknowledged (durable) one on stdout with one write() per line; every 4th burst it truncates.
# vidlabel.journal is imported without the package's __init__ (the whole dataset stack) to keep
# the child's start short.
CHILD = (
    f"""
import os, sys, types
pkg = types.ModuleType("vidlabel"); pkg.__path__ = [{str(ROOT / "vidlabel")!r}]; sys.modules["vidlabel"] = pkg
"""
    + COMMON
    + r"""
from vidlabel.journal import Journal
j = Journal(sys.argv[1])
seq = j.durable_seq
os.write(1, b"start %d\n" % seq)
while True:
    end = next_ack(seq + 1)
    if end == seq + 1:
        j.append(record_for(seq + 1), wait=True)
    else:
        for s in range(seq + 1, end + 1):
            j.append(record_for(s), wait=False)
        j.wait()
    seq = end
    os.write(1, b"ack %d\n" % seq)
    if ACKS.index(seq) % 4 == 3 and seq > 20:
        upto = seq - 20
        os.write(1, b"truncating %d\n" % upto)
        j.truncate(upto, {"checkpoint": b"%d" % upto, "note": os.urandom(100_000)})
        os.write(1, b"trunc %d\n" % upto)
"""
)


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type all the way down (nan equals nan with the same bits)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, dt.datetime):
        return a == b and a.fold == b.fold and a.tzinfo == b.tzinfo and a.tzname() == b.tzname()
    if isinstance(a, Decimal):
        return str(a) == str(b)
    return bool(a == b)


def same_record(a: Record, b: Record) -> bool:
    return same((a.kind, a.label, a.ops, a.extra), (b.kind, b.label, b.ops, b.extra))


VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2**63 - 1,
    -(2**63),
    2**63,
    -(2**200) + 7,
    0.0,
    -0.0,
    1.5,
    float("nan"),
    float("inf"),
    -float("inf"),
    5e-324,
    "",
    "plain",
    "é漢字🎞",
    "lone \ud800 surrogate",
    b"",
    bytes(range(256)) * 200,  # a 51 KB mask
    [],
    (),
    (1,),
    [1, (2, [3, (4,)])],
    {},
    {"a": 1, "b": [True, 1, 1.0], "": None},
    {"nested": {"t": (b"x", "x")}},
    dt.datetime(2024, 2, 29, 23, 59, 59, 999999),
    dt.datetime(2021, 11, 7, 1, 30, fold=1, tzinfo=zoneinfo.ZoneInfo("America/New_York")),
    dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc),
    dt.datetime(2020, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=-3, minutes=-30))),
    dt.datetime(2020, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1), "CET-ish")),
    dt.date(1, 1, 1),
    dt.date(9999, 12, 31),
    dt.time(23, 59, 59, 1),
    dt.timedelta(days=-3, seconds=5, microseconds=7),
    Decimal("1.50"),
    Decimal("-0.000"),
    Decimal("NaN"),
    Decimal("-Infinity"),
    Decimal("1E+300"),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: f"{type(v).__name__}:{v!r:.30}")
def test_value_round_trips_exactly(value: Any) -> None:
    back = decode_value(encode_value(value))
    assert same(back, value), (value, back)
    wrapped = [value, (value,), {"v": value}]
    assert same(decode_value(encode_value(wrapped)), wrapped)


def test_numpy_scalars_and_subclasses_are_stored_as_python_values() -> None:
    class Color(IntEnum):
        RED = 3

    cases = [
        (np.int64(-5), -5),
        (np.uint8(200), 200),
        (np.float32(0.1), float(np.float32(0.1))),
        (np.float64(2.5), 2.5),
        (np.bool_(True), True),
        (np.str_("s"), "s"),
        (np.bytes_(b"b"), b"b"),
        (Color.RED, 3),
    ]
    for value, expected in cases:
        assert same(decode_value(encode_value(value)), expected), value


def _nested(depth: int) -> list[Any]:
    v: list[Any] = []
    for _ in range(depth):
        v = [v]
    return v


@pytest.mark.parametrize(
    "value",
    [
        {1, 2},
        object(),
        np.zeros(3),
        {1: "int key"},
        dt.datetime(2020, 1, 1, tzinfo=dt.tzinfo()),  # type: ignore[abstract]
        dt.time(1, tzinfo=dt.timezone.utc),
        {"deep": _nested(70), "and": {1, 2}},  # deeper than the tagged format's nesting cap
    ],
    ids=lambda v: type(v).__name__,
)
def test_unstorable_values_are_refused_before_taking_a_seq(tmp_path: Path, value: Any) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        with pytest.raises(ValidationError, match="journal: "):
            j.append(Record("edit", "bad", [("masks", (1,), None, {"v": value})]))
        assert j.append(Record("edit", "good", [])) == 1  # the journal is still healthy
    with Journal(tmp_path / "j.sqlite", readonly=True) as j:
        assert [s for s, _ in j.records()] == [1]


@pytest.mark.parametrize(
    "record",
    [
        Record(1, "x", []),  # type: ignore[arg-type]
        Record("edit", "x", [("masks", [1], None, None)]),  # type: ignore[list-item]  # key must be a tuple
        Record("edit", "x", [("masks", (1,), None)]),  # type: ignore[list-item]
        Record("edit", "x", [], extra=[1]),  # type: ignore[arg-type]
    ],
)
def test_malformed_records_are_refused(tmp_path: Path, record: Record) -> None:
    with Journal(tmp_path / "j.sqlite") as j, pytest.raises(ValidationError):
        j.append(record)


HOSTILE = [
    b"",
    b"?",
    b"b\xff\xff\xff\xff",  # 4 GB of bytes claimed, none there
    b"s\xff\xff\xff\x7fabc",
    b"l\xff\xff\xff\xff",  # 4 billion items claimed
    b"d\x01\x00\x00\x00\x01\x00\x00\x00k",  # a dict key without its value
    b"l\x01\x00\x00\x00" * 100_000 + b"N",  # nested 100 000 deep
    b"i\x01\x02",  # truncated int
    b"NN",  # trailing bytes
    b"s\x02\x00\x00\x00\xff\xfe",  # invalid UTF-8
    b"D" + struct.pack("<HBBBBBIB", 2020, 13, 1, 0, 0, 0, 0, 0) + b"\x00",  # month 13
    b"D" + struct.pack("<HBBBBBIB", 2020, 1, 1, 0, 0, 0, 0, 0) + b"\x07",  # unknown tz kind
    b"D" + struct.pack("<HBBBBBIB", 2020, 1, 1, 0, 0, 0, 0, 0) + b"\x02\x0b\x00\x00\x00../../etc/x",
    b"D"
    + struct.pack("<HBBBBBIB", 2020, 1, 1, 0, 0, 0, 0, 0)
    + b"\x01"
    + struct.pack("<q", 10**12)
    + b"\0" * 4,
    b"a" + struct.pack("<HBB", 0, 1, 1),  # year 0
    b"r" + struct.pack("<iii", 2**31 - 1, 0, 0),  # timedelta out of range
    b"c\x03\x00\x00\x00abc",  # not a decimal
    b"c" + struct.pack("<I", 5000) + b"1" * 5000,  # absurdly long decimal
    b"I\xff\xff\xff\xff",
]


# msgpack's own format (the fast path): lengths that the bytes do not hold, bad UTF-8, unknown ext
HOSTILE_MSGPACK = [
    b"M\xdd\xff\xff\xff\xff",  # an array of 4 billion items, none there
    b"M\xc6\xff\xff\xff\xff",  # 4 GB of bytes claimed
    b"M\xdf\x00\x00\x00\x01\xa1k",  # a map key without its value
    b"M\xa2\xff\xfe",  # invalid UTF-8
    b"M\xd4\x09\x00",  # an ext kind that is not ours
    b"M\xc7\x02\x02V?",  # a tagged value inside that is garbage
    b"M" + b"\x91" * 100_000 + b"\xc0",  # nested 100 000 deep
    b"M\x81\x01\xa1x",  # an int map key
    b"X",  # neither format
]


@pytest.mark.parametrize(
    "payload",
    [b"V" + p for p in HOSTILE] + HOSTILE_MSGPACK,
    ids=[f"tagged{i}" for i in range(len(HOSTILE))] + [f"msgpack{i}" for i in range(len(HOSTILE_MSGPACK))],
)
def test_hostile_payloads_are_refused_clearly(payload: bytes) -> None:
    with pytest.raises(ValidationError, match="journal: undecodable value"):
        decode_value(payload)


def test_what_msgpack_takes_but_the_tagged_format_refuses_comes_back_equal() -> None:
    # a bytearray is kept as bytes, a value deeper than the tagged cap through msgpack
    assert decode_value(encode_value({"b": bytearray(b"xy")})) == {"b": b"xy"}
    assert decode_value(encode_value(_nested(70))) == _nested(70)


def test_random_damage_never_escapes_as_anything_but_validation_error() -> None:
    rng = random.Random(7)
    good = encode_value([record_for(s).ops for s in range(1, 6)] + VALUES)
    refused = 0
    for _ in range(3000):
        buf = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        if rng.random() < 0.3:
            del buf[rng.randrange(len(buf)) :]
        try:
            decode_value(bytes(buf))
        except ValidationError:
            refused += 1
    assert refused > 1000  # most damage is noticed; none of it crashed or hung


def test_records_round_trip_through_the_file(tmp_path: Path) -> None:
    recs = [record_for(s) for s in range(1, 30)]
    recs.append(
        Record("group_close", "every kind", [("sequences", ("clip",), {"v": VALUES}, None)], {"k": VALUES})
    )
    with Journal(tmp_path / "j.sqlite") as j:
        assert [j.append(r, wait=i % 2 == 0) for i, r in enumerate(recs)] == list(range(1, 31))
    for readonly in (True, False):
        with Journal(tmp_path / "j.sqlite", readonly=readonly) as j:
            back = list(j.records())
            assert [s for s, _ in back] == list(range(1, 31))
            assert all(same_record(b, r) for (_, b), r in zip(back, recs))
            assert [s for s, _ in j.records(after=25)] == [26, 27, 28, 29, 30]


def test_record_is_a_snapshot_of_rows_at_append_time(tmp_path: Path) -> None:
    row = {"counts": b"abc", "frame": 1}
    with Journal(tmp_path / "j.sqlite") as j:
        j.append(Record("edit", "x", [("masks", (1,), None, row)]), wait=False)
        row["frame"] = 2  # the caller reuses its dict before the writer got to it
        j.wait()
        [(_, rec)] = j.records()
    assert rec.ops[0][3] == {"counts": b"abc", "frame": 1}


def test_group_commit_batches_queued_records(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        j.append(record_for(1))
        assert j.commit_count == 1
        # hold the writer's connection so that it cannot keep pace, as a slow disk would
        with j._writer.db_lock:  # type: ignore[union-attr]
            seqs = [j.append(record_for(s), wait=False) for s in range(2, 202)]
            assert seqs == list(range(2, 202))
            assert j.durable_seq <= 2
        j.wait()
        assert j.durable_seq == 201
        # the writer took one record (at most) before it blocked, then all the rest at once
        assert j.commit_count <= 3
        assert [s for s, _ in j.records()] == list(range(1, 202))


def test_durability_order_and_wait(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        assert j.durable_seq == 0
        j.wait()  # nothing appended: returns at once
        with j._writer.db_lock:  # type: ignore[union-attr]
            a = j.append(record_for(1), wait=False)
            b = j.append(record_for(2), wait=False)
            assert j.durable_seq == 0
            assert list(j.records()) == []  # not durable, not visible
        j.wait(a)
        assert j.durable_seq >= a
        j.wait()
        assert j.durable_seq == b
        with pytest.raises(ValidationError, match="never appended"):
            j.wait(b + 1)
        assert j.append(record_for(3)) == 3 and j.durable_seq == 3


def test_concurrent_appenders_get_ordered_durable_records(tmp_path: Path) -> None:
    import threading

    got: dict[int, tuple[int, int]] = {}
    errors: list[AssertionError] = []

    def appender(t: int, j: Journal) -> None:
        for i in range(60):
            wait = (i + t) % 3 == 0
            seq = j.append(Record("edit", f"{t}/{i}", [("masks", (t, i), None, {"i": i})]), wait=wait)
            got[seq] = (t, i)
            if wait:  # durable, and so is everything before it
                on_disk = [s for s, _ in j.records(after=seq - 1)]
                if j.durable_seq < seq or on_disk[:1] != [seq]:
                    errors.append(AssertionError(f"{seq} returned before it and all before it were durable"))

    with Journal(tmp_path / "j.sqlite") as j:
        threads = [threading.Thread(target=appender, args=(t, j)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        j.wait()
        assert not errors
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            back = list(j.records())
    assert [s for s, _ in back] == list(range(1, 241)) == sorted(got)
    for seq, rec in back:
        assert rec.label == "{}/{}".format(*got[seq])
    # each thread's records are in the order it appended them
    for t in range(4):
        assert [got[s][1] for s in sorted(got) if got[s][0] == t] == list(range(60))


def test_close_drains_the_queue(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    for s in range(1, 301):
        j.append(record_for(s), wait=False)
    j.close()
    j.close()  # idempotent
    with pytest.raises(ValidationError, match="closed"):
        j.append(record_for(301))
    with Journal(tmp_path / "j.sqlite") as j:
        assert j.durable_seq == 300
        assert j.append(record_for(301)) == 301


def test_records_queued_by_an_unclosed_journal_are_written_at_exit(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    script = CHILD.split("from vidlabel.journal import Journal")[0] + (
        "from vidlabel.journal import Journal\n"
        "j = Journal(sys.argv[1])\n"
        "for s in range(1, 501):\n"
        "    j.append(record_for(s), wait=False)\n"
        "del j  # dropped without close(): the finalizer drains the writer\n"
        "j2 = Journal(sys.argv[1] + '.other')\n"
        "for s in range(1, 301):\n"
        "    j2.append(record_for(s), wait=False)\n"
        "# and j2 is still open at interpreter exit\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True)
    for p, n in ((path, 500), (Path(str(path) + ".other"), 300)):
        with Journal(p, readonly=True) as j:
            assert [s for s, _ in j.records()] == list(range(1, n + 1))


def test_write_failure_is_reported_and_refuses_later_appends(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    for s in range(1, 4):
        j.append(record_for(s))
    with j._writer.db_lock:  # type: ignore[union-attr]
        # the file may not grow any more: SQLite's SQLITE_FULL, as a full disk gives
        pages = j._writer.conn.execute("PRAGMA page_count").fetchone()[0]  # type: ignore[union-attr]
        j._writer.conn.execute(f"PRAGMA max_page_count = {pages}")  # type: ignore[union-attr]
    big = Record("edit", "big", [("masks", (1,), None, {"counts": os.urandom(200_000)})])
    with pytest.raises(JournalError, match=r"writing records 4\.\.4 failed .*full"):
        j.append(big)
    with pytest.raises(JournalError):
        j.append(record_for(5), wait=False)
    with pytest.raises(JournalError):
        j.wait()
    assert j.durable_seq == 3
    with pytest.raises(JournalError):
        j.close()
    with Journal(tmp_path / "j.sqlite") as j:
        assert [s for s, _ in j.records()] == [1, 2, 3]
        assert j.append(record_for(4)) == 4


def test_truncate_keeps_numbering_and_sets_meta_atomically(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        for s in range(1, 11):
            j.append(record_for(s), wait=False)
        j.truncate(6, {"checkpoint": b"6", "blob": b"\x00" * 10})  # waits for 1..6 first
        assert j.meta() == {"checkpoint": b"6", "blob": b"\x00" * 10}
        assert j.base_seq == 6
        assert [s for s, _ in j.records()] == [7, 8, 9, 10]
        j.truncate(10, {"checkpoint": b"10"})
        assert list(j.records()) == []
        assert j.meta()["checkpoint"] == b"10"
        with pytest.raises(ValidationError, match="never appended"):
            j.truncate(11, {})
        with pytest.raises(ValidationError, match="meta"):
            j.truncate(10, {"k": "not bytes"})  # type: ignore[dict-item]
    with Journal(tmp_path / "j.sqlite") as j:
        assert j.durable_seq == 10 and j.base_seq == 10
        assert j.append(record_for(11)) == 11
        assert [s for s, _ in j.records()] == [11]


def test_readonly_sees_committed_records_and_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with pytest.raises(ValidationError, match="does not exist"):
        Journal(path, readonly=True)
    w = Journal(path)
    w.append(record_for(1))
    ro = Journal(path, readonly=True)
    assert ro.durable_seq == 1
    with pytest.raises(ValidationError, match="readonly"):
        ro.append(record_for(2))
    with pytest.raises(ValidationError, match="readonly"):
        ro.truncate(1, {})
    w.append(record_for(2))
    assert [s for s, _ in ro.records()] == [1, 2]  # each records() call reads the latest commit
    w.close()
    assert [s for s, _ in ro.records()] == [1, 2]
    ro.close()


def test_readonly_works_while_another_process_holds_the_lock_and_writes(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    script = CHILD.replace(
        "j = Journal(sys.argv[1])",
        (
            "from vidlabel.lock import ProjectLock\n"
            "lock = ProjectLock(os.path.dirname(sys.argv[1])).acquire()\n"
            "j = Journal(sys.argv[1])"
        ),
    )
    child = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().startswith(b"start")
        with pytest.raises(ValidationError, match=f"by pid {child.pid} "):
            ProjectLock(tmp_path).acquire()
        seen = 0
        for _ in range(8):
            with Journal(path, readonly=True) as ro:
                got = list(ro.records())
            seqs = [s for s, _ in got] or [seen]
            assert seqs == list(range(seqs[0], seqs[-1] + 1))
            assert all(same_record(r, record_for(s)) for s, r in got)
            assert seqs[-1] >= seen
            seen = seqs[-1]
            time.sleep(0.05)
        assert seen > 0
    finally:
        child.kill()
        child.wait()
    ProjectLock(tmp_path).acquire().release()


def _read_lines(fd: int, until: float, stop_on: bytes | None) -> bytes:
    """Read from fd until the deadline (or until a line starting with stop_on arrives)."""
    data = b""
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return data
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return data
        chunk = os.read(fd, 65536)
        if not chunk:
            return data
        data += chunk
        if stop_on is not None and (data.startswith(stop_on) or b"\n" + stop_on in data):
            return data


def test_sigkill_at_random_moments_keeps_every_acknowledged_record(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    rng = random.Random(20261201)
    durable = 0  # what the last reopen found
    checkpoint = 0
    runs, truncate_kills = 60, 0
    for run in range(runs):
        targeted = run % 5 == 4  # every 5th run is killed just as it starts a truncate
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert child.stdout is not None
        fd = child.stdout.fileno()
        start = time.monotonic()
        if targeted:
            out = _read_lines(fd, start + 10, b"truncating")
            time.sleep(rng.uniform(0, 0.001))
        else:
            out = _read_lines(fd, start + rng.uniform(0.02, 0.25), None)
        child.send_signal(signal.SIGKILL)
        child.wait()
        out += _read_lines(fd, time.monotonic() + 5, None)  # what it wrote before dying
        child.stdout.close()
        lines = out.decode().splitlines()
        acked = max([int(x.split()[1]) for x in lines if x.startswith("ack ")], default=durable)
        truncated = max([int(x.split()[1]) for x in lines if x.startswith("trunc ")], default=checkpoint)
        if targeted and lines and lines[-1].startswith("truncating"):
            truncate_kills += 1
        if lines:
            assert lines[0] == f"start {durable}", lines[:2]

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a crash must never look like a damaged tail
            with Journal(path, readonly=True) as ro:
                got = list(ro.records())
                meta = ro.meta()
                base = ro.base_seq
        # truncate is atomic: the checkpoint named in meta is exactly where the records start
        assert int(meta.get("checkpoint", b"0")) == base
        assert base >= truncated
        seqs = [s for s, _ in got]
        k = seqs[-1] if seqs else base
        assert seqs == list(range(base + 1, k + 1)), f"run {run}: not a contiguous journal"
        for s, rec in got:
            assert same_record(rec, record_for(s)), f"run {run}: record {s} differs"
        assert k >= acked, f"run {run}: acknowledged record {acked} lost (journal ends at {k})"
        assert k <= next_ack(acked + 1), f"run {run}: {k} is past the burst in flight after {acked}"
        durable, checkpoint = k, base
    assert durable > ACKS[20]  # the runs got somewhere: many bursts and truncates were cut
    assert truncate_kills >= 3  # the targeted runs did land inside truncate()


def _fill(path: Path, n: int) -> None:
    with Journal(path) as j:
        for s in range(1, n + 1):
            j.append(record_for(s), wait=s % 3 == 0)


def test_truncated_wal_after_a_crash_keeps_an_intact_prefix(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    for s in range(1, 41):
        j.append(record_for(s))  # one commit each: 40 commits in the WAL
    # the process "dies" here: copy the files as they are on disk, WAL and all
    crash = tmp_path / "crash"
    crash.mkdir()
    shutil.copy(path, crash / "j.sqlite")
    shutil.copy(str(path) + "-wal", crash / "j.sqlite-wal")
    j.close()
    wal_size = (crash / "j.sqlite-wal").stat().st_size
    rng = random.Random(3)
    lengths = sorted({0, 31, wal_size, *(rng.randrange(wal_size) for _ in range(25))})
    found = []
    for length in lengths:
        case = tmp_path / f"cut{length}"
        case.mkdir()
        shutil.copy(crash / "j.sqlite", case / "j.sqlite")
        with open(crash / "j.sqlite-wal", "rb") as f:
            (case / "j.sqlite-wal").write_bytes(f.read(length))
        with Journal(case / "j.sqlite", readonly=True) as ro:  # recovers without writing the file
            got = list(ro.records())
            k = len(got)
            assert [s for s, _ in got] == list(range(1, k + 1))
            assert all(same_record(r, record_for(s)) for s, r in got)
        with Journal(case / "j.sqlite") as jj:
            assert jj.durable_seq == k
            assert jj.append(record_for(k + 1)) == k + 1
        found.append(k)
    assert found == sorted(found)  # a longer WAL never holds fewer commits
    assert found[-1] == 40 and found[0] < 40


def test_damaged_payloads_end_the_journal_at_the_intact_prefix(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    _fill(path, 20)
    with sqlite3.connect(path) as raw:  # a bit flips inside record 18's body: SQLite cannot tell
        body = raw.execute("SELECT body FROM records WHERE seq = 18").fetchone()[0]
        raw.execute(
            "UPDATE records SET body = ? WHERE seq = 18", (body[:-9] + bytes([body[-9] ^ 4]) + body[-8:],)
        )
    raw.close()
    with (
        Journal(path, readonly=True) as ro,
        pytest.warns(RuntimeWarning, match=r"dropped 3 record.*18 fails its checksum"),
    ):
        assert [s for s, _ in ro.records()] == list(range(1, 18))
    with pytest.warns(RuntimeWarning, match=r"dropped 3 record\(s\) after seq 17"):
        j = Journal(path)
    with j:
        assert j.durable_seq == 17
        assert j.append(record_for(18)) == 18
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert [s for s, _ in j.records()] == list(range(1, 19))


def test_flipped_byte_in_the_file_is_caught_by_the_checksum(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    marker = b"FIND-ME-IN-THE-FILE"
    with Journal(path) as j:
        for s in range(1, 11):
            j.append(record_for(s))
        j.append(Record("edit", "marked", [("masks", (1,), None, {"counts": marker + b"." * 500})]))
        j.append(record_for(12))
    data = bytearray(path.read_bytes())  # closed: the WAL is checkpointed into the file
    pos = data.index(marker)
    data[pos + len(marker) + 100] ^= 0x20
    path.write_bytes(bytes(data))
    with pytest.warns(RuntimeWarning, match=r"dropped 2 record.*seq 11 fails its checksum"):
        j = Journal(path)
    with j:
        assert [s for s, _ in j.records()] == list(range(1, 11))


def test_gap_and_undecodable_records_end_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    _fill(path, 12)
    with sqlite3.connect(path) as raw:
        raw.execute("DELETE FROM records WHERE seq = 9")
        garbage = b"l\xff\xff\xff\xff"
        raw.execute("UPDATE records SET body = ?, crc = ? WHERE seq = 5", (garbage, _crc(5, garbage)))
    raw.close()
    with Journal(path, readonly=True) as ro, pytest.warns(RuntimeWarning, match="seq 5 is undecodable"):
        assert [s for s, _ in ro.records()] == [1, 2, 3, 4]
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE records SET body = ?, crc = ? WHERE seq = 5", (b"N", _crc(5, b"N")))
    raw.close()
    with Journal(path, readonly=True) as ro, pytest.warns(RuntimeWarning, match="seq 5 is undecodable"):
        assert [s for s, _ in ro.records()] == [1, 2, 3, 4]  # decodes, but is not a record
    _fill(tmp_path / "g.sqlite", 12)
    with sqlite3.connect(tmp_path / "g.sqlite") as raw:
        raw.execute("DELETE FROM records WHERE seq = 9")
    raw.close()
    with pytest.warns(RuntimeWarning, match=r"dropped 3 record.*gap: seq 10 follows 8"):
        j = Journal(tmp_path / "g.sqlite")
    with j:
        assert j.append(record_for(9)) == 9


def _crc(seq: int, body: bytes) -> int:
    return zlib.crc32(body, zlib.crc32(struct.pack("<q", seq)))


def test_files_that_are_not_journals_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(os.urandom(5000))
    for readonly in (False, True):
        with pytest.raises(ValidationError, match="cannot be opened"):
            Journal(junk, readonly=readonly)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as raw:
        raw.execute("CREATE TABLE t (x)")
    raw.close()
    with pytest.raises(ValidationError, match="not a vidlabel journal"):
        Journal(other)
    with sqlite3.connect(other) as raw:  # refused before anything in it was changed
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    with sqlite3.connect(other) as raw:
        raw.execute(f"PRAGMA application_id = {0x766C6A31}")
        raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(ValidationError, match="journal format 99"):
        Journal(other, readonly=True)
    _fill(tmp_path / "h.sqlite", 3)
    header = bytearray((tmp_path / "h.sqlite").read_bytes())
    header[:16] = b"not sqlite at al"
    (tmp_path / "h.sqlite").write_bytes(bytes(header))
    with pytest.raises(ValidationError, match="cannot be opened"):
        Journal(tmp_path / "h.sqlite")


def test_creation_cut_off_before_the_schema_is_completed_on_open(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")  # created, then the power went
    wal_only = tmp_path / "wal.sqlite"
    raw = sqlite3.connect(wal_only)
    raw.execute("PRAGMA journal_mode = WAL")  # WAL mode set, schema never committed
    raw.close()
    for path in (empty, wal_only):
        with Journal(path, readonly=True) as ro:  # an empty journal, not a foreign file
            assert (list(ro.records()), ro.meta(), ro.base_seq, ro.durable_seq) == ([], {}, 0, 0)
        with Journal(path) as j:
            assert j.append(record_for(1)) == 1
        with Journal(path, readonly=True) as ro:
            assert [s for s, _ in ro.records()] == [1]
