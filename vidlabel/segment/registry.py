"""Engines by name: ``register`` (what each engine module calls), ``available`` and ``load``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError

if TYPE_CHECKING:
    from .base import Engine

__all__ = ["available", "load", "register"]

_ENGINES: dict[str, Callable[..., Engine]] = {}


def register(name: str, factory: Callable[..., Engine]) -> None:
    """Make an engine loadable by name: ``factory(**options)`` returns an Engine."""
    _ENGINES[name] = factory


def available() -> list[str]:
    """Names that ``load`` accepts."""
    return sorted(_ENGINES)


def load(name: str, **options: Any) -> Engine:
    """Load a segmentation engine by name: ``"sam2"`` (needs the ``[sam2]`` extra) or ``"flow"``."""
    if not isinstance(name, str) or name not in _ENGINES:
        raise ValidationError(f"segment.load: unknown engine {name!r}; engines are {', '.join(available())}")
    return _ENGINES[name](**options)
