"""Read DAVIS 2016/2017 folders, and the index-PNG mask decoding shared with the Pixano reader.

DAVIS 2017 masks are palette PNGs whose pixel value is the object id (0 background, 255 void);
DAVIS 2016 masks are greyscale 0/255 with a single object. Each PNG is decoded once; objects
become entities named by their id ("1", "2", ...), as the official evaluation matches them, unless
a vidlabel export's ``vidlabel.json`` names them (see :func:`object_ids`): then they get back the
names they were exported with.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import count
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from ..dataset import Dataset
from ..errors import ValidationError
from ..images import png_problem
from ..naming import natural_key
from ..schema import size_problem
from ..validation import check_sequence

__all__ = [
    "DEFAULT_FPS",
    "MAX_OBJECTS",
    "OBJECTS_FILE",
    "VOID",
    "davis_id",
    "import_index_masks",
    "object_ids",
    "read_davis",
    "read_index_png",
]

DEFAULT_FPS = 24.0  # DAVIS videos are 24 fps
VOID = 255  # palette value of "void" pixels: excluded from evaluation, never an object
MAX_OBJECTS = 254  # object ids 1..254: 0 is background, 255 void
OBJECTS_FILE = "vidlabel.json"  # a vidlabel DAVIS export's object names, beside Annotations/
FRAME_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
T = TypeVar("T")


def read_davis(
    root: str | os.PathLike[str],
    *,
    sequences: Iterable[str] | None = None,
    resolution: str = "480p",
    split: str | Iterable[str] | None = None,
    year: int | str | None = None,
    dataset: Dataset | None = None,
    fps: float = DEFAULT_FPS,
    progress: bool = True,
) -> Dataset:
    """Import a DAVIS folder (``JPEGImages/<res>/<seq>``, ``Annotations/<res>/<seq>``, ``ImageSets``).

    ``sequences`` and ``split`` restrict what is read. With ``dataset`` the sequences are added to
    it as one undoable step, all or nothing; otherwise a new dataset is returned.
    """
    base = Path(root)
    if not base.is_dir():
        raise ValidationError(f"DAVIS root {os.fspath(root)!r} is not a folder")
    images = base / "JPEGImages" / resolution
    if not images.is_dir():
        raise ValidationError(f"DAVIS root {os.fspath(root)!r} has no JPEGImages/{resolution} folder")
    found = sorted((p.name for p in images.iterdir() if p.is_dir()), key=natural_key)
    sets = _image_sets(base, resolution, year)
    names = found
    if sequences is not None:
        names = select(found, sequences, lambda bad: f"DAVIS: unknown sequence(s) {bad} (not in {images})")
    if split is not None:
        splits = [split] if isinstance(split, str) else list(split)
        missing = [s for s in splits if s not in sets]
        if missing:
            raise ValidationError(
                f"DAVIS: no ImageSets file for split(s) {', '.join(map(repr, missing))} "
                f"(available: {', '.join(sorted(sets)) or 'none'})"
            )
        listed = set().union(*(sets[s] for s in splits))
        names = [s for s in names if s in listed]
        if not names:
            raise ValidationError(
                f"DAVIS: none of the sequences of split(s) {', '.join(splits)} is in {images}"
            )
        sets = {s: sets[s] for s in splits}  # a sequence's split is then one of those asked for
    saved = _saved_names(base / OBJECTS_FILE)
    ds = dataset if dataset is not None else Dataset()
    with ds.transaction(f"import DAVIS ({len(names)} sequences)"):
        for name in progress_bar(names, "DAVIS", enabled=progress):
            _read_sequence(ds, base, resolution, name, _split_of(name, sets), fps, saved.get(name))
    if dataset is None:
        ds.clear_history()
    return ds


def select(found: Sequence[str], wanted: str | Iterable[str], error: Callable[[str], str]) -> list[str]:
    """The names of ``found`` that are ``wanted`` (in found's order); ValidationError naming unknown ones."""
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    unknown = [w for w in wanted if w not in found]
    if unknown:
        raise ValidationError(error(", ".join(map(repr, unknown))))
    keep = set(wanted)
    return [f for f in found if f in keep]


def progress_bar(items: Sequence[T], desc: str, *, enabled: bool) -> Iterable[T]:
    """A tqdm bar over ``items`` when enabled and there are at least two (tqdm loads only then)."""
    if not enabled or len(items) < 2:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="seq")


def _read_sequence(
    ds: Dataset,
    base: Path,
    res: str,
    name: str,
    split: str | None,
    fps: float,
    names: Mapping[int, str] | None,
) -> None:
    folder = base / "JPEGImages" / res / name
    frames = sorted(
        (str(p) for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES and p.is_file()),
        key=natural_key,
    )
    if not frames:
        raise ValidationError(
            f"DAVIS sequence {name!r}: no frames ({', '.join(sorted(FRAME_SUFFIXES))}) in {folder}"
        )
    seq = ds.add_sequence(name, frames=frames, fps=fps, split=split)
    check_sequence(ds, seq)
    ann = base / "Annotations" / res / name
    masks = sorted(str(p) for p in ann.iterdir() if p.suffix.lower() == ".png") if ann.is_dir() else []
    import_index_masks(ds, seq, frames, masks, names=names)


# ---------------------------------------------------------------------- object ids and names
def davis_id(name: object) -> int | None:
    """The DAVIS object id an entity name spells ("1".."254", no sign, no leading zero), else None."""
    if isinstance(name, str) and name.isascii() and name.isdigit() and not name.startswith("0"):
        k = int(name)
        return k if k <= MAX_OBJECTS else None
    return None


def object_ids(names: Sequence[str]) -> list[int]:
    """The DAVIS object id of each non-void entity of a sequence, given their names in entity order.

    A name that is a DAVIS id keeps it; the other names take the smallest ids left free, in order.
    So entities "1", "3" stay 1 and 3 after "2" was removed, and "car", "dog" become 1 and 2. The
    DAVIS export writes these ids (and the names in ``vidlabel.json``); evaluate matches by them.
    """
    taken = {k for k in map(davis_id, names) if k is not None}
    free = (k for k in count(1) if k not in taken)
    return [k if (k := davis_id(n)) is not None else next(free) for n in names]


def _saved_names(file: Path) -> dict[str, dict[int, str]]:
    """Sequence name -> {pixel value: entity name} from a vidlabel export's ``vidlabel.json``."""
    if not file.is_file():
        return {}
    try:
        data = json.loads(file.read_bytes())
    except (OSError, ValueError) as e:
        raise ValidationError(f"{file} cannot be read as JSON: {e}") from None
    seqs = data.get("sequences") if isinstance(data, dict) else None
    if not isinstance(seqs, dict):
        raise ValidationError(f'{file}: expected {{"sequences": {{name: {{"objects": ..., "void": ...}}}}}}')
    return {str(seq): _sequence_names(file, str(seq), entry) for seq, entry in seqs.items()}


def _sequence_names(file: Path, seq: str, entry: Any) -> dict[int, str]:
    where = f"{file}: sequence {seq!r}"
    objects = entry.get("objects") if isinstance(entry, dict) else None
    void = entry.get("void", []) if isinstance(entry, dict) else None
    if not isinstance(objects, dict) or not isinstance(void, list):
        raise ValidationError(f'{where}: expected {{"objects": {{id: name}}, "void": [names]}}')
    out: dict[int, str] = {}
    for key, name in objects.items():
        k = davis_id(key)
        if k is None or not isinstance(name, str) or not name:
            raise ValidationError(f"{where}: object {key!r}: {name!r} is not DAVIS id -> entity name")
        if davis_id(name) not in (None, k):  # a name that is a DAVIS id is written under that id
            raise ValidationError(f"{where}: object {k} is named {name!r}, another DAVIS id")
        out[k] = name
    if len(void) == 1 and isinstance(void[0], str) and void[0]:
        out[VOID] = void[0]  # several void entities share value 255: it keeps its own name then
    if len(set(out.values())) < len(out):
        raise ValidationError(f"{where}: two objects share a name")
    return out


def _image_sets(base: Path, res: str, year: int | str | None) -> dict[str, set[str]]:
    """Split name -> sequence names, from ``ImageSets/<year>/*.txt`` or the 2016 ``ImageSets/<res>``."""
    sets_root = base / "ImageSets"
    years = [str(year)] if year is not None else ["2017", "2016"]
    candidates = [sets_root / y for y in years]
    if year is None or str(year) == "2016":
        candidates.append(sets_root / res)  # DAVIS 2016 lists frame/mask path pairs there
    folder = next((c for c in candidates if c.is_dir()), None)
    if folder is None:
        return {}
    out: dict[str, set[str]] = {}
    for txt in sorted(folder.glob("*.txt")):
        names = set()
        for line in txt.read_text(encoding="utf-8", errors="replace").splitlines():
            words = line.split()
            if words:  # "bear", or in 2016 "/JPEGImages/480p/bear/00000.jpg /Annotations/..." -> "bear"
                path = PurePosixPath(words[0])
                names.add(path.parent.name if path.suffix else path.name)
        out[txt.stem] = names
    return out


def _split_of(name: str, sets: Mapping[str, set[str]]) -> str | None:
    # A sequence listed in both "train" and "trainval" belongs to the smaller, more specific set.
    holding = [s for s, names in sets.items() if name in names]
    return min(holding, key=lambda s: (len(sets[s]), s)) if holding else None


# ---------------------------------------------------------------------- index PNGs (shared)
def read_index_png(path: str | os.PathLike[str]) -> np.ndarray:
    """Labels of a mask PNG as HxW uint8, decoded once.

    Palette ("P") PNGs give their indices (0 background, 255 void). Greyscale ("L"/"1") PNGs are
    DAVIS 2016 binary masks: any non-zero pixel is object 1. Truncation is checked from the chunk
    structure, because Pillow fills cut-off images silently when LOAD_TRUNCATED_IMAGES is set.
    """
    name = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ValidationError(f"cannot read mask {name}: {e}") from e
    problem = png_problem(data)
    if problem:
        raise ValidationError(f"mask {name} is a corrupt or truncated PNG: {problem}")
    try:
        with Image.open(io.BytesIO(data)) as im:
            problem = size_problem(im.height, im.width)  # from the header, before decoding
            if problem:
                raise ValidationError(f"mask {name}: {problem}")
            im.load()
            mode = im.mode
            if mode == "P":
                return np.asarray(im, dtype=np.uint8)
            if mode in ("L", "1"):
                return (np.asarray(im) > 0).astype(np.uint8)
    except ValidationError:
        raise
    except Exception as e:  # Pillow raises OSError, SyntaxError, zlib.error, ... for bad data
        raise ValidationError(f"mask {name} cannot be decoded: {e}") from e
    raise ValidationError(f"mask {name} has mode {mode!r}; expected a palette (P) or greyscale (L, 1) PNG")


def import_index_masks(
    ds: Dataset,
    seq: str,
    frames: Sequence[str],
    masks: Sequence[str],
    *,
    entity_map: Mapping[int, str] | None = None,
    names: Mapping[int, str] | None = None,
    source: str = "import",
) -> list[str]:
    """Add one entity per label value found in the mask PNGs of ``seq`` and set its masks.

    ``frames`` are the sequence's frame paths in order; each mask goes to the frame with the
    same file stem. Entities are named by their value ("1", "2", ...) unless ``entity_map`` maps
    values to names (then an unmapped value is an error); value 255 becomes one entity named
    "255" with ``void=True`` unless mapped. ``names`` (a DAVIS export's) renames the values it
    holds and leaves the others, and 255, as they are. Entities are created in increasing value
    order. Returns the new entity ids.
    """
    by_stem: dict[str, int] = {}
    for i, frame_path in enumerate(frames):
        stem = Path(frame_path).stem
        if stem in by_stem:
            raise ValidationError(f"sequence {seq!r}: two frames share the file stem {stem!r}")
        by_stem[stem] = i
    index: dict[int, str] = {}
    for m in masks:
        f = by_stem.get(Path(m).stem)
        if f is None:
            raise ValidationError(f"mask {m} matches no frame of sequence {seq!r} (by file stem)")
        if f in index:
            raise ValidationError(f"masks {index[f]} and {m} both match frame {f} of sequence {seq!r}")
        index[f] = m
    row = ds.sequence(seq)
    size = (row["height"], row["width"])
    paths = sorted(index.items())
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:  # Pillow decodes off the GIL
        decoded = list(pool.map(read_index_png, [p for _, p in paths]))
    labels: dict[int, np.ndarray] = {}
    present: dict[int, list[int]] = {}  # label value -> frames holding it
    for (f, path), lab in zip(paths, decoded, strict=True):
        if lab.shape != size:
            raise ValidationError(
                f"mask {path} is {lab.shape[1]}x{lab.shape[0]} but frame {f} of sequence "
                f"{seq!r} is {size[1]}x{size[0]}"
            )
        labels[f] = lab
        for v in np.flatnonzero(np.bincount(lab.ravel(), minlength=256)[1:]) + 1:
            present.setdefault(int(v), []).append(f)
    out = []
    for value in sorted(present):
        name = names[value] if names and value in names else _entity_name(value, entity_map, seq)
        void = value == VOID and (entity_map is None or value not in entity_map)
        eid = ds.add_entity(seq, name=name, void=void)
        ds.set_masks(seq, eid, {f: labels[f] == value for f in present[value]}, source=source, keyframe=True)
        out.append(eid)
    return out


def _entity_name(value: int, entity_map: Mapping[int, str] | None, seq: str) -> str:
    if entity_map is None or (value == VOID and value not in entity_map):
        return str(value)
    if value not in entity_map:
        raise ValidationError(
            f"sequence {seq!r}: mask value {value} has no entry in the entity_map "
            f"(mapped: {', '.join(map(str, sorted(entity_map)))})"
        )
    return entity_map[value]
