"""Read a Pixano source folder or export: ``<root>/<split>/metadata.jsonl``, one JSON line per video.

Both dialects are read: Pixano 0.7 lines (``views.image.path``, ``annotation_files`` as a
``{kind: pattern}`` dict, record fields such as ``status`` at the top level) and JSONL v2 lines
(optional ``{"$pixano": "jsonl/2"}`` header, ``attrs``, ``views.<name>.frame_pattern`` or
``frames``, ``annotation_files`` as a list of typed sidecars, and inline ``entities`` with their
masks, boxes, tracklets and states as Pixano 0.8.0 exports them: see io.pixano_jsonl). A
``dataset.yaml`` beside the splits gives the attrs' types and defaults (io.pixano_schema).
Relative paths resolve against the split folder, then the root (Pixano 0.7 accepted both); no
path may lead outside the root. A v2 ``frame_pattern`` orders its files by name, as Pixano 0.8
does (frame_index values of inline annotations count in that order); 0.7 patterns, naturally.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..dataset import Dataset
from ..errors import ValidationError
from ..naming import natural_key
from ..schema import BUILTIN
from .davis import DEFAULT_FPS, progress_bar, select
from .pixano_ids import index_png_values, looks_derived
from .pixano_jsonl import Defaults, header_defaults, parse_entities
from .pixano_load import add_records
from .pixano_records import (
    NEW,
    NO_SPLIT,
    RESERVED,
    Record,
    field_types,
    prepare,
    saved_facts,
    still_null,
    take,
)
from .pixano_schema import SPEC_FILE, Attr, Schema, read_dataset_yaml, refuse_outside, short

__all__ = ["fps_of", "read_pixano", "recover_index_values"]

METADATA = "metadata.jsonl"
_HEADER_KEY = "$pixano"
_V2_KEYS = {"id", "split", "attrs", "views", "entities", "conversations", "annotation_files"}
_V1_KEYS = _V2_KEYS | {"status", "name", "fps", "image", "view"}


def read_pixano(
    root: str | os.PathLike[str],
    *,
    splits: str | Iterable[str] | None = None,
    dataset: Dataset | None = None,
    progress: bool = True,
) -> Dataset:
    """Import the videos of a Pixano source folder or export: frames, index-PNG masks, inline entities.

    ``dataset.yaml``, when there is one, gives the attrs' types and the defaults of attrs a line
    leaves out. Record ``attrs`` become sequence custom fields, entity and state attrs entity and
    state fields (undeclared ones get types inferred over all lines; a given ``dataset`` must
    declare them already). With ``dataset`` everything is added as one undoable step, all or
    nothing; otherwise a new dataset is returned.
    """
    base = Path(root)
    if not base.exists():
        raise ValidationError(f"Pixano source {os.fspath(root)!r} does not exist")
    if not base.is_dir():
        hint = "; give the folder above its split folder" if base.name == METADATA else ""
        raise ValidationError(f"Pixano source {os.fspath(root)!r} is not a folder{hint}")
    context = _Context(str(base), os.path.realpath(base), read_dataset_yaml(base))
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
        hint = (
            " (a Pixano library: read it with vl.read_pixano_library)" if (base / "library").is_dir() else ""
        )
        raise ValidationError(f"Pixano source {os.fspath(root)!r} has no <split>/{METADATA}{hint}")
    records = [rec for s in found for rec in _read_metadata(base / s, context)]
    declared = {slot: {n: a.type for n, a in attrs.items()} for slot, attrs in context.attrs.items()}
    spec = os.path.join(os.fspath(root), SPEC_FILE)
    ds = prepare(field_types(records, declared, spec), dataset, os.fspath(root))
    add_records(
        ds,
        records,
        f"import Pixano ({len(records)} sequences)",
        lambda recs: progress_bar(recs, "Pixano", enabled=progress),
    )
    if dataset is None:
        ds.clear_history()
    return ds


@dataclass
class _Context:
    root: str
    real_root: str
    schema: Schema | None
    attrs: dict[str, dict[str, Attr]] = field(init=False)

    def __post_init__(self) -> None:
        self.attrs = self.schema.attrs if self.schema is not None else {}

    @property
    def tracklets(self) -> bool:
        """Whether Pixano gives entities tracklets here (a tracklet slot in the schema)."""
        return self.schema is not None and "tracklet" in self.schema.annotations


def fps_of(timestamps: Sequence[Any]) -> float | None:
    """The frame rate of evenly spaced timestamps (what Pixano keeps of it), None when they say none."""
    ts = [t for t in timestamps if isinstance(t, (int, float)) and not isinstance(t, bool)]
    if len(ts) < 2 or len(ts) != len(timestamps):
        return None
    step = (ts[-1] - ts[0]) / (len(ts) - 1)
    return round(1 / step, 6) if step > 0 else None


def recover_index_values(rec: Record) -> None:
    """Give entities Pixano made from index-PNG values (their ids derived from those) their values back."""
    if not rec.id or not any(looks_derived(e.id) for e in rec.entities):
        return
    values = index_png_values(rec.id)
    for ent in rec.entities:
        ent.index_value = values.get(ent.id)


def _read_metadata(split_dir: Path, context: _Context) -> list[Record]:
    path = split_dir / METADATA
    refuse_outside(path, context.root)
    out: list[Record] = []
    first = True
    defaults = Defaults()
    with path.open(encoding="utf-8") as fh:
        for lineno, text in enumerate(fh, start=1):
            where = f"{path}:{lineno}"
            if not text.strip():
                continue
            is_first, first = first, False
            try:
                line = json.loads(text)
            except json.JSONDecodeError as e:
                cut = "; the file may be cut short" if not text.endswith("\n") else ""
                raise ValidationError(f"{where}: malformed JSON at column {e.colno}: {e.msg}{cut}") from None
            except RecursionError:
                raise ValidationError(f"{where}: JSON nested too deeply") from None
            if not isinstance(line, dict):
                raise ValidationError(f"{where}: expected a JSON object, got {type(line).__name__}")
            if _HEADER_KEY in line:
                if not is_first:
                    raise ValidationError(f"{where}: the {_HEADER_KEY!r} header must be the first line")
                defaults = header_defaults(line, where)
                continue
            out.append(_parse_line(line, where, str(split_dir), context, defaults))
    return out


def _parse_line(
    line: dict[str, Any], where: str, split_dir: str, context: _Context, defaults: Defaults
) -> Record:
    attrs = line.get("attrs", {})
    if not isinstance(attrs, dict):
        raise ValidationError(f"{where}: 'attrs' must be an object")
    declared = {n: a.default for n, a in context.attrs.get("record", {}).items()}
    attrs = {**declared, **attrs}  # what the line leaves out takes the schema's default, as in Pixano
    v2 = "attrs" in line or isinstance(line.get("annotation_files"), list) or "entities" in line
    extra = {k: v for k, v in line.items() if k not in (_V2_KEYS if v2 else _V1_KEYS)}
    if extra and v2:
        raise ValidationError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
    attrs = {**extra, **attrs}  # Pixano 0.7 spilled record fields at the top level
    saved = saved_facts(attrs, where)
    if line.get("conversations"):
        raise ValidationError(f"{where}: conversations are not read by vidlabel")
    views = line.get("views")
    if views is None and isinstance(line.get("image", line.get("view")), (str, dict)):
        views = {"image": line.get("image", line.get("view"))}  # 0.7 shorthand
    if not isinstance(views, dict) or not views:
        what = "missing" if views is None else f"not an object of views ({type(views).__name__})"
        raise ValidationError(f'{where}: \'views\' {what} (e.g. {{"image": {{"frame_pattern": ...}}}})')
    sidecars = _sidecars(line.get("annotation_files"), where)
    view = _pick_view(views, sidecars, where)
    order: Callable[[str], Any] = str if v2 else natural_key  # Pixano 0.8 sorts a pattern's files by name
    frames, frame_index, timestamps, fps = _frames(
        views[view], line.get("fps", DEFAULT_FPS), where, split_dir, context, order
    )
    if "fps" in attrs:  # a vidlabel export's, exact; Pixano's own exports give timestamps only
        fps = take(attrs, "fps", saved)
    elif timestamps and not (isinstance(views[view], dict) and "fps" in views[view]):
        fps = fps_of(timestamps) or fps
    split = take(attrs, "split", saved, line.get("split")) or os.path.basename(split_dir)
    rec = Record(where, str(line.get("id") or ""), "", split, None, fps, frames, frame_index=frame_index)
    if still_null("split", split, saved, written=NO_SPLIT):  # moved to another split in Pixano: a value
        rec.split = None
    rec.saved = saved
    for _, pattern, entity_map in sidecars:
        rec.masks.append((_resolve(pattern, where, split_dir, context, order), entity_map))
    rec.status = take(attrs, "status", saved, line.get("status"), written=NEW)
    names = [take(attrs, "name", saved), line.get("name"), line.get("id"), attrs.pop("id", None)]
    rec.name = next((n for n in names if n), os.path.basename(os.path.dirname(frames[0])))
    for key, value in (("name", rec.name), ("split", rec.split), ("status", rec.status)):
        if value is not None and not isinstance(value, str):
            raise ValidationError(f"{where}: {key} must be a string, got {value!r}")
    for name in RESERVED["record"]:
        attrs.pop(name, None)  # Pixano's base fields (comment, created_at, ...) have no vidlabel column
    clash = sorted(set(attrs) & {f.name for f in BUILTIN["sequences"]})
    if clash:
        raise ValidationError(f"{where}: attrs {', '.join(clash)} clash with built-in sequence columns")
    rec.attrs = {n: take(attrs, n, saved) for n in list(attrs)}
    rec.entities = parse_entities(
        line.get("entities"), where, view, defaults, context.attrs, tracklets=context.tracklets
    )
    recover_index_values(rec)
    rec.defaults = {n: a.default for n, a in context.attrs.get("entity", {}).items()}
    rec.one_tracklet = context.tracklets
    return rec


def _frames(
    spec: Any, fps: Any, where: str, split_dir: str, context: _Context, order: Callable[[str], Any]
) -> tuple[list[str], list[Any] | None, list[Any], Any]:
    """A view's frame files, with their frame_index and timestamp when it lists them, and its fps."""
    if not isinstance(spec, dict):
        return _resolve(spec, where, split_dir, context, order), None, [], fps
    fps = spec.get("fps", fps)
    if "uri" in spec:
        raise ValidationError(f"{where}: the view is a video file; only frame images are supported")
    if not isinstance(spec.get("frames"), list):
        pattern = spec.get("frame_pattern", spec.get("path"))
        return _resolve(pattern, where, split_dir, context, order), None, [], fps
    items = [f if isinstance(f, dict) else {"uri": f} for f in spec["frames"]]
    files = [
        p
        for f in items
        for p in _resolve(_literal(f.get("uri"), where), where, split_dir, context, order, literal=True)
    ]
    if len(files) != len(items):
        raise ValidationError(f"{where}: a frame uri names more than one file")
    index = [f.get("frame_index", k) for k, f in enumerate(items)]
    bad = next((i for i in index if isinstance(i, bool) or not isinstance(i, int)), None)
    if bad is not None:
        raise ValidationError(f"{where}: a frame's frame_index must be an integer, got {short(bad)}")
    return files, index, [f.get("timestamp") for f in items], fps


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
        raise ValidationError(f"{where}: a frame uri must be a string, got {short(path)}")
    return path


def _resolve(
    pattern: Any,
    where: str,
    split_dir: str,
    context: _Context,
    order: Callable[[str], Any],
    *,
    literal: bool = False,
) -> list[str]:
    """Files matching ``pattern`` under the split folder (else the root), all inside the root;
    ``literal``: a file name, its glob characters taken as they are (errors name it unescaped)."""
    if not isinstance(pattern, str) or not pattern:
        raise ValidationError(f"{where}: expected a path pattern, got {short(pattern)}")
    search = glob.escape(pattern) if literal else pattern
    if os.path.isabs(pattern) or pattern.startswith(("/", "\\")) or re.match(r"[A-Za-z]:[\\/]", pattern):
        raise ValidationError(
            f"{where}: pattern {pattern!r} is absolute; paths must be relative to the source"
        )
    if ".." in re.split(r"[\\/]+", pattern):
        raise ValidationError(
            f"{where}: pattern {pattern!r} uses '..'; paths may not leave the source folder"
        )
    files: list[str] = []
    for base in (split_dir, context.root):
        matches = glob.glob(search, root_dir=base, recursive=True)
        files = sorted((os.path.join(base, m) for m in matches), key=order)
        files = [f for f in files if os.path.isfile(f)]
        if files:
            break
    if not files:
        raise ValidationError(f"{where}: no files match {pattern!r} in {split_dir} or {context.root}")
    for f in files:
        real = os.path.realpath(f)
        if os.path.commonpath([real, context.real_root]) != context.real_root:
            raise ValidationError(
                f"{where}: pattern {pattern!r} matches {f}, which lies outside the source "
                f"folder (resolves to {real})"
            )
    return files
