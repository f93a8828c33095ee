"""The remembered reasons of dropped transactions stay within their byte bound (traced memory),
and the newest drops are still answered with their reason once older ones are forgotten."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from chain.encoding import sha256
from chain.genesis import Genesis, GenesisBalance
from chain.keys import PrivateKey
from chain.params import ChainParams
from chain.state import MemoryState
from chain.transfer import Transfer
from chain.tx import sign_transaction
from chain.validators import Validator, ValidatorSet
from node.mempool import DROPPED_MAX_BYTES, DroppedReasons, Mempool

CHAIN = "dropped-bound"
VALIDATOR = PrivateKey(sha256(b"dropped-validator"))
KEYS = [PrivateKey(sha256(b"dropped-key-%d" % i)) for i in range(40)]
SINK = PrivateKey(sha256(b"dropped-sink")).public_key
SHARED = ("nonce_used", "another transaction with this nonce was committed")


def _hash(i: int) -> bytes:
    return sha256(i.to_bytes(8, "big"))


def _traced_fill(max_bytes: int, entries: int, own_detail_every: int) -> tuple[DroppedReasons, int]:
    """Fill a fresh DroppedReasons with ``entries`` drops; return it and the memory it holds (traced)."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        dropped = DroppedReasons(max_bytes)
        for i in range(entries):
            if own_detail_every and i % own_detail_every == 0:
                reason = ("expired", f"pending since height {i}, 3 blocks (limit 3); send it again")
            else:
                reason = SHARED
            dropped.add(_hash(i), reason)
        held = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    return dropped, held


@pytest.mark.parametrize(("max_bytes", "own_detail_every"), [(1 << 20, 0), (1 << 20, 1), (3 << 20, 2)])
def test_filling_past_the_bound_keeps_the_real_memory_within_it(max_bytes: int, own_detail_every: int) -> None:
    entries = 60_000
    dropped, held = _traced_fill(max_bytes, entries, own_detail_every)
    assert len(dropped) < entries  # the bound was reached: older entries were forgotten
    assert dropped.nbytes <= max_bytes
    assert held <= max_bytes * 1.10, f"{held} B traced for a {max_bytes} B bound"
    assert held >= max_bytes * 0.75, f"only {held} B traced: the charge per entry overstates it"
    newest = entries - 1
    assert dropped.get(_hash(newest)) is not None and dropped.get(_hash(0)) is None
    assert dropped.get(_hash(entries - len(dropped))) is not None  # exactly the newest are kept
    assert dropped.get(_hash(entries - len(dropped) - 1)) is None


def test_replacing_and_discarding_keep_the_charge_exact() -> None:
    dropped = DroppedReasons(10_000)
    first = ("expired", "pending for more than 600 s; send it again")
    dropped.add(_hash(1), first)
    dropped.add(_hash(1), SHARED)
    assert len(dropped) == 1 and dropped.get(_hash(1)) == SHARED
    assert dropped.nbytes == DroppedReasons.cost(_hash(1), SHARED)
    dropped.discard(_hash(1))
    dropped.discard(_hash(2))  # not remembered: nothing happens
    assert len(dropped) == 0 and dropped.nbytes == 0
    with pytest.raises(ValueError):
        DroppedReasons(0)


def test_the_default_bound_is_sixteen_mib() -> None:
    assert DROPPED_MAX_BYTES == 16 * 1024 * 1024


def _state() -> MemoryState:
    genesis = Genesis(
        CHAIN,
        0,
        ChainParams(min_fee=10),
        ValidatorSet.of([Validator(VALIDATOR.public_key, 1)]),
        tuple(GenesisBalance(k.public_key, "AGR", 10**9) for k in KEYS),
    )
    return genesis.initial_state()


def test_a_pool_past_its_dropped_bound_still_answers_the_newest_expiries() -> None:
    pool = Mempool(
        _state(), CHAIN, ChainParams(min_fee=10), 10_000, 10**8, 64, expiry_blocks=1, height=0, dropped_max_bytes=20_000
    )
    txs = [sign_transaction(k, CHAIN, n, 10, Transfer(SINK, 1)) for n in range(5) for k in KEYS]
    for height, start in enumerate(range(0, len(txs), 40), start=1):
        for tx in txs[start : start + 40]:
            pool.add(tx)
        pool.on_commit([], height=height + 1)  # each round expires the one before
    pool.on_commit([], height=len(txs) // 40 + 2)
    assert len(pool) == 0
    assert pool._dropped.nbytes <= 20_000 and len(pool._dropped) < len(txs)
    reason, detail = pool.dropped(txs[-1].hash) or ("", "")
    assert reason == "expired" and "send it again" in detail
    assert pool.dropped(txs[0].hash) is None  # the oldest were forgotten first
