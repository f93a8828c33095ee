"""Open-loop load through the client API: committed throughput, latency, refusals and CPU.

Each lane (one submitter, senders of its own) sends its schedule's transactions at their
due times whatever the node answered before; it has at most one request in flight and
sends, when it wakes, everything due by then (in batches). What the node refuses for load
goes again after its Retry-After, ahead of newer transactions, which the lane holds
meanwhile (later nonces of a refused sender would only be stranded). Latency runs from a
transaction's *scheduled* time to the moment it is seen committed (no coordinated
omission: a late send counts against the system). Commits are followed on node 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import platform
import time
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.procstat import cpu_seconds
from bench.workload import Lane, Schedule, paced
from chain.tx import Transaction
from node.client import DEFAULT_RETRY_SECONDS, MAX_RETRY_SECONDS, NodeApiError, NodeClient, NodeUnreachable

DEFAULT_TICK = 0.1
"""A lane that is caught up wakes this often (seconds) to send what has come due."""


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def machine() -> dict[str, str]:
    """Where a benchmark ran (every report names it)."""
    return {
        "machine": f"{platform.machine()} {cores()} cores (nodes and load generator share it)",
        "python": platform.python_version(),
    }


def quantile(ordered: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of sorted ``ordered`` (nan when empty)."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one load run measured. Times are seconds after the run's start."""

    submitted: int
    """Transactions taken from the schedules (each counted once, however often resubmitted)."""
    accepted: int
    committed: int
    """Of ours, seen committed (whatever their receipt said)."""
    admit_seconds: float
    """From the start to the last request answered."""
    commit_seconds: float
    """From the start to the last transaction seen committed."""
    latencies: tuple[float, ...]
    """Scheduled-to-final seconds of the committed transactions scheduled in the window."""
    refusals: dict[str, int] = field(default_factory=dict)
    """Refusals by reason (a transaction refused for load and resubmitted counts each time)."""
    resubmitted: int = 0
    """Sends of transactions that had been refused for load before (after the node's Retry-After)."""
    failed: dict[str, int] = field(default_factory=dict)
    """Committed transactions whose receipt failed, by code (only when receipts were read)."""
    window: tuple[float, float] = (0.0, 0.0)
    """The steady window the rates, latencies and CPU are measured over."""
    offered_in_window: int = 0
    committed_in_window: int = 0
    ok_in_window: int = 0
    """Committed in the window with a successful receipt (= committed_in_window without receipts)."""
    cpu_seconds: tuple[float, ...] = ()
    """User + system CPU seconds each node process used during the window."""
    started_at: float = 0.0
    """perf_counter() at the run's start (time 0)."""

    @property
    def window_seconds(self) -> float:
        """Length of the steady window."""
        return max(0.0, self.window[1] - self.window[0])

    @property
    def admit_tps(self) -> float:
        """Transactions admitted per second, over the whole run."""
        return self.accepted / self.admit_seconds if self.admit_seconds else 0.0

    @property
    def commit_tps(self) -> float:
        """Transactions committed per second over the steady window."""
        return self.committed_in_window / self.window_seconds if self.window_seconds else 0.0

    def percentile(self, q: float) -> float:
        """The q-quantile (0..1) of the window's latencies, in seconds."""
        return quantile(sorted(self.latencies), q)

    def summary(self, verify_bound: float) -> dict[str, Any]:
        """The figures every load scenario reports, with efficiency against ``verify_bound`` tx/s."""
        ordered = sorted(self.latencies)
        per_node = [c / self.committed_in_window * 1000 if self.committed_in_window else None for c in self.cpu_seconds]
        w = self.window_seconds

        def rounded(x: float, digits: int = 3) -> float | None:
            return None if math.isnan(x) else round(x, digits)

        return {
            "window_s": [round(self.window[0], 2), round(self.window[1], 2)],
            "submitted": self.submitted,
            "accepted": self.accepted,
            "committed": self.committed,
            "pending_at_end": self.accepted - self.committed,
            "offered_tps": round(self.offered_in_window / w, 1) if w else None,
            "committed_tps": round(self.commit_tps, 1),
            "goodput_tps": round(self.ok_in_window / w, 1) if w else None,
            "committed_in_window": self.committed_in_window,
            "admit_tps": round(self.admit_tps),
            "latency_p50_s": rounded(quantile(ordered, 0.50)),
            "latency_p90_s": rounded(quantile(ordered, 0.90)),
            "latency_p99_s": rounded(quantile(ordered, 0.99)),
            "latency_max_s": rounded(ordered[-1]) if ordered else None,
            "refused_by_reason": dict(sorted(self.refusals.items())),
            "failed_by_code": dict(sorted(self.failed.items())),
            "resubmitted": self.resubmitted,
            "cpu_s_per_node": [round(c, 3) for c in self.cpu_seconds],
            "cpu_ms_per_committed_tx_per_node": [None if x is None else round(x, 4) for x in per_node],
            "cpu_ms_per_committed_tx": round(sum(self.cpu_seconds) / self.committed_in_window * 1000, 4)
            if self.committed_in_window
            else None,
            "verify_bound_tps": round(verify_bound),
            "efficiency": round(self.commit_tps / verify_bound, 3) if verify_bound else None,
        }


class _Tracker:
    """Our transactions in flight and what became of them (shared by every lane)."""

    def __init__(self, t0: float, window: tuple[float, float]) -> None:
        self.t0 = t0
        self.window = (t0 + window[0], t0 + window[1])
        self.scheduled: dict[bytes, float] = {}
        """Hash -> scheduled time (perf_counter) of every transaction not yet seen committed."""
        self.known: set[bytes] = set()
        self.latencies = array("d")
        self.submitted = 0
        self.offered_in_window = 0
        self.committed = 0
        self.committed_in_window = 0
        self.ok_in_window = 0
        self.last_commit = t0
        self.failed: Counter[str] = Counter()
        self.accepted = 0
        self.resubmitted = 0
        self.refusals: Counter[str] = Counter()

    def take(self, tx: Transaction, at: float) -> None:
        self.scheduled[tx.hash] = at
        self.submitted += 1
        if self.window[0] <= at < self.window[1]:
            self.offered_in_window += 1

    def committed_now(self, tx_hash: bytes, code: str | None, now: float) -> None:
        at = self.scheduled.pop(tx_hash, None)
        if at is None:
            return
        self.committed += 1
        self.last_commit = now
        ok = code is None or code == "ok"
        if not ok:
            self.failed[str(code)] += 1
        if self.window[0] <= now < self.window[1]:
            self.committed_in_window += 1
            self.ok_in_window += ok
        if self.window[0] <= at < self.window[1]:
            self.latencies.append(now - at)


async def _send(
    client: NodeClient, items: Sequence[Transaction], batch: int, track: _Tracker, sent: set[bytes]
) -> tuple[float, list[Transaction]]:
    """Send ``items`` in order, ``batch`` per request; return (seconds to wait, what to resubmit).

    Once a request is refused for load, the rest is not sent (it holds later nonces of the
    refused senders) and comes back with it, to go again after the node's Retry-After. A
    transaction refused for any other reason is dropped (it will never commit).
    """
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        for tx in chunk:
            if tx.hash in sent:
                track.resubmitted += 1
            sent.add(tx.hash)
        try:
            answer = await client.submit_batch([tx.raw for tx in chunk])
        except NodeApiError as exc:
            track.refusals[exc.reason] += len(chunk)
            if not exc.retryable:
                for tx in chunk:
                    track.scheduled.pop(tx.hash, None)
                continue
            wait = exc.retry_after if exc.retry_after is not None else DEFAULT_RETRY_SECONDS
            return wait, list(items[start:])
        except NodeUnreachable:
            track.refusals["unreachable"] += len(chunk)
            return DEFAULT_RETRY_SECONDS, list(items[start:])
        results = answer["results"]
        again_at = set(answer.get("resubmit") or ())
        for i, (tx, r) in enumerate(zip(chunk, results, strict=True)):
            if r.get("accepted"):
                track.accepted += 1
                continue
            track.refusals[str(r.get("reason"))] += 1
            if i not in again_at:
                track.scheduled.pop(tx.hash, None)
        if again_at:
            retry = answer.get("retry_after")
            wait = min(MAX_RETRY_SECONDS, float(retry)) if retry is not None else DEFAULT_RETRY_SECONDS
            return wait, [chunk[i] for i in sorted(again_at)] + list(items[start + batch :])
    return 0.0, []


async def _submit_lane(
    client: NodeClient, schedule: Schedule, batch: int, tick: float, track: _Tracker, stop_at: float
) -> None:
    """Send one lane's schedule open loop (see the module docstring); give up at ``stop_at``."""
    t0 = track.t0
    it = iter(schedule)
    nxt = next(it, None)
    backlog: list[Transaction] = []
    sent: set[bytes] = set()
    retry_at = 0.0
    limit = batch * 32
    while nxt is not None or backlog:
        woke = time.perf_counter()
        if woke > stop_at:
            return
        fresh: list[Transaction] = []
        while nxt is not None and t0 + nxt[0] <= woke and len(fresh) < limit:
            track.take(nxt[1], t0 + nxt[0])
            fresh.append(nxt[1])
            nxt = next(it, None)
        backlog.extend(fresh)
        if backlog and woke >= retry_at:
            wait, backlog = await _send(client, backlog, batch, track, sent)
            retry_at = time.perf_counter() + wait
            if not backlog:
                sent.clear()  # nothing of it will be sent again
        now = time.perf_counter()
        if backlog:
            target = retry_at
        elif nxt is not None:
            due = t0 + nxt[0]
            target = due if due <= now else max(due, woke + tick)
        else:
            return
        if target > now:
            await asyncio.sleep(target - now)


async def _watch_commits(
    client: NodeClient, start_height: int, track: _Tracker, done: asyncio.Event, stop_at: float, receipts: bool
) -> None:
    """Follow the chain from ``start_height``; stop once ``done`` is set and nothing accepted is pending."""
    height = start_height
    while time.perf_counter() < stop_at:
        if done.is_set() and (track.committed >= track.accepted or not track.scheduled):
            return
        head = await client.head()
        while height < head["height"]:
            height += 1
            if receipts:
                block = await client.block_for_replay(height)
                now = time.perf_counter()
                for r in block["receipts"]:
                    if r is not None:
                        track.committed_now(bytes.fromhex(r["hash"]), r["code"], now)
            else:
                block = await client.block(height)
                now = time.perf_counter()
                for tx_hash in block["txs"]:
                    track.committed_now(bytes.fromhex(tx_hash), None, now)
        await asyncio.sleep(0.01)


async def _cpu_over_window(pids: Sequence[int], track: _Tracker, done: asyncio.Event) -> tuple[float, ...]:
    """CPU seconds each process used from the window's start to its end (or the run's, if sooner)."""
    start, end = track.window
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    before = [cpu_seconds(p) for p in pids]
    with_end = end - time.perf_counter()
    if math.isfinite(with_end) and with_end > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), with_end)
    else:
        await done.wait()
    after = [cpu_seconds(p) for p in pids]
    return tuple(a - b for a, b in zip(after, before, strict=True))


async def run_load(
    urls: Sequence[str],
    lanes: Sequence[Lane | Schedule],
    batch: int = 500,
    watch_seconds: float = 300.0,
    rate: float | None = None,
    *,
    window: tuple[float, float] | None = None,
    pids: Sequence[int] = (),
    receipts: bool = False,
    tick: float = DEFAULT_TICK,
) -> RunResult:
    """Send every lane (lane i to node i % len(urls)) open loop and follow node 0's commits.

    A :class:`Lane` is paced evenly so that the lanes together offer ``rate`` tx/s (a burst
    without ``rate``); any other lane is a schedule of (due, transaction). ``window`` (seconds
    after the start) is where rates, latencies and the CPU of ``pids`` are measured; without
    it, the whole run up to the last commit. ``receipts`` reads each block's receipts to count
    failed transactions by code. Everything stops at ``watch_seconds``; when the schedules are
    sent, the run ends once every accepted transaction is seen committed.
    """
    lane_rate = None if rate is None else rate / len(lanes)
    schedules = [paced(lane, lane_rate) if isinstance(lane, Lane) else lane for lane in lanes]
    clients = [NodeClient(url, timeout=60.0) for url in urls]
    try:
        start_height = (await clients[0].head())["height"]
        t0 = time.perf_counter()
        track = _Tracker(t0, window if window is not None else (0.0, math.inf))
        stop_at = t0 + watch_seconds
        done = asyncio.Event()
        watcher = asyncio.create_task(_watch_commits(clients[0], start_height, track, done, stop_at, receipts))
        cpu = asyncio.create_task(_cpu_over_window(pids, track, done)) if pids else None
        await asyncio.gather(
            *(
                _submit_lane(clients[i % len(clients)], schedule, batch, tick, track, stop_at)
                for i, schedule in enumerate(schedules)
            )
        )
        admit_seconds = time.perf_counter() - t0
        if window is not None:
            await asyncio.sleep(max(0.0, t0 + window[1] - time.perf_counter()))
        done.set()
        await watcher
        cpu_used = await cpu if cpu is not None else ()
        measured = window if window is not None else (0.0, track.last_commit - t0)
        return RunResult(
            submitted=track.submitted,
            accepted=track.accepted,
            committed=track.committed,
            admit_seconds=admit_seconds,
            commit_seconds=track.last_commit - t0,
            latencies=tuple(track.latencies),
            refusals=dict(track.refusals),
            resubmitted=track.resubmitted,
            failed=dict(track.failed),
            window=measured,
            offered_in_window=track.offered_in_window,
            committed_in_window=track.committed_in_window,
            ok_in_window=track.ok_in_window,
            cpu_seconds=cpu_used,
            started_at=t0,
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
    """Measured in the same run, once the load is over."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Scenario-specific figures (the mix, node settings, ...)."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able summary."""
        bound = self.verify_per_core * cores() / self.verifying_nodes
        return {
            "scenario": self.scenario,
            **machine(),
            "txs": self.txs,
            "offered_rate": self.rate or "burst",
            **self.extra,
            **self.result.summary(bound),
            "verifies_per_s_per_core": round(self.verify_per_core),
            "cores": cores(),
            "verifying_nodes": self.verifying_nodes,
        }


def materialize(schedules: Iterable[Schedule]) -> list[list[tuple[float, Transaction]]]:
    """Sign every schedule up front (so signing costs nothing during the timed run)."""
    return [list(s) for s in schedules]
