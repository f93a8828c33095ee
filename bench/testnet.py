"""Testnet benchmark: a local 4-validator testnet (real processes) committing signed transfers."""

from __future__ import annotations

import asyncio
import os
import platform
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import RunResult, run_load, signature_bound
from bench.workload import make_accounts, transfer_lanes
from node.client import NodeClient
from node.testnet import init_testnet


@dataclass(frozen=True, slots=True)
class TestnetReport:
    """The result of one testnet run."""

    validators: int
    txs: int
    result: RunResult
    verify_per_core: float
    cores: int
    rate: float | None = None
    """Offered load in tx/s (None: a burst, as fast as admitted)."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able summary."""
        r = self.result
        bound = self.verify_per_core * self.cores / self.validators
        return {
            "scenario": f"testnet-{self.validators}-validators",
            "machine": f"{platform.machine()} {self.cores} cores (all nodes and the client share it)",
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


def run_testnet(
    validators: int, txs: int, accounts: int, lanes: int, batch: int, rate: float | None = None
) -> TestnetReport:
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
        procs = []
        try:
            for node in net.nodes:
                out = (node.datadir / "node.out").open("wb")
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "node", "--datadir", str(node.datadir)],
                        env=dict(os.environ, AGORA_PASSWORD=password),
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
                out.close()
            urls = [n.api_url for n in net.nodes]
            work = transfer_lanes(net.chain_id, keys, txs, lanes, fee=10)

            async def go() -> RunResult:
                for url in urls:
                    async with NodeClient(url) as client:
                        await client.wait_ready(60.0)
                return await run_load(urls, work, batch=batch, rate=rate)

            result = asyncio.run(go())
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    return TestnetReport(validators, txs, result, signature_bound(), os.cpu_count() or 1, rate)
