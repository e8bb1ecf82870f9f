"""Segmentation engines behind one protocol: ``load("sam2", ...)``, ``load("flow")``, and the
baselines they are measured against, ``load("copy")`` and ``load("warp")`` (``baselines.py``).

>>> eng = load("flow")                       # no weights, CPU
>>> sess = eng.session(ds, seq)              # one session per sequence
>>> mask, score = sess.prompt(0, bear, points=[(320, 200)])
>>> sess.propagate_into(start=0, direction="forward")   # one undo step

``load("transformers", model="facebook/sam2.1-hiera-tiny")`` runs SAM2, EdgeTAM or the SAM 3 tracker
through Hugging Face transformers (``hf_session.py``); ``load("sam3", model="facebook/sam3")`` adds text
prompts, ``session.find("person", frame=0)`` (``sam3_find.py``).

Engines register themselves here by name; torch, sam2 and transformers are imported only when an
engine that needs them is loaded.
"""

from __future__ import annotations

from typing import Any

from .base import (
    CancelToken,
    Engine,
    Pass,
    Prompt,
    PropagationReport,
    Result,
    Session,
    available,
    load,
    register,
)

__all__ = [
    "CancelToken",
    "Engine",
    "Pass",
    "Prompt",
    "PropagationReport",
    "Result",
    "Session",
    "available",
    "load",
    "register",
]


def _load_sam2(**options: Any) -> Engine:
    from ..errors import ValidationError

    try:
        import sam2  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        raise ValidationError(
            f"the sam2 engine needs torch and sam2 ({e}): pip install 'vidlabel[sam2]'; "
            "the 'flow' engine needs neither"
        ) from e
    from .sam2 import SAM2Engine

    return SAM2Engine(**options)


def _load_transformers(**options: Any) -> Engine:
    from .hf_loading import check_before_import, import_transformers
    from .hf_session import TrackerEngine

    check_before_import("transformers", [TrackerEngine], options)
    import_transformers()  # a clear ValidationError when transformers or torch is missing
    return TrackerEngine(**options)


def _load_sam3(**options: Any) -> Engine:
    from .hf_loading import check_before_import, import_transformers
    from .hf_session import TrackerEngine
    from .sam3_find import SAM3Engine

    check_before_import("sam3", [SAM3Engine, TrackerEngine], options)
    import_transformers()
    return SAM3Engine(**options)


def _load_flow(**options: Any) -> Engine:
    from .flow import FlowEngine

    return FlowEngine(**options)


def _load_copy(**options: Any) -> Engine:
    from .baselines import CopyEngine

    return CopyEngine(**options)


def _load_warp(**options: Any) -> Engine:
    from .baselines import WarpEngine

    return WarpEngine(**options)


register("sam2", _load_sam2)
register("transformers", _load_transformers)
register("sam3", _load_sam3)
register("flow", _load_flow)
register("copy", _load_copy)
register("warp", _load_warp)
