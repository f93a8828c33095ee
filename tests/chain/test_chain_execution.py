"""Block execution: fees, receipts, envelope checks, limits and header validation."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

import pytest
from chain_testkit import CHAIN_ID, MIN_FEE, TestChain, commit_for, double_vote, genesis_json, key, transfer

from chain.accounts import balance_key, fees_key, get_balance, get_nonce, get_supply
from chain.block import ZERO_HASH, Block, decode_block, evidence_root, tx_root
from chain.encoding import U64_MAX, DecodeError, Primitive, decode, encode
from chain.errors import InvalidBlock, InvalidTransaction
from chain.execution import (
    EVIDENCE_PREFIX,
    BlockBuilder,
    Event,
    Receipt,
    TxContext,
    build_block,
    execute_block,
    results_root,
)
from chain.genesis import genesis_from_json
from chain.state import MemoryState, Overlay
from chain.transfer import CORE_KINDS, Transfer
from chain.tx import sign_transaction
from chain.votes import Commit

V0, V1, V2, V3 = key(0), key(1), key(2), key(3)
ALICE, BOB, CAROL = key(10), key(11), key(12)
VALIDATORS = (V0, V1, V2, V3)


def _chain(**balances: int) -> TestChain:
    owners = {"alice": ALICE, "bob": BOB, "carol": CAROL}
    return TestChain.create(VALIDATORS, [(owners[name], amount) for name, amount in balances.items()])


def _view(chain: TestChain) -> Overlay:
    return Overlay(chain.state)


def _builder(chain: TestChain, proposer: bytes = V1.public_key) -> BlockBuilder:
    height = 1 if chain.head is None else chain.head.height + 1
    return BlockBuilder(chain.state, CORE_KINDS, CHAIN_ID, height, 10**13, proposer)


def test_transfer_happy_path_pays_the_fee_to_the_proposer() -> None:
    chain = _chain(alice=1_000, bob=50)
    tx = transfer(ALICE, 0, BOB, 300, fee=25)
    block, result, rejected = chain.produce([tx], proposer=V2)
    assert rejected == [] and block.txs == (tx,)
    (receipt,) = result.receipts
    assert receipt.ok and receipt.code == "ok" and receipt.fee == 25 and receipt.tx_hash == tx.hash
    assert receipt.events == (
        Event("transfer", (("sender", ALICE.public_key), ("to", BOB.public_key), ("amount", 300), ("asset", "AGR"))),
    )
    view = _view(chain)
    assert get_balance(view, ALICE.public_key) == 1_000 - 300 - 25
    assert get_balance(view, BOB.public_key) == 350
    assert get_balance(view, V2.public_key) == 25
    assert get_nonce(view, ALICE.public_key) == 1
    assert get_nonce(view, BOB.public_key) == 0
    assert get_supply(view) == 1_050


def test_sending_everything_deletes_the_balance_key() -> None:
    chain = _chain(alice=110)
    chain.produce([transfer(ALICE, 0, BOB, 100)])
    assert chain.state.get(balance_key(ALICE.public_key, "AGR")) is None
    assert get_balance(_view(chain), BOB.public_key) == 100


def test_proposer_may_spend_fees_it_earned_in_the_same_block() -> None:
    chain = _chain(alice=1_000)
    txs = [transfer(ALICE, 0, BOB, 1, fee=500), transfer(V1, 0, CAROL, 400, fee=100)]
    _, result, rejected = chain.produce(txs, proposer=V1)
    assert rejected == [] and all(r.ok for r in result.receipts)
    view = _view(chain)
    assert get_balance(view, V1.public_key) == 500 - 400 - 100 + 100
    assert get_balance(view, CAROL.public_key) == 400


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (Transfer(BOB.public_key, 10_000), "insufficient_funds"),
        (Transfer(BOB.public_key, U64_MAX), "insufficient_funds"),
        (Transfer(ALICE.public_key, 5), "self_transfer"),
        (Transfer(BOB.public_key, 5, "GOLD"), "insufficient_funds"),
    ],
)
def test_a_failing_rule_changes_only_fee_and_nonce(body: Transfer, code: str) -> None:
    chain = _chain(alice=1_000, bob=7)
    before = dict(chain.state.items())
    tx = sign_transaction(ALICE, CHAIN_ID, 0, 30, body)
    block, result, rejected = chain.produce([tx], proposer=V3)
    assert rejected == [] and block.txs == (tx,)
    (receipt,) = result.receipts
    assert not receipt.ok and receipt.code == code and receipt.message and receipt.events == ()
    assert set(result.writes) == {
        balance_key(ALICE.public_key, "AGR"),
        balance_key(V3.public_key, "AGR"),
        b"nonce/" + ALICE.public_key,
        fees_key("AGR"),
    }
    after = dict(chain.state.items())
    assert decode(after[balance_key(ALICE.public_key, "AGR")]) == 970
    assert decode(after[balance_key(V3.public_key, "AGR")]) == 30
    assert decode(after[b"nonce/" + ALICE.public_key]) == 1
    assert {k: v for k, v in after.items() if k not in result.writes} == {
        k: v for k, v in before.items() if k not in result.writes
    }


def test_credit_overflow_fails_the_rule_without_effect() -> None:
    chain = _chain(alice=1_000)
    chain.state.apply({balance_key(BOB.public_key, "AGR"): encode(U64_MAX - 5)})
    _, result, _ = chain.produce([transfer(ALICE, 0, BOB, 6)])
    assert result.receipts[0].code == "overflow"
    assert get_balance(_view(chain), BOB.public_key) == U64_MAX - 5
    assert get_balance(_view(chain), ALICE.public_key) == 1_000 - MIN_FEE


@dataclass(frozen=True, slots=True)
class _Unregistered:
    KIND: ClassVar[str] = "test/unregistered"

    def to_wire(self) -> list[Primitive]:
        return []

    @classmethod
    def from_wire(cls, value: Primitive) -> _Unregistered:
        return cls()


def _invalid_cases() -> list[tuple[str, Any, str]]:
    good = transfer(ALICE, 0, BOB, 5, fee=20)
    forged = replace(good, signature=bytes(64))
    other_body = replace(good, body=Transfer(BOB.public_key, 6))
    return [
        ("wrong chain", sign_transaction(ALICE, "agora-other", 0, 20, Transfer(BOB.public_key, 5)), "wrong_chain"),
        ("bad signature", forged, "bad_signature"),
        ("signature of another body", other_body, "bad_signature"),
        ("signed by someone else", replace(good, sender=BOB.public_key), "bad_signature"),
        ("nonce gap", transfer(ALICE, 1, BOB, 5, fee=20), "nonce_gap"),
        ("fee too low", transfer(ALICE, 0, BOB, 5, fee=MIN_FEE - 1), "fee_too_low"),
        ("cannot pay fee", transfer(ALICE, 0, BOB, 5, fee=1_001), "insufficient_fee_funds"),
        ("fee at u64 max", transfer(ALICE, 0, BOB, 5, fee=U64_MAX), "insufficient_fee_funds"),
        ("poor sender", transfer(CAROL, 0, BOB, 5, fee=20), "insufficient_fee_funds"),
        ("unknown kind", sign_transaction(ALICE, CHAIN_ID, 0, 20, _Unregistered()), "unknown_kind"),
    ]


@pytest.mark.parametrize(("name", "tx", "code"), _invalid_cases(), ids=[c[0] for c in _invalid_cases()])
def test_invalid_transactions_change_nothing(name: str, tx: Any, code: str) -> None:
    chain = _chain(alice=1_000, bob=1_000)
    builder = _builder(chain)
    with pytest.raises(InvalidTransaction) as info:
        builder.apply_tx(tx)
    assert info.value.code == code
    assert builder.txs == [] and builder.receipts == [] and builder.tx_bytes == 0
    assert dict(builder.finish().writes) == {}
    # The proposer leaves it out and says why; the block is otherwise normal.
    block, result, rejected = chain.build([tx, transfer(ALICE, 0, BOB, 5, fee=20)])
    assert [(t, e.code) for t, e in rejected] == [(tx, code)]
    assert len(block.txs) == 1 and result.receipts[0].ok


def test_nonce_too_low_after_inclusion_and_replay() -> None:
    chain = _chain(alice=1_000)
    first = transfer(ALICE, 0, BOB, 5)
    chain.produce([first])
    block, _, rejected = chain.build([first])
    assert block.txs == () and [e.code for _, e in rejected] == ["nonce_too_low"]
    builder = _builder(chain)
    builder.apply_tx(transfer(ALICE, 1, BOB, 5))
    with pytest.raises(InvalidTransaction, match="nonce 1, expected 2"):
        builder.apply_tx(transfer(ALICE, 1, BOB, 5))


def test_fee_credit_overflow_is_invalid_and_changes_nothing() -> None:
    chain = _chain(alice=1_000)
    chain.state.apply({balance_key(V1.public_key, "AGR"): encode(U64_MAX - 5)})
    builder = _builder(chain, V1.public_key)
    with pytest.raises(InvalidTransaction) as info:
        builder.apply_tx(transfer(ALICE, 0, BOB, 5, fee=10))
    assert info.value.code == "overflow"
    assert dict(builder.finish().writes) == {}


def test_sequential_nonces_in_one_block() -> None:
    chain = _chain(alice=1_000)
    txs = [transfer(ALICE, n, BOB, 1) for n in range(5)]
    block, result, rejected = chain.produce([txs[0], txs[2], txs[1], txs[3], txs[4]])
    # Candidates are taken in the given order: nothing is reordered to close a gap.
    assert [t.nonce for t in block.txs] == [0, 1] and len(result.receipts) == 2
    assert [(t.nonce, e.code) for t, e in rejected] == [(2, "nonce_gap"), (3, "nonce_gap"), (4, "nonce_gap")]
    assert get_nonce(_view(chain), ALICE.public_key) == 2
    block, _, rejected = chain.produce(txs)
    assert [t.nonce for t in block.txs] == [2, 3, 4]
    assert [e.code for _, e in rejected] == ["nonce_too_low", "nonce_too_low"]
    assert get_nonce(_view(chain), ALICE.public_key) == 5


def test_block_tx_count_limit() -> None:
    doc = genesis_json(VALIDATORS, [(ALICE, 10_000)], max_block_txs=3)
    chain = TestChain(genesis_from_json(doc), VALIDATORS)
    txs = [transfer(ALICE, n, BOB, 1) for n in range(5)]
    builder = BlockBuilder(chain.state, CORE_KINDS, CHAIN_ID, 1, 10**13, V1.public_key)
    for tx in txs[:3]:
        assert builder.has_room(tx)
        builder.apply_tx(tx)
    assert not builder.has_room(txs[3])
    with pytest.raises(InvalidTransaction) as info:
        builder.apply_tx(txs[3])
    assert info.value.code == "block_full"
    block, _, rejected = chain.build(txs)
    assert block.txs == tuple(txs[:3]) and rejected == []
    # A follower refuses a block over the limit even if its header is otherwise consistent.
    other = TestChain(genesis_from_json(genesis_json(VALIDATORS, [(ALICE, 10_000)], max_block_txs=4)), VALIDATORS)
    big, _, _ = other.build(txs[:4])
    assert len(big.txs) == 4
    with pytest.raises(InvalidBlock) as err:
        chain.execute(_tampered(big, parent_hash=chain.genesis.hash))
    assert err.value.code == "bad_transaction" and "block is full" in err.value.message


def test_block_byte_limit() -> None:
    limit = 64 * 1024
    doc = genesis_json(VALIDATORS, [(ALICE, 10**9)], max_block_bytes=limit)
    chain = TestChain(genesis_from_json(doc), VALIDATORS)
    memo = "m" * 256
    txs = [sign_transaction(ALICE, CHAIN_ID, n, 10, Transfer(BOB.public_key, 1, "AGR", memo)) for n in range(200)]
    block, _, _ = chain.produce(txs)
    size = sum(len(t.raw) for t in block.txs)
    assert 0 < len(block.txs) < 200
    assert size <= limit < size + len(txs[len(block.txs)].raw)


def test_build_and_execute_agree_and_blocks_round_trip() -> None:
    chain = _chain(alice=10_000, bob=10_000)
    for height in range(1, 6):
        txs = [transfer(ALICE, height - 1, BOB, height * 7), transfer(BOB, height - 1, CAROL, 3, fee=11 + height)]
        block, result, _ = chain.build(txs)
        decoded = decode_block(block.encode(), CORE_KINDS)
        assert decoded == block and decoded.hash == block.hash and decoded.encode() == block.encode()
        assert chain.execute(decoded) == result
        chain.apply(block, result)
    assert chain.head is not None and chain.head.height == 5


def test_an_empty_block_keeps_the_state_root() -> None:
    chain = _chain(alice=10)
    block, result, _ = chain.produce([])
    assert result.writes == {} and result.receipts == ()
    assert block.header.state_root == chain.genesis.state_root
    assert block.header.results_root == results_root((), ())


def test_receipt_and_event_wire_round_trip() -> None:
    chain = _chain(alice=1_000)
    _, result, _ = chain.produce([transfer(ALICE, 0, BOB, 5), transfer(ALICE, 1, ALICE, 5)])
    for receipt in result.receipts:
        assert Receipt.from_wire(decode(encode(receipt.to_wire()))) == receipt
    with pytest.raises(DecodeError):
        Event.from_wire(["transfer", [["amount", None]]])
    with pytest.raises(DecodeError):
        Event.from_wire(["transfer", [["amount", [1]]]])


# --- header validation ------------------------------------------------------------------


@pytest.fixture
def two_blocks() -> tuple[TestChain, Block]:
    """A chain at height 1 and a valid (uncommitted) block 2 with transactions and fees."""
    chain = _chain(alice=10_000, bob=500)
    chain.produce([transfer(ALICE, 0, BOB, 100)])
    block, _, _ = chain.build([transfer(ALICE, 1, CAROL, 50, fee=40), transfer(BOB, 0, CAROL, 20)], proposer=V2)
    chain.execute(block)  # valid as built
    return chain, block


def _tampered(block: Block, **changes: Any) -> Block:
    return replace(block, header=replace(block.header, **changes))


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"height": 3}, "bad_height"),
        ({"height": 1}, "bad_height"),
        ({"parent_hash": ZERO_HASH}, "bad_parent"),
        ({"time_ms": 0}, "bad_time"),
        ({"tx_root": ZERO_HASH}, "bad_tx_root"),
        ({"state_root": ZERO_HASH}, "bad_state_root"),
        ({"results_root": ZERO_HASH}, "bad_results_root"),
        ({"next_validators_hash": ZERO_HASH}, "bad_next_validators"),
        ({"proposer": key(99).public_key}, "bad_proposer"),
        ({"proposer": V3.public_key}, "bad_state_root"),  # the fees would go elsewhere
        ({"validators_hash": ZERO_HASH}, "bad_validators"),
        ({"last_commit_hash": ZERO_HASH}, "bad_last_commit"),
        ({"evidence_hash": ZERO_HASH}, "bad_evidence_root"),
        ({"chain_id": "agora-other"}, "wrong_chain"),
    ],
)
def test_execute_block_rejects_every_tampered_header_field(
    two_blocks: tuple[TestChain, Block], changes: dict[str, Any], code: str
) -> None:
    chain, block = two_blocks
    bad = _tampered(block, **changes)
    assert bad.hash != block.hash
    with pytest.raises(InvalidBlock) as info:
        chain.execute(bad)
    assert info.value.code == code


def test_time_must_advance(two_blocks: tuple[TestChain, Block]) -> None:
    chain, block = two_blocks
    assert chain.head is not None
    with pytest.raises(InvalidBlock, match="time"):
        chain.execute(_tampered(block, time_ms=chain.head.time_ms))


def test_execute_block_rejects_tampered_bodies(two_blocks: tuple[TestChain, Block]) -> None:
    chain, block = two_blocks
    assert chain.head is not None
    cases: list[tuple[Block, str]] = [
        (replace(block, txs=block.txs[::-1]), "bad_tx_root"),
        (replace(block, txs=block.txs[:1]), "bad_tx_root"),
        (replace(block, last_commit=None), "bad_last_commit"),
        (replace(block, last_commit=None, header=replace(block.header, last_commit_hash=ZERO_HASH)), "bad_last_commit"),
        (replace(block, last_commit=commit_for(block.header, VALIDATORS)), "bad_last_commit"),
        (replace(block, evidence=(double_vote(V0, 1),)), "bad_evidence_root"),
    ]
    for bad, code in cases:
        with pytest.raises(InvalidBlock) as info:
            chain.execute(bad)
        assert info.value.code == code
    # A commit for the wrong parent, even with a matching header field.
    wrong = commit_for(block.header, VALIDATORS)
    with pytest.raises(InvalidBlock) as info:
        chain.execute(replace(block, last_commit=wrong, header=replace(block.header, last_commit_hash=wrong.hash())))
    assert info.value.code == "bad_last_commit"


def test_a_block_with_an_invalid_transaction_is_rejected(two_blocks: tuple[TestChain, Block]) -> None:
    chain, block = two_blocks
    forged = replace(transfer(ALICE, 1, CAROL, 50, fee=40), signature=bytes(64))
    bad = replace(block, txs=(forged,), header=replace(block.header, tx_root=tx_root([forged])))
    with pytest.raises(InvalidBlock) as info:
        chain.execute(bad)
    assert info.value.code == "bad_transaction"


def test_first_block_must_name_the_genesis_chain() -> None:
    chain = _chain(alice=1_000)
    # A block 1 built for another chain id over this genesis, carrying that chain's transactions.
    foreign_tx = sign_transaction(ALICE, "agora-other", 0, 10, Transfer(BOB.public_key, 5))
    block, _, rejected = build_block(
        chain.state,
        CORE_KINDS,
        None,
        chain.genesis.hash,
        "agora-other",
        10**13,
        V1.public_key,
        [foreign_tx],
        None,
    )
    assert rejected == [] and block.txs == (foreign_tx,)
    with pytest.raises(InvalidBlock) as info:
        chain.execute(block)
    assert info.value.code == "wrong_chain"
    # Without chain_id the old, weaker check applies (documented: callers should pass it).
    execute_block(chain.state, CORE_KINDS, block, None, chain.genesis.hash)


def test_first_block_needs_genesis_parent_and_no_commit() -> None:
    chain = _chain(alice=1_000)
    block, _, _ = chain.build([])
    with pytest.raises(InvalidBlock) as info:
        chain.execute(_tampered(block, parent_hash=chain.genesis.state_root))
    assert info.value.code == "bad_parent"
    fake_commit = commit_for(block.header, VALIDATORS)
    with pytest.raises(InvalidBlock):
        chain.execute(replace(block, last_commit=fake_commit))
    # Even a "certificate" of the genesis itself, committed to in the header, is refused at height 1.
    genesis_commit = Commit(1, 0, chain.genesis.hash, ())
    with pytest.raises(InvalidBlock) as info:
        chain.execute(
            replace(
                block, last_commit=genesis_commit, header=replace(block.header, last_commit_hash=genesis_commit.hash())
            )
        )
    assert info.value.code == "bad_last_commit"


# --- evidence ----------------------------------------------------------------------------


def test_evidence_is_recorded_and_a_duplicate_is_rejected() -> None:
    chain = _chain(alice=1_000)
    evidence = double_vote(V3, 1)
    block, result, _ = chain.produce([], evidence=(evidence,))
    assert decode_block(block.encode(), CORE_KINDS).evidence == (evidence,)
    stored = chain.state.get(EVIDENCE_PREFIX + evidence.hash())
    assert stored is not None and decode(stored) == [1, evidence.to_wire()]
    assert [e.type for e in result.block_events] == ["evidence"]
    assert result.block_events[0].get("validator") == V3.public_key
    with pytest.raises(InvalidBlock) as info:
        chain.build([], evidence=(evidence,))
    assert info.value.code == "duplicate_evidence"
    with pytest.raises(InvalidBlock) as info:
        chain.build([], evidence=(double_vote(V2, 4), double_vote(V2, 4)))
    assert info.value.code == "duplicate_evidence"
    # A follower refuses a block that repeats committed evidence.
    follower_block, _, _ = chain.build([])
    repeat = replace(
        follower_block,
        evidence=(evidence,),
        header=replace(follower_block.header, evidence_hash=evidence_root((evidence,))),
    )
    with pytest.raises(InvalidBlock) as info:
        chain.execute(repeat)
    assert info.value.code == "duplicate_evidence"


def test_fake_evidence_is_rejected_by_builder_and_follower() -> None:
    chain = _chain(alice=1_000)
    outsider = double_vote(key(99), 1)
    with pytest.raises(InvalidBlock) as info:
        chain.build([], evidence=(outsider,))
    assert info.value.code == "bad_evidence"


def test_execute_needs_state() -> None:
    chain = _chain(alice=1_000)
    block, _, _ = chain.build([])
    with pytest.raises(InvalidBlock) as info:
        execute_block(MemoryState(), CORE_KINDS, block, None, chain.genesis.hash)
    assert info.value.code == "no_state"


def test_txcontext_emit_keeps_attribute_order() -> None:
    ctx = TxContext(Overlay(MemoryState()), CHAIN_ID, 1, 0, b"", b"", b"")
    ctx.emit("x", b=1, a="2")
    assert ctx.events == [Event("x", (("b", 1), ("a", "2")))]


# --- app hash and state overlays -------------------------------------------------------------


def test_overlay_isolation_and_merge() -> None:
    base = MemoryState({b"k": encode(5), b"gone": encode(1)})
    block = Overlay(base)
    tx = block.child()
    tx.put_int(b"k", 6)
    tx.delete(b"gone")
    tx.put_value(b"list", [1, b"x"])
    assert block.get_int(b"k") == 5 and tx.get_int(b"k") == 6
    assert tx.get(b"gone") is None and block.get(b"gone") == encode(1)
    tx.merge_into(block)
    assert block.get_int(b"k") == 6 and block.get_value(b"list") == [1, b"x"] and block.get(b"gone") is None
    assert base.get(b"k") == encode(5)  # nothing reaches committed state until applied
    base.apply(block.writes)
    assert list(base.items()) == [(b"k", encode(6)), (b"list", encode([1, b"x"]))]


def test_overlay_integers_are_u64_and_zero_deletes() -> None:
    overlay = Overlay(MemoryState({b"s": encode("text")}))
    overlay.put_int(b"n", 0)
    assert overlay.writes == {b"n": None} and overlay.get_int(b"n") == 0
    overlay.put_int(b"n", U64_MAX)
    assert overlay.get_int(b"n") == U64_MAX
    for bad in (-1, U64_MAX + 1):
        with pytest.raises(OverflowError):
            overlay.put_int(b"n", bad)
    with pytest.raises(ValueError):
        overlay.get_int(b"s")
