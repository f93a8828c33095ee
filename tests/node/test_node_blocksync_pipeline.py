"""Pipelined block sync still checks every block: a certified block with a bad signature is refused.

A real validator node (real LevelDB, real aiohttp servers on loopback) builds a short chain
of transfers and stops. A peer in this process (a p2p switch) then serves that chain to a
fresh follower in one answer, with one more block forged on top: one transaction's
signature broken, the roots those of executing it as if that signature were valid, and a
certificate signed by the validator's own key (the whole validator set). Only the signature
check can refuse it, and it is not the first block of the answer, so its signatures are the
ones verified ahead while the block before it executes. The follower must apply the blocks
before it, refuse it, ban the peer, and hold exactly the validator's chain up to there.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import pytest

from chain.encoding import as_int, as_list, decode, encode, sha256
from chain.execution import build_block
from chain.keys import PrivateKey
from chain.transfer import Transfer
from chain.tx import Transaction, decode_transaction, sign_transaction
from chain.votes import Commit, Vote, VoteType
from node.blocksync import blocks_message
from node.client import NodeClient
from node.datadir import dev_genesis, init_datadir, open_datadir
from node.service import DEFAULT_REGISTRY, Node
from p2p import ChannelSpec, P2PConfig, PeerInfo, Switch, serve_p2p
from storage.store import ChainStore

pytestmark = pytest.mark.timeout(120)
CHAIN = "sync-pipeline-test"


async def _until(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.02)


async def _within(seconds: float, what: str, awaitable: Awaitable[object]) -> None:
    try:
        await asyncio.wait_for(awaitable, seconds)
    except TimeoutError:
        raise AssertionError(f"{what} took more than {seconds} s") from None


class Server:
    """Serves a fixed chain on the block sync channel: every block from the one asked, in one answer."""

    def __init__(self, pairs: list[tuple[bytes, bytes]]) -> None:
        self.pairs = pairs
        self.switch: Switch | None = None
        self.answers: list[int] = []
        """The first height of each answer sent."""

    @property
    def channels(self) -> Sequence[ChannelSpec]:
        return (ChannelSpec("blocksync", dedup=False, max_message_bytes=1024 * 1024),)

    async def receive(self, peer_id: bytes, channel: str, payload: bytes) -> None:
        message = as_list(decode(payload), "sync")
        if message[0] == "get" and self.switch is not None:
            first = as_int(message[1], "from")
            items = [[raw, decode(commit)] for raw, commit in self.pairs[first - 1 :]]
            self.switch.send(peer_id, "blocksync", encode(["blocks", items]))
            self.answers.append(first)

    def peer_connected(self, peer: PeerInfo) -> None:
        if self.switch is not None:
            self.switch.send(peer.node_id, "blocksync", encode(["status", len(self.pairs)]))

    def peer_disconnected(self, peer_id: bytes) -> None:
        return None


def _forged_next(store: ChainStore, validator: PrivateKey, txs: list[Transaction]) -> tuple[bytes, bytes]:
    """The next block on ``store``'s head with ``txs``, executed as if every signature were valid.

    Its roots are those of that execution and it is certified by ``validator`` (the whole
    validator set), so only a signature check can tell it from an honest block.
    """
    head = store.head
    assert head.header is not None
    block, _, rejected = build_block(
        store.state,
        DEFAULT_REGISTRY,
        head.header,
        store.genesis.hash,
        CHAIN,
        head.header.time_ms + 1000,
        validator.public_key,
        txs,
        store.commit(head.height),
        (),
        verifier=lambda tx: True,
    )
    assert not rejected and len(block.txs) == len(txs)
    vote = Vote.create(validator, CHAIN, VoteType.PRECOMMIT, block.height, 0, block.hash)
    return block.encode(), encode(Commit.from_votes([vote]).to_wire())


def _unsigned(tx: Transaction) -> Transaction:
    """``tx`` with one bit of its signature flipped."""
    envelope = as_list(decode(tx.raw), "tx")
    signature = bytearray(envelope[6])
    signature[0] ^= 1
    envelope[6] = bytes(signature)
    return decode_transaction(encode(envelope), DEFAULT_REGISTRY)


async def test_a_certified_block_with_a_bad_signature_inside_a_range_is_refused(tmp_path: Path) -> None:
    validator = PrivateKey(sha256(b"pipeline-validator"))
    payer = PrivateKey(sha256(b"pipeline-payer"))
    genesis = dev_genesis(
        CHAIN, [validator.public_key], {validator.public_key: 10**9, payer.public_key: 10**12}, time_ms=1
    )
    fast = {"api_port": 0, "min_block_interval_ms": 10, "heartbeat_interval_ms": 3_600_000, "p2p_listen": "127.0.0.1:0"}
    init_datadir(tmp_path / "a", genesis, validator, "pw", fast)
    init_datadir(tmp_path / "b", genesis, None, "", fast)
    ahead = Node(open_datadir(tmp_path / "a"), validator)
    # Two blocks of transfers, each committed before the next is sent (no empty blocks: the
    # heartbeat is an hour); then a forged third block on top of them.
    url = await ahead.start()
    try:
        assert ahead.services is not None
        store = ahead.services.store
        async with NodeClient(url) as client:
            for batch in range(2):
                txs = [
                    sign_transaction(payer, CHAIN, 4 * batch + i, 10, Transfer(PrivateKey.generate().public_key, 5))
                    for i in range(4)
                ]
                for tx in txs:
                    await client.submit_tx(tx.raw)
                for tx in txs:
                    await client.wait_for_tx(tx.hash.hex(), 20)
        top = store.height
        pairs = []
        for height in range(1, top + 1):
            raw, commit = store.block_bytes(height), store.commit_bytes(height)
            assert raw is not None and commit is not None
            pairs.append((raw, commit))
        roots = {h: store.header(h).state_root for h in range(1, top + 1)}  # type: ignore[union-attr]
        more = [
            sign_transaction(payer, CHAIN, 8 + i, 10, Transfer(PrivateKey.generate().public_key, 5)) for i in range(4)
        ]
        pairs.append(_forged_next(store, validator, [more[0], _unsigned(more[1]), *more[2:]]))
    finally:
        await _within(20, "stopping the validator", ahead.stop())
    bad = len(pairs)  # the last block of the one answer: its signatures are verified ahead

    server = Server(pairs)
    rogue = Switch(PrivateKey(random.Random(5).randbytes(32)), CHAIN, genesis.hash, P2PConfig(), rng=random.Random(5))
    rogue.add_reactor(server)
    server.switch = rogue
    p2p_server = await serve_p2p(rogue, "127.0.0.1", 0)
    behind = Node(open_datadir(tmp_path / "b"), None)
    try:
        await rogue.start(p2p_server.url)
        await _within(20, "starting the follower", behind.start())
        assert behind.switch is not None and behind.services is not None
        await _within(10, "dialling the server", behind.switch.dial(p2p_server.url))
        await _until(lambda: behind.switch is not None and behind.switch.is_banned(rogue.node_id), 30, "the ban")
        follower = behind.services.store
        assert follower.height == bad - 1  # everything before the bad block, nothing of it
        assert server.answers and server.answers[0] == 1  # the bad block came inside the first answer
        for height in range(1, bad):
            assert follower.block_bytes(height) == pairs[height - 1][0]
            assert follower.header(height).state_root == roots[height]  # type: ignore[union-attr]
        assert follower.block_bytes(bad) is None
    finally:
        await _within(20, "stopping the follower", behind.stop())
        await rogue.stop()
        await p2p_server.close()


def test_a_range_framed_from_stored_bytes_equals_encoding_the_decoded_values() -> None:
    rng = random.Random(11)
    for count in (0, 1, 3, 17):
        pairs = [
            (rng.randbytes(rng.choice((0, 5, 300, 70_000))), encode([rng.randrange(2**40), 0, rng.randbytes(32), []]))
            for _ in range(count)
        ]
        framed = blocks_message(pairs)
        assert framed == encode(["blocks", [[raw, decode(commit)] for raw, commit in pairs]])
        assert decode(framed) == ["blocks", [[raw, decode(commit)] for raw, commit in pairs]]
