"""Mempool expiry (by blocks and by time), drop reasons, and gossip never evicting own-client txs."""

from __future__ import annotations

import pytest

from chain.accounts import nonce_key
from chain.encoding import encode, sha256
from chain.genesis import Genesis, GenesisBalance
from chain.keys import PrivateKey
from chain.params import ChainParams
from chain.state import MemoryState
from chain.transfer import Transfer
from chain.tx import Transaction, sign_transaction
from chain.validators import Validator, ValidatorSet
from node.mempool import AdmissionError, Mempool

CHAIN = "expiry-test"
VALIDATOR = PrivateKey(sha256(b"expiry-validator"))
KEYS = [PrivateKey(sha256(b"expiry-key-%d" % i)) for i in range(6)]
SINK = PrivateKey(sha256(b"expiry-sink")).public_key
MIN_FEE = 10


class FakeClock:
    """A settable monotonic clock (the mempool's only time source)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _state() -> MemoryState:
    genesis = Genesis(
        CHAIN,
        0,
        ChainParams(min_fee=MIN_FEE),
        ValidatorSet.of([Validator(VALIDATOR.public_key, 1)]),
        tuple(GenesisBalance(k.public_key, "AGR", 10**9) for k in KEYS),
    )
    return genesis.initial_state()


def _tx(key: PrivateKey, nonce: int, fee: int = MIN_FEE) -> Transaction:
    return sign_transaction(key, CHAIN, nonce, fee, Transfer(SINK, 1))


def _pool(state: MemoryState, max_txs: int = 1000, **expiry: object) -> Mempool:
    return Mempool(state, CHAIN, ChainParams(min_fee=MIN_FEE), max_txs, 10**7, 8, **expiry)  # type: ignore[arg-type]


def test_a_transaction_pending_too_many_blocks_expires_with_its_later_nonces_and_says_so() -> None:
    pool = _pool(_state(), expiry_blocks=3, height=10)
    old, later = _tx(KEYS[0], 0), _tx(KEYS[0], 1)
    pool.add(old)
    pool.add(later)
    assert pool.on_commit([], height=11) == 0
    pool.add(_tx(KEYS[1], 0))  # admitted at height 11
    assert pool.on_commit([], height=12) == 0 and old.hash in pool
    assert pool.on_commit([], height=13) == 2  # 3 blocks after height 10
    assert old.hash not in pool and later.hash not in pool and len(pool) == 1
    reason, detail = pool.dropped(old.hash) or ("", "")
    assert reason == "expired" and "3 blocks" in detail
    later_reason = pool.dropped(later.hash)
    assert later_reason is not None and later_reason[0] == "expired" and "earlier nonce" in later_reason[1]
    assert pool.on_commit([], height=14) == 1  # KEYS[1]'s, admitted at 11
    pool.add(old)  # resubmitted: pending again, no longer reported dropped
    assert old.hash in pool and pool.dropped(old.hash) is None


def test_a_transaction_pending_too_long_expires_by_time() -> None:
    clock = FakeClock()
    pool = _pool(_state(), expiry_seconds=60, clock=clock)
    first = _tx(KEYS[0], 0)
    pool.add(first)
    clock.now += 30
    second = _tx(KEYS[1], 0)
    pool.add(second)
    clock.now += 29.9
    assert pool.on_commit([]) == 0
    clock.now += 0.2
    assert pool.on_commit([]) == 1
    assert pool.dropped(first.hash) is not None and second.hash in pool


def test_no_expiry_by_default_and_committed_transactions_leave_no_drop_reason() -> None:
    state = _state()
    pool = _pool(state)
    tx = _tx(KEYS[0], 0)
    pool.add(tx)
    for height in range(1, 1000):
        pool.on_commit([], height=height)
    assert tx.hash in pool
    state.apply({nonce_key(KEYS[0].public_key): encode(1)})
    pool.on_commit([tx], height=1000)
    assert tx.hash not in pool and pool.dropped(tx.hash) is None


def test_a_gossiped_transaction_never_evicts_one_accepted_from_a_client() -> None:
    pool = _pool(_state(), max_txs=2)
    own = [_tx(KEYS[0], 0, fee=MIN_FEE), _tx(KEYS[1], 0, fee=MIN_FEE)]
    for tx in own:
        pool.add(tx)  # from the client API (local)
    rich = _tx(KEYS[2], 0, fee=MIN_FEE * 100)
    with pytest.raises(AdmissionError) as info:
        pool.add(rich, local=False)
    assert info.value.reason == "mempool_full"
    results = pool.add_many([rich], [True], local=False)
    assert results[0].error is not None and results[0].error.reason == "mempool_full"
    assert all(tx.hash in pool and pool.is_local(tx.hash) for tx in own)
    pool.add(rich)  # a client's higher fee may still evict: the loser is told so
    gone = [tx for tx in own if tx.hash not in pool]
    assert rich.hash in pool and len(gone) == 1
    assert (pool.dropped(gone[0].hash) or ("",))[0] == "evicted"


def test_a_gossiped_transaction_evicts_the_cheapest_gossiped_one_passing_over_local_ones() -> None:
    pool = _pool(_state(), max_txs=3)
    own = _tx(KEYS[0], 0, fee=MIN_FEE)  # the cheapest, but local
    relayed_cheap = _tx(KEYS[1], 0, fee=MIN_FEE + 1)
    relayed = _tx(KEYS[2], 0, fee=MIN_FEE + 5)
    pool.add(own)
    pool.add_many([relayed_cheap, relayed], [True, True], local=False)
    newcomer = _tx(KEYS[3], 0, fee=MIN_FEE + 3)
    pool.add(newcomer, local=False)
    assert own.hash in pool and relayed.hash in pool and newcomer.hash in pool
    assert relayed_cheap.hash not in pool and not pool.is_local(newcomer.hash)
    with pytest.raises(AdmissionError):  # only gossiped ones cheaper than it are fair game
        pool.add(_tx(KEYS[4], 0, fee=MIN_FEE + 2), local=False)


def test_gossip_eviction_refuses_when_it_would_cascade_into_a_local_later_nonce() -> None:
    pool = _pool(_state(), max_txs=2)
    pool.add(_tx(KEYS[0], 0, fee=MIN_FEE), local=False)  # relayed nonce 0
    own_next = _tx(KEYS[0], 1, fee=MIN_FEE)  # its sender's nonce 1, from our client
    pool.add(own_next)
    with pytest.raises(AdmissionError) as info:
        pool.add(_tx(KEYS[1], 0, fee=MIN_FEE * 10), local=False)
    assert info.value.reason == "mempool_full" and own_next.hash in pool
