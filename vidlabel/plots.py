"""Plots of evaluation results (matplotlib, imported only when a plot is drawn).

``plot_evaluation(ev)`` (``Evaluation.plot()``): J and F over time, one panel per sequence, one line
per object, and the dips marked: the frames where J falls well below the object's own running level,
which is where a track drifted or was lost and a person should look.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ValidationError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .metrics import Evaluation

__all__ = ["dips", "plot_evaluation"]

DIP = 0.15  # J this far below the running level is a dip
WINDOW = 9  # frames of the running level (the median of those before: one bad frame does not move it)


def dips(j: Any, *, threshold: float = DIP, window: int = WINDOW) -> np.ndarray:
    """Positions in ``j`` where J is at least ``threshold`` below its running level (the median of the
    ``window`` frames before it). A drop that lasts is marked where it starts, until the level follows."""
    x = np.asarray(j, dtype=np.float64)
    if x.ndim != 1:
        raise ValidationError(f"dips: J must be one value per frame, got shape {x.shape}")
    if not (isinstance(window, int) and window >= 1) or not np.isfinite(threshold) or threshold <= 0:
        raise ValidationError(f"dips: need window >= 1 and threshold > 0, got {window!r}, {threshold!r}")
    if len(x) == 0:
        return np.zeros(0, np.int64)
    padded = np.concatenate([np.full(window, x[0]), x[:-1]])  # frame t sees frames t - window .. t - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a window of nan frames has no level
        level = np.nanmedian(np.lib.stride_tricks.sliding_window_view(padded, window), axis=1)
    return np.flatnonzero(level - x >= threshold)


def plot_evaluation(
    ev: Evaluation,
    *,
    sequences: Iterable[str] | str | None = None,
    threshold: float = DIP,
    window: int = WINDOW,
    show_f: bool = True,
) -> Figure:
    """J (solid) and F (dashed, same colour) over the evaluated frames, one line per object (the
    J line carries the object's label; F lines are left out of the legend), one panel per sequence;
    dips of J (see ``dips``) marked with red triangles. ``sequences`` limits the panels."""
    try:
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - the [lab] and [test] extras have it
        raise ValidationError("Evaluation.plot needs matplotlib: pip install 'vidlabel[lab]'") from e

    by_seq: dict[str, list[str]] = {}
    for key in ev.per_frame:
        seq = ev.objects.get(key, (key.rsplit("_", 1)[0], 0))[0]
        by_seq.setdefault(seq, []).append(key)
    if sequences is not None:
        wanted = [sequences] if isinstance(sequences, str) else list(sequences)
        unknown = [s for s in wanted if s not in by_seq]
        if unknown:
            raise ValidationError(f"plot: sequence(s) {unknown} are not in the evaluation")
        by_seq = {s: by_seq[s] for s in wanted}
    if not by_seq:
        raise ValidationError("plot: the evaluation holds no objects")

    fig = Figure(figsize=(9, 2.6 * len(by_seq)), layout="constrained")
    axes = fig.subplots(len(by_seq), 1, squeeze=False)[:, 0]
    for ax, (seq, keys) in zip(axes, by_seq.items()):
        for key in keys:
            j, f = ev.per_frame[key]["J"], ev.per_frame[key]["F"]
            x = ev.frames.get(key, np.arange(1, len(j) + 1))
            name = ev.matches.get(key, (None, None))[0]
            label = key if name is None else f"{key} ({name})"
            (line,) = ax.plot(x, j, label=label, linewidth=1.5)
            if show_f:
                ax.plot(x, f, linestyle="--", linewidth=1.0, color=line.get_color(), label=f"_{key} F")
            at = dips(j, threshold=threshold, window=window)
            if len(at):
                ax.scatter(x[at], j[at], marker="v", color="red", s=30, zorder=3, label=f"_{key} dips")
        ax.set_title(seq, loc="left", fontsize="medium")
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("J (solid), F (dashed)" if show_f else "J")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left", fontsize="small")
    axes[-1].set_xlabel("frame")
    return fig
