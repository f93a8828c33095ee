"""Canonical msgpack encoding: exactly one byte string per value.

Values are trees of ``int``, ``bytes``, ``str``, ``bool``, ``None`` and ``list``.
Maps and floats are not part of the canonical form: records are encoded as
positional lists. :func:`decode` accepts a byte string only if re-encoding the
decoded value gives back exactly the same bytes, so every alternative encoding
(non-minimal integers, str16 where str8 fits, bin for str, trailing data) is
rejected.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final, TypeAlias

import msgpack

Primitive: TypeAlias = Any
"""A tree of int, bytes, str, bool, None and list (kept as Any for mypy)."""

U64_MAX: Final = 2**64 - 1
I64_MIN: Final = -(2**63)
MAX_DEPTH: Final = 32
DEFAULT_MAX_SIZE: Final = 4 * 1024 * 1024
MEDIA_TYPE: Final = "application/msgpack"
"""The HTTP content type of a body in this encoding (the client API's binary batch)."""


class DecodeError(ValueError):
    """Raised for any byte string that is not the canonical encoding of a valid value."""


def encode(value: Primitive) -> bytes:
    """Return the canonical encoding of ``value`` (a tree of canonical primitives)."""
    return msgpack.packb(value, use_bin_type=True)


def sha256(data: bytes) -> bytes:
    """Return the SHA-256 digest of ``data``."""
    return hashlib.sha256(data).digest()


def _reject_ext(code: int, data: bytes) -> object:
    raise DecodeError(f"msgpack extension type {code} is not allowed")


_LEAVES: Final = frozenset({bytes, str, bool, type(None)})
"""The canonical leaf types besides ``int`` (whose range is checked apart)."""


def _check_tree(value: object, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise DecodeError("value nested too deeply")
    kind = type(value)
    if kind is list:
        _check_items(value, depth + 1)  # type: ignore[arg-type]
    elif kind is int:
        if not I64_MIN <= value <= U64_MAX:  # type: ignore[operator]
            raise DecodeError("integer out of range")
    elif kind not in _LEAVES:
        raise DecodeError(f"type {kind.__name__} is not allowed in canonical encoding")


def _check_items(items: list[object], depth: int) -> None:
    """:func:`_check_tree` of each item of a list, items at ``depth``: the same checks and errors,
    one Python call per list rather than per leaf (a transaction has seven leaves, a block thousands)."""
    if items and depth > MAX_DEPTH:
        raise DecodeError("value nested too deeply")
    for item in items:
        kind = type(item)
        if kind is list:
            _check_items(item, depth + 1)  # type: ignore[arg-type]
        elif kind is int:
            if not I64_MIN <= item <= U64_MAX:  # type: ignore[operator]
                raise DecodeError("integer out of range")
        elif kind not in _LEAVES:
            raise DecodeError(f"type {kind.__name__} is not allowed in canonical encoding")


def decode(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> Primitive:
    """Decode canonical bytes, rejecting oversized, non-canonical or mistyped input.

    Guarantees that ``encode(decode(data)) == data`` for every value returned.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError("expected bytes")
    if len(data) > max_size:
        raise DecodeError(f"message of {len(data)} bytes exceeds the limit of {max_size}")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            ext_hook=_reject_ext,
        )
    except DecodeError:
        raise
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise DecodeError(f"malformed msgpack: {exc}") from None
    _check_tree(value, 0)
    if encode(value) != bytes(data):
        raise DecodeError("non-canonical encoding")
    return value


def encode_uint(value: int) -> bytes:
    """:func:`encode` of a non-negative integer below 2**64, without the msgpack call.

    A fast path for the state's counters; the same bytes as ``encode(value)`` (the smallest
    of positive fixint, uint8, uint16, uint32, uint64), which a hypothesis test checks.
    """
    if value < 0x80:
        return _FIXINT[value]
    if value < 0x100:
        return b"\xcc" + _FIXINT_BYTE[value]
    if value < 0x10000:
        return b"\xcd" + value.to_bytes(2, "big")
    if value < 0x1_0000_0000:
        return b"\xce" + value.to_bytes(4, "big")
    return b"\xcf" + value.to_bytes(8, "big")


_FIXINT: Final = tuple(bytes((i,)) for i in range(0x80))
_FIXINT_BYTE: Final = tuple(bytes((i,)) for i in range(0x100))
_UINT_MIN: Final = {0xCC: (1, 0x80), 0xCD: (2, 0x100), 0xCE: (4, 0x10000), 0xCF: (8, 0x1_0000_0000)}
"""uint8/16/32/64 markers: (payload bytes, the least value that form is canonical for)."""


def decode_uint(data: bytes) -> int | None:
    """The non-negative integer whose canonical encoding is exactly ``data``, else None.

    A fast path for the state's counters: whatever it returns, :func:`decode` returns too;
    for None (another value, or not canonical) the caller falls back to :func:`decode`.
    """
    n = len(data)
    if n == 1:
        first = data[0]
        return first if first < 0x80 else None
    form = _UINT_MIN.get(data[0]) if n else None
    if form is None or n != form[0] + 1:
        return None
    value = int.from_bytes(data[1:], "big")
    return value if value >= form[1] else None


# --- field readers for positional records -------------------------------------------


def as_int(value: object, what: str, lo: int = 0, hi: int = U64_MAX) -> int:
    """Return ``value`` if it is an int (not a bool) within [lo, hi]; else raise DecodeError."""
    if type(value) is not int:
        raise DecodeError(f"{what}: expected an integer")
    if not lo <= value <= hi:
        raise DecodeError(f"{what}: {value} is outside [{lo}, {hi}]")
    return value


def as_bool(value: object, what: str) -> bool:
    """Return ``value`` if it is a bool; else raise DecodeError."""
    if type(value) is not bool:
        raise DecodeError(f"{what}: expected a boolean")
    return value


def as_bytes(value: object, what: str, *, size: int | None = None, max_len: int = 1024) -> bytes:
    """Return ``value`` if it is bytes of exactly ``size`` (or at most ``max_len``) bytes."""
    if type(value) is not bytes:
        raise DecodeError(f"{what}: expected bytes")
    if size is not None and len(value) != size:
        raise DecodeError(f"{what}: expected {size} bytes, got {len(value)}")
    if len(value) > max_len and size is None:
        raise DecodeError(f"{what}: {len(value)} bytes exceeds the limit of {max_len}")
    return value


def as_str(value: object, what: str, *, max_len: int = 256, min_len: int = 0) -> str:
    """Return ``value`` if it is a str whose UTF-8 length is within [min_len, max_len]."""
    if type(value) is not str:
        raise DecodeError(f"{what}: expected a string")
    n = len(value.encode())
    if not min_len <= n <= max_len:
        raise DecodeError(f"{what}: length {n} is outside [{min_len}, {max_len}]")
    return value


def as_list(value: object, what: str, *, length: int | None = None, max_len: int = 1024) -> list[Any]:
    """Return ``value`` if it is a list of exactly ``length`` (or at most ``max_len``) items."""
    if type(value) is not list:
        raise DecodeError(f"{what}: expected a list")
    if length is not None and len(value) != length:
        raise DecodeError(f"{what}: expected {length} fields, got {len(value)}")
    if len(value) > max_len:
        raise DecodeError(f"{what}: {len(value)} items exceeds the limit of {max_len}")
    return value
