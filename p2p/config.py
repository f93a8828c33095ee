"""Tunable limits and timings of the p2p layer."""

from __future__ import annotations

from dataclasses import dataclass, fields

from p2p.wire import ENVELOPE_OVERHEAD, check_url

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class P2PConfig:
    """Every bound and timer of a :class:`p2p.switch.Switch`; validated on construction."""

    seeds: tuple[str, ...] = ()
    """Base URLs dialled at start and whenever disconnected (node ids learnt on dial)."""
    max_peers: int = 32
    """Cap on distinct peers (dialled or dialling in)."""
    max_request_bytes: int = 8 * MiB
    """Largest accepted body of POST /p2p/msg (also the aiohttp client_max_size)."""
    max_envelopes_per_request: int = 4096
    """Most envelopes accepted in one request."""
    max_batch_bytes: int = 1 * MiB
    """Sender side: a batch stops growing at this many payload bytes (one oversize message still goes alone)."""
    max_batch_envelopes: int = 1024
    """Sender side: most envelopes coalesced into one request."""
    flush_delay: float = 0.002
    """Seconds a sender lingers after the first queued message to coalesce more."""
    ping_interval: float = 5.0
    """An idle outbound link sends an empty batch this often (detects dead peers)."""
    request_timeout: float = 10.0
    """Total timeout of one outbound request."""
    handshake_timeout: float = 5.0
    """Total timeout of one outbound handshake."""
    max_clock_skew_ms: int = 120_000
    """A hello's timestamp must be within this of our clock."""
    dial_interval: float = 1.0
    """How often the dialer looks for addresses to (re)connect."""
    backoff_base: float = 0.5
    """First reconnect delay; doubles per failed attempt."""
    backoff_max: float = 60.0
    """Cap of the reconnect delay."""
    backoff_jitter: float = 0.25
    """Relative random extra on each delay (spreads reconnect storms)."""
    pex_interval: float = 30.0
    """How often each peer is asked for addresses."""
    pex_max_addresses: int = 32
    """Most addresses sent in one PEX response."""
    max_known_addresses: int = 1000
    """Bound of the address book."""
    max_address_failures: int = 8
    """A non-seed address is forgotten after this many failed dials in a row."""
    rate_messages_per_second: float = 20_000.0
    """Per-peer inbound token bucket: refill rate (envelopes/s; an empty request costs 1)."""
    rate_burst: float = 40_000.0
    """Per-peer inbound token bucket: capacity."""
    seen_cache_size: int = 100_000
    """Per-channel bound of the gossip dedup cache (message ids)."""
    seen_cache_ttl: float = 300.0
    """Seconds a message id stays in the dedup caches."""
    peer_known_size: int = 20_000
    """Per-peer bound of the ids known to that peer (sent to or received from it)."""
    ban_threshold: float = 100.0
    """Penalty points that trigger a ban."""
    score_decay_per_second: float = 1.0
    """Penalty points forgiven per second."""
    ban_seconds: float = 600.0
    """Duration of a ban."""
    shared_host_factor: float = 10.0
    """A host that honest peers dial in from (an IP shared by several nodes) needs this many
    times the penalty points of ``ban_threshold`` to be banned by IP."""
    reserved_peers: tuple[bytes, ...] = ()
    """Node ids (32 bytes) always given room: a connection in the reserved room, a peer-table
    place beyond ``max_peers``. Seeds we dialled are reserved too, under the id that answered."""
    max_connections: int = 256
    """Cap on open connections to the p2p port (``p2p.edge.ConnectionCap``)."""
    max_connections_per_host: int = 128
    """Most open connections to the p2p port from one IP (a testnet on one host needs about 2 a node);
    at most ``max_connections`` in effect."""
    reserved_connections: int = 32
    """The last this many places under ``max_connections`` are for reserved peers only."""
    body_budget_bytes: int = 64 * MiB
    """Bytes of request bodies the p2p port holds at once; beyond it a request is refused (503) unread."""
    body_read_timeout: float = 30.0
    """Seconds a request body may take to arrive (then 408, connection closed)."""
    idle_timeout: float = 15.0
    """Seconds a connection may stay open without a complete request (idle, or slow headers)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"p2p config {f.name} must not be negative")
        for name in (
            "max_peers",
            "max_request_bytes",
            "max_envelopes_per_request",
            "max_batch_envelopes",
            "rate_messages_per_second",
            "rate_burst",
            "seen_cache_size",
            "seen_cache_ttl",
            "peer_known_size",
            "ban_threshold",
            "shared_host_factor",
            "ping_interval",
            "request_timeout",
            "handshake_timeout",
            "dial_interval",
            "backoff_base",
            "max_known_addresses",
            "max_connections",
            "max_connections_per_host",
            "body_budget_bytes",
            "body_read_timeout",
            "idle_timeout",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"p2p config {name} must be positive")
        if self.max_batch_bytes + ENVELOPE_OVERHEAD * self.max_batch_envelopes > self.max_request_bytes:
            raise ValueError("p2p config max_batch_bytes (plus framing) must fit in max_request_bytes")
        if self.max_batch_envelopes > self.max_envelopes_per_request:
            raise ValueError("p2p config max_batch_envelopes must not exceed max_envelopes_per_request")
        if self.reserved_connections >= self.max_connections:
            raise ValueError("p2p config reserved_connections must be below max_connections")
        if self.body_budget_bytes < self.max_request_bytes:
            raise ValueError("p2p config body_budget_bytes must hold at least one largest request")
        if any(len(node_id) != 32 for node_id in self.reserved_peers):
            raise ValueError("p2p config reserved_peers must be 32-byte node ids")
        object.__setattr__(self, "seeds", tuple(check_url(s, "seed") for s in self.seeds))
