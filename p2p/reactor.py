"""The interface between the switch and the reactors that give it payloads.

Declared here because p2p is its user (cometbft's ``p2p/base_reactor.go``): the node's
mempool, consensus and block-sync reactors implement :class:`Reactor` and register with
``switch.add_reactor(reactor)``; they talk back through the :class:`Network` methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from chain.encoding import DecodeError
from p2p.wire import check_channel_name


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel a reactor owns, and how the switch treats its messages."""

    name: str
    """1-32 chars of a-z 0-9 . _ / - (e.g. ``mempool.txs``, ``consensus.votes``)."""
    priority: int = 1
    """Higher drains first from a peer's outbound queue (consensus above transactions)."""
    max_message_bytes: int = 1024 * 1024
    """Larger payloads are refused on send and make the sender's request invalid on receive."""
    queue_capacity: int = 10_000
    """Per-peer outbound queue bound; beyond it messages are dropped (and counted), never blocking."""
    dedup: bool = True
    """Gossip channel: deliver each payload once (sha256 id), never echo it to a peer that has it.
    Turn off for request/response channels where identical payloads are legitimate repeats."""

    def __post_init__(self) -> None:
        try:
            check_channel_name(self.name)
        except DecodeError as exc:
            raise ValueError(str(exc)) from None
        if self.max_message_bytes <= 0 or self.queue_capacity <= 0:
            raise ValueError("channel max_message_bytes and queue_capacity must be positive")


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """What the switch knows about a peer."""

    node_id: bytes
    """The peer's node public key (32 bytes)."""
    url: str
    """The peer's listen URL."""
    height: int
    """The height it announced in its last hello."""
    outbound: bool
    """True iff we hold a session to send to it."""
    inbound: bool
    """True iff it holds a session to send to us."""
    score: float
    """Current penalty points (0 = clean)."""


class Reactor(Protocol):
    """A payload owner registered on the switch."""

    @property
    def channels(self) -> Sequence[ChannelSpec]:
        """The channels this reactor receives (names unique across reactors)."""
        ...

    async def receive(self, peer_id: bytes, channel: str, payload: bytes) -> None:
        """Handle one message from ``peer_id``. Called serially per request, in order.

        Must not block for long (it holds the peer's request open); must validate the payload
        and call ``network.report(peer_id, ...)`` for invalid data rather than raise. An
        exception is logged and counted, never returned to the peer as a 500.
        """
        ...

    def peer_connected(self, peer: PeerInfo) -> None:
        """A peer became sendable (an outbound session was established)."""
        ...

    def peer_disconnected(self, peer_id: bytes) -> None:
        """A peer stopped being sendable (link failed, banned, or the switch stopped), or was forgotten.

        Also called for a peer that only ever dialled in, once it has been silent long enough
        to be dropped from the peer table (no ``peer_connected`` preceded it).
        """
        ...


class Network(Protocol):
    """What a reactor may ask of the switch (``p2p.switch.Switch`` implements it)."""

    def broadcast(self, channel: str, payload: bytes, except_peer: bytes | None = None) -> int:
        """Queue ``payload`` to every sendable peer that does not already have it; return how many."""
        ...

    def send(self, peer_id: bytes, channel: str, payload: bytes) -> bool:
        """Queue ``payload`` to one peer; False if it is not connected or its queue is full."""
        ...

    def report(self, peer_id: bytes, severity: int, reason: str) -> None:
        """Penalise a peer for misbehaviour (see ``p2p.scoring.Severity``); may ban it."""
        ...

    def peers(self) -> list[PeerInfo]:
        """Snapshot of the current peers."""
        ...
