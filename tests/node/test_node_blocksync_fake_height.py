"""Block sync of a real node that is behind, while a rogue peer announces a height it cannot serve."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from chain.encoding import U64_MAX, encode, sha256
from chain.keys import PrivateKey
from node.datadir import dev_genesis, init_datadir, open_datadir
from node.service import Node
from p2p import ChannelSpec, P2PConfig, PeerInfo, Switch

CHAIN = "sync-test"


class Silent:
    """A reactor on the block sync channel that never answers."""

    @property
    def channels(self) -> Sequence[ChannelSpec]:
        return (ChannelSpec("blocksync", dedup=False, max_message_bytes=64 * 1024),)

    async def receive(self, peer_id: bytes, channel: str, payload: bytes) -> None:
        return None

    def peer_connected(self, peer: PeerInfo) -> None:
        return None

    def peer_disconnected(self, peer_id: bytes) -> None:
        return None


async def _until(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_a_fake_height_from_a_peer_we_cannot_reach_does_not_stall_sync(tmp_path: Path) -> None:
    validator = PrivateKey(sha256(b"sync-validator"))
    genesis = dev_genesis(CHAIN, [validator.public_key], {validator.public_key: 10**9}, time_ms=1)
    fast = {"api_port": 0, "min_block_interval_ms": 10, "heartbeat_interval_ms": 20, "p2p_listen": "127.0.0.1:0"}
    init_datadir(tmp_path / "a", genesis, validator, "pw", fast)
    init_datadir(tmp_path / "b", genesis, None, "", {**fast, "heartbeat_interval_ms": 3_600_000})
    ahead = Node(open_datadir(tmp_path / "a"), validator)
    behind = Node(open_datadir(tmp_path / "b"), None)
    rogue_key = PrivateKey(random.Random(7).randbytes(32))
    rogue = Switch(rogue_key, CHAIN, genesis.hash, P2PConfig(dial_interval=0.05), rng=random.Random(7))
    rogue.add_reactor(Silent())
    try:
        await ahead.start()
        assert ahead.services is not None and ahead.switch is not None
        await _until(lambda: ahead.services is not None and ahead.services.store.height >= 10, 20, "10 blocks on A")
        await behind.start()
        assert behind.services is not None and behind.switch is not None and behind.blocksync is not None
        sync = behind.blocksync
        # The rogue dials in and announces 2**64-1; its own listen URL cannot be reached back.
        await rogue.start("http://127.0.0.2:9")
        await rogue.dial(behind.p2p_url)
        assert rogue.send(behind.switch.node_id, "blocksync", encode(["status", U64_MAX]))
        await _until(lambda: sync.status().target_height == U64_MAX, 10, "the fake height to arrive")
        # Now the honest node that is ahead becomes reachable.
        await behind.switch.dial(ahead.p2p_url)
        goal = ahead.services.store.height
        await _until(lambda: behind.services is not None and behind.services.store.height >= goal, 20, "sync to A")
        assert sync.status().target_height < U64_MAX  # the undelivered height is no longer believed
    finally:
        await rogue.stop()
        await behind.stop()
        await ahead.stop()
