"""The light client against a real 4-validator testnet whose validator set changes twice.

One validator is voted out, then a new one is voted in. The light client, trusting only the
genesis, verifies every header sequentially across both changes, reaches the head by
skipping, and ``agora verify`` proves a balance and a transaction with two witnesses.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from net_kit import LocalNet, heights, wait_until

from chain.address import encode_address
from chain.encoding import sha256
from chain.genesis import genesis_from_json
from chain.keys import PrivateKey
from chain.light_client import LightBlock, TrustedState, verify_adjacent, verify_to
from chain.transfer import Transfer
from chain.tx import sign_transaction
from chain.validator_update import ValidatorUpdate
from node.client import NodeClient

pytestmark = __import__("pytest").mark.timeout(300)
REPO = Path(__file__).resolve().parents[2]
NEWCOMER = PrivateKey(sha256(b"light-net-newcomer"))


async def _vote(
    client: NodeClient, chain_id: str, voters: list[PrivateKey], nonce: int, update: ValidatorUpdate
) -> int:
    votes = [sign_transaction(key, chain_id, nonce, 10, update) for key in voters]
    for vote in votes:
        await client.submit_tx(vote.raw)
    receipts = [await client.wait_for_tx(vote.hash.hex(), 30) for vote in votes]
    assert all(r["receipt"]["code"] == "ok" for r in receipts), receipts
    return max(int(r["height"]) for r in receipts)


async def _light_block(client: NodeClient, height: int) -> LightBlock:
    return LightBlock.decode(bytes.fromhex((await client.light_block(height))["light_block"]))


async def _agora(home: Path, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        "--home",
        str(home),
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 90)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_the_light_client_follows_two_validator_set_changes_on_a_live_testnet(tmp_path: Path) -> None:
    with LocalNet(tmp_path / "net", 4) as net:
        net.start()
        chain_id = net.testnet.chain_id
        names = ["v0", "v1", "v2", "v3"]
        keys = {name: net.validator_key(name) for name in names}
        merchant = net.wallet("merchant")
        voters = [keys["v0"], keys["v1"], keys["v2"]]
        async with NodeClient(net.url("v1")) as client:
            await client.wait_ready(30)
            for nonce, key in enumerate(voters):
                tx = sign_transaction(merchant, chain_id, nonce, 10, Transfer(key.public_key, 1_000_000))
                await client.submit_tx(tx.raw)
            await client.wait_for_tx(tx.hash.hex(), 30)
            removed_at = await _vote(client, chain_id, voters, 0, ValidatorUpdate(keys["v3"].public_key, 0))
            await wait_until(lambda: _at_least(net, names, removed_at + 3), 60, "blocks after the removal", net)
            added_at = await _vote(client, chain_id, voters, 1, ValidatorUpdate(NEWCOMER.public_key, 1))
            payment = sign_transaction(merchant, chain_id, 3, 10, Transfer(NEWCOMER.public_key, 12_345))
            await client.submit_tx(payment.raw)
            paid = await client.wait_for_tx(payment.hash.hex(), 30)
        await wait_until(lambda: _at_least(net, names[:3], added_at + 5), 60, "blocks after the addition", net)

        genesis_path = net.testnet.node("v0").datadir / "genesis.json"
        genesis = genesis_from_json(json.loads(genesis_path.read_text()))
        async with NodeClient(net.url("v0")) as client:
            head = (await client.status())["height"]
            blocks = {h: await _light_block(client, h) for h in range(1, head + 1)}
        # Sequentially, every header verifies from the genesis, across both changes.
        trusted = TrustedState.from_genesis(genesis)
        seen_sets = [trusted.next_validators.hash()]
        for h in range(1, head + 1):
            trusted = verify_adjacent(trusted, blocks[h])
            if blocks[h].header.validators_hash != seen_sets[-1]:
                seen_sets.append(blocks[h].header.validators_hash)
        assert len(seen_sets) == 3, "the certifying set must have changed exactly twice"
        assert blocks[removed_at + 2].header.validators_hash != blocks[removed_at + 1].header.validators_hash
        assert keys["v3"].public_key not in blocks[head].validators
        assert NEWCOMER.public_key in blocks[head].validators
        # Skipping: from the genesis straight to the head (3 of the 4 trusted validators still sign).
        steps = verify_to(TrustedState.from_genesis(genesis), head)
        asked = [next(steps)]
        try:
            while True:
                asked.append(steps.send(blocks[asked[-1]]))
        except StopIteration as done:
            assert done.value[-1].header.hash == blocks[head].header.hash
        assert len(asked) <= 3, asked

        home = tmp_path / "verifier"
        witnesses = ["--witness", net.url("v1"), "--witness", net.url("v2")]
        address = encode_address(NEWCOMER.public_key)
        code, out = await _agora(
            home,
            "verify",
            "balance",
            address,
            "--node",
            net.url("v0"),
            *witnesses,
            "--genesis",
            str(genesis_path),
            "--json",
        )
        assert code == 0, out
        answer = json.loads(out)
        assert answer["balance"] == 12_345 and sorted(answer["witnesses"]) == sorted([net.url("v1"), net.url("v2")])
        code, out = await _agora(home, "verify", "tx", paid["hash"], "--node", net.url("v3"), *witnesses, "--json")
        assert code == 0, out
        assert json.loads(out)["receipt"]["code"] == "ok"


async def _at_least(net: LocalNet, names: list[str], h: int) -> bool:
    return all(v >= h for v in (await heights(net, names)).values())
