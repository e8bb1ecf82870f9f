"""What to label next: ``ds.suggest_keyframes(seq, k)``."""

from __future__ import annotations

from ..annotations import AnnotationsMixin

__all__ = ["KeyframesMixin"]


class KeyframesMixin(AnnotationsMixin):
    """``suggest_keyframes`` (to be built)."""
