"""The journal's value codec: plain Python values to bytes and back, exactly and safely.

msgpack for the common kinds (fast, in C) with a small tagged binary format built on ``struct``
for the kinds msgpack has no exact type for (see the fast path at the end), rather than pickle (a
project folder can come from anyone, and unpickling runs code). Each value kind the dataset stores
has its own tag, so tuple stays tuple, bool stays bool, int stays int, bytes stay bytes:

    None, bool, int (any size), float (nan, inf, -0.0 bit for bit), str (lone surrogates too),
    bytes, list, tuple, dict with str keys, datetime (naive, fixed offset or IANA zone; fold kept),
    date, time (naive), timedelta, Decimal.

numpy scalars and subclasses of str/bytes/int/float (IntEnum, np.str_) are stored as their plain
Python value. Decoding trusts nothing: every length is checked against the bytes left before
anything is allocated (memory stays within a small multiple of the encoding's size), nesting is
capped at 64 levels, and any failure is a ValidationError naming the byte offset and what was wrong.
"""

from __future__ import annotations

import datetime as _dt
import struct
import zoneinfo
from decimal import Decimal
from typing import Any

import msgpack

from .errors import ValidationError

__all__ = ["decode_value", "encode_value"]

_MAX_DEPTH = 64
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")
_F64 = struct.Struct("<d")
_DATETIME = struct.Struct("<HBBBBBIB")  # year month day hour minute second microsecond fold
_DATE = struct.Struct("<HBB")
_TIME = struct.Struct("<BBBIB")  # hour minute second microsecond fold
_DELTA = struct.Struct("<iii")  # days seconds microseconds

# tags (one byte each)
_NONE, _TRUE, _FALSE, _INT, _BIGINT, _FLOAT = b"N", b"T", b"F", b"i", b"I", b"f"
_STR, _BYTES, _LIST, _TUPLE, _DICT = b"s", b"b", b"l", b"t", b"d"
_DATETIME_T, _DATE_T, _TIME_T, _DELTA_T, _DECIMAL = b"D", b"a", b"h", b"r", b"c"
# timezone kinds inside a datetime
_TZ_NAIVE, _TZ_FIXED, _TZ_ZONE = 0, 1, 2


def _enc_str(s: str, out: list[bytes]) -> None:
    b = s.encode("utf-8", "surrogatepass")
    out.append(_U32.pack(len(b)))
    out.append(b)


def _enc(v: Any, out: list[bytes], depth: int) -> None:
    t = type(v)
    if v is None:
        out.append(_NONE)
    elif t is bool:
        out.append(_TRUE if v else _FALSE)
    elif t is int:
        if -(2**63) <= v < 2**63:
            out.append(_INT + _I64.pack(v))
        else:
            b = v.to_bytes((v.bit_length() + 8) // 8, "little", signed=True)
            out.append(_BIGINT + _U32.pack(len(b)))
            out.append(b)
    elif t is float:
        out.append(_FLOAT + _F64.pack(v))
    elif t is str:
        out.append(_STR)
        _enc_str(v, out)
    elif t is bytes:
        out.append(_BYTES + _U32.pack(len(v)))
        out.append(v)
    elif t is list or t is tuple:
        if depth >= _MAX_DEPTH:
            raise ValidationError(f"journal: value nested deeper than {_MAX_DEPTH} levels")
        out.append((_LIST if t is list else _TUPLE) + _U32.pack(len(v)))
        for item in v:
            _enc(item, out, depth + 1)
    elif t is dict:
        if depth >= _MAX_DEPTH:
            raise ValidationError(f"journal: value nested deeper than {_MAX_DEPTH} levels")
        out.append(_DICT + _U32.pack(len(v)))
        for k, item in v.items():
            if type(k) is not str:
                raise ValidationError(f"journal: dict keys must be str, got {type(k).__name__} {k!r}")
            _enc_str(k, out)
            _enc(item, out, depth + 1)
    elif t is _dt.datetime:
        out.append(_DATETIME_T)
        out.append(_DATETIME.pack(v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, v.fold))
        _enc_tz(v.tzinfo, out)
    elif t is _dt.date:
        out.append(_DATE_T + _DATE.pack(v.year, v.month, v.day))
    elif t is _dt.time:
        if v.tzinfo is not None:
            raise ValidationError("journal: a time of day with a timezone is not supported")
        out.append(_TIME_T + _TIME.pack(v.hour, v.minute, v.second, v.microsecond, v.fold))
    elif t is _dt.timedelta:
        out.append(_DELTA_T + _DELTA.pack(v.days, v.seconds, v.microseconds))
    elif t is Decimal:
        out.append(_DECIMAL)
        _enc_str(str(v), out)
    else:
        _enc_other(v, out, depth)


def _enc_other(v: Any, out: list[bytes], depth: int) -> None:
    # numpy scalars (np.int64, np.float32, np.bool_, np.str_, ...) are stored as their Python value;
    # found by duck typing so this module does not import numpy
    item = getattr(v, "item", None)
    if callable(item) and type(v).__module__ == "numpy" and getattr(v, "ndim", None) == 0:
        py = item()
        if type(py) is not type(v):
            _enc(py, out, depth)
            return
    # subclasses (IntEnum, np.str_, np.float64 ...) as their base value
    if isinstance(v, str):
        _enc(str(v), out, depth)
    elif isinstance(v, bytes):
        _enc(bytes(v), out, depth)
    elif isinstance(v, int) and not isinstance(v, bool):
        _enc(int(v), out, depth)
    elif isinstance(v, float):
        _enc(float(v), out, depth)
    else:
        raise ValidationError(f"journal: cannot store a value of type {type(v).__name__}: {v!r:.80}")


def _enc_tz(tz: _dt.tzinfo | None, out: list[bytes]) -> None:
    if tz is None:
        out.append(bytes([_TZ_NAIVE]))
    elif type(tz) is _dt.timezone:
        offset = tz.utcoffset(None)
        name = tz.tzname(None)
        default = _dt.timezone(offset).tzname(None)
        out.append(bytes([_TZ_FIXED]) + _I64.pack(offset // _dt.timedelta(microseconds=1)))
        _enc_str("" if name == default else name, out)
    elif type(tz) is zoneinfo.ZoneInfo:
        out.append(bytes([_TZ_ZONE]))
        _enc_str(tz.key, out)
    else:
        raise ValidationError(f"journal: cannot store a datetime with tzinfo of type {type(tz).__name__}")


def _encode_tagged(v: Any) -> bytes:
    out: list[bytes] = []
    _enc(v, out, 0)
    return b"".join(out)


class _Reader:
    """Decodes one buffer; every read is bounds-checked before anything is allocated."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def fail(self, what: str) -> ValidationError:
        return ValidationError(f"journal: undecodable value at byte {self.pos}: {what}")

    def take(self, n: int) -> bytes:
        if n > len(self.buf) - self.pos:
            raise self.fail(f"needs {n} bytes, only {len(self.buf) - self.pos} left")
        b = self.buf[self.pos : self.pos + n]
        self.pos += n
        return b

    def unpack(self, s: struct.Struct) -> tuple:
        if s.size > len(self.buf) - self.pos:
            raise self.fail(f"needs {s.size} bytes, only {len(self.buf) - self.pos} left")
        v = s.unpack_from(self.buf, self.pos)
        self.pos += s.size
        return v

    def count(self) -> int:
        (n,) = self.unpack(_U32)
        if n > len(self.buf) - self.pos:  # every item takes at least one byte
            raise self.fail(f"claims {n} items, only {len(self.buf) - self.pos} bytes left")
        return int(n)

    def string(self) -> str:
        (n,) = self.unpack(_U32)
        try:
            return self.take(n).decode("utf-8", "surrogatepass")
        except UnicodeDecodeError as e:
            raise self.fail(f"invalid UTF-8 ({e.reason})") from None

    def value(self, depth: int) -> Any:
        tag = self.take(1)
        if tag == _NONE:
            return None
        if tag == _TRUE:
            return True
        if tag == _FALSE:
            return False
        if tag == _INT:
            return self.unpack(_I64)[0]
        if tag == _FLOAT:
            return self.unpack(_F64)[0]
        if tag == _STR:
            return self.string()
        if tag == _BYTES:
            (n,) = self.unpack(_U32)
            return bytes(self.take(n))
        if tag in (_LIST, _TUPLE, _DICT):
            if depth >= _MAX_DEPTH:
                raise self.fail(f"nested deeper than {_MAX_DEPTH} levels")
            n = self.count()
            if tag == _DICT:
                d = {}
                for _ in range(n):
                    k = self.string()
                    d[k] = self.value(depth + 1)
                return d
            items = [self.value(depth + 1) for _ in range(n)]
            return items if tag == _LIST else tuple(items)
        if tag == _BIGINT:
            (n,) = self.unpack(_U32)
            return int.from_bytes(self.take(n), "little", signed=True)
        try:
            if tag == _DATETIME_T:
                y, mo, d, h, mi, s, us, fold = self.unpack(_DATETIME)
                return _dt.datetime(y, mo, d, h, mi, s, us, tzinfo=self.tz(), fold=fold)
            if tag == _DATE_T:
                return _dt.date(*self.unpack(_DATE))
            if tag == _TIME_T:
                h, mi, s, us, fold = self.unpack(_TIME)
                return _dt.time(h, mi, s, us, fold=fold)
            if tag == _DELTA_T:
                return _dt.timedelta(*self.unpack(_DELTA))
            if tag == _DECIMAL:
                text = self.string()
                if len(text) > 4096:
                    raise self.fail("decimal longer than 4096 characters")
                return Decimal(text)
        except (ValueError, OverflowError, ArithmeticError) as e:
            if isinstance(e, ValidationError):
                raise
            raise self.fail(f"bad {tag.decode()} value ({e})") from None
        raise self.fail(f"unknown tag {tag!r}")

    def tz(self) -> _dt.tzinfo | None:
        kind = self.take(1)[0]
        if kind == _TZ_NAIVE:
            return None
        if kind == _TZ_FIXED:
            (us,) = self.unpack(_I64)
            name = self.string()
            offset = _dt.timedelta(microseconds=us)
            return _dt.timezone(offset, name) if name else _dt.timezone(offset)
        if kind == _TZ_ZONE:
            key = self.string()
            try:
                return zoneinfo.ZoneInfo(key)
            except Exception as e:  # bad key, missing tz data: either way not a zone we can rebuild
                raise self.fail(f"unknown time zone {key!r:.80} ({type(e).__name__})") from None
        raise self.fail(f"unknown timezone kind {kind}")


def _decode_tagged(buf: bytes) -> Any:
    r = _Reader(buf)
    v = r.value(0)
    if r.pos != len(buf):
        raise r.fail(f"{len(buf) - r.pos} trailing bytes")
    return v


# ---- the fast path --------------------------------------------------------------------------------
# Rows are mostly str, int, float, bytes, None and bool: msgpack (C) packs those ~20x faster than the
# tagged format above. Everything msgpack has no exact type for (tuple, datetime, Decimal, ...) goes
# into an ext value holding the tagged encoding, so exactness is the tagged format's. An int too big
# for msgpack sends the whole value down the tagged path. The first byte says which format follows.
_MSGPACK, _TAGGED = b"M", b"V"
_EXT_TUPLE, _EXT_TAGGED = 1, 2


def _default(v: Any) -> Any:
    if type(v) is tuple:
        return msgpack.ExtType(_EXT_TUPLE, _pack(list(v)))
    return msgpack.ExtType(_EXT_TAGGED, _encode_tagged(v))


def _pack(v: Any) -> bytes:
    return msgpack.packb(v, use_bin_type=True, strict_types=True, default=_default)


def _ext(code: int, data: bytes) -> Any:
    if code == _EXT_TUPLE:
        return tuple(_unpack(data))
    if code == _EXT_TAGGED:
        return _decode_tagged(data)
    raise ValidationError(f"journal: undecodable value (unknown ext kind {code})")


def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, ext_hook=_ext, strict_map_key=True, use_list=True)


def encode_value(v: Any) -> bytes:
    """Encode a plain value (see the module docstring); ValidationError for anything else."""
    try:
        packed = _pack(v)
        # msgpack also takes what the tagged format refuses (dicts with non-str keys, ...): only a
        # value that comes back equal is stored this way, anything else takes the tagged path
        if _unpack(packed) == v:
            return _MSGPACK + packed
    except (OverflowError, ValueError, TypeError, ValidationError):
        pass
    return _TAGGED + _encode_tagged(v)


def decode_value(buf: bytes) -> Any:
    """Decode what encode_value wrote; ValidationError for anything else (never crashes)."""
    buf = bytes(buf)
    head, body = buf[:1], buf[1:]
    if head == _TAGGED:
        return _decode_tagged(body)
    if head != _MSGPACK:
        raise ValidationError("journal: undecodable value (unknown format byte)")
    try:
        return _unpack(body)
    except ValidationError:
        raise
    except Exception as exc:  # msgpack's own errors for bytes that are not what it wrote
        raise ValidationError(f"journal: undecodable value ({type(exc).__name__}: {exc})") from None
