"""Per-peer state: the inbound session, the outbound link and its bounded, prioritised queue."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from p2p.limits import SeenCache, TokenBucket
from p2p.reactor import ChannelSpec
from p2p.wire import ENVELOPE_OVERHEAD, Envelope


class OutboundQueue:
    """Per-channel FIFO queues drained highest priority first; each bounded by its channel's capacity."""

    def __init__(self, spec_of: Callable[[str], ChannelSpec]) -> None:
        self._spec_of = spec_of
        self._queues: dict[str, deque[bytes]] = {}
        self._order: list[str] = []
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def put(self, channel: str, payload: bytes) -> bool:
        """Append ``payload``; return False (and keep nothing) if the channel's queue is full."""
        queue = self._queues.get(channel)
        spec = self._spec_of(channel)
        if queue is None:
            queue = self._queues[channel] = deque()
            self._order = sorted(self._queues, key=lambda c: -self._spec_of(c).priority)
        if len(queue) >= spec.queue_capacity:
            return False
        queue.append(payload)
        self._size += 1
        return True

    def take(self, max_envelopes: int, max_bytes: int) -> list[Envelope]:
        """Remove and return up to ``max_envelopes`` envelopes of at most ``max_bytes`` payload in total.

        A single envelope larger than ``max_bytes`` is returned alone, so nothing gets stuck.
        """
        out: list[Envelope] = []
        size = 0
        for channel in self._order:
            queue = self._queues[channel]
            while queue and len(out) < max_envelopes:
                cost = len(queue[0]) + ENVELOPE_OVERHEAD
                if out and size + cost > max_bytes:
                    return self._taken(out)
                out.append(Envelope(channel, queue.popleft()))
                size += cost
            if len(out) >= max_envelopes:
                break
        return self._taken(out)

    def _taken(self, out: list[Envelope]) -> list[Envelope]:
        self._size -= len(out)
        return out

    def clear(self) -> dict[str, int]:
        """Drop everything queued; return how many messages each channel lost."""
        lost = {c: len(q) for c, q in self._queues.items() if q}
        for q in self._queues.values():
            q.clear()
        self._size = 0
        return lost


@dataclass(eq=False, slots=True)
class OutboundLink:
    """Our authenticated session for sending to one peer, with its HTTP session and sender task."""

    node_id: bytes
    url: str
    """The base URL we post to."""
    key: bytes
    """Session key (HMAC) agreed in our handshake with the peer."""
    http: aiohttp.ClientSession
    """Keep-alive HTTP session used only for this peer."""
    queue: OutboundQueue
    seq: int = 0
    """Sequence number of the last request sent."""
    answer_ms: int = 0
    """Timestamp of the peer's answer that made ``key`` (the peer keeps the newest session)."""
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    closed: bool = False
    in_flight: bool = False
    """True while a request is being sent."""

    def next_seq(self) -> int:
        """Return the next (strictly increasing) request sequence number."""
        self.seq += 1
        return self.seq

    def enqueue(self, channel: str, payload: bytes) -> bool:
        """Queue a message for the sender task; False if the channel's queue is full or the link closed."""
        if self.closed or not self.queue.put(channel, payload):
            return False
        self.wake.set()
        return True


@dataclass(eq=False, slots=True)
class PeerState:
    """Everything known about one peer (by node id), in both directions."""

    node_id: bytes
    url: str
    """The listen URL it announced."""
    height: int
    known: SeenCache
    """Gossip ids this peer has (it sent them to us, or we queued them to it)."""
    bucket: TokenBucket
    """Inbound rate limit."""
    last_inbound: float
    """Monotonic time of its last handshake or accepted request."""
    inbound_key: bytes | None = None
    """Session key of its session to us (None: it has not dialled us)."""
    inbound_previous_key: bytes | None = None
    """The session key this node's newest hello replaced; accepted until the new key is used, so
    a request already in flight under it is not refused."""
    inbound_seq: int = 0
    """Sequence number of its last accepted request."""
    hellos: SeenCache | None = None
    """Digests of the hellos accepted from it while they are fresh (an exact replay is refused).
    Not their timestamps: a node whose clock ran ahead and was corrected sends older stamps."""
    link: OutboundLink | None = None
    """Our session to it (None: we cannot send to it right now)."""
    host: str | None = None
    """The remote address its last accepted handshake came from."""
