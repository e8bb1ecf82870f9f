"""The reference a transformers-engine session must equal: the library's own inference session of the
model's class (every frame preprocessed up front, ``video=``) and its ``propagate_in_video_iterator``, given
the same frames and prompts, prompts scaled to the model's input the way the processors do."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import torch

import vidlabel as vl
from vidlabel.segment.hf_session import TrackerEngine, upscale


def library_masks(
    engine: TrackerEngine, frames: np.ndarray, *steps: tuple[Any, ...]
) -> dict[Any, dict[Any, np.ndarray]]:
    """Masks per object from the library, after steps ("points", frame, obj, [(x, y)...], [labels]) /
    ("box", frame, obj, box) / ("mask", frame, obj, mask) (keyed ("prompt", frame)) and
    ("run", start, reverse) (keyed by frame)."""
    model = engine.model
    module = importlib.import_module(type(model).__module__)
    session_class = getattr(module, type(model).__name__.replace("Model", "InferenceSession"))
    height, width = frames.shape[1:3]
    size = engine.image_size
    ds = vl.Dataset()
    seq = ds.add_sequence("reference", frames=list(frames))
    video = torch.stack([engine.session(ds, seq).frames.preprocess(f) for f in frames])  # the same resize
    st = session_class(video=video, video_height=height, video_width=width, dtype=torch.float32)
    sx, sy = size / width, size / height
    out: dict[Any, dict[Any, np.ndarray]] = {}
    with torch.inference_mode():
        for step in steps:
            kind = step[0]
            if kind == "run":
                for o in model.propagate_in_video_iterator(st, start_frame_idx=step[1], reverse=step[2]):
                    for k, m in zip(o.object_ids, upscale(o.pred_masks, size, height, width)):
                        out.setdefault(k, {})[o.frame_idx] = m
                continue
            _, frame, obj, what = step[:4]
            k = st.obj_id_to_idx(obj)
            if kind == "mask":
                m = torch.from_numpy(what)[None, None].float()
                m = torch.nn.functional.interpolate(m, (size, size), mode="bilinear", antialias=True)
                st.add_mask_inputs(k, frame, (m >= 0.5).float())
            else:
                if kind == "box":
                    x0, y0, x1, y1 = what
                    pts, labels = [[x0 * sx, y0 * sy], [x1 * sx, y1 * sy]], [2, 3]
                else:
                    pts = [[x * sx, y * sy] for x, y in what]
                    labels = list(step[4]) if len(step) > 4 else [1] * len(what)
                st.add_point_inputs(
                    k,
                    frame,
                    {
                        "point_coords": torch.tensor([[pts]], dtype=torch.float32),
                        "point_labels": torch.tensor([[labels]], dtype=torch.int64),
                    },
                )
            st.obj_with_new_inputs = [obj]
            o = model(inference_session=st, frame_idx=frame)
            out.setdefault(obj, {})[("prompt", frame)] = upscale(o.pred_masks, size, height, width)[
                o.object_ids.index(obj)
            ]
    return out


# ---------------------------------------------------------------------- what the transformers tests share
H, W = 64, 96  # the clips' frame size


def video(num_frames: int, seed: int = 3) -> np.ndarray:
    """A synthetic clip of two moving objects, H x W."""
    v = vl.demo.synthetic_video(width=W, height=H, num_frames=num_frames, num_objects=2, seed=seed)
    return np.stack(v.frames)


def dataset(frames: np.ndarray, entities: int = 2) -> tuple[vl.Dataset, str, list[str]]:
    """A dataset of ``frames`` with ``entities`` new entities and no history."""
    ds = vl.Dataset()
    seq = ds.add_sequence("clip", frames=list(frames))
    ents = [ds.add_entity(seq) for _ in range(entities)]
    ds.clear_history()
    return ds, seq, ents


def tiny_sam3() -> Any:
    """The tiny random-weight SAM 3 the text-prompt tests use: token ids made from characters (no
    tokenizer is downloaded), a low threshold and four objects at most, masks made non-trivial."""
    from vidlabel.segment.hf_tiny import bias_object_scores, char_tokens, tiny_sam3_config
    from vidlabel.segment.sam3_find import SAM3Engine

    torch.set_num_threads(2)
    eng = vl.segment.load(
        "sam3",
        config=tiny_sam3_config(),
        random_weights=True,
        device="cpu",
        tokenizer=char_tokens,
        threshold=0.3,
        max_objects=4,
    )
    assert isinstance(eng, SAM3Engine)
    bias_object_scores(eng.tracker)
    return eng
