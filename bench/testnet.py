"""Testnet benchmark: a local testnet of validator processes committing signed transfers."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from bench.measure import LoadReport, RunResult, run_load
from bench.nodeproc import nodes_running
from bench.workload import make_accounts, transfer_lanes
from node.client import NodeClient
from node.testnet import init_testnet


def run_testnet(
    validators: int, txs: int, accounts: int, lanes: int, batch: int, rate: float | None = None
) -> LoadReport:
    """Start a ``validators``-node testnet, send ``txs`` transfers spread over all nodes, measure."""
    keys = make_accounts(accounts, "bench")
    with tempfile.TemporaryDirectory(prefix="agora-bench-net-") as tmp:
        net = init_testnet(
            Path(tmp) / "net",
            validators,
            0,
            chain_id="agora-bench",
            min_block_interval_ms=100,
            heartbeat_interval_ms=1000,
            extra_balances={k.public_key: 10**15 for k in keys},
            node_config={"mempool_max_txs": max(20_000, txs * 2), "log_level": "warning"},
        )
        password = net.password_file.read_text().strip()
        urls = [n.api_url for n in net.nodes]
        work = transfer_lanes(net.chain_id, keys, txs, lanes, fee=10)
        with nodes_running([(n.datadir, ()) for n in net.nodes], password):

            async def go() -> RunResult:
                for url in urls:
                    async with NodeClient(url) as client:
                        await client.wait_ready(60.0)
                return await run_load(urls, work, batch=batch, rate=rate)

            result = asyncio.run(go())
    return LoadReport(f"testnet-{validators}-validators", txs, rate, result, verifying_nodes=validators)
