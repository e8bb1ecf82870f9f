"""Track bars: the ``tracks`` trait of the shown sequence, kept current edit by edit.

A full track (every keyframe, box keyframe and flagged run of an entity) is built once, when a
sequence is shown or an entity appears. After that an edit only re-reads the frames it
touched, updates the kernel's copy in place and yields a patch for the browser (see
``protocol.md``, the ``tracks`` field of ``changed``): the cost of an edit to an open widget is
that of what it touched, not of the entity's whole track.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError

if TYPE_CHECKING:
    from ..dataset import Dataset

Track = dict[str, list[Any]]
# Past this many touched frames of one entity, re-reading its whole track is the cheaper way.
FULL_REREAD = 256
TABLE_FIELD = {"masks": "keyframes", "boxes": "box_keyframes"}


def full_track(ds: Dataset, seq: str, eid: str, flag_fields: tuple[str, ...]) -> Track:
    with ds.snapshot() as snap:  # one version for the whole track
        rows = ds.tracklets(seq, eid)
        masks, boxes = snap["masks"], snap["boxes"]
        flagged = _flagged(ds, seq, eid, flag_fields)
    return {
        "tracklets": [[tr["start_frame"], tr["end_frame"]] for tr in rows],
        "ids": [tr["id"] for tr in rows],
        "interpolate": [tr["interpolate"] is not False for tr in rows],
        "keyframes": sorted(
            k[1] for k in masks.lookup("by_entity", (seq, eid)) if masks.value(k, "keyframe")
        ),
        "box_keyframes": sorted(
            k[1] for k in boxes.lookup("by_entity", (seq, eid)) if boxes.value(k, "keyframe")
        ),
        "flags": runs(flagged),
    }


def _flagged(ds: Dataset, seq: str, eid: str, names: tuple[str, ...]) -> list[int]:
    """Frames where any boolean state field of the entity is true (occluded, say): hatched on its bar."""
    if not names:
        return []
    store = ds.snapshot()["states"]
    out = []
    for key in store.lookup("by_entity", (seq, eid)):
        values = store.values(key, names)
        if values is not None and any(v is True for v in values):
            out.append(key[1])
    return sorted(out)


def patch_track(
    ds: Dataset,
    seq: str,
    eid: str,
    track: Track,
    touched: dict[str, set[int]],
    flag_fields: tuple[str, ...],
) -> dict[str, Any] | None:
    """Bring ``track`` up to date with the touched frames (table -> frames), in place; the browser's patch.

    None when nothing the bar shows changed.
    """
    out: dict[str, Any] = {}
    if max((len(v) for v in touched.values()), default=0) > FULL_REREAD:
        new = full_track(ds, seq, eid, flag_fields)
        for name, value in new.items():
            if track.get(name) != value:
                track[name] = out[name] = value
        return out or None
    rows = ds.tracklets(seq, eid)
    spans = [[tr["start_frame"], tr["end_frame"]] for tr in rows]
    ids = [tr["id"] for tr in rows]
    interp = [tr["interpolate"] is not False for tr in rows]
    if spans != track["tracklets"] or ids != track["ids"] or interp != track["interpolate"]:
        track["tracklets"], track["ids"], track["interpolate"] = spans, ids, interp
        out.update(tracklets=spans, ids=ids, interpolate=interp)
    for table, name in TABLE_FIELD.items():
        frames = touched.get(table)
        if frames:
            delta = _update_keys(track[name], frames, lambda f, t=table: _is_key(ds, t, seq, f, eid))
            if delta:
                out[name] = delta
    frames = touched.get("states")
    if frames and flag_fields:
        delta = _update_runs(track["flags"], frames, lambda f: _is_flagged(ds, seq, f, eid, flag_fields))
        if delta:
            out["flags"] = delta
    return out or None


def _is_key(ds: Dataset, table: str, seq: str, frame: int, eid: str) -> bool:
    row = ds.annotation(table, seq, frame, eid)
    return row is not None and bool(row["keyframe"])


def _is_flagged(ds: Dataset, seq: str, frame: int, eid: str, names: tuple[str, ...]) -> bool:
    values = ds.state(seq, frame, eid)
    return any(values.get(n) is True for n in names)


def _update_keys(keys: list[int], frames: Iterable[int], want: Any) -> dict[str, list[int]] | None:
    """Insert or drop each frame in the sorted ``keys`` as ``want(frame)`` says; the add/remove delta."""
    add: list[int] = []
    remove: list[int] = []
    for f in sorted(frames):
        i = bisect_left(keys, f)
        have = i < len(keys) and keys[i] == f
        if want(f):
            if not have:
                keys.insert(i, f)
                add.append(f)
        elif have:
            del keys[i]
            remove.append(f)
    return {"add": add, "remove": remove} if add or remove else None


def _update_runs(spans: list[list[int]], frames: Iterable[int], want: Any) -> dict[str, Any] | None:
    """The same over inclusive runs [[start, end], ...]: the delta's add/remove are runs too."""
    add: list[int] = []
    remove: list[int] = []
    for f in sorted(frames):
        on = want(f)
        if run_set(spans, f, on):
            (add if on else remove).append(f)
    return {"add": runs(add), "remove": runs(remove)} if add or remove else None


def run_set(spans: list[list[int]], f: int, on: bool) -> bool:
    """Set or clear frame ``f`` in sorted, disjoint, non-touching runs, in place; True if it changed."""
    i = bisect_right(spans, [f, float("inf")]) - 1  # the last run starting at or before f
    inside = i >= 0 and spans[i][0] <= f <= spans[i][1]
    if on == inside:
        return False
    if on:
        left = i >= 0 and spans[i][1] == f - 1
        right = i + 1 < len(spans) and spans[i + 1][0] == f + 1
        if left and right:
            spans[i][1] = spans[i + 1][1]
            del spans[i + 1]
        elif left:
            spans[i][1] = f
        elif right:
            spans[i + 1][0] = f
        else:
            spans.insert(i + 1, [f, f])
        return True
    s, e = spans[i]
    if s == e:
        del spans[i]
    elif f == s:
        spans[i][0] = f + 1
    elif f == e:
        spans[i][1] = f - 1
    else:
        spans[i][1] = f - 1
        spans.insert(i + 1, [f + 1, e])
    return True


def runs(frames: list[int]) -> list[list[int]]:
    """Sorted frames as inclusive [start, end] runs."""
    out: list[list[int]] = []
    for f in frames:
        if out and out[-1][1] == f - 1:
            out[-1][1] = f
        else:
            out.append([f, f])
    return out


def safe_patch(
    ds: Dataset, seq: str, eid: str, track: Track, touched: dict[str, set[int]], flag_fields: tuple[str, ...]
) -> dict[str, Any] | None:
    """``patch_track``, or a re-read from scratch where the frames no longer exist (the sequence shrank)."""
    try:
        return patch_track(ds, seq, eid, track, touched, flag_fields)
    except ValidationError:
        new = full_track(ds, seq, eid, flag_fields)
        track.update(new)
        return dict(new)
