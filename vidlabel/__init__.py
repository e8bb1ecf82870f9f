"""vidlabel: video object segmentation annotation in the notebook.

Nothing heavy is imported here: torch and sam2 load only with the SAM2 engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .dataset import Change, Dataset
from .errors import ValidationError
from .project import open_project as open

__version__ = "0.1.0"

__all__ = [
    "Annotator",
    "Change",
    "Dataset",
    "ValidationError",
    "__version__",
    "demo",
    "metrics",
    "open",
    "read_coco",
    "read_davis",
    "read_pixano",
    "read_youtube_vos",
    "rle",
    "segment",
]

if TYPE_CHECKING:
    from . import demo, metrics, rle, segment
    from .io.coco import read_coco
    from .io.davis import read_davis
    from .io.pixano import read_pixano
    from .io.youtube_vos import read_youtube_vos
    from .widget import Annotator

_LAZY = {
    "Annotator": (".widget", "Annotator"),
    "demo": (".demo", None),
    "metrics": (".metrics", None),
    "rle": (".rle", None),
    "segment": (".segment", None),
    "read_davis": (".io.davis", "read_davis"),
    "read_pixano": (".io.pixano", "read_pixano"),
    "read_coco": (".io.coco", "read_coco"),
    "read_youtube_vos": (".io.youtube_vos", "read_youtube_vos"),
}


def __getattr__(name: str) -> Any:
    # Submodules load on first use so that `import vidlabel` stays cheap.
    if name in _LAZY:
        import importlib

        module_name, attr = _LAZY[name]
        module = importlib.import_module(module_name, __name__)
        return module if attr is None else getattr(module, attr)
    raise AttributeError(f"module 'vidlabel' has no attribute {name!r}")
