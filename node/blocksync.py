"""Block sync: a node that is behind fetches certified block ranges from its peers.

Every node announces its height (``status``) every second and after each commit. A node
whose peers are ahead asks the highest of them for the next range (``get``); the answer
(``blocks``) carries each block with the certificate that committed it. Each block goes
through the consensus driver (which verifies the certificate against the validator set
of that height) and the block executor (which re-executes it), so a synced chain is
verified exactly like a live one. Progress (blocks/s, remaining) is logged and reported
by the status API.

The catch-up is pipelined, and nothing is skipped: as soon as an answer is taken from the
queue, the range after it is asked for, so it travels while this one executes; while block
N executes (in the executor's worker thread), the signatures of block N+1 are verified on
the verify pool (node/sigverify.py), and the executor takes those verdicts instead of
verifying again (:attr:`node.executor.BlockExecutor.verified_ahead`; a signature that
failed is not in it and is verified again, and refused). Blocks are still applied one by
one, in order, each with its certificate checked and its state root compared with its
header. A bad block ends the answer there, as before: nothing of it is applied, the peer is
reported, and the answer to the request made ahead of it is dropped unread.

A range is served from the stored bytes: each block's and certificate's encoding as it was
written, framed without decoding or re-encoding them.

A height is believed only from a peer that can deliver it: one we hold a link to (a peer
that only dialled in cannot be asked), that is not distrusted. A peer that lets a request
time out or answers nothing is distrusted for a while and its claim is dropped; a peer the
switch forgets leaves the sync. So one fake height (2**64-1 from a peer that never serves
it) cannot stall the sync, nor be reported as its target.

Messages (canonical msgpack lists): ``["status", height]``, ``["get", from, count]``,
``["blocks", [[block_bytes, commit], ...]]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import msgpack

from chain.block import Block, decode_block
from chain.encoding import U64_MAX, DecodeError, Primitive, as_bytes, as_int, as_list, as_str, decode, encode
from chain.errors import InvalidBlock
from chain.tx import KindRegistry
from chain.votes import Commit
from node.consensus_driver import ConsensusDriver
from node.sigverify import verify_async
from p2p import ChannelSpec, Network, PeerInfo, Severity
from storage.store import ChainStore

log = logging.getLogger("agora.blocksync")
SYNC_CHANNEL: Final = "blocksync"
MAX_RANGE: Final = 64
"""Most blocks asked for or sent in one message."""
MAX_RESPONSE_BYTES: Final = 8 * 1024 * 1024
MAX_SYNC_MESSAGE: Final = MAX_RESPONSE_BYTES + 1024 * 1024
STATUS_SECONDS: Final = 1.0
REQUEST_TIMEOUT: Final = 10.0
"""Seconds a ``get`` may stay unanswered before the peer is distrusted and another asked."""
DISTRUST_SECONDS: Final = 30.0
"""How long a peer that did not deliver the height it announced is neither asked nor believed."""
MAX_DISTRUSTED: Final = 1024
PROGRESS_LOG_SECONDS: Final = 2.0


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """What block sync reports to the status API."""

    syncing: bool
    """True while some peer is ahead of this node."""
    target_height: int
    """The highest height announced by a peer that can be asked for it (not distrusted), or ours."""
    blocks_per_second: float
    """Rate of the last sync window (0 when idle)."""

    def remaining(self, height: int) -> int:
        """Blocks still to fetch from ``height``."""
        return max(0, self.target_height - height)


def _status(height: int) -> bytes:
    return encode(["status", height])


_BLOCKS_KIND: Final = encode("blocks")


def blocks_message(pairs: Sequence[tuple[bytes, bytes]]) -> bytes:
    """``encode(["blocks", [[block_bytes, commit], ...]])`` from stored bytes, without re-encoding.

    Each pair is a block's stored encoding and its certificate's stored encoding (the
    canonical ``encode(commit.to_wire())``); msgpack concatenates, so the result is byte
    for byte what encoding the decoded values would give.
    """
    packer = msgpack.Packer(use_bin_type=True)
    parts = [packer.pack_array_header(2), _BLOCKS_KIND, packer.pack_array_header(len(pairs))]
    for raw, commit in pairs:
        parts.append(packer.pack_array_header(2))
        parts.append(packer.pack(raw))
        parts.append(commit)
    return b"".join(parts)


class BlockSync:
    """Implements p2p's Reactor for block sync, and runs the catch-up loop."""

    def __init__(
        self,
        network: Network,
        store: ChainStore,
        driver: ConsensusDriver,
        registry: KindRegistry,
        request_timeout: float = REQUEST_TIMEOUT,
        distrust_seconds: float = DISTRUST_SECONDS,
    ) -> None:
        self.network = network
        self.store = store
        self.driver = driver
        self.registry = registry
        self.request_timeout = request_timeout
        self.distrust_seconds = distrust_seconds
        self._peer_heights: dict[bytes, int] = {}
        """Height each peer last announced (a claim, believed only as described above)."""
        self._linked: set[bytes] = set()
        """Peers we hold an outbound link to (between peer_connected and peer_disconnected)."""
        self._distrusted: dict[bytes, float] = {}
        """Peers that failed to deliver (timeout, empty answer, full queue), until when."""
        self._inflight: tuple[bytes, int, float] | None = None
        """(peer, first height asked, when) of the outstanding request (until its answer is queued)."""
        self._fetched_to = 0
        """Last height of the range being applied: the next request starts after it."""
        self._responses: asyncio.Queue[tuple[bytes, int, list[Primitive]]] = asyncio.Queue(maxsize=4)
        """Answers with the first height their request asked for."""
        self._rate = 0.0
        self._window: tuple[float, int] = (time.monotonic(), store.height)

    @property
    def channels(self) -> Sequence[ChannelSpec]:
        """Request/response channel: no dedup (identical status messages are legitimate)."""
        return (
            ChannelSpec(SYNC_CHANNEL, priority=2, max_message_bytes=MAX_SYNC_MESSAGE, dedup=False, queue_capacity=64),
        )

    def status(self) -> SyncStatus:
        """Current sync state; only heights that could be asked for count (see the module doc)."""
        now = time.monotonic()
        target = max((h for p, h in self._peer_heights.items() if self._believable(p, now)), default=0)
        syncing = target > self.store.height
        return SyncStatus(syncing, max(target, self.store.height), self._rate if syncing else 0.0)

    def announce(self) -> None:
        """Tell every peer our height (after a commit, and periodically)."""
        self.network.broadcast(SYNC_CHANNEL, _status(self.store.height))

    # --- receiving -------------------------------------------------------------------

    async def receive(self, peer_id: bytes, channel: str, payload: bytes) -> None:
        """Handle status, get and blocks messages; malformed ones score the peer down."""
        try:
            message = as_list(decode(payload, MAX_SYNC_MESSAGE), "sync message", max_len=3)
            if not message:
                raise DecodeError("empty sync message")
            kind = as_str(message[0], "sync message kind", max_len=16)
            if kind == "status" and len(message) == 2:
                self._peer_heights[peer_id] = as_int(message[1], "height", 0, U64_MAX)
            elif kind == "get" and len(message) == 3:
                first = as_int(message[1], "from", 1, U64_MAX)
                count = as_int(message[2], "count", 1, MAX_RANGE)
                self._serve(peer_id, first, count)
            elif kind == "blocks" and len(message) == 2:
                items = as_list(message[1], "blocks", max_len=MAX_RANGE)
                inflight = self._inflight
                if inflight is None or inflight[0] != peer_id:
                    return  # unsolicited or late: ignore
                with contextlib.suppress(asyncio.QueueFull):
                    self._responses.put_nowait((peer_id, inflight[1], items))
                self._inflight = None  # answered: its time no longer runs
            else:
                raise DecodeError(f"unknown sync message {kind!r}")
        except DecodeError as exc:
            self.network.report(peer_id, Severity.MAJOR, f"bad sync message: {exc}")

    def _serve(self, peer_id: bytes, first: int, count: int) -> None:
        out: list[tuple[bytes, bytes]] = []
        size = 0
        for height in range(first, min(first + count, self.store.height + 1)):
            raw = self.store.block_bytes(height)
            commit = self.store.commit_bytes(height)
            if raw is None or commit is None:
                break
            if out and size + len(raw) > MAX_RESPONSE_BYTES:
                break
            size += len(raw)
            out.append((raw, commit))
        self.network.send(peer_id, SYNC_CHANNEL, blocks_message(out))

    def peer_connected(self, peer: PeerInfo) -> None:
        """Tell a new peer our height; from now on its announced height may be asked for."""
        self._linked.add(peer.node_id)
        self.network.send(peer.node_id, SYNC_CHANNEL, _status(self.store.height))

    def peer_disconnected(self, peer_id: bytes) -> None:
        """Forget its height and link; a request in flight to it is abandoned."""
        self._peer_heights.pop(peer_id, None)
        self._linked.discard(peer_id)
        self._distrusted.pop(peer_id, None)
        if self._inflight is not None and self._inflight[0] == peer_id:
            self._inflight = None

    # --- the catch-up loop -------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Announce our height, request missing ranges and apply answers until ``stop``."""
        last_status = 0.0
        while not stop.is_set():
            now = time.monotonic()
            if now - last_status >= STATUS_SECONDS:
                self.announce()
                last_status = now
            self._maybe_request(now)
            try:
                async with asyncio.timeout(0.2):
                    peer_id, first, items = await self._responses.get()
            except TimeoutError:
                continue
            try:
                await self._apply(peer_id, first, items, stop)
            finally:
                self._fetched_to = 0

    def _believable(self, peer: bytes, now: float) -> bool:
        """True iff ``peer`` can be asked for its height: we hold a link to it and it is not distrusted."""
        if peer not in self._linked:
            return False
        until = self._distrusted.get(peer)
        if until is None:
            return True
        if now < until:
            return False
        del self._distrusted[peer]
        return True

    def _distrust(self, peer: bytes, now: float) -> None:
        """Drop ``peer``'s claim and neither ask nor believe it for ``distrust_seconds``."""
        self._peer_heights[peer] = min(self._peer_heights.get(peer, 0), self.store.height)
        self._distrusted[peer] = now + self.distrust_seconds
        if len(self._distrusted) > MAX_DISTRUSTED:  # bounded: drop the entry that expires first
            del self._distrusted[min(self._distrusted, key=self._distrusted.__getitem__)]

    def _maybe_request(self, now: float) -> None:
        """Ask the highest believable peer ahead of us for the next range, unless a request is out.

        The next range starts after the stored head, or after the range being applied;
        nothing is asked while an answer waits in the queue.
        """
        if not self._responses.empty():
            return
        height = max(self.store.height, self._fetched_to)
        if self._inflight is not None:
            peer, first, since = self._inflight
            if first <= height or now - since > self.request_timeout:
                if first > height:
                    self.network.report(peer, Severity.MINOR, "block sync request timed out")
                    self._distrust(peer, now)
                self._inflight = None
            else:
                return
        ahead = sorted(
            ((h, p) for p, h in self._peer_heights.items() if h > height and self._believable(p, now)),
            reverse=True,
        )
        for target, peer in ahead:
            count = min(MAX_RANGE, target - height)
            if self.network.send(peer, SYNC_CHANNEL, encode(["get", height + 1, count])):
                self._inflight = (peer, height + 1, now)
                return
            self._distrust(peer, now)  # its queue is full (or the link just went): ask the next one

    async def _deliver(self, block: Block, commit: Commit, stop: asyncio.Event) -> bool | None:
        """Hand one block to the driver; None if ``stop`` was set first (the driver may be gone)."""
        if stop.is_set():
            return None
        delivery = asyncio.ensure_future(self.driver.deliver_certificate(block, commit))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({delivery, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if not delivery.done():
            delivery.cancel()  # the driver finishes or drops the block itself; nothing waits on it
            with contextlib.suppress(asyncio.CancelledError):
                await delivery
            return None
        return delivery.result()

    async def _apply(self, peer_id: bytes, first: int, items: list[Primitive], stop: asyncio.Event) -> None:
        """Apply an answer in order, asking for the next range first and verifying one block ahead.

        ``first`` is the height the request asked from: an answer to a request made ahead
        of a range that did not apply completely is dropped unread. Otherwise each block
        goes to the driver exactly as before; the first one that is undecodable, out of
        order or invalid ends the answer there (what came before it stays applied) and
        the peer is reported as before.
        """
        if first > self.store.height + 1:
            return
        if items and first + len(items) - 1 > self.store.height:
            # the next range travels while this one executes (dropped unread if this one fails)
            self._fetched_to = first + len(items) - 1
            self._maybe_request(time.monotonic())
        blocks: list[tuple[Block, Commit]] = []
        checking: tuple[int, asyncio.Future[list[bool]]] | None = None
        """(index of the block, its signature verdicts in the making)."""
        undecodable: str | None = None
        for item in items:
            try:
                pair = as_list(item, "synced block", length=2)
                block = decode_block(as_bytes(pair[0], "block", max_len=MAX_RESPONSE_BYTES), self.registry)
                commit = Commit.from_wire(pair[1])
            except (DecodeError, ValueError) as exc:
                undecodable = f"undecodable synced block: {exc}"
                break
            if not blocks:  # the pool verifies the first block while the others are decoded
                checking = (0, asyncio.ensure_future(verify_async(block.txs)))
            blocks.append((block, commit))
        ahead = self.driver.executor.verified_ahead
        try:
            for index, (block, commit) in enumerate(blocks):
                if block.height <= self.store.height:
                    continue  # consensus committed it meanwhile
                if block.height != self.store.height + 1:
                    self.network.report(peer_id, Severity.MAJOR, "synced blocks out of order")
                    return
                if checking is None or checking[0] != index:
                    await _cancel(checking)
                    checking = (index, asyncio.ensure_future(verify_async(block.txs)))
                verdicts = await checking[1]
                checking = None
                if index + 1 < len(blocks):  # block N+1's signatures, on the pool, while block N executes
                    checking = (index + 1, asyncio.ensure_future(verify_async(blocks[index + 1][0].txs)))
                verified = [tx.hash for tx, ok in zip(block.txs, verdicts, strict=True) if ok]
                ahead.update(verified)
                try:
                    delivered = await self._deliver(block, commit, stop)
                except InvalidBlock as exc:
                    delivered = False
                    log.warning("synced block %d is invalid: %s", block.height, exc.message)
                finally:
                    ahead.difference_update(verified)
                if delivered is None:
                    return  # shutting down
                if not delivered:
                    if self.store.height < block.height:
                        reason = f"block {block.height} without a valid certificate"
                        self.network.report(peer_id, Severity.FATAL, reason)
                    return
        finally:
            await _cancel(checking)
        if undecodable is not None:
            self.network.report(peer_id, Severity.MAJOR, undecodable)
            return
        if not items and self._peer_heights.get(peer_id, 0) > self.store.height:
            self.network.report(peer_id, Severity.MINOR, "announced a height it does not serve")
            self._distrust(peer_id, time.monotonic())
        self._progress()

    def _progress(self) -> None:
        now = time.monotonic()
        start, start_height = self._window
        if now - start >= PROGRESS_LOG_SECONDS:
            self._rate = (self.store.height - start_height) / (now - start)
            self._window = (now, self.store.height)
            status = self.status()
            if status.syncing:
                log.info(
                    "syncing: height %d of %d, %.1f blocks/s, %d remaining",
                    self.store.height,
                    status.target_height,
                    self._rate,
                    status.remaining(self.store.height),
                )


async def _cancel(checking: tuple[int, asyncio.Future[list[bool]]] | None) -> None:
    """Abandon a verification made ahead that will not be used."""
    if checking is not None:
        checking[1].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await checking[1]
