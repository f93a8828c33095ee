"""Gossip: a transaction goes to each peer not known to hold it, once per link in a full mesh, and
peers' copies never evict a client's."""

from __future__ import annotations

import asyncio

import pytest

from chain.encoding import DecodeError, decode, encode, sha256
from chain.genesis import Genesis, GenesisBalance
from chain.keys import PrivateKey
from chain.params import ChainParams
from chain.transfer import CORE_KINDS, Transfer
from chain.tx import Transaction, sign_transaction
from chain.validators import Validator, ValidatorSet
from node.mempool import Mempool
from node.mempool_reactor import MAX_NAMED, MempoolReactor, decode_batch, encode_batch
from p2p import PeerInfo

CHAIN = "reactor-test"
KEYS = [PrivateKey(sha256(b"reactor-key-%d" % i)) for i in range(4)]
SINK = PrivateKey(sha256(b"reactor-sink")).public_key
PEERS = [bytes([i]) * 32 for i in range(1, 4)]
REGISTRY = CORE_KINDS


class RecordingNetwork:
    """The switch's side of p2p.Network, recording what each peer would be sent."""

    def __init__(self) -> None:
        self.sent: dict[bytes, list[bytes]] = {p: [] for p in PEERS}
        self.reports: list[str] = []

    def broadcast(self, channel: str, payload: bytes, except_peer: bytes | None = None) -> int:
        """Record the batch for every peer but ``except_peer``."""
        targets = [p for p in PEERS if p != except_peer]
        for peer in targets:
            self.send(peer, channel, payload)
        return len(targets)

    def send(self, peer_id: bytes, channel: str, payload: bytes) -> bool:
        """Record the batch's transactions for ``peer_id``."""
        self.sent[peer_id].extend(decode(payload)[1])
        return True

    def report(self, peer_id: bytes, severity: int, reason: str) -> None:
        """Record a penalty."""
        self.reports.append(reason)

    def peers(self) -> list[PeerInfo]:
        """Every peer, sendable."""
        return [PeerInfo(p, "http://127.0.0.1:1", 0, True, True, 0.0) for p in PEERS]


def _pool(max_txs: int = 100) -> Mempool:
    genesis = Genesis(
        CHAIN,
        0,
        ChainParams(min_fee=10),
        ValidatorSet.of([Validator(KEYS[0].public_key, 1)]),
        tuple(GenesisBalance(k.public_key, "AGR", 10**9) for k in KEYS),
    )
    return Mempool(genesis.initial_state(), CHAIN, ChainParams(min_fee=10), max_txs, 10**7, 8)


def _tx(key: PrivateKey, nonce: int, fee: int = 10) -> Transaction:
    return sign_transaction(key, CHAIN, nonce, fee, Transfer(SINK, 1))


def test_a_queued_transaction_is_not_sent_to_a_peer_that_sent_it_to_us() -> None:
    async def main() -> None:
        net, pool = RecordingNetwork(), _pool()
        reactor = MempoolReactor(net, pool, REGISTRY)
        ours, relayed, theirs = _tx(KEYS[0], 0), _tx(KEYS[1], 0), _tx(KEYS[2], 0)
        pool.add(ours)  # from our client: to every peer
        await reactor.receive(PEERS[0], "mempool.txs", encode_batch([relayed.raw]))  # from peer 1
        await reactor.receive(PEERS[1], "mempool.txs", encode_batch([relayed.raw, ours.raw, theirs.raw]))
        reactor.flush()
        assert net.reports == []
        assert sorted(net.sent[PEERS[0]]) == sorted([ours.raw, theirs.raw])  # not `relayed`: it came from peer 1
        assert net.sent[PEERS[1]] == []  # it sent us all three
        assert sorted(net.sent[PEERS[2]]) == sorted([ours.raw, relayed.raw, theirs.raw])
        reactor.flush()  # nothing queued: nothing sent twice
        assert sum(map(len, net.sent.values())) == 5

    asyncio.run(main())


def test_gossiped_batches_are_admitted_as_a_peers_and_cannot_evict_a_clients() -> None:
    async def main() -> None:
        net, pool = RecordingNetwork(), _pool(max_txs=1)
        reactor = MempoolReactor(net, pool, REGISTRY)
        own = _tx(KEYS[0], 0, fee=10)
        pool.add(own)
        rich = _tx(KEYS[1], 0, fee=1000)
        await reactor.receive(PEERS[0], "mempool.txs", encode_batch([rich.raw]))
        assert own.hash in pool and rich.hash not in pool and pool.is_local(own.hash)

    asyncio.run(main())


def test_a_batch_is_not_relayed_to_the_peers_it_names() -> None:
    async def main() -> None:
        net, pool = RecordingNetwork(), _pool()
        reactor = MempoolReactor(net, pool, REGISTRY)
        tx = _tx(KEYS[1], 0)
        await reactor.receive(PEERS[0], "mempool.txs", encode_batch([tx.raw], named=[PEERS[1]]))
        reactor.flush()
        assert tx.hash in pool
        assert net.sent == {PEERS[0]: [], PEERS[1]: [], PEERS[2]: [tx.raw]}

    asyncio.run(main())


class Mesh:
    """Reactors wired by an in-memory network: ``links`` says who can send to whom."""

    def __init__(self, links: dict[bytes, list[bytes]]) -> None:
        self.links = links
        self.pools = {node: _pool() for node in links}
        self.reactors = {node: MempoolReactor(_MeshNetwork(self, node), self.pools[node], REGISTRY) for node in links}
        self.in_flight: list[tuple[bytes, bytes, bytes]] = []
        self.sends = 0

    async def settle(self) -> None:
        """Flush and deliver until nothing is queued anywhere."""
        while True:
            for reactor in self.reactors.values():
                reactor.flush()
            if not self.in_flight:
                return
            src, dst, payload = self.in_flight.pop(0)
            await self.reactors[dst].receive(src, "mempool.txs", payload)


class _MeshNetwork(RecordingNetwork):
    def __init__(self, mesh: Mesh, node: bytes) -> None:
        super().__init__()
        self.mesh, self.node = mesh, node

    def send(self, peer_id: bytes, channel: str, payload: bytes) -> bool:
        self.mesh.in_flight.append((self.node, peer_id, payload))
        self.mesh.sends += len(decode(payload)[1])
        return True

    def peers(self) -> list[PeerInfo]:
        return [PeerInfo(p, "http://127.0.0.1:1", 0, True, True, 0.0) for p in self.mesh.links[self.node]]


NODES = [bytes([i]) * 32 for i in range(10, 16)]


def test_in_a_full_mesh_each_transaction_crosses_each_link_once_from_its_first_node() -> None:
    async def main() -> None:
        four = NODES[:4]
        mesh = Mesh({node: [p for p in four if p != node] for node in four})
        txs = [_tx(KEYS[i], 0) for i in range(4)]
        for node, tx in zip(four, txs, strict=True):  # each node's client sends one
            mesh.pools[node].add(tx)
        await mesh.settle()
        assert all(tx.hash in pool for pool in mesh.pools.values() for tx in txs)
        assert mesh.sends == 4 * 3  # relaying to every peer but the source sent each one 9 times

    asyncio.run(main())


def test_in_a_partial_mesh_a_transaction_still_reaches_every_node() -> None:
    async def main() -> None:
        a, b, c, d, e, f = NODES  # a line a-b-c-d, and e, f hanging off b and d
        mesh = Mesh({a: [b], b: [a, c, e], c: [b, d], d: [c, f], e: [b], f: [d]})
        tx = _tx(KEYS[0], 0)
        mesh.pools[a].add(tx)
        await mesh.settle()
        assert all(tx.hash in pool for pool in mesh.pools.values())
        assert mesh.sends == 5  # one per link of the tree

    asyncio.run(main())


def test_a_batch_with_bad_names_is_refused_whole() -> None:
    tx = _tx(KEYS[0], 0)
    assert decode_batch(encode_batch([tx.raw], named=PEERS), REGISTRY) == (frozenset(PEERS), [tx])
    for bad in (
        encode_batch([tx.raw], named=[b"short"]),  # not a node id
        encode([[bytes([i]) * 32 for i in range(MAX_NAMED + 1)], [tx.raw]]),  # more names than allowed
        encode([tx.raw]),  # a version-1 batch: a bare list of transactions
    ):
        with pytest.raises(DecodeError):
            decode_batch(bad, REGISTRY)
