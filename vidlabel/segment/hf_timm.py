"""Whether a saved model needs timm (EdgeTAM's RepViT backbone), and a clear error where it cannot be used.

transformers builds a ``timm_wrapper`` backbone only where its ``is_timm_available()`` holds: Pillow,
torchvision and timm all usable. Its own error ("requires the timm library but it was not found") says the
same when timm is installed but the torchvision beside it cannot be imported with this torch, where
``pip install timm`` changes nothing; so we say which of them is missing, and what to install.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

from ..errors import ValidationError

__all__ = ["needs_timm", "require_timm"]


def needs_timm(config: Mapping[str, Any]) -> bool:
    """Whether a ``config.json`` (as a dict) builds a timm backbone: a ``timm_wrapper`` sub-config anywhere,
    or an EdgeTAM vision config without a backbone config (its default is RepViT through timm)."""

    def walk(node: Any) -> bool:
        if isinstance(node, Mapping):
            kind = node.get("model_type")
            if kind == "timm_wrapper":
                return True
            if kind == "edgetam_vision_model" and not node.get("backbone_config"):
                return True
            return any(walk(v) for v in node.values())
        if isinstance(node, list):
            return any(walk(v) for v in node)
        return False

    return walk(config)


def _findable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None  # looks only; imports nothing
    except (ImportError, ValueError):
        return False


def require_timm(what: str, model: str) -> None:
    """Raise a ValidationError naming what is missing when transformers cannot build a timm backbone here.

    Nothing is imported: timm and torchvision are looked for, and transformers' own (cached) answers read."""
    from .hf_loading import import_transformers

    tf = import_transformers()
    import torch

    missing: list[str] = []
    pip: list[str] = []
    torchvision = ""
    if not _findable("timm"):
        missing.append("timm is not installed")
        pip.append("timm")
    if not tf.utils.is_torchvision_available():
        if _findable("torchvision"):
            missing.append(f"the installed torchvision does not import with this torch ({torch.__version__})")
        else:
            missing.append("torchvision is not installed")
        torchvision = f"a torchvision built for torch {torch.__version__} (from the index torch came from)"
    if not tf.utils.is_vision_available():
        missing.append("Pillow is not installed")
        pip.append("pillow")
    if not missing and tf.utils.is_timm_available():
        return
    if not missing:
        missing.append("transformers reports timm unusable")
        pip.append("timm")
    fix = " and ".join(x for x in (f"`pip install {' '.join(pip)}`" if pip else "", torchvision) if x)
    raise ValidationError(
        f"{what}: {model!r} is an EdgeTAM model, whose RepViT image backbone transformers builds with timm "
        f"(which needs torchvision and Pillow), and that cannot be done here: {'; '.join(missing)}. "
        f"Install: {fix}; or use a SAM2 model (facebook/sam2.1-hiera-tiny), which needs none of them."
    )
