"""The undo history: steps, undo groups that belong to whoever opened them, and bounds.

A step is the list of row changes ``(store, key, before, after)`` one user-level action made.
An undo group (a propagation run) belongs to its owner (the thread that opened it): edits the
owner commits while it is open join it, edits of anyone else are steps of their own. The
history is bounded by bytes and by steps; the oldest steps go first and ``dropped`` says how
many went. Only bookkeeping lives here: applying a step (with its conflict checks) is the
dataset's job, in ``Dataset.undo``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .versions import Op

DEFAULT_MAX_BYTES = 256 * 2**20
_LOADING = threading.Lock()
DEFAULT_MAX_STEPS = 10_000
_ROW_OVERHEAD = 160  # bytes a row dict costs beyond its payload, roughly


def op_bytes(op: Op) -> int:
    """What a row change holds in memory, roughly: its rows, their mask counts (the big part) counted."""
    n = 64
    for row in (op[2], op[3]):
        if row is not None:
            n += _ROW_OVERHEAD
            counts = row.get("counts") if isinstance(row, dict) else None
            if counts is not None:
                n += len(counts)
    return n


class Step:
    """One undo step: its label and row changes. Compared by identity.

    A step read back from a project's checkpoint decodes its rows only when first needed (``load``),
    so reopening a project with a long history costs what its labels cost.
    """

    __slots__ = ("_load", "_ops", "label", "nbytes", "owner", "rebased")

    def __init__(
        self,
        label: str,
        ops: list[Op] | None,
        owner: Any = None,
        nbytes: int = 0,
        *,
        load: Callable[[], list[Op]] | None = None,
    ) -> None:
        self.label = label
        self._ops = ops
        self._load = load
        self.owner = owner
        self.nbytes = nbytes
        self.rebased = False  # a selective undo of an earlier step changed where this one starts from

    @property
    def ops(self) -> list[Op]:
        if self._ops is None:
            with _LOADING:  # a checkpoint thread and an undo may ask at once: one list, loaded once
                if self._ops is None:
                    self._ops = self._load() if self._load is not None else []
                    self._load = None
        return self._ops

    @ops.setter
    def ops(self, value: list[Op]) -> None:
        self._ops = value
        self._load = None

    @classmethod
    def of(cls, label: str, ops: list[Op], owner: Any = None) -> Step:
        return cls(label, ops, owner, sum(op_bytes(op) for op in ops))

    def __repr__(self) -> str:
        return f"<Step {self.label!r}, {self.nbytes} bytes>"


@dataclass
class HistoryView:
    """What ``ds.history`` shows: the labels of the undo and redo steps, what the bounds dropped.

    Calling it, ``ds.history()``, gives the undo labels, oldest first.
    """

    undo: list[str]
    redo: list[str]
    nbytes: int
    max_bytes: int
    max_steps: int
    dropped: int = 0
    dropped_bytes: int = 0
    running: list[str] = field(default_factory=list)

    def __call__(self) -> list[str]:
        return list(self.undo)

    def __repr__(self) -> str:
        extra = (
            f", {self.dropped} oldest dropped ({self.dropped_bytes / 2**20:.1f} MiB)" if self.dropped else ""
        )
        return (
            f"<history: {len(self.undo)} undo, {len(self.redo)} redo steps, "
            f"{self.nbytes / 2**20:.1f} of {self.max_bytes / 2**20:.0f} MiB{extra}>"
        )


class History:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, max_steps: int = DEFAULT_MAX_STEPS) -> None:
        self.max_bytes = int(max_bytes)
        self.max_steps = int(max_steps)
        self.undo: list[Step] = []
        self.redo: list[Step] = []
        self.groups: dict[Any, Step] = {}  # owner -> the group it has open
        self.depth: dict[Any, int] = {}
        self.nbytes = 0
        self.dropped = 0
        self.dropped_bytes = 0
        self.on_drop: Callable[[Step], None] | None = None

    # ---- groups -------------------------------------------------------------------------
    def open_group(self, owner: Any, label: str) -> bool:
        """Open ``owner``'s group (True), or join the one it has open (False)."""
        self.depth[owner] = self.depth.get(owner, 0) + 1
        if owner in self.groups:
            return False
        self.groups[owner] = Step(label, [], owner)
        return True

    def close_group(self, owner: Any) -> Step | None:
        """Leave ``owner``'s group; the outermost close pushes it as one step (if it holds any)."""
        self.depth[owner] -= 1
        if self.depth[owner] > 0:
            return None
        del self.depth[owner]
        group = self.groups.pop(owner, None)
        if group is None or not group.ops:
            return None
        self.push(group, counted=True)
        return group

    def group_of(self, owner: Any) -> Step | None:
        return self.groups.get(owner)

    # ---- steps ----------------------------------------------------------------------------
    def committed(self, label: str, ops: list[Op], owner: Any) -> None:
        """An edit committed: it joins ``owner``'s open group or becomes a step."""
        group = self.groups.get(owner)
        if group is not None:
            group.ops.extend(ops)
            nb = sum(op_bytes(op) for op in ops)
            group.nbytes += nb
            self.nbytes += nb
            self.trim()
            return
        self.push(Step.of(label, ops, owner))

    def push(self, step: Step, *, counted: bool = False) -> None:
        if not counted:  # a group's bytes were counted as it grew
            self.nbytes += step.nbytes
        self.undo.append(step)
        for s in self.redo:
            self.nbytes -= s.nbytes
        self.redo.clear()
        self.trim()

    def undone(self, step: Step, applied: list[Op]) -> None:
        """``step`` (of the undo stack) was undone by ``applied``: redo re-applies those."""
        self.undo.remove(step)
        self._moved(step, self._after(step, applied), self.redo)

    def redone(self, step: Step, applied: list[Op]) -> None:
        self.redo.remove(step)
        self._moved(step, self._after(step, applied), self.undo)

    @staticmethod
    def _after(step: Step, applied: list[Op]) -> Step:
        new = Step.of(step.label, applied, step.owner)
        new.rebased = step.rebased
        return new

    def _moved(self, old: Step, new: Step, to: list[Step]) -> None:
        self.nbytes += new.nbytes - old.nbytes
        if new.ops:
            to.append(new)
        else:
            self.nbytes -= new.nbytes
        self.trim()

    def clear(self) -> None:
        self.undo.clear()
        self.redo.clear()
        self.nbytes = sum(g.nbytes for g in self.groups.values())

    def trim(self) -> None:
        """Drop the oldest steps (undo's bottom, then redo's bottom) while over a bound."""
        while self.undo or self.redo:
            over = self.nbytes > self.max_bytes or len(self.undo) + len(self.redo) > self.max_steps
            if not over:
                return
            stack = self.undo if self.undo else self.redo
            step = stack.pop(0)
            self.nbytes -= step.nbytes
            self.dropped += 1
            self.dropped_bytes += step.nbytes
            if self.on_drop is not None:
                self.on_drop(step)

    def view(self) -> HistoryView:
        return HistoryView(
            undo=[s.label for s in self.undo],
            redo=[s.label for s in reversed(self.redo)],
            nbytes=self.nbytes,
            max_bytes=self.max_bytes,
            max_steps=self.max_steps,
            dropped=self.dropped,
            dropped_bytes=self.dropped_bytes,
            running=[g.label for g in self.groups.values()],
        )
