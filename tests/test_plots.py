"""``Evaluation.plot()``: J and F over time per object, dips marked; and the frames of per-frame values."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

import vidlabel as vl
from vidlabel.plots import dips

T, H, W = 30, 24, 32
DIP_AT = {1: [10], 2: [20, 21]}  # object -> frames where its prediction is wrong


def _arrays(name: str = "clip") -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    gt = np.zeros((T, H, W), np.uint8)
    gt[:, 2:10, 2:12] = 1
    gt[:, 14:22, 16:28] = 2
    pred = gt.copy()
    for obj, frames in DIP_AT.items():
        for t in frames:  # the object's mask goes somewhere else on that frame
            pred[t][pred[t] == obj] = 0
            pred[t, 0:2, 0:6] = obj
    return {name: gt}, {name: pred}


def _labelled_lines(fig: Figure) -> list[Line2D]:
    return [ln for ax in fig.axes for ln in ax.get_lines() if not str(ln.get_label()).startswith("_")]


def test_one_line_per_object_and_dips_where_they_were_made() -> None:
    gt, pred = _arrays()
    ev = vl.metrics.evaluate_arrays(gt, pred)
    fig = ev.plot()
    assert isinstance(fig, Figure)
    lines = _labelled_lines(fig)
    assert sorted(str(ln.get_label()) for ln in lines) == ["clip_1", "clip_2"]
    for ln in lines:  # x is the evaluated frames, 1 .. T-2
        assert list(ln.get_xdata()) == list(range(1, T - 1))
    f_lines = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(f_lines) == 2
    marks = [c for ax in fig.axes for c in ax.collections if isinstance(c, PathCollection)]
    marked = sorted(int(x) for c in marks for x, _ in c.get_offsets())
    assert marked == sorted(f for frames in DIP_AT.values() for f in frames)


def test_no_dips_on_a_clean_track() -> None:
    gt, _ = _arrays()
    fig = vl.metrics.evaluate_arrays(gt, gt).plot(show_f=False)
    assert not [c for ax in fig.axes for c in ax.collections]
    assert len(_labelled_lines(fig)) == 2
    assert not [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_linestyle() == "--"]


def test_one_panel_per_sequence_and_a_choice_of_them() -> None:
    a, pa_ = _arrays("a")
    b, pb = _arrays("b_2")  # an underscore in a name: the object keys still split right
    ev = vl.metrics.evaluate_arrays(a | b, pa_ | pb)
    assert len(ev.plot().axes) == 2
    only = ev.plot(sequences="b_2")
    assert [ax.get_title(loc="left") for ax in only.axes] == ["b_2"]
    with pytest.raises(vl.ValidationError, match="not in the evaluation"):
        ev.plot(sequences=["c"])


def test_per_frame_table_names_the_frames() -> None:
    gt, pred = _arrays()
    ev = vl.metrics.evaluate_arrays(gt, pred)
    table = ev.per_frame_table()
    assert table.column_names == ["sequence", "object", "key", "frame_index", "J", "F"]
    assert table.num_rows == 2 * (T - 2)
    rows = [r for r in table.to_pylist() if r["object"] == 1]
    assert [r["frame_index"] for r in rows] == list(range(1, T - 1))
    assert {r["sequence"] for r in rows} == {"clip"}
    assert np.allclose([r["J"] for r in rows], ev.per_frame["clip_1"]["J"])
    assert list(ev.frames["clip_2"]) == list(range(1, T - 1))
    low = [r["frame_index"] for r in rows if r["J"] < 0.5]
    assert low == DIP_AT[1]


def test_the_dataset_evaluation_plots_too() -> None:
    gt, pred = _arrays()
    dg, dp = vl.Dataset(), vl.Dataset()
    for ds, arr in ((dg, gt["clip"]), (dp, pred["clip"])):
        seq = ds.add_sequence("clip", num_frames=T, width=W, height=H)
        for obj in (1, 2):
            e = ds.add_entity(seq, name=str(obj))
            for t in range(T):
                if (arr[t] == obj).any():
                    ds.set_mask(seq, t, e, arr[t] == obj)
    ev = vl.metrics.evaluate(dp, dg)
    labels = sorted(str(ln.get_label()) for ln in _labelled_lines(ev.plot()))
    assert labels == ["clip_1 (1)", "clip_2 (2)"]


def test_dips_follow_the_running_level() -> None:
    j = np.full(40, 0.8)
    j[5] = 0.5  # one bad frame
    j[25:] = 0.3  # a lasting drop: marked where it starts, until the level follows it
    got = list(dips(j))
    assert got[0] == 5 and 25 in got and all(f < 30 for f in got)
    assert list(dips(np.full(10, 0.4))) == []
    with pytest.raises(vl.ValidationError):
        dips(np.zeros((2, 2)))
    with pytest.raises(vl.ValidationError):
        dips(j, threshold=0)
