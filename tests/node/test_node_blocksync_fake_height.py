"""Block sync of a real node that is behind, while a rogue peer announces a height it cannot serve.

Two real nodes (real LevelDB, real aiohttp servers on loopback) and a rogue p2p switch in
this process. Every await has a deadline and everything started is stopped in ``finally``,
each stop with its own deadline, so a regression fails with a message instead of hanging.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

import pytest

from chain.encoding import U64_MAX, encode, sha256
from chain.keys import PrivateKey
from node.datadir import dev_genesis, init_datadir, open_datadir
from node.service import Node
from p2p import ChannelSpec, P2PConfig, PeerInfo, Switch

pytestmark = pytest.mark.timeout(120)
CHAIN = "sync-test"
T = TypeVar("T")


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


async def _within(seconds: float, what: str, awaitable: Awaitable[T]) -> T:
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except TimeoutError:
        raise AssertionError(f"{what} took more than {seconds} s") from None


async def _until(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.02)


def _height(node: Node) -> int:
    return -1 if node.services is None else node.services.store.height


async def _stop_all(stoppers: list[tuple[str, Callable[[], Awaitable[None]]]]) -> None:
    """Stop each in order, each within 20 s; every one is tried, the first failure is raised."""
    failures = []
    for name, stop in stoppers:
        try:
            await _within(20, f"stopping {name}", stop())
        except BaseException as exc:  # keep stopping the others
            failures.append(exc)
    if failures:
        raise failures[0]


async def test_a_fake_height_from_a_peer_we_cannot_reach_does_not_stall_sync(tmp_path: Path) -> None:
    validator = PrivateKey(sha256(b"sync-validator"))
    genesis = dev_genesis(CHAIN, [validator.public_key], {validator.public_key: 10**9}, time_ms=1)
    fast = {"api_port": 0, "min_block_interval_ms": 10, "heartbeat_interval_ms": 20, "p2p_listen": "127.0.0.1:0"}
    init_datadir(tmp_path / "a", genesis, validator, "pw", fast)
    init_datadir(tmp_path / "b", genesis, None, "", {**fast, "heartbeat_interval_ms": 3_600_000})
    ahead = Node(open_datadir(tmp_path / "a"), validator)
    behind = Node(open_datadir(tmp_path / "b"), None)
    rogue_key = PrivateKey(random.Random(7).randbytes(32))
    rogue = Switch(
        rogue_key, CHAIN, genesis.hash, P2PConfig(dial_interval=0.05, ping_interval=0.5), rng=random.Random(7)
    )
    rogue.add_reactor(Silent())
    stoppers: list[tuple[str, Callable[[], Awaitable[None]]]] = []
    dead_end = socket.socket()  # bound, never listening: a dial to it is refused at once
    dead_end.bind(("127.0.0.1", 0))
    try:
        stoppers.append(("the node ahead", ahead.stop))
        await _within(20, "starting the node ahead", ahead.start())
        await _until(lambda: _height(ahead) >= 10, 20, "10 blocks on the node ahead")
        stoppers.insert(0, ("the node behind", behind.stop))
        await _within(20, "starting the node behind", behind.start())
        assert behind.switch is not None and behind.blocksync is not None
        sync = behind.blocksync
        # The rogue dials in and announces 2**64-1; its own listen URL cannot be reached back.
        stoppers.insert(0, ("the rogue", rogue.stop))
        await _within(10, "starting the rogue", rogue.start(f"http://127.0.0.1:{dead_end.getsockname()[1]}"))
        await _within(10, "the rogue's dial", rogue.dial(behind.p2p_url))
        assert rogue.send(behind.switch.node_id, "blocksync", encode(["status", U64_MAX]))
        await _until(lambda: rogue.idle() and rogue.peers()[0].outbound, 10, "the fake height to be sent")
        # Now the honest node that is ahead becomes reachable; the rogue keeps its session alive.
        await _within(10, "dialling the node ahead", behind.switch.dial(ahead.p2p_url))
        goal = _height(ahead)
        await _until(lambda: _height(behind) >= goal, 30, f"the node behind to sync to {goal}")
        assert rogue.peers() and rogue.peers()[0].outbound  # the rogue was still there all along
        # Its height was never believed, and it is not reported as the sync target.
        assert sync.status().target_height < U64_MAX
    finally:
        try:
            await _stop_all(stoppers)
        finally:
            dead_end.close()
