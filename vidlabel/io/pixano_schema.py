"""Pixano's ``dataset.yaml``: a source folder's schema, read and written.

Pixano 0.8.0 (``pixano/datasets/io/spec.py``): ``pixano: 2``, ``dataset: {name, workspace}``, and a
``schema`` of ``views`` (logical name -> kind), ``record`` / ``entity`` / ``entity_dynamic_state``
attrs, and ``annotations`` (a list of slots, or slots with their own attrs). An attr is a type name
(``str``, ``int``, ``float``, ``bool``) or ``{type, collection, required, default}``; without a
default it takes its type's zero. The ``video`` workspace preset gives one ``sequence_frames`` view
named ``image`` and the slots below when the schema names none. Pixano stores every attr as a
non-nullable column, so a null cannot be written as such (io.pixano_export says how it travels).
"""

from __future__ import annotations

import os
import reprlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from ..errors import ValidationError

__all__ = [
    "SPEC_FILE",
    "Attr",
    "Schema",
    "pixano_type",
    "read_dataset_yaml",
    "refuse_outside",
    "short",
    "write_dataset_yaml",
]

SPEC_FILE = "dataset.yaml"
SLOTS = ("record", "entity", "entity_dynamic_state", "mask", "bbox")
TYPES = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
ZERO = {"str": "", "int": 0, "float": 0.0, "bool": False}
VIDEO_PRESET = {"views": {"image": "sequence_frames"}, "annotations": {"bbox", "keypoint", "tracklet"}}
_MAX_BYTES = 1 << 20  # a schema is a few kilobytes; anything near this is not one
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60
_SHORT.maxlevel = 3


class _NoAliases(yaml.SafeLoader):
    """yaml.SafeLoader refusing aliases: a schema needs none, and nested ones (a "billion laughs")
    expand a small file into a structure that takes minutes and gigabytes to build and walk."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not read in a dataset.yaml", event.start_mark
            )
        return super().compose_node(parent, index)


def short(value: Any) -> str:
    """A repr of ``value`` cut to a few dozen characters, built without writing out the whole value
    (``f"{value!r:.60}"`` builds the full repr first: costly for a large or deeply nested one)."""
    return _SHORT.repr(value)


@dataclass(frozen=True)
class Attr:
    """One declared attr: its Arrow type (a list type for a collection) and the value it takes when
    a line leaves it out."""

    type: pa.DataType
    default: Any


@dataclass
class Schema:
    name: str = ""
    workspace: str = "undefined"
    views: dict[str, str] = field(default_factory=dict)  # logical name -> kind
    attrs: dict[str, dict[str, Attr]] = field(default_factory=lambda: {s: {} for s in SLOTS})
    annotations: set[str] = field(default_factory=set)

    def frame_views(self) -> list[str]:
        return [n for n, k in self.views.items() if k == "sequence_frames"]


def _attr(where: str, name: str, raw: Any) -> Attr | None:
    spec = {"type": raw} if isinstance(raw, str) else raw
    if not isinstance(spec, Mapping):
        raise ValidationError(f"{where}: attr {name!r} must be a type name or a mapping, got {short(raw)}")
    kind = spec.get("type")
    if kind not in TYPES:
        warnings.warn(f"{where}: attr {name!r} of type {kind!r} is not read by vidlabel", stacklevel=4)
        return None
    collection = bool(spec.get("collection", False))
    typ = pa.list_(TYPES[kind]) if collection else TYPES[kind]
    default = spec.get("default", [] if collection else ZERO[kind])
    return Attr(typ, default)


def _attrs(where: str, block: Any) -> dict[str, Attr]:
    if block is None:
        return {}
    if not isinstance(block, Mapping) or not isinstance(block.get("attrs", {}), Mapping):
        raise ValidationError(f"{where}: expected {{attrs: {{name: type}}}}, got {short(block)}")
    out = {}
    for name, raw in (block.get("attrs") or {}).items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValidationError(f"{where}: attr name {name!r} is not an identifier")
        attr = _attr(where, name, raw)
        if attr is not None:
            out[name] = attr
    return out


def refuse_outside(path: Path, root: str | os.PathLike[str]) -> None:
    """Refuse a file of the source folder ``root`` that resolves outside it (a symlink out), as frames are."""
    real, real_root = os.path.realpath(path), os.path.realpath(root)
    if os.path.commonpath([real, real_root]) != real_root:
        raise ValidationError(f"{path} lies outside the source folder (resolves to {real})")


def read_dataset_yaml(root: str | os.PathLike[str]) -> Schema | None:
    """The schema of the source folder ``root``, or None when it has no dataset.yaml."""
    path = Path(root) / SPEC_FILE
    if not path.is_file():
        return None
    refuse_outside(path, root)
    where = str(path)
    if path.stat().st_size > _MAX_BYTES:
        raise ValidationError(f"{where}: {path.stat().st_size} bytes is too large for a dataset.yaml")
    try:
        spec = yaml.load(path.read_text(encoding="utf-8"), Loader=_NoAliases)  # a SafeLoader
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ValidationError(f"{where}: not YAML: {e}") from None
    except RecursionError:
        raise ValidationError(f"{where}: nested too deeply to be a schema") from None
    if not isinstance(spec, Mapping):
        raise ValidationError(f"{where}: expected a mapping, got {type(spec).__name__}")
    dataset = spec.get("dataset") or {}
    body = spec.get("schema") or {}
    if not isinstance(dataset, Mapping) or not isinstance(body, Mapping):
        raise ValidationError(f"{where}: 'dataset' and 'schema' must be mappings")
    out = Schema(name=str(dataset.get("name") or ""), workspace=str(dataset.get("workspace") or "undefined"))
    preset = VIDEO_PRESET if out.workspace == "video" else {"views": {}, "annotations": set()}
    views = body.get("views") or preset["views"]
    if not isinstance(views, Mapping):
        raise ValidationError(f"{where}: schema.views must be a mapping of name -> kind")
    for name, kind in views.items():
        kind = kind.get("kind") if isinstance(kind, Mapping) else kind
        if not isinstance(name, str) or not isinstance(kind, str):
            raise ValidationError(f"{where}: schema.views: {name!r}: {kind!r} is not name -> kind")
        out.views[name] = kind
    for slot in ("record", "entity", "entity_dynamic_state"):
        out.attrs[slot] = _attrs(f"{where}: schema.{slot}", body.get(slot))
    annotations = body.get("annotations") or preset["annotations"]
    if isinstance(annotations, Mapping):
        for slot, block in annotations.items():
            if slot in out.attrs:
                out.attrs[slot] = _attrs(f"{where}: schema.annotations.{slot}", block)
    elif not isinstance(annotations, (list, set)):
        raise ValidationError(f"{where}: schema.annotations must be a list or a mapping")
    out.annotations = {str(a) for a in annotations}
    return out


def pixano_type(typ: pa.DataType) -> str | None:
    """The Pixano attr type holding values of an Arrow type, None when none does."""
    if pa.types.is_boolean(typ):
        return "bool"
    if pa.types.is_integer(typ):
        return "int"
    if pa.types.is_floating(typ):
        return "float"
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return "str"
    return None


def write_dataset_yaml(path: Path, name: str, attrs: Mapping[str, Mapping[str, tuple[str, Any]]]) -> None:
    """A video-workspace dataset.yaml: one ``image`` view, masks, boxes and tracklets, and ``attrs``
    ({slot: {name: (pixano type, default)}}) on records, entities, states, masks and boxes."""

    def block(slot: str) -> dict[str, Any]:
        return {"attrs": {n: {"type": t, "default": d} for n, (t, d) in attrs.get(slot, {}).items()}}

    spec = {
        "pixano": 2,
        "dataset": {"name": name, "workspace": "video"},
        "format": "pixano_jsonl",
        "schema": {
            "views": {"image": "sequence_frames"},
            "record": block("record"),
            "entity": block("entity"),
            "entity_dynamic_state": block("entity_dynamic_state"),
            "annotations": {"mask": block("mask"), "bbox": block("bbox"), "tracklet": {}},
        },
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")
