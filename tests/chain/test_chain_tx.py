"""Transactions: signing, decoding, tampering, bounds and the kind registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from chain_testkit import CHAIN_ID, key

from chain.encoding import U64_MAX, DecodeError, Primitive, as_list, decode, encode, sha256
from chain.execution import TxContext
from chain.transfer import CORE_KINDS, MAX_MEMO, Transfer
from chain.tx import MAX_TX_BYTES, KindRegistry, KindSpec, decode_transaction, sign_transaction

ALICE, BOB = key(1), key(2)


def _signed() -> bytes:
    tx = sign_transaction(ALICE, CHAIN_ID, 3, 25, Transfer(BOB.public_key, 1000, "AGR", "rent"))
    return tx.raw


def _envelope() -> list[Any]:
    wire = decode(_signed())
    assert isinstance(wire, list)
    return wire


def test_sign_decode_round_trip() -> None:
    tx = sign_transaction(ALICE, CHAIN_ID, 3, 25, Transfer(BOB.public_key, 1000, "AGR", "rent"))
    decoded = decode_transaction(tx.raw, CORE_KINDS)
    assert decoded == tx
    assert decoded.raw == tx.raw and decoded.hash == tx.hash == sha256(tx.raw)
    assert decoded.kind == "transfer"
    assert decoded.sender == ALICE.public_key
    assert decoded.signature_valid()
    from_bytearray = decode_transaction(bytearray(tx.raw), CORE_KINDS)  # type: ignore[arg-type]
    assert type(from_bytearray.raw) is bytes and from_bytearray.raw == tx.raw


@pytest.mark.parametrize(
    ("index", "value"),
    [
        (0, "agora-other"),
        (1, key(3).public_key),
        (2, 4),
        (3, 26),
        (5, [key(2).public_key, 1001, "AGR", "rent"]),
        (5, [key(3).public_key, 1000, "AGR", "rent"]),
        (5, [key(2).public_key, 1000, "XYZ", "rent"]),
        (5, [key(2).public_key, 1000, "AGR", "Rent"]),
        (6, bytes(64)),
    ],
)
def test_tampering_any_field_invalidates_the_signature(index: int, value: Any) -> None:
    wire = _envelope()
    wire[index] = value
    tampered = decode_transaction(encode(wire), CORE_KINDS)
    assert not tampered.signature_valid()
    assert tampered.hash != sha256(_signed())


def test_signature_bit_flips_are_detected() -> None:
    wire = _envelope()
    for bit in range(0, 512, 37):
        sig = bytearray(wire[6])
        sig[bit // 8] ^= 1 << (bit % 8)
        tampered = [*wire[:6], bytes(sig)]
        assert not decode_transaction(encode(tampered), CORE_KINDS).signature_valid()


@pytest.mark.parametrize(
    ("index", "value", "match"),
    [
        (0, "", "chain_id"),
        (0, "x" * 65, "chain_id"),
        (0, b"agora-test", "chain_id"),
        (1, b"\x01" * 31, "sender"),
        (2, -1, "nonce"),
        (2, True, "nonce"),
        (3, "25", "fee"),
        (4, "mint", "unknown transaction kind"),
        (4, "", "kind"),
        (5, [b"\x02" * 32, 0, "AGR", ""], "amount"),
        (5, [b"\x02" * 32, 1, "", ""], "asset"),
        (5, [b"\x02" * 32, 1, "AGR", "m" * (MAX_MEMO + 1)], "memo"),
        (5, [b"\x02" * 32, 1, "AGR"], "transfer"),
        (5, [b"\x02" * 32, 1, "AGR", "", ""], "transfer"),
        (5, [b"\x02" * 33, 1, "AGR", ""], "to"),
        (6, bytes(63), "signature"),
    ],
)
def test_malformed_fields_are_rejected(index: int, value: Any, match: str) -> None:
    wire = _envelope()
    wire[index] = value
    with pytest.raises(DecodeError, match=match):
        decode_transaction(encode(wire), CORE_KINDS)


def test_wrong_field_counts_and_shapes_are_rejected() -> None:
    wire = _envelope()
    for bad in (wire[:6], [*wire, 0], [], wire[0], None):
        with pytest.raises(DecodeError):
            decode_transaction(encode(bad), CORE_KINDS)


def test_non_canonical_bytes_and_trailing_data_are_rejected() -> None:
    raw = _signed()
    with pytest.raises(DecodeError):
        decode_transaction(raw + b"\x00", CORE_KINDS)
    # array16 header for a 7-item array: same value, other bytes
    with pytest.raises(DecodeError):
        decode_transaction(b"\xdc\x00\x07" + raw[1:], CORE_KINDS)


def test_oversize_is_rejected_on_both_sides() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        sign_transaction(ALICE, CHAIN_ID, 0, 10, _Blob(b"x" * MAX_TX_BYTES))
    with pytest.raises(DecodeError, match="exceeds"):
        decode_transaction(b"\x00" * (MAX_TX_BYTES + 1), CORE_KINDS)


def test_u64_extremes_round_trip() -> None:
    tx = sign_transaction(ALICE, CHAIN_ID, U64_MAX, U64_MAX, Transfer(BOB.public_key, U64_MAX))
    decoded = decode_transaction(tx.raw, CORE_KINDS)
    assert decoded.nonce == decoded.fee == decoded.body.amount == U64_MAX
    assert decoded.signature_valid()


@dataclass(frozen=True, slots=True)
class _Blob:
    KIND: ClassVar[str] = "test/blob"
    data: bytes

    def to_wire(self) -> list[Primitive]:
        return [self.data]

    @classmethod
    def from_wire(cls, value: Primitive) -> _Blob:
        (data,) = as_list(value, "blob", length=1)
        if type(data) is not bytes:
            raise DecodeError("blob: expected bytes")
        return cls(data)


@dataclass(frozen=True, slots=True)
class _OtherTransfer:
    KIND: ClassVar[str] = "transfer"

    def to_wire(self) -> list[Primitive]:
        return []

    @classmethod
    def from_wire(cls, value: Primitive) -> _OtherTransfer:
        return cls()


def _noop(ctx: TxContext, body: Any) -> None:
    return None


def _hook(ctx: TxContext) -> None:
    return None


def test_registry_merges_and_refuses_double_registration() -> None:
    blobs = KindRegistry.of([KindSpec(_Blob, _noop)], hooks=[_hook])
    merged = CORE_KINDS.merged(blobs)
    assert set(merged.kinds) == {"transfer", "test/blob"}
    assert merged.begin_block_hooks == (_hook,)
    tx = sign_transaction(ALICE, CHAIN_ID, 0, 10, _Blob(b"hi"))
    assert decode_transaction(tx.raw, merged).body == _Blob(b"hi")
    with pytest.raises(DecodeError, match="unknown transaction kind"):
        decode_transaction(tx.raw, CORE_KINDS)
    with pytest.raises(ValueError, match="registered twice"):
        KindRegistry.of([KindSpec(Transfer, _noop), KindSpec(_OtherTransfer, _noop)])
    with pytest.raises(ValueError, match="registered twice"):
        merged.merged(blobs)
