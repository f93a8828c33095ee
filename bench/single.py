"""Single-node benchmark: admit and commit signed transfers through the client API."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from bench.measure import LoadReport, RunResult, run_load
from bench.nodeproc import free_port, nodes_running
from bench.workload import make_accounts, transfer_lanes
from chain.keys import PrivateKey
from node.client import NodeClient
from node.datadir import dev_genesis, init_datadir

CHAIN_ID = "agora-bench"
PASSWORD = "bench-password"


def run_single_node(
    txs: int, accounts: int, lanes: int, batch: int, block_interval_ms: int, rate: float | None = None
) -> LoadReport:
    """Start one validator on a fresh datadir, load it with ``txs`` transfers, measure."""
    keys = make_accounts(accounts, "bench")
    validator = PrivateKey.generate()
    genesis = dev_genesis(CHAIN_ID, [validator.public_key], {k.public_key: 10**15 for k in keys})
    with tempfile.TemporaryDirectory(prefix="agora-bench-") as tmp:
        datadir = Path(tmp) / "node"
        config = {
            "min_block_interval_ms": block_interval_ms,
            "mempool_max_txs": max(20_000, txs * 2),
            "log_level": "warning",
        }
        init_datadir(datadir, genesis, validator, PASSWORD, config)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        work = transfer_lanes(CHAIN_ID, keys, txs, lanes, fee=genesis.params.min_fee)
        with nodes_running([(datadir, ("--api-port", str(port)))], PASSWORD):

            async def go() -> RunResult:
                async with NodeClient(url) as client:
                    await client.wait_ready(60.0)
                return await run_load([url], work, batch=batch, rate=rate)

            result = asyncio.run(go())
    return LoadReport("single-node", txs, rate, result, verifying_nodes=1)
