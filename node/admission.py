"""The admission gate of the client API: refuse early and cheaply what the node cannot take.

Checked at the top of the submit handlers, before a body is decoded or a signature
verified. The pending work is the mempool plus the transactions of API batches still being
verified; it may not exceed ``queue_blocks`` blocks of the adaptive block size
(:class:`node.block_budget.BlockBudget`), nor the mempool's own bound. So the queue a new
transaction joins is a few short rounds long, whatever the offered load: goodput stays at
capacity and latency stays bounded, instead of the mempool growing into blocks that take
seconds. What the gate refuses gets HTTP 429 with a ``Retry-After`` of about the time the
node needs to drain the excess; nothing is decoded, verified or stored for it.

Transactions gossiped by peers are not gated here (the mempool's bounds still apply):
a transaction another node admitted must be able to reach every proposer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Protocol

from node.block_budget import BlockBudget

DEFAULT_QUEUE_BLOCKS: Final = 4
"""Pending work the API lets build up, in blocks of the current adaptive size."""
DEFAULT_MAX_VERIFYING: Final = 4_000
"""Transactions of API batches whose signatures may be in verification at once."""
MAX_RETRY_AFTER: Final = 10
RETRYABLE_REASONS: Final = frozenset({"mempool_full", "overloaded", "earlier_nonce_refused"})
"""Refusals that say nothing against the transaction: the client should send it again later."""


class PoolLevel(Protocol):
    """What the gate reads of the mempool."""

    max_txs: int

    def __len__(self) -> int:
        """Transactions pending."""
        ...


@dataclass(frozen=True, slots=True)
class GateDecision:
    """How many of the offered transactions to take, and what the rest are told."""

    admit: int
    """Take the first ``admit`` offered transactions; refuse the rest unread."""
    reason: str
    """Why the rest are refused: ``mempool_full`` (the mempool's bound) or ``overloaded``."""
    retry_after: int
    """Seconds (1..10) after which the refused ones are worth sending again."""

    @property
    def refuses_all(self) -> bool:
        """True if nothing may be taken."""
        return self.admit == 0


class AdmissionGate:
    """Decides from the pending work how many offered transactions the API may take."""

    def __init__(
        self,
        mempool: PoolLevel,
        budget: BlockBudget,
        queue_blocks: int = DEFAULT_QUEUE_BLOCKS,
        max_verifying: int = DEFAULT_MAX_VERIFYING,
    ) -> None:
        if queue_blocks < 1 or max_verifying < 1:
            raise ValueError("queue_blocks and max_verifying must be at least 1")
        self.mempool = mempool
        self.budget = budget
        self.queue_blocks = queue_blocks
        self.max_verifying = max_verifying
        self.verifying = 0
        """Transactions of API batches between decoding and admission (signatures in flight)."""

    @property
    def soft_limit(self) -> int:
        """The most pending work the API lets build up (never above the mempool's bound)."""
        return min(self.mempool.max_txs, self.queue_blocks * self.budget.limit)

    def check(self, offered: int) -> GateDecision:
        """How many of ``offered`` transactions to take now (a prefix), and why not the rest.

        Pending work is ``len(mempool) + verifying``. The gate takes at most
        ``soft_limit - pending`` transactions, none while ``max_verifying`` are in
        verification, and never more than ``offered``.
        """
        pending = len(self.mempool) + self.verifying
        limit = self.soft_limit
        room = max(0, limit - pending)
        reason = "mempool_full" if limit >= self.mempool.max_txs else "overloaded"
        if self.verifying >= self.max_verifying:
            room, reason = 0, "overloaded"
        admit = min(max(0, offered), room)
        excess = pending + offered - admit - limit
        return GateDecision(admit, reason, self.retry_after(excess))

    def retry_after(self, excess: int) -> int:
        """Whole seconds for the node to commit ``excess`` transactions beyond its limit
        (at least one block's time), between 1 and :data:`MAX_RETRY_AFTER`."""
        blocks = max(1, math.ceil(max(0, excess) / max(1, self.budget.limit)))
        return max(1, min(MAX_RETRY_AFTER, math.ceil(blocks * self.budget.round_seconds)))
