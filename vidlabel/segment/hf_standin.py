"""A stand-in for EdgeTAM's RepViT image backbone, for tests and benchmarks where timm cannot be used.

transformers builds EdgeTAM's backbone with ``AutoModel.from_config(vision_config.backbone_config)``; for the
released models that config is a ``timm_wrapper`` of RepViT-M1 (``features_only``, four stages), and timm
needs a torchvision that imports with the installed torch. This module registers a small model under its
own ``model_type`` with ``AutoConfig.register`` / ``AutoModel.register`` (transformers' documented way to add
a model), so ``EdgeTamVideoModel(config)`` builds it through the library's own constructor. Only the
backbone stands in: the FPN neck, prompt encoder, mask decoder, memory encoder, spatial perceiver and memory
attention are transformers' EdgeTAM code.

It keeps RepViT's output contract, not its design: four feature maps at strides 4, 8, 16 and 32 with the
channels of ``backbone_channel_list`` (reversed: high resolution first), NCHW, in ``last_hidden_state``. Each
stage is one convolution and a GELU (RepViT's blocks are re-parameterised depthwise convolutions with
squeeze-excite), so its features, and masks, have nothing to do with the real model's.

Import this module only after :func:`vidlabel.segment.hf_loading.import_transformers` (it subclasses
transformers' classes at import).
"""

from __future__ import annotations

import itertools
from typing import Any

import torch

from .hf_loading import import_transformers

_tf = import_transformers()

# After transformers' torchvision answer is settled:
from transformers import PreTrainedConfig, PreTrainedModel  # noqa: E402
from transformers.modeling_outputs import BaseModelOutput  # noqa: E402

__all__ = ["MODEL_TYPE", "StandInBackbone", "StandInBackboneConfig", "register"]

MODEL_TYPE = "vidlabel_standin_backbone"


class StandInBackboneConfig(PreTrainedConfig):
    """``channels``: the four stages' channels, high resolution first (RepViT-M1: 48, 96, 192, 384)."""

    model_type = MODEL_TYPE
    channels: list[int] | None = None
    num_channels: int = 3
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs: Any) -> None:
        self.channels = [48, 96, 192, 384] if self.channels is None else list(self.channels)
        super().__post_init__(**kwargs)


class StandInBackbone(PreTrainedModel):
    """Four strided convolutions: stride 4 (the stem), then 2, 2, 2."""

    config_class = StandInBackboneConfig
    config: StandInBackboneConfig
    main_input_name = "pixel_values"
    base_model_prefix = "backbone"

    def __init__(self, config: StandInBackboneConfig) -> None:
        super().__init__(config)
        c = list(config.channels or [])
        if len(c) != 4:
            raise ValueError(f"the stand-in backbone has four stages, got channels={c}")
        self.stem = torch.nn.Conv2d(config.num_channels, c[0], kernel_size=4, stride=4)
        self.stages = torch.nn.ModuleList(
            torch.nn.Conv2d(a, b, kernel_size=3, stride=2, padding=1) for a, b in itertools.pairwise(c)
        )
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, **kwargs: Any) -> BaseModelOutput:
        x = torch.nn.functional.gelu(self.stem(pixel_values))
        maps = [x]
        for conv in self.stages:
            x = torch.nn.functional.gelu(conv(x))
            maps.append(x)
        # As timm's features_only: a list, high resolution first.
        return BaseModelOutput(last_hidden_state=maps)  # type: ignore[arg-type]


def register() -> None:
    """Make ``model_type = "vidlabel_standin_backbone"`` known to AutoConfig / AutoModel (idempotent)."""
    _tf.AutoConfig.register(MODEL_TYPE, StandInBackboneConfig, exist_ok=True)
    _tf.AutoModel.register(StandInBackboneConfig, StandInBackbone, exist_ok=True)
