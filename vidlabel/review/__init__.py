"""Review what is probably wrong first: quality signals per (frame, entity), the review queue, the
reviewed state, and suggestions of the frames most worth labelling next.

Mixed into Dataset: ``ds.review`` (queue.py), ``ds.mark_reviewed`` (state.py),
``ds.suggest_keyframes`` (keyframes.py). Nothing heavy (OpenCV) is imported until a signal runs.
"""

from __future__ import annotations

from .keyframes import KeyframesMixin
from .queue import ReviewMixin
from .state import ReviewStateMixin
from .weights import SIGNALS, WEIGHTS

__all__ = ["SIGNALS", "WEIGHTS", "KeyframesMixin", "ReviewMixin", "ReviewStateMixin"]
