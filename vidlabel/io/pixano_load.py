"""Pixano records (io.pixano_records), as the readers of source folders, exports and libraries hand them
over, into a dataset.

Here they become sequences, entities and annotations, in one transaction, so that anything wrong (a
mask whose size is not its frame's, a tracklet outside its record's frames) leaves the dataset as it
was; the error names the file and line (or table and row) it came from.
"""

from __future__ import annotations

import bisect
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from ..dataset import Dataset
from ..errors import ValidationError
from ..validation import check_sequence
from .davis import VOID, import_index_masks
from .extra import add_entity, restore_tracklets
from .pixano_polygons import polygons_rle
from .pixano_records import KEY, RESERVED, TABLES, Entity, Record, saved_facts, still_null, take
from .pixano_schema import short

__all__ = ["add_records"]


# ---------------------------------------------------------------------- records into the dataset
def add_records(ds: Dataset, records: Sequence[Record], label: str, progress: Any = iter) -> None:
    """Add every record as a sequence with its annotations: one transaction, all or nothing."""
    fields = {t: [f.name for f in ds.custom_fields[t]] for t in TABLES.values()}
    dropped: set[str] = set()
    with ds.transaction(label):
        for rec in progress(records):
            try:
                _add_record(ds, rec, fields, dropped)
            except ValidationError as e:
                raise ValidationError(f"{rec.where}: {e}") from e
    if dropped:
        shown = sorted(dropped)
        more = f"; and {len(shown) - 10} more" if len(shown) > 10 else ""
        warnings.warn(f"Pixano data not read: {'; '.join(shown[:10])}{more}", stacklevel=3)


def _add_record(ds: Dataset, rec: Record, fields: Mapping[str, list[str]], dropped: set[str]) -> None:
    custom = {n: rec.attrs.get(n) for n in fields["sequences"] if n in rec.attrs}
    seq_id = rec.saved.get("id", rec.seq_id)
    common = {"fps": rec.fps, "id": seq_id, "split": rec.split, "status": rec.status}
    if rec.frames or rec.data:
        seq = ds.add_sequence(rec.name, frames=rec.frames or rec.data, **common, **custom)
        check_sequence(ds, seq)
    else:
        if rec.size is None:
            raise ValidationError("the record has no frames")
        w, h = rec.size
        seq = ds.add_sequence(
            rec.name, num_frames=len(rec.uris), width=w, height=h, uris=rec.uris, **common, **custom
        )
    n = ds.num_frames(seq)
    order = rec.frame_index if rec.frame_index is not None else list(range(n))
    position = {fi: p for p, fi in enumerate(order)}
    if len(position) != n:
        raise ValidationError("two frames share a frame_index")
    for pngs, entity_map in rec.masks:
        for eid in import_index_masks(ds, seq, rec.frames, pngs, entity_map=entity_map):
            _as_pixano_imports(ds, seq, eid, rec, fields["entities"])
    for ent in rec.entities:
        left: set[str] = set()
        facts, masks = _facts(ds, seq, ent, position, fields, left)
        dropped.update(f"{rec.where}: {d}" for d in left)
        add_entity(ds, seq, facts, name=facts["name"], category=None, void=False, masks=masks)


def _as_pixano_imports(ds: Dataset, seq: str, eid: str, rec: Record, entity_fields: list[str]) -> None:
    values = {n: rec.defaults[n] for n in entity_fields if n in rec.defaults}
    if rec.defaults.get("category"):
        values["category"] = rec.defaults["category"]
    if values:
        ds.set_entity(eid, **values)
    frames = ds.mask_frames(seq, eid)
    if rec.one_tracklet and frames:
        restore_tracklets(ds, seq, eid, [[frames[0], frames[-1]]], None, frames)


def _bool(value: Any, what: str) -> bool:
    """A boolean attr as it is: "no" or 0 is not taken for a truth value."""
    if not isinstance(value, bool):
        raise ValidationError(f"{what} must be a boolean, got {short(value)}")
    return value


def _at(position: Mapping[int, int], frame: Any, what: str) -> int:
    if isinstance(frame, bool) or not isinstance(frame, int) or frame not in position:
        raise ValidationError(f"{what}: frame_index {frame!r} is not a frame of the record")
    return position[frame]


def _facts(
    ds: Dataset,
    seq: str,
    ent: Entity,
    position: Mapping[int, int],
    fields: Mapping[str, list[str]],
    dropped: set[str],
) -> tuple[dict[str, Any], dict[int, Any]]:
    """The entity as the facts io.extra.add_entity restores, and its masks by frame."""
    what = f"entity {ent.id!r}"
    attrs = dict(ent.attrs)
    saved = saved_facts(attrs, what)
    name = take(attrs, "name", saved) or (str(ent.index_value) if ent.index_value is not None else None)
    category = take(attrs, "category", saved)
    void = take(attrs, "void", saved, default=ent.index_value == VOID)
    facts: dict[str, Any] = {
        "id": saved.get("id", ent.id or None),  # none given: vidlabel numbers it
        "name": name,
        "category": None if category == "" and not saved else category,  # Pixano: "" for none
        "color": saved.get("color"),
        "void": _bool(void, f"{what}: attr void"),
        "fields": {n: take(attrs, n, saved) for n in fields["entities"]},
    }
    if isinstance(name, str) and not name:
        facts["name"] = None
    masks: dict[int, Any] = {}
    meta = []
    for m in ent.masks:
        f = _at(position, m.frame, f"{what}: a mask")
        if f in masks:
            raise ValidationError(f"{what}: two masks on frame_index {m.frame}")
        a = dict(m.attrs)
        s = saved_facts(a, f"{what}: the mask on frame_index {m.frame}")
        masks[f] = (
            {"size": m.size, "counts": m.counts}
            if m.polygons is None
            else polygons_rle(m.polygons, *_hw(ds, seq), f"{what}: the mask on frame_index {m.frame}")
        )
        keyframe = _bool(
            take(a, "keyframe", s, default=True), f"{what}: the mask on frame_index {m.frame}: keyframe"
        )
        meta.append([f, m.source, take(a, "score", s), keyframe])
        dropped.update(f"mask attr {n} (vidlabel has no fields on masks)" for n in set(a) - RESERVED["mask"])
    facts["masks"] = meta
    boxes = []
    for b in ent.boxes:
        f = _at(position, b.frame, f"{what}: a box")
        a = dict(b.attrs)
        s = saved_facts(a, f"{what}: the box on frame_index {b.frame}")
        score = None if still_null("score", b.score, s, written=1.0) else b.score
        row = ds.sequence(seq)
        scale = (row["width"], row["height"]) * 2 if b.normalized else (1, 1, 1, 1)
        xywh = [v * k for v, k in zip(b.xywh, scale)]
        keyframe = _bool(
            take(a, "keyframe", s, default=True), f"{what}: the box on frame_index {b.frame}: keyframe"
        )
        boxes.append([f, *xywh, b.source, score, keyframe])
        dropped.update(f"bbox attr {n} (vidlabel has no fields on boxes)" for n in set(a) - RESERVED["bbox"])
    if len({b[0] for b in boxes}) < len(boxes):
        raise ValidationError(f"{what}: two boxes on one frame")
    facts["boxes"] = boxes
    states: list[list[Any]] = []
    reviewed: list[int] = []
    for frame, raw in ent.states:
        f = _at(position, frame, f"{what}: a state")
        a = dict(raw)
        s = saved_facts(a, f"{what}: the state on frame_index {frame}")
        if _bool(
            take(a, "reviewed", s, default=False), f"{what}: the state on frame_index {frame}: reviewed"
        ):
            reviewed.append(f)
        states.append([f, {n: take(a, n, s) for n in fields["states"] if n in a}])
    if len({s[0] for s in states}) < len(states):
        raise ValidationError(f"{what}: two states on one frame")
    facts["states"], facts["reviewed"] = states, reviewed
    if ent.tracklets is not None:
        facts["tracklets"] = _spans(ent.tracklets, position, ds.num_frames(seq), what)
        # a tracklet is a span of annotations: one holding none has nothing to keep it in the dataset
        held = sorted(set(masks) | {b[0] for b in boxes} | {st[0] for st in states if st[1]})
        for start, end in facts["tracklets"]:
            k = bisect.bisect_left(held, start)
            if k == len(held) or held[k] > end:
                dropped.add(f"tracklet [{start}, {end}] of {what} (nothing annotated in it)")
        interpolate = saved.get("interpolate")
        if interpolate is not None:
            if not isinstance(interpolate, list) or not all(isinstance(v, bool) for v in interpolate):
                raise ValidationError(
                    f"{what}: {KEY}.interpolate must be a list of booleans, got {short(interpolate)}"
                )
            facts["interpolate"] = interpolate
    return facts, masks


def _hw(ds: Dataset, seq: str) -> tuple[int, int]:
    row = ds.sequence(seq)
    return row["height"], row["width"]


def _spans(
    tracklets: Sequence[tuple[int, int]], position: Mapping[int, int], n: int, what: str
) -> list[list[int]]:
    """Tracklet timesteps (Pixano frame_index values) as frame spans, in order; one that reaches past the
    record's frames is refused."""
    first, last = (min(position), max(position)) if position else (0, -1)
    keys = sorted(position)  # frame_index values: bisect finds those inside a tracklet
    out: list[list[int]] = []
    for start, end in sorted(tracklets):
        if not first <= start <= end <= last:
            raise ValidationError(
                f"{what}: tracklet [{start}, {end}] lies outside the record's frames [{first}, {last}]"
            )
        inside = [
            position[fi] for fi in keys[bisect.bisect_left(keys, start) : bisect.bisect_right(keys, end)]
        ]
        if not inside:  # frames may be a subsample: a span between two of them holds none
            continue
        out.append([min(inside), max(inside)])
        # checked as each comes, so that overlapping tracklets cost no more than their frames
        if len(out) > 1 and out[-1][0] <= out[-2][1]:
            raise ValidationError(f"{what}: its tracklets overlap (one entity is in one place at a time)")
    return out
