"""Sync benchmark: how fast a new node fetches, verifies and applies a chain's history."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import machine, run_load
from bench.nodeproc import start_node, stop_nodes
from bench.procstat import cpu_seconds
from bench.settings import node_settings
from bench.workload import make_accounts, transfer_lanes
from chain.encoding import U64_MAX
from node.client import NodeClient
from node.testnet import init_testnet


@dataclass(frozen=True, slots=True)
class SyncReport:
    """History size and how long a fresh follower took to reach the head."""

    txs: int
    blocks: int
    seconds: float
    """From starting the follower process to its height equalling the validator's."""
    seconds_after_ready: float
    """From the follower answering /readyz (its API up, sync under way) to the same moment."""
    follower_cpu_after_ready: float = 0.0
    """CPU seconds (user + system) the follower process used over ``seconds_after_ready``."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able summary."""
        return {
            "scenario": "sync",
            **machine(),
            "history_txs": self.txs,
            "history_blocks": self.blocks,
            "sync_seconds": round(self.seconds, 2),
            "sync_tx_per_s": round(self.txs / self.seconds) if self.seconds else None,
            "sync_blocks_per_s": round(self.blocks / self.seconds) if self.seconds else None,
            "sync_seconds_after_ready": round(self.seconds_after_ready, 2),
            "sync_tx_per_s_after_ready": round(self.txs / self.seconds_after_ready)
            if self.seconds_after_ready
            else None,
            "follower_cpu_s_after_ready": round(self.follower_cpu_after_ready, 2),
            "follower_cores_busy_after_ready": round(self.follower_cpu_after_ready / self.seconds_after_ready, 2)
            if self.seconds_after_ready
            else None,
            "follower_cpu_us_per_tx": round(self.follower_cpu_after_ready / self.txs * 1e6, 1) if self.txs else None,
        }


def account_funds(accounts: int) -> int:
    """Each funded account's balance: 10**15, less when that many would pass the u64 total supply."""
    return min(10**15, U64_MAX // (2 * max(1, accounts)))


def run_sync(txs: int, accounts: int, settings: Mapping[str, object] | None = None) -> SyncReport:
    """Build a history of ``txs`` transfers on one validator, then time a fresh follower's sync."""
    keys = make_accounts(accounts, "bench")
    with tempfile.TemporaryDirectory(prefix="agora-bench-sync-") as tmp:
        net = init_testnet(
            Path(tmp) / "net",
            1,
            1,
            chain_id="agora-bench",
            heartbeat_interval_ms=60_000,
            extra_balances={k.public_key: account_funds(accounts) for k in keys},
            node_config=node_settings({"mempool_max_txs": max(20_000, txs * 2)}, settings or {}),
        )
        password = net.password_file.read_text().strip()
        validator, follower = net.nodes
        procs = [start_node(validator.datadir, password)]
        try:

            async def build_history() -> int:
                async with NodeClient(validator.api_url) as client:
                    await client.wait_ready(60.0)
                result = await run_load([validator.api_url], transfer_lanes(net.chain_id, keys, txs, 4, fee=10))
                if result.committed != txs:
                    raise RuntimeError(f"only {result.committed} of {txs} transactions committed")
                async with NodeClient(validator.api_url) as client:
                    return int((await client.head())["height"])

            head = asyncio.run(build_history())
            started = time.perf_counter()
            procs.append(start_node(follower.datadir, password))

            follower_pid = procs[-1].pid

            async def wait_synced() -> tuple[float, float]:
                async with NodeClient(follower.api_url, timeout=5.0) as client:
                    await client.wait_ready(60.0)
                    ready = time.perf_counter()
                    cpu_at_ready = cpu_seconds(follower_pid)
                    deadline = time.perf_counter() + 600
                    while time.perf_counter() < deadline:
                        if (await client.head())["height"] >= head:
                            return ready, cpu_at_ready
                        await asyncio.sleep(0.02)
                raise TimeoutError(f"the follower did not reach height {head} in 600 s")

            ready, cpu_at_ready = asyncio.run(wait_synced())
            done = time.perf_counter()
            cpu = cpu_seconds(follower_pid) - cpu_at_ready
            return SyncReport(txs, head, done - started, done - ready, cpu)
        finally:
            stop_nodes(procs)
