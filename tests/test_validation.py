"""One validation pass for every loader: parquet exports edited by hand or corrupted at random are
refused with a ValidationError naming the table, the row and the field, never loaded with garbage;
a valid export always loads back exactly; RLE strings are checked as pycocotools would read them."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pycocotools.mask as cocomask
import pytest
from conftest import assert_same, disc, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vidlabel as vl
from vidlabel import rle
from vidlabel import schema as sch
from vidlabel.validation import check_frame_size, validate_tables

A, B, C = "clip/001", "clip/002", "other/001"  # entity ids of the dataset below


def _dataset() -> vl.Dataset:
    """Two sequences; entity A with masks on 0-2 and 4 (two tracklets) and a state; B with a box."""
    ds = vl.Dataset(
        sequence_fields={"weather": pa.string()},
        entity_fields={"difficulty": pa.int32()},
        state_fields={"occluded": pa.bool_()},
    )
    ds.add_sequence("clip", num_frames=6, width=16, height=12, weather="sun")
    ds.add_sequence("other", num_frames=3, width=8, height=8)
    assert ds.add_entity("clip", category="bear", difficulty=1) == A
    assert ds.add_entity("clip", "zebra", color="#ff8800") == B
    assert ds.add_entity("other") == C
    for f in (0, 1, 2, 4):
        ds.set_mask("clip", f, A, disc(12, 16, 6, 4 + 2 * f, 3))
    ds.set_box("clip", 1, B, (1, 2, 3, 4))
    ds.set_state("clip", 1, A, occluded=True)
    ds.set_mask("other", 0, C, disc(8, 8, 4, 4, 2))
    return ds


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "out"
    _dataset().to_parquet(out)
    return out


@pytest.fixture
def out(export: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "out"
    shutil.copytree(export, dst)
    return dst


def _rewrite(folder: Path, table: str, edit: Callable[[pa.Table], pa.Table]) -> None:
    path = folder / f"{table}.parquet"
    pq.write_table(edit(pq.read_table(path)), path)  # the schema metadata travels with the table


def _set(t: pa.Table, row: int, column: str, value: Any) -> pa.Table:
    i = t.schema.get_field_index(column)
    values = t.column(column).to_pylist()
    values[row] = value
    return t.set_column(i, t.schema.field(i), pa.array(values, t.schema.field(i).type))


def _refused(folder: Path, match: str) -> str:
    with pytest.raises(vl.ValidationError, match=match) as info:
        vl.Dataset.from_parquet(folder)
    message = str(info.value)
    assert message.startswith(f"from_parquet {str(folder)!r}: "), message
    return message


# ---------------------------------------------------------------------- the bugs seen on main
def test_counts_that_cover_no_pixels_are_refused(out: Path) -> None:
    """b"0" is one run of 0 pixels: pycocotools decodes it to whatever the heap held."""
    _rewrite(out, "masks", lambda t: _set(t, 0, "counts", b"0"))
    _refused(out, r"masks row \(clip, 0, clip/001\) counts: RLE runs add up to 0 pixels, expected 12\*16=192")


def test_a_mask_on_a_frame_past_the_end_is_refused(out: Path) -> None:
    _rewrite(out, "masks", lambda t: _set(t, 0, "frame_index", 999))
    _refused(
        out,
        r"masks row \(clip, 999, clip/001\) frame_index: "
        r"frame 999 out of range, sequence 'clip' has 6 frames$",
    )


def test_the_export_itself_is_valid(export: Path) -> None:
    tables = {n: pq.read_table(export / f"{n}.parquet") for n in sch.TABLES}
    validate_tables(tables, source="here")
    validate_tables(_dataset().tables(), source="here", custom=_dataset().custom_fields)


# ---------------------------------------------------------------------- one bad cell each
CELLS = [
    ("masks", 0, "counts", b"0\x01", r"masks row \(clip, 0, clip/001\) counts: invalid RLE character"),
    ("masks", 0, "counts", b"_", r"masks row \(clip, 0, clip/001\) counts: truncated RLE string"),
    ("masks", 0, "counts", b"PPPPPP0", r"counts: an RLE value longer than 6 characters"),
    ("masks", 0, "counts", b"4O3" + b"0" * 5, r"counts: RLE has a negative run length"),
    ("masks", 0, "counts", None, r"masks row \(clip, 0, clip/001\) counts: null"),
    ("masks", 0, "height", 13, r"height: mask height 13 does not match its sequence's frame height 12"),
    ("masks", 4, "width", 9, r"masks row \(other, 0, other/001\) width: mask width 9 does not match"),
    (
        "masks",
        0,
        "entity_id",
        "ghost",
        r"masks row \(clip, 0, ghost\) entity_id: unknown id 'ghost' \(no such entity\)",
    ),
    (
        "masks",
        0,
        "entity_id",
        C,
        r"masks row \(clip, 0, other/001\) entity_id: "
        r"entity 'other/001' belongs to sequence 'other', not 'clip'",
    ),
    ("masks", 0, "sequence_id", "nope", r"masks row \(nope, 0, clip/001\) sequence_id: unknown id 'nope'"),
    ("masks", 0, "tracklet_id", None, r"masks row \(clip, 0, clip/001\) tracklet_id: null"),
    ("masks", 0, "tracklet_id", "clip/002#1", r"tracklet_id: tracklet 'clip/002#1' is of entity 'clip/002'"),
    ("masks", 0, "tracklet_id", "gone#1", r"tracklet_id: unknown id 'gone#1' \(no such tracklet\)"),
    (
        "masks",
        3,
        "tracklet_id",
        "clip/001#1",
        r"masks row \(clip, 4, clip/001\) tracklet_id: tracklet 'clip/001#1' spans \[0, 2\], not frame 4",
    ),
    ("masks", 1, "frame_index", 0, r"masks rows 0 and 1: duplicate key \(clip, 0, clip/001\)"),
    ("masks", 0, "score", float("nan"), r"masks row \(clip, 0, clip/001\) score: nan is not finite"),
    ("masks", 0, "source", "", r"source: expected a non-empty string, got ''"),
    ("masks", 0, "keyframe", None, r"keyframe: null"),
    ("boxes", 0, "w", 0.0, r"boxes row \(clip, 1, clip/002\) w: 0.0 is not positive"),
    ("boxes", 0, "x", float("inf"), r"boxes row \(clip, 1, clip/002\) x: inf is not finite"),
    (
        "boxes",
        0,
        "frame_index",
        3,
        r"boxes row \(clip, 3, clip/002\) tracklet_id: .* spans \[1, 1\], not frame 3",
    ),
    ("states", 0, "frame_index", -1, r"states row \(clip, -1, clip/001\) frame_index: frame -1 out of range"),
    ("states", 0, "entity_id", "ghost", r"states row \(clip, 1, ghost\) entity_id: unknown id 'ghost'"),
    (
        "tracklets",
        1,
        "start_frame",
        2,
        r"tracklets row \(clip/001#2\) start_frame: \[2, 4\] overlaps 'clip/001#1' \[0, 2\] "
        r"of the same entity 'clip/001'",
    ),
    ("tracklets", 0, "end_frame", 6, r"tracklets row \(clip/001#1\) end_frame: frame 6 out of range"),
    (
        "tracklets",
        2,
        "start_frame",
        3,
        r"tracklets row \(clip/002#1\) end_frame: ends at 1, before its start 3",
    ),
    (
        "tracklets",
        3,
        "entity_id",
        A,
        r"tracklets row \(other/001#1\) entity_id: entity 'clip/001' belongs to",
    ),
    ("tracklets", 1, "id", "clip/001#1", r"tracklets rows 0 and 1: duplicate id 'clip/001#1'"),
    ("entities", 1, "id", A, r"entities rows 0 and 1: duplicate id 'clip/001'"),
    ("entities", 2, "sequence_id", "ghost", r"entities row \(other/001\) sequence_id: unknown id 'ghost'"),
    ("entities", 1, "name", "1", r"entities row \(clip/002\) name: duplicate name '1' in sequence 'clip'"),
    ("entities", 0, "color", "red", r"entities row \(clip/001\) color: expected a colour like '#ff8800'"),
    ("sequences", 0, "width", 0, r"sequences row \(clip\) width: 0 is not positive"),
    ("sequences", 0, "width", 20000, r"sequences row \(clip\) width: size 12x20000 .* over the bound"),
    ("sequences", 0, "height", 16385, r"sequences row \(clip\) width: size 16385x16 .* over the bound"),
    ("sequences", 0, "fps", float("nan"), r"sequences row \(clip\) fps: nan is not a positive number"),
    ("sequences", 0, "name", None, r"sequences row \(clip\) name: expected a non-empty string, got None"),
    (
        "sequences",
        1,
        "num_frames",
        4,
        r"sequences row \(other\) num_frames: sequence 'other' has 3 frame rows, expected num_frames=4",
    ),
    ("sequences", 1, "id", "clip", r"sequences rows 0 and 1: duplicate id 'clip'"),
    ("frames", 1, "frame_index", 0, r"frames rows 0 and 1: duplicate key \(clip, 0\)"),
    ("frames", 8, "frame_index", 3, r"frames row \(other, 3\) frame_index: frame 3 out of range"),
]


@pytest.mark.parametrize(("table", "row", "column", "value", "match"), CELLS)
def test_one_bad_cell_is_refused_naming_table_row_and_field(
    out: Path, table: str, row: int, column: str, value: Any, match: str
) -> None:
    _rewrite(out, table, lambda t: _set(t, row, column, value))
    _refused(out, match)


def _cast(t: pa.Table, column: str, typ: pa.DataType) -> pa.Table:
    i = t.schema.get_field_index(column)
    return t.set_column(i, pa.field(column, typ), t.column(column).cast(typ))


SHAPES = [
    (
        "masks",
        lambda t: t.append_column("extra", pa.array([1] * t.num_rows)),
        r"'masks' has column\(s\) extra",
    ),
    ("masks", lambda t: _cast(t, "score", pa.float64()), r"masks.score has type double, expected float"),
    ("masks", lambda t: t.drop_columns(["counts"]), r"table 'masks' lacks column 'counts'"),
    (
        "entities",
        lambda t: t.append_column("frame_index", pa.array([0] * t.num_rows)),
        r"reserved column name",
    ),
    ("frames", lambda t: t.append_column("data", pa.nulls(t.num_rows, pa.binary())), r"only embedded frames"),
    (
        "masks",
        lambda t: pa.concat_tables([t, t.slice(2, 1)]),
        r"masks rows 2 and 5: duplicate key \(clip, 2,",
    ),
]


@pytest.mark.parametrize(("table", "edit", "match"), SHAPES)
def test_bad_columns_and_rows_are_refused(
    out: Path, table: str, edit: Callable[[pa.Table], pa.Table], match: str
) -> None:
    _rewrite(out, table, edit)
    _refused(out, match)


def test_declared_custom_fields_are_checked_by_type() -> None:
    ds = _dataset()
    tables, declared = ds.tables(), ds.custom_fields
    bad = dict(tables, states=_cast(tables["states"], "occluded", pa.string()))
    with pytest.raises(
        vl.ValidationError, match=r"^open 'p': states.occluded: custom field declared as bool, found string"
    ):
        validate_tables(bad, source="open 'p'", custom=declared)
    with pytest.raises(
        vl.ValidationError, match=r"entities.difficulty: declared custom field \(int32\) has no column"
    ):
        validate_tables(
            dict(tables, entities=tables["entities"].drop_columns(["difficulty"])),
            source="p",
            custom=declared,
        )
    with pytest.raises(
        vl.ValidationError, match=r"sequences.weather: column \(string\) is not a declared custom field"
    ):
        validate_tables(tables, source="p", custom={**declared, "sequences": []})
    with pytest.raises(vl.ValidationError, match=r"^p: missing table 'boxes'"):
        validate_tables({k: v for k, v in tables.items() if k != "boxes"}, source="p")


def test_many_bad_rows_are_counted(out: Path) -> None:
    _rewrite(out, "boxes", lambda t: _set(t, 0, "h", -1.0))
    inf = pa.array([float("inf")] * MASK_ROWS, pa.float32())
    _rewrite(out, "masks", lambda t: t.set_column(t.schema.get_field_index("score"), "score", inf))
    _refused(out, r"masks row \(clip, 0, clip/001\) score: inf is not finite \(and 4 more rows\)")


# ---------------------------------------------------------------------- random corruption
def _reference_runs(counts: bytes, pixels: int) -> list[int] | None:
    """pycocotools' rleFrString in plain Python integers, and what vidlabel must refuse (None):
    a byte outside '0'..'o', an unfinished last value, a value over 6 characters, a negative
    run, runs that do not add up to the mask. Written apart from rle.py, to test it against."""
    runs: list[int] = []
    p = 0
    while p < len(counts):
        x = k = 0
        more = True
        while more:
            if p == len(counts):
                return None
            ch = counts[p] - 48
            if not 0 <= ch <= 63:
                return None
            x |= (ch & 0x1F) << (5 * k)
            more = bool(ch & 0x20)
            p += 1
            k += 1
            if not more and ch & 0x10:
                x -= 1 << (5 * k)
        if k > 6:
            return None
        runs.append(x + runs[-2] if len(runs) > 2 else x)
    if any(r < 0 for r in runs) or sum(runs) != pixels:
        return None
    return runs


MASK_ROWS = 5  # masks rows in the export: (clip, 0/1/2/4, A) and (other, 0, C)
ANNOTATED = ("masks", "boxes", "states")


@st.composite
def corruption(draw: st.DrawFn) -> tuple[str, Callable[[Path, dict[str, pa.Table]], None]]:
    """A kind of damage and a function applying it to the export's tables (read into the dict)."""
    kind = draw(
        st.sampled_from(
            ["flip", "truncate", "frame", "duplicate", "overlap", "bigger", "dangling", "other_sequence"]
        )
    )
    row = draw(st.integers(0, MASK_ROWS - 1))
    if kind in ("flip", "truncate"):
        pos, xor, cut = draw(st.integers(0, 10_000)), draw(st.integers(1, 255)), draw(st.integers(0, 10_000))

        def counts(folder: Path, t: dict[str, pa.Table]) -> None:
            c = bytearray(t["masks"].column("counts")[row].as_py())
            if kind == "flip":
                c[pos % len(c)] ^= xor
            else:
                c = c[: cut % len(c)]
            t["masks"] = _set(t["masks"], row, "counts", bytes(c))

        return kind, counts
    if kind == "frame":
        table = draw(st.sampled_from([*ANNOTATED, "tracklets"]))
        column = "start_frame" if table == "tracklets" else "frame_index"
        past = draw(st.one_of(st.integers(-(2**31), -1), st.integers(0, 2**31 - 7)))

        def frame(folder: Path, t: dict[str, pa.Table]) -> None:
            seq = t[table].column("sequence_id")[0].as_py()
            n = 6 if seq == "clip" else 3
            t[table] = _set(t[table], 0, column, past if past < 0 else n + past)

        return kind, frame
    if kind == "duplicate":
        table = draw(st.sampled_from(list(sch.TABLES)))

        def duplicate(folder: Path, t: dict[str, pa.Table]) -> None:
            k = row % t[table].num_rows
            t[table] = pa.concat_tables([t[table], t[table].slice(k, 1)])

        return kind, duplicate
    if kind == "overlap":
        start = draw(st.integers(0, 2))

        def overlap(folder: Path, t: dict[str, pa.Table]) -> None:
            t["tracklets"] = _set(t["tracklets"], 1, "start_frame", start)  # clip/001#2 into [0, 2]

        return kind, overlap
    if kind == "bigger":
        dh, dw = draw(st.integers(0, 40)), draw(st.integers(0, 40))
        dh += dh == dw == 0

        def bigger(folder: Path, t: dict[str, pa.Table]) -> None:
            m = t["masks"]
            h, w = m.column("height")[row].as_py() + dh, m.column("width")[row].as_py() + dw
            counts = rle.encode(np.ones((h, w), bool))["counts"]  # a valid RLE of the bigger size
            t["masks"] = _set(_set(_set(m, row, "height", h), row, "width", w), row, "counts", counts)

        return kind, bigger
    table = draw(st.sampled_from([*ANNOTATED, "tracklets"]))
    ghost = draw(st.text(min_size=1, max_size=8).filter(lambda s: s not in (A, B, C)))

    def entity(folder: Path, t: dict[str, pa.Table]) -> None:
        rows = t[table].column("sequence_id").to_pylist()
        k = rows.index("clip")
        t[table] = _set(t[table], k, "entity_id", ghost if kind == "dangling" else C)

    return kind, entity


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damage=corruption())
def test_corrupted_exports_are_always_refused(export: Path, damage: tuple[str, Any]) -> None:
    kind, apply = damage
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "out"
        shutil.copytree(export, folder)
        tables = {n: pq.read_table(folder / f"{n}.parquet") for n in sch.TABLES}
        before = tables["masks"]
        apply(folder, tables)
        for name, t in tables.items():
            pq.write_table(t, folder / f"{name}.parquet")
        if kind in ("flip", "truncate"):
            changed = [
                (r["counts"], r["height"] * r["width"])
                for r, o in zip(tables["masks"].to_pylist(), before.to_pylist())
                if r["counts"] != o["counts"]
            ]
            (counts, pixels), *_ = changed
            if _reference_runs(counts, pixels) is not None:  # the damage left a valid RLE: it must load
                back = vl.Dataset.from_parquet(folder)
                row = next(r for r in back.table("masks").to_pylist() if r["counts"] == counts)
                want = cocomask.decode({"size": [row["height"], row["width"]], "counts": counts})
                got = back.mask(row["sequence_id"], row["frame_index"], row["entity_id"])
                assert got is not None and np.array_equal(got, want.astype(bool))
                return
        with pytest.raises(vl.ValidationError) as info:
            vl.Dataset.from_parquet(folder)
        assert str(info.value).startswith(f"from_parquet {str(folder)!r}: ")


@st.composite
def datasets(draw: st.DrawFn) -> vl.Dataset:
    ds = vl.Dataset(entity_fields={"difficulty": pa.int32()}, state_fields={"occluded": pa.bool_()})
    for s in range(draw(st.integers(1, 2))):
        n, h, w = draw(st.integers(1, 6)), draw(st.integers(1, 20)), draw(st.integers(1, 20))
        seq = ds.add_sequence(
            f"s{s}", num_frames=n, width=w, height=h, fps=draw(st.sampled_from([None, 5.0]))
        )
        for _ in range(draw(st.integers(0, 3))):
            e = ds.add_entity(seq, difficulty=draw(st.one_of(st.none(), st.integers(-5, 5))))
            for f in draw(st.lists(st.integers(0, n - 1), max_size=n, unique=True)):
                what = draw(st.sampled_from(["mask", "box", "state"]))
                if what == "mask":
                    mask = np.asarray(draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w))).reshape(
                        h, w
                    )
                    mask[draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))] = True
                    ds.set_mask(seq, f, e, mask, score=draw(st.one_of(st.none(), st.floats(0, 1))))
                elif what == "box":
                    ds.set_box(seq, f, e, (f, 1.0, 2.5, 3.0), keyframe=draw(st.booleans()))
                else:
                    ds.set_state(seq, f, e, occluded=draw(st.booleans()))
    return ds


@settings(max_examples=60, deadline=None)
@given(ds=datasets())
def test_valid_exports_always_load_and_round_trip(ds: vl.Dataset) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ds.to_parquet(Path(tmp) / "out")
        back = vl.Dataset.from_parquet(Path(tmp) / "out")
    for name in sch.TABLES:
        assert back.table(name).equals(ds.table(name)), name


# ---------------------------------------------------------------------- RLE strings
@st.composite
def masks(draw: st.DrawFn) -> np.ndarray:
    h, w = draw(st.integers(1, 300)), draw(st.integers(1, 300))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["noise", "blocks", "empty", "full"]))
    if kind == "noise":
        return rng.random((h, w)) < draw(st.floats(0, 1))
    if kind == "blocks":
        m = np.zeros((h, w), bool)
        for _ in range(draw(st.integers(1, 5))):
            y, x = rng.integers(0, h), rng.integers(0, w)
            m[y : y + rng.integers(1, h + 1), x : x + rng.integers(1, w + 1)] ^= True
        return m
    return np.full((h, w), kind == "full")


def _decode(runs: np.ndarray, h: int, w: int) -> np.ndarray:
    return np.repeat(np.arange(runs.size) % 2, runs).astype(bool).reshape((h, w), order="F")


@settings(max_examples=200, deadline=None)
@given(m=masks())
def test_every_pycocotools_encoding_passes_and_covers_its_mask(m: np.ndarray) -> None:
    enc = cocomask.encode(np.asfortranarray(m, np.uint8))
    h, w = m.shape
    code, total = rle.counts_problems(pa.array([enc["counts"]], pa.binary()), np.array([h * w]))
    assert code.tolist() == [0] and total.tolist() == [h * w]
    assert np.array_equal(_decode(rle.runs(enc["counts"], h, w), h, w), m)


mutation = st.tuples(
    st.sampled_from(["replace", "insert", "delete"]), st.integers(0, 10**6), st.integers(0, 255)
)


@settings(max_examples=300, deadline=None)
@given(m=masks(), edits=st.lists(mutation, min_size=1, max_size=3), neighbours=st.lists(masks(), max_size=3))
def test_mutated_strings_pass_exactly_when_pycocotools_reads_a_whole_mask(
    m: np.ndarray, edits: list[tuple[str, int, int]], neighbours: list[np.ndarray]
) -> None:
    h, w = m.shape
    counts = bytearray(cocomask.encode(np.asfortranarray(m, np.uint8))["counts"])
    for op, pos, byte in edits:
        if op == "insert":
            counts.insert(pos % (len(counts) + 1), byte)
        elif counts and op == "replace":
            counts[pos % len(counts)] = byte
        elif counts:
            del counts[pos % len(counts)]
    s = bytes(counts)
    want = _reference_runs(s, h * w)
    # in a column between valid strings, so that slicing and the chained sums are exercised too
    others = [cocomask.encode(np.asfortranarray(n, np.uint8))["counts"] for n in neighbours]
    column = pa.array([*others, s, *others], pa.binary())
    sizes = [n.size for n in neighbours]
    code, total = rle.counts_problems(column, np.array([*sizes, h * w, *sizes]))
    k = len(others)
    assert total[:k].tolist() == sizes and total[k + 1 :].tolist() == sizes
    assert code[:k].tolist() == [0] * k and code[k + 1 :].tolist() == [0] * k
    assert (code[k] == 0) == (want is not None), (s, code[k])
    if want is not None:
        assert rle.runs(s, h, w).tolist() == want
        assert np.array_equal(
            _decode(np.asarray(want), h, w), cocomask.decode({"size": [h, w], "counts": s}) > 0
        )
    else:
        with pytest.raises(vl.ValidationError, match=r"^masks\.counts: "):
            rle.normalize({"size": [h, w], "counts": s}, h, w)


def _value(x: int) -> bytes:
    """One value in the COCO string format (as pycocotools' rleToString writes it)."""
    out = bytearray()
    more = True
    while more:
        c = x & 0x1F
        x >>= 5
        more = x != -1 if c & 0x10 else x != 0
        out.append((c | 0x20 if more else c) + 48)
    return bytes(out)


def test_long_hostile_strings_are_refused_without_overflow() -> None:
    """Over 64 KiB of the largest values: sums that would overflow int64 if left unchecked."""
    big = _value(2**28) * 30_000 + _value(-(2**28)) * 30_000
    for s in (big, _value(5) * 3 + big, _value(0) + _value(2**29 - 1) * 40_000):
        assert len(s) > rle._CHUNK and _reference_runs(s, 2**26) is None
        code, _ = rle.counts_problems(pa.array([s, b"0", s]), np.array([2**26, 0, 2**26]))
        assert code[0] != 0 and code[1] == 0 and code[2] != 0


def test_a_long_column_is_checked_in_slices_and_long_strings_whole() -> None:
    rng = np.random.default_rng(5)
    ms = [rng.random((60, 70)) < 0.5 for _ in range(60)] + [rng.random((400, 400)) < 0.5]
    strings = [cocomask.encode(np.asfortranarray(m, np.uint8))["counts"] for m in ms]
    assert sum(map(len, strings)) > 2 * rle._CHUNK and len(strings[-1]) > rle._CHUNK
    strings[31] = strings[31][:-3]
    code, total = rle.counts_problems(pa.array(strings, pa.binary()), np.array([m.size for m in ms]))
    assert np.flatnonzero(code).tolist() == [31]
    assert total[:31].tolist() == [m.size for m in ms[:31]] and total[-1] == 160_000


# ---------------------------------------------------------------------- per value, for importers
def test_normalize_refuses_sizes_over_the_bound_and_runs_that_do_not_add_up() -> None:
    huge = {"size": [100_000, 100_000], "counts": b"0"}
    with pytest.raises(vl.ValidationError, match=r"masks.size: size 100000x100000 .* over the bound"):
        rle.normalize(huge)
    with pytest.raises(
        vl.ValidationError, match=r"masks.counts: RLE runs add up to 0 pixels, expected 4\*4=16"
    ):
        rle.normalize({"size": [4, 4], "counts": b"0"})
    with pytest.raises(vl.ValidationError, match=r"masks.size: expected \[height, width\]"):
        rle.normalize({"size": [4.5, 4], "counts": b"0"})
    assert check_frame_size(480, 854.0, "x") == (480, 854)
    with pytest.raises(vl.ValidationError, match=r"^x: size"):
        check_frame_size(sch.MAX_SIDE + 1, 1, "x")
    with pytest.raises(vl.ValidationError, match=r"^x: size 8192x8193 .* 67108864 pixels in all"):
        check_frame_size(8192, 8193, "x")  # each side within the bound, not their product


def test_a_tiny_coco_file_cannot_declare_a_huge_video(tmp_path: Path) -> None:
    """1 KB of JSON declaring 100000x100000 frames and a mask covering them: refused at the file."""
    data = {
        "videos": [{"id": 1, "width": 100_000, "height": 100_000, "length": 1, "file_names": ["v/0.jpg"]}],
        "categories": [{"id": 1, "name": "x"}],
        "annotations": [
            {
                "id": 1,
                "video_id": 1,
                "category_id": 1,
                "segmentations": [{"size": [100_000, 100_000], "counts": "0ST?0"}],
            }
        ],
    }
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(data))
    assert path.stat().st_size < 1024
    ds = _dataset()
    before = snapshot(ds)
    with pytest.raises(vl.ValidationError, match=r"tiny.json: videos\[0\]: frames: size 100000x100000"):
        vl.read_coco(path, dataset=ds)
    assert_same(before, ds)


def test_davis_frames_and_mask_pngs_over_the_bound_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    from vidlabel.io.davis import read_index_png

    root = tmp_path / "DAVIS"
    (root / "JPEGImages" / "480p" / "s").mkdir(parents=True)
    (root / "Annotations" / "480p" / "s").mkdir(parents=True)
    Image.new("RGB", (8, 6)).save(root / "JPEGImages" / "480p" / "s" / "00000.jpg")
    png = root / "Annotations" / "480p" / "s" / "00000.png"
    Image.new("P", (8, 6)).save(png)
    assert vl.read_davis(root, progress=False).num_frames("s") == 1
    ds = _dataset()  # made before the bound shrinks (add_sequence checks it too)
    before = snapshot(ds)
    monkeypatch.setattr(sch, "MAX_PIXELS", 40)  # 8x6 = 48 pixels: now over the bound
    with pytest.raises(vl.ValidationError, match=r"sequence 's': size 6x8 .* over the bound"):
        vl.read_davis(root, progress=False)
    with pytest.raises(vl.ValidationError, match=r"sequence 's': size 6x8"):
        vl.read_davis(root, dataset=ds, progress=False)
    assert_same(before, ds)  # the half-imported sequence is rolled back
    with pytest.raises(vl.ValidationError, match=r"00000.png: size 6x8 .* over the bound"):
        read_index_png(png)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("project") / "p.vlproj"
    ds = _dataset()
    ds.save_as(folder)
    ds.close()
    return folder


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damage=corruption())
def test_corrupted_project_checkpoints_are_always_refused(project: Path, damage: tuple[str, Any]) -> None:
    """The same damage in a project folder's checkpoint: reopening refuses it, never loads garbage."""
    kind, apply = damage
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "p.vlproj"
        shutil.copytree(project, folder)
        ckpt = max(p for p in (folder / "checkpoints").iterdir() if p.name.isdigit())
        tables = {n: pq.read_table(ckpt / f"{n}.parquet") for n in sch.TABLES}
        before = tables["masks"]
        apply(ckpt, tables)
        for name, t in tables.items():
            pq.write_table(t, ckpt / f"{name}.parquet")
        if kind in ("flip", "truncate"):
            (counts, pixels), *_ = [
                (r["counts"], r["height"] * r["width"])
                for r, o in zip(tables["masks"].to_pylist(), before.to_pylist())
                if r["counts"] != o["counts"]
            ]
            if _reference_runs(counts, pixels) is not None:  # still a valid RLE: the project opens
                vl.open(folder).close()
                return
        with pytest.raises(vl.ValidationError, match="checkpoint"):
            vl.open(folder)


def test_ious_on_runs_equal_pixel_counts() -> None:
    rng = np.random.default_rng(4)
    a = [rng.random((30, 40)) > t for t in (0.3, 0.6, 0.9)]
    b = [rng.random((30, 40)) > t for t in (0.5, 0.8)] + [a[1]]
    got = rle.ious([rle.encode(m) for m in a], [rle.encode(m) for m in b])
    want = np.array([[(x & y).sum() / (x | y).sum() for y in b] for x in a])
    assert got.shape == (3, 3) and np.allclose(got, want) and got[1, 2] == 1.0
    assert rle.ious([], [rle.encode(a[0])]).shape == (0, 1)
