"""The SAM2 engine: the ``sam2`` package's video predictor, fed lazily from the dataset, in flat memory.

How this differs from calling ``SAM2VideoPredictor`` on a folder of JPEGs, and why:

* **Frames are read on demand** from the dataset's frame source, resized and normalised the
  way SAM2's own loader does (PIL's default resize to S x S, /255, ImageNet mean and std), so
  masks are bit-identical; the package's loaders write or decode every frame up front (a
  float tensor of 12 MiB per frame at S=1024), and its async loader keeps them all. The next
  frame is prepared on a worker thread while the model runs on the current one.
* **Memory stays flat.** SAM2 keeps every tracked frame's outputs (memory features, masks,
  object pointers) forever, though tracking a frame reads only the conditioning frames, the
  previous ``num_maskmem - 1`` frames and object pointers from the previous
  ``max_obj_ptrs_in_encoder - 1``. After each frame we drop non-conditioning outputs farther
  than that window from the pass head, the pass start (so a ``"both"`` run turns around with
  what it needs) and every conditioning frame. Results are bit-identical to the predictor's.
* **Corrections carry.** ``add_all_frames_to_correct_as_cond`` is switched on, so a prompt on a
  tracked frame becomes a conditioning frame. With SAM2's default a correction is stored as an
  ordinary frame, and the next propagation through that frame recomputes it without the
  clicks and loses it (sam2 issues #546, #154). A correction on a frame whose outputs were
  dropped first re-tracks the ``num_maskmem`` frames leading to it, so the correction sees
  recent memory and the mask SAM2 had there, as it would with everything kept.
* **Entities can be added at any time** (SAM2 1.1.0 tracks objects independently), and a
  propagation limited to some entities runs the model for those only, through a view of the
  inference state that shares their per-object entries.

Scores are ``sigmoid(object_score_logits)``: SAM2's estimate that the object is visible.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import threading
from collections import OrderedDict
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ..errors import ValidationError
from .base import Engine, Pass, Prompt, Result, Session
from .joins import run_pass
from .sam2_model import build_model, hf_checkpoint, load_checkpoint, pick_device

if TYPE_CHECKING:
    import torch

    from ..dataset import Dataset

_IMG_MEAN = (0.485, 0.456, 0.406)
_IMG_STD = (0.229, 0.224, 0.225)
_LOADER_LOCK = threading.Lock()


class LazyFrames:
    """SAM2's ``images``: ``len()`` and ``[i]`` give S x S normalised float tensors, made on demand.

    Frame ``i`` is computed exactly as SAM2's JPEG loader does it (bit-identical). A worker thread
    prepares the next frame in the direction of travel while the model runs; at most two frames
    are held at any time.
    """

    def __init__(self, ds: Dataset, seq: str, image_size: int) -> None:
        import torch

        self._ds, self._seq, self._size = ds, seq, image_size
        self._n = ds.num_frames(seq)
        self._mean = torch.tensor(_IMG_MEAN, dtype=torch.float32)[:, None, None]
        self._std = torch.tensor(_IMG_STD, dtype=torch.float32)[:, None, None]
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vidlabel-sam2-frames")
        self._ahead: dict[int, Future[torch.Tensor]] = {}
        self._last: int | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._n

    def _load(self, i: int) -> torch.Tensor:
        import torch

        # One pass over a long video must not fill the decode cache (and push out what is on screen).
        rgb = self._ds.frame(self._seq, i, cache=False)
        resized = np.array(Image.fromarray(rgb).resize((self._size, self._size)))
        img = torch.from_numpy(resized / 255.0).permute(2, 0, 1).to(torch.float32)
        img -= self._mean
        img /= self._std
        return img

    def __getitem__(self, i: int) -> torch.Tensor:
        i = int(i)
        if not 0 <= i < self._n:
            raise IndexError(i)
        with self._lock:
            future = self._ahead.pop(i, None)
            step = 0 if self._last is None else i - self._last
            self._last = i
            self._ahead = {k: f for k, f in self._ahead.items() if abs(k - i) <= 1}
            nxt = i + (1 if step >= 0 else -1)
            if step in (-1, 1) and 0 <= nxt < self._n and nxt not in self._ahead:
                self._ahead[nxt] = self._pool.submit(self._load, nxt)
        return future.result() if future is not None else self._load(i)

    def close(self) -> None:
        with self._lock:
            self._ahead.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)


_QUIET = threading.local()


def _install_quiet_tqdm() -> None:
    """Silence the predictor's own per-pass tqdm bar for our calls only (sessions show their own)."""
    import sam2.sam2_video_predictor as svp

    if getattr(svp.tqdm, "_vidlabel_quiet", False):
        return
    original = svp.tqdm

    def tqdm(iterable: Any = None, *args: Any, **kwargs: Any) -> Any:
        if getattr(_QUIET, "on", False):
            return iterable
        return original(iterable, *args, **kwargs)

    tqdm._vidlabel_quiet = True  # type: ignore[attr-defined]
    svp.tqdm = tqdm


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    before = getattr(_QUIET, "on", False)
    _QUIET.on = True
    try:
        yield
    finally:
        _QUIET.on = before


@contextlib.contextmanager
def _lazy_loader(frames: LazyFrames, height: int, width: int) -> Iterator[object]:
    """Let ``init_state`` run as written, with our frames instead of its eager loaders."""
    import sam2.sam2_video_predictor as svp

    token = object()
    original = svp.load_video_frames

    def load_video_frames(video_path: Any, **kwargs: Any) -> Any:
        if video_path is token:
            return frames, height, width
        return original(video_path=video_path, **kwargs)

    with _LOADER_LOCK:
        svp.load_video_frames = load_video_frames
        try:
            yield token
        finally:
            svp.load_video_frames = original


class SAM2Engine(Engine):
    """SAM2 video segmentation in the kernel. See ``vl.segment.load("sam2", ...)``.

    Give ``model`` (a Hugging Face id such as ``"facebook/sam2.1-hiera-tiny"``), or ``checkpoint``
    (a local ``.pt``) with ``config`` (a config of the sam2 package such as
    ``"configs/sam2.1/sam2.1_hiera_t.yaml"``, or a YAML file), or ``predictor`` (a
    ``SAM2VideoPredictor`` you built), or ``config`` with ``random_weights=True`` (tests,
    timing). ``image_size`` overrides the model's input size (e.g. 256 or 512 for speed);
    ``device`` defaults to CUDA, then MPS, then the CPU; ``autocast`` (default: on CUDA) runs
    the model in bfloat16. Model ids are fetched through huggingface_hub into its cache (or
    ``cache_dir``); ``offline=True`` only looks in the cache.
    """

    name = "sam2"

    def __init__(
        self,
        model: str | None = None,
        *,
        checkpoint: str | os.PathLike[str] | None = None,
        config: str | None = None,
        image_size: int | None = None,
        device: Any = None,
        predictor: Any = None,
        random_weights: bool = False,
        seed: int = 0,
        autocast: bool | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        offline: bool | None = None,
    ) -> None:
        import torch

        given = [
            name for name, v in (("model", model), ("checkpoint", checkpoint), ("predictor", predictor)) if v
        ]
        if len(given) > 1:
            raise ValidationError(
                f"sam2: give one of model, checkpoint or predictor, not {' and '.join(given)}"
            )
        if predictor is not None:
            if image_size is not None or config is not None:
                raise ValidationError("sam2: image_size and config come from the predictor given")
            self.predictor = predictor
            self.device = torch.device(predictor.device)
        else:
            self.device = pick_device(device)
            ckpt: str | os.PathLike[str] | None = checkpoint
            if model is not None:
                config_name, ckpt = hf_checkpoint(model, cache_dir=cache_dir, offline=offline)
                config = config or config_name
            elif checkpoint is None and not random_weights:
                raise ValidationError(
                    "sam2: give model=<Hugging Face id> or checkpoint=<.pt> with config=<yaml> "
                    "(or random_weights=True with a config, for tests)"
                )
            if config is None:
                raise ValidationError(
                    "sam2: a checkpoint needs its config, e.g. configs/sam2.1/sam2.1_hiera_t.yaml"
                )
            if ckpt is not None and not pathlib.Path(ckpt).expanduser().is_file():
                raise ValidationError(f"sam2: checkpoint {str(ckpt)!r} does not exist")
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self.predictor = build_model(config, image_size, self.device)
            if ckpt is not None:
                load_checkpoint(self.predictor, ckpt)
        pred = self.predictor
        _install_quiet_tqdm()
        if not _has_hole_filling():
            pred.fill_hole_area = 0  # the sam2 CUDA extension is not built: it would only warn and skip
        # A prompt on a tracked frame becomes a conditioning frame, so corrections carry (see above).
        pred.add_all_frames_to_correct_as_cond = True
        self.image_size = int(pred.image_size)
        self.autocast = (self.device.type == "cuda") if autocast is None else bool(autocast)
        self.window = max(
            int(pred.max_obj_ptrs_in_encoder),
            int(pred.num_maskmem) * int(getattr(pred, "memory_temporal_stride_for_eval", 1)) + 1,
        )

    def session(self, ds: Dataset, sequence: str) -> SAM2Session:
        return SAM2Session(self, ds, sequence)

    def inference(self) -> contextlib.AbstractContextManager[Any]:
        """The torch mode the model runs under (inference mode; on CUDA bfloat16 autocast too)."""
        import torch

        stack = contextlib.ExitStack()
        stack.enter_context(_quiet())
        stack.enter_context(torch.inference_mode())
        if self.autocast:
            stack.enter_context(torch.autocast(self.device.type, dtype=torch.bfloat16))
        return stack

    def __repr__(self) -> str:
        return f"SAM2Engine(image_size={self.image_size}, device={str(self.device)!r})"


def _has_hole_filling() -> bool:
    try:
        from sam2 import _C  # noqa: F401
    except ImportError:
        return False
    return True


class SAM2Session(Session):
    """A SAM2 inference state over one sequence; see the module docstring."""

    engine: SAM2Engine

    def __init__(self, engine: SAM2Engine, ds: Dataset, sequence: str) -> None:
        super().__init__(engine, ds, sequence)
        self._frames = LazyFrames(ds, self.sequence, engine.image_size)
        with _lazy_loader(self._frames, self.height, self.width) as token, engine.inference():
            self._state: dict[str, Any] = engine.predictor.init_state(video_path=token)

    @property
    def predictor(self) -> Any:
        return self.engine.predictor

    # ------------------------------------------------------------------ hooks
    def _segment(self, frame: int, entity: str, prompt: Prompt) -> Result:
        st, pred = self._state, self.predictor
        with self.engine.inference():
            idx = st["obj_id_to_idx"].get(entity)
            if idx is not None and self._dropped(idx, frame):
                self._rewarm(idx, frame)
            if prompt.mask is not None:
                _, obj_ids, masks = pred.add_new_mask(st, frame, entity, prompt.mask)
            else:
                _, obj_ids, masks = pred.add_new_points_or_box(
                    st,
                    frame,
                    entity,
                    points=prompt.points if len(prompt.points) else None,
                    labels=prompt.labels if len(prompt.points) else None,
                    clear_old_points=True,
                    box=prompt.box,
                )
            idx = st["obj_id_to_idx"][entity]
            out = st["temp_output_dict_per_obj"][idx]["cond_frame_outputs"][frame]
            mask = (masks[obj_ids.index(entity), 0] > 0).cpu().numpy()
            return mask, _score(out)

    def _dropped(self, idx: int, frame: int) -> bool:
        st = self._state
        out, temp = st["output_dict_per_obj"][idx], st["temp_output_dict_per_obj"][idx]
        return frame in st["frames_tracked_per_obj"][idx] and not any(
            frame in d[k] for d in (out, temp) for k in ("cond_frame_outputs", "non_cond_frame_outputs")
        )

    def _rewarm(self, idx: int, frame: int) -> None:
        """Re-track the frames leading to ``frame`` (its outputs were dropped) so a correction sees memory."""
        st = self._state
        reverse = bool(st["frames_tracked_per_obj"][idx][frame]["reverse"])
        n = int(self.predictor.num_maskmem)
        start = min(frame + n, self.num_frames - 1) if reverse else max(frame - n, 0)
        view = self._view([st["obj_idx_to_id"][idx]])
        for _ in self.predictor.propagate_in_video(view, start, abs(frame - start), reverse):
            pass
        st["cached_features"] = view["cached_features"]
        self._prune([idx], (frame,))

    def _run_pass(self, leg: Pass, entities: list[str]) -> Generator[tuple[int, dict[str, Result]]]:
        return run_pass(leg, entities, self._prompts, self._run_segment)  # joins.py: where each joins

    def _run_segment(
        self, first: int, last: int, reverse: bool, entities: list[str], anchor: int
    ) -> Generator[tuple[int, dict[str, Result]]]:
        st, pred = self._state, self.predictor
        view = self._view(entities)
        idxs = [st["obj_id_to_idx"][e] for e in entities]
        skip = None
        start, steps = first, abs(last - first)
        if reverse and first == 0:
            # SAM2 runs no reverse pass from frame 0: run it from frame 1 and keep frame 0 only.
            if self.num_frames > 1:
                start, steps, skip = 1, 1, 1
            else:
                reverse = False
        with self.engine.inference():
            inner = pred.propagate_in_video(view, start, steps, reverse)
        try:
            while True:
                with self.engine.inference():
                    item = next(inner, None)
                    if item is None:
                        break
                    frame, obj_ids, masks = item
                    binary = (masks[:, 0] > 0).cpu().numpy()
                    results: dict[str, Result] = {}
                    for k, eid in enumerate(obj_ids):
                        outs = view["output_dict_per_obj"][k]
                        out = outs["cond_frame_outputs"].get(frame)
                        if out is None:
                            out = outs["non_cond_frame_outputs"][frame]
                        results[eid] = (binary[k], _score(out))
                    st["cached_features"] = view["cached_features"]
                    self._prune(idxs, (frame, anchor))
                if frame != skip:
                    yield frame, results
        finally:
            inner.close()

    def _forget(self, entity: str) -> None:
        self.predictor.remove_object(self._state, entity, strict=False, need_output=False)

    def _clear(self) -> None:
        self.predictor.reset_state(self._state)

    def close(self) -> None:
        super().close()
        self._frames.close()

    # ------------------------------------------------------------------ state management
    def _view(self, entities: list[str]) -> dict[str, Any]:
        """The inference state restricted to ``entities`` (sharing their per-object entries)."""
        st = self._state
        if list(entities) == list(st["obj_ids"]):
            return st
        idxs = [st["obj_id_to_idx"][e] for e in entities]
        view = dict(st)
        view["obj_id_to_idx"] = OrderedDict((e, k) for k, e in enumerate(entities))
        view["obj_idx_to_id"] = OrderedDict(enumerate(entities))
        view["obj_ids"] = list(entities)
        for key in (
            "point_inputs_per_obj",
            "mask_inputs_per_obj",
            "output_dict_per_obj",
            "temp_output_dict_per_obj",
            "frames_tracked_per_obj",
        ):
            view[key] = {k: st[key][j] for k, j in enumerate(idxs)}
        return view

    def _prune(self, idxs: list[int], anchors: tuple[int, ...]) -> None:
        """Drop non-conditioning outputs the model can no longer read (see the module docstring)."""
        window = self.engine.window
        for j in idxs:
            outs = self._state["output_dict_per_obj"][j]
            keep = np.array(list(anchors) + list(outs["cond_frame_outputs"]), dtype=np.int64)
            frames = outs["non_cond_frame_outputs"]
            for t in [t for t in frames if np.abs(keep - t).min() > window]:
                del frames[t]

    def held_frames(self) -> dict[str, int]:
        """How many frames of outputs each entity holds (conditioning + recent), for inspection."""
        st = self._state
        return {
            st["obj_idx_to_id"][j]: len(o["cond_frame_outputs"]) + len(o["non_cond_frame_outputs"])
            for j, o in st["output_dict_per_obj"].items()
        }


def _score(out: dict[str, Any]) -> float:
    logit = out.get("object_score_logits")
    if logit is None:
        return 1.0
    import torch

    return float(torch.sigmoid(logit.float().flatten()[0]))
