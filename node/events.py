"""In-process publish/subscribe of committed blocks (for live streams and reactors).

Publishing never blocks the block executor: each subscriber has a bounded queue, and a
subscriber that falls that far behind is dropped (its queue gets a final ``None``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

from chain.block import Block
from chain.execution import BlockResult
from chain.votes import Commit

DEFAULT_QUEUE: Final = 256


@dataclass(frozen=True, slots=True)
class CommittedBlock:
    """A block as committed: with its execution result (receipts) and certificate."""

    block: Block
    result: BlockResult
    commit: Commit


class EventBus:
    """Fan-out of committed blocks to subscribers on one event loop."""

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[CommittedBlock | None]] = set()

    @property
    def subscriber_count(self) -> int:
        """How many subscribers are listening."""
        return len(self._subscribers)

    def publish(self, item: CommittedBlock) -> None:
        """Deliver ``item`` to every subscriber; drop subscribers whose queue is full."""
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                self._subscribers.discard(queue)
                queue.get_nowait()
                queue.put_nowait(None)

    def close(self) -> None:
        """End every subscription (each iterator stops)."""
        for queue in list(self._subscribers):
            self._subscribers.discard(queue)
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)

    @asynccontextmanager
    async def subscribe(self, maxsize: int = DEFAULT_QUEUE) -> AsyncIterator[asyncio.Queue[CommittedBlock | None]]:
        """A queue receiving every block committed while the context is open (None = ended)."""
        queue: asyncio.Queue[CommittedBlock | None] = asyncio.Queue(maxsize)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
