"""SAM2 models from the ``sam2`` package: the device, the model built from its config, checkpoints from a
local file or the Hugging Face hub (loaded with ``weights_only=True``, never unpickling untrusted data)."""

from __future__ import annotations

import os
import pathlib
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError

if TYPE_CHECKING:
    import torch

__all__ = ["MODELS", "build_model", "hf_checkpoint", "hub_offline", "load_checkpoint", "pick_device"]

# Hugging Face model ids -> (config in the sam2 package, checkpoint file in the repo); facts from the
# model cards of the facebook/sam2* repositories.
MODELS: dict[str, tuple[str, str]] = {
    "facebook/sam2-hiera-tiny": ("configs/sam2/sam2_hiera_t.yaml", "sam2_hiera_tiny.pt"),
    "facebook/sam2-hiera-small": ("configs/sam2/sam2_hiera_s.yaml", "sam2_hiera_small.pt"),
    "facebook/sam2-hiera-base-plus": ("configs/sam2/sam2_hiera_b+.yaml", "sam2_hiera_base_plus.pt"),
    "facebook/sam2-hiera-large": ("configs/sam2/sam2_hiera_l.yaml", "sam2_hiera_large.pt"),
    "facebook/sam2.1-hiera-tiny": ("configs/sam2.1/sam2.1_hiera_t.yaml", "sam2.1_hiera_tiny.pt"),
    "facebook/sam2.1-hiera-small": ("configs/sam2.1/sam2.1_hiera_s.yaml", "sam2.1_hiera_small.pt"),
    "facebook/sam2.1-hiera-base-plus": ("configs/sam2.1/sam2.1_hiera_b+.yaml", "sam2.1_hiera_base_plus.pt"),
    "facebook/sam2.1-hiera-large": ("configs/sam2.1/sam2.1_hiera_l.yaml", "sam2.1_hiera_large.pt"),
}

# The overrides SAM2's build_sam2_video_predictor applies for video ("apply_postprocessing").
_VIDEO_OVERRIDES: dict[str, Any] = {
    "model._target_": "sam2.sam2_video_predictor.SAM2VideoPredictor",
    "model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability": True,
    "model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta": 0.05,
    "model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh": 0.98,
    "model.binarize_mask_from_pts_for_mem_enc": True,
    "model.fill_hole_area": 8,
}


def pick_device(device: Any = None, what: str = "sam2") -> torch.device:
    """CUDA, then Apple's MPS, then the CPU (or the device asked for)."""
    import torch

    if device is not None:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as e:
            raise ValidationError(f"{what}: unknown device {device!r}") from e
        mps = getattr(torch.backends, "mps", None)
        if (dev.type == "cuda" and not torch.cuda.is_available()) or (
            dev.type == "mps" and (mps is None or not mps.is_available())
        ):
            raise ValidationError(f"{what}: device {device!r} is not available on this machine")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _config_path(config: str) -> pathlib.Path:
    import sam2

    path = pathlib.Path(config).expanduser()
    if path.is_file():
        return path
    package = pathlib.Path(sam2.__file__).parent
    for candidate in (package / config, package / "configs" / config, package / "configs" / f"{config}.yaml"):
        if candidate.is_file():
            return candidate
    found = sorted(str(p.relative_to(package)) for p in (package / "configs").rglob("*.yaml"))
    raise ValidationError(f"sam2: config {config!r} not found; the sam2 package has {', '.join(found)}")


def build_model(config: str, image_size: int | None, device: torch.device) -> Any:
    """A SAM2VideoPredictor with random weights from a config (package name or YAML file)."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(_config_path(config))
    overrides = dict(_VIDEO_OVERRIDES)
    if image_size is not None:
        if not isinstance(image_size, int) or image_size < 64 or image_size % 32:
            raise ValidationError(
                f"sam2: image_size must be a multiple of 32 (e.g. 256, 512, 1024), got {image_size!r}"
            )
        overrides["model.image_size"] = image_size
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value, force_add=True)
    OmegaConf.resolve(cfg)
    try:
        model = instantiate(cfg.model, _recursive_=True)
    except Exception as e:  # hydra wraps whatever the constructor raised
        raise ValidationError(f"sam2: config {config!r} does not build a SAM2 model: {e}") from e
    return model.to(device).eval()


def load_checkpoint(model: Any, checkpoint: str | os.PathLike[str]) -> None:
    """Load a SAM2 checkpoint (a dict with a "model" state dict) safely, or say exactly what is wrong."""
    import torch

    path = pathlib.Path(checkpoint).expanduser()
    if not path.is_file():
        raise ValidationError(f"sam2: checkpoint {str(path)!r} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)  # never unpickle code
    except Exception as e:
        raise ValidationError(f"sam2: checkpoint {str(path)!r} cannot be read as a weights file: {e}") from e
    state = data.get("model", data) if isinstance(data, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValidationError(
            f"sam2: checkpoint {str(path)!r} holds no state dict (expected {{'model': ...}})"
        )
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:

        def few(keys: list[str]) -> str:
            return ", ".join(keys[:4]) + (f" (+{len(keys) - 4} more)" if len(keys) > 4 else "")

        parts = ([f"{len(missing)} weights missing: {few(missing)}"] if missing else []) + (
            [f"{len(unexpected)} unexpected: {few(unexpected)}"] if unexpected else []
        )
        raise ValidationError(
            f"sam2: checkpoint {str(path)!r} does not match the config ({'; '.join(parts)}); "
            "is it for another model size?"
        )
    try:
        model.load_state_dict(state)
    except RuntimeError as e:  # size mismatches
        raise ValidationError(f"sam2: checkpoint {str(path)!r} does not match the config: {e}") from e


def hub_offline(hub: Any) -> bool:
    # huggingface_hub reads HF_HUB_OFFLINE once, at import; a variable set later counts too.
    env = (os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or "").upper()
    return env in {"1", "ON", "YES", "TRUE"} or bool(getattr(hub.constants, "HF_HUB_OFFLINE", False))


def hf_checkpoint(model_id: str, *, cache_dir: Any = None, offline: bool | None = None) -> tuple[str, str]:
    """(config, local checkpoint path) for a Hugging Face model id, from the cache or the hub.

    ``offline=True`` looks in the cache only; ``None`` follows ``HF_HUB_OFFLINE``. A hub that cannot
    be reached is found out with one request: the cached file is used then, or the error comes at once.
    """
    if model_id not in MODELS:
        raise ValidationError(f"sam2: unknown model id {model_id!r}; known ids are {', '.join(MODELS)}")
    config, filename = MODELS[model_id]
    try:
        import huggingface_hub as hub
        import huggingface_hub.constants  # a lazy attribute of the package otherwise
    except ImportError as e:
        raise ValidationError("sam2: model ids need huggingface_hub: pip install 'vidlabel[sam2]'") from e
    where = f"{filename} of {model_id!r}"
    cache = f"the Hugging Face cache ({cache_dir or hub.constants.HF_HUB_CACHE})"
    advice = (
        "Download it where there is a network (it goes into that cache), or pass "
        "checkpoint=<path to the .pt> and config=<its yaml>."
    )
    cached = hub.try_to_load_from_cache(model_id, filename, cache_dir=cache_dir)
    cached = cached if isinstance(cached, str) else None
    why_offline = "offline=True" if offline else "HF_HUB_OFFLINE is set" if offline is None else ""
    if offline or (offline is None and hub_offline(hub)):
        if cached is None:
            raise ValidationError(f"sam2: {where} is not in {cache}, and {why_offline}. {advice}")
        return config, cached
    # One request, no retries, before the download: huggingface_hub retries a failed connection with
    # backoff (about 25 s) before it gives up, even where nothing is listening.
    try:
        hub.get_hf_file_metadata(
            hub.hf_hub_url(model_id, filename), timeout=getattr(hub.constants, "HF_HUB_ETAG_TIMEOUT", 10)
        )
    except Exception as e:  # unreachable, refused, no such file: the hub has many exception types
        if cached is not None:
            return config, cached
        raise ValidationError(
            f"sam2: {where} is not in {cache}, and the hub at {hub.constants.ENDPOINT} could not be "
            f"reached ({type(e).__name__}: {e}). {advice}"
        ) from e
    try:
        path = hub.hf_hub_download(repo_id=model_id, filename=filename, cache_dir=cache_dir)
    except Exception as e:
        raise ValidationError(f"sam2: cannot download {where} ({type(e).__name__}: {e}). {advice}") from e
    return config, path
