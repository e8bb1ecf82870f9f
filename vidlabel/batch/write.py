"""The driver's side of a result: a sequence's masks written whole, and what counts as done.

A sequence's masks are written in ONE transaction: one undo step, and one journal record on a
project, so after a crash a sequence holds all of its batch results or none. That makes "done"
decidable from the data alone: a sequence is done for a source when it holds a propagated
(non-keyframe) mask of that source. A restarted driver (``skip_done=True``) therefore skips exactly
the sequences whose transaction was committed, and redoes the one that was under way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from .. import rle as rlemod
from ..errors import ValidationError

if TYPE_CHECKING:
    from ..dataset import Dataset
    from .payloads import Outcome, Payload

__all__ = ["Written", "done_sequences", "source_name", "write_outcome"]


def source_name(engine: str, options: Mapping[str, Any] | None) -> str:
    """The ``source`` of the masks a batch writes: the engine's name, and its options when given, e.g.
    ``sam2 {"image_size":512,"model":"facebook/sam2.1-hiera-tiny"}`` (keys sorted, so it is stable)."""
    if not options:
        return engine
    short = {k: _short(v) for k, v in options.items()}
    text = json.dumps(short, sort_keys=True, default=_named, separators=(",", ":"))
    return f"{engine} {text}"


_LONG = 120  # an option longer than this as JSON (a model's whole config) is named by a digest


def _short(value: Any) -> Any:
    """``value``, or for a long structure (a config's ``to_dict()``, ~10 kB that would be on every mask
    row and undo label) ``"<model_type> sha256:<12 hex>"`` of its JSON: as stable, and as distinct."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value  # a model id or path names the model: kept whole
    text = json.dumps(value, sort_keys=True, default=_named, separators=(",", ":"))
    if len(text) <= _LONG:
        return value
    kind = value.get("model_type") if isinstance(value, Mapping) else getattr(value, "model_type", None)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return f"{kind or type(value).__name__} sha256:{digest}"


def _named(value: Any) -> str:
    """An option JSON cannot hold: a function by its import name (its repr has an address that changes
    from run to run, so skip_done would never see a sequence done), anything else as str()."""
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '?')}.{value.__qualname__}"
    return str(value)


def done_sequences(ds: Dataset, source: str, sequences: Iterable[str]) -> set[str]:
    """Those of ``sequences`` holding a propagated mask written with ``source``."""
    t = ds.table("masks").select(["sequence_id", "source", "keyframe"])
    wanted = pc.field("sequence_id").isin(pa.array(list(sequences), pa.string()))
    hit = t.filter((pc.field("source") == source) & ~pc.field("keyframe") & wanted)
    return set(pc.unique(hit.column("sequence_id")).to_pylist())


@dataclass
class Written:
    frames: int = 0  # frames the engine answered
    written: int = 0  # masks written or erased
    kept: int = 0  # results not written: the dataset holds a keyframe there
    dropped: list[str] = field(default_factory=list)  # entities removed from the dataset meanwhile
    found: list[str] = field(default_factory=list)  # entities made for what a run that finds found


def write_outcome(ds: Dataset, payload: Payload, outcome: Outcome, source: str, label: str) -> Written:
    """Write ``outcome`` into ``ds`` as one transaction (one undo step), durable when it returns.

    Masks go in with ``source``, their score and ``keyframe=False``; a keyframe already there (a
    person's mask, also one set while the job ran) is kept; an empty result erases a propagated mask
    there; results of entities removed since the payload was built are dropped. Entities the worker
    found (text prompts) are made here, in the same transaction, each with the mask it was found with
    as its keyframe; their results are written under the new ids."""
    seq = payload.sequence
    size = [payload.height, payload.width]
    out = Written(frames=len(outcome.frames))
    with ds.transaction(label):
        row = ds.sequence(seq)  # a sequence removed meanwhile is a ValidationError, and nothing is written
        if (row["num_frames"], row["height"], row["width"]) != (
            payload.num_frames,
            payload.height,
            payload.width,
        ):
            raise ValidationError(f"batch: sequence {seq!r} changed size while it was propagated")
        alive = set(ds.entity_ids(seq))
        ids: dict[str, str] = {}  # the worker's id of a found entity -> the one it gets here
        for wid, category, frame, counts, score, made_by in outcome.found:
            ids[wid] = eid = ds.add_entity(seq, category=category)
            ds.set_mask(
                seq, frame, eid, {"size": size, "counts": counts}, source=made_by, score=score, keyframe=True
            )
            alive.add(eid)
            out.found.append(eid)
        for frame, results in outcome.frames:
            for wid, (counts, score) in results.items():
                eid = ids.get(wid, wid)
                if eid not in alive:
                    if eid not in out.dropped:
                        out.dropped.append(eid)
                    continue
                old = ds.annotation("masks", seq, frame, eid)
                if old is not None and old["keyframe"]:
                    out.kept += 1
                    continue
                rle = {"size": size, "counts": counts}
                if old is None and rlemod.area(rle) == 0:
                    continue
                ds.set_mask(seq, frame, eid, rle, source=source, score=score, keyframe=False)
                out.written += 1
    ds.wait_durable(ds.commit_ticket())
    return out
