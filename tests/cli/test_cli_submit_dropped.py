"""The CLI's submit path against a real node that drops the transaction it waits for.

A real validator (real LevelDB, real aiohttp on port 0) with blocks at least 3 s apart and
expiry after one block: once the CLI's transaction is pending, the test advances the real
mempool's height (as a commit would), which expires it. The CLI must see ``dropped`` on
``GET /api/v1/txs/{hash}``, say so, send the same signed bytes again, and see it commit.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chain.encoding import sha256
from chain.keys import PrivateKey
from chain.transfer import Transfer
from chain.tx import sign_transaction
from cli.errors import CliError
from cli.submit import MAX_RESUBMITS, submit_body, submit_signed
from node.client import NodeClient
from node.datadir import dev_genesis, init_datadir, open_datadir
from node.service import Node

CHAIN = "submit-dropped"


async def _start(tmp_path: Path, settings: dict[str, object]) -> tuple[Node, str, PrivateKey, PrivateKey]:
    validator = PrivateKey(sha256(b"sd-validator"))
    alice, carol = PrivateKey(sha256(b"sd-alice")), PrivateKey(sha256(b"sd-carol"))
    balances = {alice.public_key: 10**9, carol.public_key: 10**9}
    genesis = dev_genesis(CHAIN, [validator.public_key], balances, time_ms=1)
    init_datadir(tmp_path / "node", genesis, validator, "pw", {"api_port": 0, **settings})
    node = Node(open_datadir(tmp_path / "node"), validator)
    return node, await node.start(), alice, carol


async def _until(condition: object, what: str, seconds: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():  # type: ignore[operator]
        assert loop.time() < deadline, what
        await asyncio.sleep(0.005)


async def test_a_dropped_transaction_is_sent_again_and_commits(tmp_path: Path) -> None:
    settings: dict[str, object] = {
        "min_block_interval_ms": 3000,
        "heartbeat_interval_ms": 3_600_000,
        "mempool_expiry_blocks": 1,
    }
    node, url, alice, carol = await _start(tmp_path, settings)
    try:
        services = node.services
        assert services is not None
        async with NodeClient(url) as client:
            await client.wait_ready(10)
            first = await submit_body(client, carol, Transfer(alice.public_key, 1), None, wait=True, commit_timeout=30)
            assert first["status"] == "committed"  # a block just came: the next is >= 3 s away
            fee = int((await client.status())["min_fee"])
            tx = sign_transaction(alice, CHAIN, 0, fee, Transfer(carol.public_key, 5))  # what the CLI will sign
            notes: list[str] = []
            waiting = asyncio.create_task(
                submit_body(
                    client,
                    alice,
                    Transfer(carol.public_key, 5),
                    None,
                    wait=True,
                    commit_timeout=30,
                    notify=notes.append,
                )
            )
            await _until(lambda: tx.hash in services.mempool, "the CLI never submitted")
            services.mempool.on_commit([], height=services.mempool.height + 1)  # one block later: expired
            assert services.mempool.dropped(tx.hash) is not None, "the block came first: machine too slow"
            record = await asyncio.wait_for(waiting, 30)
        assert record["status"] == "committed"
        assert record["hash"] == tx.hash.hex()
        assert record["receipt"]["code"] == "ok"
        assert any("dropped" in n and "expired" in n and "sending it again (1/" in n for n in notes), notes
    finally:
        await node.stop()


async def test_dropping_more_often_than_the_bound_gives_up_with_the_reason(tmp_path: Path) -> None:
    # A follower (its key is not a validator) never commits, so nothing races the drops.
    follower = PrivateKey(sha256(b"sd-follower"))
    validator = PrivateKey(sha256(b"sd-validator"))
    alice, carol = PrivateKey(sha256(b"sd-alice")), PrivateKey(sha256(b"sd-carol"))
    genesis = dev_genesis(CHAIN, [validator.public_key], {alice.public_key: 10**9}, time_ms=1)
    settings = {"api_port": 0, "heartbeat_interval_ms": 3_600_000, "mempool_expiry_blocks": 1}
    init_datadir(tmp_path / "node", genesis, follower, "pw", settings)
    node = Node(open_datadir(tmp_path / "node"), follower)
    url = await node.start()
    try:
        services = node.services
        assert services is not None
        tx = sign_transaction(alice, CHAIN, 0, 10, Transfer(carol.public_key, 5))
        notes: list[str] = []
        async with NodeClient(url) as client:
            waiting = asyncio.create_task(
                submit_signed(client, tx.raw, tx.hash.hex(), wait=True, commit_timeout=30, notify=notes.append)
            )
            for n in range(MAX_RESUBMITS + 1):
                await _until(lambda: tx.hash in services.mempool, f"send {n + 1} never arrived")
                services.mempool.on_commit([], height=services.mempool.height + 1)
            with pytest.raises(CliError, match=f"dropped {MAX_RESUBMITS + 1} times \\(expired"):
                await asyncio.wait_for(waiting, 30)
        assert sum("sending it again" in n for n in notes) == MAX_RESUBMITS
    finally:
        await node.stop()
