"""Measuring committed throughput and submit-to-final latency through the client API."""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.workload import Lane
from node.client import NodeClient


def machine() -> dict[str, str]:
    """Where a benchmark ran (every report names it)."""
    return {
        "machine": f"{platform.machine()} {os.cpu_count()} cores (nodes and load generator share it)",
        "python": platform.python_version(),
    }


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one load run measured."""

    submitted: int
    accepted: int
    committed: int
    admit_seconds: float
    """From the first submission to the last batch acknowledged."""
    commit_seconds: float
    """From the first submission to the last transaction seen committed."""
    latencies: tuple[float, ...]
    """Submit-to-final seconds of every committed transaction."""

    @property
    def admit_tps(self) -> float:
        """Transactions admitted per second."""
        return self.accepted / self.admit_seconds if self.admit_seconds else 0.0

    @property
    def commit_tps(self) -> float:
        """Transactions committed per second, sustained over the whole run."""
        return self.committed / self.commit_seconds if self.commit_seconds else 0.0

    def percentile(self, q: float) -> float:
        """The q-quantile (0..1) of the latencies, in seconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self, verify_bound: float) -> dict[str, object]:
        """The figures every scenario reports, with efficiency against ``verify_bound`` tx/s."""
        return {
            "accepted": self.accepted,
            "committed": self.committed,
            "admit_tps": round(self.admit_tps),
            "commit_tps": round(self.commit_tps),
            "latency_p50_s": round(self.percentile(0.50), 3),
            "latency_p99_s": round(self.percentile(0.99), 3),
            "verify_bound_tps": round(verify_bound),
            "efficiency": round(self.commit_tps / verify_bound, 3) if verify_bound else None,
        }

    @property
    def mean_latency(self) -> float:
        """Mean submit-to-final latency in seconds."""
        return statistics.fmean(self.latencies) if self.latencies else float("nan")


async def _submit_lane(
    client: NodeClient, lane: Lane, batch: int, sent_at: dict[bytes, float], interval: float | None
) -> int:
    """Send one lane in batches; with ``interval``, one batch every ``interval`` seconds (open loop)."""
    accepted = 0
    txs = lane.txs
    started = time.perf_counter()
    for n, start in enumerate(range(0, len(txs), batch)):
        if interval is not None:
            delay = started + n * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        chunk = txs[start : start + batch]
        now = time.perf_counter()
        for tx in chunk:
            sent_at[tx.hash] = now
        results = await client.submit_txs([tx.raw for tx in chunk])
        accepted += sum(1 for r in results if r.get("accepted"))
    return accepted


async def _watch_commits(
    client: NodeClient, start_height: int, expected: int, committed_at: dict[bytes, float], deadline: float
) -> None:
    height = start_height
    while len(committed_at) < expected and time.perf_counter() < deadline:
        head = await client.head()
        while height < head["height"]:
            height += 1
            block = await client.block(height)
            now = time.perf_counter()
            for tx_hash in block["txs"]:
                committed_at.setdefault(bytes.fromhex(tx_hash), now)
        await asyncio.sleep(0.01)


async def run_load(
    urls: Sequence[str],
    lanes: Sequence[Lane],
    batch: int = 500,
    watch_seconds: float = 300.0,
    rate: float | None = None,
) -> RunResult:
    """Send every lane (lane i to node i % len(urls)) and watch node 0 until all commit or time out.

    Without ``rate`` every lane sends as fast as the node admits (a burst); with ``rate``
    the lanes together offer ``rate`` transactions per second, evenly paced (sustained load).
    """
    interval = None if rate is None else batch * len(lanes) / rate
    clients = [NodeClient(url, timeout=60.0) for url in urls]
    try:
        start_height = (await clients[0].head())["height"]
        sent_at: dict[bytes, float] = {}
        committed_at: dict[bytes, float] = {}
        total = sum(len(lane.txs) for lane in lanes)
        t0 = time.perf_counter()
        watcher = asyncio.create_task(_watch_commits(clients[0], start_height, total, committed_at, t0 + watch_seconds))
        accepted_counts = await asyncio.gather(
            *(_submit_lane(clients[i % len(clients)], lane, batch, sent_at, interval) for i, lane in enumerate(lanes))
        )
        admit_seconds = time.perf_counter() - t0
        await watcher
        ours = [h for h in committed_at if h in sent_at]
        last_commit = max((committed_at[h] for h in ours), default=t0)
        latencies = tuple(committed_at[h] - sent_at[h] for h in ours)
        return RunResult(total, sum(accepted_counts), len(ours), admit_seconds, last_commit - t0, latencies)
    finally:
        for client in clients:
            await client.close()


def signature_bound(sample: int = 4000) -> float:
    """Ed25519 verifications per second on one core of this machine."""
    from chain.keys import PrivateKey, verify

    key = PrivateKey.generate()
    message = b"agora-bench" * 10
    sig = key.sign(message)
    pub = key.public_key
    t0 = time.perf_counter()
    for _ in range(sample):
        verify(pub, message, sig)
    return sample / (time.perf_counter() - t0)


@dataclass(frozen=True, slots=True)
class LoadReport:
    """One load run: what was offered, what the nodes did, and the verification bound."""

    scenario: str
    txs: int
    rate: float | None
    """Offered tx/s (None: a burst, as fast as the nodes admit)."""
    result: RunResult
    verifying_nodes: int
    """How many nodes verify every transaction (the bound divides by it)."""
    verify_per_core: float = field(default_factory=lambda: signature_bound())

    def as_dict(self) -> dict[str, object]:
        """A JSON-able summary."""
        bound = self.verify_per_core * (os.cpu_count() or 1) / self.verifying_nodes
        return {
            "scenario": self.scenario,
            **machine(),
            "txs": self.txs,
            "offered_rate": self.rate or "burst",
            **self.result.summary(bound),
        }
