"""Shared harness for the p2p tests: real switches behind real aiohttp servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from chain.encoding import sha256
from chain.keys import PrivateKey
from p2p import ChannelSpec, P2PConfig, P2PServer, PeerInfo, Switch, serve_p2p
from p2p.limits import Clock, SystemClock
from p2p.session import derive_session_key, message_mac, new_ephemeral
from p2p.switch import CONTENT_TYPE, HEADER_MAC, HEADER_NODE, HEADER_SEQ
from p2p.wire import PROTOCOL_VERSION, Hello, decode_signed_hello, hello_digest, sign_hello

CHAIN_ID = "agora-test"
GENESIS = sha256(b"test genesis")
GOSSIP = "test.gossip"
DIRECT = "test.direct"

FAST = P2PConfig(
    dial_interval=0.05,
    backoff_base=0.05,
    backoff_max=0.4,
    ping_interval=0.25,
    pex_interval=0.3,
    request_timeout=2.0,
    handshake_timeout=2.0,
)


class Recorder:
    """A test reactor: records deliveries; relays gossip like a mempool reactor would."""

    def __init__(self, relay: bool = True) -> None:
        self.relay = relay
        self.network: Switch | None = None
        self.received: list[tuple[bytes, str, bytes]] = []
        self.connected: set[bytes] = set()

    @property
    def channels(self) -> Sequence[ChannelSpec]:
        return (
            ChannelSpec(GOSSIP, queue_capacity=5000, max_message_bytes=64 * 1024),
            ChannelSpec(DIRECT, dedup=False, queue_capacity=5000, max_message_bytes=64 * 1024),
        )

    async def receive(self, peer_id: bytes, channel: str, payload: bytes) -> None:
        self.received.append((peer_id, channel, payload))
        if self.relay and channel == GOSSIP and self.network is not None:
            self.network.broadcast(channel, payload, except_peer=peer_id)

    def peer_connected(self, peer: PeerInfo) -> None:
        self.connected.add(peer.node_id)

    def peer_disconnected(self, peer_id: bytes) -> None:
        self.connected.discard(peer_id)

    def count(self, channel: str, payload: bytes) -> int:
        return sum(1 for _, c, p in self.received if c == channel and p == payload)


@dataclass
class Node:
    """One switch, its server and its recording reactor."""

    key: PrivateKey
    switch: Switch
    server: P2PServer | None
    reactor: Recorder
    registry: CollectorRegistry
    port: int
    running: bool = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def node_id(self) -> bytes:
        return self.switch.node_id

    def outbound(self) -> set[bytes]:
        return {p.node_id for p in self.switch.peers() if p.outbound}

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        value = self.registry.get_sample_value(name, labels or {})
        return 0.0 if value is None else value

    async def stop(self) -> None:
        if self.running:
            self.running = False
            await self.switch.stop()
            if self.server is not None:
                await self.server.close()


@dataclass
class Cluster:
    """Factory of nodes; stops all of them at the end of the test."""

    nodes: list[Node] = field(default_factory=list)
    seed: int = 1

    async def start(
        self,
        seeds: Sequence[str] = (),
        *,
        key: PrivateKey | None = None,
        port: int = 0,
        config: P2PConfig = FAST,
        chain_id: str = CHAIN_ID,
        genesis: bytes = GENESIS,
        relay: bool = True,
        clock: Clock | None = None,
    ) -> Node:
        key = key or PrivateKey(random.Random(self.seed * 1000 + len(self.nodes)).randbytes(32))
        registry = CollectorRegistry()
        switch = Switch(
            key,
            chain_id,
            genesis,
            replace(config, seeds=tuple(seeds)),
            registry=registry,
            rng=random.Random(self.seed + len(self.nodes)),
            clock=clock,
        )
        reactor = Recorder(relay)
        reactor.network = switch
        switch.add_reactor(reactor)
        server = await serve_p2p(switch, "127.0.0.1", port)
        await switch.start(server.url)
        node = Node(key, switch, server, reactor, registry, server.port)
        self.nodes.append(node)
        return node

    async def close(self) -> None:
        for node in self.nodes:
            await node.stop()


class SkewedClock(SystemClock):
    """The real clock, with its wall-clock time ``offset_ms`` off (as under libfaketime); monotonic time is true."""

    def __init__(self, offset_ms: int) -> None:
        self.offset_ms = offset_ms

    def time_ms(self) -> int:
        """Return the real Unix time in milliseconds plus the offset."""
        return super().time_ms() + self.offset_ms


async def wait_for(condition: Callable[[], bool], within: float = 15.0, what: str = "condition") -> None:
    """Poll ``condition`` until true; fail the test after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    c = Cluster()
    try:
        yield c
    finally:
        await c.close()


class RawPeer:
    """A hand-rolled peer speaking the wire protocol directly (honest or not), from ``local_host``."""

    def __init__(self, http: aiohttp.ClientSession, target: str, key: PrivateKey | None = None) -> None:
        self.http = http
        self.target = target
        self.key = key or PrivateKey(random.Random(99).randbytes(32))
        self.session_key = b""
        self.seq = 0

    def hello(
        self, *, chain_id: str = CHAIN_ID, genesis: bytes = GENESIS, eph: bytes | None = None
    ) -> tuple[bytes, bytes]:
        private, public = new_ephemeral()
        hello = Hello(
            PROTOCOL_VERSION,
            chain_id,
            genesis,
            self.key.public_key,
            "http://127.0.0.2:9",
            0,
            _now_ms(),
            eph if eph is not None else public,
            b"",
        )
        return sign_hello(self.key, hello).raw, private

    async def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        async with self.http.post(self.target + path, data=body, headers=headers or {}) as resp:
            return resp.status, await resp.read()

    async def handshake(self, **kwargs: object) -> tuple[int, bytes]:
        raw, private = self.hello(**kwargs)  # type: ignore[arg-type]
        status, body = await self.post("/p2p/handshake", raw, {"Content-Type": CONTENT_TYPE})
        if status == 200:
            answer = decode_signed_hello(body)
            if answer.hello.reply_to != hello_digest(decode_signed_hello(raw)) or not answer.signature_valid():
                raise AssertionError("answer not bound to our hello")
            self.session_key = derive_session_key(private, answer.hello.ephemeral_key, raw, answer.raw)
            self.seq = 0
        return status, body

    async def send(self, body: bytes, *, mac: bytes | None = None, seq: int | None = None) -> tuple[int, bytes]:
        if seq is None:
            self.seq += 1
            seq = self.seq
        headers = {
            HEADER_NODE: self.key.public_key.hex(),
            HEADER_SEQ: str(seq),
            HEADER_MAC: (mac if mac is not None else message_mac(self.session_key, seq, body)).hex(),
        }
        return await self.post("/p2p/msg", body, headers)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
