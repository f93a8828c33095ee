"""The benchmark's load generator resubmits what a node refuses for load, and loses nothing.

A real node (real LevelDB, real aiohttp on port 0) with room for 20 pending transactions is
sent bursts of 50: the admission gate must cut every first attempt, so refusals and
resubmissions are certain, whatever the machine's speed.
"""

from __future__ import annotations

from pathlib import Path

from bench.measure import run_load
from bench.workload import make_accounts, transfer_lanes
from chain.encoding import sha256
from chain.keys import PrivateKey
from chain.transfer import Transfer
from chain.tx import sign_transaction
from node.client import NodeClient
from node.datadir import dev_genesis, init_datadir, open_datadir
from node.service import Node

CHAIN = "bench-resubmit"


async def test_run_load_resubmits_refused_transactions_until_all_commit(tmp_path: Path) -> None:
    validator = PrivateKey(sha256(b"br-validator"))
    keys = make_accounts(6, "bench-resubmit")
    genesis = dev_genesis(CHAIN, [validator.public_key], {k.public_key: 10**12 for k in keys}, time_ms=1)
    settings: dict[str, object] = {
        "api_port": 0,
        "min_block_interval_ms": 10,
        "heartbeat_interval_ms": 3_600_000,
        "mempool_max_txs": 20,
    }
    init_datadir(tmp_path / "node", genesis, validator, "pw", settings)
    node = Node(open_datadir(tmp_path / "node"), validator)
    url = await node.start()
    try:
        async with NodeClient(url) as client:
            await client.wait_ready(10)
        lanes = transfer_lanes(CHAIN, keys, 120, 2, fee=10)
        result = await run_load([url], lanes, batch=50, watch_seconds=120)
        assert result.committed == result.accepted == 120
        assert result.refusals.get("mempool_full", 0) > 0
        assert result.resubmitted > 0
        assert set(result.refusals) <= {"mempool_full", "overloaded", "earlier_nonce_refused"}
    finally:
        await node.stop()


async def _node(tmp_path: Path, keys: list[PrivateKey], settings: dict[str, object]) -> tuple[Node, str]:
    validator = PrivateKey(sha256(b"br-validator"))
    genesis = dev_genesis(CHAIN, [validator.public_key], {k.public_key: 10**12 for k in keys}, time_ms=1)
    base: dict[str, object] = {"api_port": 0, "min_block_interval_ms": 10, "heartbeat_interval_ms": 3_600_000}
    init_datadir(tmp_path / "node", genesis, validator, "pw", {**base, **settings})
    node = Node(open_datadir(tmp_path / "node"), validator)
    url = await node.start()
    async with NodeClient(url) as client:
        await client.wait_ready(10)
    return node, url


async def test_accepted_behind_a_refused_nonce_is_counted_apart_and_the_drain_ends_early(tmp_path: Path) -> None:
    alice, bob = make_accounts(2, "bench-gap")
    node, url = await _node(tmp_path, [alice, bob], {})
    try:
        refused = sign_transaction(alice, CHAIN, 0, 1, Transfer(bob.public_key, 1))  # below the minimum fee
        stranded = sign_transaction(alice, CHAIN, 1, 10, Transfer(bob.public_key, 1))  # admitted within the gap
        fine = [sign_transaction(bob, CHAIN, n, 10, Transfer(alice.public_key, 1)) for n in range(5)]
        schedule = [(0.0, refused), (0.0, stranded), *((0.05 * n, tx) for n, tx in enumerate(fine))]
        result = await run_load([url], [schedule], batch=1, watch_seconds=60, window=(0.0, 1.0))
        assert result.accepted == 6 and result.committed == 5, (result.refusals, result.accounting)
        assert result.accounting.gapped == {"refused:fee_too_low": 1}
        assert result.accounting.refused == {"refused:fee_too_low": 1}
        assert result.accounting.committable == 0 and result.heads_at_end == {}
        summary = result.summary(1000.0)
        assert summary["pending_at_end"] == 1 and summary["accepted_lost"] == 0
        assert summary["accepted_gapped_at_end"] == {"refused:fee_too_low": 1}
        assert result.blocks_in_window >= 1 and summary["txs_per_block_mean"] is not None
        assert sum(n for n, _ in result.by_minute) == result.committed  # every commit in its minute
        assert [m["minute"] for m in summary["by_minute"]] == list(range(len(result.by_minute)))
        assert result.commit_seconds < 30  # the drain saw nothing left could commit; it did not wait out 60 s
    finally:
        await node.stop()


async def test_a_transaction_the_node_drops_after_accepting_it_is_sent_again(tmp_path: Path) -> None:
    alice, bob = make_accounts(2, "bench-drop")
    node, url = await _node(tmp_path, [alice, bob], {"mempool_expiry_seconds": 1})
    try:
        ahead = sign_transaction(alice, CHAIN, 1, 10, Transfer(bob.public_key, 1))  # waits for nonce 0, expires
        late = sign_transaction(alice, CHAIN, 0, 10, Transfer(bob.public_key, 1))
        filler = [sign_transaction(bob, CHAIN, n, 10, Transfer(alice.public_key, 1)) for n in range(30)]
        schedule = sorted(
            [(0.0, ahead), (2.5, late), *((0.1 * n, tx) for n, tx in enumerate(filler))], key=lambda x: x[0]
        )
        result = await run_load([url], [schedule], batch=10, watch_seconds=60, window=(0.0, 3.0), drop_check_after=0.5)
        assert result.dropped.get("expired", 0) >= 1
        assert result.committed == result.accepted == 32
        assert result.resubmitted >= 1
        assert result.accounting.gapped == {} and result.heads_at_end == {}
    finally:
        await node.stop()
