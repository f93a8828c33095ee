"""Single-node benchmark: admit and commit signed transfers through the client API."""

from __future__ import annotations

import asyncio
import os
import platform
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import RunResult, run_load, signature_bound
from bench.nodeproc import free_port, node_process
from bench.workload import make_accounts, transfer_lanes
from chain.keys import PrivateKey
from node.client import NodeClient
from node.datadir import dev_genesis, init_datadir

CHAIN_ID = "agora-bench"
PASSWORD = "bench-password"


@dataclass(frozen=True, slots=True)
class SingleNodeReport:
    """The result of one single-node run, with the machine it ran on."""

    txs: int
    result: RunResult
    verify_per_core: float
    cores: int
    rate: float | None = None
    """Offered load in tx/s (None: a burst, as fast as admitted)."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able summary."""
        r = self.result
        bound = self.verify_per_core * self.cores
        return {
            "scenario": "single-node",
            "machine": f"{platform.machine()} {platform.processor() or ''} {self.cores} cores".strip(),
            "python": platform.python_version(),
            "txs": self.txs,
            "offered_rate": self.rate or "burst",
            "accepted": r.accepted,
            "committed": r.committed,
            "admit_tps": round(r.admit_tps),
            "commit_tps": round(r.commit_tps),
            "latency_p50_s": round(r.percentile(0.50), 3),
            "latency_p99_s": round(r.percentile(0.99), 3),
            "verify_bound_tps": round(bound),
            "efficiency": round(r.commit_tps / bound, 3) if bound else None,
        }


def run_single_node(
    txs: int, accounts: int, lanes: int, batch: int, block_interval_ms: int, rate: float | None = None
) -> SingleNodeReport:
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
        work = transfer_lanes(CHAIN_ID, keys, txs, lanes, fee=genesis.params.min_fee)
        with node_process(datadir, port, PASSWORD):
            url = f"http://127.0.0.1:{port}"

            async def go() -> RunResult:
                async with NodeClient(url) as client:
                    await client.wait_ready(60.0)
                return await run_load([url], work, batch=batch, rate=rate)

            result = asyncio.run(go())
    return SingleNodeReport(txs, result, signature_bound(), os.cpu_count() or 1, rate)
