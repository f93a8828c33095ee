"""The p2p port's edge limits with real servers on loopback: connection cap, reserved room, body budget."""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import replace

import aiohttp
import pytest

from chain.keys import PrivateKey
from p2p import DialError
from p2p.wire import decode_error

from .conftest import FAST, Cluster, RawPeer, wait_for

pytestmark = pytest.mark.timeout(120)
FRIEND = PrivateKey(random.Random(4242).randbytes(32))


async def _closed(reader: asyncio.StreamReader) -> bool:
    """True iff the server closed this connection (whatever it wrote first is read and dropped)."""
    with contextlib.suppress(TimeoutError, ConnectionError):
        while not reader.at_eof():
            await asyncio.wait_for(reader.read(65536), 0.001)
    return reader.at_eof()


async def _stalled_handshake(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection busy in a request: a handshake whose 1,000-byte body stops after one byte."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    writer.write(b"POST /p2p/handshake HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nx")
    await asyncio.wait_for(writer.drain(), 5)
    return reader, writer


async def test_a_port_full_of_idle_connections_keeps_its_cap_and_takes_new_peers(cluster: Cluster) -> None:
    target = await cluster.start(config=replace(FAST, max_connections=64, reserved_connections=8))
    assert target.server is not None and target.server.connections is not None
    cap = target.server.connections
    idle = []
    try:
        for _ in range(300):
            idle.append(await asyncio.wait_for(asyncio.open_connection("127.0.0.1", target.port), 5))
        await wait_for(lambda: cap.open <= 64, 5, "the port to hold at most its cap")
        closed = sum([await _closed(reader) for reader, _ in idle])
        assert closed >= 300 - 64, closed
        # A stranger's node (not reserved) still gets in: an idle connection makes room for it.
        other = await cluster.start()
        assert await asyncio.wait_for(other.switch.dial(target.url), 10) == target.node_id
        await wait_for(lambda: other.node_id in target.outbound(), 10, "the target to dial back")
    finally:
        for _, writer in idle:
            writer.close()


async def test_strangers_busy_in_requests_leave_the_reserved_room_to_reserved_peers(cluster: Cluster) -> None:
    config = replace(FAST, max_connections=20, reserved_connections=4, reserved_peers=(FRIEND.public_key,))
    target = await cluster.start(config=config)
    busy = []
    try:
        for _ in range(16):  # every place outside the reserved room, each held by a request in progress
            busy.append(await _stalled_handshake(target.port))
        await wait_for(lambda: target.server is not None and target.server.connections is not None
                       and target.server.connections.open == 16, 5, "16 busy connections")  # fmt: skip
        # A stranger's connection now lands in the reserved room: its first request is refused.
        stranger = await cluster.start()
        with pytest.raises(DialError) as refused:
            await asyncio.wait_for(stranger.switch.dial(target.url), 10)
        assert refused.value.reason == "too_many_connections"
        # A stranger forging the friend's id in X-Agora-Node passes the door, then its hello (its own key) is refused.
        async with aiohttp.ClientSession() as http:
            forger = RawPeer(http, target.url)
            raw, _ = forger.hello()
            status, body = await forger.post("/p2p/handshake", raw, {"X-Agora-Node": FRIEND.public_key.hex()})
            assert (status, decode_error(body)[0]) == (403, "not_reserved")
        # The reserved peer gets in, and stays connected.
        friend = await cluster.start(key=FRIEND)
        assert await asyncio.wait_for(friend.switch.dial(target.url), 10) == target.node_id
        await wait_for(lambda: friend.node_id in target.outbound(), 10, "the target to dial the friend back")
        await wait_for(lambda: target.node_id in friend.reactor.connected, 10, "the friend to see the target")
    finally:
        for _, writer in busy:
            writer.close()


async def test_reserved_peers_get_a_peer_table_place_beyond_max_peers(cluster: Cluster) -> None:
    target = await cluster.start(config=replace(FAST, max_peers=2, reserved_peers=(FRIEND.public_key,)))
    for _ in range(2):
        await asyncio.wait_for((await cluster.start()).switch.dial(target.url), 10)
    await wait_for(lambda: len(target.switch.peers()) == 2, 10, "a full peer table")
    stranger = await cluster.start()
    with pytest.raises(DialError) as refused:
        await asyncio.wait_for(stranger.switch.dial(target.url), 10)
    assert refused.value.reason == "too_many_peers"
    friend = await cluster.start(key=FRIEND)
    assert await asyncio.wait_for(friend.switch.dial(target.url), 10) == target.node_id
    assert FRIEND.public_key in {p.node_id for p in target.switch.peers()}


async def test_an_authenticated_peer_is_bounded_by_the_body_budget_and_the_read_timeout(cluster: Cluster) -> None:
    MiB = 1024 * 1024
    # ping_interval 5 s: the raw peer (which never pings) is not forgotten as idle during the test
    config = replace(
        FAST, max_request_bytes=2 * MiB, body_budget_bytes=4 * MiB, body_read_timeout=1.0, ping_interval=5.0
    )
    target = await cluster.start(config=config)
    conns = []
    async with aiohttp.ClientSession() as http:
        peer = RawPeer(http, target.url)
        status, _ = await peer.handshake()
        assert status == 200
        try:
            for _ in range(3):  # each declares 2 MiB and sends half: two fit the 4 MiB budget
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", target.port), 5)
                writer.write(
                    b"POST /p2p/msg HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nX-Agora-Node: %s\r\n"
                    b"X-Agora-Seq: 1\r\nX-Agora-Mac: %s\r\n\r\n"
                    % (2 * MiB, peer.key.public_key.hex().encode(), b"0" * 64)
                )
                writer.write(bytes(MiB))
                await asyncio.wait_for(writer.drain(), 5)
                conns.append((reader, writer))
            third = await asyncio.wait_for(conns[2][0].readline(), 5)
            assert third.startswith(b"HTTP/1.1 503"), third
            for reader, _ in conns[:2]:  # the two held bodies are cut off after the 1 s read timeout
                line = b""
                with contextlib.suppress(ConnectionError):
                    line = await asyncio.wait_for(reader.readline(), 5)
                assert line in (b"", b"HTTP/1.1 408 Request Timeout\r\n"), line
            assert target.server is not None and target.server.bodies is not None
            await wait_for(lambda: target.server.bodies.in_use == 0, 5, "the budget to be released")  # type: ignore[union-attr]
            status, answer = await peer.send(b"\x90")  # the peer itself is fine: an empty batch is accepted
            assert status == 204, decode_error(answer)
        finally:
            for _, writer in conns:
                writer.close()


async def test_garbage_from_an_ip_shared_with_honest_peers_does_not_shut_them_out(cluster: Cluster) -> None:
    target = await cluster.start(config=replace(FAST, ping_interval=5.0, reserved_peers=(FRIEND.public_key,)))
    honest = await cluster.start(seeds=[target.url])
    await wait_for(lambda: honest.node_id in target.outbound() and target.node_id in honest.outbound(), 10, "pair")
    tag = 0

    async def honest_traffic_flows() -> None:
        nonlocal tag
        tag += 1
        payload = b"honest %d" % tag
        assert honest.switch.broadcast("test.gossip", payload) == 1
        await wait_for(lambda: target.reactor.count("test.gossip", payload) == 1, 10, "honest traffic")

    async with aiohttp.ClientSession() as http:  # from 127.0.0.1, the honest peer's own address
        attacker = RawPeer(http, target.url)
        for _ in range(5):  # on main: 5 x 25 points banned 127.0.0.1, and the honest peer with it
            status, body = await attacker.post("/p2p/handshake", b"\x93garbage")
            assert (status, decode_error(body)[0]) == (400, "malformed_handshake")
        assert not target.switch.is_host_banned("127.0.0.1")
        await honest_traffic_flows()
        while not target.switch.is_host_banned("127.0.0.1"):  # the far higher bar: about 40 more
            status, _ = await attacker.post("/p2p/handshake", b"\x93garbage")
            assert status in (400, 403)
        # Banned by IP, the peer that proved its key is still heard, and a reserved node still gets in;
        # a new stranger from that IP does not.
        await honest_traffic_flows()
        friend = await cluster.start(key=FRIEND)
        assert await asyncio.wait_for(friend.switch.dial(target.url), 10) == target.node_id
        stranger = await cluster.start()
        with pytest.raises(DialError) as refused:
            await asyncio.wait_for(stranger.switch.dial(target.url), 10)
        assert refused.value.reason == "banned"


async def test_one_host_holds_at_most_its_share_of_connections(cluster: Cluster) -> None:
    target = await cluster.start(
        config=replace(FAST, max_connections=64, max_connections_per_host=16, reserved_connections=0)
    )
    assert target.server is not None and target.server.connections is not None
    cap = target.server.connections
    flood = []
    try:
        for _ in range(50):  # idle connections from 127.0.0.2: each beyond 16 closes that host's oldest
            flood.append(
                await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", target.port, local_addr=("127.0.0.2", 0)), 5
                )
            )
        await wait_for(lambda: cap.open <= 16, 5, "127.0.0.2 to hold at most 16 connections")
        closed = sum([await _closed(reader) for reader, _ in flood])
        assert closed >= 50 - 16, closed
        other = await cluster.start()  # from 127.0.0.1
        assert await asyncio.wait_for(other.switch.dial(target.url), 10) == target.node_id
        # Busy connections of one host are not closed: beyond its share, the newcomer is refused.
        busy = [await _stalled_handshake_from("127.0.0.3", target.port) for _ in range(16)]
        try:
            await wait_for(lambda: cap.busy == 16, 5, "16 requests in progress from 127.0.0.3")
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", target.port, local_addr=("127.0.0.3", 0)), 5
            )
            flood.append((reader, writer))
            assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"HTTP/1.1 503")
        finally:
            for _, w in busy:
                w.close()
    finally:
        for _, writer in flood:
            writer.close()


async def _stalled_handshake_from(local: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, local_addr=(local, 0)), 5)
    writer.write(b"POST /p2p/handshake HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nx")
    await asyncio.wait_for(writer.drain(), 5)
    return reader, writer
