"""One validation pass over the seven tables, for every loader (parquet, project reopen, importers).

``validate_tables`` checks what a file could get wrong and the dataset's own edits never do:
columns and types, unique keys, references between tables, sizes within schema.MAX_SIDE and
MAX_PIXELS, frame indices in range, well-formed RLE that covers its mask exactly, finite boxes
and scores, and the tracklet rules (tracklets of one entity never overlap, every annotation lies
in a tracklet of its entity). Everything is vectorised over whole columns (pyarrow.compute,
numpy; RLE strings through rle.counts_problems), so 100,000 DAVIS-sized masks validate in about
half a second, nine tenths of it the RLE scan (benchmarks/bench_validation.py). The first problem
found is raised as a ValidationError naming the source, the table, the row (by its key values)
and the field; the caller then loads nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import rle as rlemod
from . import schema as sch
from .errors import ValidationError

if TYPE_CHECKING:
    from .dataset import Dataset

__all__ = ["check_frame_size", "check_sequence", "validate_tables"]

_ANNOTATIONS = ("masks", "boxes", "states")
_COLOR = r"^#[0-9A-Fa-f]{6}$"  # what Dataset.add_entity accepts


def validate_tables(
    tables: Mapping[str, pa.Table],
    *,
    source: str,
    custom: Mapping[str, Sequence[pa.Field]] | None = None,
) -> None:
    """Raise ValidationError on the first problem in ``tables``; return None when they are sound.

    ``tables``: the seven tables by name (schema.TABLES), built-in columns with exactly the
    schema's types, custom fields appended to sequences, entities and states, and on frames
    optionally the embedded ``data``/``mime`` columns (schema.FRAME_PAYLOAD). ``custom``, when
    given, is the declared custom fields per table (missing tables: none declared); the tables
    must then hold exactly those columns with those types. Without it, the extra columns are
    the custom fields. ``source`` starts every message (``"from_parquet 'out/'"``).
    """
    _Pass(tables, source, custom).run()


def check_frame_size(height: object, width: object, what: str) -> tuple[int, int]:
    """The per-value check importers make on a size a file declares, before anything is allocated
    for it: positive integers within schema.MAX_SIDE and MAX_PIXELS. Returns (height, width)."""

    def whole(v: object) -> bool:
        if isinstance(v, float):
            return v.is_integer()
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    if not (whole(height) and whole(width)):
        raise ValidationError(f"{what}: size {height!r}x{width!r} (height x width) is not two integers")
    h, w = int(height), int(width)  # type: ignore[call-overload]
    problem = sch.size_problem(h, w)
    if problem:
        raise ValidationError(f"{what}: {problem}")
    return h, w


def check_sequence(ds: Dataset, seq: str) -> None:
    """Refuse a sequence just added from files whose frames declare a size over the bounds."""
    row = ds.sequence(seq)
    check_frame_size(row["height"], row["width"], f"sequence {seq!r}")


class _Pass:
    def __init__(
        self, tables: Mapping[str, pa.Table], source: str, custom: Mapping[str, Sequence[pa.Field]] | None
    ) -> None:
        self.t = tables
        self.source = source
        self.custom = custom

    # ---- messages ------------------------------------------------------------------------
    def error(self, text: str) -> ValidationError:
        return ValidationError(f"{self.source}: {text}")

    def row(self, table: str, i: int) -> str:
        t = self.t[table]
        values = [t.column(k)[i].as_py() for k in sch.KEYS[table]]
        if any(v is None for v in values):
            return f"{table} row #{i}"
        return f"{table} row ({', '.join(map(str, values))})"

    def check(self, table: str, bad: np.ndarray, field: str, why: Callable[[int], str]) -> None:
        """Refuse the first row where ``bad`` (a bool array over the table's rows) holds."""
        if not bad.any():
            return
        rows = np.flatnonzero(bad)
        i = int(rows[0])
        more = f" (and {rows.size - 1} more rows)" if rows.size > 1 else ""
        raise self.error(f"{self.row(table, i)} {field}: {why(i)}{more}")

    def check_values(self, table: str, name: str, v: np.ndarray, bad: np.ndarray, text: str) -> None:
        """``check`` with a message about the row's value: ``text`` formats ``{v}``."""
        self.check(table, bad, name, lambda i: text.format(v=v[i]))

    def col(self, table: str, name: str) -> pa.ChunkedArray:
        return self.t[table].column(name)

    def num(self, table: str, name: str, fill: float = 0) -> np.ndarray:
        return self.col(table, name).fill_null(fill).to_numpy()

    def value(self, table: str, name: str, i: int) -> object:
        return self.col(table, name)[i].as_py()

    # ---- the pass ------------------------------------------------------------------------
    def run(self) -> None:
        for name in sch.TABLES:
            self.columns(name)
        self.sequences()
        self.entities()
        self.frames()
        self.tracklets()
        for name in _ANNOTATIONS:
            self.annotations(name)
        self.masks()
        self.boxes()

    def columns(self, name: str) -> None:
        if name not in self.t:
            raise self.error(f"missing table {name!r}")
        t = self.t[name]
        if not isinstance(t, pa.Table):
            raise self.error(f"table {name!r} is a {type(t).__name__}, not a pyarrow Table")
        if len(set(t.column_names)) < len(t.column_names):
            raise self.error(f"table {name!r} has two columns of the same name")
        for f in sch.BUILTIN[name]:
            if f.name not in t.column_names:
                raise self.error(f"table {name!r} lacks column {f.name!r}")
            found = t.schema.field(f.name).type
            if not found.equals(f.type):
                since = sch.ADDED_IN.get((name, f.name))
                why = f" (built in since schema version {since}, a custom field of that name clashes)"
                raise self.error(f"{name}.{f.name} has type {found}, expected {f.type}{why if since else ''}")
            if not f.nullable:
                self.not_null(name, f.name)
        builtin = {f.name for f in sch.BUILTIN[name]}
        extra = [t.schema.field(c) for c in t.column_names if c not in builtin]
        if name in sch.CUSTOMIZABLE:
            self.custom_fields(name, extra)
        elif name == "frames" and extra:
            payload = {f.name: f.type for f in sch.FRAME_PAYLOAD}
            if sorted(f.name for f in extra) != sorted(payload):
                raise self.error(
                    f"frames has extra column(s) {', '.join(f.name for f in extra)}; only embedded "
                    f"frames ({', '.join(payload)}, together) may be added"
                )
            for f in extra:
                if not f.type.equals(payload[f.name]):
                    raise self.error(f"frames.{f.name} has type {f.type}, expected {payload[f.name]}")
        elif extra:
            raise self.error(
                f"table {name!r} has column(s) {', '.join(f.name for f in extra)} that are not "
                "in its schema (custom fields go on sequences, entities and states)"
            )

    def custom_fields(self, name: str, found: list[pa.Field]) -> None:
        if self.custom is None:
            try:
                sch.normalize_fields(name, found)
            except ValidationError as e:
                raise self.error(str(e)) from None
            return
        declared = {f.name: f.type for f in self.custom.get(name, [])}
        have = {f.name: f.type for f in found}
        for field, typ in declared.items():
            if field not in have:
                raise self.error(f"{name}.{field}: declared custom field ({typ}) has no column")
            if not have[field].equals(typ):
                raise self.error(f"{name}.{field}: custom field declared as {typ}, found {have[field]}")
        for field, typ in have.items():
            if field not in declared:
                raise self.error(f"{name}.{field}: column ({typ}) is not a declared custom field")

    def not_null(self, table: str, name: str) -> None:
        col = self.col(table, name)
        if col.null_count:
            self.check(table, col.is_null().to_numpy(zero_copy_only=False), name, lambda i: "null")

    def non_empty(self, table: str, name: str) -> None:
        """A required string: not null, not empty."""
        col = self.col(table, name)
        bad = pc.fill_null(pc.equal(pc.utf8_length(col), 0), True).to_numpy(zero_copy_only=False)
        self.check(
            table, bad, name, lambda i: f"expected a non-empty string, got {self.value(table, name, i)!r}"
        )

    def unique(self, table: str, name: str) -> None:
        col = self.col(table, name)
        if pc.count_distinct(col).as_py() == len(col):
            return
        counts = pc.value_counts(col)
        dup = counts.field("values")[int(np.argmax(counts.field("counts").to_numpy()))].as_py()
        rows = np.flatnonzero(pc.equal(col, dup).to_numpy(zero_copy_only=False))
        raise self.error(f"{table} rows {rows[0]} and {rows[1]}: duplicate {name} {dup!r}")

    def codes(self, table: str, name: str, target: str) -> np.ndarray:
        """Row positions in ``target`` of the ids in ``table.name``, refusing unknown ones."""
        col = self.col(table, name)
        codes = pc.index_in(col, value_set=self.col(target, "id").combine_chunks())
        out = codes.fill_null(-1).to_numpy().astype(np.int64)
        what = target[:-1] if target != "entities" else "entity"
        self.check(
            table, out < 0, name, lambda i: f"unknown id {self.value(table, name, i)!r} (no such {what})"
        )
        return out

    # ---- tables ----------------------------------------------------------------------------
    def sequences(self) -> None:
        self.non_empty("sequences", "id")
        self.unique("sequences", "id")
        self.non_empty("sequences", "name")
        for name in ("width", "height", "num_frames"):
            self.not_null("sequences", name)
            v = self.num("sequences", name)
            self.check_values("sequences", name, v, v <= 0, "{v} is not positive")
        n = self.num("sequences", "num_frames")
        self.check(
            "sequences", n > sch.MAX_FRAMES, "num_frames", lambda i: f"{n[i]} frames, over {sch.MAX_FRAMES}"
        )
        h = self.num("sequences", "height").astype(np.int64)
        w = self.num("sequences", "width").astype(np.int64)
        big = (h > sch.MAX_SIDE) | (w > sch.MAX_SIDE) | (h * w > sch.MAX_PIXELS)
        self.check("sequences", big, "width", lambda i: str(sch.size_problem(int(h[i]), int(w[i]))))
        fps = self.num("sequences", "fps", fill=1.0)
        self.check(
            "sequences",
            ~(np.isfinite(fps) & (fps > 0)),
            "fps",
            lambda i: f"{fps[i]} is not a positive number",
        )
        self.n_frames = n.astype(np.int64)
        self.height, self.width = h, w

    def entities(self) -> None:
        self.non_empty("entities", "id")
        self.unique("entities", "id")
        self.ent_seq = self.codes("entities", "sequence_id", "sequences")
        self.non_empty("entities", "name")
        t = self.t["entities"]
        if t.num_rows:
            named = pa.table({"s": t.column("sequence_id"), "n": t.column("name")})
            if named.group_by(["s", "n"]).aggregate([]).num_rows < t.num_rows:
                pairs = list(zip(named.column("s").to_pylist(), named.column("n").to_pylist()))
                seen: dict[tuple[str, str], int] = {}
                for i, p in enumerate(pairs):
                    if p in seen:
                        raise self.error(
                            f"{self.row('entities', i)} name: duplicate name {p[1]!r} in sequence {p[0]!r} "
                            f"(as {self.row('entities', seen[p])})"
                        )
                    seen[p] = i
        color = self.col("entities", "color")
        bad = pc.invert(pc.fill_null(pc.match_substring_regex(color, _COLOR), True))
        self.check(
            "entities",
            bad.to_numpy(zero_copy_only=False),
            "color",
            lambda i: f"expected a colour like '#ff8800', got {self.value('entities', 'color', i)!r}",
        )

    def frame_range(self, table: str, name: str, seq: np.ndarray) -> np.ndarray:
        f = self.num(table, name).astype(np.int64)
        n = self.n_frames[seq]
        self.check(
            table,
            (f < 0) | (f >= n),
            name,
            lambda i: (
                f"frame {f[i]} out of range, sequence {self.t['sequences'].column('id')[seq[i]].as_py()!r} "
                f"has {n[i]} frames"
            ),
        )
        return f

    def frames(self) -> None:
        seq = self.codes("frames", "sequence_id", "sequences")
        f = self.frame_range("frames", "frame_index", seq)
        key = seq * (sch.MAX_FRAMES + 1) + f
        self.unique_key("frames", key)
        rows = np.bincount(seq, minlength=len(self.n_frames))
        ids = self.col("sequences", "id")
        self.check(
            "sequences",
            rows != self.n_frames,
            "num_frames",
            lambda i: (
                f"sequence {ids[i].as_py()!r} has {rows[i]} frame rows, "
                f"expected num_frames={self.n_frames[i]}"
            ),
        )
        if "data" in self.t["frames"].column_names:
            has = self.col("frames", "data").is_valid().to_numpy(zero_copy_only=False)
            typed = self.col("frames", "mime").is_valid().to_numpy(zero_copy_only=False)
            self.check("frames", has & ~typed, "mime", lambda i: "null for an embedded frame")

    def unique_key(self, table: str, key: np.ndarray) -> None:
        if key.size < 2:
            return
        order = np.argsort(key, kind="stable")
        same = key[order[1:]] == key[order[:-1]]
        if same.any():
            k = int(np.flatnonzero(same)[0])
            a, b = sorted((int(order[k]), int(order[k + 1])))
            raise self.error(
                f"{table} rows {a} and {b}: duplicate key {self.row(table, b)[len(table) + 5 :]}"
            )

    def entity_refs(self, table: str) -> tuple[np.ndarray, np.ndarray]:
        """Sequence and entity positions of each row, the entity being one of that sequence."""
        seq = self.codes(table, "sequence_id", "sequences")
        ent = self.codes(table, "entity_id", "entities")
        own = self.ent_seq[ent]
        ids = self.col("sequences", "id")
        self.check(
            table,
            own != seq,
            "entity_id",
            lambda i: (
                f"entity {self.value(table, 'entity_id', i)!r} belongs to sequence {ids[own[i]].as_py()!r}, "
                f"not {ids[seq[i]].as_py()!r}"
            ),
        )
        return seq, ent

    def tracklets(self) -> None:
        self.non_empty("tracklets", "id")
        self.unique("tracklets", "id")
        seq, ent = self.entity_refs("tracklets")
        self.not_null("tracklets", "start_frame")
        self.not_null("tracklets", "end_frame")
        start = self.frame_range("tracklets", "start_frame", seq)
        end = self.frame_range("tracklets", "end_frame", seq)
        self.check(
            "tracklets", start > end, "end_frame", lambda i: f"ends at {end[i]}, before its start {start[i]}"
        )
        order = np.lexsort((start, ent))
        a, b = order[:-1], order[1:]
        clash = (ent[a] == ent[b]) & (start[b] <= end[a])
        if clash.any():
            k = int(np.flatnonzero(clash)[0])
            i, j = int(a[k]), int(b[k])
            raise self.error(
                f"{self.row('tracklets', j)} start_frame: [{start[j]}, {end[j]}] overlaps "
                f"{self.value('tracklets', 'id', i)!r} [{start[i]}, {end[i]}] of the same entity "
                f"{self.value('tracklets', 'entity_id', i)!r}"
            )
        self.tr_ent, self.tr_start, self.tr_end = ent, start, end

    def annotations(self, table: str) -> None:
        seq, ent = self.entity_refs(table)
        f = self.frame_range(table, "frame_index", seq)
        self.unique_key(table, ent * (sch.MAX_FRAMES + 1) + f)
        self.not_null(table, "tracklet_id")
        tr = self.codes(table, "tracklet_id", "tracklets")
        wrong = self.tr_ent[tr] != ent
        self.check(
            table,
            wrong,
            "tracklet_id",
            lambda i: (
                f"tracklet {self.value(table, 'tracklet_id', i)!r} is of entity "
                f"{self.t['tracklets'].column('entity_id')[tr[i]].as_py()!r}"
            ),
        )
        s, e = self.tr_start[tr], self.tr_end[tr]
        self.check(
            table,
            (f < s) | (f > e),
            "tracklet_id",
            lambda i: (
                f"tracklet {self.value(table, 'tracklet_id', i)!r} spans [{s[i]}, {e[i]}], not frame {f[i]}"
            ),
        )
        if table != "states":
            self.non_empty(table, "source")
            self.not_null(table, "keyframe")
            score = self.num(table, "score", fill=0.0)
            self.check(table, ~np.isfinite(score), "score", lambda i: f"{score[i]} is not finite")
        if table == "masks":
            self.mask_seq = seq

    def masks(self) -> None:
        seq = self.mask_seq
        for name, want in (("height", self.height[seq]), ("width", self.width[seq])):
            self.not_null("masks", name)
            got = self.num("masks", name).astype(np.int64)
            self.size_matches(name, got, want)
        self.not_null("masks", "counts")
        pixels = self.height[seq] * self.width[seq]
        code, total = rlemod.counts_problems(self.col("masks", "counts"), pixels)

        def why(i: int) -> str:
            if code[i] == 5:
                h, w = self.height[seq[i]], self.width[seq[i]]
                return f"RLE runs add up to {total[i]} pixels, expected {h}*{w}={pixels[i]}"
            return rlemod.PROBLEMS[int(code[i])]

        self.check("masks", code != 0, "counts", why)

    def size_matches(self, name: str, got: np.ndarray, want: np.ndarray) -> None:
        self.check(
            "masks",
            got != want,
            name,
            lambda i: f"mask {name} {got[i]} does not match its sequence's frame {name} {want[i]}",
        )

    def boxes(self) -> None:
        for name in ("x", "y", "w", "h"):
            self.not_null("boxes", name)
            v = self.num("boxes", name)
            self.check_values("boxes", name, v, ~np.isfinite(v), "{v} is not finite")
        for name in ("w", "h"):
            v = self.num("boxes", name)
            self.check_values("boxes", name, v, ~(v > 0), "{v} is not positive")
