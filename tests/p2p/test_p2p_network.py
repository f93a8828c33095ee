"""Switches on real aiohttp servers: discovery, gossip exactly once, unicast, batching, reconnect."""

from __future__ import annotations

import random
from dataclasses import replace

from aiohttp import web

from chain.keys import PrivateKey
from p2p import ChannelSpec, PeerInfo, Switch, create_p2p_subapp
from p2p.config import P2PConfig

from .conftest import CHAIN_ID, DIRECT, FAST, GENESIS, GOSSIP, Cluster, Recorder, SkewedClock, wait_for


async def full_mesh(cluster: Cluster, n: int) -> None:
    first = await cluster.start()
    for _ in range(n - 1):
        await cluster.start(seeds=[first.url])
    ids = {node.node_id for node in cluster.nodes}
    await wait_for(
        lambda: all(node.outbound() == ids - {node.node_id} for node in cluster.nodes),
        what="every node connected to every other (seeds + peer exchange)",
    )


async def test_peer_exchange_builds_a_full_mesh_and_gossip_arrives_exactly_once(cluster: Cluster) -> None:
    await full_mesh(cluster, 5)
    nodes = cluster.nodes
    for node in nodes:
        assert node.metric("agora_p2p_peers", {"direction": "outbound"}) == 4
        assert all(p.height == 0 and p.outbound for p in node.switch.peers())
    payloads = [f"tx-{i}".encode() for i in range(40)]
    rng = random.Random(7)
    origin = {p: rng.choice(nodes) for p in payloads}
    for payload, node in origin.items():
        assert node.switch.broadcast(GOSSIP, payload) == 4

    def delivered() -> bool:
        return all(node.reactor.count(GOSSIP, p) == 1 for p in payloads for node in nodes if node is not origin[p])

    await wait_for(delivered, what="every message at every other node")
    await wait_for(lambda: all(n.switch.idle() for n in nodes), what="all relays flushed")
    for payload, src in origin.items():
        assert src.reactor.count(GOSSIP, payload) == 0, "an echo of our own broadcast was delivered"
        for node in nodes:
            if node is not src:
                assert node.reactor.count(GOSSIP, payload) == 1
    sent = sum(n.metric("agora_p2p_sent_messages_total", {"channel": GOSSIP}) for n in nodes)
    links = 5 * 4 // 2
    # Each message crosses each link at most once per direction: never more than 2 x links copies.
    assert len(payloads) * 4 <= sent <= len(payloads) * 2 * links
    dupes = sum(n.metric("agora_p2p_duplicate_messages_total", {"channel": GOSSIP}) for n in nodes)
    assert dupes == sent - len(payloads) * 4


async def test_unicast_reaches_only_its_target(cluster: Cluster) -> None:
    await full_mesh(cluster, 3)
    a, b, c = cluster.nodes
    assert a.switch.send(c.node_id, DIRECT, b"for c only")
    assert a.switch.send(c.node_id, DIRECT, b"for c only")  # not deduplicated on a direct channel
    await wait_for(lambda: c.reactor.count(DIRECT, b"for c only") == 2, what="both direct messages")
    await wait_for(a.switch.idle, what="a idle")
    assert b.reactor.count(DIRECT, b"for c only") == 0
    assert all(peer == a.node_id for peer, _, _ in c.reactor.received)
    assert not a.switch.send(bytes(32), DIRECT, b"nobody")


async def test_many_small_messages_are_batched_into_few_requests(cluster: Cluster) -> None:
    quiet = P2PConfig(ping_interval=60.0, pex_interval=60.0, dial_interval=0.05, backoff_base=0.05)
    a = await cluster.start(config=quiet)
    b = await cluster.start(seeds=[a.url], config=quiet)
    await wait_for(lambda: b.node_id in a.outbound() and a.node_id in b.outbound(), what="a <-> b")
    await wait_for(lambda: a.switch.idle(), what="pex settled")
    before = a.metric("agora_p2p_sent_requests_total")
    payloads = [i.to_bytes(4, "big") * 8 for i in range(1000)]
    for payload in payloads:
        assert a.switch.send(b.node_id, DIRECT, payload)
    await wait_for(lambda: len([r for r in b.reactor.received if r[1] == DIRECT]) == 1000, what="1000 messages")
    got = [p for _, ch, p in b.reactor.received if ch == DIRECT]
    assert got == payloads, "order within a channel is preserved"
    # b may have delivered the batch before a has read the answer and counted the request
    await wait_for(lambda: a.switch.idle(), what="the sender to finish its request")
    requests = a.metric("agora_p2p_sent_requests_total") - before
    assert 1 <= requests <= 3, f"1000 messages took {requests} requests"
    assert a.metric("agora_p2p_sent_messages_total", {"channel": DIRECT}) == 1000


async def test_full_queue_drops_and_counts_instead_of_blocking(cluster: Cluster) -> None:
    a = await cluster.start()
    b = await cluster.start(seeds=[a.url])
    await wait_for(lambda: b.node_id in a.outbound(), what="a -> b")
    accepted = sum(a.switch.send(b.node_id, DIRECT, i.to_bytes(4, "big")) for i in range(6000))
    assert accepted == 5000  # the channel's queue_capacity
    assert a.metric("agora_p2p_dropped_messages_total", {"channel": DIRECT, "reason": "queue_full"}) == 1000
    await wait_for(lambda: len(b.reactor.received) >= 5000, what="queued messages delivered")


async def test_reconnects_after_a_peer_restarts_on_the_same_port(cluster: Cluster) -> None:
    a = await cluster.start()
    b = await cluster.start(seeds=[a.url])
    c = await cluster.start(seeds=[a.url])
    await wait_for(lambda: all(len(n.outbound()) == 2 for n in cluster.nodes), what="3-node mesh")
    port, key = c.port, c.key
    await c.stop()
    await wait_for(
        lambda: c.node_id not in a.outbound() and c.node_id not in b.outbound(),
        what="a and b notice c is gone",
    )
    assert c.node_id not in a.reactor.connected
    c2 = await cluster.start(seeds=[a.url], key=key, port=port)
    assert c2.port == port
    await wait_for(
        lambda: c2.node_id in a.outbound() and c2.node_id in b.outbound() and len(c2.outbound()) == 2,
        what="c back in the mesh",
    )
    assert c2.switch.broadcast(GOSSIP, b"after restart") == 2
    await wait_for(
        lambda: a.reactor.count(GOSSIP, b"after restart") == 1 and b.reactor.count(GOSSIP, b"after restart") == 1,
        what="gossip from the restarted node",
    )


async def test_a_node_whose_clock_ran_ahead_reconnects_at_once_when_restarted_with_the_true_clock(
    cluster: Cluster,
) -> None:
    # The soak's lockout: its peers kept the skewed hello's timestamp and answered every hello
    # that was not newer with 409 duplicate, for as long as the skew had been (here 90 s).
    patient = replace(FAST, ping_interval=5.0)  # a keeps the peer's state across the restart
    a = await cluster.start(config=patient)
    b = await cluster.start(seeds=[a.url], config=patient, clock=SkewedClock(90_000))
    await wait_for(lambda: b.node_id in a.outbound() and a.node_id in b.outbound(), what="pair")
    port, key = b.port, b.key
    await b.stop()
    b2 = await cluster.start(seeds=[a.url], key=key, port=port, config=patient)
    await wait_for(
        lambda: b2.node_id in a.outbound() and a.node_id in b2.outbound(),
        what="the corrected node is let back in",
    )
    assert b2.switch.broadcast(GOSSIP, b"back on time") == 1
    await wait_for(lambda: a.reactor.count(GOSSIP, b"back on time") == 1, what="its gossip is accepted")
    assert a.metric("agora_p2p_handshakes_total", {"direction": "in", "result": "ok"}) >= 2


async def test_p2p_shares_a_port_with_the_client_api() -> None:
    switch = Switch(PrivateKey(bytes(range(32))), CHAIN_ID, GENESIS, FAST)
    reactor = Recorder()
    switch.add_reactor(reactor)

    async def ping(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/api/v1/ping", ping)
    app.add_subapp("/p2p", create_p2p_subapp(switch))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    await switch.start(url)
    cluster = Cluster(seed=5)
    try:
        other = await cluster.start(seeds=[url])
        await wait_for(lambda: switch.node_id in other.outbound(), what="peer dialled the shared port")
        await wait_for(lambda: other.node_id in {p.node_id for p in switch.peers() if p.outbound}, what="dial back")
        other.switch.broadcast(GOSSIP, b"shared port")
        await wait_for(lambda: reactor.count(GOSSIP, b"shared port") == 1, what="message via the sub-app")
    finally:
        await cluster.close()
        await switch.stop()
        await runner.cleanup()


async def test_reaching_a_connected_node_by_a_second_url_keeps_the_session(cluster: Cluster) -> None:
    a = await cluster.start()
    b = await cluster.start(seeds=[a.url, f"http://localhost:{a.port}"])  # the same node twice
    await wait_for(lambda: a.node_id in b.outbound() and b.node_id in a.outbound(), what="a <-> b")
    await wait_for(
        lambda: b.metric("agora_p2p_handshakes_total", {"direction": "out", "result": "duplicate"}) >= 1,
        what="b dialled a by both URLs",
    )
    start = b.metric("agora_p2p_sent_requests_total")
    await wait_for(lambda: b.metric("agora_p2p_sent_requests_total") >= start + 12, what="a while of pings")
    assert b.metric("agora_p2p_handshakes_total", {"direction": "out", "result": "duplicate"}) <= 2
    assert a.node_id in b.outbound()
    b.switch.broadcast(GOSSIP, b"still one session")
    await wait_for(lambda: a.reactor.count(GOSSIP, b"still one session") == 1, what="b -> a after the alias dial")
    assert a.metric("agora_p2p_rejected_requests_total", {"reason": "bad_mac"}) == 0


class Exploding:
    """A buggy reactor: raises on every message."""

    channels = (ChannelSpec("test.boom"),)

    async def receive(self, peer_id: bytes, channel: str, payload: bytes) -> None:
        raise RuntimeError("reactor bug")

    def peer_connected(self, peer: PeerInfo) -> None:
        raise RuntimeError("hook bug")

    def peer_disconnected(self, peer_id: bytes) -> None:
        return None


async def test_a_failing_reactor_is_contained_and_does_not_penalise_the_peer(cluster: Cluster) -> None:
    b = await cluster.start()
    b.switch.add_reactor(Exploding())
    a = await cluster.start(seeds=[b.url])
    a.switch.add_reactor(Exploding())
    await wait_for(lambda: a.node_id in b.outbound() and b.node_id in a.outbound(), what="a <-> b")
    a.switch.broadcast("test.boom", b"kaboom")
    a.switch.broadcast(GOSSIP, b"after the bug")
    await wait_for(lambda: b.reactor.count(GOSSIP, b"after the bug") == 1, what="later messages still delivered")
    assert b.metric("agora_p2p_reactor_errors_total", {"channel": "test.boom"}) == 1
    assert b.switch.score(a.node_id) == 0
    assert b.metric("agora_p2p_rejected_requests_total", {"reason": "unknown_channel"}) == 0
