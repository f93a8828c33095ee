"""The mempool reactor: gossips transactions between mempools in batches.

A transaction admitted locally (API) or received from a peer is queued and flushed in
batches of up to :data:`MAX_BATCH_TXS` to every peer not known to hold it. Each batch names
the peers that hold it or are being sent it (:data:`MAX_NAMED` at most), and a receiver
counts those, and the sender, as holders of the transactions it admits from that batch. So
a transaction is never sent back to its source, nor to a peer its source already sent it
to, nor to one that sent it to us while it waited in the queue (the 10 ms of a flush): in a
full mesh a transaction goes over each link from its first node and no further (3 sends in
a 4-node testnet, where relaying to every peer but the source sent it 9 times). In a
partial mesh the nodes that got it relay it to their peers nobody named, so it still
reaches everyone. Naming is only an economy: a peer that names falsely can at worst keep
us from relaying what it sent us, which it could have withheld anyway; a dropped batch is
not re-sent by anyone else, and the transaction still reaches the chain through the nodes
that hold it. A relayed copy that is already pending costs its receiver a hash, not a
decode. Received batches are decoded (only the transactions not already pending: each is
decoded once per node), their signatures verified in one pass (node/sigverify.py), and
admitted like API submissions but as a peer's (``local=False``: they never evict what this
node's clients sent); undecodable batches or bad signatures score the sender down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Container, Iterable, Sequence
from typing import Final

from chain.encoding import DecodeError, as_bytes, as_list, decode, encode, sha256
from chain.keys import PUBLIC_KEY_SIZE
from chain.tx import MAX_TX_BYTES, KindRegistry, Transaction, decode_transaction
from node.mempool import Mempool
from node.sigverify import verify_async
from p2p import ChannelSpec, Network, PeerInfo, Severity

log = logging.getLogger("agora.mempool.reactor")
TX_CHANNEL: Final = "mempool.txs"
MAX_BATCH_TXS: Final = 1000
MAX_BATCH_BYTES: Final = 2 * 1024 * 1024
FLUSH_SECONDS: Final = 0.01
MAX_NAMED: Final = 64
"""Most peers one batch names as holding its transactions (naming fewer costs duplicates, never a loss)."""
_NO_HOLDERS: Final[frozenset[bytes]] = frozenset()


def encode_batch(raws: Sequence[bytes], named: Iterable[bytes] = ()) -> bytes:
    """The payload of one batch: ``[named peers, raw signed transactions]``.

    ``named`` are the node ids of peers that hold these transactions or are being sent this
    batch; the lowest :data:`MAX_NAMED` of them are kept (sorted, so equal batches encode equally).
    """
    return encode([sorted(named)[:MAX_NAMED], list(raws)])


def decode_batch(
    payload: bytes, registry: KindRegistry, known: Container[bytes] = (), skipped: list[bytes] | None = None
) -> tuple[frozenset[bytes], list[Transaction]]:
    """Decode a batch into the peers it names and its transactions, skipping those whose hash is in ``known``.

    ``known`` holds the hashes already pending here; the hashes of the skipped transactions
    are appended to ``skipped`` if given. DecodeError if the batch, a name (a node id of
    :data:`chain.keys.PUBLIC_KEY_SIZE` bytes, at most :data:`MAX_NAMED` of them) or any
    transaction decoded from it is malformed. A skipped transaction's bytes hash to a pending
    one's, so they are that transaction's bytes, which decoded when it was admitted: a
    transaction is decoded once per node, however many peers relay it.
    """
    batch = as_list(decode(payload, MAX_BATCH_BYTES + 16 * 1024), "tx batch [named peers, txs]", length=2)
    names = as_list(batch[0], "named peers", max_len=MAX_NAMED)
    named = frozenset(as_bytes(item, "named peer", size=PUBLIC_KEY_SIZE) for item in names)
    items = as_list(batch[1], "tx batch", max_len=MAX_BATCH_TXS)
    txs = []
    for item in items:
        raw = as_bytes(item, "tx", max_len=MAX_TX_BYTES)
        tx_hash = sha256(raw)
        if tx_hash not in known:
            txs.append(decode_transaction(raw, registry))
        elif skipped is not None:
            skipped.append(tx_hash)
    return named, txs


class MempoolReactor:
    """Implements p2p's Reactor for transaction gossip."""

    def __init__(self, network: Network, mempool: Mempool, registry: KindRegistry) -> None:
        self.network = network
        self.mempool = mempool
        self.registry = registry
        self._outbox: list[Transaction] = []
        self._holders: dict[bytes, frozenset[bytes]] = {}
        """Hash of each queued transaction -> the peers known to hold it (its source, the peers
        its batch named, and those that sent it to us since it was queued): not sent to them."""
        self._wake = asyncio.Event()
        self._arriving: frozenset[bytes] = _NO_HOLDERS
        """The holders of the batch being admitted (empty: the client API's)."""
        mempool.on_admit = self.admitted

    @property
    def channels(self) -> Sequence[ChannelSpec]:
        """One gossip channel with dedup (a batch is delivered once)."""
        return (
            ChannelSpec(TX_CHANNEL, priority=1, max_message_bytes=MAX_BATCH_BYTES + 16 * 1024, queue_capacity=2000),
        )

    def admitted(self, tx: Transaction) -> None:
        """Mempool hook: queue a newly admitted transaction for gossip (never to a peer known to hold it)."""
        self._outbox.append(tx)
        self._holders[tx.hash] = self._arriving
        self._wake.set()

    async def receive(self, peer_id: bytes, channel: str, payload: bytes) -> None:
        """Admit a peer's batch; report undecodable batches and bad signatures."""
        skipped: list[bytes] = []
        try:
            named, fresh = decode_batch(payload, self.registry, self.mempool, skipped)
        except DecodeError as exc:
            self.network.report(peer_id, Severity.MAJOR, f"bad transaction batch: {exc}")
            return
        arriving = named | {peer_id}
        holders = self._holders
        for tx_hash in skipped:  # the sender (and whom it named) have these: if still queued here, not to them
            known = holders.get(tx_hash)
            if known is not None:
                holders[tx_hash] = known | arriving
        if not fresh:
            return
        signatures = await verify_async(fresh)
        if not all(signatures):
            self.network.report(peer_id, Severity.MAJOR, "transaction with a bad signature")
        self._arriving = arriving
        try:
            self.mempool.add_many(fresh, signatures, local=False)
        finally:
            self._arriving = _NO_HOLDERS

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
        """Send everything queued, in order, to the sendable peers not known to hold it.

        Transactions with the same known holders go together, split at the batch bounds; each
        batch names those holders and the peers it is sent to.
        """
        outbox, self._outbox = self._outbox, []
        holders, self._holders = self._holders, {}
        groups: dict[frozenset[bytes], list[bytes]] = {}
        for tx in outbox:
            groups.setdefault(holders[tx.hash], []).append(tx.raw)
        peers = [p.node_id for p in self.network.peers() if p.outbound]
        for known, raws in groups.items():
            targets = [peer for peer in peers if peer not in known]
            if not targets:
                continue
            named = known.union(targets)
            for batch in _split(raws):
                payload = encode_batch(batch, named)
                for peer in targets:
                    self.network.send(peer, TX_CHANNEL, payload)


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
