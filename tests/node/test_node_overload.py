"""The overload controls: adaptive block size, the admission gate, batch refusals.

Mostly pure logic with durations chosen by the test (no clock is read), so every assertion
is exact; the last test checks on a real node (real LevelDB and aiohttp) that the proposer
reaps no more than the budget allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from chain.accounts import NATIVE_ASSET, balance_key
from chain.encoding import encode, sha256
from chain.keys import PrivateKey
from chain.params import ChainParams
from chain.state import MemoryState
from chain.transfer import Transfer
from chain.tx import Transaction, sign_transaction
from node.admission import MAX_RETRY_AFTER, RETRYABLE_REASONS, AdmissionGate
from node.block_budget import MIN_SAMPLE_TXS, BlockBudget
from node.client import RETRYABLE_REASONS as CLIENT_RETRYABLE
from node.client import NodeClient, parse_retry_after
from node.datadir import dev_genesis, init_datadir, open_datadir
from node.mempool import Mempool
from node.service import Node


@dataclass
class Level:
    """A mempool fill level the test sets directly."""

    max_txs: int
    pending: int = 0

    def __len__(self) -> int:
        return self.pending


def test_budget_starts_cautious_and_learns_the_fixed_cost_from_small_blocks() -> None:
    budget = BlockBudget(5_000, target_seconds=0.5, initial_txs=1_000, smoothing=1.0)
    assert budget.limit == 1_000 and budget.per_tx_seconds == pytest.approx(0.0005)
    assert BlockBudget(300).limit == 300  # never above the chain's cap
    budget.observe_block(MIN_SAMPLE_TXS - 1, 0.1)  # too small to say anything per transaction
    assert budget.fixed_seconds == pytest.approx(0.1) and budget.per_tx_seconds == pytest.approx(0.0005)
    assert budget.limit == 800  # 0.4 s left for transactions at 0.5 ms
    budget.observe_block(1_000, 0.6)  # 0.1 s fixed + 1,000 x 0.5 ms
    assert budget.per_tx_seconds == pytest.approx(0.0005)
    budget.observe_block(MIN_SAMPLE_TXS - 1, 10.0)  # fixed costs never take more than half the target
    assert budget.limit == 500


def test_budget_sizes_blocks_to_the_time_target_and_follows_the_cost() -> None:
    budget = BlockBudget(5_000, target_seconds=0.5, min_txs=100, smoothing=1.0)
    budget.observe_block(5_000, 2.5)  # 500 us a transaction: a 5,000-tx block takes 2.5 s
    assert budget.limit == 1_000
    budget.observe_block(1_000, 0.25)  # cheaper now: 250 us
    assert budget.limit == 2_000
    budget.observe_block(2_000, 0.1)  # 50 us: capped at the chain's limit
    assert budget.limit == 5_000
    budget.observe_block(100, 10.0)  # 100 ms a transaction: floored at min_txs
    assert budget.limit == 100


def test_budget_smooths_samples() -> None:
    budget = BlockBudget(10_000, target_seconds=1.0, smoothing=0.5)
    budget.observe_block(1_000, 1.0)  # 1 ms
    budget.observe_block(1_000, 0.5)  # 0.5 ms -> estimate 0.75 ms
    assert budget.per_tx_seconds == pytest.approx(0.00075)
    assert budget.limit == 1_333
    assert budget.round_seconds == 1.0  # the default before any interval
    budget.observe_interval(2.0)
    budget.observe_interval(1.0)
    assert budget.round_seconds == pytest.approx(1.5)
    budget.observe_interval(-1.0)
    budget.observe_block(1_000, float("nan"))
    assert budget.round_seconds == pytest.approx(1.5) and budget.limit == 1_333


def test_budget_rejects_nonsense_settings() -> None:
    for kwargs in ({"max_txs": 0}, {"max_txs": 10, "target_seconds": 0}, {"max_txs": 10, "smoothing": 0}):
        with pytest.raises(ValueError):
            BlockBudget(**kwargs)  # type: ignore[arg-type]


def test_gate_takes_up_to_a_few_blocks_of_work_then_refuses_overloaded() -> None:
    budget = BlockBudget(5_000, target_seconds=0.5, smoothing=1.0)
    budget.observe_block(5_000, 2.5)  # limit 1,000 per block
    level = Level(max_txs=100_000)
    gate = AdmissionGate(level, budget, queue_blocks=4)
    assert gate.soft_limit == 4_000
    assert gate.check(1_000).admit == 1_000
    level.pending = 3_500
    decision = gate.check(1_000)
    assert (decision.admit, decision.reason) == (500, "overloaded")
    level.pending = 4_000
    decision = gate.check(1)
    assert decision.refuses_all and decision.reason == "overloaded"
    assert decision.retry_after == 1  # one block to drain, at the default 1 s a round


def test_gate_says_mempool_full_when_the_mempool_bound_is_the_limit() -> None:
    level = Level(max_txs=6, pending=4)
    gate = AdmissionGate(level, BlockBudget(5_000))
    decision = gate.check(5)
    assert (decision.admit, decision.reason) == (2, "mempool_full")
    level.pending = 6
    assert gate.check(1).refuses_all


def test_gate_counts_transactions_in_verification_and_bounds_them() -> None:
    level = Level(max_txs=10_000)
    gate = AdmissionGate(level, BlockBudget(5_000, initial_txs=5_000), queue_blocks=1, max_verifying=3_000)
    gate.verifying = 2_000
    assert gate.check(5_000).admit == 3_000  # 5,000 - 2,000 in verification
    gate.verifying = 3_000
    decision = gate.check(1)
    assert decision.refuses_all and decision.reason == "overloaded"


def test_retry_after_grows_with_the_excess_and_is_bounded() -> None:
    budget = BlockBudget(1_000, smoothing=1.0)
    budget.observe_interval(0.4)
    gate = AdmissionGate(Level(max_txs=10**6), budget)
    assert gate.retry_after(0) == 1
    assert gate.retry_after(5_000) == 2  # 5 blocks of 0.4 s
    budget.observe_interval(3.0)
    assert gate.retry_after(50_000) == MAX_RETRY_AFTER


# --- the mempool's batch rule: a refused nonce holds back the sender's later ones ----------

CHAIN = "overload-test"


def _pool(max_txs: int, *keys: PrivateKey) -> Mempool:
    state = MemoryState({balance_key(key.public_key, NATIVE_ASSET): encode(10**12) for key in keys})
    return Mempool(state, CHAIN, ChainParams(), max_txs, 64 * 1024 * 1024, 64)


def _tx(key: PrivateKey, nonce: int, fee: int = 10) -> Transaction:
    return sign_transaction(key, CHAIN, nonce, fee, Transfer(b"\x07" * 32, 1))


def test_batch_refusal_of_a_nonce_refuses_the_senders_later_nonces() -> None:
    alice, bob = PrivateKey(sha256(b"ov-alice")), PrivateKey(sha256(b"ov-bob"))
    pool = _pool(3, alice, bob)
    batch = [_tx(alice, 0), _tx(bob, 0), _tx(alice, 1), _tx(alice, 2), _tx(bob, 1), _tx(bob, 2)]
    outcomes = pool.add_many(batch, [True] * len(batch))
    reasons = [o.error.reason if o.error else None for o in outcomes]
    # alice 0, bob 0, alice 1 fill the pool; alice 2 is refused (full); bob 1 too; bob 2 is held
    assert reasons == [None, None, None, "mempool_full", "mempool_full", "earlier_nonce_refused"]
    assert pool.pending_nonce(bob.public_key, 0) == 1  # no gapped bob 2 left waiting
    assert len(pool) == 3


def test_a_duplicate_does_not_hold_back_later_nonces() -> None:
    alice = PrivateKey(sha256(b"ov-alice"))
    pool = _pool(10, alice)
    first = _tx(alice, 0)
    pool.add(first)
    outcomes = pool.add_many([first, _tx(alice, 1)], [True, True])
    assert [o.error.reason if o.error else None for o in outcomes] == ["duplicate", None]


def test_a_bad_signature_holds_back_only_higher_nonces() -> None:
    alice = PrivateKey(sha256(b"ov-alice"))
    pool = _pool(10, alice)
    batch = [_tx(alice, 1), _tx(alice, 2), _tx(alice, 0)]
    outcomes = pool.add_many(batch, [False, True, True])
    assert [o.error.reason if o.error else None for o in outcomes] == [
        "bad_signature",
        "earlier_nonce_refused",
        None,
    ]


def test_the_client_retries_exactly_what_the_node_calls_retryable() -> None:
    assert CLIENT_RETRYABLE == RETRYABLE_REASONS
    assert [parse_retry_after(v) for v in (None, "", "abc", "-1", "3", " 7 ", "86400")] == [
        None,
        None,
        None,
        None,
        3.0,
        7.0,
        30.0,
    ]


async def test_the_proposer_reaps_no_more_than_the_budget_allows(tmp_path: Path) -> None:
    validator = PrivateKey(sha256(b"ov-validator"))
    keys = [PrivateKey(sha256(b"ov-sender-%d" % i)) for i in range(5)]
    genesis = dev_genesis("budget-test", [validator.public_key], {k.public_key: 10**12 for k in keys}, time_ms=1)
    settings: dict[str, object] = {"api_port": 0, "min_block_interval_ms": 10, "heartbeat_interval_ms": 3_600_000}
    init_datadir(tmp_path / "node", genesis, validator, "pw", settings)
    node = Node(open_datadir(tmp_path / "node"), validator)
    url = await node.start()
    try:
        assert node.driver is not None
        budget = node.driver.budget
        assert budget.limit == budget.initial_txs == 1_000 and budget.target_seconds == 0.6  # the default
        budget.observe_block(1_000, 1_000.0)  # as if a transaction cost a second: the floor, 100
        assert budget.limit == budget.min_txs == 100
        txs = [
            sign_transaction(k, "budget-test", n, 10, Transfer(validator.public_key, 1))
            for n in range(60)
            for k in keys
        ]
        async with NodeClient(url) as client:
            results = await client.submit_txs([tx.raw for tx in txs])
            assert all(r["accepted"] for r in results)
            await client.wait_for_tx(txs[-1].hash.hex(), 30)
            for tx in txs:
                await client.wait_for_tx(tx.hash.hex(), 30)
            head = (await client.head())["height"]
            sizes = [len((await client.block(h))["txs"]) for h in range(1, head + 1)]
        # real blocks cost far less than a second a transaction, but the estimate moves by 30 %
        # a block, so these few blocks all stay at the floor
        assert sum(sizes) == 300 and max(sizes) == 100
    finally:
        await node.stop()
