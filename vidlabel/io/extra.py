"""What COCO and YouTube-VOS files cannot hold, carried under a ``"vidlabel"`` key, and shared export rules.

Other tools ignore the extra key; vidlabel reads it back so that a round trip is exact: entity ids,
names, colours, void flags, custom fields, per-frame mask/box metadata, states, review marks and
tracklet spans (which may bridge gaps or touch, so they cannot be rebuilt from the masks alone). Only custom
fields of plain types (bool, integers, floats, strings) travel; parquet carries every type.
"""

from __future__ import annotations

import bisect
import gc
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import groupby
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..annotations import fingerprint
from ..dataset import Dataset
from ..errors import ValidationError
from ..naming import natural_key
from ..rle import RLE

KEY = "vidlabel"
VERSION = 1
TABLES = ("sequences", "entities", "states")
INTERPOLATED = "interpolated"  # boxes the dataset recomputes itself between keyframes
_PLAIN = {
    str(t): t
    for t in (
        *(pa.bool_(), pa.int8(), pa.int16(), pa.int32(), pa.int64()),
        *(pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()),
        *(pa.float32(), pa.float64(), pa.string(), pa.large_string()),
    )
}


# ---------------------------------------------------------------------- errors
@contextmanager
def where(file: str | Path, place: str) -> Iterator[None]:
    """Turn a failure while reading ``place`` of ``file`` into a ValidationError naming both."""
    try:
        yield
    except ValidationError as e:
        if str(file) in str(e):
            raise
        raise ValidationError(f"{file}: {place}: {e}") from None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        raise ValidationError(f"{file}: {place}: malformed ({type(e).__name__}: {e})") from None


@contextmanager
def no_gc() -> Iterator[None]:
    """Build a large document without the cyclic garbage collector: its passes over the growing heap
    of lists and dicts (which hold no cycles) made a COCO export's cost per mask grow with its size."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# ---------------------------------------------------------------------- names on disk
def pick_sequences(ds: Dataset, sequences: str | Iterable[str] | None) -> list[str]:
    """Sequence ids to export: all of them, or the ones named (unknown ones are refused)."""
    if sequences is None:
        return ds.sequence_ids()
    wanted = [sequences] if isinstance(sequences, str) else list(sequences)
    return [ds.sequence(s)["id"] for s in wanted]


def is_folder_name(name: str) -> bool:
    """A name that stays one folder level: no path separators, not '.' or '..'."""
    return bool(name) and not any(c in name for c in "/\\\0") and name not in (".", "..")


def folder_names(ds: Dataset, seq_ids: Sequence[str], what: str) -> dict[str, str]:
    """Sequence id -> its name as a folder (see is_folder_name), unique among those exported."""
    out: dict[str, str] = {}
    for seq in seq_ids:
        name = ds.sequence(seq)["name"]
        if not is_folder_name(name):
            raise ValidationError(f"{what}: sequence name {name!r} cannot be a folder name")
        if name in out.values():
            raise ValidationError(f"{what}: two sequences are named {name!r}; rename one (set_sequence)")
        out[seq] = name
    return out


def frame_stems(ds: Dataset, seq: str) -> list[str]:
    """File stems of a sequence's frames: those of its frame files when they are unique and in frame
    order (so "00000", "00005", ... of YouTube-VOS survive), else "00000", "00001", ..."""
    n = ds.num_frames(seq)
    uris = [ds.frame_uri(seq, i) for i in range(n)]
    if all(uris) and not any("#" in str(u) for u in uris):  # video frames are "path#frame=i"
        stems = [Path(str(u)).stem for u in uris]
        # in order whether a reader sorts names naturally (vidlabel) or as plain strings (most tools)
        if len(set(stems)) == n and sorted(stems) == stems == sorted(stems, key=natural_key):
            return stems
    return [f"{i:05d}" for i in range(n)]


# ---------------------------------------------------------------------- custom fields
def _plain_fields(ds: Dataset, table: str) -> list[pa.Field]:
    return [f for f in ds.custom_fields[table] if str(f.type) in _PLAIN]


def fields_facts(ds: Dataset, what: str) -> dict[str, dict[str, str]]:
    """The dataset's custom fields as {table: {name: type}}; warns about the ones left out."""
    out: dict[str, dict[str, str]] = {}
    for table in TABLES:
        left = [f"{table}.{f.name} ({f.type})" for f in ds.custom_fields[table] if str(f.type) not in _PLAIN]
        if left:
            warnings.warn(
                f"{what}: custom field(s) {', '.join(left)} are not written (use to_parquet)",
                RuntimeWarning,
                stacklevel=3,
            )
        out[table] = {f.name: str(f.type) for f in _plain_fields(ds, table)}
    return out


def dataset_for(facts: Mapping[str, Any] | None, dataset: Dataset | None) -> Dataset:
    """A new dataset declaring the file's custom fields, or ``dataset`` once it is seen to declare them."""
    fields = (facts or {}).get("fields") or {}
    wanted = {t: {n: _PLAIN[ty] for n, ty in dict(fields.get(t) or {}).items()} for t in TABLES}
    if dataset is None:
        return Dataset(
            sequence_fields=wanted["sequences"],
            entity_fields=wanted["entities"],
            state_fields=wanted["states"],
        )
    for table, decl in wanted.items():
        have = {f.name: f.type for f in dataset.custom_fields[table]}
        bad = [f"{n} ({t})" for n, t in decl.items() if have.get(n) != t]
        if bad:
            raise ValidationError(
                f"the file has {table} field(s) {', '.join(bad)} that the dataset does not declare"
            )
    return dataset


def _custom(ds: Dataset, table: str, row: Mapping[str, Any]) -> dict[str, Any]:
    return {f.name: row.get(f.name) for f in _plain_fields(ds, table)}


# ---------------------------------------------------------------------- facts out
def sequence_facts(ds: Dataset, seq: str, stems: Sequence[str] | None = None) -> dict[str, Any]:
    row = ds.sequence(seq)
    out = {k: row[k] for k in ("id", "split", "status", "fps", "width", "height")}
    out["fields"] = _custom(ds, "sequences", row)
    if stems is not None:
        out["frames"] = list(stems)
    return out


def _f32(column: pa.ChunkedArray) -> list[float | None]:
    """float32 values as the shortest floats that read back to them (0.1, not 0.10000000149011612)."""
    return [None if v is None else float(v) for v in pc.cast(column, pa.string()).to_pylist()]


def _spans(keys: Iterable[Any]) -> dict[Any, range]:
    """Each key of a sorted sequence of keys -> the positions holding it."""
    out: dict[Any, range] = {}
    start = 0
    for key, run in groupby(keys):
        end = start + sum(1 for _ in run)
        out[key] = range(start, end)
        start = end
    return out


class ExportView:
    """One consistent view of a dataset's entities and annotations, taken once per export.

    Rows of masks, boxes and states are grouped by (sequence, entity) in frame order from one pass
    over each table, so an export costs the same per annotation at any dataset size, with no index
    lookup per row, and a propagation thread writing meanwhile cannot make its parts disagree.
    """

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds
        with ds.snapshot():  # every table from the same version, even while a propagation thread writes
            tables = {n: ds.table(n) for n in ("entities", "tracklets", "masks", "boxes", "states")}
        self.entities = {r["id"]: r for r in tables["entities"].to_pylist()}
        by_seq: dict[str, list[str]] = {}
        for eid, row in self.entities.items():
            by_seq.setdefault(row["sequence_id"], []).append(eid)
        self._entity_ids = {seq: sorted(ids, key=natural_key) for seq, ids in by_seq.items()}
        self._tracklets: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for t in sorted(tables["tracklets"].to_pylist(), key=lambda t: t["start_frame"]):
            self._tracklets.setdefault((t["sequence_id"], t["entity_id"]), []).append(t)
        order = [("sequence_id", "ascending"), ("entity_id", "ascending"), ("frame_index", "ascending")]
        self.columns: dict[str, dict[str, list[Any]]] = {}
        self._spans: dict[str, dict[tuple[str, str], range]] = {}
        self._seq_spans: dict[str, dict[str, range]] = {}
        for name in ("masks", "boxes", "states"):
            table = tables[name].sort_by(order)
            cols = {
                c: _f32(table.column(c))
                if pa.types.is_float32(table.schema.field(c).type)
                else table.column(c).to_pylist()
                for c in table.column_names
                if c != "tracklet_id"
            }
            self.columns[name] = cols
            self._spans[name] = _spans(zip(cols["sequence_id"], cols["entity_id"]))
            self._seq_spans[name] = _spans(cols["sequence_id"])

    def entity_ids(self, seq: str) -> list[str]:
        return list(self._entity_ids.get(seq, []))

    def rows(self, table: str, seq: str, eid: str) -> range:
        """Positions in ``columns[table]`` of the entity's rows, in frame order."""
        return self._spans[table].get((seq, eid), range(0))

    def frame_rles(self, seq: str, num_frames: int) -> list[dict[str, RLE]]:
        """Every frame's masks as {entity id: RLE}."""
        cols = self.columns["masks"]
        out: list[dict[str, RLE]] = [{} for _ in range(num_frames)]
        for i in self._seq_spans["masks"].get(seq, range(0)):
            size = [cols["height"][i], cols["width"][i]]
            out[cols["frame_index"][i]][cols["entity_id"][i]] = {"size": size, "counts": cols["counts"][i]}
        return out

    def _marks_that_hold(self, seq: str, eid: str) -> list[int]:
        """Frames marked reviewed whose mask is still the one accepted (a stale mark is not written)."""
        m, s = self.columns["masks"], self.columns["states"]
        counts = {m["frame_index"][i]: m["counts"][i] for i in self.rows("masks", seq, eid)}
        return [
            f
            for i in self.rows("states", seq, eid)
            if s["reviewed"][i] and s["reviewed_mask"][i] == fingerprint(counts.get(f := s["frame_index"][i]))
        ]

    def facts(self, seq: str, eid: str) -> dict[str, Any]:
        """Everything about an entity but its mask pixels."""
        ds, row = self.ds, self.entities[eid]
        tracklets = self._tracklets.get((seq, eid), [])
        m, b, s = (self.columns[t] for t in ("masks", "boxes", "states"))
        state_fields = [f.name for f in _plain_fields(ds, "states")]
        return {
            "id": eid,
            "name": row["name"],
            "category": row["category"],
            "color": row["color"],
            "void": bool(row["void"]),
            "fields": _custom(ds, "entities", row),
            "tracklets": [[t["start_frame"], t["end_frame"]] for t in tracklets],
            "interpolate": [t.get("interpolate") is not False for t in tracklets],
            "masks": [
                [m["frame_index"][i], m["source"][i], m["score"][i], m["keyframe"][i]]
                for i in self.rows("masks", seq, eid)
            ],
            "boxes": [
                [b[k][i] for k in ("frame_index", "x", "y", "w", "h", "source", "score", "keyframe")]
                for i in self.rows("boxes", seq, eid)
            ],
            "states": [
                [s["frame_index"][i], {f: s[f][i] for f in state_fields}]
                for i in self.rows("states", seq, eid)
            ],
            "reviewed": self._marks_that_hold(seq, eid),
        }


# ---------------------------------------------------------------------- facts in
def sequence_kwargs(facts: Mapping[str, Any] | None) -> dict[str, Any]:
    """add_sequence keywords restored from sequence facts (nothing for a foreign file)."""
    if not facts:
        return {}
    out = {k: facts.get(k) for k in ("id", "split", "status", "fps")}
    return {**out, **dict(facts.get("fields") or {})}


def add_entity(
    ds: Dataset,
    seq: str,
    facts: Mapping[str, Any] | None,
    *,
    name: str,
    category: str | None,
    void: bool,
    masks: Mapping[int, Any],
    boxes: Mapping[int, Sequence[float]] | None = None,
) -> str:
    """Add an entity with its masks (bool arrays or RLE dicts by frame), restoring its facts if any.

    Without facts (a foreign file) masks are keyframes of source "import", and ``boxes`` are set
    as keyframe boxes of source "import"; tracklets then follow the annotations as runs of frames.
    """
    f = dict(facts or {})
    eid = ds.add_entity(
        seq,
        name=f.get("name", name),
        category=f.get("category", category),
        void=bool(f.get("void", void)),
        id=f.get("id"),
        color=f.get("color"),
        **dict(f.get("fields") or {}),
    )
    meta = {int(m[0]): (m[1], m[2], bool(m[3])) for m in f.get("masks", [])}
    groups: dict[tuple[str, bool], dict[int, Any]] = {}
    for frame, mask in sorted(masks.items()):
        source, _score, keyframe = meta.get(frame, ("import", None, True))
        groups.setdefault((source, keyframe), {})[frame] = mask
    for (source, keyframe), group in groups.items():
        scores = {fr: meta.get(fr, ("", None, True))[1] for fr in group}
        ds.set_masks(seq, eid, group, source=source, score=scores, keyframe=keyframe)
    held = set(masks)
    if facts is None and boxes:
        ds.set_boxes(seq, eid, dict(boxes), source="import")
        held.update(boxes)
    box_groups: dict[tuple[str, bool], dict[int, tuple[Any, ...]]] = {}
    for fr, x, y, w, h, source, score, keyframe in f.get("boxes", []):
        held.add(int(fr))
        if source != INTERPOLATED or keyframe:  # the dataset fills those in between keyframes itself
            box_groups.setdefault((source, bool(keyframe)), {})[int(fr)] = (x, y, w, h, score)
    for (source, keyframe), group in box_groups.items():
        ds.set_boxes(
            seq,
            eid,
            {fr: b[:4] for fr, b in group.items()},
            source=source,
            score={fr: b[4] for fr, b in group.items()},
            keyframe=keyframe,
        )
    for fr, values in f.get("states", []):
        if values:
            ds.set_state(seq, int(fr), eid, **values)
            held.add(int(fr))
    reviewed = f.get("reviewed")
    reviewed = [] if reviewed is None else reviewed
    if not isinstance(reviewed, list):
        raise ValidationError(
            f"entity {eid!r}: 'reviewed' must be a list of frame indices, got {reviewed!r:.80}"
        )
    none = object()  # a sentinel: None itself may be what the file holds
    bad = next((fr for fr in reviewed if isinstance(fr, bool) or not isinstance(fr, int)), none)
    if bad is not none:
        raise ValidationError(f"entity {eid!r}: 'reviewed' holds {bad!r:.40}, not a frame index")
    held.update(reviewed)  # a mark outside the saved spans is refused there as any annotation is
    if "tracklets" in f:
        restore_tracklets(ds, seq, eid, f["tracklets"], f.get("interpolate"), held)
    # After the masks (a non-keyframe mask written later would clear the mark) and the spans: a
    # mark is set only inside a tracklet, and one on a frame with nothing else (an erased mask
    # inside a track) is inside only once the saved span bridges it again.
    if reviewed:
        ds.mark_reviewed(seq, reviewed, eid)
    return eid


def _in_span(spans: Sequence[tuple[int, int]], starts: Sequence[int], frame: int) -> bool:
    k = bisect.bisect_right(starts, frame) - 1
    return k >= 0 and frame <= spans[k][1]


def restore_tracklets(
    ds: Dataset,
    seq: str,
    eid: str,
    spans: Sequence[Sequence[int]],
    interpolate: Sequence[bool] | None,
    held: Iterable[int],
) -> None:
    """Reshape the entity's tracklets (runs of annotated frames after import) into the saved spans:
    split where two spans touch, merge runs that one span bridges, extend to the span's ends."""
    n = ds.num_frames(seq)
    want = [(int(s), int(e)) for s, e in spans]
    for k, (s, e) in enumerate(want):
        if not 0 <= s <= e < n or (k and s <= want[k - 1][1]):
            raise ValidationError(f"tracklets of entity {eid!r}: bad or unordered span [{s}, {e}]")
    if interpolate is not None and len(interpolate) != len(want):
        raise ValidationError(f"tracklets of entity {eid!r}: {len(interpolate)} interpolate flags")
    starts = [s for s, _ in want]  # ordered and disjoint (checked above): bisect finds a frame's span
    outside = sorted(fr for fr in set(held) if not _in_span(want, starts, fr))
    if outside:
        raise ValidationError(f"tracklets of entity {eid!r} leave annotated frame {outside[0]} out")
    # The entity's tracklets as [start, end, id], kept here in frame order as they are cut: asking
    # the dataset for them after every cut made an entity of many tracklets cost their square.
    rows = [[t["start_frame"], t["end_frame"], t["id"]] for t in ds.tracklets(seq, eid)]
    for s, e in want:
        for cut in (s, e + 1):
            k = bisect.bisect_left(rows, cut, key=lambda r: r[0]) - 1  # the last one starting before
            if k >= 0 and cut <= rows[k][1]:
                new = ds.split_tracklet(rows[k][2], cut)
                rows.insert(k + 1, [cut, rows[k][1], new])
                rows[k][1] = cut - 1
    first = [r[0] for r in rows]
    for k, (s, e) in enumerate(want):
        # after the cuts no tracklet straddles s or e + 1: those starting in [s, e] are the ones inside
        inside = rows[bisect.bisect_left(first, s) : bisect.bisect_right(first, e)]
        if not inside:
            continue  # held only by something not carried (a state of a non-plain type): nothing to span
        tid = inside[0][2]
        for t in inside[1:]:
            tid = ds.merge_tracklets(tid, t[2])
        row = ds.tracklet(tid)
        if (row["start_frame"], row["end_frame"]) != (s, e):
            ds.set_tracklet_span(tid, s, e)
        if interpolate is not None and not interpolate[k]:
            ds.set_tracklet_interpolation(tid, False)
