"""Single-validator block production.

A block as soon as proposable transactions wait (but at least ``min_block_interval_ms``
after the previous one) and an empty heartbeat block after ``heartbeat_interval_ms``
without any. The node precommits its own block and stores ``Commit.from_votes([vote])``
as the certificate, so even a one-validator chain has verifiable certificates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from chain.keys import PrivateKey
from chain.votes import Commit, Vote, VoteType
from node.events import CommittedBlock
from node.executor import BlockExecutor
from node.mempool import Mempool

log = logging.getLogger("agora.producer")
Clock = Callable[[], int]
"""A source of the current time in milliseconds since the epoch."""


def wall_clock_ms() -> int:
    """The system clock in milliseconds (the default block time source)."""
    return int(time.time() * 1000)


async def wait_for_any(events: list[asyncio.Event], seconds: float) -> None:
    """Return when any of ``events`` is set or ``seconds`` have passed."""
    if any(e.is_set() for e in events):
        return
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=max(seconds, 0.0), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
        for w in waiters:
            with contextlib.suppress(asyncio.CancelledError):
                await w


class Producer:
    """Produces and commits blocks while it runs; the node's only block source for now."""

    def __init__(
        self,
        executor: BlockExecutor,
        mempool: Mempool,
        key: PrivateKey,
        min_block_interval_ms: int,
        heartbeat_interval_ms: int,
        clock: Clock = wall_clock_ms,
    ) -> None:
        self.executor = executor
        self.clock = clock
        """Block times come from here (tests inject a clock they advance)."""
        self.mempool = mempool
        self.key = key
        self.min_interval = min_block_interval_ms / 1000
        self.heartbeat = heartbeat_interval_ms / 1000
        self._wake = asyncio.Event()

    def notify(self) -> None:
        """Tell the producer that the mempool changed (it may have work)."""
        self._wake.set()

    async def produce_block(self) -> CommittedBlock:
        """Build, sign, certify and commit one block on the head; return it committed."""
        executor = self.executor
        params = self.mempool.params
        candidates = self.mempool.select(params.max_block_txs, params.max_block_bytes)
        time_ms = self.clock()
        block = await asyncio.to_thread(executor.build_proposal, candidates, self.key.public_key, time_ms)
        vote = Vote.create(self.key, executor.chain_id, VoteType.PRECOMMIT, block.height, 0, block.hash)
        committed = await executor.commit(block, Commit.from_votes([vote]))
        log.info("committed block %d with %d txs (%s)", block.height, len(block.txs), block.hash.hex()[:16])
        return committed

    async def run(self, stop: asyncio.Event) -> None:
        """Produce blocks until ``stop`` is set; a block being written is always finished."""
        last = time.monotonic()
        while not stop.is_set():
            self._wake.clear()
            now = time.monotonic()
            if self.mempool.has_proposable():
                due = last + self.min_interval
                if now < due:
                    await wait_for_any([stop], due - now)
                    continue
            else:
                due = last + self.heartbeat
                if now < due:
                    await wait_for_any([stop, self._wake], due - now)
                    continue
            try:
                await self.produce_block()
            except Exception:
                log.exception("block production failed; retrying after the minimum interval")
            last = time.monotonic()
