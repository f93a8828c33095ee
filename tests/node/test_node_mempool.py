"""Mempool: admission checks, fee ordering with nonce order, gaps, duplicates, eviction, re-checks."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.accounts import balance_key, get_nonce, nonce_key
from chain.encoding import DecodeError, encode, sha256
from chain.execution import build_block
from chain.genesis import Genesis, GenesisBalance
from chain.keys import PrivateKey
from chain.params import ChainParams
from chain.state import MemoryState, Overlay
from chain.transfer import CORE_KINDS, Transfer
from chain.tx import Transaction, sign_transaction
from chain.validators import Validator, ValidatorSet
from node.mempool import AdmissionError, Mempool, decode_candidate
from node.mempool_reactor import MAX_BATCH_TXS, decode_batch, encode_batch

CHAIN = "mempool-test"
VALIDATOR = PrivateKey(sha256(b"mempool-validator"))
KEYS = [PrivateKey(sha256(b"mempool-key-%d" % i)) for i in range(8)]
SINK = PrivateKey(sha256(b"mempool-sink")).public_key
MIN_FEE = 10


def _state(balance: int = 10**9) -> MemoryState:
    genesis = Genesis(
        CHAIN,
        0,
        ChainParams(min_fee=MIN_FEE),
        ValidatorSet.of([Validator(VALIDATOR.public_key, 1)]),
        tuple(GenesisBalance(k.public_key, "AGR", balance) for k in KEYS),
    )
    return genesis.initial_state()


def _pool(state: MemoryState, max_txs: int = 1000, max_bytes: int = 10**7, gap: int = 8) -> Mempool:
    return Mempool(state, CHAIN, ChainParams(min_fee=MIN_FEE), max_txs, max_bytes, gap)


def _tx(key: PrivateKey, nonce: int, fee: int = MIN_FEE, amount: int = 1, chain: str = CHAIN) -> Transaction:
    return sign_transaction(key, chain, nonce, fee, Transfer(SINK, amount))


def _reason(action: Callable[[], object]) -> str:
    with pytest.raises(AdmissionError) as info:
        action()
    return info.value.reason


def test_admission_refuses_each_bad_transaction_with_its_reason() -> None:
    state = _state()
    pool = _pool(state)
    good = _tx(KEYS[0], 0)
    pool.add(good)
    forged = Transaction(CHAIN, KEYS[1].public_key, 0, MIN_FEE, Transfer(SINK, 1), bytes(64), good.raw, sha256(b"x"))
    state.apply({nonce_key(KEYS[2].public_key): encode(3)})
    poor = PrivateKey(sha256(b"poor"))
    assert _reason(lambda: pool.add(good)) == "duplicate"
    assert _reason(lambda: pool.add(_tx(KEYS[0], 0, fee=MIN_FEE + 1))) == "duplicate"
    assert _reason(lambda: pool.add(_tx(KEYS[1], 0, chain="other"))) == "wrong_chain"
    assert _reason(lambda: pool.add(_tx(KEYS[1], 0, fee=MIN_FEE - 1))) == "fee_too_low"
    assert _reason(lambda: pool.add(forged)) == "bad_signature"
    assert _reason(lambda: pool.add(_tx(KEYS[2], 2))) == "nonce_too_low"
    assert _reason(lambda: pool.add(_tx(KEYS[1], 9))) == "nonce_gap"
    assert _reason(lambda: pool.add(_tx(poor, 0))) == "insufficient_funds"
    assert len(pool) == 1 and pool.get(good.hash) == good


def test_fees_and_amounts_of_pending_transactions_must_be_payable_together() -> None:
    pool = _pool(_state(balance=100))
    pool.add(_tx(KEYS[0], 0, fee=10, amount=30))
    pool.add(_tx(KEYS[0], 1, fee=10, amount=30))
    assert _reason(lambda: pool.add(_tx(KEYS[0], 2, fee=10, amount=11))) == "insufficient_funds"
    pool.add(_tx(KEYS[0], 2, fee=10, amount=10))
    assert len(pool) == 3


def test_decode_candidate_reasons() -> None:
    assert _reason(lambda: decode_candidate(b"\xc1", CORE_KINDS)) == "decode_error"
    assert _reason(lambda: decode_candidate(b"\x00" * (70 * 1024), CORE_KINDS)) == "tx_too_large"
    tx = _tx(KEYS[0], 0)
    unknown = encode([CHAIN, KEYS[0].public_key, 0, 10, "teleport", [], bytes(64)])
    assert _reason(lambda: decode_candidate(unknown, CORE_KINDS)) == "unknown_kind"
    assert decode_candidate(tx.raw, CORE_KINDS) == tx


def test_select_orders_by_fee_and_keeps_each_senders_nonces_in_order() -> None:
    pool = _pool(_state())
    a0, a1, a2 = _tx(KEYS[0], 0, fee=10), _tx(KEYS[0], 1, fee=100), _tx(KEYS[0], 2, fee=5000)
    b0, b1 = _tx(KEYS[1], 0, fee=50), _tx(KEYS[1], 1, fee=20)
    c0 = _tx(KEYS[2], 0, fee=30)
    for tx in (a2, a1, b1, c0, a0, b0):
        pool.add(tx)
    chosen = pool.select(100, 10**7)
    assert chosen == [b0, c0, b1, a0, a1, a2]
    assert pool.select(2, 10**7) == [b0, c0]
    assert pool.select(100, len(b0.raw)) == [b0]


def test_gaps_are_admitted_but_not_proposable_until_filled() -> None:
    pool = _pool(_state())
    t2 = _tx(KEYS[0], 2)
    t1 = _tx(KEYS[0], 1)
    pool.add(t2)
    pool.add(t1)
    assert not pool.has_proposable()
    assert pool.select(10, 10**7) == []
    assert pool.pending_nonce(KEYS[0].public_key, 0) == 0
    t0 = _tx(KEYS[0], 0)
    pool.add(t0)
    assert pool.has_proposable()
    assert pool.select(10, 10**7) == [t0, t1, t2]
    assert pool.pending_nonce(KEYS[0].public_key, 0) == 3


def test_full_pool_evicts_lowest_fee_or_refuses() -> None:
    pool = _pool(_state(), max_txs=3)
    low = _tx(KEYS[0], 0, fee=11)
    mid = _tx(KEYS[1], 0, fee=20)
    mid2 = _tx(KEYS[2], 0, fee=30)
    for tx in (low, mid, mid2):
        pool.add(tx)
    assert _reason(lambda: pool.add(_tx(KEYS[3], 0, fee=11))) == "mempool_full"
    better = _tx(KEYS[3], 0, fee=40)
    pool.add(better)
    assert len(pool) == 3
    assert low.hash not in pool and better.hash in pool


def test_evicting_a_nonce_evicts_its_successors() -> None:
    pool = _pool(_state(), max_txs=3)
    a0, a1 = _tx(KEYS[0], 0, fee=11), _tx(KEYS[0], 1, fee=90)
    b0 = _tx(KEYS[1], 0, fee=50)
    for tx in (a0, a1, b0):
        pool.add(tx)
    pool.add(_tx(KEYS[2], 0, fee=60))
    assert a0.hash not in pool and a1.hash not in pool
    assert len(pool) == 2


def test_byte_bound_is_enforced() -> None:
    first = _tx(KEYS[0], 0, fee=20)
    pool = _pool(_state(), max_bytes=len(first.raw) * 2 + 10)
    pool.add(first)
    pool.add(_tx(KEYS[1], 0, fee=20))
    assert _reason(lambda: pool.add(_tx(KEYS[2], 0, fee=15))) == "mempool_full"
    assert pool.size_bytes <= pool.max_bytes


def test_recheck_after_commit_drops_included_and_invalidated() -> None:
    state = _state(balance=10**6)
    pool = _pool(state)
    a0, a1, a2 = _tx(KEYS[0], 0), _tx(KEYS[0], 1), _tx(KEYS[0], 2)
    b0, b1 = _tx(KEYS[1], 0), _tx(KEYS[1], 1)
    for tx in (a0, a1, a2, b0, b1):
        pool.add(tx)
    # a block includes a0 and a1; meanwhile B's balance drops to what pays one transaction only
    block, result, _ = build_block(state, CORE_KINDS, None, bytes(32), CHAIN, 1, VALIDATOR.public_key, [a0, a1], None)
    state.apply(result.writes)
    state.apply({balance_key(KEYS[1].public_key, "AGR"): encode(MIN_FEE + 1)})
    dropped = pool.on_commit(block.txs, [KEYS[1].public_key])
    assert dropped == 3
    assert a2.hash in pool and b0.hash in pool and b1.hash not in pool
    assert pool.select(10, 10**7) == [a2, b0] or pool.select(10, 10**7) == [b0, a2]
    # a transaction whose nonce the chain has passed is dropped too
    state.apply({nonce_key(KEYS[0].public_key): encode(5)})
    pool.on_commit([], [KEYS[0].public_key])
    assert a2.hash not in pool


def test_batch_admission_uses_precomputed_signature_results() -> None:
    pool = _pool(_state())
    txs = [_tx(KEYS[0], 0), _tx(KEYS[1], 0), _tx(KEYS[0], 0)]
    results = pool.add_many(txs, [True, False, True])
    assert [r.accepted for r in results] == [True, False, False]
    assert results[1].error is not None and results[1].error.reason == "bad_signature"
    assert results[2].error is not None and results[2].error.reason == "duplicate"


def test_gossip_batches_decode_only_what_is_not_pending_and_still_refuse_malformed_ones() -> None:
    pool = _pool(_state())
    pending, fresh = _tx(KEYS[0], 0), _tx(KEYS[1], 0)
    pool.add(pending, signature_checked=True)
    assert decode_batch(encode_batch([pending.raw, fresh.raw]), CORE_KINDS, pool) == (frozenset(), [fresh])
    assert decode_batch(encode_batch([pending.raw, fresh.raw]), CORE_KINDS) == (frozenset(), [pending, fresh])
    for bad in ([pending.raw, b"\xc1"], [fresh.raw[:-1]], [pending.raw] * (MAX_BATCH_TXS + 1)):
        with pytest.raises(DecodeError):
            decode_batch(encode_batch(bad), CORE_KINDS, pool)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3), st.integers(MIN_FEE, 40), st.booleans()), max_size=40))
def test_random_admissions_and_commits_keep_proposals_valid(ops: list[tuple[int, int, int, bool]]) -> None:
    """Whatever was admitted and committed, what the pool proposes is a valid block."""
    state = _state(balance=200)
    pool = _pool(state, max_txs=8, gap=3)
    parent = None
    for who, ahead, fee, commit in ops:
        key = KEYS[who]
        base = get_nonce(Overlay(state), key.public_key)
        with contextlib.suppress(AdmissionError):
            pool.add(_tx(key, base + ahead, fee=fee, amount=50))
        assert len(pool) <= 8
        chosen = pool.select(5, 10**7)
        assert pool.has_proposable() == bool(chosen)
        if commit:
            block, result, rejected = build_block(
                state,
                CORE_KINDS,
                parent,
                bytes(32),
                CHAIN,
                (parent.time_ms + 1) if parent else 1,
                VALIDATOR.public_key,
                chosen,
                None,
            )
            assert rejected == []
            state.apply(result.writes)
            pool.on_commit(block.txs, [])
            parent = block.header
            for tx in block.txs:
                assert tx.hash not in pool
