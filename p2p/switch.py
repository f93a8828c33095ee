"""The switch: peers, sessions, reactors and gossip.

It knows no payload: reactors register channels, the switch moves opaque envelopes between
peers on them (cometbft's ``p2p.Switch``). Connections are HTTP requests: a node *dials* a
peer by POSTing a signed hello to ``/p2p/handshake``; the answer establishes an outbound
session, after which one sender task per peer posts batches of envelopes to ``/p2p/msg``.
The peer dials back the same way, so each direction has its own session (no simultaneous-dial
races). The HTTP edge (``p2p.http``) calls :meth:`Switch.accept_handshake` and
:meth:`Switch.accept_messages`, which either succeed or raise :class:`Rejection`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Coroutine, Hashable
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry

from chain.encoding import DecodeError, sha256
from chain.keys import PrivateKey
from p2p.addrbook import AddressBook, AddressEntry
from p2p.config import P2PConfig
from p2p.errors import DialError, Rejection
from p2p.limits import Clock, SeenCache, SystemClock, TokenBucket
from p2p.metrics import P2PMetrics
from p2p.peer import OutboundLink, OutboundQueue, PeerState
from p2p.pex import PexReactor
from p2p.reactor import ChannelSpec, PeerInfo, Reactor
from p2p.scoring import Scoreboard, Severity
from p2p.session import KeyAgreementError, derive_session_key, mac_valid, message_mac, new_ephemeral
from p2p.wire import (
    MAX_ERROR_BYTES,
    MAX_HANDSHAKE_BYTES,
    PROTOCOL_VERSION,
    Envelope,
    Hello,
    SignedHello,
    check_url,
    decode_batch,
    decode_error,
    decode_signed_hello,
    encode_batch,
    hello_digest,
    sign_hello,
)

log = logging.getLogger("agora.p2p")

HEADER_NODE = "X-Agora-Node"
HEADER_SEQ = "X-Agora-Seq"
HEADER_MAC = "X-Agora-Mac"
CONTENT_TYPE = "application/x-msgpack"
HANDSHAKE_PATH = "/p2p/handshake"
MSG_PATH = "/p2p/msg"
HELLOS_REMEMBERED = 64
"""Per peer: how many of its accepted hellos are remembered (for their freshness window) to refuse replays."""
_NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)
DIAL_REASONS = frozenset(
    {
        "unreachable",
        "malformed_answer",
        "bad_signature",
        "bad_key",
        "wrong_chain",
        "incompatible_version",
        "self",
        "banned",
        "stale_hello",
        "duplicate",
        "too_many_peers",
        "stopped",
    }
)


def _tally(envelopes: list[Envelope]) -> dict[str, tuple[int, int]]:
    """Return ``{channel: (messages, payload bytes)}`` of a batch."""
    out: dict[str, tuple[int, int]] = {}
    for env in envelopes:
        count, size = out.get(env.channel, (0, 0))
        out[env.channel] = (count + 1, size + len(env.payload))
    return out


async def read_limited(stream: aiohttp.StreamReader, limit: int) -> bytes | None:
    """Read a whole body of at most ``limit`` bytes; None if it is longer (the rest is not read)."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = await stream.readany()
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass; return whether it was set.

    Uses ``asyncio.timeout`` rather than ``wait_for``, which on Python 3.11 can swallow a
    cancellation that races with the event (the task would then never stop).
    """
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


class Switch:
    """Connects this node to its peers and routes channel messages to and from reactors."""

    def __init__(
        self,
        node_key: PrivateKey,
        chain_id: str,
        genesis_hash: bytes,
        config: P2PConfig | None = None,
        *,
        registry: CollectorRegistry | None = None,
        height: Callable[[], int] = lambda: 0,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if len(genesis_hash) != 32:
            raise ValueError("genesis_hash must be 32 bytes")
        self.config = config if config is not None else P2PConfig()
        self.chain_id = chain_id
        self.genesis_hash = genesis_hash
        self._key = node_key
        self.node_id = node_key.public_key
        """This node's id: the node key's public key."""
        self._height = height
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._rng = rng if rng is not None else random.Random()
        self.metrics = P2PMetrics(registry if registry is not None else CollectorRegistry())
        cfg = self.config
        self._node_scores = Scoreboard(self._clock, cfg.ban_threshold, cfg.score_decay_per_second, cfg.ban_seconds)
        self._host_scores = Scoreboard(self._clock, cfg.ban_threshold, cfg.score_decay_per_second, cfg.ban_seconds)
        self._book = AddressBook(
            cfg.max_known_addresses,
            cfg.max_address_failures,
            cfg.backoff_base,
            cfg.backoff_max,
            cfg.backoff_jitter,
            self._rng,
        )
        for seed in cfg.seeds:
            self._book.add_seed(seed)
        self._seed_ids: dict[str, bytes] = {}
        """Seed URL -> the node id that answered our dial there (bounded by the seeds)."""
        self._channels: dict[str, tuple[ChannelSpec, Reactor]] = {}
        self._reactors: list[Reactor] = []
        self._seen: dict[str, SeenCache] = {}
        self._max_payload = 0
        self._peers: dict[bytes, PeerState] = {}
        self._dialing: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._listen_url: str | None = None
        self._last_hello_ms = 0
        self._running = False
        self._pex = PexReactor(self, cfg.pex_max_addresses, self._rng)
        self.add_reactor(self._pex)

    # --- registration and lifecycle -----------------------------------------------------

    def add_reactor(self, reactor: Reactor) -> None:
        """Register ``reactor`` for its channels; ValueError if a channel name is taken."""
        specs = list(reactor.channels)
        for spec in specs:
            if spec.name in self._channels:
                raise ValueError(f"channel {spec.name!r} is already registered")
            if spec.max_message_bytes + 64 > self.config.max_request_bytes:
                raise ValueError(f"channel {spec.name!r}: max_message_bytes exceeds the request limit")
        for spec in specs:
            self._channels[spec.name] = (spec, reactor)
            self._seen[spec.name] = SeenCache(self.config.seen_cache_size, self.config.seen_cache_ttl, self._clock)
            self._max_payload = max(self._max_payload, spec.max_message_bytes)
        self._reactors.append(reactor)

    @property
    def listen_url(self) -> str | None:
        """The base URL announced to peers (set by :meth:`start`)."""
        return self._listen_url

    async def start(self, listen_url: str) -> None:
        """Start dialling seeds and accepting handshakes; ``listen_url`` is where our /p2p/ is served."""
        if self._running:
            raise RuntimeError("switch already started")
        self._listen_url = check_url(listen_url, "listen_url")
        self._running = True
        self._spawn(self._dial_loop())
        self._spawn(self._pex_loop())

    async def stop(self) -> None:
        """Stop every task, close every peer session and forget the peers (idempotent)."""
        self._running = False  # no dial completing from now on installs a link
        for peer in list(self._peers.values()):
            await self._close_link(peer, "switch stopped")
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # our own cancellation still propagates
        self._peers.clear()
        self._refresh_gauges()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- reactor-facing API (p2p.reactor.Network) ---------------------------------------

    def _spec(self, channel: str) -> ChannelSpec:
        entry = self._channels.get(channel)
        if entry is None:
            raise ValueError(f"unknown channel {channel!r}")
        return entry[0]

    def broadcast(self, channel: str, payload: bytes, except_peer: bytes | None = None) -> int:
        """Queue ``payload`` to every sendable peer except ``except_peer`` and peers that already have it.

        Returns how many peers it was queued to. Never blocks: a full queue drops (counted).
        ValueError for an unregistered channel or an oversized payload (a caller bug).
        """
        spec = self._spec(channel)
        if len(payload) > spec.max_message_bytes:
            raise ValueError(f"payload of {len(payload)} bytes exceeds channel {channel!r} limit")
        msg_id = None
        if spec.dedup:
            msg_id = sha256(payload)
            self._seen[channel].add(msg_id)
        queued = 0
        for peer in self._peers.values():
            link = peer.link
            if link is None or peer.node_id == except_peer:
                continue
            if msg_id is not None and not peer.known.add((channel, msg_id)):
                continue
            if link.enqueue(channel, payload):
                queued += 1
            else:
                self.metrics.dropped.labels(channel, "queue_full").inc()
        return queued

    def send(self, peer_id: bytes, channel: str, payload: bytes) -> bool:
        """Queue ``payload`` to ``peer_id``; False if it is not sendable or its queue is full."""
        spec = self._spec(channel)
        if len(payload) > spec.max_message_bytes:
            raise ValueError(f"payload of {len(payload)} bytes exceeds channel {channel!r} limit")
        peer = self._peers.get(peer_id)
        if peer is None or peer.link is None:
            return False
        if spec.dedup:
            peer.known.add((channel, sha256(payload)))
        if peer.link.enqueue(channel, payload):
            return True
        self.metrics.dropped.labels(channel, "queue_full").inc()
        return False

    def report(self, peer_id: bytes, severity: int, reason: str) -> None:
        """Penalise ``peer_id`` by ``severity`` points; at the threshold it is banned and dropped."""
        log.info("peer %s reported (%d): %s", peer_id.hex()[:16], int(severity), reason)
        if self._node_scores.penalize(peer_id, float(severity)):
            self._banned(peer_id, reason)

    def peers(self) -> list[PeerInfo]:
        """Snapshot of every known peer (sendable or only dialling in)."""
        return [self._info(p) for p in self._peers.values()]

    def idle(self) -> bool:
        """True iff no outbound message is queued or being sent (every broadcast so far went out)."""
        return all(p.link is None or (not len(p.link.queue) and not p.link.in_flight) for p in self._peers.values())

    def score(self, peer_id: bytes) -> float:
        """Current penalty points of ``peer_id``."""
        return self._node_scores.score(peer_id)

    def is_banned(self, peer_id: bytes) -> bool:
        """True iff ``peer_id`` is banned right now."""
        return self._node_scores.is_banned(peer_id)

    def host_score(self, host: str) -> float:
        """Current penalty points of a remote host (for input not attributable to a node key)."""
        return self._host_scores.score(host)

    def is_host_banned(self, host: str) -> bool:
        """True iff ``host`` is banned right now."""
        return self._host_scores.is_banned(host)

    def is_reserved(self, node_id: bytes) -> bool:
        """True iff ``node_id`` is always given room: a configured reserved peer, or a seed we dialled."""
        return node_id in self.config.reserved_peers or node_id in self._seed_ids.values()

    def is_reserved_request(self, node_hex: str) -> bool:
        """True iff the ``X-Agora-Node`` header value names a reserved peer (a claim, checked later)."""
        try:
            node_id = bytes.fromhex(node_hex)
        except ValueError:
            return False
        return len(node_id) == 32 and self.is_reserved(node_id)

    def check_sender(self, host: str | None, node_hex: str) -> None:
        """Before a message body is read: Rejection unless ``node_hex`` names a peer holding an inbound session.

        The body's MAC is checked once it is read; this only saves reading bodies no session can own.
        """
        try:
            node_id = bytes.fromhex(node_hex)
        except ValueError:
            node_id = b""
        if len(node_id) != 32:
            self.penalize_host(host, Severity.MINOR, "bad auth headers")
            raise Rejection(400, "bad_auth_headers", f"{HEADER_NODE}, {HEADER_SEQ}, {HEADER_MAC} required")
        if self._node_scores.is_banned(node_id):
            raise Rejection(403, "banned", "this node is banned for a while")
        peer = self._peers.get(node_id)
        if peer is None or peer.inbound_key is None:
            self.penalize_host(host, 1, "unknown session")
            raise Rejection(401, "unknown_session", "handshake first")

    def learn_address(self, node_id: bytes, url: str) -> None:
        """Add ``node_id`` at ``url`` to the address book (ignored for ourselves and banned ids)."""
        if node_id == self.node_id or url == self._listen_url or self._node_scores.is_banned(node_id):
            return
        if self._book.learn(url, node_id):
            self._wake.set()

    def _info(self, peer: PeerState) -> PeerInfo:
        return PeerInfo(
            node_id=peer.node_id,
            url=peer.url,
            height=peer.height,
            outbound=peer.link is not None,
            inbound=peer.inbound_key is not None,
            score=self._node_scores.score(peer.node_id),
        )

    # --- scoring -------------------------------------------------------------------------

    def _host_shared(self, host: str | None) -> bool:
        """True iff a peer that completed a handshake dials in from ``host`` (bounded by the peer table)."""
        return host is not None and any(p.host == host for p in self._peers.values())

    def penalize_host(self, host: str | None, points: float, reason: str) -> None:
        """Penalise a remote host for input that could not be tied to a node key.

        A host that honest peers dial in from counts ``shared_host_factor`` times fewer points:
        banning an IP also shuts out every node behind it, so that needs a far higher bar.
        """
        key: Hashable = host or "unknown"
        log.info("host %s penalised (%d): %s", key, points, reason)
        if self._host_shared(host):
            points /= self.config.shared_host_factor
        if self._host_scores.penalize(key, points):
            log.warning("host %s banned: %s", key, reason)
            self.metrics.bans.labels("host").inc()
            self._refresh_gauges()

    def _banned(self, peer_id: bytes, reason: str) -> None:
        log.warning("peer %s banned: %s", peer_id.hex()[:16], reason)
        self.metrics.bans.labels("node").inc()
        peer = self._peers.pop(peer_id, None)
        if peer is not None:
            self._spawn(self._close_link(peer, f"banned: {reason}"))
        self._refresh_gauges()

    def _refresh_gauges(self) -> None:
        outbound = sum(1 for p in self._peers.values() if p.link is not None)
        inbound = sum(1 for p in self._peers.values() if p.inbound_key is not None)
        self.metrics.peers.labels("outbound").set(outbound)
        self.metrics.peers.labels("inbound").set(inbound)
        self.metrics.banned.set(self._node_scores.banned_count() + self._host_scores.banned_count())

    def check_host(self, host: str | None, node_hex: str = "") -> None:
        """Raise Rejection(403) if ``host`` is banned, unless ``node_hex`` names a peer holding a session.

        A peer that proved its key keeps being heard on a banned IP (its requests are still
        MAC-checked; a forged claim is refused and scored like any other).
        """
        if not self._host_scores.is_banned(host or "unknown"):
            return
        try:
            peer = self._peers.get(bytes.fromhex(node_hex))
        except ValueError:
            peer = None
        if peer is None or peer.inbound_key is None:
            raise Rejection(403, "banned", "this host is banned for a while")

    # --- handshake, both sides -----------------------------------------------------------

    def _own_hello(self, ephemeral_key: bytes, reply_to: bytes) -> SignedHello:
        if self._listen_url is None:
            raise RuntimeError("switch not started")
        stamp = max(self._clock.time_ms(), self._last_hello_ms + 1)
        self._last_hello_ms = stamp
        hello = Hello(
            version=PROTOCOL_VERSION,
            chain_id=self.chain_id,
            genesis_hash=self.genesis_hash,
            node_id=self.node_id,
            listen_url=self._listen_url,
            height=max(0, int(self._height())),
            timestamp_ms=stamp,
            ephemeral_key=ephemeral_key,
            reply_to=reply_to,
        )
        return sign_hello(self._key, hello)

    def _check_peer_hello(self, signed: SignedHello) -> str | None:
        """Return a rejection reason for a correctly signed hello, or None if acceptable."""
        hello = signed.hello
        if hello.version != PROTOCOL_VERSION:
            return "incompatible_version"
        if hello.chain_id != self.chain_id or hello.genesis_hash != self.genesis_hash:
            return "wrong_chain"
        if hello.node_id == self.node_id:
            return "self"
        if self._node_scores.is_banned(hello.node_id):
            return "banned"
        if abs(hello.timestamp_ms - self._clock.time_ms()) > self.config.max_clock_skew_ms:
            return "stale_hello"
        return None

    def accept_handshake(self, host: str | None, body: bytes, claimed: str | None = None) -> bytes:
        """Answer a peer's hello with our signed hello, installing its inbound session.

        Raises Rejection (nothing changes) for a malformed or forged hello, another chain,
        ourselves, a banned node, a replayed hello, a full peer table, or a switch not yet started;
        and, when ``claimed`` is given (the hex node id the request was let in under, as a
        reserved peer), for a hello from any other node or a node that is not reserved.
        """
        host_banned = self._host_scores.is_banned(host or "unknown")
        refused_host = Rejection(403, "banned", "this host is banned for a while")
        try:
            signed = decode_signed_hello(body)
        except DecodeError as exc:
            if host_banned:
                raise refused_host from None
            self.penalize_host(host, Severity.MAJOR, "malformed handshake")
            raise Rejection(400, "malformed_handshake", str(exc)) from None
        hello = signed.hello
        if host_banned and not (hello.node_id in self._peers or self.is_reserved(hello.node_id)):
            raise refused_host  # only a node known here, or reserved, is heard on a banned IP
        if hello.reply_to:
            self.penalize_host(host, Severity.MAJOR, "answer sent as a hello")
            raise Rejection(400, "malformed_handshake", "a dialer's hello must not have reply_to")
        if not signed.signature_valid():
            self.penalize_host(host, Severity.MAJOR, "forged handshake signature")
            raise Rejection(401, "bad_signature", "the hello is not signed by its node key")
        if claimed is not None and (claimed.lower() != hello.node_id.hex() or not self.is_reserved(hello.node_id)):
            self.penalize_host(host, Severity.MAJOR, "claimed to be a reserved peer")
            raise Rejection(403, "not_reserved", "the reserved room is for reserved peers")
        problem = self._check_peer_hello(signed)
        if problem == "wrong_chain":
            self.report(hello.node_id, Severity.FATAL, "handshake for another chain")
            raise Rejection(400, "wrong_chain", f"this node follows chain {self.chain_id!r} with another genesis")
        if problem == "stale_hello":
            self.penalize_host(host, Severity.MINOR, "stale hello")
        if problem is not None:
            status = {"incompatible_version": 400, "self": 409, "banned": 403, "stale_hello": 400}[problem]
            raise Rejection(status, problem)
        if not self._running:
            raise Rejection(503, "not_ready", "the switch is not started")
        peer = self._peers.get(hello.node_id)
        digest = hello_digest(signed)
        if peer is not None and peer.hellos is not None and peer.hellos.contains(digest):
            raise Rejection(409, "duplicate", "this hello was already used for a session")
        if peer is None and len(self._peers) >= self.config.max_peers and not self.is_reserved(hello.node_id):
            raise Rejection(503, "too_many_peers")
        eph_private, eph_public = new_ephemeral()
        answer = self._own_hello(eph_public, digest)
        try:
            key = derive_session_key(eph_private, hello.ephemeral_key, signed.raw, answer.raw)
        except KeyAgreementError as exc:
            self.penalize_host(host, Severity.MAJOR, "bad ephemeral key")
            raise Rejection(400, "bad_key", str(exc)) from None
        if peer is None:
            peer = self._new_peer(hello)
        peer.url = hello.listen_url
        peer.height = hello.height
        peer.inbound_previous_key = peer.inbound_key
        peer.inbound_key = key
        peer.inbound_seq = 0
        if peer.hellos is None:
            # a hello passes the freshness check for at most 2 x max_clock_skew after it was accepted
            peer.hellos = SeenCache(HELLOS_REMEMBERED, 2 * self.config.max_clock_skew_ms / 1000, self._clock)
        peer.hellos.add(digest)
        peer.last_inbound = self._clock.monotonic()
        peer.host = host
        self._book.learn(hello.listen_url, hello.node_id)
        if peer.link is None:
            self._book.retry_now(hello.listen_url)
            self._wake.set()
        self.metrics.handshakes.labels("in", "ok").inc()
        self._refresh_gauges()
        log.info("peer %s dialled in from %s", hello.node_id.hex()[:16], hello.listen_url)
        return answer.raw

    def _new_peer(self, hello: Hello) -> PeerState:
        cfg = self.config
        peer = PeerState(
            node_id=hello.node_id,
            url=hello.listen_url,
            height=hello.height,
            known=SeenCache(cfg.peer_known_size, cfg.seen_cache_ttl, self._clock),
            bucket=TokenBucket(cfg.rate_messages_per_second, cfg.rate_burst, self._clock),
            last_inbound=self._clock.monotonic(),
        )
        self._peers[hello.node_id] = peer
        return peer

    async def dial(self, url: str) -> bytes:
        """Handshake with the node at ``url`` and open an outbound link; return its node id.

        Raises DialError with a stable reason (unreachable, rejected reason, malformed_answer,
        bad_signature, wrong_chain, self, banned, duplicate, too_many_peers).
        """
        http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.config.request_timeout),
            connector=aiohttp.TCPConnector(limit=2),
        )
        try:
            node_id = await self._handshake(http, url)
        except BaseException:
            await http.close()
            raise
        return node_id

    async def _handshake(self, http: aiohttp.ClientSession, url: str) -> bytes:
        eph_private, eph_public = new_ephemeral()
        own = self._own_hello(eph_public, b"")
        try:
            async with http.post(
                url + HANDSHAKE_PATH,
                data=own.raw,
                headers={"Content-Type": CONTENT_TYPE, HEADER_NODE: self.node_id.hex()},
                timeout=aiohttp.ClientTimeout(total=self.config.handshake_timeout),
            ) as resp:
                status = resp.status
                body = await read_limited(resp.content, MAX_HANDSHAKE_BYTES)
        except _NETWORK_ERRORS as exc:
            raise DialError("unreachable", f"{url}: {exc!r}") from None
        if status != 200:
            reason = f"http_{status}"
            with contextlib.suppress(DecodeError):
                reason = decode_error(body or b"")[0]
            raise DialError(reason, f"{url} answered {status}")
        try:
            answer = decode_signed_hello(body or b"")
        except DecodeError as exc:
            raise DialError("malformed_answer", str(exc)) from None
        if not answer.signature_valid() or answer.hello.reply_to != hello_digest(own):
            raise DialError("bad_signature", "the answer is not a signed reply to our hello")
        problem = self._check_peer_hello(answer)
        if problem == "wrong_chain":
            self.report(answer.hello.node_id, Severity.FATAL, "answered for another chain")
        if problem is not None:
            raise DialError(problem)
        if not self._running:
            raise DialError("stopped")
        node_id = answer.hello.node_id
        peer = self._peers.get(node_id)
        if peer is None and len(self._peers) >= self.config.max_peers and not self.is_reserved(node_id):
            raise DialError("too_many_peers")
        try:
            key = derive_session_key(eph_private, answer.hello.ephemeral_key, own.raw, answer.raw)
        except KeyAgreementError as exc:
            raise DialError("bad_key", str(exc)) from None
        if peer is not None and peer.link is not None:
            # Reached the same node by another URL. It keeps only the session of its newest
            # answer, so the existing link adopts that key rather than break.
            if answer.hello.timestamp_ms > peer.link.answer_ms:
                peer.link.key = key  # the sequence continues: it only ever increases per link
                peer.link.answer_ms = answer.hello.timestamp_ms
            raise DialError("duplicate", "already connected to this node", node_id)
        if peer is None:
            peer = self._new_peer(answer.hello)
        peer.url = answer.hello.listen_url
        peer.height = answer.hello.height
        link = OutboundLink(node_id, url, key, http, OutboundQueue(self._spec), answer_ms=answer.hello.timestamp_ms)
        peer.link = link
        link.task = self._spawn(self._sender(peer, link))
        self.metrics.handshakes.labels("out", "ok").inc()
        self._refresh_gauges()
        log.info("connected to peer %s at %s", node_id.hex()[:16], url)
        info = self._info(peer)
        for reactor in self._reactors:
            self._notify(reactor.peer_connected, info)
        return node_id

    def _notify(self, hook: Callable[..., None], arg: object) -> None:
        try:
            hook(arg)
        except Exception:
            log.exception("reactor peer hook failed")

    # --- inbound messages ----------------------------------------------------------------

    def _authenticate(self, host: str | None, node_hex: str, seq_text: str, mac_hex: str, body: bytes) -> PeerState:
        try:
            node_id = bytes.fromhex(node_hex)
            mac = bytes.fromhex(mac_hex)
            if len(node_id) != 32 or len(mac) != 32 or not seq_text.isdigit() or len(seq_text) > 19:
                raise ValueError("bad length")
            seq = int(seq_text)
        except ValueError:
            self.penalize_host(host, Severity.MINOR, "bad auth headers")
            raise Rejection(400, "bad_auth_headers", f"{HEADER_NODE}, {HEADER_SEQ}, {HEADER_MAC} required") from None
        if self._node_scores.is_banned(node_id):
            raise Rejection(403, "banned", "this node is banned for a while")
        peer = self._peers.get(node_id)
        if peer is None or peer.inbound_key is None:
            self.penalize_host(host, 1, "unknown session")
            raise Rejection(401, "unknown_session", "handshake first")
        if mac_valid(peer.inbound_key, seq, body, mac):
            peer.inbound_previous_key = None
        elif peer.inbound_previous_key is None or not mac_valid(peer.inbound_previous_key, seq, body, mac):
            self.penalize_host(host, Severity.MAJOR, "bad message MAC")
            raise Rejection(401, "bad_mac", "message authentication failed")
        if seq <= peer.inbound_seq:
            self.penalize_host(host, Severity.MAJOR, "replayed request")
            raise Rejection(401, "replayed", "sequence number not increasing")
        peer.inbound_seq = seq
        peer.last_inbound = self._clock.monotonic()
        return peer

    def _reject_peer(self, peer: PeerState, points: float, status: int, reason: str, detail: str) -> Rejection:
        self.report(peer.node_id, int(points), f"{reason}: {detail}")
        return Rejection(status, reason, detail)

    async def accept_messages(self, host: str | None, node_hex: str, seq_text: str, mac_hex: str, body: bytes) -> None:
        """Authenticate and deliver one batch to the reactors, in order.

        Raises Rejection before delivering anything if the request is unauthenticated, replayed,
        rate-limited, undecodable, or has an unknown channel or an oversized payload.
        """
        peer = self._authenticate(host, node_hex, seq_text, mac_hex, body)
        cfg = self.config
        try:
            envelopes = decode_batch(body, cfg.max_request_bytes, cfg.max_envelopes_per_request, self._max_payload)
        except DecodeError as exc:
            raise self._reject_peer(peer, Severity.MAJOR, 400, "malformed_batch", str(exc)) from None
        if not peer.bucket.take(max(1, len(envelopes))):
            raise self._reject_peer(peer, Severity.MINOR, 429, "rate_limited", "slow down")
        for env in envelopes:
            entry = self._channels.get(env.channel)
            if entry is None:
                raise self._reject_peer(peer, Severity.MAJOR, 400, "unknown_channel", env.channel)
            if len(env.payload) > entry[0].max_message_bytes:
                raise self._reject_peer(peer, Severity.MAJOR, 400, "oversized_message", env.channel)
        for channel, (count, size) in _tally(envelopes).items():
            self.metrics.messages_in.labels(channel).inc(count)
            self.metrics.bytes_in.labels(channel).inc(size)
        for env in envelopes:
            if peer.node_id not in self._peers:
                break  # banned by a reactor mid-batch
            await self._deliver(peer, env)

    async def _deliver(self, peer: PeerState, env: Envelope) -> None:
        spec, reactor = self._channels[env.channel]
        if spec.dedup:
            msg_id = sha256(env.payload)
            peer.known.add((env.channel, msg_id))
            if not self._seen[env.channel].add(msg_id):
                self.metrics.duplicates.labels(env.channel).inc()
                return
        try:
            await reactor.receive(peer.node_id, env.channel, env.payload)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.metrics.reactor_errors.labels(env.channel).inc()
            log.exception("reactor for channel %s failed on a message", env.channel)

    # --- outbound: sender task per link ---------------------------------------------------

    async def _sender(self, peer: PeerState, link: OutboundLink) -> None:
        cfg = self.config
        try:
            while not link.closed:
                if not len(link.queue):
                    link.wake.clear()
                    await wait_event(link.wake, cfg.ping_interval)
                    if link.closed:
                        break
                if len(link.queue) and cfg.flush_delay > 0:
                    await asyncio.sleep(cfg.flush_delay)
                batch = link.queue.take(cfg.max_batch_envelopes, cfg.max_batch_bytes)
                link.in_flight = True
                try:
                    if not await self._post(peer, link, batch):
                        break
                finally:
                    link.in_flight = False
        finally:
            await link.http.close()

    async def _post(self, peer: PeerState, link: OutboundLink, batch: list[Envelope]) -> bool:
        """Send one batch; return False when the link is finished."""
        body = encode_batch(batch)
        seq = link.next_seq()
        headers = {
            "Content-Type": CONTENT_TYPE,
            HEADER_NODE: self.node_id.hex(),
            HEADER_SEQ: str(seq),
            HEADER_MAC: message_mac(link.key, seq, body).hex(),
        }
        try:
            async with link.http.post(link.url + MSG_PATH, data=body, headers=headers) as resp:
                status = resp.status
                answer = await read_limited(resp.content, MAX_ERROR_BYTES) if status >= 400 else b""
        except _NETWORK_ERRORS as exc:
            self._count_dropped(batch, "send_failed")
            await self._close_link(peer, f"send failed: {exc!r}", failed=True, only=link)
            return False
        self.metrics.requests_out.inc()
        if status < 300:
            for channel, (count, size) in _tally(batch).items():
                self.metrics.messages_out.labels(channel).inc(count)
                self.metrics.bytes_out.labels(channel).inc(size)
            return True
        reason = f"http_{status}"
        with contextlib.suppress(DecodeError):
            reason = decode_error(answer or b"")[0]
        self._count_dropped(batch, f"http_{status}")
        log.info("peer %s refused a batch: %d %s", peer.node_id.hex()[:16], status, reason)
        if status == 401:
            retry = reason == "unknown_session"  # it restarted: handshake again at once
            await self._close_link(peer, f"session refused: {reason}", retry_now=retry, failed=not retry, only=link)
            return False
        if status == 403:
            await self._close_link(peer, "the peer banned us", failed=True, only=link)
            return False
        if status in (429, 503):  # rate-limited, or the peer's port is busy (body budget, connections)
            await asyncio.sleep(0.05)
        return True

    def _count_dropped(self, batch: list[Envelope], reason: str) -> None:
        for channel, (count, _) in _tally(batch).items():
            self.metrics.dropped.labels(channel, reason).inc(count)

    async def _close_link(
        self,
        peer: PeerState,
        why: str,
        *,
        failed: bool = False,
        retry_now: bool = False,
        only: OutboundLink | None = None,
    ) -> None:
        """Close ``peer``'s outbound link (if any, and if it is ``only`` when given), tell the reactors,
        and schedule the redial."""
        link = peer.link
        if link is None or link.closed or (only is not None and link is not only):
            return
        link.closed = True
        peer.link = None
        for channel, lost in link.queue.clear().items():
            self.metrics.dropped.labels(channel, "link_closed").inc(lost)
        log.info("link to %s closed: %s", peer.node_id.hex()[:16], why)
        if failed:
            self._book.failed(link.url, self._clock.monotonic())
        elif retry_now:
            self._book.retry_now(link.url)
        for reactor in self._reactors:
            self._notify(reactor.peer_disconnected, peer.node_id)
        self._refresh_gauges()
        self._wake.set()
        task = link.task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await link.http.close()

    # --- background loops -----------------------------------------------------------------

    async def _dial_loop(self) -> None:
        while self._running:
            self._wake.clear()
            self._dial_due()
            self._forget_idle()
            self._refresh_gauges()
            await wait_event(self._wake, self.config.dial_interval)

    def _dial_due(self) -> None:
        now = self._clock.monotonic()
        slots = self.config.max_peers - sum(1 for p in self._peers.values() if p.link is not None) - len(self._dialing)
        for entry in self._book.due(now):
            if slots <= 0:
                return
            if entry.url in self._dialing:
                continue
            if entry.node_id is not None:
                if self._node_scores.is_banned(entry.node_id):
                    continue
                peer = self._peers.get(entry.node_id)
                if peer is not None and peer.link is not None:
                    continue
            self._dialing.add(entry.url)
            self._spawn(self._dial_entry(entry))
            slots -= 1

    async def _dial_entry(self, entry: AddressEntry) -> None:
        url = entry.url
        now = self._clock.monotonic
        try:
            node_id = await self.dial(url)
            self._book.succeeded(url, node_id)
            if entry.seed:
                self._seed_ids[url] = node_id
        except DialError as exc:
            label = exc.reason if exc.reason in DIAL_REASONS else "refused"  # peer-chosen text: bounded labels
            self.metrics.handshakes.labels("out", label).inc()
            log.debug("dial %s failed: %s", url, exc)
            if exc.reason == "self":
                self._book.mark_self(url)
            elif exc.reason == "duplicate":
                if exc.node_id is not None:
                    self._book.succeeded(url, exc.node_id)  # known alias: not dialled again
                    if entry.seed:
                        self._seed_ids[url] = exc.node_id
            else:
                long = exc.reason in ("wrong_chain", "banned", "incompatible_version")
                self._book.failed(url, now(), long=long)
        finally:
            self._dialing.discard(url)

    def _forget_idle(self) -> None:
        """Drop peers we cannot send to and that have been silent for three ping intervals, and tell the reactors."""
        cutoff = self._clock.monotonic() - 3 * self.config.ping_interval
        for node_id in [n for n, p in self._peers.items() if p.link is None and p.last_inbound < cutoff]:
            del self._peers[node_id]
            for reactor in self._reactors:  # reactors keep per-peer state (e.g. block sync heights)
                self._notify(reactor.peer_disconnected, node_id)

    async def _pex_loop(self) -> None:
        while self._running:
            await asyncio.sleep(self.config.pex_interval)
            self._pex.request_all()
