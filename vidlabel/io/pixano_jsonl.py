"""The inline entities of Pixano JSONL v2 lines (Pixano 0.8.0 exports them; its importer takes them).

The grammar is Pixano's ``pixano/datasets/io/formats/pixano_jsonl/spec.py``: an optional header line
``{"$pixano": "jsonl/2", "defaults": {"bbox": {format, is_normalized}, "source": {type, name}}}``,
then one record a line whose ``entities`` hold ``attrs``, ``annotations`` (a flat list discriminated
by ``kind``: ``mask`` with ``rle: {size, counts}`` or normalized ``polygons``, ``bbox`` with ``coords``,
``format``, ``is_normalized``, ``confidence``; each with ``frame_index``, ``source``, ``attrs``),
``tracklets`` (``start_timestep`` .. ``end_timestep``, frame_index values) and ``states`` (per-frame
attrs). Unknown keys are refused, as Pixano refuses them; attrs a line leaves out take the schema's
defaults. Only the shape is checked here; io.pixano_load checks the rest against the frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ValidationError
from .pixano_records import Box, Entity, Mask
from .pixano_schema import Attr, short

__all__ = ["Defaults", "header_defaults", "parse_entities"]

KNOWN_KINDS = {"bbox", "mask", "keypoints", "multi_path", "text_span", "classification"}
_BASE = {"kind", "view", "id", "frame_index", "source", "attrs"}
_KEYS = {
    "mask": _BASE | {"rle", "polygons"},
    "bbox": _BASE | {"coords", "format", "is_normalized", "confidence"},
}
_ENTITY = {"id", "parent_id", "attrs", "annotations", "tracklets", "states"}
_TRACKLET = {"id", "view", "start_timestep", "end_timestep", "start_timestamp", "end_timestamp"}
_SOURCE_TYPES = {"model", "human", "ground_truth", "other"}


@dataclass(frozen=True)
class Defaults:
    """A file's header defaults."""

    bbox_format: str | None = None
    bbox_normalized: bool | None = None
    source: str = "import"


def _obj(value: Any, what: str, keys: set[str] | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(f"{what} must be an object, got {short(value)}")
    unknown = sorted(set(value) - keys) if keys is not None else []
    if unknown:
        raise ValidationError(f"{what}: unknown key(s) {', '.join(map(repr, unknown))}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError(f"{what} must be a list, got {short(value)}")
    return value


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{what} must be an integer, got {short(value)}")
    return value


def _source(raw: Any, what: str, default: str) -> str:
    """vidlabel's source of an annotation: Pixano's source name (its type when it has none)."""
    if raw is None:
        return default
    src = _obj(raw, what, {"type", "name"})
    kind, name = src.get("type", "ground_truth"), src.get("name", "import")
    if kind not in _SOURCE_TYPES or not isinstance(name, str):
        raise ValidationError(
            f"{what}: expected {{type: {'|'.join(sorted(_SOURCE_TYPES))}, name}}, got {short(raw)}"
        )
    return name or kind


def header_defaults(line: Mapping[str, Any], where: str) -> Defaults:
    raw = _obj(line.get("defaults", {}), f"{where}: defaults", {"bbox", "source"})
    bbox = _obj(raw.get("bbox", {}), f"{where}: defaults.bbox", {"format", "is_normalized"})
    fmt, norm = bbox.get("format"), bbox.get("is_normalized")
    if fmt not in (None, "xywh", "xyxy") or norm not in (None, True, False):
        raise ValidationError(f"{where}: defaults.bbox: bad format or is_normalized ({short(bbox)})")
    return Defaults(fmt, norm, _source(raw.get("source"), f"{where}: defaults.source", "import"))


def _attrs(raw: Any, what: str, declared: Mapping[str, Attr]) -> dict[str, Any]:
    given = _obj(raw if raw is not None else {}, f"{what}.attrs")
    return {**{n: a.default for n, a in declared.items()}, **given}


def parse_entities(
    raw: Any,
    where: str,
    view: str,
    defaults: Defaults,
    attrs: Mapping[str, Mapping[str, Attr]],
    *,
    tracklets: bool,
) -> list[Entity]:
    """The ``entities`` of one line (``where``: its file and line), on the frame view ``view``.
    ``attrs``: the schema's declared attrs by slot (record, entity, ...), whose defaults fill in;
    ``tracklets``: the schema has a tracklet slot (an entity without tracklets then gets one)."""
    out = []
    for k, item in enumerate(_list(raw, f"{where}: entities")):
        what = f"{where}: entities[{k}]"
        ent = _obj(item, what, _ENTITY)
        eid = ent.get("id")
        if eid is not None and (not isinstance(eid, str) or not eid):
            raise ValidationError(f"{what}.id must be a non-empty string, got {short(eid)}")
        entity = Entity(id=eid or "", attrs=_attrs(ent.get("attrs"), what, attrs.get("entity", {})))
        for j, ann in enumerate(_list(ent.get("annotations"), f"{what}.annotations")):
            _annotation(
                entity,
                _obj(ann, f"{what}.annotations[{j}]"),
                f"{what}.annotations[{j}]",
                view,
                defaults,
                attrs,
            )
        if "tracklets" in ent or tracklets:
            entity.tracklets = _tracklets(ent.get("tracklets"), what, view, entity)
        for j, state in enumerate(_list(ent.get("states"), f"{what}.states")):
            st = _obj(state, f"{what}.states[{j}]", {"frame_index", "attrs"})
            frame = _int(st.get("frame_index"), f"{what}.states[{j}].frame_index")
            declared = attrs.get("entity_dynamic_state", {})
            entity.states.append((frame, _attrs(st.get("attrs"), f"{what}.states[{j}]", declared)))
        out.append(entity)
    return out


def _annotation(
    entity: Entity,
    ann: dict[str, Any],
    what: str,
    view: str,
    defaults: Defaults,
    attrs: Mapping[str, Mapping[str, Attr]],
) -> None:
    kind = ann.get("kind")
    if kind not in KNOWN_KINDS:
        raise ValidationError(
            f"{what}: unknown annotation kind {kind!r} (Pixano's: {', '.join(sorted(KNOWN_KINDS))})"
        )
    if kind not in _KEYS:
        raise ValidationError(
            f"{what}: annotation kind {kind!r} is not read by vidlabel (it reads mask and bbox)"
        )
    _obj(ann, what, _KEYS[kind])
    if ann.get("view", view) != view:
        raise ValidationError(f"{what}: annotation on view {ann['view']!r}; vidlabel reads the view {view!r}")
    frame = _int(ann.get("frame_index"), f"{what}.frame_index")
    source = _source(ann.get("source"), f"{what}.source", defaults.source)
    extra = _attrs(ann.get("attrs"), what, attrs.get(kind, {}))
    if kind == "mask":
        rle, polygons = ann.get("rle"), ann.get("polygons")
        if (rle is None) == (polygons is None):
            raise ValidationError(f"{what}: a mask needs exactly one of 'rle' and 'polygons'")
        if rle is not None:
            rle = _obj(rle, f"{what}.rle", {"size", "counts"})
            if not isinstance(rle.get("counts"), str):
                raise ValidationError(f"{what}.rle.counts must be a string (compressed COCO RLE)")
            entity.masks.append(Mask(frame, rle.get("size"), rle["counts"], source, extra))
        else:
            polys = _list(polygons, f"{what}.polygons")
            if not polys or not all(_polygon(p) for p in polys):
                raise ValidationError(f"{what}.polygons must be lists of at least 3 (x, y) points")
            entity.masks.append(Mask(frame, None, None, source, extra, polygons=polys))
        return
    coords = ann.get("coords")
    if (
        not isinstance(coords, list)
        or len(coords) != 4
        or not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in coords)
    ):
        raise ValidationError(f"{what}.coords must be 4 numbers, got {short(coords)}")
    fmt = ann.get("format", defaults.bbox_format)
    norm = ann.get("is_normalized", defaults.bbox_normalized)
    if fmt not in ("xywh", "xyxy") or norm not in (True, False):
        raise ValidationError(
            f"{what}: a bbox needs 'format' (xywh, xyxy) and 'is_normalized' (here or in the header)"
        )
    x, y, a, b = (float(c) for c in coords)
    xywh = (x, y, a, b) if fmt == "xywh" else (x, y, a - x, b - y)
    conf = ann.get("confidence", 1.0)
    if isinstance(conf, bool) or not isinstance(conf, (int, float)):
        raise ValidationError(f"{what}.confidence must be a number, got {short(conf)}")
    entity.boxes.append(Box(frame, xywh, float(conf), source, extra, normalized=bool(norm)))


def _polygon(p: Any) -> bool:
    numbers = isinstance(p, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)
    return numbers and len(p) >= 6 and len(p) % 2 == 0


def _tracklets(raw: Any, what: str, view: str, entity: Entity) -> list[tuple[int, int]]:
    """The entity's tracklets; none given, one from its first to its last annotated frame, as Pixano's
    importer derives it."""
    items = _list(raw, f"{what}.tracklets")
    if not items:
        frames = [m.frame for m in entity.masks] + [b.frame for b in entity.boxes]
        return [(min(frames), max(frames))] if frames else []
    out = []
    for j, item in enumerate(items):
        t = _obj(item, f"{what}.tracklets[{j}]", _TRACKLET)
        if t.get("view") != view:
            raise ValidationError(
                f"{what}.tracklets[{j}]: on view {t.get('view')!r}; vidlabel reads the view {view!r}"
            )
        start = _int(t.get("start_timestep"), f"{what}.tracklets[{j}].start_timestep")
        end = _int(t.get("end_timestep"), f"{what}.tracklets[{j}].end_timestep")
        if end < start:
            raise ValidationError(f"{what}.tracklets[{j}]: ends ({end}) before it starts ({start})")
        out.append((start, end))
    return out
