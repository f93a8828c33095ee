"""Open-loop load through the client API: committed throughput, latency, refusals and CPU.

Each lane (one submitter, senders of its own) sends its schedule's transactions at their
due times whatever the node answered before; it has at most one request in flight and
sends, when it wakes, everything due by then (in batches). What the node refuses for load
goes again after its Retry-After, ahead of newer transactions, which the lane holds
meanwhile (later nonces of a refused sender would only be stranded), until shortly before
the drain's end.
What a node drops after accepting it is found by looking it up and sent again. At the end,
every transaction not committed is accounted for (:class:`Accounting`): accepted and still
committable, accepted behind an earlier nonce the node does not hold, held, refused, or
lost (accepted, and unknown to the node). Latency runs from a
transaction's *scheduled* time to the moment it is seen committed (no coordinated
omission: a late send counts against the system). Commits are followed on node 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import math
import os
import platform
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
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
class Accounting:
    """What became of the transactions taken and not seen committed by the end of a run."""

    held_for_load: int
    """Refused for load (or not yet sent) and still held by their lane when sending stopped."""
    refused: dict[str, int]
    """Refused for a reason against them, or dropped by the node and not taken again, by reason."""
    gapped: dict[str, int]
    """Accepted, but behind an earlier nonce of the same sender that the node does not hold,
    by what that earlier one is (``held_for_load``, ``refused:REASON``, ``dropped:REASON``):
    they cannot commit until it does."""
    committable: int
    """Accepted with no gap before them, still not committed (the drain ran out of time)."""
    heads: tuple[bytes, ...]
    """Of those, each sender's first (what the end's look-up asks the node about)."""


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one load run measured. Times are seconds after the run's start."""

    submitted: int
    """Transactions taken from the schedules (each counted once, however often resubmitted)."""
    accepted: int
    committed: int
    """Of ours, seen committed (whatever their receipt said)."""
    admit_seconds: float
    """From the start to when every lane had nothing left to send (not before the load's end)."""
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
    dropped: dict[str, int] = field(default_factory=dict)
    """Accepted transactions a node dropped later (by reason), each sent again by its lane."""
    accounting: Accounting = field(default_factory=lambda: Accounting(0, {}, {}, 0, ()))
    """What became of every transaction not committed by the end."""
    heads_at_end: dict[str, int] = field(default_factory=dict)
    """What the nodes said at the end of each sender's first committable transaction left
    (``pending``; ``dropped:REASON``; ``lost``: accepted, and the node knows nothing of it)."""
    blocks_in_window: int = 0
    block_txs_in_window: int = 0
    """Transactions (anyone's) in the blocks committed in the window."""
    block_interval_ms: float | None = None
    """Mean gap between the header times of the window's blocks."""
    lookups: int = 0
    """Transactions the drop checker asked a node about."""
    by_minute: tuple[tuple[int, float], ...] = ()
    """Per minute of the run (from its start, the whole run, not only the window): how many of
    ours committed in it and their median scheduled-to-final seconds (a soak's trend over time)."""

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
            "accepted_committable_at_end": self.accounting.committable,
            "accepted_gapped_at_end": dict(sorted(self.accounting.gapped.items())),
            "accepted_lost": self.heads_at_end.get("lost", 0),
            "committable_heads_at_end": self.heads_at_end,
            "held_for_load_at_end": self.accounting.held_for_load,
            "refused_or_dropped_at_end": dict(sorted(self.accounting.refused.items())),
            "dropped_by_node": dict(sorted(self.dropped.items())),
            "drop_lookups": self.lookups,
            "offered_tps": round(self.offered_in_window / w, 1) if w else None,
            "committed_tps": round(self.commit_tps, 1),
            "goodput_tps": round(self.ok_in_window / w, 1) if w else None,
            "committed_in_window": self.committed_in_window,
            "blocks_in_window": self.blocks_in_window,
            "txs_per_block_mean": round(self.block_txs_in_window / self.blocks_in_window, 1)
            if self.blocks_in_window
            else None,
            "block_interval_ms_mean": None if self.block_interval_ms is None else round(self.block_interval_ms, 1),
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
            "by_minute": [
                {"minute": m, "committed_tps": round(n / 60, 1), "latency_p50_s": rounded(p50)}
                for m, (n, p50) in enumerate(self.by_minute)
            ],
        }


class _LaneState:
    """What the drop checker hands back to one lane: accepted transactions the node dropped."""

    def __init__(self, client: NodeClient) -> None:
        self.client = client
        self.returned: list[Transaction] = []
        self.wake = asyncio.Event()
        self.idle = False
        """True while the lane has nothing to send (its schedule is done and nothing is held)."""


class _Tracker:
    """Our transactions in flight and what became of them (shared by every lane)."""

    def __init__(self, t0: float, window: tuple[float, float], check_after: float = 5.0) -> None:
        self.t0 = t0
        self.check_after = check_after
        """Seconds after acceptance (and between looks) before a transaction is looked up on its node."""
        self.window = (t0 + window[0], t0 + window[1])
        self.scheduled: dict[bytes, float] = {}
        """Hash -> scheduled time (perf_counter) of every transaction not yet seen committed."""
        self.txs: dict[bytes, Transaction] = {}
        """Hash -> transaction, of every one taken and not yet seen committed (for the end's accounting)."""
        self.live: set[bytes] = set()
        """Accepted, not seen committed, not known dropped."""
        self.live_at: dict[tuple[bytes, int], bytes] = {}
        """(sender, nonce) -> hash of the live ones (only a sender's first is looked up)."""
        self.final: dict[bytes, str] = {}
        """Refused for a reason against the transaction (never sent again), or dropped: hash -> reason."""
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
        self.dropped: Counter[str] = Counter()
        """Accepted transactions the node later dropped (by reason), each handed back to its lane."""
        self.blocks_in_window = 0
        self.block_txs_in_window = 0
        self.block_times_ms: list[int] = []
        """Header times of the blocks committed in the window (for the mean interval)."""
        self.checks: list[tuple[float, int, bytes, int]] = []
        """Heap of (when to look, seq, hash, lane) of accepted transactions to look up on their node."""
        self._seq = 0
        self.lookups = 0
        self.minute_latencies: list[array[float]] = []
        """Per minute since t0, the scheduled-to-final seconds of ours committed in it."""

    def take(self, tx: Transaction, at: float) -> None:
        self.scheduled[tx.hash] = at
        self.txs[tx.hash] = tx
        self.submitted += 1
        if self.window[0] <= at < self.window[1]:
            self.offered_in_window += 1

    def accepted_now(self, tx: Transaction, lane: int) -> None:
        """The node took ``tx`` (again, if it had dropped it: counted once)."""
        if tx.hash not in self.txs or tx.hash in self.live:
            return
        if self.final.pop(tx.hash, None) is None:
            self.accepted += 1
        self.live.add(tx.hash)
        self.live_at[(tx.sender, tx.nonce)] = tx.hash
        self._seq += 1
        heapq.heappush(self.checks, (time.perf_counter() + self.check_after, self._seq, tx.hash, lane))

    def refused_final(self, tx: Transaction, reason: str) -> None:
        """The node refused ``tx`` for a reason against it: it is not sent again."""
        self.scheduled.pop(tx.hash, None)
        self.final[tx.hash] = f"refused:{reason}"

    def committed_now(self, tx_hash: bytes, code: str | None, now: float) -> None:
        at = self.scheduled.pop(tx_hash, None)
        tx = self.txs.pop(tx_hash, None)
        if tx_hash in self.live:
            self.live.discard(tx_hash)
            if tx is not None:
                self.live_at.pop((tx.sender, tx.nonce), None)
        self.final.pop(tx_hash, None)
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
        minute = max(0, int((now - self.t0) // 60))
        while len(self.minute_latencies) <= minute:
            self.minute_latencies.append(array("d"))
        self.minute_latencies[minute].append(now - at)

    def by_minute(self) -> tuple[tuple[int, float], ...]:
        """(committed, median latency) of each minute since t0 (see :attr:`RunResult.by_minute`)."""
        return tuple((len(lat), quantile(sorted(lat), 0.5)) for lat in self.minute_latencies)

    def block_now(self, num_txs: int, time_ms: int, now: float) -> None:
        if self.window[0] <= now < self.window[1]:
            self.blocks_in_window += 1
            self.block_txs_in_window += num_txs
            self.block_times_ms.append(time_ms)

    def accounting(self) -> Accounting:
        """Every transaction taken and not committed, by why (see :class:`Accounting`).

        A sender's transactions are walked in nonce order: the first one the node does not
        hold (held for load and never taken, refused, dropped) blocks every later one.
        """
        by_sender: dict[bytes, list[Transaction]] = {}
        for tx in self.txs.values():
            by_sender.setdefault(tx.sender, []).append(tx)
        held = 0
        refused: Counter[str] = Counter()
        gapped: Counter[str] = Counter()
        committable = 0
        heads: list[bytes] = []
        for txs in by_sender.values():
            txs.sort(key=lambda t: t.nonce)
            blocker: str | None = None
            for n, tx in enumerate(txs):
                if tx.hash in self.live:
                    if blocker is None:
                        committable += 1
                        if n == 0 or txs[n - 1].hash not in self.live:
                            heads.append(tx.hash)
                    else:
                        gapped[blocker] += 1
                    continue
                reason = self.final.get(tx.hash)
                if reason is None:
                    held += 1
                    reason = "held_for_load"
                else:
                    refused[reason] += 1
                if blocker is None:
                    blocker = reason
        return Accounting(held, dict(refused), dict(gapped), committable, tuple(heads))


DROP_CHECKS_PER_ROUND = 1000
"""Most transactions looked up per node per round (one lookup request)."""


async def _send(
    lane: int, client: NodeClient, items: Sequence[Transaction], batch: int, track: _Tracker, sent: set[bytes]
) -> tuple[float, list[Transaction]]:
    """Send ``items`` in order, ``batch`` per request; return (seconds to wait, what to resubmit).

    Once a request is refused for load, the rest is not sent (it holds later nonces of the
    refused senders) and comes back with it, to go again after the node's Retry-After. A
    transaction refused for any other reason is not sent again (it will never commit).
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
                    track.refused_final(tx, exc.reason)
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
                track.accepted_now(tx, lane)
                continue
            reason = str(r.get("reason"))
            track.refusals[reason] += 1
            if i not in again_at:
                track.refused_final(tx, reason)
        if again_at:
            retry = answer.get("retry_after")
            wait = min(MAX_RETRY_SECONDS, float(retry)) if retry is not None else DEFAULT_RETRY_SECONDS
            return wait, [chunk[i] for i in sorted(again_at)] + list(items[start + batch :])
    return 0.0, []


async def _submit_lane(
    lane: int,
    state: _LaneState,
    schedule: Schedule,
    batch: int,
    tick: float,
    track: _Tracker,
    send_until: float,
    finished: asyncio.Event,
) -> None:
    """Send one lane's schedule open loop (see the module docstring) until ``finished``.

    What the node refuses for load is sent again after its Retry-After, until ``send_until``
    (then it stays held: counted, never sent again). What the node dropped after accepting it
    (handed back in ``state.returned``) goes again, before the rest, until ``finished``.
    ``state.idle`` says when it has nothing to send.
    """
    t0 = track.t0
    it = iter(schedule)
    nxt = next(it, None)
    backlog: list[Transaction] = []
    sent: set[bytes] = set()
    retry_at = 0.0
    limit = batch * 32
    while not finished.is_set():
        woke = time.perf_counter()
        fresh: list[Transaction] = []
        while nxt is not None and t0 + nxt[0] <= woke and len(fresh) < limit:
            track.take(nxt[1], t0 + nxt[0])
            fresh.append(nxt[1])
            nxt = next(it, None)
        if state.returned:
            again = sorted(state.returned, key=lambda t: (t.sender, t.nonce))
            state.returned.clear()
            sent.update(t.hash for t in again)
            backlog = again + backlog
        backlog.extend(fresh)
        if backlog and woke > send_until:
            backlog = [tx for tx in backlog if track.final.get(tx.hash, "").startswith("dropped:")]
        if backlog and woke >= retry_at:
            wait, backlog = await _send(lane, state.client, backlog, batch, track, sent)
            retry_at = time.perf_counter() + wait
            if not backlog:
                sent.clear()  # nothing of it will be sent again (but a dropped one, marked anew)
        now = time.perf_counter()
        if backlog:
            target = retry_at
        elif nxt is not None:
            due = t0 + nxt[0]
            target = due if due <= now else max(due, woke + tick)
        else:
            target = now + 1.0
        state.idle = not backlog and nxt is None and not state.returned
        state.wake.clear()
        if target > now:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.wake.wait(), target - now)


async def _check_drops(states: Sequence[_LaneState], track: _Tracker, finished: asyncio.Event) -> None:
    """Look up, on the node each was sent to, accepted transactions still not committed
    ``track.check_after`` s after acceptance (again that often), each sender's first one only
    (the node drops a sender's later nonces with it); hand the dropped back to their lane."""
    while not finished.is_set():
        now = time.perf_counter()
        due: dict[int, list[bytes]] = {}
        while track.checks and track.checks[0][0] <= now:
            _, _, tx_hash, lane = heapq.heappop(track.checks)
            if tx_hash not in track.live:
                continue
            tx = track.txs[tx_hash]
            if (tx.sender, tx.nonce - 1) in track.live_at:  # its sender's earlier one is looked up first
                heapq.heappush(track.checks, (now + track.check_after, 0, tx_hash, lane))
            else:
                due.setdefault(lane, []).append(tx_hash)
        for lane, hashes in due.items():
            later: list[bytes] = []
            for start in range(0, len(hashes), DROP_CHECKS_PER_ROUND):
                part = hashes[start : start + DROP_CHECKS_PER_ROUND]
                if start >= DROP_CHECKS_PER_ROUND:
                    later.extend(part)
                    continue
                await _look_up(lane, states[lane], part, track)
            for tx_hash in later:
                track.checks.append((now + track.check_after, 0, tx_hash, lane))
            heapq.heapify(track.checks)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(finished.wait(), 1.0)


async def _look_up(lane: int, state: _LaneState, hashes: list[bytes], track: _Tracker) -> None:
    """Ask the lane's node about ``hashes``: a dropped one goes back to the lane, another is looked at again later."""
    track.lookups += len(hashes)
    try:
        answers = await state.client.lookup_txs([h.hex() for h in hashes])
    except (NodeApiError, NodeUnreachable):
        answers = [{"status": "pending"} for _ in hashes]
    again = time.perf_counter() + track.check_after
    for tx_hash, answer in zip(hashes, answers, strict=True):
        if tx_hash not in track.live:
            continue
        if answer.get("status") == "dropped":
            reason = str(answer.get("reason"))
            track.dropped[reason] += 1
            track.live.discard(tx_hash)
            dropped = track.txs[tx_hash]
            track.live_at.pop((dropped.sender, dropped.nonce), None)
            track.final[tx_hash] = f"dropped:{reason}"
            state.returned.append(dropped)
            state.idle = False
            state.wake.set()
            continue
        if answer.get("status") != "committed":
            heapq.heappush(track.checks, (again, 0, tx_hash, lane))


async def _watch_commits(
    client: NodeClient,
    start_height: int,
    track: _Tracker,
    ready: Callable[[], bool],
    stop_at: float,
    receipts: bool,
) -> None:
    """Follow the chain from ``start_height`` until ``stop_at``, or until ``ready()`` and nothing
    that can commit is pending: every accepted transaction committed, or, once commits have
    stalled for ``DRAIN_STALL`` s, what is left is only what waits behind an earlier nonce
    the node does not hold (see :meth:`_Tracker.accounting`)."""
    height = start_height
    progress_at = asked_at = time.perf_counter()
    while time.perf_counter() < stop_at:
        now = time.perf_counter()
        if ready():
            if track.committed >= track.accepted or not track.live:
                return
            if now - progress_at > DRAIN_STALL and now - asked_at > 1.0:
                asked_at = now
                if track.accounting().committable == 0:
                    return
        head = await client.head()
        while height < head["height"]:
            height += 1
            progress_at = time.perf_counter()
            if receipts:
                block = await client.block_for_replay(height)
                now = time.perf_counter()
                for r in block["receipts"]:
                    if r is not None:
                        track.committed_now(bytes.fromhex(r["hash"]), r["code"], now)
                num = int(block.get("num_txs", len(block["receipts"])))
            else:
                block = await client.block(height)
                now = time.perf_counter()
                for tx_hash in block["txs"]:
                    track.committed_now(bytes.fromhex(tx_hash), None, now)
                num = int(block.get("num_txs", len(block["txs"])))
            track.block_now(num, int(block.get("time_ms") or 0), now)
        await asyncio.sleep(0.01)


DRAIN_TAIL = 10.0
"""Seconds at the end of the run (at most a quarter of the drain) in which lanes send nothing
held for load, so that what the nodes accepted can commit before the run stops."""
DRAIN_STALL = 2.0
"""Seconds without a new block, after the load, before the drain asks whether anything left can commit."""


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


async def _final_look(
    states: Sequence[_LaneState], lane_of: dict[bytes, int], heads: Sequence[bytes]
) -> dict[str, int]:
    """Ask each head's node what it is (pending, dropped:REASON, committed, unknown = lost), counted."""
    seen: Counter[str] = Counter()
    by_lane: dict[int, list[bytes]] = {}
    for h in heads:
        by_lane.setdefault(lane_of.get(h, 0), []).append(h)
    for lane, hashes in by_lane.items():
        client = states[lane].client
        for start in range(0, len(hashes), DROP_CHECKS_PER_ROUND):
            part = hashes[start : start + DROP_CHECKS_PER_ROUND]
            try:
                answers = await client.lookup_txs([h.hex() for h in part])
            except (NodeApiError, NodeUnreachable) as exc:
                seen[f"not_asked:{type(exc).__name__}"] += len(part)
                continue
            for answer in answers:
                status = str(answer.get("status"))
                if status == "dropped":
                    status = f"dropped:{answer.get('reason')}"
                elif status == "unknown":
                    status = "lost"
                seen[status] += 1
    return dict(sorted(seen.items()))


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
    drop_check_after: float = 10.0,
) -> RunResult:
    """Send every lane (lane i to node i % len(urls)) open loop and follow node 0's commits.

    A :class:`Lane` is paced evenly so that the lanes together offer ``rate`` tx/s (a burst
    without ``rate``); any other lane is a schedule of (due, transaction). ``window`` (seconds
    after the start) is where rates, latencies, blocks and the CPU of ``pids`` are measured;
    without it, the whole run up to the last commit. ``receipts`` reads each block's receipts
    to count failed transactions by code. An accepted transaction not seen committed
    ``drop_check_after`` s later (and as often again) is looked up on the node it was sent to.

    What the node refuses for load is sent again after its Retry-After, through the drain,
    until ``DRAIN_TAIL`` s (at most a quarter of the drain) before ``watch_seconds``; what it
    drops after accepting it is sent again until the run ends. After the load (the window's
    end) the run drains: it ends once every lane has sent all it holds and every accepted
    transaction is seen committed, or once nothing left can commit (only transactions behind
    an earlier nonce the node does not hold), or at ``watch_seconds``. The result accounts for every
    transaction not committed (:class:`Accounting`) and asks the nodes about the committable
    ones left, so that "nothing accepted is lost" can be checked.
    """
    lane_rate = None if rate is None else rate / len(lanes)
    schedules = [paced(lane, lane_rate) if isinstance(lane, Lane) else lane for lane in lanes]
    clients = [NodeClient(url, timeout=60.0) for url in urls]
    try:
        start_height = (await clients[0].head())["height"]
        t0 = time.perf_counter()
        track = _Tracker(t0, window if window is not None else (0.0, math.inf), drop_check_after)
        stop_at = t0 + watch_seconds
        load_end = t0 + window[1] if window is not None and math.isfinite(window[1]) else t0
        send_until = stop_at - min(DRAIN_TAIL, max(0.0, stop_at - load_end) / 4)
        states = [_LaneState(clients[i % len(clients)]) for i in range(len(schedules))]
        finished = asyncio.Event()
        done = asyncio.Event()
        admit_end = [t0]

        def ready() -> bool:
            if time.perf_counter() < load_end or not all(state.idle for state in states):
                return False
            if not done.is_set():
                admit_end[0] = time.perf_counter()
                done.set()
            return True

        watcher = asyncio.create_task(_watch_commits(clients[0], start_height, track, ready, stop_at, receipts))
        cpu = asyncio.create_task(_cpu_over_window(pids, track, done)) if pids else None
        senders = [
            asyncio.create_task(_submit_lane(i, states[i], s, batch, tick, track, send_until, finished))
            for i, s in enumerate(schedules)
        ]
        checker = asyncio.create_task(_check_drops(states, track, finished))
        try:
            await watcher
        finally:
            finished.set()
            done.set()
            for state in states:
                state.wake.set()
            await asyncio.gather(*senders, checker, return_exceptions=True)
        for task in (*senders, checker):
            failure = task.exception()
            if failure is not None:
                raise failure
        cpu_used = await cpu if cpu is not None else ()
        account = track.accounting()
        lane_of = {h: lane for _, _, h, lane in track.checks}
        at_end = await _final_look(states, lane_of, account.heads) if account.heads else {}
        measured = window if window is not None else (0.0, track.last_commit - t0)
        return RunResult(
            submitted=track.submitted,
            accepted=track.accepted,
            committed=track.committed,
            admit_seconds=(admit_end[0] if admit_end[0] > t0 else time.perf_counter()) - t0,
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
            dropped=dict(track.dropped),
            accounting=account,
            heads_at_end=at_end,
            blocks_in_window=track.blocks_in_window,
            block_txs_in_window=track.block_txs_in_window,
            block_interval_ms=_mean_interval(track.block_times_ms),
            lookups=track.lookups,
            by_minute=track.by_minute(),
        )
    finally:
        for client in clients:
            await client.close()


def _mean_interval(times_ms: Sequence[int]) -> float | None:
    """Mean gap between consecutive block header times (ms); None with fewer than two blocks."""
    if len(times_ms) < 2 or not all(times_ms):
        return None
    return (times_ms[-1] - times_ms[0]) / (len(times_ms) - 1)


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
