"""Taking a step back (undo) or forward again (redo) without overwriting anyone's newer work.

A step's rows are put back only where they still hold what the step wrote; a row a later step
changed is kept, and that later step is rebased onto what was there before (so undoing it too goes
back to the state before both). A row's ``tracklet_id`` does not count as content: tracklets are
bookkeeping derived from the annotations, and every undo and redo repairs the touched entities'
tracklets afterwards. A step that other rows still depend on (an entity that later steps annotated,
a sequence that still has entities) is refused whole, with the dataset unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ValidationError
from .history import History, Step
from .tracklets import TrackletKeeper
from .versions import Draft, Key, Op, collapse, same

ANNOTATIONS = ("masks", "boxes", "states")

Rebase = list[tuple[Step, int, Op]]  # (a later step, the index of its op, the op it becomes)


def revert(
    draft: Draft, step: Step, history: History, tracklets: TrackletKeeper, kind: str
) -> tuple[list[tuple[str, Key]], Rebase]:
    """Put back each row of ``step`` still as it left it; returns the (store, key) kept and the
    rebase of later steps to apply once the revert is committed (``apply_rebase``)."""
    kept: list[Op] = []
    for op in reversed(step.ops):
        store, key, before, after = op
        if same_content(store, draft.store(store).get(key), after):
            draft.put(store, key, before)
        else:
            kept.append(op)
    blocked = _dependents(draft, step.ops)
    if blocked:
        raise ValidationError(f"{kind}: {step.label!r} cannot be taken back now: {blocked}")
    touched = {(k[0], k[2]) for s, k, _b, _a in step.ops if s in ANNOTATIONS}
    touched |= {
        (r["sequence_id"], r["entity_id"])
        for s, _k, b, a in step.ops
        if s == "tracklets"
        for r in (b, a)
        if r is not None
    }
    partial = bool(kept) or step.rebased
    for seq, eid in sorted(touched):
        if draft.get("entities", (eid,)) is not None:
            tracklets.repair(seq, eid, trim=partial)
    kept.reverse()  # back in the step's order: collapsed, a key the step wrote twice is one op
    return [(s, k) for s, k, _b, _a in kept], rebase_plan(history, step, collapse(kept))


_NOT_CONTENT = {
    **{t: ("tracklet_id",) for t in ANNOTATIONS},  # derived: repaired after each undo
    "sequences": ("source_uri", "source_kind"),  # where the pixels are, not what the sequence is:
}  # a project keeps array frames as files, found again after a move


def same_content(store: str, row: Any, other: Any) -> bool:
    """Equal rows, what is bookkeeping aside (the tracklet an annotation names, where pixels live)."""
    aside = _NOT_CONTENT.get(store)
    if aside and isinstance(row, dict) and isinstance(other, dict):
        return {k: v for k, v in row.items() if k not in aside} == {
            k: v for k, v in other.items() if k not in aside
        }
    if store == "frames" and row is not None and other is not None:
        return np.array_equal(row.timestamps, other.timestamps)  # the uris: where, not what
    if store == "sources":
        return (row is None) == (other is None)
    return same(row, other)


def rebase_plan(history: History, undone: Step, kept: list[Op]) -> Rebase:
    """Rows a later step changed stay; that step is to start from what was there before ``undone``."""
    if not kept:
        return []
    wanted = {(store, key): (before, after) for store, key, before, after in kept}
    plan: Rebase = []
    for other in (*history.undo, *history.redo, *history.groups.values()):
        if other is undone:
            continue
        for i, (st, k, b, a) in enumerate(other.ops):
            hit = wanted.get((st, k))
            if hit is not None and same_content(st, b, hit[1]):
                plan.append((other, i, (st, k, hit[0], a)))
    return plan


def apply_rebase(plan: Rebase) -> None:
    for other, i, op in plan:
        other.ops[i] = op
        other.rebased = True  # its rows no longer tell its tracklets: repaired when undone


def _dependents(draft: Draft, ops: list[Op]) -> str | None:
    """What would be left pointing at a row this revert removed (or at nothing), described."""
    for store, key, before, after in ops:
        if store == "entities" and after is not None and draft.get(store, key) is None:
            seq, eid = after["sequence_id"], key[0]
            n = sum(draft[t].count("by_entity", (seq, eid)) for t in ANNOTATIONS)
            if n:
                return f"entity {after['name']!r} has {n} annotation(s) from later steps"
        elif store == "sequences" and after is not None and draft.get(store, key) is None:
            n = draft["entities"].count("by_sequence", key)
            if n:
                return f"sequence {key[0]!r} has {n} entit(ies) from later steps"
        elif before is not None and store in (*ANNOTATIONS, "tracklets"):
            row = draft.get(store, key)
            if row is not None and draft.get("entities", (row["entity_id"],)) is None:
                return f"entity {row['entity_id']!r} of its {store} was removed by a later step"
        elif (
            before is not None
            and store == "entities"
            and draft.get(store, key) is not None
            and draft.get("sequences", (before["sequence_id"],)) is None
        ):
            return f"sequence {before['sequence_id']!r} of entity {key[0]!r} was removed by a later step"
    return None
