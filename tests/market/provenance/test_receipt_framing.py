"""A receipt file whose framing is broken is reported exactly: the part, the field, the byte
offset, what was expected and what was found (not just "the file is malformed")."""

from __future__ import annotations

import pytest

from chain.encoding import encode
from chain.merkle import MerkleProof
from market.provenance.receipt import (
    ReceiptError,
    ReceiptEvent,
    ReceiptItem,
    TraceReceipt,
    locate_framing_fault,
    parse_receipt,
)

KEY = "01/09506000134307/10/zzzz"
HEIGHT = 12_345


def _receipt() -> bytes:
    proof = MerkleProof(0, 1, ())
    event = ReceiptEvent(b"\x01" * 40, b"\x02" * 30, 7, proof, proof)
    item = ReceiptItem(KEY, b"\x03" * 20, b"\x04" * 10, (0,))
    return TraceReceipt(b"genesis", KEY, HEIGHT, (), (event,), (item,)).encode()


def _error(data: bytes) -> ReceiptError:
    with pytest.raises(ReceiptError) as caught:
        parse_receipt(data)
    assert caught.value.reason == "malformed"
    assert "damaged?" not in str(caught.value), "the generic message is only a fallback"
    return caught.value


def test_a_well_formed_file_has_no_framing_fault() -> None:
    data = _receipt()
    assert locate_framing_fault(data) is None
    assert parse_receipt(data).height == HEIGHT


def test_a_truncated_file_names_the_frame_cut_short() -> None:
    data = _receipt()
    error = _error(data[:-1])
    assert str(error) == (
        f"item 0: malformed: field 3 (event indices) at byte {len(data) - 2}: expected a list of event indices, "
        f"found an array (type byte 0x91) that runs past the end of the file at byte {len(data) - 1} "
        "(truncated, or a damaged length)"
    )
    assert "found the end of the file" in str(_error(b""))


def test_trailing_bytes_are_counted() -> None:
    data = _receipt()
    error = _error(data + b"\x00\x00")
    assert (error.where, error.args[0]) == ("file", f"2 bytes follow the end of the receipt at byte {len(data)}")


def test_a_string_that_is_not_utf8_names_its_field_and_bytes() -> None:
    data = _receipt()
    damaged = data.replace(b"zzzz", b"\xffzzz")
    first = data.index(b"zzzz")
    assert damaged.count(b"\xffzzz") == 2
    error = _error(damaged)
    start = first - len(KEY) + 4 - 1  # the string's type byte
    assert error.where == "file"
    where = f"item key at bytes {start}..{start + 1 + len(KEY)}"
    assert str(error).startswith(f"file: malformed: {where}: expected a string")
    assert "utf-8" in str(error)


def test_a_non_canonical_integer_and_a_wrong_type_are_located() -> None:
    data = _receipt()
    canonical = encode(HEIGHT)
    assert data.count(canonical) == 1
    at = data.index(canonical)
    error = _error(data.replace(canonical, b"\xce" + HEIGHT.to_bytes(4, "big")))
    assert str(error) == (
        f"file: malformed: height at bytes {at}..{at + 5}: expected an integer, found an integer (type byte 0xce) "
        "that is not well-formed: non-canonical encoding"
    )
    events = data.index(b"\x91\x95")  # the events list of one, and its event of five fields
    error = _error(data[: events + 1] + b"\x94" + data[events + 2 :])
    assert error.where == "event 0" and f"event 0 at byte {events + 1}: expected an array of 5 fields" in str(error)
    assert "found an array of 4" in str(error)
    wrong = data[:events] + b"\xcb" + data[events + 1 :]  # a float where the events list starts
    error = _error(wrong)
    assert str(error).startswith(f"file: malformed: events at byte {events}: expected an array, found a float")
