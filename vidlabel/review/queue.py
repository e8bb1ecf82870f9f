"""The review queue: ``ds.review(seq)``, one row per (frame, entity), most suspicious first."""

from __future__ import annotations

from ..annotations import AnnotationsMixin

__all__ = ["ReviewMixin"]


class ReviewMixin(AnnotationsMixin):
    """``review`` (to be built)."""
