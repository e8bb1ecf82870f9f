"""The one exception type that bad input raises."""

from __future__ import annotations


class ValidationError(ValueError):
    """Bad input: names what was wrong. The dataset is left exactly as it was."""
