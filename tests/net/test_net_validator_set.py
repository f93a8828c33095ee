"""A validator-set change voted on chain by the validators takes effect on a live testnet."""

from __future__ import annotations

from pathlib import Path

from net_kit import LocalNet, assert_same_chain, heights, wait_until

from chain.address import encode_address
from chain.transfer import Transfer
from chain.tx import sign_transaction
from chain.validator_update import ValidatorUpdate
from node.client import NodeClient

pytestmark = __import__("pytest").mark.timeout(240)
VALIDATORS = ["v0", "v1", "v2", "v3"]


async def test_removing_a_validator_by_a_two_thirds_vote_takes_effect_and_the_chain_goes_on(tmp_path: Path) -> None:
    with LocalNet(tmp_path / "net", 4) as net:
        net.start()
        chain_id = net.testnet.chain_id
        async with NodeClient(net.url("v0")) as client:
            await client.wait_ready(30)
        keys = {name: net.validator_key(name) for name in VALIDATORS}
        merchant = net.wallet("merchant")
        # Validators pay fees too: fund v0..v2, then each votes to remove v3.
        async with NodeClient(net.url("v1")) as client:
            for nonce, name in enumerate(["v0", "v1", "v2"]):
                tx = sign_transaction(merchant, chain_id, nonce, 10, Transfer(keys[name].public_key, 1_000_000))
                await client.submit_tx(tx.raw)
            await client.wait_for_tx(tx.hash.hex(), 30)
            votes = [
                sign_transaction(keys[name], chain_id, 0, 10, ValidatorUpdate(keys["v3"].public_key, 0))
                for name in ["v0", "v1", "v2"]
            ]
            for vote in votes:
                await client.submit_tx(vote.raw)
            receipts = [await client.wait_for_tx(vote.hash.hex(), 30) for vote in votes]
            assert all(r["receipt"]["code"] == "ok" for r in receipts), receipts
            decided_at = max(r["height"] for r in receipts)
        v3 = encode_address(keys["v3"].public_key)
        await wait_until(lambda: _all_at_least(net, VALIDATORS, decided_at + 6), 60, "blocks after the change", net)
        async with NodeClient(net.url("v0")) as client:
            old_set = (await client.block(decided_at))["validators_hash"]
            new_set = (await client.block(decided_at + 2))["validators_hash"]
            assert new_set != old_set, "the validator set did not change at h+2"
            # From the first block the new set certifies, v3's precommits are no longer in any certificate.
            for h in range(decided_at + 3, decided_at + 7):
                signers = (await client.block(h))["last_commit"]["signers"]
                assert v3 not in signers, f"v3 still signs the certificate in block {h}"
        top = min((await heights(net, VALIDATORS)).values())
        await assert_same_chain(net, VALIDATORS, top)


async def _all_at_least(net: LocalNet, names: list[str], h: int) -> bool:
    return all(v >= h for v in (await heights(net, names)).values())
