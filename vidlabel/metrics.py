"""DAVIS 2017 semi-supervised evaluation: region similarity J, boundary F and their statistics.

The numbers equal those of the official evaluator (github.com/davisvideochallenge/davis2017-evaluation:
``davis2017/metrics.py`` db_eval_iou / f_measure / _seg2bmap, ``davis2017/utils.py`` db_statistics and
``davis2017/evaluation.py`` DAVISEvaluation with task="semi-supervised") on the same masks. This module is
an independent implementation of those definitions:

* J = |P & G & ~V| / |(P | G) & ~V|, and 1 when that union is empty.
* F: boundary maps of P & ~V and G & ~V by the seg2bmap rule (a pixel is boundary when it differs from its
  east, south or south-east neighbour; on the last row only east counts, on the last column only south,
  the bottom-right pixel never is), each dilated by the skimage ``disk`` of radius
  ceil(bound_th * frame diagonal) (bound_th >= 1 is a radius in pixels). P = matched predicted boundary /
  predicted boundary, R = matched true boundary / true boundary; no predicted boundary gives P=1, R=0, no
  true boundary P=0, R=1, neither P=R=1; F = 2PR / (P + R), 0 when P + R = 0.
* Per object: Mean = nanmean, Recall = fraction of frames with x > 0.5 (a nan frame counts as a miss),
  Decay = mean of the first minus mean of the last of four overlapping quarters
  x[ids[i]:ids[i+1]+1], ids = round(linspace(1, n, 5) + 1e-10) - 1. The official code casts ids to uint8,
  which wraps: its Decay is wrong (usually nan) past 256 evaluated frames, and at exactly 256 under
  NumPy 2 (uint8 255 + 1 wraps to 0). This module equals it for n <= 255 (256 with NumPy 1) and keeps the
  intended int indices beyond.
* Protocol: the objects of a sequence are ids 1..N, N the largest id in the first ground-truth frame
  (ids missing in between are still evaluated, ids > N appearing later are ignored); the first and last
  frames are not evaluated; a prediction id above N on an evaluated frame is an error, an id it never
  uses is an empty mask. Global means are over all objects of all sequences; J&F = (J-Mean + F-Mean) / 2.

Void (the 255 label): the official semi-supervised evaluator does not exclude void pixels at all. It
passes ``None`` as the void map to the metrics (its void stack still holds the first and last frames, so
it would not line up with the evaluated frames anyway); void pixels only stop being ground-truth object
pixels, so predicted pixels there count as false positives. That is the default here (``use_void=False``);
``use_void=True`` instead excludes the void of frame t from frame t (the per-metric definition above).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import numpy.typing as npt

from vidlabel.errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from matplotlib.figure import Figure

__all__ = ["SUMMARY_KEYS", "Evaluation", "evaluate", "evaluate_arrays", "f_measure", "jaccard", "statistics"]

SUMMARY_KEYS = ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")
VOID_ID = 255  # DAVIS PNG label for void pixels
BOUND_TH = 0.008  # the official evaluator's boundary tolerance (fraction of the diagonal)


# ----------------------------------------------------------------------------------------------- per frame
def _as_masks(
    pred: npt.ArrayLike, gt: npt.ArrayLike, void: npt.ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    p, g = np.asarray(pred), np.asarray(gt)
    if p.shape != g.shape:
        raise ValidationError(f"pred shape {p.shape} does not match gt shape {g.shape}")
    if g.ndim not in (2, 3):
        raise ValidationError(f"masks must be HxW or TxHxW, got shape {g.shape}")
    v = None
    if void is not None:
        v = np.asarray(void)
        if v.shape != g.shape:
            raise ValidationError(f"void shape {v.shape} does not match gt shape {g.shape}")
        v = v.astype(bool)
    return p.astype(bool), g.astype(bool), v


def jaccard(pred: npt.ArrayLike, gt: npt.ArrayLike, void: npt.ArrayLike | None = None) -> float | np.ndarray:
    """Region similarity of HxW masks (a float) or TxHxW stacks (one value per frame)."""
    p, g, v = _as_masks(pred, gt, void)
    valid: Any = True if v is None else ~v
    inter = np.count_nonzero(p & g & valid, axis=(-2, -1))
    union = np.count_nonzero((p | g) & valid, axis=(-2, -1))
    j = np.where(union == 0, 1.0, inter / np.maximum(union, 1))
    return float(j) if g.ndim == 2 else j.astype(np.float64)


def _boundary(mask: np.ndarray) -> np.ndarray:
    """seg2bmap of a bool mask, edges included exactly as the official code handles them."""
    b = np.zeros_like(mask)
    core = mask[:-1, :-1]
    b[:-1, :-1] = (core != mask[:-1, 1:]) | (core != mask[1:, :-1]) | (core != mask[1:, 1:])
    b[-1, :-1] = mask[-1, :-1] != mask[-1, 1:]  # last row: only the east neighbour is compared
    b[:-1, -1] = mask[:-1, -1] != mask[1:, -1]  # last column: only the south neighbour
    return b  # the bottom-right pixel stays False


@lru_cache(maxsize=16)
def _disk(radius: float) -> np.ndarray:
    # skimage.morphology.disk: offsets -r, -r+1, ... <= r (a half-integer grid of even size when r is not
    # an integer) and x^2 + y^2 <= r^2. cv2's MORPH_ELLIPSE is a different shape, so it is built here.
    off = np.arange(-radius, radius + 1)
    k = ((off[:, None] ** 2 + off[None, :] ** 2) <= radius**2).astype(np.uint8)
    k.setflags(write=False)
    return k


def _radius(bound_th: float, shape: tuple[int, ...]) -> float:
    if not bound_th >= 0:
        raise ValidationError(f"bound_th must be >= 0, got {bound_th}")
    if bound_th >= 1:
        return float(bound_th)
    h, w = shape[-2:]
    return float(math.ceil(bound_th * math.sqrt(h * h + w * w)))


def _f_frame(pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None, radius: float) -> float:
    if void is not None:
        pred, gt = pred & ~void, gt & ~void
    # Boundaries need the whole frame: the last row/column rule depends on where the frame ends.
    pb, gb = _boundary(pred), _boundary(gt)
    n_p, n_g = np.count_nonzero(pb), np.count_nonzero(gb)
    if n_p == 0 or n_g == 0:
        # (P, R) = (1, 0) or (0, 1) give F = 0; both empty give P = R = 1, F = 1.
        return 1.0 if n_p == n_g else 0.0
    # Only dilation values on boundary pixels are read and every boundary pixel lies in the joint bounding
    # box, so dilating inside that box gives identical counts; the margin of one kernel reach keeps the
    # dilated sets whole (cv2's default border adds nothing).
    kernel = _disk(radius)
    reach = kernel.shape[0] // 2
    both = pb | gb
    rows, cols = np.flatnonzero(both.any(axis=1)), np.flatnonzero(both.any(axis=0))
    y0, y1 = max(rows[0] - reach, 0), rows[-1] + reach + 1
    x0, x1 = max(cols[0] - reach, 0), cols[-1] + reach + 1
    pc = pb[y0:y1, x0:x1].astype(np.uint8)
    gc = gb[y0:y1, x0:x1].astype(np.uint8)
    g_dil = np.asarray(cv2.dilate(gc, kernel), dtype=np.uint8)
    p_dil = np.asarray(cv2.dilate(pc, kernel), dtype=np.uint8)
    precision = np.count_nonzero(pc & g_dil) / float(n_p)
    recall = np.count_nonzero(gc & p_dil) / float(n_g)
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def f_measure(
    pred: npt.ArrayLike, gt: npt.ArrayLike, void: npt.ArrayLike | None = None, bound_th: float = BOUND_TH
) -> float | np.ndarray:
    """Boundary F of HxW masks (a float) or TxHxW stacks (one value per frame)."""
    p, g, v = _as_masks(pred, gt, void)
    radius = _radius(bound_th, g.shape)
    if g.ndim == 2:
        return _f_frame(p, g, v, radius)
    return np.array([_f_frame(p[t], g[t], None if v is None else v[t], radius) for t in range(len(g))])


def statistics(per_frame: npt.ArrayLike) -> tuple[float, float, float]:
    """(Mean, Recall, Decay) of one object's per-frame values; all nan for an empty series."""
    x = np.asarray(per_frame, dtype=np.float64)
    if x.ndim != 1:
        raise ValidationError(f"per_frame must be 1-D, got shape {x.shape}")
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan
    # +1e-10 turns numpy's round-half-to-even into round-half-up; int64, not the official uint8.
    ids = (np.round(np.linspace(1, n, 5) + 1e-10) - 1).astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nan slices give nan, as officially
        mean = np.nanmean(x)
        recall = np.mean(x > 0.5)  # nan > 0.5 is False: a nan frame is a miss, not skipped
        decay = np.nanmean(x[ids[0] : ids[1] + 1]) - np.nanmean(x[ids[3] : ids[4] + 1])
    return float(mean), float(recall), float(decay)


# ---------------------------------------------------------------------------------------------- protocol
@dataclass
class Evaluation:
    """Results as the official CSVs: ``summary`` (global) and ``per_object`` (per-sequence CSV)."""

    summary: dict[str, float]
    per_object: dict[str, tuple[float, float]]  # "<sequence>_<id>" -> (J-Mean, F-Mean)
    per_frame: dict[str, dict[str, np.ndarray]]  # "<sequence>_<id>" -> {"J": ..., "F": ...}, evaluated frames
    # evaluate only: "<sequence>_<id>" -> (ground-truth entity name, prediction entity name), None for none
    matches: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    # "<sequence>_<id>" -> the frame index of each value of per_frame[key]["J"] and ["F"]
    frames: dict[str, np.ndarray] = field(default_factory=dict)
    # "<sequence>_<id>" -> (sequence name, object id): the key split without guessing at underscores
    objects: dict[str, tuple[str, int]] = field(default_factory=dict)

    def to_pandas(self) -> pd.DataFrame:
        """Per-object table with the official per-sequence CSV columns."""
        import pandas as pd

        rows = [(key, j, f) for key, (j, f) in self.per_object.items()]
        return pd.DataFrame(rows, columns=["Sequence", "J-Mean", "F-Mean"])

    def per_frame_table(self) -> pa.Table:
        """J and F per evaluated frame and object: a pyarrow Table with columns ``sequence``, ``object``
        (the DAVIS id), ``key`` ("<sequence>_<id>", as in ``per_frame``), ``frame_index``, ``J``, ``F``."""
        import pyarrow as pa

        cols: dict[str, list[Any]] = {c: [] for c in ("sequence", "object", "key", "frame_index", "J", "F")}
        for key, values in self.per_frame.items():
            seq, obj = self.objects.get(key, (key, 0))
            frames = self.frames.get(key, np.arange(1, len(values["J"]) + 1))
            cols["sequence"] += [seq] * len(frames)
            cols["object"] += [obj] * len(frames)
            cols["key"] += [key] * len(frames)
            cols["frame_index"] += [int(f) for f in frames]
            cols["J"] += [float(x) for x in values["J"]]
            cols["F"] += [float(x) for x in values["F"]]
        schema = pa.schema(
            [
                pa.field("sequence", pa.string()),
                pa.field("object", pa.int32()),
                pa.field("key", pa.string()),
                pa.field("frame_index", pa.int32()),
                pa.field("J", pa.float64()),
                pa.field("F", pa.float64()),
            ]
        )
        return pa.Table.from_pydict(cols, schema=schema)

    def plot(self, **options: Any) -> Figure:
        """J (solid) and F (dashed) over the evaluated frames, one line per object, one panel per
        sequence, dips marked; a matplotlib Figure. Options: see ``vidlabel.plots.plot_evaluation``."""
        from .plots import plot_evaluation

        return plot_evaluation(self, **options)


# frame index -> (gt mask per object 1..N, pred mask per object or None when empty, void map)
_FrameFn = Callable[[int], tuple[Sequence[np.ndarray], Sequence[np.ndarray | None], np.ndarray]]


@dataclass
class _SeqInput:
    name: str
    num_frames: int
    num_objects: int
    frame: _FrameFn
    matches: dict[int, tuple[str | None, str | None]] = field(default_factory=dict)  # id -> (gt, pred)


def _evaluate_core(seqs: Iterable[_SeqInput], use_void: bool) -> Evaluation:
    """The one protocol loop behind evaluate_arrays and evaluate; reads one frame at a time."""
    per_object: dict[str, tuple[float, float]] = {}
    per_frame: dict[str, dict[str, np.ndarray]] = {}
    matches: dict[str, tuple[str | None, str | None]] = {}
    frame_ids: dict[str, np.ndarray] = {}
    objects: dict[str, tuple[str, int]] = {}
    columns: dict[str, list[float]] = {k: [] for k in SUMMARY_KEYS[1:]}  # one value per object
    for s in seqs:
        frames = range(1, s.num_frames - 1)  # first (given) and last frames are not evaluated
        js = np.zeros((s.num_objects, len(frames)))
        fs = np.zeros((s.num_objects, len(frames)))
        for i, t in enumerate(frames):
            gts, preds, void = s.frame(t)
            v = void if use_void else None
            radius = _radius(BOUND_TH, void.shape)
            empty = np.zeros(void.shape, dtype=bool)
            for k in range(s.num_objects):
                pk = preds[k]
                p = empty if pk is None else pk
                js[k, i] = jaccard(p, gts[k], v)
                fs[k, i] = _f_frame(p, gts[k], v, radius)
        for k in range(s.num_objects):
            key = f"{s.name}_{k + 1}"
            if key in per_object:
                raise ValidationError(f"object key {key!r} occurs twice; rename a sequence")
            for m, values in (("J", statistics(js[k])), ("F", statistics(fs[k]))):
                for label, x in zip(("Mean", "Recall", "Decay"), values):
                    columns[f"{m}-{label}"].append(x)
            per_object[key] = (columns["J-Mean"][-1], columns["F-Mean"][-1])
            per_frame[key] = {"J": js[k], "F": fs[k]}
            frame_ids[key] = np.asarray(frames, dtype=np.int64)
            objects[key] = (s.name, k + 1)
            if s.matches:
                matches[key] = s.matches.get(k + 1, (None, None))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no objects at all -> nan
        summary = {k: float(np.mean(v)) for k, v in columns.items()}
    summary = {"J&F-Mean": (summary["J-Mean"] + summary["F-Mean"]) / 2, **summary}
    return Evaluation(
        summary=summary,
        per_object=per_object,
        per_frame=per_frame,
        matches=matches,
        frames=frame_ids,
        objects=objects,
    )


def _check_index_map(a: np.ndarray, what: str) -> None:
    if a.ndim != 3:
        raise ValidationError(f"{what} must be a T x H x W index map, got shape {a.shape}")
    if not (np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_):
        raise ValidationError(f"{what} must hold integer object ids, got dtype {a.dtype}")
    if a.shape[0] < 3:
        raise ValidationError(f"{what} has {a.shape[0]} frames; at least 3 are needed")


def _array_seq(name: str, gt: np.ndarray, pred: np.ndarray, void: np.ndarray | None) -> _SeqInput:
    _check_index_map(gt, f"gt[{name!r}]")
    _check_index_map(pred, f"pred[{name!r}]")
    for what, a in (("pred", pred), ("void", void)):
        if a is not None and a.shape != gt.shape:
            raise ValidationError(f"sequence {name!r}: {what} shape {a.shape} != gt shape {gt.shape}")
    if gt.min() < 0:
        raise ValidationError(f"gt[{name!r}] has negative ids")

    def void_at(t: int) -> np.ndarray:
        v = gt[t] == VOID_ID  # a raw DAVIS PNG's 255 is void too
        return v if void is None else v | void[t].astype(bool)

    first = gt[0][~void_at(0)]
    n = int(first.max()) if first.size else 0
    evaluated = pred[1:-1]  # the official reader only loads the evaluated frames
    if evaluated.min() < 0:
        raise ValidationError(f"pred[{name!r}] has negative ids")
    if int(evaluated.max()) > n:
        raise ValidationError(
            f"sequence {name!r}: prediction uses object id {int(evaluated.max())}, "
            f"but the first ground-truth frame has only {n} objects"
        )

    def frame(t: int) -> tuple[list[np.ndarray], list[np.ndarray | None], np.ndarray]:
        v, g, p = void_at(t), gt[t], pred[t]
        return [(g == k) & ~v for k in range(1, n + 1)], [p == k for k in range(1, n + 1)], v

    return _SeqInput(name, gt.shape[0], n, frame)


def evaluate_arrays(
    gt: Mapping[str, np.ndarray],
    pred: Mapping[str, np.ndarray],
    void: Mapping[str, np.ndarray] | None = None,
    *,
    use_void: bool = False,
) -> Evaluation:
    """Semi-supervised DAVIS evaluation of T x H x W index maps (0 background, 1..N objects).

    ``void[seq]`` is a T x H x W bool map; gt pixels equal to 255 are void as well. Void pixels are never
    object pixels; they are excluded from the scores only with ``use_void=True`` (see the module doc).
    """
    void = {} if void is None else void
    unknown = [s for s in void if s not in gt]
    if unknown:
        raise ValidationError(f"void given for sequences not in gt: {unknown}")
    seqs = []
    for name in gt:  # validate everything before computing anything
        if name not in pred:
            raise ValidationError(f"no prediction for sequence {name!r}")
        v = None if void.get(name) is None else np.asarray(void[name])
        seqs.append(_array_seq(name, np.asarray(gt[name]), np.asarray(pred[name]), v))
    return _evaluate_core(seqs, use_void)


# ---------------------------------------------------------------------------------------------- datasets
def _by_name(ds: Any, what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for sid in ds.sequence_ids():
        name = ds.sequence(sid)["name"]
        if name in out:
            raise ValidationError(f"{what} dataset has two sequences named {name!r}")
        out[name] = sid
    return out


def _objects(ds: Any, sid: Any, seq: str, what: str) -> tuple[dict[str, Any], list[Any]]:
    """Non-void entities by name (in entity order) and the void entities of a sequence."""
    named: dict[str, Any] = {}
    voids: list[Any] = []
    for eid in ds.entity_ids(sid):
        ent = ds.entity(eid)
        if ent["void"]:
            voids.append(eid)
        elif ent["name"] in named:
            raise ValidationError(f"sequence {seq!r}: two {what} entities are named {ent['name']!r}")
        else:
            named[ent["name"]] = eid
    return named, voids


def _match(seq: str, gt_ids: Mapping[str, int], pred_names: Iterable[str]) -> dict[str, int]:
    """Prediction entity name -> the object id it is scored as (see evaluate); refuses guesses."""
    from vidlabel.io.davis import davis_id

    by_id = {k: name for name, k in gt_ids.items()}
    out: dict[str, int] = {}
    for name in pred_names:
        k = gt_ids.get(name, davis_id(name))
        if k is None:
            raise ValidationError(
                f"sequence {seq!r}: prediction entity {name!r} matches no ground-truth entity by name "
                f"and is not a DAVIS object id ('1'..'254')"
            )
        if name not in gt_ids and k in by_id:
            raise ValidationError(
                f"sequence {seq!r}: ambiguous match: prediction entity {name!r} is DAVIS id {k}, which "
                f"the ground truth gives to its entity {by_id[k]!r} (a name, not an id); name them alike"
            )
        out[name] = k
    return out


def _dataset_seq(gt_ds: Any, pred_ds: Any, name: str, gid: Any, pid: Any) -> _SeqInput:
    from vidlabel.io.davis import object_ids

    gs, ps = gt_ds.sequence(gid), pred_ds.sequence(pid)
    shape, num_frames = (int(gs["height"]), int(gs["width"])), int(gs["num_frames"])
    pred_geom = (int(ps["height"]), int(ps["width"]), int(ps["num_frames"]))
    if pred_geom != (*shape, num_frames):
        raise ValidationError(
            f"sequence {name!r}: prediction is {pred_geom} (height, width, frames), ground truth is "
            f"{(*shape, num_frames)}"
        )
    if num_frames < 3:
        raise ValidationError(f"sequence {name!r} has {num_frames} frames; at least 3 are needed")

    gt_named, void_ents = _objects(gt_ds, gid, name, "ground-truth")
    pred_named, _ = _objects(pred_ds, pid, name, "prediction")
    gt_ids = dict(zip(gt_named, object_ids(list(gt_named))))  # as the DAVIS export numbers them
    gt_objs = {k: gt_named[n] for n, k in gt_ids.items()}
    matched = _match(name, gt_ids, pred_named)
    pred_objs = {k: pred_named[n] for n, k in matched.items()}
    gt_of = {k: n for n, k in gt_ids.items()}
    pred_of = {k: n for n, k in matched.items()}

    def read(ds: Any, sid: Any, t: int, eid: Any) -> np.ndarray | None:
        m = None if eid is None else ds.mask(sid, t, eid)
        if m is None:
            return None
        m = np.asarray(m, dtype=bool)
        if m.shape != shape:
            raise ValidationError(f"sequence {name!r} frame {t}: mask shape {m.shape}, expected {shape}")
        return m

    def void_at(t: int) -> np.ndarray:
        v = np.zeros(shape, dtype=bool)
        for eid in void_ents:
            m = read(gt_ds, gid, t, eid)
            if m is not None:
                v |= m
        return v

    v0 = void_at(0)
    present = [
        k for k, eid in gt_objs.items() if (m := read(gt_ds, gid, 0, eid)) is not None and (m & ~v0).any()
    ]
    n = max(present, default=0)
    extra = {k: eid for k, eid in pred_objs.items() if k > n}

    def frame(t: int) -> tuple[list[np.ndarray], list[np.ndarray | None], np.ndarray]:
        v = void_at(t)
        gts = []
        for k in range(1, n + 1):
            m = read(gt_ds, gid, t, gt_objs.get(k))
            gts.append(np.zeros(shape, dtype=bool) if m is None else m & ~v)
        for k, eid in extra.items():  # unused extra ids are harmless, as in the official reader
            m = read(pred_ds, pid, t, eid)
            if m is not None and m.any():
                raise ValidationError(
                    f"sequence {name!r} frame {t}: prediction object {k} has a mask, but the first "
                    f"ground-truth frame has only {n} objects"
                )
        return gts, [read(pred_ds, pid, t, pred_objs.get(k)) for k in range(1, n + 1)], v

    matches = {k: (gt_of.get(k), pred_of.get(k)) for k in range(1, n + 1)}
    return _SeqInput(name, num_frames, n, frame, matches)


def evaluate(
    pred_ds: Any, gt_ds: Any, *, sequences: Iterable[str] | None = None, use_void: bool = False
) -> Evaluation:
    """Semi-supervised DAVIS evaluation of two datasets, matched by sequence name and object id.

    Objects and their DAVIS ids are those the DAVIS export writes: each non-void ground-truth entity is
    an object; one named by a DAVIS id ("1".."254") has that id, the others the smallest free ids in
    entity order (io.davis.object_ids); N is the largest id with pixels on the first frame. Matching:
    a prediction entity is the ground-truth entity of the same name (so by DAVIS id when both sides
    are named by ids, and "car" is "car"); a prediction named by an id k that no ground-truth entity is
    named by is object k, an empty ground truth when k <= N. Refused: a prediction name that is neither
    a ground-truth name nor an id, and an id the ground truth gives to a named entity (prediction "1"
    for ground truth "car": a guess from entity order). ``Evaluation.matches`` says who was matched
    to whom. Ground-truth entities with ``void`` mark void pixels. Each object is scored on its own
    mask, so overlapping prediction masks are allowed; for non-overlapping masks this is exactly the
    index-map protocol of :func:`evaluate_arrays`. A missing mask on a frame is empty.
    """
    gt_names, pred_names = _by_name(gt_ds, "ground-truth"), _by_name(pred_ds, "prediction")
    if sequences is None:
        names = list(gt_names)
    else:
        names = [sequences] if isinstance(sequences, str) else list(sequences)
    for name in names:
        if name not in gt_names:
            raise ValidationError(f"sequence {name!r} is not in the ground-truth dataset")
        if name not in pred_names:
            raise ValidationError(f"no prediction for sequence {name!r}")
    seqs = [_dataset_seq(gt_ds, pred_ds, n, gt_names[n], pred_names[n]) for n in names]
    return _evaluate_core(seqs, use_void)
