"""Blocks and headers on the wire, and begin-block hooks in execution."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import pytest
from chain_testkit import CHAIN_ID, TestChain, double_vote, key, transfer
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.block import ZERO_HASH, Block, Header, decode_block
from chain.encoding import DecodeError, Primitive, decode, encode
from chain.errors import ChainError, InvalidBlock, InvalidTransaction, TxFailure
from chain.execution import TxContext
from chain.params import ChainParams
from chain.transfer import CORE_KINDS
from chain.tx import KindRegistry, KindSpec, decode_transaction, sign_transaction

VALIDATORS = (key(0), key(1), key(2))
ALICE, BOB = key(10), key(11)


@functools.cache
def _shared_chain() -> TestChain:
    """Three committed blocks: transfers, a failed rule, evidence (built once, never changed)."""
    chain = TestChain.create(VALIDATORS, [(ALICE, 10_000), (BOB, 10_000)])
    chain.produce([transfer(ALICE, 0, BOB, 5), transfer(BOB, 0, ALICE, 20_000)])
    chain.produce([], evidence=(double_vote(VALIDATORS[2], 1),))
    chain.produce([transfer(ALICE, 1, BOB, 7, fee=99)])
    return chain


@pytest.fixture
def chain_with_blocks() -> TestChain:
    """The shared three-block chain."""
    return _shared_chain()


def test_header_hash_tracks_every_field() -> None:
    header = Header(CHAIN_ID, 1, 5, *([ZERO_HASH] * 9))
    assert Header.from_wire(decode(encode(header.to_wire()))) == header
    changes: list[dict[str, Any]] = [
        {"chain_id": "x"},
        {"height": 2},
        {"time_ms": 6},
        {"parent_hash": b"\x01" * 32},
        {"tx_root": b"\x01" * 32},
        {"state_root": b"\x01" * 32},
        {"results_root": b"\x01" * 32},
        {"next_validators_hash": b"\x01" * 32},
        {"proposer": b"\x01" * 32},
        {"validators_hash": b"\x01" * 32},
        {"last_commit_hash": b"\x01" * 32},
        {"evidence_hash": b"\x01" * 32},
    ]
    hashes = {header.hash}
    for change in changes:
        changed = replace(header, **change)
        # replace() copies every init field, the old hash included: it must be recomputed.
        assert changed.hash == Header.from_wire(changed.to_wire()).hash
        hashes.add(changed.hash)
    assert len(hashes) == len(changes) + 1
    assert replace(header, hash=b"forged").hash == header.hash


@pytest.mark.parametrize(
    ("index", "value"),
    [(0, ""), (1, 0), (1, -1), (2, "5"), (3, b"\x00" * 31), (7, b"\x00" * 33), (11, None)],
)
def test_malformed_headers_are_rejected(index: int, value: object) -> None:
    wire = Header(CHAIN_ID, 1, 5, *([ZERO_HASH] * 9)).to_wire()
    wire[index] = value
    with pytest.raises(DecodeError):
        Header.from_wire(wire)
    with pytest.raises(DecodeError):
        Header.from_wire(wire[:11])


def test_blocks_round_trip(chain_with_blocks: TestChain) -> None:
    for block in chain_with_blocks.blocks:
        data = block.encode()
        decoded = decode_block(data, CORE_KINDS)
        assert decoded == block and decoded.encode() == data and decoded.hash == block.hash
        assert [t.raw for t in decoded.txs] == [t.raw for t in block.txs]


def test_known_transactions_are_reused_only_for_their_exact_bytes(chain_with_blocks: TestChain) -> None:
    block = chain_with_blocks.blocks[0]
    pending = {tx.hash: tx for tx in block.txs[:1]}
    decoded = decode_block(block.encode(), CORE_KINDS, pending.get)
    assert decoded == block and decoded.txs[0] is block.txs[0] and decoded.txs[1] is not block.txs[1]
    # a lookup that answers with another transaction's object for a hash is never trusted
    liar = {tx.hash: block.txs[1] for tx in block.txs[:1]}
    assert decode_block(block.encode(), CORE_KINDS, liar.get).txs[0].raw == block.txs[0].raw
    # what is not known is still decoded and checked: a malformed transaction is refused
    w = _wire(block)
    with pytest.raises(DecodeError):
        decode_block(encode([w[0], [block.txs[0].raw, b"\x00"], None, []]), CORE_KINDS, pending.get)


def _wire(block: Block) -> list[Any]:
    value = decode(block.encode())
    assert isinstance(value, list)
    return value


def test_malformed_blocks_are_rejected(chain_with_blocks: TestChain) -> None:
    first, second = chain_with_blocks.blocks[0], chain_with_blocks.blocks[1]
    assert first.last_commit is None and second.last_commit is not None
    cases: list[Any] = []
    w = _wire(first)
    cases.append(w[:3])
    cases.append([*w, []])
    cases.append([w[0], w[1], second.last_commit.to_wire(), w[3]])  # height 1 with a certificate
    w2 = _wire(second)
    cases.append([w2[0], w2[1], None, w2[3]])  # height 2 without one
    cases.append([w[0], [b"\x00"], None, []])  # a transaction that is not one
    cases.append([w[0], [decode(first.txs[0].raw)], None, []])  # embedded, not raw bytes
    cases.append([w[0], w[1], None, [[1, 2]]])  # malformed evidence
    cases.append([w[0], "txs", None, []])
    for bad in cases:
        with pytest.raises(DecodeError):
            decode_block(encode(bad), CORE_KINDS)
    with pytest.raises(DecodeError):
        decode_block(first.encode() + b"\x00", CORE_KINDS)


@given(st.data())
@settings(max_examples=400, deadline=None)
def test_mutated_blocks_and_transactions_decode_exactly_or_raise_decode_error(data: st.DataObject) -> None:
    chain = _shared_chain()
    block = data.draw(st.sampled_from(chain.blocks))
    raw = bytearray(block.encode())
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    try:
        decoded = decode_block(bytes(raw), CORE_KINDS)
    except DecodeError:
        pass
    else:
        assert decoded.encode() == bytes(raw)
    tx_raw = bytearray(chain.blocks[0].txs[0].raw)
    position = data.draw(st.integers(0, len(tx_raw) - 1))
    tx_raw[position] = data.draw(st.integers(0, 255))
    try:
        tx = decode_transaction(bytes(tx_raw), CORE_KINDS)
    except DecodeError:
        return
    assert tx.raw == bytes(tx_raw)
    assert encode([tx.chain_id, tx.sender, tx.nonce, tx.fee, tx.kind, tx.body.to_wire(), tx.signature]) == tx.raw


# --- begin-block hooks and custom kinds -----------------------------------------------------------

_COUNTER = b"test/blocks-seen"


def _count_blocks(ctx: TxContext) -> None:
    assert ctx.sender == b"" and ctx.tx_hash == b""
    ctx.state.put_int(_COUNTER, ctx.state.get_int(_COUNTER) + 1)
    ctx.emit("tick", height=ctx.height)


@dataclass(frozen=True, slots=True)
class _Note:
    KIND: ClassVar[str] = "test/note"
    text: str

    def to_wire(self) -> list[Primitive]:
        return [self.text]

    @classmethod
    def from_wire(cls, value: Primitive) -> _Note:
        if type(value) is not list or len(value) != 1 or type(value[0]) is not str:
            raise DecodeError("note: expected [text]")
        return cls(value[0])


def _apply_note(ctx: TxContext, body: _Note) -> None:
    ctx.state.put_value(b"test/note/" + ctx.sender, body.text)
    ctx.emit("note", text=body.text)
    if body.text == "fail":
        raise TxFailure("notes saying fail fail", "note_failed")


def test_hooks_and_custom_kinds_execute_deterministically() -> None:
    registry = CORE_KINDS.merged(KindRegistry.of([KindSpec(_Note, _apply_note)], hooks=[_count_blocks]))
    chain = TestChain.create(VALIDATORS, [(ALICE, 10_000)])
    chain.registry = registry
    note = sign_transaction(ALICE, CHAIN_ID, 0, 10, _Note("hello"))
    failing = sign_transaction(ALICE, CHAIN_ID, 1, 10, _Note("fail"))
    block, result, _ = chain.produce([note, failing])
    assert decode_block(block.encode(), registry) == block
    with pytest.raises(DecodeError, match="unknown transaction kind"):
        decode_block(block.encode(), CORE_KINDS)
    assert [e.type for e in result.block_events] == ["tick"]
    assert [r.code for r in result.receipts] == ["ok", "note_failed"]
    assert result.receipts[1].events == ()  # a failed rule's events are dropped with its writes
    assert chain.state.get(b"test/note/" + ALICE.public_key) == encode("hello")
    chain.produce([])
    assert chain.state.get(_COUNTER) == encode(2)


def test_error_hierarchy() -> None:
    for cls, code in (
        (InvalidTransaction, "invalid_transaction"),
        (TxFailure, "failed"),
        (InvalidBlock, "invalid_block"),
    ):
        err = cls("why")
        assert isinstance(err, ChainError) and err.code == code and err.message == "why"
        assert cls("why", "custom").code == "custom"


def test_params_bounds() -> None:
    assert ChainParams.from_wire(ChainParams().to_wire()) == ChainParams()
    assert ChainParams.from_json(ChainParams(7, 65_536, 0).to_json()) == ChainParams(7, 65_536, 0)
    for bad in ({"max_block_txs": 20_001}, {"max_block_bytes": 65_535}, {"min_fee": 10**12 + 1}):
        with pytest.raises(ValueError):
            ChainParams.from_json(bad)
    with pytest.raises(ValueError):
        ChainParams.from_json({"min_fee": 1.0})
    with pytest.raises(DecodeError):
        ChainParams.from_wire([1, 2])
