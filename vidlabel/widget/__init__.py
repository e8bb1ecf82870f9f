"""The Annotator widget (anywidget): frames, overlays, timeline, prompts and propagation in the notebook."""

from __future__ import annotations

from .annotator import Annotator

__all__ = ["Annotator"]
