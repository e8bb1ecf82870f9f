"""Read a Pixano source folder: ``<root>/<split>/metadata.jsonl``, one JSON line per video.

Both dialects are read: Pixano 0.7 lines (``views.image.path``, ``annotation_files`` as a
``{kind: pattern}`` dict, record fields such as ``status`` at the top level) and JSONL v2 lines
(optional ``{"$pixano": "jsonl/2"}`` header, ``attrs``, ``views.<name>.frame_pattern``,
``annotation_files`` as a list of typed sidecars). Relative paths resolve against the split folder,
then the root (Pixano 0.7 accepted both); no path may lead outside the root.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..dataset import Dataset
from ..errors import ValidationError
from ..naming import natural_key
from ..schema import BUILTIN
from ..validation import check_sequence
from .davis import DEFAULT_FPS, import_index_masks, progress_bar, select

__all__ = ["read_pixano"]

METADATA = "metadata.jsonl"
_HEADER_KEY = "$pixano"
_V2_KEYS = {"id", "split", "attrs", "views", "entities", "conversations", "annotation_files"}
_V1_KEYS = _V2_KEYS | {"status", "name", "fps", "image", "view"}
_TAKEN = {"name", "id", "status", "split"}  # attrs that fill built-in sequence columns
_TYPES = {bool: pa.bool_(), int: pa.int64(), float: pa.float64(), str: pa.string()}


@dataclass
class _Record:
    where: str  # "path/metadata.jsonl:line" for error messages
    name: str
    split: str
    status: str | None
    fps: Any
    frames: list[str]
    masks: list[tuple[list[str], dict[int, str] | None]] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)


def read_pixano(
    root: str | os.PathLike[str],
    *,
    splits: str | Iterable[str] | None = None,
    dataset: Dataset | None = None,
    progress: bool = True,
) -> Dataset:
    """Import the videos of a Pixano source folder, with their index-PNG masks.

    Record ``attrs`` become sequence custom fields (types inferred over all lines; a given
    ``dataset`` must declare them already). With ``dataset`` everything is added as one
    undoable step, all or nothing; otherwise a new dataset is returned.
    """
    base = Path(root)
    if not base.is_dir():
        raise ValidationError(f"Pixano source {os.fspath(root)!r} is not a folder")
    real_root = os.path.realpath(base)
    found = sorted(p.name for p in base.iterdir() if p.is_dir() and (p / METADATA).is_file())
    if splits is not None:
        found = select(
            found,
            splits,
            lambda bad: (
                f"Pixano source {os.fspath(root)!r}: no {METADATA} for split(s) {bad} "
                f"(found: {', '.join(found) or 'none'})"
            ),
        )
    elif not found:
        raise ValidationError(f"Pixano source {os.fspath(root)!r} has no <split>/{METADATA}")
    records = [rec for s in found for rec in _read_metadata(base / s, str(base), real_root)]
    fields = _infer_fields(records)
    if dataset is None:
        ds = Dataset(sequence_fields=fields)
    else:
        ds = dataset
        declared = {f.name for f in ds.custom_fields["sequences"]}
        undeclared = sorted(set(fields) - declared)
        if undeclared:
            raise ValidationError(
                f"Pixano attrs {', '.join(undeclared)} are not declared as sequence fields of "
                f"the dataset (declared: {', '.join(sorted(declared)) or 'none'})"
            )
    with ds.transaction(f"import Pixano ({len(records)} sequences)"):
        for rec in progress_bar(records, "Pixano", enabled=progress):
            try:
                seq = ds.add_sequence(
                    rec.name, frames=rec.frames, fps=rec.fps, split=rec.split, status=rec.status, **rec.attrs
                )
                check_sequence(ds, seq)
                for masks, entity_map in rec.masks:
                    import_index_masks(ds, seq, rec.frames, masks, entity_map=entity_map)
            except ValidationError as e:
                raise ValidationError(f"{rec.where}: {e}") from e
    if dataset is None:
        ds.clear_history()
    return ds


def _read_metadata(split_dir: Path, root: str, real_root: str) -> list[_Record]:
    path = split_dir / METADATA
    out: list[_Record] = []
    first = True
    with path.open(encoding="utf-8") as fh:
        for lineno, text in enumerate(fh, start=1):
            where = f"{path}:{lineno}"
            if not text.strip():
                continue
            is_first, first = first, False
            try:
                line = json.loads(text)
            except json.JSONDecodeError as e:
                raise ValidationError(f"{where}: malformed JSON: {e}") from None
            if not isinstance(line, dict):
                raise ValidationError(f"{where}: expected a JSON object, got {type(line).__name__}")
            if _HEADER_KEY in line:
                if not is_first:
                    raise ValidationError(f"{where}: the {_HEADER_KEY!r} header must be the first line")
                continue
            out.append(_parse_line(line, where, str(split_dir), root, real_root))
    return out


def _parse_line(line: dict[str, Any], where: str, split_dir: str, root: str, real_root: str) -> _Record:
    attrs = line.get("attrs", {})
    if not isinstance(attrs, dict):
        raise ValidationError(f"{where}: 'attrs' must be an object")
    attrs = dict(attrs)
    v2 = "attrs" in line or isinstance(line.get("annotation_files"), list)
    extra = {k: v for k, v in line.items() if k not in (_V2_KEYS if v2 else _V1_KEYS)}
    if extra and v2:
        raise ValidationError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
    attrs = {**extra, **attrs}  # Pixano 0.7 spilled record fields at the top level
    if line.get("entities") or line.get("conversations"):
        raise ValidationError(f"{where}: inline entities/conversations are not supported; use mask files")
    views = line.get("views")
    if views is None and isinstance(line.get("image", line.get("view")), (str, dict)):
        views = {"image": line.get("image", line.get("view"))}  # 0.7 shorthand
    if not isinstance(views, dict) or not views:
        raise ValidationError(f'{where}: missing \'views\' (e.g. {{"image": {{"frame_pattern": ...}}}})')
    sidecars = _sidecars(line.get("annotation_files"), where)
    view = _pick_view(views, sidecars, where)
    spec = views[view]
    fps = line.get("fps", DEFAULT_FPS)
    if isinstance(spec, dict):
        fps = spec.get("fps", fps)
        if "uri" in spec:
            raise ValidationError(f"{where}: view {view!r} is a video file; only frame images are supported")
        if isinstance(spec.get("frames"), list):
            uris = [f.get("uri") if isinstance(f, dict) else f for f in spec["frames"]]
            frames = [
                p for u in uris for p in _resolve(_literal(u, where), where, split_dir, root, real_root)
            ]
        else:
            frames = _resolve(spec.get("frame_pattern", spec.get("path")), where, split_dir, root, real_root)
    else:
        frames = _resolve(spec, where, split_dir, root, real_root)
    split = line.get("split", attrs.pop("split", None)) or os.path.basename(split_dir)
    rec = _Record(where, "", split, None, fps, frames)
    for _, pattern, entity_map in sidecars:
        rec.masks.append((_resolve(pattern, where, split_dir, root, real_root), entity_map))
    rec.status = line.get("status", attrs.pop("status", None))
    names = [attrs.pop("name", None), line.get("name"), line.get("id"), attrs.pop("id", None)]
    rec.name = next((n for n in names if n is not None), os.path.basename(os.path.dirname(frames[0])))
    for key, value in (("name", rec.name), ("split", rec.split), ("status", rec.status)):
        if value is not None and not isinstance(value, str):
            raise ValidationError(f"{where}: {key} must be a string, got {value!r}")
    clash = sorted(set(attrs) & {f.name for f in BUILTIN["sequences"]})
    if clash:
        raise ValidationError(f"{where}: attrs {', '.join(clash)} clash with built-in sequence columns")
    rec.attrs = attrs
    return rec


def _sidecars(raw: Any, where: str) -> list[tuple[Any, Any, dict[int, str] | None]]:
    """Normalize both annotation_files dialects to (view, pattern, entity_map or None for "auto")."""
    if raw is None:
        return []
    if isinstance(raw, dict):  # 0.7: {"mask": "masks/bear/*.png"} or {"mask": {"path": ...}}
        raw = [{"kind": k, "pattern": v.get("path") if isinstance(v, dict) else v} for k, v in raw.items()]
    if not isinstance(raw, list):
        raise ValidationError(f"{where}: 'annotation_files' must be a list or an object")
    out = []
    for item in raw:
        if not isinstance(item, dict):
            raise ValidationError(f"{where}: an annotation_files entry must be an object, got {item!r}")
        kind, encoding = item.get("kind"), item.get("encoding", "index_png")
        if kind != "mask":
            raise ValidationError(f"{where}: unsupported annotation kind {kind!r} (supported: 'mask')")
        if encoding != "index_png":
            raise ValidationError(f"{where}: unsupported mask encoding {encoding!r} (supported: 'index_png')")
        out.append(
            (item.get("view"), item.get("pattern"), _entity_map(item.get("entity_map", "auto"), where))
        )
    return out


def _entity_map(raw: Any, where: str) -> dict[int, str] | None:
    if raw == "auto":
        return None
    if not isinstance(raw, dict):
        raise ValidationError(f'{where}: entity_map must be "auto" or an object, got {raw!r}')
    out = {}
    for key, name in raw.items():
        if not re.fullmatch(r"\d{1,3}", str(key)) or int(key) > 255 or not isinstance(name, str) or not name:
            raise ValidationError(f"{where}: entity_map entry {key!r}: {name!r} is not pixel value -> name")
        out[int(key)] = name
    return out


def _pick_view(views: Mapping[str, Any], sidecars: list[tuple[Any, Any, Any]], where: str) -> str:
    named = {v for v, _, _ in sidecars if v is not None}
    unknown = sorted(map(str, named - set(views)))
    if unknown:
        raise ValidationError(f"{where}: annotation_files name undeclared view(s) {', '.join(unknown)}")
    if len(views) == 1:
        return next(iter(views))
    if len(named) == 1:
        return str(named.pop())
    if "image" in views:
        return "image"
    raise ValidationError(f"{where}: several views ({', '.join(views)}); only one frame view is supported")


def _literal(path: Any, where: str) -> str:
    if not isinstance(path, str):
        raise ValidationError(f"{where}: a frame uri must be a string, got {path!r}")
    return glob.escape(path)


def _resolve(pattern: Any, where: str, split_dir: str, root: str, real_root: str) -> list[str]:
    """Files matching ``pattern`` under the split folder (else the root), all inside the root."""
    if not isinstance(pattern, str) or not pattern:
        raise ValidationError(f"{where}: expected a path pattern, got {pattern!r}")
    if os.path.isabs(pattern) or pattern.startswith(("/", "\\")) or re.match(r"[A-Za-z]:[\\/]", pattern):
        raise ValidationError(
            f"{where}: pattern {pattern!r} is absolute; paths must be relative to the source"
        )
    if ".." in re.split(r"[\\/]+", pattern):
        raise ValidationError(
            f"{where}: pattern {pattern!r} uses '..'; paths may not leave the source folder"
        )
    files: list[str] = []
    for base in (split_dir, root):
        matches = glob.glob(pattern, root_dir=base, recursive=True)
        files = sorted((os.path.join(base, m) for m in matches), key=natural_key)
        files = [f for f in files if os.path.isfile(f)]
        if files:
            break
    if not files:
        raise ValidationError(f"{where}: no files match {pattern!r} in {split_dir} or {root}")
    for f in files:
        real = os.path.realpath(f)
        if os.path.commonpath([real, real_root]) != real_root:
            raise ValidationError(
                f"{where}: pattern {pattern!r} matches {f}, which lies outside the source "
                f"folder (resolves to {real})"
            )
    return files


def _infer_fields(records: list[_Record]) -> dict[str, pa.DataType]:
    """Arrow types of the attrs over all lines: str, bool, int, float (int and float mix to float)."""
    seen: dict[str, set[type]] = {}
    for rec in records:
        for key, value in rec.attrs.items():
            kinds = seen.setdefault(key, set())
            if value is None:
                continue
            kind = next((t for t in _TYPES if type(value) is t), None)
            if kind is None:
                raise ValidationError(
                    f"{rec.where}: attrs.{key} = {value!r}: only strings, booleans, integers "
                    "and floats are supported"
                )
            kinds.add(kind)
    out = {}
    for key, kinds in seen.items():
        if kinds == {int, float}:
            kinds = {float}
        if len(kinds) > 1:
            names = ", ".join(sorted(t.__name__ for t in kinds))
            raise ValidationError(f"Pixano attrs.{key} holds values of mixed types ({names})")
        out[key] = _TYPES[kinds.pop()] if kinds else pa.string()
    return out
