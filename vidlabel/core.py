"""The dataset's core: published versions, transactions, undo that belongs to its owner, observers.

Writers take one lock; each outermost transaction builds the next version in a draft and
publishes it with one reference swap once the journal (a project's, if any) has it. Readers
take no lock: a read method pins the version current when it starts and answers from it.
A failed transaction simply drops its draft, so an edit applies all or nothing.

Undo applies a step's row changes backwards, but only to rows still as the step left them:
a row someone changed since is left as it is, and the undo says so (``Change.conflicts`` and a
warning). References are kept whole (no annotation outlives its entity) and tracklets are
repaired around what was skipped.
"""

from __future__ import annotations

import functools
import secrets
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np
import pyarrow as pa

from . import schema as sch
from .errors import ValidationError
from .history import History, HistoryView, Step
from .reverting import apply_rebase, rebase_plan, revert
from .tracklets import TrackletKeeper
from .versions import Draft, Key, MapVersion, Op, Snapshot, TableVersion, collapse

ANNOTATIONS = ("masks", "boxes", "states")
_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass
class Change:
    """What one edit, undo or redo touched; passed to observers."""

    label: str
    kind: str  # "edit", "undo" or "redo"
    tables: set[str] = field(default_factory=set)
    sequences: set[str] = field(default_factory=set)
    frames: dict[str, set[int]] = field(default_factory=dict)  # sequence id -> touched frame indices
    # sequence id -> entities whose annotations or tracklets changed
    entities: dict[str, set[str]] = field(default_factory=dict)
    # undo/redo: rows left as they were because a later step of someone else changed them
    conflicts: list[tuple[str, Key]] = field(default_factory=list)


@dataclass
class FrameInfo:
    """A sequence's frame list: timestamps (seconds) and per-frame uris."""

    timestamps: np.ndarray
    uris: list[str | None]

    def same_as(self, other: Any) -> bool:
        return (
            isinstance(other, FrameInfo)
            and self.uris == other.uris
            and np.array_equal(self.timestamps, other.timestamps)
        )


class Sink(Protocol):
    """Where committed work goes besides memory: a project's journal (see project.py)."""

    def record(self, kind: str, label: str, ops: list[Op], extra: dict[str, Any], *, wait: bool) -> int: ...
    def durable(self) -> int: ...
    def wait(self, ticket: int | None = None) -> None: ...
    def last(self) -> int: ...


@dataclass
class Captured:
    """What a checkpoint writes, taken at one instant: ``with captured.snapshot:`` pins the version."""

    snapshot: Snapshot
    undo: list[Step]
    redo: list[Step]
    groups: list[tuple[int, str, list[Op]]]  # runs going on: (group number, label, rows so far)
    journal: int  # the number of the last journal record this version holds
    retired: list[str] = field(default_factory=list)  # entity ids never to be given again


def reads(fn: _F) -> _F:
    """Answer the whole call from the version current when it starts (unless one is pinned already)."""

    @functools.wraps(fn)
    def wrapper(self: Core, *args: Any, **kwargs: Any) -> Any:
        loc = self._local
        pins = loc.__dict__.setdefault("pins", [])
        if pins or loc.__dict__.get("draft") is not None:
            return fn(self, *args, **kwargs)
        pins.append(self._state)
        try:
            return fn(self, *args, **kwargs)
        finally:
            pins.pop()

    return wrapper  # type: ignore[return-value]


def writes(fn: _F) -> _F:
    """Hold the writer's lock for the whole call, so what was validated is what gets written."""

    @functools.wraps(fn)
    def wrapper(self: Core, *args: Any, **kwargs: Any) -> Any:
        loc = self._local
        with self._wlock:
            pins = loc.__dict__.get("pins")
            if not pins:
                return fn(self, *args, **kwargs)
            loc.pins = []  # an edit inside `with ds.snapshot():` validates against the newest version
            try:
                return fn(self, *args, **kwargs)
            finally:
                loc.pins = pins

    return wrapper  # type: ignore[return-value]


class _Pins:
    def __init__(self, local: threading.local) -> None:
        self._local = local

    def push(self, snap: Snapshot) -> None:
        self._local.__dict__.setdefault("pins", []).append(snap)

    def pop(self) -> None:
        self._local.pins.pop()


class Core:
    """Versions, transactions, history, observers and reference resolution (the base of Dataset)."""

    def __init__(
        self,
        custom_fields: dict[str, list[pa.Field]],
        *,
        history_bytes: int,
        history_steps: int,
    ) -> None:
        self.custom_fields = custom_fields
        by_frame = ("sequence_id", "frame_index")
        by_entity = ("sequence_id", "entity_id")
        specs: dict[str, dict[str, tuple[str, ...]]] = {
            "sequences": {},
            "entities": {"by_sequence": ("sequence_id",), "by_name": ("sequence_id", "name")},
            "tracklets": {"by_entity": by_entity},
            **{name: {"by_frame": by_frame, "by_entity": by_entity} for name in ANNOTATIONS},
        }
        self._specs = specs
        stores: dict[str, Any] = {
            name: TableVersion.empty(self.schema(name), sch.KEYS[name], spec) for name, spec in specs.items()
        }
        stores["frames"] = MapVersion()
        stores["sources"] = MapVersion()
        self._state = Snapshot(stores, 0)
        self._wlock = threading.RLock()
        self._local = threading.local()
        self._history = History(history_bytes, history_steps)
        self._group_ids: dict[Any, int] = {}
        self._observers: list[Callable[[Change], None]] = []
        # Entity ids removed in this process (by an edit or an undo): a new entity never gets one, so a
        # run that started before a removal cannot mistake a newcomer for the entity it was tracking.
        self._retired_entities: set[str] = set()
        self._sink: Sink | None = None
        self._refuse: str | None = None  # why edits are refused (a read-only snapshot), if they are
        self._tracklets = TrackletKeeper(self._view, self._put)

    def schema(self, table: str) -> pa.Schema:
        """The Arrow schema of a table, custom fields included."""
        if table not in sch.TABLES:
            raise ValidationError(f"unknown table {table!r}; tables are {', '.join(sch.TABLES)}")
        return sch.table_schema(table, self.custom_fields.get(table))

    # ------------------------------------------------------------------ versions
    def _view(self) -> Snapshot:
        d = self._local.__dict__
        draft = d.get("draft")
        if draft is not None:
            return draft
        pins = d.get("pins")
        return pins[-1] if pins else self._state

    @property
    def _tables(self) -> Snapshot:
        """The tables of the version this thread reads (its own draft inside a transaction)."""
        return self._view()

    def snapshot(self) -> Snapshot:
        """A consistent read-only view of the current version.

        ``with ds.snapshot() as snap:`` also makes every read of ``ds`` in this thread answer from
        that version until the block ends (an export stays consistent while a propagation writes).
        """
        # inside a pinned block: that version; inside a transaction: the draft so far
        return self._view().frozen(pin=_Pins(self._local))

    @property
    def version(self) -> int:
        """The serial number of the current version (one more per published edit, undo or redo)."""
        return self._state.number

    def load_tables(
        self, tables: Mapping[str, pa.Table], frames: Mapping[str, FrameInfo], *, validated: bool = False
    ) -> None:
        """Replace every table at once (an import or a reopen), as one new version with no undo step.

        The tables are checked as every loader checks them (validation.py) unless the caller just
        did (``validated=True``); a refusal leaves the dataset as it was.
        """
        if not validated:
            from .validation import validate_tables

            rows = [
                (seq, i, float(t), u)
                for seq, info in frames.items()
                for i, (t, u) in enumerate(zip(info.timestamps, info.uris))
            ]
            cols: list[Any] = list(zip(*rows)) if rows else [[], [], [], []]
            frame_table = pa.Table.from_arrays([pa.array(c) for c in cols], schema=self.schema("frames"))
            validate_tables({**tables, "frames": frame_table}, source="load_tables")
        with self._wlock:
            stores: dict[str, Any] = {}
            for name, table in tables.items():
                stores[name] = TableVersion.from_table(
                    self.schema(name), sch.KEYS[name], self._specs[name], table
                )
            fv = MapVersion()
            for seq, info in frames.items():
                fv, _, _ = fv.put((seq,), info)
            stores["frames"] = fv
            stores["sources"] = MapVersion()
            self._state = self._state.replaced(stores)

    # ------------------------------------------------------------------ transactions
    def _check_writable(self) -> None:
        if self._refuse is not None:
            raise ValidationError(self._refuse)

    @contextmanager
    def transaction(self, label: str = "edit") -> Iterator[None]:
        """Group edits into one undo step and one change event; all or nothing.

        Nested transactions join the outermost one.
        """
        loc = self._local
        if loc.__dict__.get("draft") is not None:
            yield
            return
        with self._wlock:
            self._check_writable()
            draft = Draft(self._state)
            loc.draft = draft
            try:
                yield
            finally:
                loc.draft = None
            self._commit(draft, label)

    def _put(self, store: str, key: Key, row: Any) -> Any:
        draft = self._local.__dict__.get("draft")
        if draft is None:
            raise RuntimeError("internal: an edit outside a transaction")
        if store == "entities" and row is None:  # at once: an add later in this transaction skips it
            self._retired_entities.add(key[0])
        return draft.put(store, key, row)

    def _commit(self, draft: Draft, label: str) -> None:
        ops = collapse(draft.ops)
        if not ops:
            return
        owner = threading.get_ident()
        group = self._group_ids.get(owner)
        quiet = bool(self._local.__dict__.get("quiet"))
        if self._sink is not None:  # durable first: a journal failure publishes nothing
            extra: dict[str, Any] = {"quiet": True} if quiet else {}
            if group is not None and not quiet:
                extra = {"group": group, "group_label": self._history.groups[owner].label}
            self._local.ticket = self._sink.record("edit", label, ops, extra, wait=group is None)
        if not quiet:
            self._history.committed(label, ops, owner)
        self._state = draft.publish()
        self._notify(label, "edit", ops)

    @contextmanager
    def quietly(self) -> Iterator[None]:
        """Edits committed in this block are kept (and journaled) but are no undo step: bookkeeping
        such as giving a reopened sequence its frames back."""
        loc = self._local
        was = loc.__dict__.get("quiet", False)
        loc.quiet = True
        try:
            yield
        finally:
            loc.quiet = was

    @property
    def grouping(self) -> bool:
        """Whether some thread has an undo group open now: long work (a propagation) is writing frame
        by frame, so what reads the whole dataset after each edit may wait for it to end."""
        return bool(self._history.depth)

    @contextmanager
    def undo_group(self, label: str) -> Iterator[None]:
        """Make every edit this thread commits inside one undo step, while each still commits on its own.

        Long work such as propagation writes frame by frame, so observers see results land as they
        come, yet one undo takes the whole run back. The group belongs to the thread that opened
        it: edits from other threads (a cell while the widget propagates) stay steps of their own,
        and their owners can undo and redo them meanwhile. What was committed stays committed if
        the block stops early; the part done is one undo step. Nested groups join the outermost.
        """
        if self._local.__dict__.get("draft") is not None:
            raise ValidationError("undo_group: not allowed inside a transaction")
        owner = threading.get_ident()
        with self._wlock:
            if self._history.open_group(owner, label):
                self._group_ids[owner] = secrets.randbits(62)  # unique across sessions of one journal
        try:
            yield
        finally:
            with self._wlock:
                gid = self._group_ids.get(owner)
                closing = self._history.depth.get(owner) == 1
                step = self._history.close_group(owner)
                if closing:
                    self._group_ids.pop(owner, None)
                    if self._sink is not None and gid is not None:
                        self._sink.record(
                            "group_close", label, [], {"group": gid, "kept": step is not None}, wait=True
                        )

    # ------------------------------------------------------------------ undo / redo
    def undo(self, step: int | str | None = None) -> bool:
        """Undo the last step (or the one given by its label or its index in ``history()``);
        False when there is nothing to undo.

        Rows that a later step (of anyone) changed are left as they are; the Change's
        ``conflicts`` lists them and a warning says how many. So a cell's step can be taken back
        while a propagation's newer one stays: ``ds.undo("set mask 3")``.
        """
        return self._travel("undo", step)

    def redo(self, step: int | str | None = None) -> bool:
        """Redo the last undone step (or the one given by its label or its index in ``history.redo``)."""
        return self._travel("redo", step)

    def _pick(self, stack: list[Step], which: int | str | None, kind: str, redo_order: bool) -> int:
        """Position in ``stack`` of the step asked for (the top by default)."""
        if which is None:
            return len(stack) - 1
        if isinstance(which, str):
            for i in range(len(stack) - 1, -1, -1):
                if stack[i].label == which:
                    return i
            raise ValidationError(f"{kind}: no step labelled {which!r} in the history")
        if isinstance(which, bool) or not isinstance(which, int):
            raise ValidationError(f"{kind}: step must be a label, an index or None, got {which!r}")
        n = len(stack)
        i = which if which >= 0 else n + which
        if not 0 <= i < n:
            raise ValidationError(f"{kind}: step index {which} is out of range ({n} steps)")
        return n - 1 - i if redo_order else i

    def _travel(self, kind: str, which: int | str | None = None) -> bool:
        with self._wlock:
            if self._local.__dict__.get("draft") is not None:
                raise ValidationError(f"{kind}: not allowed inside a transaction")
            group = self._history.group_of(threading.get_ident())
            if group is not None:
                raise ValidationError(f"{kind}: not allowed while {group.label!r} is running")
            stack = self._history.undo if kind == "undo" else self._history.redo
            if not stack:
                if which is not None:
                    raise ValidationError(f"{kind}: nothing to {kind}")
                return False
            self._check_writable()
            pos = self._pick(stack, which, kind, redo_order=kind == "redo")
            step = stack[pos]
            draft = Draft(self._state)
            self._local.draft = draft
            try:
                skipped, plan = revert(draft, step, self._history, self._tracklets, kind)
            finally:
                self._local.draft = None
            applied = collapse(draft.ops)
            if self._sink is not None:  # durable first; the history changes only once it is
                extra = {"depth": len(stack) - 1 - pos, "kept": [[s, list(k)] for s, k in skipped]}
                self._local.ticket = self._sink.record(kind, step.label, applied, extra, wait=True)
            apply_rebase(plan)
            (self._history.undone if kind == "undo" else self._history.redone)(step, applied)
            self._state = draft.publish()
            self._notify(step.label, kind, applied, skipped)
        if skipped:
            warnings.warn(
                f"{kind} {step.label!r}: {len(skipped)} row(s) changed by a later edit were left as they are",
                RuntimeWarning,
                stacklevel=3,
            )
        return True

    @property
    def can_undo(self) -> bool:
        """Whether there is a step to undo."""
        return bool(self._history.undo)

    @property
    def can_redo(self) -> bool:
        """Whether there is a step to redo."""
        return bool(self._history.redo)

    @property
    def undo_label(self) -> str:
        """The label of the step ``undo()`` would take back ("" if none)."""
        u = self._history.undo
        return u[-1].label if u else ""

    @property
    def redo_label(self) -> str:
        """The label of the step ``redo()`` would bring back ("" if none)."""
        r = self._history.redo
        return r[-1].label if r else ""

    @property
    def history(self) -> HistoryView:
        """The undo history: ``ds.history()`` lists the undo steps' labels, oldest first; ``.redo``,
        ``.nbytes``, ``.dropped`` (steps the bounds dropped) and ``.running`` (groups open) say more."""
        with self._wlock:
            return self._history.view()

    def clear_history(self) -> None:
        """Forget undo/redo (after an import, say: loading is not an undoable user action)."""
        with self._wlock:
            self._history.clear()
            if self._sink is not None:
                self._sink.record("clear_history", "", [], {}, wait=True)

    # ------------------------------------------------------------------ a project's journal
    def attach_sink(self, sink: Sink | None) -> None:
        """Send every commit to ``sink`` from now on (a project's journal), or stop with None."""
        with self._wlock:
            self._sink = sink

    def refuse_edits(self, reason: str | None) -> None:
        """Refuse every edit with ``reason`` (a read-only snapshot, a closed project); None allows them."""
        with self._wlock:
            self._refuse = reason

    def capture(self) -> Captured:
        """The current version with the history that goes with it and the journal number it is at,
        all taken at one instant (a checkpoint writes them while edits go on)."""
        with self._wlock:
            h = self._history
            groups = [
                (gid, h.groups[owner].label, list(h.groups[owner].ops))
                for owner, gid in self._group_ids.items()
                if owner in h.groups
            ]
            groups += [
                (owner[1], g.label, list(g.ops))
                for owner, g in h.groups.items()
                if isinstance(owner, tuple) and owner[:1] == ("replay",)
            ]
            return Captured(
                self._state.frozen(pin=_Pins(self._local)),
                list(h.undo),
                list(h.redo),
                groups,
                self._sink.last() if self._sink is not None else 0,
                sorted(self._retired_entities),
            )

    def restore_history(
        self,
        undo: list[Step],
        redo: list[Step],
        groups: list[tuple[int, str, list[Op]]],
        retired: Iterable[str] = (),
    ) -> None:
        """Put back the undo and redo steps a checkpoint kept, the runs that were going on and the entity
        ids that are not to be given again (a reopen)."""
        with self._wlock:
            self._retired_entities.update(retired)
            h = self._history
            h.undo[:] = undo
            h.redo[:] = redo
            for gid, label, ops in groups:
                owner = ("replay", gid)
                h.groups[owner] = Step.of(label, ops, owner)
                h.depth[owner] = 1
            h.nbytes = sum(s.nbytes for s in (*undo, *redo, *h.groups.values()))
            h.trim()

    def replay(self, kind: str, label: str, ops: list[Op], extra: Mapping[str, Any]) -> None:
        """Apply one journal record again (a reopen): its rows, and what it did to the history.

        Group edits are gathered by their group number; a group the journal never saw closed (the
        kernel died during a run) becomes one step when ``finish_replay`` is called.
        """
        with self._wlock:
            if ops:
                draft = Draft(self._state)
                for store, key, _before, after in ops:
                    draft.put(store, key, after)
                    if store == "entities" and after is None:
                        self._retired_entities.add(key[0])
                self._state = draft.publish()
            h = self._history
            if kind == "edit" and extra.get("quiet"):
                return
            if kind == "edit":
                gid = extra.get("group")
                owner = ("replay", gid) if gid is not None else None
                if owner is not None and owner not in h.groups:
                    h.open_group(owner, str(extra.get("group_label", label)))
                h.committed(label, list(ops), owner)
            elif kind == "group_close":
                owner = ("replay", extra.get("group"))
                if owner in h.groups:
                    if extra.get("cut_off"):
                        h.groups[owner].label += " (cut off)"
                    h.depth[owner] = 1
                    h.close_group(owner)
            elif kind in ("undo", "redo"):
                stack = h.undo if kind == "undo" else h.redo
                depth = int(extra.get("depth", 0))
                if 0 <= depth < len(stack):
                    step = stack[-1 - depth]
                    kept = {(str(s), tuple(k)) for s, k in extra.get("kept", [])}
                    kept_ops = collapse([op for op in step.ops if (op[0], op[1]) in kept])
                    apply_rebase(rebase_plan(h, step, kept_ops))
                    (h.undone if kind == "undo" else h.redone)(step, list(ops))
            elif kind == "clear_history":
                h.clear()

    def finish_replay(self) -> list[int]:
        """End a reopen's replay: runs the journal never saw closed (the kernel died during them)
        become steps, marked cut off. Returns their group numbers (the project journals their end)."""
        with self._wlock:
            h = self._history
            cut = [o for o in h.groups if isinstance(o, tuple) and o[:1] == ("replay",)]
            for owner in cut:
                h.groups[owner].label += " (cut off)"
                h.depth[owner] = 1
                h.close_group(owner)
            return [int(o[1]) for o in cut]

    # ------------------------------------------------------------------ durability
    def commit_ticket(self) -> int:
        """The journal number of this thread's last commit (0 for an in-memory dataset)."""
        return int(self._local.__dict__.get("ticket", 0))

    def is_durable(self, ticket: int) -> bool:
        """Whether the commit with journal number ``ticket`` is on disk (always, in memory)."""
        return self._sink is None or self._sink.durable() >= ticket

    def wait_durable(self, ticket: int | None = None) -> None:
        """Block until the journal holds everything committed so far (or up to ``ticket``)."""
        if self._sink is not None:
            self._sink.wait(ticket)

    # ------------------------------------------------------------------ observers
    def observe(self, callback: Callable[[Change], None]) -> Callable[[], None]:
        """Call ``callback(change)`` after every edit, undo and redo. Returns an unsubscribe function."""
        self._observers.append(callback)

        def unobserve() -> None:
            if callback in self._observers:
                self._observers.remove(callback)

        return unobserve

    def _notify(self, label: str, kind: str, ops: list[Op], conflicts: list[tuple[str, Key]] = ()) -> None:  # type: ignore[assignment]
        change = Change(label, kind, conflicts=list(conflicts))
        for store, key, old, new in ops:
            change.tables.add(store)
            if store == "entities" and new is None:
                self._retired_entities.add(key[0])
            row = new if new is not None else old
            if store in ANNOTATIONS:
                change.sequences.add(key[0])
                change.frames.setdefault(key[0], set()).add(key[1])
                change.entities.setdefault(key[0], set()).add(key[2])
            elif store in ("sequences", "frames", "sources"):
                change.sequences.add(key[0])
            elif isinstance(row, dict) and "sequence_id" in row:
                change.sequences.add(row["sequence_id"])
                if store == "tracklets":
                    change.entities.setdefault(row["sequence_id"], set()).add(row["entity_id"])
        for cb in list(self._observers):
            try:
                cb(change)
            except Exception as exc:  # an observer must never break an edit
                warnings.warn(f"vidlabel observer {cb!r} failed: {exc!r}", RuntimeWarning, stacklevel=2)
