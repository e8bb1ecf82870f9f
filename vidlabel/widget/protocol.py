"""Messages between the Annotator's browser side and the kernel: their kinds and validation.

The wire format is described in ``protocol.md`` next to this file. Everything from the
browser is untrusted: :func:`parse` turns a raw message into a :class:`Request` or raises
:class:`ProtocolError` (a :class:`~vidlabel.ValidationError`) naming what was wrong, before
anything runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import ValidationError
from ..segment.sam3_find import MAX_TEXT as MAX_FIND_TEXT  # the engine's own limit (js/src/find.ts too)

MAX_FRAMES_PER_REQUEST = 64
MAX_REVIEW_FRAMES = 100_000  # one mark_reviewed: this many frames, and (frame, entity) pairs, at most
DIRECTIONS = ("forward", "backward", "both")
TOOLS = ("point", "box", "bbox")  # clicks, a box prompt, a drawn keyframe box
SIDES = ("next", "previous")
FIND_SCOPES = ("frame", "video")  # find on the frame shown, or there and then track it through the video

# kind -> fields it may carry (besides "kind" and "id")
KINDS: dict[str, frozenset[str]] = {
    "frames": frozenset({"start", "stop", "images", "masks"}),
    "prompt": frozenset({"frame", "entity", "points", "labels", "box", "clear"}),
    "propagate": frozenset({"direction", "entities", "frame"}),
    "cancel": frozenset(),
    "erase": frozenset({"entity", "start", "stop"}),
    "add_entity": frozenset({"name", "category", "color"}),
    "set_entity": frozenset({"entity", "name", "category", "color"}),
    "delete_entity": frozenset({"entity"}),
    "undo": frozenset(),
    "redo": frozenset(),
    "split_tracklet": frozenset({"tracklet", "frame"}),
    "merge_tracklets": frozenset({"tracklet", "other"}),
    "glue_tracklet": frozenset({"tracklet", "side"}),
    "relink_tracklet": frozenset({"tracklet", "entity", "start"}),
    "delete_tracklet": frozenset({"tracklet"}),
    "set_tracklet_span": frozenset({"tracklet", "start", "end"}),
    "set_tracklet_interpolation": frozenset({"tracklet", "on"}),
    "interpolate_masks": frozenset({"tracklet", "start", "end"}),
    "set_box": frozenset({"frame", "entity", "box"}),
    "remove_box": frozenset({"frame", "entity"}),
    "box_from_mask": frozenset({"entity", "start", "stop"}),
    "set_state": frozenset({"entity", "start", "stop", "values"}),
    "mark_reviewed": frozenset({"entity", "start", "stop", "reviewed"}),
    "review": frozenset(),
    "find": frozenset({"text", "frame", "scope"}),
}
EDITS = frozenset(KINDS) - {"frames", "cancel", "review"}


class ProtocolError(ValidationError):
    """A message from the browser that cannot be carried out; ``id`` is the request's, if it had one."""

    def __init__(self, message: str, request_id: int | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


@dataclass
class Request:
    kind: str
    id: int
    fields: dict[str, Any] = field(default_factory=dict)


def parse(msg: Any) -> Request:
    """Validate the envelope and the fields' types; ranges against the dataset are checked by the handler."""
    if not isinstance(msg, dict):
        raise ProtocolError(f"message: expected a JSON object, got {type(msg).__name__}")
    rid = msg.get("id")
    if isinstance(rid, bool) or not isinstance(rid, int) or rid < 0:
        raise ProtocolError(f"message.id: expected an integer >= 0, got {rid!r}")
    kind = msg.get("kind")
    if kind not in KINDS:
        raise ProtocolError(f"message.kind: unknown kind {kind!r} (known: {', '.join(KINDS)})", rid)
    allowed = KINDS[kind]
    fields = {k: v for k, v in msg.items() if k in allowed}
    if len(fields) + 2 != len(msg):
        extra = set(msg) - allowed - {"kind", "id"}
        raise ProtocolError(f"{kind}: unknown field(s) {', '.join(sorted(map(str, extra)))}", rid)
    try:
        _CHECKS[kind](fields)
    except ProtocolError as exc:
        raise ProtocolError(f"{kind}.{exc}", rid) from None
    return Request(kind, rid, fields)


def integer(fields: dict[str, Any], name: str, default: int | None = None) -> int:
    value = fields.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"{name}: expected an integer, got {value!r}")
    return value


def _flag(fields: dict[str, Any], name: str, default: bool) -> None:
    value = fields.setdefault(name, default)
    if not isinstance(value, bool):
        raise ProtocolError(f"{name}: expected true or false, got {value!r}")


def _text(fields: dict[str, Any], name: str, *, required: bool) -> None:
    value = fields.get(name)
    if value is None and not required:
        return
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"{name}: expected a non-empty string, got {value!r}")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProtocolError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def _frames(f: dict[str, Any]) -> None:
    start, stop = integer(f, "start"), integer(f, "stop")
    if not 0 < stop - start <= MAX_FRAMES_PER_REQUEST:
        raise ProtocolError(f"stop: the range {start}..{stop} must hold 1 to {MAX_FRAMES_PER_REQUEST} frames")
    _flag(f, "images", True)
    _flag(f, "masks", True)


def _prompt(f: dict[str, Any]) -> None:
    integer(f, "frame")
    _text(f, "entity", required=True)
    points, labels = f.setdefault("points", []), f.setdefault("labels", [])
    if not isinstance(points, list) or not isinstance(labels, list):
        raise ProtocolError("points: points and labels must be lists")
    if len(points) != len(labels):
        raise ProtocolError(f"labels: {len(labels)} labels for {len(points)} points")
    clean = []
    for k, p in enumerate(points):
        if not isinstance(p, list) or len(p) != 2:
            raise ProtocolError(f"points[{k}]: expected [x, y], got {p!r}")
        clean.append([_number(p[0], f"points[{k}]"), _number(p[1], f"points[{k}]")])
    for k, lab in enumerate(labels):
        if isinstance(lab, bool) or lab not in (0, 1):
            raise ProtocolError(f"labels[{k}]: expected 1 (positive) or 0 (negative), got {lab!r}")
    f["points"] = clean
    box = f.setdefault("box", None)
    if box is not None:
        if not isinstance(box, list) or len(box) != 4:
            raise ProtocolError(f"box: expected [x0, y0, x1, y1], got {box!r}")
        f["box"] = [_number(v, "box") for v in box]
    if not clean and box is None:
        raise ProtocolError("points: a prompt needs at least one point or a box")
    _flag(f, "clear", True)


def _propagate(f: dict[str, Any]) -> None:
    if f.setdefault("direction", "forward") not in DIRECTIONS:
        raise ProtocolError(f"direction: expected one of {', '.join(DIRECTIONS)}, got {f['direction']!r}")
    if f.setdefault("entities", "selected") not in ("selected", "all"):
        raise ProtocolError(f"entities: expected 'selected' or 'all', got {f['entities']!r}")
    if f.get("frame") is not None:
        integer(f, "frame")


def _find(f: dict[str, Any]) -> None:
    text = f.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ProtocolError(f"text: expected what to find (a non-empty string), got {text!r}")
    text = " ".join(text.split())  # one line, single spaces: the entities' category
    if len(text) > MAX_FIND_TEXT:
        raise ProtocolError(f"text: {len(text)} characters, at most {MAX_FIND_TEXT} (a short noun phrase)")
    f["text"] = text
    if f.setdefault("frame", None) is not None:
        integer(f, "frame")
    if f.setdefault("scope", "frame") not in FIND_SCOPES:
        raise ProtocolError(f"scope: expected 'frame' or 'video', got {f['scope']!r}")


def _entity_fields(f: dict[str, Any]) -> None:
    for name in ("name", "category", "color"):
        _text(f, name, required=False)


def _set_entity(f: dict[str, Any]) -> None:
    _text(f, "entity", required=True)
    _entity_fields(f)


def _delete_entity(f: dict[str, Any]) -> None:
    _text(f, "entity", required=True)


def _nothing(f: dict[str, Any]) -> None:
    pass


def _optional_int(f: dict[str, Any], name: str) -> None:
    if f.get(name) is not None:
        integer(f, name)


def _tracklet(f: dict[str, Any]) -> None:
    _text(f, "tracklet", required=True)


def _split(f: dict[str, Any]) -> None:
    _tracklet(f)
    integer(f, "frame")


def _merge(f: dict[str, Any]) -> None:
    _tracklet(f)
    _text(f, "other", required=True)


def _glue(f: dict[str, Any]) -> None:
    _tracklet(f)
    if f.get("side") not in SIDES:
        raise ProtocolError(f"side: expected 'next' or 'previous', got {f.get('side')!r}")


def _relink(f: dict[str, Any]) -> None:
    _tracklet(f)
    _text(f, "entity", required=True)
    _optional_int(f, "start")


def _span(f: dict[str, Any]) -> None:
    _tracklet(f)
    start, end = integer(f, "start"), integer(f, "end")
    if end < start:
        raise ProtocolError(f"end: the span {start}..{end} ends before it starts")


def _interpolation(f: dict[str, Any]) -> None:
    _tracklet(f)
    if not isinstance(f.get("on"), bool):
        raise ProtocolError(f"on: expected true or false, got {f.get('on')!r}")


def _interpolate_masks(f: dict[str, Any]) -> None:
    _tracklet(f)
    _optional_int(f, "start")
    _optional_int(f, "end")


def _set_box(f: dict[str, Any]) -> None:
    integer(f, "frame")
    _text(f, "entity", required=True)
    box = f.get("box")
    if not isinstance(box, list) or len(box) != 4:
        raise ProtocolError(f"box: expected [x0, y0, x1, y1], got {box!r}")
    f["box"] = [_number(v, "box") for v in box]


def _remove_box(f: dict[str, Any]) -> None:
    integer(f, "frame")
    _text(f, "entity", required=True)


def _range(f: dict[str, Any]) -> None:
    _text(f, "entity", required=True)
    start, stop = integer(f, "start"), integer(f, "stop")
    if stop <= start:
        raise ProtocolError(f"stop: the range {start}..{stop} is empty")


def _set_state(f: dict[str, Any]) -> None:
    _range(f)
    values = f.get("values")
    if not isinstance(values, dict) or not values:
        raise ProtocolError(f"values: expected an object of field: value, got {values!r}")
    for name, value in values.items():
        if value is not None and not isinstance(value, (bool, int, float, str)):
            raise ProtocolError(f"values.{name}: expected a boolean, number, string or null, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ProtocolError(f"values.{name}: expected a finite number, got {value!r}")


def _mark_reviewed(f: dict[str, Any]) -> None:
    if f.get("entity") is not None:
        _text(f, "entity", required=True)
    start, stop = integer(f, "start"), integer(f, "stop")
    if stop <= start:
        raise ProtocolError(f"stop: the range {start}..{stop} is empty")
    if stop - start > MAX_REVIEW_FRAMES:
        raise ProtocolError(f"stop: the range {start}..{stop} holds more than {MAX_REVIEW_FRAMES} frames")
    _flag(f, "reviewed", True)


_CHECKS = {
    "frames": _frames,
    "prompt": _prompt,
    "propagate": _propagate,
    "cancel": _nothing,
    "erase": _range,
    "add_entity": _entity_fields,
    "set_entity": _set_entity,
    "delete_entity": _delete_entity,
    "undo": _nothing,
    "redo": _nothing,
    "split_tracklet": _split,
    "merge_tracklets": _merge,
    "glue_tracklet": _glue,
    "relink_tracklet": _relink,
    "delete_tracklet": _tracklet,
    "set_tracklet_span": _span,
    "set_tracklet_interpolation": _interpolation,
    "interpolate_masks": _interpolate_masks,
    "set_box": _set_box,
    "remove_box": _remove_box,
    "box_from_mask": _range,
    "set_state": _set_state,
    "mark_reviewed": _mark_reviewed,
    "review": _nothing,
    "find": _find,
}
