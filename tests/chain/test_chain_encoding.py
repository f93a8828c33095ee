"""Canonical encoding: round trips, rejection of every alternative form, field readers."""

from __future__ import annotations

import struct
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.encoding import (
    I64_MIN,
    MAX_DEPTH,
    U64_MAX,
    DecodeError,
    as_bool,
    as_bytes,
    as_int,
    as_list,
    as_str,
    decode,
    decode_uint,
    encode,
    sha256,
)

canonical_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=I64_MIN, max_value=U64_MAX)
    | st.binary(max_size=300)
    | st.text(max_size=300),
    lambda children: st.lists(children, max_size=6),
    max_leaves=30,
)


@given(canonical_values)
@settings(max_examples=300, deadline=None)
def test_round_trip(value: Any) -> None:
    data = encode(value)
    assert decode(data) == value
    assert encode(decode(data)) == data


@given(st.binary(max_size=64))
@settings(max_examples=1500, deadline=None)
def test_arbitrary_bytes_decode_canonically_or_raise_decode_error(data: bytes) -> None:
    try:
        value = decode(data)
    except DecodeError:
        return
    assert encode(value) == data


@given(canonical_values, st.data())
@settings(max_examples=300, deadline=None)
def test_mutated_encodings_decode_canonically_or_raise_decode_error(value: Any, data: st.DataObject) -> None:
    raw = bytearray(encode(value))
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] = data.draw(st.integers(0, 255))
    try:
        decoded = decode(bytes(raw))
    except DecodeError:
        return
    assert encode(decoded) == bytes(raw)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\xcc\x05", "uint8 for a fixint"),
        (b"\xcd\x00\x05", "uint16 for a fixint"),
        (b"\xce\x00\x00\x01\x00", "uint32 for a uint16"),
        (b"\xcf" + (5).to_bytes(8, "big"), "uint64 for a fixint"),
        (b"\xd0\x05", "int8 for a positive fixint"),
        (b"\xd1\xff\xff", "int16 for -1"),
        (b"\xd3" + (1).to_bytes(8, "big", signed=True), "int64 for 1"),
        (b"\xda\x00\x03abc", "str16 for a short string"),
        (b"\xd9\x03abc", "str8 for a fixstr"),
        (b"\xc5\x00\x03abc", "bin16 for a short bin"),
        (b"\xdc\x00\x01\x01", "array16 for a one-item array"),
        (b"\x01\x02", "trailing bytes"),
        (b"\x91", "truncated array"),
        (b"\xa3ab", "truncated string"),
        (b"\xc1", "reserved byte"),
    ],
)
def test_non_canonical_forms_are_rejected(data: bytes, why: str) -> None:
    with pytest.raises(DecodeError):
        decode(data)


def test_bin_for_a_string_decodes_as_bytes_not_str() -> None:
    # A str sent as bin is a different value (bytes): field readers then reject it.
    value = decode(b"\xc4\x03abc")
    assert value == b"abc"
    with pytest.raises(DecodeError):
        as_str(value, "name")


def test_invalid_utf8_is_rejected() -> None:
    with pytest.raises(DecodeError):
        decode(b"\xa2\xff\xfe")


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1},
        {b"k": b"v"},
        {},
        [1, {"nested": True}],
        [[1, [b"x", "y", None, 1.5]]],
        [[[[{}]]], 2],
        1.5,
        0.0,
    ],
)
def test_maps_and_floats_are_rejected(value: object) -> None:
    with pytest.raises(DecodeError):
        decode(msgpack.packb(value, use_bin_type=True))


def test_float32_is_rejected() -> None:
    with pytest.raises(DecodeError):
        decode(b"\xca" + struct.pack(">f", 1.0))


@pytest.mark.parametrize(
    "data",
    [
        b"\xd4\x05\x00",  # fixext1, application type 5
        b"\xc7\x00\x05",  # ext8, empty
        b"\xd6\xff\x00\x00\x00\x01",  # timestamp 32
        b"\xd4\xff\x00",  # malformed timestamp
        b"\xd5\x80\x00\x00",  # negative ext type
    ],
)
def test_extension_types_are_rejected(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(data)


def test_size_limit() -> None:
    data = encode(b"x" * 100)
    assert decode(data, max_size=len(data)) == b"x" * 100
    with pytest.raises(DecodeError, match="exceeds"):
        decode(data, max_size=len(data) - 1)


def test_non_bytes_input_is_rejected() -> None:
    with pytest.raises(DecodeError):
        decode("\x01")  # type: ignore[arg-type]


def test_bytearray_and_memoryview_are_accepted() -> None:
    data = encode([1, b"x", "y"])
    assert decode(bytearray(data)) == [1, b"x", "y"]  # type: ignore[arg-type]
    assert decode(memoryview(data)) == [1, b"x", "y"]  # type: ignore[arg-type]


def _nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def test_nesting_limit() -> None:
    assert decode(encode(_nested(MAX_DEPTH))) == _nested(MAX_DEPTH)
    with pytest.raises(DecodeError, match="deep"):
        decode(encode(_nested(MAX_DEPTH + 1)))
    innermost_empty: Any = []
    for _ in range(MAX_DEPTH + 1):
        innermost_empty = [innermost_empty]
    with pytest.raises(DecodeError, match="deep"):  # an empty list one level too deep
        decode(encode(innermost_empty))
    assert decode(encode(innermost_empty[0])) == innermost_empty[0]
    with pytest.raises(DecodeError):
        decode(b"\x91" * 5000 + b"\x00")  # beyond msgpack's own stack


def test_integer_extremes() -> None:
    for value in (0, 1, -1, 127, 128, -32, -33, 255, 256, 2**32, U64_MAX, I64_MIN):
        assert decode(encode(value)) == value
    # msgpack can carry neither, and encode refuses them.
    with pytest.raises(OverflowError):
        encode(U64_MAX + 1)
    with pytest.raises(OverflowError):
        encode(I64_MIN - 1)


@given(st.integers(min_value=0, max_value=U64_MAX))
@settings(max_examples=300, deadline=None)
def test_decode_uint_reads_every_canonical_unsigned_integer(value: int) -> None:
    assert decode_uint(encode(value)) == value


@given(
    st.binary(max_size=10)
    | st.builds(lambda m, tail: bytes([m]) + tail, st.sampled_from([0xCC, 0xCD, 0xCE, 0xCF]), st.binary(max_size=9))
    | canonical_values.map(encode)
)
@settings(max_examples=600, deadline=None)
def test_decode_uint_answers_only_what_decode_answers(data: bytes) -> None:
    fast = decode_uint(data)
    if fast is not None:
        assert decode(data) == fast and type(decode(data)) is int


def test_decode_uint_leaves_non_canonical_and_other_values_to_decode() -> None:
    for data in (b"\xcc\x05", b"\xcd\x00\xff", b"\xce\x00\x00\xff\xff", b"\xcf" + bytes(4) + b"\xff" * 4, b"", b"\xff"):
        assert decode_uint(data) is None
    assert (
        decode_uint(encode(True)) is None and decode_uint(encode(b"\x01")) is None and decode_uint(b"\x01\x00") is None
    )


def test_bool_and_none_are_distinct_from_ints() -> None:
    assert decode(encode(True)) is True
    assert decode(encode(False)) is False
    assert decode(encode(None)) is None
    assert encode(True) != encode(1)


def test_sha256() -> None:
    assert sha256(b"abc").hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# --- field readers ---------------------------------------------------------------------


def test_as_int() -> None:
    assert as_int(5, "n") == 5
    assert as_int(U64_MAX, "n") == U64_MAX
    assert as_int(-3, "n", lo=-5) == -3
    for bad in (True, False, None, "5", b"5", 5.0, [5]):
        with pytest.raises(DecodeError, match="n: expected an integer"):
            as_int(bad, "n")
    with pytest.raises(DecodeError, match="outside"):
        as_int(-1, "n")
    with pytest.raises(DecodeError, match="outside"):
        as_int(U64_MAX + 1, "n")
    with pytest.raises(DecodeError, match="outside"):
        as_int(11, "n", 0, 10)


def test_as_bool() -> None:
    assert as_bool(True, "flag") is True
    for bad in (1, 0, None, "true", b"\x01"):
        with pytest.raises(DecodeError, match="flag"):
            as_bool(bad, "flag")


def test_as_bytes() -> None:
    assert as_bytes(b"\x00" * 32, "key", size=32) == b"\x00" * 32
    with pytest.raises(DecodeError, match="expected 32 bytes"):
        as_bytes(b"\x00" * 31, "key", size=32)
    with pytest.raises(DecodeError, match="expected 32 bytes"):
        as_bytes(b"\x00" * 33, "key", size=32)
    assert as_bytes(b"abc", "blob", max_len=3) == b"abc"
    with pytest.raises(DecodeError, match="exceeds"):
        as_bytes(b"abcd", "blob", max_len=3)
    for bad in ("abc", bytearray(b"abc"), None, 3, [b"a"]):
        with pytest.raises(DecodeError, match="expected bytes"):
            as_bytes(bad, "blob")


def test_as_str() -> None:
    assert as_str("abc", "name") == "abc"
    assert as_str("é" * 2, "name", max_len=4) == "éé"
    with pytest.raises(DecodeError, match="outside"):
        as_str("é" * 3, "name", max_len=5)  # 6 UTF-8 bytes
    with pytest.raises(DecodeError, match="outside"):
        as_str("", "name", min_len=1)
    for bad in (b"abc", None, 1, ["a"]):
        with pytest.raises(DecodeError, match="expected a string"):
            as_str(bad, "name")


def test_as_list() -> None:
    assert as_list([1, 2], "pair", length=2) == [1, 2]
    with pytest.raises(DecodeError, match="expected 2 fields, got 3"):
        as_list([1, 2, 3], "pair", length=2)
    with pytest.raises(DecodeError, match="exceeds"):
        as_list([0] * 5, "items", max_len=4)
    for bad in ((1, 2), None, b"ab", "ab"):
        with pytest.raises(DecodeError, match="expected a list"):
            as_list(bad, "pair")
