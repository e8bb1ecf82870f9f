"""The ``transformers`` engine: SAM2, EdgeTAM and the SAM 3 tracker from Hugging Face transformers, fed lazily
from the dataset, in flat memory.

How this differs from ``processor.init_video_session(video=...)`` and ``propagate_in_video_iterator``,
and why:

* **Frames are read on demand.** The library's session holds every preprocessed float32 frame of the video
  (12 MiB a frame at 1024 px). Here its ``processed_frames`` is a mapping that reads, resizes and normalises a
  frame from the dataset's frame source when the model asks for it and keeps only the last one; the model's
  own feature cache keeps one frame's features. (We preprocess ourselves: the library's processors need
  torchvision.)
* **Memory stays flat.** The session keeps every frame's outputs and never prunes them, though tracking a
  frame reads only the conditioning frames, the previous ``num_maskmem - 1`` frames' memories and the
  previous ``max_object_pointers_in_encoder - 1`` frames' object pointers. After each frame we drop
  non-conditioning outputs farther than that from the pass head, the pass start and every conditioning frame.
  Masks are bit-identical to the library's iterator (tests/test_segment_transformers.py).
* **Corrections carry.** The library stores a prompt on an already tracked frame as an ordinary output, and
  the next propagation through that frame recomputes it without the clicks. Here such an output is moved to
  the conditioning outputs, as the ``sam2`` package's ``add_all_frames_to_correct_as_cond`` does.
* **Entities can be added at any time, removed, and propagated alone.** The library's forward runs every
  object of its session; we run the model on a view, a session of the same class holding only the chosen
  entities' per-object entries (shared, so what the model writes lands in the main session).

Scores are ``sigmoid(object_score_logits)``: the model's estimate that the object is visible.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Generator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ValidationError
from .base import Engine, Pass, Prompt, Result, Session
from .hf_loading import load_model, pick_device, preprocessing
from .joins import run_pass

if TYPE_CHECKING:
    import torch

    from ..dataset import Dataset

__all__ = ["LazyFrames", "TrackerEngine", "TrackerSession", "upscale"]


class LazyFrames(Mapping[int, Any]):
    """A session's ``processed_frames``: frame ``i`` resized to S x S and normalised when asked for.

    Resizing is bilinear with antialiasing on the 0-255 values, then /255 and (x - mean) / std, the steps of
    the SAM video processors. Only the frame last asked for is kept (the model asks for a frame once to
    compute its features, which its cache then holds)."""

    def __init__(self, ds: Dataset, seq: str, size: int, mean: Any, std: Any, dtype: torch.dtype) -> None:
        import torch

        self._ds, self._seq, self._size, self._dtype = ds, seq, int(size), dtype
        self._n = ds.num_frames(seq)
        self._mean = torch.tensor(mean, dtype=torch.float32)[:, None, None]
        self._std = torch.tensor(std, dtype=torch.float32)[:, None, None]
        self._last: tuple[int, torch.Tensor] | None = None
        self._lock = threading.Lock()
        self.reads = 0  # frames read from the dataset (for inspection)

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[int]:
        return iter(range(self._n))

    def __contains__(self, i: object) -> bool:
        return isinstance(i, int) and 0 <= i < self._n

    def preprocess(self, rgb: np.ndarray) -> torch.Tensor:
        """One RGB uint8 frame as the model's input (3, S, S)."""
        import torch
        import torch.nn.functional as F

        x = torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)[None].to(torch.float32)
        x = F.interpolate(x, (self._size, self._size), mode="bilinear", align_corners=False, antialias=True)[
            0
        ]
        x = (x / 255.0 - self._mean) / self._std
        return x.to(self._dtype)

    def __getitem__(self, i: int) -> torch.Tensor:
        i = int(i)
        if not 0 <= i < self._n:
            raise KeyError(i)
        with self._lock:
            if self._last is not None and self._last[0] == i:
                return self._last[1]
        # One pass over a long video must not fill the decode cache (and push out what is on screen).
        img = self.preprocess(self._ds.frame(self._seq, i, cache=False))
        with self._lock:
            self._last = (i, img)
            self.reads += 1
        return img

    @property
    def last(self) -> torch.Tensor | None:
        """The preprocessed frame held (the last one asked for), if any."""
        return None if self._last is None else self._last[1]

    def clear(self) -> None:
        with self._lock:
            self._last = None


def upscale(logits: torch.Tensor, size: int, height: int, width: int) -> np.ndarray:
    """Low-resolution mask logits (N, 1, h, w) -> (N, height, width) bool, as the processors'
    post_process_masks:
    bilinear to the input size, then bilinear to the frame's size, then > 0."""
    import torch.nn.functional as F

    x = F.interpolate(logits.float(), (size, size), mode="bilinear", align_corners=False)
    x = F.interpolate(x, (height, width), mode="bilinear", align_corners=False)
    return (x[:, 0] > 0).cpu().numpy()


def score_of(out: Mapping[str, Any]) -> float:
    import torch

    logit = out.get("object_score_logits")
    return 1.0 if logit is None else float(torch.sigmoid(logit.float().flatten()[0]))


def _score_shape_as_decoder(out: dict[str, Any]) -> None:
    """A mask prompt's object score with the decoder's shape (1, 1, 1): transformers 5.24's EdgeTAM leaves it
    (1, 1) (its ``_use_mask_as_output`` lacks the ``unsqueeze(-1)`` SAM2's and SAM 3's have), and a frame
    where it meets another object's score then fails in the model's forward (``torch.cat``)."""
    logit = out.get("object_score_logits")
    if logit is not None and logit.ndim == 2:
        out["object_score_logits"] = logit[..., None]


class TrackerEngine(Engine):
    """A transformers video tracker (SAM2, EdgeTAM, SAM 3 tracker).

    See ``vl.segment.load("transformers", ...)``.

    ``model`` is a Hugging Face id (``"facebook/sam2.1-hiera-tiny"``, an EdgeTAM or SAM 3 id) fetched through
    huggingface_hub's cache (or ``cache_dir``; ``offline=True`` only looks there), or a local folder saved
    with ``save_pretrained``; or give ``config`` (a transformers config, or its ``to_dict()``: plain data
    a Ray worker can be given) with ``random_weights=True`` (tests, timing). ``device`` defaults to CUDA,
    then MPS, then the CPU; ``dtype`` to bfloat16 on CUDA and float32 elsewhere.
    """

    name = "transformers"
    tracker_only = True

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        config: Any = None,
        random_weights: bool = False,
        seed: int = 0,
        device: Any = None,
        dtype: Any = None,
        cache_dir: str | os.PathLike[str] | None = None,
        offline: bool | None = None,
    ) -> None:
        import torch

        self.device = pick_device(device, self.name)
        if dtype is None:
            dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise ValidationError(f"{self.name}: dtype must be a floating torch dtype, got {dtype!r}")
        self.dtype = dtype
        self.model, self.kind, self.folder = load_model(
            what=self.name,
            tracker=self.tracker_only,
            model=model,
            config=config,
            random_weights=random_weights,
            seed=seed,
            device=self.device,
            dtype=dtype,
            cache_dir=cache_dir,
            offline=offline,
        )
        self.model_id = str(model) if model is not None else f"random {self.kind}"
        self._setup()

    def _setup(self) -> None:
        net = self.tracker
        cfg = net.config
        self.image_size = int(cfg.image_size)
        self.window = max(int(cfg.num_maskmem), int(cfg.max_object_pointers_in_encoder))
        self.input_size, self.mean, self.std = preprocessing(self.folder, self.kind, self.image_size)

    @property
    def tracker(self) -> Any:
        """The point/box/mask tracking model."""
        return self.model

    def new_inference_session(self, frames: LazyFrames, height: int, width: int) -> Any:
        """An empty inference session of the tracker's class over ``frames``."""
        import importlib

        cls_name = type(self.tracker).__name__.replace("Model", "InferenceSession")
        module = importlib.import_module(type(self.tracker).__module__)
        cls = getattr(module, cls_name)
        sess = cls(
            video_height=height,
            video_width=width,
            inference_device=self.device,
            inference_state_device=self.device,
            video_storage_device=self.device,
            dtype=self.dtype,
        )
        sess.processed_frames = frames  # a lazy mapping in place of the dict of every frame
        return sess

    def session(self, ds: Dataset, sequence: str) -> TrackerSession:
        return TrackerSession(self, ds, sequence)

    def inference(self) -> contextlib.AbstractContextManager[Any]:
        """The torch mode the model runs under (inference mode)."""
        import torch

        return torch.inference_mode()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_id!r}, device={str(self.device)!r}, dtype={self.dtype})"


class TrackerSession(Session):
    """A transformers inference session over one sequence; see the module docstring."""

    engine: TrackerEngine

    def __init__(self, engine: TrackerEngine, ds: Dataset, sequence: str) -> None:
        super().__init__(engine, ds, sequence)
        self._frames = LazyFrames(ds, self.sequence, engine.input_size, engine.mean, engine.std, engine.dtype)
        self._state = engine.new_inference_session(self._frames, self.height, self.width)

    # ------------------------------------------------------------------ views
    def _view(self, entities: list[str]) -> Any:
        """A session of the same class holding ``entities`` only, sharing their per-object entries."""
        st = self._state
        if list(entities) == list(st.obj_ids):
            return st
        view = self.engine.new_inference_session(self._frames, self.height, self.width)
        view.cache = st.cache
        for e in entities:
            k, j = view.obj_id_to_idx(e), st.obj_id_to_idx(e)
            for name in (
                "point_inputs_per_obj",
                "mask_inputs_per_obj",
                "output_dict_per_obj",
                "frames_tracked_per_obj",
            ):
                getattr(view, name)[k] = getattr(st, name)[j]
        return view

    def _rebuild(self, keep: list[str]) -> None:
        """The main session with only ``keep`` (the trackers have no call to remove an object)."""
        st = self._state
        new = self.engine.new_inference_session(self._frames, self.height, self.width)
        new.cache = st.cache
        for e in keep:
            k, j = new.obj_id_to_idx(e), st.obj_id_to_idx(e)
            for name in (
                "point_inputs_per_obj",
                "mask_inputs_per_obj",
                "output_dict_per_obj",
                "frames_tracked_per_obj",
            ):
                getattr(new, name)[k] = getattr(st, name)[j]
        self._state = new

    def _before_frame(self, view: Any, frame: int) -> None:
        """Hook run before the model reads ``frame`` (SAM 3 puts its detector's features in the cache)."""

    def _forward(self, view: Any, frame: int, reverse: bool) -> Any:
        self._before_frame(view, frame)
        return self.engine.tracker(inference_session=view, frame_idx=frame, reverse=reverse)

    # ------------------------------------------------------------------ hooks
    def _segment(self, frame: int, entity: str, prompt: Prompt) -> Result:
        import torch

        st = self._state
        known = entity in st.obj_ids
        if known and self.dropped(entity, frame):
            self._rewarm(entity, frame)
        view = self._view([entity])
        with self.engine.inference():
            k = view.obj_id_to_idx(entity)
            if prompt.mask is not None:
                m = torch.from_numpy(prompt.mask)[None, None].to(self.engine.device, torch.float32)
                s = self.engine.image_size
                m = torch.nn.functional.interpolate(
                    m, (s, s), mode="bilinear", align_corners=False, antialias=True
                )
                view.add_mask_inputs(k, frame, (m >= 0.5).float())
                view.remove_point_inputs(k, frame)
            else:
                sx, sy = self.engine.image_size / self.width, self.engine.image_size / self.height
                pts = np.asarray(prompt.points, np.float32).reshape(-1, 2) * np.array([sx, sy], np.float32)
                labels = np.asarray(prompt.labels, np.int64)
                if prompt.box is not None:  # a box is two corner points labelled 2 and 3, before the clicks
                    corners = np.asarray(prompt.box, np.float32).reshape(2, 2) * np.array(
                        [sx, sy], np.float32
                    )
                    pts = np.concatenate([corners, pts])
                    labels = np.concatenate([np.array([2, 3], np.int64), labels])
                view.add_point_inputs(
                    k,
                    frame,
                    {
                        "point_coords": torch.from_numpy(pts)[None, None],
                        "point_labels": torch.from_numpy(labels)[None, None],
                    },
                )
                view.remove_mask_inputs(k, frame)
            view.obj_with_new_inputs = [entity]
            out = self._forward(view, frame, False)
            outs = view.output_dict_per_obj[k]
            if frame in outs["non_cond_frame_outputs"]:  # a correction on a tracked frame: make it carry
                outs["cond_frame_outputs"][frame] = outs["non_cond_frame_outputs"].pop(frame)
            _score_shape_as_decoder(outs["cond_frame_outputs"][frame])
            mask = upscale(out.pred_masks, self.engine.image_size, self.height, self.width)[0]
            return mask, score_of(outs["cond_frame_outputs"][frame])

    def dropped(self, entity: str, frame: int) -> bool:
        """Whether ``entity`` was tracked on ``frame`` and its outputs there have since been pruned."""
        st = self._state
        j = st.obj_id_to_idx(entity)
        outs = st.output_dict_per_obj[j]
        return frame in st.frames_tracked_per_obj[j] and not any(
            frame in outs[k] for k in ("cond_frame_outputs", "non_cond_frame_outputs")
        )

    def _rewarm(self, entity: str, frame: int) -> None:
        """Re-track the frames leading to ``frame`` (its outputs were dropped) so a correction sees memory."""
        st = self._state
        j = st.obj_id_to_idx(entity)
        reverse = bool(st.frames_tracked_per_obj[j][frame]["reverse"])
        n = int(self.engine.tracker.config.num_maskmem)
        start = min(frame + n, self.num_frames - 1) if reverse else max(frame - n, 0)
        view = self._view([entity])
        step = -1 if reverse else 1
        with self.engine.inference():
            for f in range(start, frame, step):
                self._forward(view, f, reverse)
        self._prune(view, (frame,))

    def _run_pass(self, leg: Pass, entities: list[str]) -> Generator[tuple[int, dict[str, Result]]]:
        return run_pass(leg, entities, self._prompts, self._run_segment)  # joins.py: where each joins

    def _run_segment(
        self, first: int, last: int, reverse: bool, entities: list[str], anchor: int
    ) -> Generator[tuple[int, dict[str, Result]]]:
        view = self._view(entities)
        step = -1 if reverse else 1
        for frame in range(first, last + step, step):
            with self.engine.inference():
                out = self._forward(view, frame, reverse)
                binary = upscale(out.pred_masks, self.engine.image_size, self.height, self.width)
                results: dict[str, Result] = {}
                for k, eid in enumerate(out.object_ids):
                    outs = view.output_dict_per_obj[k]
                    o = outs["cond_frame_outputs"].get(frame)
                    if o is None:
                        o = outs["non_cond_frame_outputs"][frame]
                    results[eid] = (binary[k], score_of(o))
                self._prune(view, (frame, anchor))
            yield frame, results

    def _prune(self, view: Any, anchors: tuple[int, ...]) -> None:
        """Drop non-conditioning outputs the model can no longer read (see the module docstring)."""
        window = self.engine.window
        for outs in view.output_dict_per_obj.values():
            keep = np.array(list(anchors) + list(outs["cond_frame_outputs"]), dtype=np.int64)
            frames = outs["non_cond_frame_outputs"]
            for t in [t for t in frames if np.abs(keep - t).min() > window]:
                del frames[t]

    def _forget(self, entity: str) -> None:
        if entity in self._state.obj_ids:
            self._rebuild([e for e in self._state.obj_ids if e != entity])

    def _clear(self) -> None:
        self._state.cache.clear_all()
        self._frames.clear()
        self._state = self.engine.new_inference_session(self._frames, self.height, self.width)

    # ------------------------------------------------------------------ inspection
    @property
    def inference_session(self) -> Any:
        """The library's inference session (read it; edits go through the session's methods)."""
        return self._state

    @property
    def frames(self) -> LazyFrames:
        """The lazy ``processed_frames`` the library's session reads (its ``reads`` count, its ``last``)."""
        return self._frames

    def held_frames(self) -> dict[str, int]:
        """How many frames of outputs each entity holds (conditioning + recent)."""
        st = self._state
        return {
            st.obj_idx_to_id(j): len(o["cond_frame_outputs"]) + len(o["non_cond_frame_outputs"])
            for j, o in st.output_dict_per_obj.items()
        }

    def held_bytes(self) -> int:
        """Bytes of tensors held in the per-object outputs plus the preprocessed frame kept (the model's
        feature cache holds one frame's features besides)."""
        import torch

        seen: set[int] = set()

        def size(x: Any) -> int:
            if isinstance(x, torch.Tensor):
                if id(x) in seen:
                    return 0
                seen.add(id(x))
                return x.numel() * x.element_size()
            if isinstance(x, Mapping):
                return sum(size(v) for v in x.values())
            if isinstance(x, (list, tuple)):
                return sum(size(v) for v in x)
            return 0

        frame = self._frames.last
        return size(self._state.output_dict_per_obj) + (0 if frame is None else size(frame))
