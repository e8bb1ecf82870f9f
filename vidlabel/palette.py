"""Colours: the DAVIS / PASCAL VOC palette used by index PNGs and for overlays."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np


@lru_cache(maxsize=1)
def davis_palette() -> np.ndarray:
    """The 256x3 uint8 palette of DAVIS annotation PNGs (the PASCAL VOC colour map).

    Index ``i`` spreads its bits over the three channels from the most significant bit down:
    bit 0 of each 3-bit group goes to red, bit 1 to green, bit 2 to blue.
    """
    pal = np.zeros((256, 3), dtype=np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[i] = (r, g, b)
    return pal


def entity_colour(index: int) -> tuple[int, int, int]:
    """Overlay colour of the ``index``-th entity of a sequence (1-based, as DAVIS object ids)."""
    r, g, b = davis_palette()[(index - 1) % 254 + 1]
    return int(r), int(g), int(b)


VOID_COLOUR = (200, 200, 200)  # DAVIS "void" (255) regions are drawn grey


def display_colour(entity: Mapping[str, Any], index: int) -> tuple[int, int, int]:
    """How an entity is drawn: its own ``color`` if a person chose one, grey if void, else the palette's."""
    color = entity.get("color")
    if color:
        return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)
    return VOID_COLOUR if entity.get("void") else entity_colour(index)


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)
