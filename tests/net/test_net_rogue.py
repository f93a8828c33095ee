"""A rogue peer (an in-process p2p switch) against a real 4-validator testnet of processes.

It sends garbage, votes that do not verify, a block without a valid certificate, and a
validator's double vote. The honest nodes must score it down and ban it, record the double
vote as evidence in a block, and keep committing identical blocks throughout.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

import aiohttp
from net_kit import LocalNet, assert_same_chain, heights, wait_until

from chain.address import encode_address
from chain.block import Block, Header, commit_hash
from chain.encoding import as_int, as_list, decode, encode
from chain.keys import PrivateKey
from chain.merkle import EMPTY_ROOT
from chain.transfer import Transfer
from chain.tx import sign_transaction
from chain.votes import NIL, Commit, CommitSig, Vote, VoteType
from consensus.messages import encode_message
from node.client import NodeClient
from p2p import ChannelSpec, P2PConfig, PeerInfo, Switch, serve_p2p

pytestmark = __import__("pytest").mark.timeout(240)
HONEST = ["v0", "v1", "v2"]


class RogueReactor:
    """Answers block-sync requests with a forged block; records nothing else."""

    def __init__(self, chain_id: str, key: PrivateKey) -> None:
        self.chain_id = chain_id
        self.key = key
        self.switch: Switch | None = None
        self.forged_sent = 0

    @property
    def channels(self) -> Sequence[ChannelSpec]:
        return (
            ChannelSpec("consensus", dedup=False, max_message_bytes=9 * 1024 * 1024),
            ChannelSpec("blocksync", dedup=False, max_message_bytes=9 * 1024 * 1024),
            ChannelSpec("mempool.txs"),
            ChannelSpec("consensus.evidence"),
        )

    async def receive(self, peer_id: bytes, channel: str, payload: bytes) -> None:
        if channel != "blocksync" or self.switch is None:
            return
        message = as_list(decode(payload), "sync")
        if message[0] == "get":
            height = as_int(message[1], "from")
            self.switch.send(peer_id, "blocksync", encode(["blocks", [self.forged(height)]]))
            self.forged_sent += 1

    def forged(self, height: int) -> list[object]:
        """A well-formed block at ``height`` whose certificate is signed by a non-validator."""
        parent_commit = Commit(height - 1, 0, os.urandom(32), (CommitSig(self.key.public_key, bytes(64)),))
        header = Header(
            self.chain_id,
            height,
            2**40,
            os.urandom(32),
            EMPTY_ROOT,
            os.urandom(32),
            os.urandom(32),
            self.key.public_key,
            os.urandom(32),
            os.urandom(32),
            commit_hash(parent_commit),
            EMPTY_ROOT,
        )
        block = Block(header, (), parent_commit)
        vote = Vote.create(self.key, self.chain_id, VoteType.PRECOMMIT, height, 0, block.hash)
        return [block.encode(), Commit.from_votes([vote]).to_wire()]

    def peer_connected(self, peer: PeerInfo) -> None:
        pass

    def peer_disconnected(self, peer_id: bytes) -> None:
        pass


async def _metric(url: str, name: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        text = await response.text()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def _start_rogue(net: LocalNet, reactor: RogueReactor) -> tuple[Switch, object, bytes]:
    v0 = net.testnet.node("v0")
    genesis_hash = bytes.fromhex((await _status(net.url("v0")))["genesis_hash"])
    switch = Switch(
        PrivateKey.generate(),
        net.testnet.chain_id,
        genesis_hash,
        P2PConfig(seeds=(v0.p2p_url,), max_request_bytes=12 * 1024 * 1024),
    )
    reactor.switch = switch
    switch.add_reactor(reactor)
    server = await serve_p2p(switch, "127.0.0.1", 0)
    await switch.start(server.url)

    async def connected() -> bool:
        return any(p.outbound for p in switch.peers())

    await wait_until(connected, 30, "the rogue to connect to v0", net)
    v0_id = next(p.node_id for p in switch.peers() if p.url == v0.p2p_url)
    return switch, server, v0_id


async def _status(url: str) -> dict[str, object]:
    async with NodeClient(url) as client:
        return await client.status()


async def test_garbage_bad_votes_and_uncertified_blocks_get_the_peer_banned_and_change_nothing(tmp_path: Path) -> None:
    with LocalNet(tmp_path / "net", 4, heartbeat_ms=3000) as net:
        net.start()
        await wait_until(lambda: _at_least(net, ["v0", "v1", "v2", "v3"], 1), 60, "the chain to start", net)
        reactor = RogueReactor(net.testnet.chain_id, PrivateKey.generate())
        switch, server, v0 = await _start_rogue(net, reactor)
        try:
            height = (await heights(net, ["v0"]))["v0"]
            stranger = PrivateKey.generate()
            switch.send(v0, "consensus", b"\xc1 not msgpack")
            bad = Vote.create(stranger, net.testnet.chain_id, VoteType.PREVOTE, height + 1, 0, NIL)
            switch.send(v0, "consensus", encode_message(bad))
            switch.send(v0, "blocksync", encode(["status", height + 1000]))
            await wait_until(lambda: _banned(net.url("v0")), 30, "v0 to ban the rogue after its forged block", net)
            assert reactor.forged_sent >= 1
            assert await _metric(net.url("v0"), 'agora_consensus_messages_total{kind="prevote",verdict="rejected"}')
            # The honest chain carries on, identical everywhere, and never took the forged block.
            merchant, shopper = net.wallet("merchant"), net.wallet("shopper")
            tx = sign_transaction(merchant, net.testnet.chain_id, 0, 10, Transfer(shopper.public_key, 5))
            async with NodeClient(net.url("v1")) as client:
                await client.submit_tx(tx.raw)
                await client.wait_for_tx(tx.hash.hex(), 30)
            # committed on v1; every node holds that block soon after, not at once
            everyone = ["v0", "v1", "v2", "v3"]
            await wait_until(lambda: _at_least(net, everyone, height + 1), 30, "every node past the rogue", net)
            top = min((await heights(net, ["v0", "v1", "v2", "v3"])).values())
            assert top > height
            await assert_same_chain(net, ["v0", "v1", "v2", "v3"], top)
        finally:
            await switch.stop()
            await server.close()  # type: ignore[attr-defined]


async def _banned(url: str) -> bool:
    return await _metric(url, "agora_p2p_bans_total") >= 1


async def _at_least(net: LocalNet, names: list[str], h: int) -> bool:
    return all(v >= h for v in (await heights(net, names)).values())


async def test_a_double_vote_is_recorded_as_evidence_in_a_block(tmp_path: Path) -> None:
    with LocalNet(tmp_path / "net", 4, heartbeat_ms=3000) as net:
        net.start(*HONEST)  # v3's key signs the double votes; three honest validators are a quorum
        await wait_until(lambda: _at_least(net, HONEST, 1), 60, "the chain to start", net)
        v3 = net.validator_key("v3")
        reactor = RogueReactor(net.testnet.chain_id, PrivateKey.generate())
        switch, server, v0 = await _start_rogue(net, reactor)
        merchant, shopper = net.wallet("merchant"), net.wallet("shopper")
        try:
            for nonce in range(10):
                height = (await heights(net, ["v0"]))["v0"] + 1
                for target in (os.urandom(32), os.urandom(32)):
                    vote = Vote.create(v3, net.testnet.chain_id, VoteType.PREVOTE, height, 0, target)
                    switch.send(v0, "consensus", encode_message(vote))
                await asyncio.sleep(0.3)  # let v0 take both votes before a block moves the height on
                tx = sign_transaction(merchant, net.testnet.chain_id, nonce, 10, Transfer(shopper.public_key, 1))
                async with NodeClient(net.url("v0")) as client:
                    await client.submit_tx(tx.raw)
                    await client.wait_for_tx(tx.hash.hex(), 30)
                if await _evidence_blocks(net.url("v1"), encode_address(v3.public_key)):
                    break
            found = await _evidence_blocks(net.url("v1"), encode_address(v3.public_key))
            assert found, "no block records v3's double vote"
            top = min((await heights(net, HONEST)).values())
            await assert_same_chain(net, HONEST, top)
        finally:
            await switch.stop()
            await server.close()  # type: ignore[attr-defined]


async def _evidence_blocks(url: str, validator: str) -> list[int]:
    async with NodeClient(url) as client:
        head = (await client.head())["height"]
        found = []
        for h in range(1, head + 1):
            block = await client.block(h)
            if any(e["validator"] == validator for e in block["evidence"]):
                found.append(h)
        return found
