"""The ``sam3`` engine: SAM 3's tracker behind the session protocol, plus text prompts that find instances.

``Sam3VideoModel`` holds a detector (``detector_model``: vision and text encoders, a DETR-style decoder with
mask head) and a tracker without a vision encoder of its own (``tracker_model``), fed the detector's vision
features through ``tracker_neck``. Here the tracker runs as in the ``transformers`` engine (lazy frames,
pruned outputs) with those features put in its cache before each frame, and ``session.find(text, frame=...)``
runs the
detector on one frame: each detection above ``threshold`` (at most ``max_objects``, best first) becomes a new
entity with category ``text`` and its mask as a keyframe (``source`` names the model), unless its mask
overlaps an entity's mask on that frame by ``match_iou`` or more (then it is that entity, not added again).

``session.propagate_into()`` then tracks every instance found and keeps looking: on every frame (every
``find_every``-th) the detector runs for each text the session was asked to find (or those given as
``find=``), on the vision features the tracker has just computed for that frame, and an instance that
matches nothing tracked there (nor any other entity's mask) becomes a new entity, prompted with its mask
on that frame and tracked from the next one, as SAM 3 does. Everything it creates and writes is part of
the propagation's one undo step. A run stops creating entities for a text once the sequence holds
``max_objects`` of its category (those there before the run count).
An instance the tracker lost and the detector finds again is a new entity (merge the two tracklets).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import rle as rlemod
from ..errors import ValidationError
from .hf_session import TrackerEngine, TrackerSession, upscale
from .joins import run_pass
from .records import CancelToken, Direction, Pass, PropagationReport, Result

if TYPE_CHECKING:
    from ..dataset import Dataset

__all__ = ["MAX_TEXT", "Found", "SAM3Engine", "SAM3Session", "check_text_length"]


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
                tok(t, return_tensors="pt", padding="max_length", max_length=32, truncation=True)
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


MAX_TEXT = 80  # characters of a text to find: a short noun phrase (the text encoder reads 32 tokens)


def check_text_length(text: str, what: str) -> None:
    """A text to find is a short noun phrase: it also becomes the category of what is found."""
    if len(text.strip()) > MAX_TEXT:
        raise ValidationError(
            f"{what}: a text to find is at most {MAX_TEXT} characters (a short noun phrase such as "
            f"'red car'), got {len(text.strip())}"
        )


def _check_every(every: Any, what: str) -> None:
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise ValidationError(f"{what}: find_every must be a positive integer, got {every!r}")


def _held(
    ds: Dataset, seq: str, frame: int, tracked: Iterable[tuple[str, rlemod.RLE]] = ()
) -> list[tuple[str, rlemod.RLE]]:
    """What is there on ``frame`` to match a detection with, as (entity, mask) pairs: ``tracked`` (this
    run's answers), a keyframe of any entity (a person's mask is the instance, whatever the tracker made
    of it), and the masks the dataset holds of entities the run does not track (an older mask of one it
    tracks is about to be replaced, and must not hide an instance). Void regions are nothing to match.
    One index lookup of the frame, no decode."""
    pairs = list(tracked)
    mine = {e for e, _ in pairs}
    for e, r in ds.rles(seq, frame).items():
        if not rlemod.area(r) or ds.entity(e, seq)["void"]:
            continue
        if e not in mine or ((row := ds.annotation("masks", seq, frame, e)) is not None and row["keyframe"]):
            pairs.append((e, r))
    return pairs


@dataclass
class _Finding:
    """What a propagation looks for as it goes, and what it has done so far."""

    texts: list[str]
    every: int
    source: str
    created: dict[str, int]  # entities of each text in the sequence (existing ones included)
    searched: set[int] = field(default_factory=set)
    new: list[str] = field(default_factory=list)


class SAM3Session(TrackerSession):
    """A SAM 3 session: the tracker fed by the detector's features, ``find``, and propagation that finds."""

    engine: SAM3Engine

    def __init__(self, engine: SAM3Engine, ds: Dataset, sequence: str) -> None:
        super().__init__(engine, ds, sequence)
        self._texts: list[str] = []  # what find() was asked for: propagation keeps looking for it
        self._finding: _Finding | None = None
        self._seen: tuple[int, Any] | None = None  # the last frame's detector vision features
        self._text_embeds: dict[str, tuple[Any, Any]] = {}
        self._last_found: list[str] = []

    @property
    def texts(self) -> list[str]:
        """The texts ``find`` was asked for: ``propagate_into`` looks for them on every frame."""
        return list(self._texts)

    def _vision(self, frame: int) -> Any:
        # The tracker (through the neck) and the detector read the same backbone output: computed once.
        if self._seen is not None and self._seen[0] == frame:
            return self._seen[1]
        pixels = self._frames[frame].unsqueeze(0).to(self.engine.device)
        embeds = self.engine.model.detector_model.get_vision_features(pixel_values=pixels)
        self._seen = (frame, embeds)
        return embeds

    def _before_frame(self, view: Any, frame: int) -> None:
        if view.cache.get_vision_features(frame) is None:
            feats, pos = self.engine.model.get_vision_features_for_tracker(vision_embeds=self._vision(frame))
            view.cache.cache_vision_features(frame, {"vision_feats": feats, "vision_pos_embeds": pos})

    def _clear(self) -> None:
        super()._clear()
        self._seen = None
        self._text_embeds.clear()

    def _text(self, text: str) -> tuple[Any, Any]:
        """(text embeddings, attention mask) of ``text``, kept: a propagation asks on every frame."""
        if text not in self._text_embeds:
            ids, attention = self.engine.tokenize(text)
            det = self.engine.model.detector_model
            embeds = det.get_text_features(input_ids=ids, attention_mask=attention, return_dict=True)
            self._text_embeds[text] = (embeds, attention)
        return self._text_embeds[text]

    def detect(
        self, text: str, frame: int, threshold: float | None = None, max_objects: int | None = None
    ) -> list[tuple[np.ndarray, float]]:
        """(mask, score) of each instance of ``text`` on ``frame``, best first (nothing is written)."""
        import torch

        if not isinstance(text, str) or not text.strip():
            raise ValidationError(f"find: text must be a non-empty string, got {text!r}")
        check_text_length(text, "find")
        f = self.dataset.resolve_frame(self.sequence, frame)
        thr, most, _ = _options(
            self.engine.threshold if threshold is None else threshold,
            self.engine.max_objects if max_objects is None else max_objects,
            self.engine.match_iou,
        )
        det = self.engine.model.detector_model
        with self._lock, self.engine.inference():
            text_embeds, attention = self._text(text.strip())
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
        as one undo step. ``propagate_into`` then keeps looking for ``text``."""
        if isinstance(text, str):
            check_text_length(text, "find")
        with self._lock:
            self._check_idle("find")
            detections = self.detect(text, frame, threshold, max_objects)
            f = self.dataset.resolve_frame(self.sequence, frame)
            text = text.strip()
            if text not in self._texts:
                self._texts.append(text)
            ds, seq = self.dataset, self.sequence
            existing = _held(ds, seq, f)
            matched: list[str] = []
            keep: list[tuple[np.ndarray, float]] = []
            kept: list[tuple[str, rlemod.RLE]] = []
            for mask, score in detections:
                enc = rlemod.encode(mask)
                best = self._match(enc, existing)
                if best is not None:
                    if best not in matched:
                        matched.append(best)
                    continue
                if self._match(enc, kept) is not None:
                    continue  # a duplicate detection of an instance just found
                kept.append(("", enc))
                keep.append((mask, score))
            if not keep:
                return Found([], matched)
            with ds.undo_group(f"sam3: find {text!r} on frame {f}"):
                new = [self._create(text, f, mask, score) for mask, score in keep]
            return Found(new, matched)

    def _match(self, mask: rlemod.RLE, masks: Sequence[tuple[str, rlemod.RLE]]) -> str | None:
        """The entity one of whose ``masks`` (entity, mask) is the same instance as ``mask`` (IoU at least
        ``match_iou``), if any: one IoU per mask, on the runs."""
        if not masks:
            return None
        overlap = rlemod.ious([mask], [r for _, r in masks])[0]
        k = int(np.argmax(overlap))
        return masks[k][0] if overlap[k] >= self.engine.match_iou else None

    def _create(self, text: str, frame: int, mask: np.ndarray, score: float) -> str:
        """A new entity of category ``text`` prompted with ``mask`` on ``frame``, its keyframe written."""
        ds, seq = self.dataset, self.sequence
        eid: str | None = None
        try:
            with ds.transaction(f"sam3: found {text!r} on frame {frame}"):
                eid = ds.add_entity(seq, category=text)
                self._keyframe_from(frame, eid, mask, source=f"sam3:{self.engine.model_id}", score=score)
        except BaseException:
            if eid is not None and eid in self._prompts:  # nothing was committed: forget it here too
                self._forget(eid)
                self._prompts.pop(eid, None)
            raise
        return eid

    # ------------------------------------------------------------------ propagation that finds
    def propagate_into(
        self,
        ds: Dataset | None = None,
        start: int | None = None,
        direction: Direction = "forward",
        end: Any = None,
        *,
        find: str | Sequence[str] | bool | None = None,
        find_every: int = 1,
        entities: Iterable[str] | str | None = None,
        **options: Any,
    ) -> PropagationReport:
        """As ``Session.propagate_into``, and new instances of ``find`` (by default the texts ``find()`` was
        asked for; ``False`` for none) become entities as they appear (see the module docstring): the
        report's ``found`` lists them. With texts to find, a session with no prompts yet may propagate
        (from frame 0, or the last frame going backward), and ``entities=[]`` tracks only what the run
        finds (the session's other prompts are left alone). Going both ways, an instance found ahead of
        the start is tracked on from where it appeared, not back across the start."""
        texts = self._texts_to_find(find, ds, "propagate_into")
        _check_every(find_every, "propagate_into")
        if not texts:
            if start is None and not self._prompts and not self._keyed():
                raise ValidationError(
                    "propagate_into: no prompts yet: prompt() an entity, give it a keyframe in the dataset, "
                    "or find a text (find('person', frame=0), or propagate_into(find='person'))"
                )
            return super().propagate_into(ds, start, direction, end, entities=entities, **options)
        with self._lock:
            self._check_idle("propagate")
            start = self._start_for(start, direction)
            self._finding = self._new_finding(texts, find_every)
        try:
            report = super().propagate_into(ds, start, direction, end, entities=entities, **options)
            report.found = list(self._finding.new)
            return report
        finally:
            self._finding = None

    def propagate(
        self,
        start: int | None = None,
        direction: Direction = "forward",
        end: Any = None,
        *,
        entities: Iterable[str] | str | None = None,
        cancel: CancelToken | None = None,
        find: str | Sequence[str] | bool = False,
        find_every: int = 1,
    ) -> Generator[tuple[int, dict[str, Result]]]:
        """As ``Session.propagate``; with ``find=`` texts (or ``True``: those ``find()`` was given) new
        instances become entities in the session's dataset as they appear, as ``propagate_into`` does
        (the only writes this generator makes), and their results come from the frame after on."""
        texts = self._texts_to_find(find, None, "propagate")
        _check_every(find_every, "propagate")
        if not texts:
            return super().propagate(start, direction, end, entities=entities, cancel=cancel)
        with self._lock:
            self._check_idle("propagate")
            legs = self.plan(self._start_for(start, direction), direction, end)
            finding = self._new_finding(texts, find_every)
            self._finding = finding  # only while the entities are chosen: the run sets it again
            try:
                chosen = self._entities_for(entities)
            finally:
                self._finding = None
        return self._finding_run(finding, self._propagate(legs, chosen, cancel))

    def _finding_run(
        self, finding: _Finding, run: Generator[tuple[int, dict[str, Result]]]
    ) -> Generator[tuple[int, dict[str, Result]]]:
        """``run`` with the pass looking for ``finding``'s texts while it is under way."""
        with self._lock:
            self._check_idle("propagate")
            self._finding = finding
        try:
            yield from run
        finally:
            run.close()
            self._finding = None

    @property
    def found(self) -> list[str]:
        """Entities the propagation under way (or the last one) created for what it found."""
        return list(self._last_found)

    def _start_for(self, start: int | None, direction: Direction) -> int | None:
        """Where a run that finds starts: as planned from the prompts, or, with none to start from, at the
        first frame (the last going backward)."""
        if start is None and not self._prompts and not self._keyed():
            return self.num_frames - 1 if direction == "backward" else 0
        return start

    def _new_finding(self, texts: list[str], every: int) -> _Finding:
        cats = [self.dataset.entity(e)["category"] for e in self.dataset.entity_ids(self.sequence)]
        finding = _Finding(
            texts, every, f"sam3:{self.engine.model_id}", {t: sum(c == t for c in cats) for t in texts}
        )
        self._last_found = finding.new
        return finding

    def _keyed(self) -> bool:
        """Whether the dataset holds keyframes in this sequence (propagate_into makes them prompts)."""
        masks = self.dataset.snapshot()["masks"]
        return any(
            masks.value(k, "keyframe")
            for e in self.dataset.entity_ids(self.sequence)
            for k in masks.lookup("by_entity", (self.sequence, e))
        )

    def _texts_to_find(self, find: Any, ds: Dataset | None, what: str) -> list[str]:
        if find is None or find is True:
            texts = list(self._texts)
            if find is True and not texts:
                raise ValidationError(f"{what}: find=True but find() was never called; give find='text'")
        elif find is False:
            return []
        elif isinstance(find, str):
            texts = [find]
        elif isinstance(find, Sequence) and all(isinstance(t, str) for t in find):
            texts = list(find)
        else:
            raise ValidationError(f"{what}: find must be a text, a list of texts or a bool, got {find!r}")
        for t in texts:
            if not t.strip():
                raise ValidationError(f"{what}: find texts must be non-empty, got {t!r}")
            check_text_length(t, what)
        if texts and ds is not None and ds is not self.dataset:
            if find is None:
                return []  # writing elsewhere: the entities found would have to be made there
            raise ValidationError(
                "propagate_into: find= creates entities in the session's own dataset; "
                "propagate into it (ds=None) to find, or pass find=False"
            )
        return list(dict.fromkeys(t.strip() for t in texts))

    def _entities_for(self, entities: Iterable[str] | str | None) -> list[str]:
        if self._finding is not None:
            if entities is None and not self.entities:
                return []  # nothing tracked yet: the run starts with what it finds
            if isinstance(entities, (list, tuple, set, frozenset)) and not entities:
                return []  # entities=[]: only what the run finds is tracked
        return super()._entities_for(entities)

    def _run_pass(self, leg: Pass, entities: list[str]) -> Generator[tuple[int, dict[str, Result]]]:
        run = self._finding
        if run is None:
            return super()._run_pass(leg, entities)
        # An instance an earlier leg found past the start (going forward) is not tracked back across
        # the start, which would give it masks before where it appeared (and none in between); one
        # found on the start frame is.
        lo, hi = sorted((leg.start, leg.last))
        mine = [e for e in entities if e not in run.new or any(lo <= f <= hi for f in self._prompts[e])]

        def found(frame: int, results: dict[str, Result]) -> list[str]:
            new = self._found_on(frame, results)
            entities.extend(new)  # the run's list, as run_pass extends this leg's
            return new

        return run_pass(leg, mine, self._prompts, self._run_segment, found=found)

    def _found_on(self, frame: int, results: dict[str, Result]) -> list[str]:
        """New entities for instances on ``frame`` that match nothing there (called by the pass)."""
        run = self._finding
        if run is None or frame in run.searched or frame % run.every:
            return []
        run.searched.add(frame)  # the start frame comes twice going both ways
        ds, seq = self.dataset, self.sequence
        # what is tracked there: this frame's results (not written yet), else what the dataset holds
        known = _held(ds, seq, frame, [(e, rlemod.encode(m)) for e, (m, _) in results.items() if m.any()])
        new: list[str] = []
        for text in run.texts:
            for mask, score in self.detect(text, frame):
                if run.created[text] >= self.engine.max_objects:
                    break
                enc = rlemod.encode(mask)
                if self._match(enc, known) is not None:
                    continue
                eid = self._create(text, frame, mask, score)
                known.append((eid, enc))
                run.created[text] += 1
                new.append(eid)
        run.new.extend(new)
        return new
