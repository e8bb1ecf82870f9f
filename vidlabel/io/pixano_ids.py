"""Ids between vidlabel and Pixano.

Pixano puts ids in URL paths (one REST route per record, entity, ...), so an id holding ``/``, as
vidlabel's entity ids do (``clip/001``), breaks them. :func:`routable` rewrites such an id into one
that routes, reversibly (the original travels beside it, see io.pixano_export).

Pixano derives the ids a source does not give (Pixano 0.8.0, ``pixano/datasets/io/ids.py``): an
8-character prefix naming the namespace (base62 of a 6-byte BLAKE2b digest, left-padded with
``0``), a dash, and base62 of a 16-byte BLAKE2b digest of the parts, each part preceded by its UTF-8
length as 4 big-endian bytes. An entity its importer made from an index-PNG value ``v`` under
``entity_map: auto`` gets the parts ``("ent", "object_<v>")`` in the record's namespace: that is
where Pixano keeps the value, and so the DAVIS object id.
"""

from __future__ import annotations

import hashlib
import re
import string

__all__ = ["derived_id", "index_png_values", "looks_derived", "media_folder", "routable"]

_SAFE = frozenset(string.ascii_letters + string.digits + "_-.")
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_DERIVED = re.compile(r"[0-9A-Za-z]{8}-[0-9A-Za-z]{16,22}")


def routable(value: str) -> str:
    """``value`` if it routes as one URL path segment, else the same id with every other character as
    ``~XX`` (its UTF-8 bytes in hex): ``clip/001`` -> ``clip~2F001``. One-to-one, since ``~`` itself is
    escaped; an id of dots alone (``.``, ``..``) is escaped whole."""
    if value and set(value) <= _SAFE and value.strip("."):
        return value
    only_dots = not value.strip(".")
    return "".join(
        ch if ch in _SAFE and not only_dots else "".join(f"~{b:02X}" for b in ch.encode("utf-8"))
        for ch in value
    )


def media_folder(seq_id: str) -> str:
    """The folder name of a sequence's frames in an export: a digest of its id, short whatever the id
    (a routable id may be three times its length, past what a file system takes in one name), and
    distinct across exports, so that lines of several can be put together."""
    return hashlib.blake2b(seq_id.encode("utf-8"), digest_size=8).hexdigest()


def _base62(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits)) or _BASE62[0]


def derived_id(namespace: str, *parts: str | int) -> str:
    """The id Pixano's importer derives for ``parts`` in ``namespace`` (see the module doc)."""
    prefix = _base62(hashlib.blake2b(namespace.encode("utf-8"), digest_size=6).digest())
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        raw = str(part).encode("utf-8")
        digest.update(len(raw).to_bytes(4, "big") + raw)
    return f"{prefix.rjust(8, _BASE62[0])[:8]}-{_base62(digest.digest())}"


def looks_derived(value: str) -> bool:
    """Whether ``value`` has the shape of an id Pixano derived (not one a person chose)."""
    return bool(_DERIVED.fullmatch(value))


def index_png_values(record_id: str) -> dict[str, int]:
    """Entity id -> pixel value, for the entities Pixano's importer makes from a record's index PNGs."""
    return {derived_id(record_id, "ent", f"object_{v}"): v for v in range(1, 256)}
