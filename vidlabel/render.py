"""A frame with its annotations painted on, as a PIL image (for notebooks, reports, checks)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image, ImageDraw

from .palette import display_colour

if TYPE_CHECKING:
    from .dataset import Dataset


def render_frame(
    ds: Dataset,
    seq: str,
    frame: int,
    *,
    alpha: float = 0.5,
    entities: Iterable[str] | None = None,
    outline: bool = True,
    boxes: bool = True,
    max_width: int | None = None,
) -> Image.Image:
    """Blend each entity's mask in its colour (the DAVIS palette by entity order) over the frame.

    Frames without pixels are drawn on black. ``max_width`` shrinks the result for display.
    """
    info = ds.sequence(seq)
    source = ds.frame_source(seq)
    if source is not None:
        canvas = ds.frame(seq, frame).astype(np.float32)
    else:
        canvas = np.zeros((info["height"], info["width"], 3), np.float32)
    order = ds.entity_ids(seq)
    shown = set(order if entities is None else (ds.entity(e, seq)["id"] for e in entities))
    colours = {}
    for i, eid in enumerate(order, start=1):
        colours[eid] = display_colour(ds.entity(eid), i)
    for eid, mask in ds.masks(seq, frame).items():
        if eid not in shown:
            continue
        colour = np.array(colours[eid], np.float32)
        canvas[mask] = canvas[mask] * (1 - alpha) + colour * alpha
        if outline:
            m8 = mask.astype(np.uint8)
            edge = (m8 - cv2.erode(m8, np.ones((3, 3), np.uint8))).astype(bool)
            canvas[edge] = colour
    image = Image.fromarray(np.clip(canvas + 0.5, 0, 255).astype(np.uint8))
    if boxes:
        draw = ImageDraw.Draw(image)
        for eid, (x, y, w, h) in ds.boxes(seq, frame).items():
            if eid in shown:
                draw.rectangle([x, y, x + w - 1, y + h - 1], outline=colours[eid], width=2)
    if max_width is not None and image.width > max_width:
        size = (max_width, round(image.height * max_width / image.width))
        image = image.resize(size, Image.Resampling.BILINEAR)
    return image
