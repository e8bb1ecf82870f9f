"""vidlabel: video object segmentation annotation in the notebook.

Nothing heavy is imported here: torch and sam2 load only with the SAM2 engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .dataset import Change, Dataset
from .errors import ValidationError
from .project import open_project as open

__version__ = "0.1.0"

if TYPE_CHECKING:  # what type checkers see of the names below (`as` marks a re-export)
    from . import batch as batch
    from . import demo as demo
    from . import metrics as metrics
    from . import rle as rle
    from . import segment as segment
    from .io.coco import read_coco as read_coco
    from .io.davis import read_davis as read_davis
    from .io.pixano import read_pixano as read_pixano
    from .io.pixano_library import read_pixano_library as read_pixano_library
    from .io.youtube_vos import read_youtube_vos as read_youtube_vos
    from .widget import Annotator as Annotator

# The public API loaded on first use. A name added here is in `__all__`, `dir(vidlabel)` and tab
# completion; its import above gives it a type (without it, type checkers see `Any`).
_LAZY = {
    "Annotator": (".widget", "Annotator"),
    "batch": (".batch", None),
    "demo": (".demo", None),
    "metrics": (".metrics", None),
    "rle": (".rle", None),
    "segment": (".segment", None),
    "read_davis": (".io.davis", "read_davis"),
    "read_pixano": (".io.pixano", "read_pixano"),
    "read_pixano_library": (".io.pixano_library", "read_pixano_library"),
    "read_coco": (".io.coco", "read_coco"),
    "read_youtube_vos": (".io.youtube_vos", "read_youtube_vos"),
}

__all__ = ["Change", "Dataset", "ValidationError", "__version__", "open", *_LAZY]


def __getattr__(name: str) -> Any:
    # Submodules load on first use so that `import vidlabel` stays cheap.
    if name in _LAZY:
        import importlib

        module_name, attr = _LAZY[name]
        module = importlib.import_module(module_name, __name__)
        return module if attr is None else getattr(module, attr)
    raise AttributeError(f"module 'vidlabel' has no attribute {name!r}")


def __dir__() -> list[str]:
    # Tab completion offers the public API, lazy names included, not the typing helpers or submodules.
    return sorted(__all__)
