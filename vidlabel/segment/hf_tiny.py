"""Tiny transformers configs with random weights that give non-trivial masks, for tests and benchmarks.

With the default initialisation random-weight logits are about 1e-3 and masks are empty or the same for every
prompt; a larger ``initializer_range`` and a positive bias on the object-score head (``bias_object_scores``)
make masks that cover part of a frame and differ between prompts. The memory encoder's output stays 64
channels (a fixed size in the library) and hidden sizes 128 (smaller ones fail in the library).
"""

from __future__ import annotations

from typing import Any

__all__ = ["bias_object_scores", "char_tokens", "tiny_edgetam_config", "tiny_sam2_config", "tiny_sam3_config"]


def _tracker_kwargs(size: int) -> dict[str, Any]:
    return dict(
        prompt_encoder_config=dict(hidden_size=128, image_size=size, patch_size=16),
        mask_decoder_config=dict(
            hidden_size=128, mlp_dim=256, num_attention_heads=4, iou_head_hidden_dim=128
        ),
        image_size=size,
        initializer_range=0.1,
        memory_attention_hidden_size=128,
        memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=256,
        memory_attention_rope_feat_sizes=[size // 16, size // 16],
        memory_encoder_hidden_size=128,
        mask_downsampler_embed_dim=128,
        memory_fuser_embed_dim=128,
        memory_fuser_intermediate_dim=256,
        num_maskmem=4,
        max_object_pointers_in_encoder=6,
    )


def tiny_sam2_config(size: int = 128) -> Any:
    """A Sam2VideoConfig with a four-stage Hiera of 16-128 channels at ``size`` px (a multiple of 64)."""
    from .hf_loading import import_transformers

    tf = import_transformers()
    vision = dict(
        model_type="sam2_vision_model",
        backbone_config=dict(
            model_type="sam2_hiera_det_model",
            hidden_size=16,
            image_size=[size, size],
            blocks_per_stage=[1, 1, 2, 1],
            embed_dim_per_stage=[16, 32, 64, 128],
            num_attention_heads_per_stage=[1, 1, 1, 1],
            window_size_per_stage=[4, 4, 4, 4],
            global_attention_blocks=[3],  # not the first block of a stage (a pooling block)
            window_positional_embedding_background_size=[4, 4],
            initializer_range=0.1,
        ),
        backbone_channel_list=[128, 64, 32, 16],
        backbone_feature_sizes=[[size // 4] * 2, [size // 8] * 2, [size // 16] * 2],
        fpn_hidden_size=128,
        initializer_range=0.1,
    )
    return tf.Sam2VideoConfig(vision_config=vision, **_tracker_kwargs(size))


def tiny_edgetam_config(size: int = 128) -> Any:
    """An EdgeTamVideoConfig at ``size`` px (a multiple of 64) whose image backbone is a stand-in.

    The backbone is :mod:`vidlabel.segment.hf_standin` (four convolutions, 16-128 channels at strides 4-32,
    the feature maps RepViT gives; registered with transformers here), not RepViT through timm; the rest is
    EdgeTAM's own code, shrunk: a one-layer spatial perceiver of 32 1-D and 16 2-D latents (4 x 4 windows
    over the stride-16 map), a one-layer memory attention."""
    from . import hf_standin
    from .hf_loading import import_transformers

    tf = import_transformers()
    hf_standin.register()
    grid = size // 16
    latents_2d = 16  # a 4 x 4 grid of windows: grid must be a multiple of 4
    side = int(latents_2d**0.5)
    vision = dict(
        model_type="edgetam_vision_model",
        backbone_config=dict(
            model_type=hf_standin.MODEL_TYPE, channels=[16, 32, 64, 128], initializer_range=0.1
        ),
        backbone_channel_list=[128, 64, 32, 16],
        backbone_feature_sizes=[[size // 4] * 2, [size // 8] * 2, [grid] * 2],
        fpn_hidden_size=128,
        initializer_range=0.1,
    )
    tracker = _tracker_kwargs(size)
    tracker["memory_attention_mlp_hidden_size"] = tracker.pop("memory_attention_feed_forward_hidden_size")
    return tf.EdgeTamVideoConfig(
        vision_config=vision,
        memory_attention_rope_k_sizes=[side, side],
        perceiver_resampler_num_latents=32,
        perceiver_resampler_num_latents_2d=latents_2d,
        perceiver_resampler_num_layers=1,
        **tracker,
    )


def tiny_sam3_config(size: int = 112) -> Any:
    """A Sam3VideoConfig (detector + tracker) shrunk to run on a CPU: a two-layer ViT of 14 px patches at
    ``size`` px (a multiple of 112), a one-layer text encoder,
    one-layer DETR encoder and decoder, 20 queries."""
    from .hf_loading import import_transformers

    tf = import_transformers()
    grid = size // 14
    vision = dict(
        model_type="sam3_vision_model",
        backbone_config=dict(
            model_type="sam3_vit_model",
            hidden_size=128,
            intermediate_size=256,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=size,
            patch_size=14,
            window_size=4,
            global_attn_indexes=[1],
            pretrain_image_size=size,
            initializer_range=0.1,
        ),
        fpn_hidden_size=128,
        backbone_feature_sizes=[[grid * 4] * 2, [grid * 2] * 2, [grid] * 2],
        initializer_range=0.1,
    )
    small = dict(num_attention_heads=2, intermediate_size=256, hidden_size=128)
    detector = dict(
        vision_config=vision,
        text_config=dict(
            model_type="clip_text_model",
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=1,
            num_attention_heads=2,
            projection_dim=64,
        ),
        geometry_encoder_config=dict(num_layers=1, **small),
        detr_encoder_config=dict(num_layers=1, **small),
        detr_decoder_config=dict(num_layers=1, num_queries=20, **small),
        mask_decoder_config=dict(hidden_size=128, num_attention_heads=2),
        initializer_range=0.1,
    )
    tracker = _tracker_kwargs(size)
    tracker["prompt_encoder_config"]["patch_size"] = 14
    tracker["memory_attention_rope_feat_sizes"] = [grid, grid]
    return tf.Sam3VideoConfig(detector_config=detector, tracker_config=dict(vision_config=vision, **tracker))


def bias_object_scores(model: Any, bias: float = 2.0) -> None:
    """Add ``bias`` to the object-score head's output so random weights see the object on most frames."""
    import torch

    head = model.mask_decoder.pred_obj_score_head
    with torch.no_grad():
        head.proj_out.bias += bias


def char_tokens(text: str) -> tuple[Any, Any]:
    """(input_ids, attention_mask) made from ``text``'s characters, 32 long with CLIP's start and end
    ids: a tokenizer for random-weight SAM 3 models (no vocabulary is downloaded); different texts give
    different ids. An importable function, so a Ray worker can be given it as ``tokenizer=``."""
    import torch

    body = [(ord(c) * 7) % 1000 for c in text[:30]]
    ids = torch.tensor([[49406, *body] + [49407] * (31 - len(body))])
    return ids, torch.ones_like(ids)
