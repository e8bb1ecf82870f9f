"""Loading transformers video models: the import (without a torchvision that cannot load), the model's kind,
hub ids through huggingface_hub's cache, local folders, random weights from a config, device and dtype.

transformers decides once per process whether torchvision is usable (``transformers.utils.
is_torchvision_available``, an ``lru_cache`` over ``importlib.util.find_spec``; 5.23 has no environment switch
for it) and, if so, imports it with every model class (``modeling_utils`` -> ``image_utils``). A torchvision
built for another torch (a CUDA build beside a CPU torch) then fails with a RuntimeError and takes the model
classes down with it, though the video models never use it. So when a child process cannot import it, we
ask transformers that question while ``sys.modules["torchvision"]`` is None (the import system's documented
marker for "not importable", which ``find_spec`` answers with None), and put the entry back as it was right
after: transformers keeps its cached "no", nothing is patched, torchvision is never imported here, and the
rest of the process sees the installed torchvision exactly as before.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from .hf_timm import needs_timm, require_timm
from .sam2_model import hub_offline, pick_device

if TYPE_CHECKING:
    import torch

__all__ = ["KINDS", "family", "import_transformers", "load_model", "model_classes", "pick_device", "resolve"]

# config.json's model_type -> the family of video model it holds (facts from the transformers 5.23 configs).
KINDS: dict[str, str] = {
    "sam2": "sam2",
    "sam2_video": "sam2",
    "edgetam": "edgetam",
    "edgetam_video": "edgetam",
    "sam3_tracker": "sam3_tracker",
    "sam3_tracker_video": "sam3_tracker",
    "sam3": "sam3",
    "sam3_video": "sam3",
}
# The weights and settings a video model needs from a hub repo (not the other formats some repos carry).
_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model"]


@functools.lru_cache(maxsize=1)
def _torchvision_loads() -> bool:
    if "torchvision" in sys.modules:
        return sys.modules["torchvision"] is not None
    import importlib.util

    if importlib.util.find_spec("torchvision") is None:
        return True  # nothing to hide
    probe = subprocess.run(
        [sys.executable, "-c", "import torchvision"], capture_output=True, timeout=120, check=False
    )
    return probe.returncode == 0


@contextlib.contextmanager
def _unimportable(name: str) -> Iterator[None]:
    """``import name`` and ``find_spec(name)`` act as if it were not installed, inside the block only."""
    had, previous = name in sys.modules, sys.modules.get(name)
    sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if had:
            sys.modules[name] = previous  # type: ignore[assignment]
        else:
            del sys.modules[name]


def import_transformers() -> Any:
    """``transformers``, its torchvision answer settled to "no" if torchvision cannot be imported here."""
    try:
        if _torchvision_loads():
            import transformers
        else:
            with _unimportable("torchvision"):
                import transformers
                from transformers.utils import is_torchvision_available

                is_torchvision_available()  # cached for the process: model classes leave torchvision alone
    except ImportError as e:
        raise ValidationError(
            f"the transformers engines need transformers and torch ({e}): "
            "pip install 'vidlabel[transformers]'"
        ) from e
    return transformers


def model_classes(kind: str, tracker: bool) -> Any:
    """The model class for a family (``tracker``: the point/box/mask tracker, even for SAM 3)."""
    tf = import_transformers()
    if kind == "sam2":
        return tf.Sam2VideoModel
    if kind == "edgetam":
        return tf.EdgeTamVideoModel  # its RepViT backbone needs timm (hf_timm.py)
    if kind == "sam3_tracker" or (kind == "sam3" and tracker):
        return tf.Sam3TrackerVideoModel
    return tf.Sam3VideoModel


def family(config: Any, what: str) -> str:
    model_type = (
        getattr(config, "model_type", None) if not isinstance(config, Mapping) else config.get("model_type")
    )
    kind = KINDS.get(str(model_type))
    if kind is None:
        raise ValidationError(
            f"{what}: model type {model_type!r} is not a SAM-family video model "
            f"(known types: {', '.join(sorted(KINDS))})"
        )
    return kind


def check_before_import(what: str, classes: list[type], options: Mapping[str, Any]) -> None:
    """What can be refused before torch and transformers are imported (seconds): an option none of
    ``classes`` takes, and, looking only in the cache (offline), a model id it does not hold."""
    allowed = {
        p.name
        for cls in classes
        for p in inspect.signature(cls.__init__).parameters.values()  # type: ignore[misc]
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"
    }
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValidationError(
            f"{what} engine: unknown option(s) {', '.join(unknown)}; options are {', '.join(sorted(allowed))}"
        )
    model, offline = options.get("model"), options.get("offline")
    if model is None or options.get("config") is not None:
        return
    try:
        import huggingface_hub as hub
        import huggingface_hub.constants  # a lazy attribute of the package otherwise
    except ImportError as e:
        raise ValidationError(
            f"the transformers engines need transformers, torch and huggingface_hub ({e}): "
            "pip install 'vidlabel[transformers]'"
        ) from e

    if offline or (offline is None and hub_offline(hub)):
        resolve(str(model), what=what, cache_dir=options.get("cache_dir"), offline=offline)


def resolve(model: str, *, what: str, cache_dir: Any = None, offline: bool | None = None) -> pathlib.Path:
    """A local folder holding ``model``: the folder itself, or a hub id's snapshot in the cache.

    ``offline=True`` looks in the cache only; ``None`` follows ``HF_HUB_OFFLINE``. An unreachable hub is found
    out with one request without retries (huggingface_hub's own retries take about 25 s)."""
    path = pathlib.Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValidationError(
                f"{what}: folder {str(path)!r} has no config.json (not a transformers model)"
            )
        return path
    if model.count("/") != 1 or model.startswith((".", "/", "~")):
        raise ValidationError(f"{what}: {model!r} is neither a folder nor a Hugging Face id (owner/name)")
    import huggingface_hub as hub
    import huggingface_hub.constants  # a lazy attribute of the package otherwise

    cache = f"the Hugging Face cache ({cache_dir or hub.constants.HF_HUB_CACHE})"
    advice = "Download it where there is a network (it goes into that cache), or pass a local folder."
    local_only = bool(offline) or (offline is None and hub_offline(hub))

    def cached() -> pathlib.Path | None:
        try:
            return pathlib.Path(
                hub.snapshot_download(
                    model, cache_dir=cache_dir, allow_patterns=_PATTERNS, local_files_only=True
                )
            )
        except Exception:  # not cached (huggingface_hub has several exception types for it)
            return None

    if local_only:
        found = cached()
        if found is None or not (found / "config.json").is_file():
            why = "offline=True" if offline else "HF_HUB_OFFLINE is set"
            raise ValidationError(f"{what}: {model!r} is not in {cache}, and {why}. {advice}")
        return found
    try:
        hub.get_hf_file_metadata(
            hub.hf_hub_url(model, "config.json"), timeout=getattr(hub.constants, "HF_HUB_ETAG_TIMEOUT", 10)
        )
    except Exception as e:  # unreachable, refused, no such repo
        found = cached()
        if found is not None and (found / "config.json").is_file():
            return found
        raise ValidationError(
            f"{what}: {model!r} is not in {cache}, and the hub at {hub.constants.ENDPOINT} could not be "
            f"reached ({type(e).__name__}: {e}). {advice}"
        ) from e
    try:
        return pathlib.Path(hub.snapshot_download(model, cache_dir=cache_dir, allow_patterns=_PATTERNS))
    except Exception as e:
        raise ValidationError(f"{what}: cannot download {model!r} ({type(e).__name__}: {e}). {advice}") from e


def folder_config(folder: pathlib.Path, what: str) -> dict[str, Any]:
    """The folder's ``config.json`` as a dict (read without building a config: a timm backbone's config
    class already needs timm)."""
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise ValidationError(f"{what}: cannot read {str(folder / 'config.json')!r}: {e}") from e
    if not isinstance(config, dict):
        raise ValidationError(f"{what}: {str(folder / 'config.json')!r} is not a JSON object")
    return config


def preprocessing(folder: pathlib.Path | None, kind: str, image_size: int) -> tuple[int, Any, Any]:
    """(input size, mean, std) from the folder's preprocessor config, else the family's defaults."""
    sam3 = kind in ("sam3", "sam3_tracker")
    mean: Any = (0.5, 0.5, 0.5) if sam3 else (0.485, 0.456, 0.406)
    std: Any = (0.5, 0.5, 0.5) if sam3 else (0.229, 0.224, 0.225)
    for name in ("video_preprocessor_config.json", "preprocessor_config.json"):
        if folder is not None and (folder / name).is_file():
            cfg = json.loads((folder / name).read_text())
            mean, std = cfg.get("image_mean", mean), cfg.get("image_std", std)
            break
    return image_size, tuple(float(v) for v in mean), tuple(float(v) for v in std)


def _from_dict(config: Mapping[str, Any], what: str) -> Any:
    fields = dict(config)
    try:
        return import_transformers().AutoConfig.for_model(fields.pop("model_type"), **fields)
    except Exception as e:
        raise ValidationError(f"{what}: config is not a transformers config's to_dict(): {e}") from e


def load_model(
    *,
    what: str,
    tracker: bool,
    model: str | os.PathLike[str] | None,
    config: Any,
    random_weights: bool,
    seed: int,
    device: torch.device,
    dtype: torch.dtype,
    cache_dir: Any,
    offline: bool | None,
) -> tuple[Any, str, pathlib.Path | None]:
    """(model in eval mode on ``device``, family, local folder or None)."""
    import torch

    if (model is None) == (config is None):
        raise ValidationError(
            f"{what}: give model=<Hugging Face id or folder>, or config=<a transformers config> with "
            "random_weights=True (tests, timing)"
        )
    if config is not None:
        if not random_weights:
            raise ValidationError(f"{what}: a config alone builds random weights: pass random_weights=True")
        kind = family(config, what)
        if isinstance(config, Mapping):  # a config's to_dict(): plain data a Ray worker can be given
            config = _from_dict(config, what)
        cls = model_classes(kind, tracker)
        if tracker and kind == "sam3":
            config = config.tracker_config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = cls(config)
        return net.to(device=device, dtype=dtype).eval(), kind, None
    folder = resolve(str(model), what=what, cache_dir=cache_dir, offline=offline)
    saved = folder_config(folder, what)
    kind = family(saved, what)
    if needs_timm(saved):
        require_timm(what, str(model))  # before transformers' own, misleading, ImportError
    cls = model_classes(kind, tracker)
    try:
        net = cls.from_pretrained(str(folder), dtype=dtype)
    except Exception as e:  # a folder whose weights do not match its config, a missing backbone package
        raise ValidationError(f"{what}: cannot load {str(model)!r} as {cls.__name__}: {e}") from e
    return net.to(device).eval(), kind, folder
