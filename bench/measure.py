"""Measuring committed throughput and submit-to-final latency through the client API."""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.workload import Lane
from chain.tx import Transaction
from node.client import DEFAULT_RETRY_SECONDS, MAX_RETRY_SECONDS, NodeApiError, NodeClient


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
    refusals: dict[str, int] = field(default_factory=dict)
    """Refusals by reason (a transaction refused for load and resubmitted counts each time)."""
    resubmitted: int = 0
    """Sends of transactions that had been refused for load before (after the node's Retry-After)."""

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
            "refused_by_reason": dict(sorted(self.refusals.items())),
            "resubmitted": self.resubmitted,
            "verify_bound_tps": round(verify_bound),
            "efficiency": round(self.commit_tps / verify_bound, 3) if verify_bound else None,
        }

    @property
    def mean_latency(self) -> float:
        """Mean submit-to-final latency in seconds."""
        return statistics.fmean(self.latencies) if self.latencies else float("nan")


@dataclass
class _LaneStats:
    accepted: int = 0
    resubmitted: int = 0
    refusals: Counter[str] = field(default_factory=Counter)


async def _send(
    client: NodeClient, items: Sequence[Transaction], batch: int, sent_at: dict[bytes, float], stats: _LaneStats
) -> tuple[float, list[Transaction]]:
    """Send ``items`` in order, ``batch`` per request; return (seconds to wait, what to resubmit).

    Once a request has refusals for load, the rest is not sent (it holds later nonces of the
    refused senders) and comes back with them, to go again after the node's Retry-After.
    """
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        now = time.perf_counter()
        for tx in chunk:
            if tx.hash in sent_at:
                stats.resubmitted += 1
            else:
                sent_at[tx.hash] = now
        try:
            answer = await client.submit_batch([tx.raw for tx in chunk])
        except NodeApiError as exc:
            if not exc.retryable:
                raise
            stats.refusals[exc.reason] += len(chunk)
            wait = exc.retry_after if exc.retry_after is not None else DEFAULT_RETRY_SECONDS
            return wait, list(items[start:])
        results = answer["results"]
        stats.accepted += sum(1 for r in results if r.get("accepted"))
        stats.refusals.update(str(r.get("reason")) for r in results if not r.get("accepted"))
        again = [chunk[i] for i in answer.get("resubmit") or ()]
        if again:
            retry = answer.get("retry_after")
            wait = min(MAX_RETRY_SECONDS, float(retry)) if retry is not None else DEFAULT_RETRY_SECONDS
            return wait, again + list(items[start + batch :])
    return 0.0, []


async def _submit_lane(
    client: NodeClient,
    lane: Lane,
    batch: int,
    sent_at: dict[bytes, float],
    interval: float | None,
    stats: _LaneStats,
    deadline: float,
) -> None:
    """Send one lane in batches; with ``interval``, one batch every ``interval`` seconds (open loop).

    What the node refuses for load is resubmitted, in nonce order and ahead of newer
    transactions, no sooner than its Retry-After; meanwhile the lane holds its newer batches
    (sending later nonces of a refused sender would only strand them) and then sends every
    batch whose time has come. Gives up at ``deadline`` (perf_counter seconds).
    """
    txs = lane.txs
    chunks = [txs[i : i + batch] for i in range(0, len(txs), batch)]
    backlog: list[Transaction] = []
    retry_at = 0.0
    started = time.perf_counter()
    n = 0
    while n < len(chunks) or backlog:
        due = started + n * interval if interval is not None and n < len(chunks) else 0.0
        if backlog:
            due = retry_at  # newer batches wait behind the resubmission
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        now = time.perf_counter()
        if now > deadline:
            return
        fresh: list[Transaction] = []
        while n < len(chunks) and (not fresh if interval is None else started + n * interval <= now):
            fresh.extend(chunks[n])
            n += 1
        wait, backlog = await _send(client, backlog + fresh, batch, sent_at, stats)
        retry_at = time.perf_counter() + wait


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
        stats = [_LaneStats() for _ in lanes]
        await asyncio.gather(
            *(
                _submit_lane(clients[i % len(clients)], lane, batch, sent_at, interval, stats[i], t0 + watch_seconds)
                for i, lane in enumerate(lanes)
            )
        )
        admit_seconds = time.perf_counter() - t0
        await watcher
        ours = [h for h in committed_at if h in sent_at]
        last_commit = max((committed_at[h] for h in ours), default=t0)
        latencies = tuple(committed_at[h] - sent_at[h] for h in ours)
        refusals: Counter[str] = Counter()
        for lane_stats in stats:
            refusals.update(lane_stats.refusals)
        return RunResult(
            total,
            sum(x.accepted for x in stats),
            len(ours),
            admit_seconds,
            last_commit - t0,
            latencies,
            dict(refusals),
            sum(x.resubmitted for x in stats),
        )
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
