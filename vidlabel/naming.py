"""Natural sort order of names, shared by frame files, sequences and entities."""

from __future__ import annotations

import os
import re

_DIGITS = re.compile(r"(\d+)", re.ASCII)


def natural_key(name: str | os.PathLike[str]) -> tuple[tuple[int | str, ...], str]:
    """Sort key that orders digit runs by value, so "2.jpg" < "10.jpg" and "clip/9" < "clip/10"."""
    s = os.fspath(name)
    # re.split with a group alternates text, digits, text, ...: positions never compare int with str
    return tuple(int(p) if k % 2 else p for k, p in enumerate(_DIGITS.split(s))), s
