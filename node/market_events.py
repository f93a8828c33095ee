"""What the live event stream sends for one committed block, given a subscriber's filter.

Pure: a :class:`node.events.CommittedBlock` and a :class:`StreamFilter` in, a list of
(event name, JSON payload) out. A block yields its ``block`` summary first, then the
market events of its deadline actions (begin-block events), then those of its successful
transactions in order -- the order in which the chain applied them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from chain.execution import Event
from node.events import CommittedBlock
from node.market_render import market_event_json

BLOCK: Final = "block"
MARKET_TYPES: Final = frozenset({"order", "listing", "review", "review_reply", "escrow", "deadline_error"})
PROVENANCE_TYPES: Final = frozenset({"provenance_delivery", "provenance_recall"})
"""Provenance events that concern an order (its delivered lot, a recall reaching it): in its stream."""
STREAM_TYPES: Final = frozenset({BLOCK}) | MARKET_TYPES | PROVENANCE_TYPES
"""Every event name the stream can send."""


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """Which events a subscriber wants: by name, and market events by party or order."""

    types: frozenset[str] = STREAM_TYPES
    merchant: bytes | None = None
    """Only market events whose ``merchant`` is this account."""
    buyer: bytes | None = None
    """Only market events whose ``buyer`` is this account."""
    order_id: bytes | None = None
    """Only market events of this order."""

    def wants(self, event: Event) -> bool:
        """True if the market ``event`` passes the filter."""
        if event.type not in self.types:
            return False
        for name, wanted in (("merchant", self.merchant), ("buyer", self.buyer), ("order_id", self.order_id)):
            if wanted is not None and event.get(name) != wanted:
                return False
        return True


def stream_events(
    item: CommittedBlock, wanted: StreamFilter, block_json: Callable[[CommittedBlock], dict[str, Any]]
) -> list[tuple[str, dict[str, Any]]]:
    """The (name, payload) pairs ``wanted`` receives for the committed block ``item``."""
    header = item.block.header
    out: list[tuple[str, dict[str, Any]]] = []
    if BLOCK in wanted.types:
        out.append((BLOCK, block_json(item)))
    for event in item.result.block_events:
        if wanted.wants(event):
            out.append((event.type, market_event_json(event, header.height, header.time_ms, None)))
    for receipt in item.result.receipts:
        for event in receipt.events:
            if wanted.wants(event):
                out.append((event.type, market_event_json(event, header.height, header.time_ms, receipt.tx_hash)))
    return out
