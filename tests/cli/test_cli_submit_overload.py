"""The CLI's submit path against a real node at capacity: it honours Retry-After and resubmits.

The node (real LevelDB, real aiohttp on port 0) runs with a key outside the validator set,
so it never commits: its mempool stays full until the test frees a slot, which makes the
sequence deterministic without timing anything.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from chain.encoding import sha256
from chain.keys import PrivateKey
from chain.transfer import Transfer
from chain.tx import sign_transaction
from cli.errors import CliError
from cli.submit import submit_body
from node.client import NodeClient
from node.datadir import dev_genesis, init_datadir, open_datadir
from node.service import Node

CHAIN = "submit-overload"


async def _rejections(url: str) -> float:
    """How many POST /api/v1/txs the node has answered with 429."""
    async with aiohttp.ClientSession() as http, http.get(url + "/metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith('agora_api_requests_total{method="POST",route="/api/v1/txs",status="429"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_submit_waits_out_429s_and_resubmits_the_same_transaction(tmp_path: Path) -> None:
    validator = PrivateKey(sha256(b"so-validator"))
    follower_key = PrivateKey(sha256(b"so-follower"))
    alice, carol = PrivateKey(sha256(b"so-alice")), PrivateKey(sha256(b"so-carol"))
    balances = {alice.public_key: 10**9, carol.public_key: 10**9}
    genesis = dev_genesis(CHAIN, [validator.public_key], balances, time_ms=1)
    settings: dict[str, object] = {"api_port": 0, "mempool_max_txs": 2, "heartbeat_interval_ms": 3_600_000}
    init_datadir(tmp_path / "node", genesis, follower_key, "pw", settings)
    node = Node(open_datadir(tmp_path / "node"), follower_key)
    url = await node.start()
    try:
        services = node.services
        assert services is not None
        fillers = [sign_transaction(carol, CHAIN, n, 10, Transfer(alice.public_key, 1)) for n in range(2)]
        async with NodeClient(url) as client:
            for tx in fillers:
                await client.submit_tx(tx.raw)
            notes: list[str] = []
            submit = asyncio.create_task(
                submit_body(
                    client,
                    alice,
                    Transfer(carol.public_key, 5),
                    None,
                    wait=False,
                    commit_timeout=60,
                    notify=notes.append,
                )
            )
            deadline = asyncio.get_running_loop().time() + 30
            while await _rejections(url) < 1:  # the node has refused it at least once
                assert not submit.done(), submit.result()
                assert asyncio.get_running_loop().time() < deadline, "the node never refused"
                await asyncio.sleep(0.02)
            assert services.mempool.remove(fillers[1].hash)  # a slot frees up
            record = await asyncio.wait_for(submit, 30)
            assert record["status"] == "pending"
            assert bytes.fromhex(record["hash"]) in services.mempool
            assert any("at capacity (mempool_full)" in n and record["hash"] in n for n in notes), notes
            # a node that stays full: the CLI gives up with a clear message once its time is up
            with pytest.raises(CliError, match="at capacity"):
                await submit_body(client, alice, Transfer(carol.public_key, 6), None, wait=False, commit_timeout=0.5)
    finally:
        await node.stop()
