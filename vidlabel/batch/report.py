"""What a batch job says about each sequence: pending, running, done, failed (with the error), skipped
(with the reason) or cancelled."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..errors import ValidationError

__all__ = ["STATUSES", "BatchReport", "SequenceReport"]

STATUSES = ("pending", "running", "done", "failed", "skipped", "cancelled")


@dataclass
class SequenceReport:
    sequence: str
    status: str = "pending"
    error: str | None = None  # failed: what went wrong; skipped: why
    details: str | None = None  # failed: the worker's traceback, when there is one
    attempts: int = 0  # times it was handed to a worker (more than one: a worker died under it)
    worker: int | None = None  # pid of the worker it ran on (last)
    frames: int = 0  # frames propagated (once written)
    # frames counted on job.progress: while it runs (or waits for a retry) the frames computed so far,
    # the most any attempt reached; once done its frames; 0 if it failed or was cancelled
    computed: int = 0
    written: int = 0  # masks written (or erased)
    kept: int = 0  # results not written over a keyframe
    dropped: list[str] = field(default_factory=list)  # entities removed while it ran
    found: list[str] = field(default_factory=list)  # entities made for what text prompts found
    seconds: float = 0.0  # the worker's time on it


@dataclass
class BatchReport:
    """A job's state, per sequence; ``report.done`` / ``failed`` / ``skipped`` list sequence ids."""

    source: str
    sequences: dict[str, SequenceReport]
    finished: bool = False

    def _with(self, status: str) -> list[str]:
        return [s for s, r in self.sequences.items() if r.status == status]

    @property
    def done(self) -> list[str]:
        return self._with("done")

    @property
    def failed(self) -> list[str]:
        return self._with("failed")

    @property
    def skipped(self) -> list[str]:
        return self._with("skipped")

    @property
    def cancelled(self) -> list[str]:
        return self._with("cancelled")

    def counts(self) -> dict[str, int]:
        return {s: n for s in STATUSES if (n := len(self._with(s)))}

    def copy(self) -> BatchReport:
        return BatchReport(
            self.source,
            {k: replace(r, dropped=list(r.dropped), found=list(r.found)) for k, r in self.sequences.items()},
            self.finished,
        )

    def __getitem__(self, sequence: str) -> SequenceReport:
        if sequence in self.sequences:
            return self.sequences[sequence]
        shown = ", ".join(list(self.sequences)[:10]) + (", ..." if len(self.sequences) > 10 else "")
        raise ValidationError(
            f"batch report: no sequence {sequence!r} in this job (it has {shown or 'none'})"
        )

    def __repr__(self) -> str:
        lines = [f"BatchReport({self.source!r}: {', '.join(f'{n} {s}' for s, n in self.counts().items())})"]
        for seq, r in self.sequences.items():
            if r.status == "done":
                what = (
                    f"{_n(r.frames, 'frame')}, {_n(r.written, 'mask')} written, {_n(r.kept, 'keyframe')} kept"
                )
            elif r.status in ("failed", "skipped"):
                what = r.error or ""
            elif r.computed:
                what = f"{r.computed} frames computed"
            else:
                what = ""
            tries = f" ({r.attempts} attempts)" if r.attempts > 1 else ""
            lines.append(f"  {seq}: {r.status}{tries}{': ' + what if what else ''}")
        return "\n".join(lines)


def _n(count: int, thing: str) -> str:
    return f"{count} {thing}" if count == 1 else f"{count} {thing}s"
