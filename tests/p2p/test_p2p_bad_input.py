"""Hostile input against a live node: every kind is a 4xx, scores down, bans, and honest peers carry on."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import pytest

from chain.encoding import encode, sha256
from chain.keys import PrivateKey
from p2p import DialError, Severity
from p2p.wire import Envelope, decode_error, encode_batch

from .conftest import FAST, GOSSIP, Cluster, Node, RawPeer, wait_for

STRICT = replace(
    FAST,
    max_request_bytes=256 * 1024,
    max_batch_bytes=128 * 1024,
    rate_messages_per_second=50.0,
    rate_burst=100.0,
)


@pytest.fixture
async def pair(cluster: Cluster) -> tuple[Node, Node]:
    target = await cluster.start(config=STRICT)
    honest = await cluster.start(seeds=[target.url], config=STRICT)
    await wait_for(lambda: honest.node_id in target.outbound() and target.node_id in honest.outbound(), what="pair")
    return target, honest


def http_from(local_host: str) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(local_host, 0), force_close=True))


@pytest.fixture
async def attacker_http() -> AsyncIterator[aiohttp.ClientSession]:
    async with http_from("127.0.0.2") as http:
        yield http


async def honest_traffic_still_flows(target: Node, honest: Node, tag: bytes) -> None:
    assert target.switch.broadcast(GOSSIP, b"from target " + tag) == 1
    assert honest.switch.broadcast(GOSSIP, b"from honest " + tag) == 1
    await wait_for(
        lambda: (
            honest.reactor.count(GOSSIP, b"from target " + tag) == 1
            and target.reactor.count(GOSSIP, b"from honest " + tag) == 1
        ),
        what="honest peers still exchanging messages",
    )


def reason(body: bytes) -> str:
    return decode_error(body)[0]


async def test_garbage_and_oversized_bodies_are_refused_and_ban_the_host(
    pair: tuple[Node, Node], attacker_http: aiohttp.ClientSession
) -> None:
    target, honest = pair
    raw = RawPeer(attacker_http, target.url)
    status, body = await raw.post("/p2p/handshake", b"\xc1 not msgpack at all")
    assert (status, reason(body)) == (400, "malformed_handshake")
    assert target.switch.host_score("127.0.0.2") > 0
    status, body = await raw.post("/p2p/msg", b"garbage")
    assert (status, reason(body)) == (400, "bad_auth_headers")
    status, body = await raw.post("/p2p/handshake", bytes(3000))
    assert (status, reason(body)) == (413, "body_too_large")
    status, body = await raw.post("/p2p/msg", bytes(300 * 1024), {"X-Agora-Node": "00" * 32})
    assert (status, reason(body)) == (413, "body_too_large")
    assert not target.switch.is_host_banned("127.0.0.2")  # 25 + 5 + 25 + 25 points so far
    status, body = await raw.post("/p2p/handshake", encode([1, 2]))
    assert (status, reason(body)) == (400, "malformed_handshake")
    assert target.switch.is_host_banned("127.0.0.2")
    status, body = await raw.post("/p2p/handshake", b"anything")
    assert (status, reason(body)) == (403, "banned")
    assert target.metric("agora_p2p_bans_total", {"kind": "host"}) == 1
    await honest_traffic_still_flows(target, honest, b"1")


async def test_random_bodies_and_headers_never_get_a_5xx(
    pair: tuple[Node, Node], attacker_http: aiohttp.ClientSession
) -> None:
    target, honest = pair
    rng = random.Random(2024)
    raw = RawPeer(attacker_http, target.url)
    statuses = set()
    for i in range(120):
        body = rng.randbytes(rng.randrange(0, 600))
        if i % 3 == 0:
            body = encode([rng.randrange(10), [rng.randbytes(5)], "x" * rng.randrange(5)])
        headers = {
            "X-Agora-Node": rng.choice(["", "zz", rng.randbytes(32).hex()]),
            "X-Agora-Seq": str(i),
            "X-Agora-Mac": rng.randbytes(32).hex(),
        }
        status, _ = await raw.post(rng.choice(["/p2p/handshake", "/p2p/msg"]), body, headers)
        statuses.add(status)
    assert statuses <= {400, 401, 403, 413}, statuses
    assert 403 in statuses  # the host ended up banned
    await honest_traffic_still_flows(target, honest, b"2")


async def test_handshake_for_another_chain_or_genesis_bans_that_node(pair: tuple[Node, Node], cluster: Cluster) -> None:
    target, honest = pair
    async with http_from("127.0.0.3") as http:
        foreign = RawPeer(http, target.url, PrivateKey(bytes([3]) * 32))
        status, body = await foreign.handshake(chain_id="another-chain")
        assert (status, reason(body)) == (400, "wrong_chain")
        assert target.switch.is_banned(foreign.key.public_key)
        status, body = await foreign.handshake()
        assert (status, reason(body)) == (403, "banned")
        forked = RawPeer(http, target.url, PrivateKey(bytes([4]) * 32))
        status, body = await forked.handshake(genesis=sha256(b"other genesis"))
        assert (status, reason(body)) == (400, "wrong_chain")
        assert target.switch.is_banned(forked.key.public_key)
    # A whole node on another genesis dialling in is refused and never becomes a peer.
    other = await cluster.start(seeds=[target.url], genesis=sha256(b"fork"), config=STRICT)
    await wait_for(lambda: target.switch.is_banned(other.node_id), what="foreign node banned")
    assert other.node_id not in {p.node_id for p in target.switch.peers()}
    assert not other.outbound()
    await honest_traffic_still_flows(target, honest, b"3")


async def test_forged_handshake_signature_is_refused(
    pair: tuple[Node, Node], attacker_http: aiohttp.ClientSession
) -> None:
    target, honest = pair
    raw = RawPeer(attacker_http, target.url)
    hello, _ = raw.hello()
    forged = hello[:-1] + bytes([hello[-1] ^ 1])
    status, body = await raw.post("/p2p/handshake", forged)
    assert (status, reason(body)) == (401, "bad_signature")
    impostor = RawPeer(attacker_http, target.url, PrivateKey(bytes([5]) * 32))
    stolen, _ = impostor.hello()
    # Claim the honest node's id with the impostor's signature: the signature does not verify.
    swapped = stolen.replace(impostor.key.public_key, honest.node_id)
    status, body = await raw.post("/p2p/handshake", swapped)
    assert (status, reason(body)) == (401, "bad_signature")
    assert target.switch.host_score("127.0.0.2") >= 2 * Severity.MAJOR - 1
    assert honest.node_id in target.outbound()
    await honest_traffic_still_flows(target, honest, b"4")


async def test_unauthenticated_replayed_or_tampered_messages_are_refused(
    pair: tuple[Node, Node], attacker_http: aiohttp.ClientSession
) -> None:
    target, honest = pair
    raw = RawPeer(attacker_http, target.url, PrivateKey(bytes([6]) * 32))
    batch = encode_batch([Envelope(GOSSIP, b"sneaky")])
    status, body = await raw.send(batch, mac=bytes(32))
    assert (status, reason(body)) == (401, "unknown_session")
    # Pretending to be the honest peer without its session key.
    headers = {"X-Agora-Node": honest.node_id.hex(), "X-Agora-Seq": "999999", "X-Agora-Mac": "00" * 32}
    status, body = await raw.post("/p2p/msg", batch, headers)
    assert (status, reason(body)) == (401, "bad_mac")
    status, _ = await raw.handshake()
    assert status == 200
    status, _ = await raw.send(batch)
    assert status == 204
    status, body = await raw.send(batch, seq=1)
    assert (status, reason(body)) == (401, "replayed")
    status, body = await raw.send(encode_batch([Envelope(GOSSIP, b"tampered")]), mac=bytes(32))
    assert (status, reason(body)) == (401, "bad_mac")
    assert target.reactor.count(GOSSIP, b"sneaky") == 1
    assert target.reactor.count(GOSSIP, b"tampered") == 0
    await honest_traffic_still_flows(target, honest, b"5")


async def test_authenticated_invalid_data_scores_the_node_down_then_bans_it(
    pair: tuple[Node, Node], attacker_http: aiohttp.ClientSession
) -> None:
    target, honest = pair
    raw = RawPeer(attacker_http, target.url, PrivateKey(bytes([7]) * 32))
    assert (await raw.handshake())[0] == 200
    node = raw.key.public_key
    status, body = await raw.send(b"\x93\x01")
    assert (status, reason(body)) == (400, "malformed_batch")
    assert target.switch.score(node) == pytest.approx(Severity.MAJOR, abs=1)
    status, body = await raw.send(encode([["no.such.channel", b"x"]]))
    assert (status, reason(body)) == (400, "unknown_channel")
    status, body = await raw.send(encode([[GOSSIP, bytes(65 * 1024)]]))
    assert (status, reason(body)) == (400, "malformed_batch")  # beyond every channel's payload bound
    assert not target.switch.is_banned(node)  # just under 4 x 25 points (they decay)
    status, body = await raw.send(encode([[GOSSIP, 5]]))
    assert (status, reason(body)) == (400, "malformed_batch")
    status, body = await raw.send(encode([[GOSSIP]]))
    assert (status, reason(body)) == (400, "malformed_batch")
    assert target.switch.is_banned(node)
    status, body = await raw.send(encode_batch([]))
    assert (status, reason(body)) == (403, "banned")
    status, body = await raw.handshake()
    assert (status, reason(body)) == (403, "banned")
    assert target.metric("agora_p2p_bans_total", {"kind": "node"}) == 1
    await honest_traffic_still_flows(target, honest, b"6")


async def test_flood_beyond_the_rate_limit_gets_429_then_a_ban(
    pair: tuple[Node, Node], attacker_http: aiohttp.ClientSession
) -> None:
    target, honest = pair
    raw = RawPeer(attacker_http, target.url, PrivateKey(bytes([8]) * 32))
    assert (await raw.handshake())[0] == 200
    statuses: list[int] = []
    for i in range(60):
        batch = encode_batch([Envelope(GOSSIP, f"flood {i} {j}".encode()) for j in range(50)])
        status, _ = await raw.send(batch)
        statuses.append(status)
        if status == 403:
            break
    assert statuses[:2] == [204, 204]
    assert 429 in statuses
    assert statuses[-1] == 403
    assert target.switch.is_banned(raw.key.public_key)
    assert target.metric("agora_p2p_rejected_requests_total", {"reason": "rate_limited"}) >= 10
    await honest_traffic_still_flows(target, honest, b"7")


async def test_a_reactor_report_bans_and_disconnects_the_peer(pair: tuple[Node, Node]) -> None:
    target, honest = pair
    target.switch.report(honest.node_id, Severity.MAJOR, "invalid vote")
    assert target.switch.score(honest.node_id) == pytest.approx(Severity.MAJOR, abs=1)
    assert not target.switch.is_banned(honest.node_id)
    target.switch.report(honest.node_id, Severity.FATAL, "block without a valid certificate")
    assert target.switch.is_banned(honest.node_id)
    await wait_for(lambda: honest.node_id not in target.reactor.connected, what="target dropped the peer")
    assert not target.switch.send(honest.node_id, GOSSIP, b"x")
    honest.switch.broadcast(GOSSIP, b"ignored")
    await wait_for(lambda: target.node_id not in honest.outbound(), what="honest's link refused (403)")
    assert target.reactor.count(GOSSIP, b"ignored") == 0


async def test_self_connections_replayed_hellos_and_a_full_peer_table_are_refused(
    cluster: Cluster, attacker_http: aiohttp.ClientSession
) -> None:
    target = await cluster.start(config=replace(STRICT, max_peers=2))
    with pytest.raises(DialError) as info:
        await target.switch.dial(target.url)
    assert info.value.reason == "self"
    raw = RawPeer(attacker_http, target.url, PrivateKey(bytes([9]) * 32))
    hello, _ = raw.hello()
    assert (await raw.post("/p2p/handshake", hello))[0] == 200
    status, body = await raw.post("/p2p/handshake", hello)
    assert (status, reason(body)) == (409, "duplicate")
    honest = await cluster.start(seeds=[target.url], config=STRICT)
    await wait_for(lambda: honest.node_id in target.outbound(), what="honest peer joins (table now full)")
    third = RawPeer(attacker_http, target.url, PrivateKey(bytes([10]) * 32))
    status, body = await third.handshake()
    assert (status, reason(body)) == (503, "too_many_peers")
    with pytest.raises(DialError) as info:
        await honest.switch.dial(target.url)
    assert info.value.reason == "duplicate"
