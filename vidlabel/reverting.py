"""Taking a step back (undo) or forward again (redo) without overwriting anyone's newer work.

A step's rows are put back only where they are still as the step left them; a row a later step
changed is kept, and that later step is rebased onto what was there before (so undoing it too goes
back to the state before both). References stay whole (no annotation outlives its entity, no
entity its sequence) and the touched entities' tracklets are repaired around what was kept.
"""

from __future__ import annotations

from .history import History, Step
from .tracklets import TrackletKeeper
from .versions import Draft, Key, Op, same

ANNOTATIONS = ("masks", "boxes", "states")


def revert(draft: Draft, step: Step, history: History, tracklets: TrackletKeeper) -> list[tuple[str, Key]]:
    """Put back each row of ``step`` still as it left it; returns the (store, key) skipped."""
    skipped: list[tuple[str, Key]] = []
    kept: list[Op] = []
    for op in reversed(step.ops):
        store, key, before, after = op
        if same(draft.store(store).get(key), after):
            draft.put(store, key, before)
        else:
            skipped.append((store, key))
            kept.append(op)
    if kept:
        _rebase(history, step, kept)
    skipped += _keep_references(draft, step.ops)
    if skipped or step.rebased:
        touched = {(k[0], k[2]) for s, k, _b, _a in step.ops if s in ANNOTATIONS}
        touched |= {
            (r["sequence_id"], r["entity_id"])
            for s, _k, b, a in step.ops
            if s == "tracklets"
            for r in (b, a)
            if r is not None
        }
        for seq, eid in sorted(touched):
            if draft.get("entities", (eid,)) is not None:
                tracklets.repair(seq, eid)
    return skipped


def _rebase(history: History, undone: Step, kept: list[Op]) -> None:
    """Rows a later step changed stay; that step now starts from what was there before ``undone``,
    so undoing it later goes back to that, not to the undone step's rows."""
    later: dict[tuple[str, Key], list[tuple[Step, int]]] = {}
    for other in (*history.undo, *history.redo, *history.groups.values()):
        if other is undone:
            continue
        for i, (store, key, _b, _a) in enumerate(other.ops):
            later.setdefault((store, key), []).append((other, i))
    for store, key, before, after in kept:
        for other, i in later.get((store, key), ()):
            st, k, b, a = other.ops[i]
            if same(b, after):
                other.ops[i] = (st, k, before, a)
                other.rebased = True  # its rows no longer tell its tracklets: repaired when undone


def _keep_references(draft: Draft, ops: list[Op]) -> list[tuple[str, Key]]:
    """After a partial revert: no annotation without its entity, no entity without its sequence."""
    kept: list[tuple[str, Key]] = []
    for store, key, _before, after in ops:
        if store == "entities" and after is not None and draft.get(store, key) is None:
            seq, eid = after["sequence_id"], key[0]
            if any(draft[t].count("by_entity", (seq, eid)) for t in (*ANNOTATIONS, "tracklets")):
                draft.put(store, key, after)
                kept.append((store, key))
        elif (
            store == "sequences"
            and after is not None
            and draft.get(store, key) is None
            and draft["entities"].count("by_sequence", key)
        ):
            for st, k, _b, a in ops:
                if st in ("sequences", "frames", "sources") and k == key and a is not None:
                    draft.put(st, k, a)
            kept.append((store, key))
    for store, key, before, _after in ops:
        if before is None:
            continue
        if store in ANNOTATIONS or store == "tracklets":
            row = draft.get(store, key)
            if row is not None and draft.get("entities", (row["entity_id"],)) is None:
                draft.put(store, key, None)
                kept.append((store, key))
        elif (
            store == "entities"
            and draft.get("sequences", (before["sequence_id"],)) is None
            and draft.get(store, key) is not None
        ):
            draft.put(store, key, None)
            kept.append((store, key))
    return kept
