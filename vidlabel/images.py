"""Encoded images: JPEG encoding, decoding that refuses truncated or corrupt files, and the byte-level
checks behind them (JPEG segments, PNG chunks and their CRCs), which Pillow does not do reliably."""

from __future__ import annotations

import io
import zlib

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from .errors import ValidationError

__all__ = ["JPEG_MIME", "decode_image", "encode_jpeg", "jpeg_is_complete", "png_problem", "sniff_mime"]

Frame = npt.NDArray[np.uint8]
JPEG_MIME = "image/jpeg"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_PADDING = b"\x00 \t\r\n"


def encode_jpeg(rgb: Frame, quality: int = 90) -> bytes:
    """JPEG bytes of an HxWx3 uint8 RGB frame (OpenCV: faster than PIL)."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValidationError(f"expected an HxWx3 uint8 RGB array, got {rgb.dtype} {rgb.shape}")
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValidationError(f"JPEG encoding failed for a {rgb.shape} frame")
    return buf.tobytes()


def decode_image(data: bytes, *, name: str = "image data") -> Frame:
    """HxWx3 uint8 RGB from encoded bytes; ValidationError naming ``name`` if corrupt or truncated."""
    # Pillow silently fills truncated images when ImageFile.LOAD_TRUNCATED_IMAGES is set anywhere in
    # the process, so truncation is checked from the byte structure first.
    if data.startswith(b"\xff\xd8") and _jpeg_end(data) < 0:
        raise ValidationError(f"{name} is a truncated or corrupt JPEG (no end-of-image marker)")
    if data.startswith(PNG_SIGNATURE) and (problem := png_problem(data)):
        raise ValidationError(f"{name} is a truncated or corrupt PNG: {problem}")
    try:
        with Image.open(io.BytesIO(data)) as im:
            rgb = im if im.mode == "RGB" else im.convert("RGB")
            frame = np.asarray(rgb, dtype=np.uint8)
    except Exception as e:  # Pillow raises OSError, SyntaxError, ValueError, ... for bad data
        raise ValidationError(f"{name} cannot be decoded as an image: {e}") from e
    return np.ascontiguousarray(frame)


def jpeg_is_complete(data: bytes) -> bool:
    """Cheap passthrough check: starts with SOI and ends with EOI (zero/whitespace padding allowed)."""
    return data.startswith(b"\xff\xd8") and data.rstrip(JPEG_PADDING).endswith(b"\xff\xd9")


def _jpeg_end(data: bytes) -> int:
    """Offset just past the EOI marker found by walking the segments, or -1 if the stream is cut short."""
    if jpeg_is_complete(data):
        return len(data.rstrip(JPEG_PADDING))
    # The slow path only runs for files with bytes after EOI (camera trailers) or truncated ones.
    pos, n = 2, len(data)
    while pos + 1 < n:
        if data[pos] != 0xFF:
            return -1
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker == 0xD9:
            return pos + 2
        elif 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            pos += 2
        else:
            if pos + 4 > n:
                return -1
            pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
            if marker == 0xDA:  # entropy-coded data: FF is stuffed as FF00, RSTn may appear inside
                while True:
                    pos = data.find(b"\xff", pos)
                    if pos < 0 or pos + 1 >= n:
                        return -1
                    nxt = data[pos + 1]
                    if nxt == 0 or 0xD0 <= nxt <= 0xD7:
                        pos += 2
                    elif nxt == 0xFF:
                        pos += 1
                    else:
                        break
    return -1


def png_problem(data: bytes) -> str | None:
    """Why PNG bytes are not a whole PNG (no signature, a bad chunk CRC, cut off before IEND), or None."""
    if not data.startswith(PNG_SIGNATURE):
        return "no PNG signature"
    pos, n = len(PNG_SIGNATURE), len(data)
    while pos + 8 <= n:
        length = int.from_bytes(data[pos : pos + 4], "big")
        end = pos + 12 + length
        if end > n:
            break
        if zlib.crc32(data[pos + 4 : end - 4]) != int.from_bytes(data[end - 4 : end], "big"):
            return f"bad CRC in chunk {data[pos + 4 : pos + 8]!r}"
        if data[pos + 4 : pos + 8] == b"IEND":
            return None
        pos = end
    return "cut off before the IEND chunk"


def sniff_mime(data: bytes) -> str | None:
    """The image type of encoded bytes from their signature (JPEG, PNG), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG_MIME
    if data.startswith(PNG_SIGNATURE):
        return "image/png"
    return None
