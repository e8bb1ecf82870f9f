"""The ``sam3`` engine: SAM 3's tracker behind the session protocol, plus text prompts that find instances.

``Sam3VideoModel`` holds a detector (``detector_model``: vision and text encoders, a DETR-style decoder with
mask head) and a tracker without a vision encoder of its own (``tracker_model``), fed the detector's vision
features through ``tracker_neck``. Here the tracker runs as in the ``transformers`` engine (lazy frames,
pruned outputs) with those features put in its cache before each frame, and ``session.find(text, frame=...)``
runs the
detector on one frame: each detection above ``threshold`` (at most ``max_objects``, best first) becomes a new
entity with category ``text`` and its mask as a keyframe (``source`` names the model), unless its mask
overlaps an entity's mask on that frame by ``match_iou`` or more (then it is that entity, not added again).
Propagating then tracks every instance found.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ValidationError
from .hf_session import TrackerEngine, TrackerSession, upscale

if TYPE_CHECKING:
    from ..dataset import Dataset

__all__ = ["Found", "SAM3Engine", "SAM3Session"]


class Found(list[str]):
    """The entities a ``find`` gave, new ones and matched ones (``.new``, ``.matched``), best score first."""

    def __init__(self, new: list[str], matched: list[str]) -> None:
        super().__init__(new + matched)
        self.new, self.matched = new, matched


class SAM3Engine(TrackerEngine):
    """SAM 3 (``Sam3VideoModel``): ``vl.segment.load("sam3", model="facebook/sam3")``.

    Options as for ``"transformers"``, plus ``threshold`` (detection score, default 0.5), ``max_objects``
    (per find, default 16), ``match_iou`` (an existing entity's mask this similar is the same instance,
    default 0.7) and ``tokenizer`` (a callable text -> (input_ids, attention_mask); by default the model's
    tokenizer from its folder or the hub cache).
    """

    name = "sam3"
    tracker_only = False
    finds = True

    def __init__(
        self,
        model: Any = None,
        *,
        threshold: float = 0.5,
        max_objects: int = 16,
        match_iou: float = 0.7,
        tokenizer: Any = None,
        **options: Any,
    ) -> None:
        self.threshold, self.max_objects, self.match_iou = _options(threshold, max_objects, match_iou)
        super().__init__(model, **options)
        if self.kind != "sam3":
            raise ValidationError(
                f"sam3: {self.model_id!r} is a {self.kind} model; the sam3 engine needs a SAM 3 "
                "(sam3_video) model "
                "such as facebook/sam3 (use load('transformers', ...) for trackers)"
            )
        self._tokenizer = tokenizer

    def _setup(self) -> None:
        if self.kind != "sam3":
            return  # refused in __init__
        cfg = self.model.config
        self.image_size = int(cfg.tracker_config.image_size)
        self.window = max(
            int(cfg.tracker_config.num_maskmem), int(cfg.tracker_config.max_object_pointers_in_encoder)
        )
        from .hf_loading import preprocessing

        size = int(cfg.detector_config.vision_config.backbone_config.image_size)
        self.input_size, self.mean, self.std = preprocessing(self.folder, self.kind, size)

    @property
    def tracker(self) -> Any:
        return self.model.tracker_model

    def tokenize(self, text: str) -> tuple[Any, Any]:
        """(input_ids, attention_mask) of ``text`` for the detector's text encoder."""
        if self._tokenizer is None:
            if self.folder is None:
                raise ValidationError("sam3: a model built from a config has no tokenizer: pass tokenizer=")
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(str(self.folder))
            self._tokenizer = lambda t: _encoded(
                tok(t, return_tensors="pt", padding="max_length", max_length=32)
            )
        return self._tokenizer(text)

    def session(self, ds: Dataset, sequence: str) -> SAM3Session:
        return SAM3Session(self, ds, sequence)


def _encoded(batch: Any) -> tuple[Any, Any]:
    return batch["input_ids"], batch["attention_mask"]


def _options(threshold: Any, max_objects: Any, match_iou: Any) -> tuple[float, int, float]:
    if not isinstance(threshold, (int, float)) or not 0.0 <= threshold < 1.0:
        raise ValidationError(f"sam3: threshold must be in [0, 1), got {threshold!r}")
    if not isinstance(max_objects, int) or isinstance(max_objects, bool) or max_objects < 1:
        raise ValidationError(f"sam3: max_objects must be a positive integer, got {max_objects!r}")
    if not isinstance(match_iou, (int, float)) or not 0.0 < match_iou <= 1.0:
        raise ValidationError(f"sam3: match_iou must be in (0, 1], got {match_iou!r}")
    return float(threshold), int(max_objects), float(match_iou)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


class SAM3Session(TrackerSession):
    """A SAM 3 session: the tracker fed by the detector's features, and ``find``."""

    engine: SAM3Engine

    def _vision(self, frame: int) -> Any:
        pixels = self._frames[frame].unsqueeze(0).to(self.engine.device)
        return self.engine.model.detector_model.get_vision_features(pixel_values=pixels)

    def _before_frame(self, view: Any, frame: int) -> None:
        if view.cache.get_vision_features(frame) is None:
            feats, pos = self.engine.model.get_vision_features_for_tracker(vision_embeds=self._vision(frame))
            view.cache.cache_vision_features(frame, {"vision_feats": feats, "vision_pos_embeds": pos})

    def detect(
        self, text: str, frame: int, threshold: float | None = None, max_objects: int | None = None
    ) -> list[tuple[np.ndarray, float]]:
        """(mask, score) of each instance of ``text`` on ``frame``, best first (nothing is written)."""
        import torch

        if not isinstance(text, str) or not text.strip():
            raise ValidationError(f"find: text must be a non-empty string, got {text!r}")
        f = self.dataset.resolve_frame(self.sequence, frame)
        thr, most, _ = _options(
            self.engine.threshold if threshold is None else threshold,
            self.engine.max_objects if max_objects is None else max_objects,
            self.engine.match_iou,
        )
        det = self.engine.model.detector_model
        ids, attention = self.engine.tokenize(text.strip())
        with self.engine._context():
            text_embeds = det.get_text_features(input_ids=ids, attention_mask=attention, return_dict=True)
            out = det(vision_embeds=self._vision(f), text_embeds=text_embeds, attention_mask=attention)
            probs = out.pred_logits.sigmoid()[0]
            if out.presence_logits is not None:
                probs = probs * out.presence_logits.sigmoid()[0]
            order = torch.argsort(probs, descending=True)
            order = order[probs[order] > thr][:most]
            if not len(order):
                return []
            masks = upscale(
                out.pred_masks[0, order][:, None], self.engine.input_size, self.height, self.width
            )
        return [(m, float(probs[i])) for m, i in zip(masks, order.tolist()) if m.any()]

    def find(
        self, text: str, frame: int = 0, *, threshold: float | None = None, max_objects: int | None = None
    ) -> Found:
        """Entities for every instance of ``text`` on ``frame`` (see the module docstring),
        as one undo step."""
        with self._lock:
            self._check_idle("find")
            detections = self.detect(text, frame, threshold, max_objects)
            f = self.dataset.resolve_frame(self.sequence, frame)
            ds, seq = self.dataset, self.sequence
            existing = {e: m for e in ds.entity_ids(seq) if (m := ds.mask(seq, f, e)) is not None and m.any()}
            new: list[str] = []
            matched: list[str] = []
            keep: list[tuple[np.ndarray, float]] = []
            for mask, score in detections:
                best = max(existing, key=lambda e: _iou(existing[e], mask), default=None)
                if best is not None and _iou(existing[best], mask) >= self.engine.match_iou:
                    if best not in matched:
                        matched.append(best)
                    continue
                if any(_iou(k, mask) >= self.engine.match_iou for k, _ in keep):
                    continue  # a duplicate detection of an instance just found
                keep.append((mask, score))
            if not keep:
                return Found([], matched)
            source = f"sam3:{self.engine.model_id}"
            with ds.undo_group(f"sam3: find {text.strip()!r} on frame {f}"):
                for mask, score in keep:
                    eid = ds.add_entity(seq, category=text.strip())
                    result, _ = self.prompt(f, eid, mask=mask, write=False)
                    ds.set_mask(seq, f, eid, result, source=source, score=score, keyframe=True)
                    new.append(eid)
            return Found(new, matched)
