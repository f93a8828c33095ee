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
