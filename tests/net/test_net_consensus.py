"""Issue 4's network tests: real node processes on loopback running BFT consensus over HTTP."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from net_kit import LocalNet, assert_same_chain, heights, status, wait_until

from chain.address import encode_address
from chain.transfer import Transfer
from chain.tx import sign_transaction
from node.client import NodeClient

pytestmark = __import__("pytest").mark.timeout(240)
VALIDATORS = ["v0", "v1", "v2", "v3"]


async def _all_at_least(net: LocalNet, names: list[str], h: int) -> bool:
    return all(v >= h for v in (await heights(net, names)).values())


async def test_transactions_sent_to_different_nodes_commit_everywhere_with_identical_blocks(tmp_path: Path) -> None:
    with LocalNet(tmp_path / "net", 4, 1) as net:
        net.start()
        everyone = net.names
        await wait_until(lambda: _all_at_least(net, everyone, 2), 60, "every node to commit block 2", net)
        merchant, shopper = net.wallet("merchant"), net.wallet("shopper")
        chain_id = net.testnet.chain_id
        # Merchant's transfers go to validator v1, shopper's to the follower f0: they must gossip.
        sent = []
        for nonce in range(10):
            sent.append(
                ("v1", sign_transaction(merchant, chain_id, nonce, 10, Transfer(shopper.public_key, 1_000 + nonce)))
            )
            sent.append(("f0", sign_transaction(shopper, chain_id, nonce, 10, Transfer(merchant.public_key, 7))))
        for name, tx in sent:
            async with NodeClient(net.url(name)) as client:
                await client.submit_tx(tx.raw)

        async def all_committed_everywhere() -> bool:
            for name in everyone:
                async with NodeClient(net.url(name)) as client:
                    for _, tx in sent:
                        try:
                            record = await client.tx(tx.hash.hex())
                        except Exception:
                            return False
                        if record["status"] != "committed" or record["receipt"]["code"] != "ok":
                            return False
            return True

        await wait_until(all_committed_everywhere, 60, "all 20 transfers committed on all 5 nodes", net)
        top = min((await heights(net, everyone)).values())
        await assert_same_chain(net, everyone, top)
        balances = set()
        for name in everyone:
            async with NodeClient(net.url(name)) as client:
                balances.add((await client.account(encode_address(shopper.public_key)))["balances"]["AGR"])
        assert len(balances) == 1


async def test_a_killed_validator_restarts_catches_up_and_votes_again(tmp_path: Path) -> None:
    with LocalNet(tmp_path / "net", 4) as net:
        net.start()
        await wait_until(lambda: _all_at_least(net, VALIDATORS, 2), 60, "the chain to start", net)
        net.kill("v2", signal.SIGKILL)
        base = max((await heights(net, ["v0", "v1", "v3"])).values())
        await wait_until(
            lambda: _all_at_least(net, ["v0", "v1", "v3"], base + 5), 60, "three validators to keep committing", net
        )
        net.start("v2")
        target = max((await heights(net, ["v0", "v1", "v3"])).values())
        await wait_until(lambda: _all_at_least(net, ["v2"], target), 60, "v2 to catch up", net)
        v2 = encode_address(net.validator_key("v2").public_key)

        async def v2_signs_a_certificate() -> bool:
            async with NodeClient(net.url("v0")) as client:
                head = (await client.head())["height"]
                block = await client.block(head)
            return block["last_commit"] is not None and v2 in block["last_commit"]["signers"]

        await wait_until(v2_signs_a_certificate, 60, "a certificate signed by the restarted v2", net)
        top = min((await heights(net, VALIDATORS)).values())
        await assert_same_chain(net, VALIDATORS, top)


async def test_a_node_started_after_200_blocks_syncs_and_follows(tmp_path: Path) -> None:
    with LocalNet(tmp_path / "net", 4, 1, heartbeat_ms=20) as net:
        net.start(*VALIDATORS)
        await wait_until(lambda: _all_at_least(net, ["v0"], 200), 150, "200 blocks", net)
        net.start("f0")
        target = (await heights(net, ["v0"]))["v0"]
        await wait_until(lambda: _all_at_least(net, ["f0"], target), 90, f"f0 to sync to {target}", net)
        later = (await heights(net, ["v0"]))["v0"] + 10
        await wait_until(lambda: _all_at_least(net, ["f0"], later), 60, "f0 to follow live", net)
        await assert_same_chain(net, ["v0", "f0"], later)
        s = await status(net.url("f0"))
        assert s is not None and s["validator"] is False


async def test_no_block_without_a_two_thirds_quorum_and_the_chain_resumes(tmp_path: Path) -> None:
    with LocalNet(tmp_path / "net", 4) as net:
        net.start()
        await wait_until(lambda: _all_at_least(net, VALIDATORS, 3), 60, "the chain to start", net)
        net.kill("v2", signal.SIGTERM)
        net.kill("v3", signal.SIGTERM)
        await asyncio.sleep(0.5)  # let a block already precommitted by v2/v3 land; then measure
        stalled = await heights(net, ["v0", "v1"])
        for _ in range(40):  # 2 s of observation: nothing may commit
            await asyncio.sleep(0.05)
            assert await heights(net, ["v0", "v1"]) == stalled, "a minority committed a block"
        net.start("v3")
        resume = max(stalled.values()) + 2
        await wait_until(lambda: _all_at_least(net, ["v0", "v1", "v3"], resume), 60, "the chain to resume", net)
