"""The reviewed state of an (frame, entity): set by a person accepting a frame, kept in the dataset."""

from __future__ import annotations

from ..annotations import AnnotationsMixin

__all__ = ["ReviewStateMixin"]


class ReviewStateMixin(AnnotationsMixin):
    """``mark_reviewed`` and the reads of the reviewed state (to be built)."""
