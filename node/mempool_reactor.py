"""The mempool reactor: gossips transactions between mempools in batches.

A transaction admitted locally (API) or received from a peer is queued and flushed to
every peer in batches of up to :data:`MAX_BATCH_TXS`; one received from a peer is never
sent back to it, nor to a peer that sent it to us while it waited in the queue (the 10 ms
of a flush). Each node admits, hence relays, a transaction once, but cannot know which
other peers got it elsewhere: in a full mesh of n nodes a transaction is sent up to
(n - 1)^2 times over its n(n - 1)/2 links, so up to twice over a link (once each way); a
relayed copy that is already pending costs its receiver a hash, not a decode. Received
batches are decoded (only the transactions not already pending: each is decoded once per
node), their signatures verified in one pass (node/sigverify.py), and admitted like API
submissions but as a peer's (``local=False``: they never evict what this node's clients
sent); undecodable batches or bad signatures score the sender down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Container, Sequence
from typing import Final

from chain.encoding import DecodeError, as_bytes, as_list, decode, encode, sha256
from chain.tx import MAX_TX_BYTES, KindRegistry, Transaction, decode_transaction
from node.mempool import Mempool
from node.sigverify import verify_async
from p2p import ChannelSpec, Network, PeerInfo, Severity

log = logging.getLogger("agora.mempool.reactor")
TX_CHANNEL: Final = "mempool.txs"
MAX_BATCH_TXS: Final = 1000
MAX_BATCH_BYTES: Final = 2 * 1024 * 1024
FLUSH_SECONDS: Final = 0.01


def encode_batch(raws: Sequence[bytes]) -> bytes:
    """The payload of one batch: a list of raw signed transactions."""
    return encode(list(raws))


def decode_batch(
    payload: bytes, registry: KindRegistry, known: Container[bytes] = (), skipped: list[bytes] | None = None
) -> list[Transaction]:
    """Decode a batch, skipping transactions whose hash is in ``known`` (already pending here).

    The hashes of the skipped ones are appended to ``skipped`` if given. DecodeError if the
    batch or any transaction decoded from it is malformed. A skipped transaction's bytes hash
    to a pending one's, so they are that transaction's bytes, which decoded when it was
    admitted: a transaction is decoded once per node, however many peers relay it.
    """
    items = as_list(decode(payload, MAX_BATCH_BYTES + 16 * 1024), "tx batch", max_len=MAX_BATCH_TXS)
    txs = []
    for item in items:
        raw = as_bytes(item, "tx", max_len=MAX_TX_BYTES)
        tx_hash = sha256(raw)
        if tx_hash not in known:
            txs.append(decode_transaction(raw, registry))
        elif skipped is not None:
            skipped.append(tx_hash)
    return txs


class MempoolReactor:
    """Implements p2p's Reactor for transaction gossip."""

    def __init__(self, network: Network, mempool: Mempool, registry: KindRegistry) -> None:
        self.network = network
        self.mempool = mempool
        self.registry = registry
        self._outbox: list[tuple[Transaction, bytes | None]] = []
        self._holders: dict[bytes, set[bytes] | None] = {}
        """Hash of each queued transaction -> the other peers known to hold it (they sent it
        to us since it was queued; None: none but its source), so it is not sent to them."""
        self._wake = asyncio.Event()
        self._source: bytes | None = None
        """The peer whose batch is being admitted (None: the client API)."""
        mempool.on_admit = self.admitted

    @property
    def channels(self) -> Sequence[ChannelSpec]:
        """One gossip channel with dedup (a batch is delivered once)."""
        return (
            ChannelSpec(TX_CHANNEL, priority=1, max_message_bytes=MAX_BATCH_BYTES + 16 * 1024, queue_capacity=2000),
        )

    def admitted(self, tx: Transaction) -> None:
        """Mempool hook: queue a newly admitted transaction for gossip (never back to its source)."""
        self._outbox.append((tx, self._source))
        self._holders[tx.hash] = None
        self._wake.set()

    async def receive(self, peer_id: bytes, channel: str, payload: bytes) -> None:
        """Admit a peer's batch; report undecodable batches and bad signatures."""
        skipped: list[bytes] = []
        try:
            fresh = decode_batch(payload, self.registry, self.mempool, skipped)
        except DecodeError as exc:
            self.network.report(peer_id, Severity.MAJOR, f"bad transaction batch: {exc}")
            return
        holders = self._holders
        for tx_hash in skipped:  # the sender has these: if still queued here, not to it
            if tx_hash in holders:
                known = holders[tx_hash]
                if known is None:
                    holders[tx_hash] = {peer_id}
                else:
                    known.add(peer_id)
        if not fresh:
            return
        signatures = await verify_async(fresh)
        if not all(signatures):
            self.network.report(peer_id, Severity.MAJOR, "transaction with a bad signature")
        self._source = peer_id
        try:
            self.mempool.add_many(fresh, signatures, local=False)
        finally:
            self._source = None

    def peer_connected(self, peer: PeerInfo) -> None:
        """Nothing to do: new transactions reach the peer as they arrive."""

    def peer_disconnected(self, peer_id: bytes) -> None:
        """Nothing to clean up."""

    async def run(self, stop: asyncio.Event) -> None:
        """Flush queued transactions in batches until ``stop`` is set."""
        stopper = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                waiter = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if not waiter.done():
                    waiter.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await waiter
                    break
                await asyncio.sleep(FLUSH_SECONDS)  # coalesce what arrives meanwhile into one batch
                self._wake.clear()
                self.flush()
        finally:
            stopper.cancel()

    def flush(self) -> None:
        """Send everything queued: one batch per source, split at the batch bounds.

        A transaction some other peer sent us while it was queued goes, in per-peer batches,
        only to the peers not known to hold it.
        """
        outbox, self._outbox = self._outbox, []
        holders, self._holders = self._holders, {}
        by_source: dict[bytes | None, list[bytes]] = {}
        by_peer: dict[bytes, list[bytes]] = {}
        peers: list[bytes] | None = None
        for tx, source in outbox:
            known = holders.get(tx.hash)
            if known is None:
                by_source.setdefault(source, []).append(tx.raw)
                continue
            if peers is None:
                peers = [p.node_id for p in self.network.peers() if p.outbound]
            for peer in peers:
                if peer != source and peer not in known:
                    by_peer.setdefault(peer, []).append(tx.raw)
        for source, raws in by_source.items():
            for batch in _split(raws):
                self.network.broadcast(TX_CHANNEL, encode_batch(batch), except_peer=source)
        for peer, raws in by_peer.items():
            for batch in _split(raws):
                self.network.send(peer, TX_CHANNEL, encode_batch(batch))


def _split(raws: list[bytes]) -> list[list[bytes]]:
    """``raws`` cut, in order, into batches within MAX_BATCH_TXS and MAX_BATCH_BYTES."""
    batches = []
    start = 0
    while start < len(raws):
        size, end = 0, start
        while end < len(raws) and end - start < MAX_BATCH_TXS and size + len(raws[end]) <= MAX_BATCH_BYTES:
            size += len(raws[end])
            end += 1
        batches.append(raws[start:end])
        start = end
    return batches
