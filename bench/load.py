"""What a load scenario sends: the mix, the rate, the window; and running it against started nodes."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from bench.market_load import MarketPlan
from bench.measure import RunResult, run_load
from bench.workload import NonceBook, Schedule, make_accounts, paced, transfer_lanes, transfer_schedule
from chain.tx import Transaction
from node.client import NodeClient

MIXES: Final = ("transfer", "market")
FEE: Final = 10


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """How to load the nodes. With ``rate``, ``seconds`` of open-loop load; without, a burst of ``txs``."""

    mix: str = "transfer"
    rate: float | None = None
    seconds: float = 60.0
    txs: int = 20_000
    accounts: int = 2_000
    lanes: int = 8
    batch: int = 500
    warmup: float | None = None
    """Seconds excluded from the front of the window (default: a fifth of ``seconds``)."""
    step: float = 2.0
    """Seconds between the steps of one order's lifecycle (market mix)."""
    tick: float = 0.1
    seed: str = "bench"
    drain: float = 60.0
    """Seconds after the schedules end to wait for what was accepted to commit."""
    receipts: bool | None = None
    """Read every block's receipts (on node 0) to count on-chain failures by code; default: for
    the market mix only. It costs node 0 a read of each transaction's record."""

    def __post_init__(self) -> None:
        if self.mix not in MIXES:
            raise ValueError(f"--mix must be one of {', '.join(MIXES)}")
        if self.rate is not None and not 0 < self.rate <= 1_000_000:
            raise ValueError("--rate must be in (0, 1000000] tx/s")
        if self.rate is None and self.mix == "market":
            raise ValueError("the market mix is scheduled in time: give --rate")
        if not 0 < self.seconds <= 86_400:
            raise ValueError("--seconds must be in (0, 86400]")
        if not 1 <= self.lanes <= 1024 or not 1 <= self.batch <= 5000 or self.txs < 1:
            raise ValueError("--lanes must be 1..1024, --batch 1..5000 and --txs at least 1")
        if self.accounts < 2 * self.lanes:
            raise ValueError("--accounts must be at least twice --lanes")
        if self.warmup is not None and not 0 <= self.warmup < self.seconds:
            raise ValueError("--warmup must be in [0, --seconds)")
        if not 0 < self.step <= 3600 or not 0.001 <= self.tick <= 10:
            raise ValueError("--step must be in (0, 3600] s and --tick in [0.001, 10] s")

    @property
    def window(self) -> tuple[float, float] | None:
        """The steady window (seconds after the start); None for a burst (the whole run)."""
        if self.rate is None:
            return None
        warm = self.seconds / 5 if self.warmup is None else self.warmup
        return (warm, self.seconds)

    @property
    def reads_receipts(self) -> bool:
        """Whether the run reads receipts (see ``receipts``)."""
        return self.mix == "market" if self.receipts is None else self.receipts

    @property
    def watch_seconds(self) -> float:
        """When everything stops, whatever is pending."""
        return (self.seconds if self.rate is not None else 3600.0) + self.drain

    def describe(self) -> dict[str, Any]:
        """The spec's figures for a report."""
        out: dict[str, Any] = {
            "mix": self.mix,
            "lanes": self.lanes,
            "batch": self.batch,
            "accounts": self.accounts,
            "receipts_read": self.reads_receipts,
        }
        if self.rate is not None:
            out["seconds"] = self.seconds
            if self.mix == "market":
                out["step_s"] = self.step
        return out


@dataclass
class Workload:
    """The accounts to fund, what to commit first, and each lane's schedule."""

    funded: list[bytes]
    setup: list[list[Transaction]]
    """Phases to commit before the run, each before the next."""
    schedules: list[Schedule]

    def presign(self) -> dict[str, int]:
        """Sign every schedule now (keeps signing out of the timed run); the transactions by kind."""
        self.schedules = [list(s) for s in self.schedules]
        kinds: Counter[str] = Counter()
        for s in self.schedules:
            assert isinstance(s, list)
            kinds.update(tx.kind for _, tx in s)
        return dict(sorted(kinds.items()))


def build_workload(spec: LoadSpec, chain_id: str) -> Workload:
    """The workload ``spec`` describes on ``chain_id`` (deterministic in ``spec.seed``); lazy schedules."""
    lane_rate = None if spec.rate is None else spec.rate / spec.lanes
    if spec.mix == "market":
        assert lane_rate is not None
        plan = MarketPlan.make(chain_id, FEE, spec.accounts, spec.lanes, f"{spec.seed}/market")
        setup = plan.setup()
        schedules: list[Schedule] = [
            plan.schedule(i, lane_rate, spec.seconds, spec.step, spec.seed) for i in range(spec.lanes)
        ]
        return Workload(plan.funded(), setup, schedules)
    keys = make_accounts(spec.accounts, spec.seed)
    funded = [k.public_key for k in keys]
    if lane_rate is None:
        lanes = transfer_lanes(chain_id, keys, spec.txs, spec.lanes, fee=FEE)
        return Workload(funded, [], [paced(lane, None) for lane in lanes])
    schedules = [
        transfer_schedule(NonceBook(chain_id, FEE), keys[i :: spec.lanes], lane_rate, spec.seconds)
        for i in range(spec.lanes)
    ]
    return Workload(funded, [], schedules)


async def wait_ready(urls: Sequence[str], timeout: float = 60.0) -> None:  # noqa: ASYNC109
    """Wait until every node answers /readyz."""
    for url in urls:
        async with NodeClient(url) as client:
            await client.wait_ready(timeout)


async def commit_setup(url: str, phases: Sequence[Sequence[Transaction]], batch: int = 500) -> None:
    """Send each phase (one lane, in order) and wait until all of it commits successfully; RuntimeError if not."""
    for txs in phases:
        if not txs:
            continue
        result = await run_load([url], [[(0.0, tx) for tx in txs]], batch=batch, watch_seconds=600.0, receipts=True)
        if result.committed != len(txs) or result.failed:
            raise RuntimeError(
                f"setup: {result.committed} of {len(txs)} committed, failed {result.failed}, refused {result.refusals}"
            )


def run_workload(urls: Sequence[str], pids: Sequence[int], spec: LoadSpec, work: Workload) -> RunResult:
    """Commit the setup on node 0, then send the schedules (lane i to node i % nodes) and measure."""

    async def go() -> RunResult:
        await wait_ready(urls)
        await commit_setup(urls[0], work.setup, spec.batch)
        return await run_load(
            urls,
            work.schedules,
            batch=spec.batch,
            watch_seconds=spec.watch_seconds,
            window=spec.window,
            pids=pids,
            receipts=spec.reads_receipts,
            tick=spec.tick,
        )

    return asyncio.run(go())
