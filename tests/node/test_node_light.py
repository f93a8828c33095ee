"""``agora verify`` against real nodes and against nodes that lie.

The nodes are real (in-process aiohttp servers over real LevelDB); the CLI runs as a real
process; a lying node is a real HTTP server in front of a real node that alters exactly one
thing in its answers. Every lie must fail verification with its exact reason.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from chain.address import encode_address
from chain.encoding import sha256
from chain.keys import PrivateKey
from chain.light_client import LightBlock
from chain.transfer import Transfer
from chain.tx import sign_transaction
from node.client import NodeClient
from node.datadir import dev_genesis, init_datadir, open_datadir
from node.service import Node

REPO = Path(__file__).resolve().parents[2]
CHAIN = "light-node-test"
VALIDATOR = PrivateKey(sha256(b"light-node-validator"))
ALICE = PrivateKey(sha256(b"light-node-alice"))
BOB = PrivateKey(sha256(b"light-node-bob"))
CLI_TIMEOUT = 60.0

Rewrite = Callable[[str, Any], Any]
"""(path, decoded JSON answer) -> the answer to send instead."""


def _genesis() -> Any:
    return dev_genesis(CHAIN, [VALIDATOR.public_key], {ALICE.public_key: 10**9}, time_ms=1)


async def _start_node(datadir: Path, *, init: bool) -> tuple[Node, str]:
    if init:
        config = {"api_port": 0, "min_block_interval_ms": 10, "heartbeat_interval_ms": 50}
        init_datadir(datadir, _genesis(), VALIDATOR, "pw", config)
    node = Node(open_datadir(datadir), VALIDATOR)
    return node, await node.start()


@asynccontextmanager
async def _running(datadir: Path, *, init: bool = True) -> AsyncIterator[tuple[Node, str]]:
    node, url = await _start_node(datadir, init=init)
    try:
        yield node, url
    finally:
        await asyncio.wait_for(node.stop(), 30)


@asynccontextmanager
async def _liar(upstream: str, rewrite: Rewrite) -> AsyncIterator[str]:
    """A real HTTP server that forwards to ``upstream`` and passes every JSON answer through ``rewrite``."""
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def forward(request: web.Request) -> web.Response:
        async with session.get(upstream + request.path, params=request.query) as answer:
            body = await answer.json(content_type=None)
            return web.json_response(rewrite(request.path, body), status=answer.status)

    app = web.Application()
    app.router.add_get("/{tail:.*}", forward)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await session.close()


async def _agora(home: Path, *args: str) -> tuple[int, str]:
    """Run the CLI as a real process; returns (exit code, stdout + stderr)."""
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
        env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"},
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), CLI_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def _pay_bob(url: str, amount: int, nonce: int = 0) -> dict[str, Any]:
    tx = sign_transaction(ALICE, CHAIN, nonce, 10, Transfer(BOB.public_key, amount))
    async with NodeClient(url) as client:
        await client.wait_ready(10)
        await client.submit_tx(tx.raw)
        return await client.wait_for_tx(tx.hash.hex(), 15)


def _genesis_file(tmp_path: Path) -> Path:
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(_genesis().to_json()))
    return path


async def _wait_height(url: str, at_least: int) -> None:
    async with NodeClient(url) as client:
        for _ in range(400):
            if (await client.status())["height"] >= at_least:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"{url} did not reach height {at_least}")


BOB_ADDRESS = encode_address(BOB.public_key)


async def test_verify_balance_and_tx_pass_against_an_honest_node_and_use_the_cache(tmp_path: Path) -> None:
    home, genesis = tmp_path / "home", _genesis_file(tmp_path)
    async with _running(tmp_path / "node") as (_, url):
        record = await _pay_bob(url, 4321)
        code, out = await _agora(
            home, "verify", "balance", BOB_ADDRESS, "--node", url, "--genesis", str(genesis), "--json"
        )
        assert code == 0, out
        answer = json.loads(out)
        assert answer["verified"] and answer["balance"] == 4321 and answer["light_blocks_fetched"] >= 1
        assert (home / "light" / f"{CHAIN}.json").is_file()

        # No --genesis now: the cache is the trusted start; the tx's header is fetched once, then cached.
        code, out = await _agora(home, "verify", "tx", record["hash"], "--node", url, "--json")
        assert code == 0, out
        first = json.loads(out)
        assert first["receipt"]["code"] == "ok" and first["height"] == record["height"]
        code, out = await _agora(home, "verify", "tx", record["hash"], "--node", url, "--json")
        assert code == 0, out
        assert json.loads(out)["light_blocks_fetched"] == 0, "a verified header must come from the cache"

        code, out = await _agora(home, "verify", "balance", BOB_ADDRESS, "--node", url)
        assert code == 0, out
        assert "VERIFIED balance" in out and "certified by" in out, out


async def test_verify_needs_a_trusted_start_and_refuses_a_genesis_of_another_chain(tmp_path: Path) -> None:
    async with _running(tmp_path / "node") as (_, url):
        await _wait_height(url, 1)
        code, out = await _agora(tmp_path / "home", "verify", "balance", BOB_ADDRESS, "--node", url)
        assert code == 1 and "nothing is trusted yet" in out, out
        other = tmp_path / "other.json"
        other.write_text(json.dumps(dev_genesis("other-chain", [VALIDATOR.public_key], {}, time_ms=1).to_json()))
        code, out = await _agora(
            tmp_path / "home", "verify", "balance", BOB_ADDRESS, "--node", url, "--genesis", str(other)
        )
        assert code == 1 and "other-chain" in out, out
        assert "Traceback" not in out


def _forge_light_block(path: str, body: Any) -> Any:
    if path.startswith("/api/v1/light/") and isinstance(body, dict) and "light_block" in body:
        block = LightBlock.decode(bytes.fromhex(body["light_block"]))
        forged = replace(block, header=replace(block.header, state_root=sha256(b"a lie")))
        return {**body, "light_block": forged.encode().hex()}
    return body


def _tamper_proof(path: str, body: Any) -> Any:
    if path == "/api/v1/proofs/state" and isinstance(body, dict) and body.get("proof"):
        proof = bytearray(bytes.fromhex(body["proof"]))
        proof[-1] ^= 0x01
        return {**body, "proof": proof.hex()}
    return body


def _lie_about_value(path: str, body: Any) -> Any:
    if path == "/api/v1/proofs/state" and isinstance(body, dict) and body.get("value"):
        return {**body, "value": "cd0fa0"}  # msgpack 4000: a balance the proof does not commit to
    return body


def _stale_status(path: str, body: Any) -> Any:
    if path == "/api/v1/status" and isinstance(body, dict):
        return {**body, "height": max(1, body["height"] - 30)}
    return body


def _garbage(path: str, body: Any) -> Any:
    if path.startswith("/api/v1/light/"):
        return {"height": 1, "hash": "00", "light_block": "c1c1c1"}
    return body


async def test_every_lie_of_a_primary_or_a_witness_fails_with_its_reason(tmp_path: Path) -> None:
    genesis = _genesis_file(tmp_path)
    async with _running(tmp_path / "node") as (_, url):
        await _pay_bob(url, 500)
        await _wait_height(url, 40)
        cases: list[tuple[str, Rewrite, str]] = [
            ("primary", _forge_light_block, "forged_header"),
            ("primary", _tamper_proof, "malformed_proof|bad_state_proof"),
            ("primary", _lie_about_value, "bad_state_proof"),
            ("primary", _stale_status, "stale_primary"),
            ("witness", _garbage, "malformed"),
            ("witness", _forge_light_block, "forged_header"),
        ]
        for i, (role, rewrite, reasons) in enumerate(cases):
            async with _liar(url, rewrite) as liar:
                primary, witness = (liar, url) if role == "primary" else (url, liar)
                args = ["verify", "balance", BOB_ADDRESS, "--node", primary, "--witness", witness]
                code, out = await _agora(tmp_path / f"home{i}", *args, "--genesis", str(genesis), "--max-lag", "5")
            assert code == 1, f"{rewrite.__name__}: a lie passed verification:\n{out}"
            assert "VERIFICATION FAILED" in out and any(f"({r})" in out for r in reasons.split("|")), out
            assert "Traceback" not in out, out


async def test_a_tampered_database_fails_verification_and_a_fork_is_reported_as_evidence(tmp_path: Path) -> None:
    genesis = _genesis_file(tmp_path)
    datadir = tmp_path / "node"
    async with _running(datadir) as (_, url):
        await _pay_bob(url, 777)
    tamper = [sys.executable, "scripts/tamper_state.py", "--datadir", str(datadir), "--address", BOB_ADDRESS]
    done = await asyncio.to_thread(
        subprocess.run, [*tamper, "--amount", "999999"], capture_output=True, cwd=REPO, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    async with _running(datadir, init=False) as (_, url):
        async with NodeClient(url) as client:
            assert (await client.account(BOB_ADDRESS))["balances"]["AGR"] == 999999, "the node now lies"
        code, out = await _agora(
            tmp_path / "home", "verify", "balance", BOB_ADDRESS, "--node", url, "--genesis", str(genesis)
        )
        assert code == 1 and "(bad_state_proof)" in out and "certified state root" in out, out

        # The same validator key signing a second chain from the same genesis: two certified
        # headers at one height. The witness's chain verifies too, so this is a fork.
        async with _running(tmp_path / "twin") as (_, twin_url):
            await _wait_height(twin_url, 3)
            await _wait_height(url, 3)
            args = ["verify", "balance", ENCODED_ALICE, "--node", url, "--witness", twin_url, "--max-lag", "1000000"]
            code, out = await _agora(tmp_path / "home2", *args, "--genesis", str(genesis))
            assert code == 1 and "FORK DETECTED" in out, out
            evidence = list((tmp_path / "home2" / "light" / "evidence").glob("fork-*.json"))
            assert len(evidence) == 1
            saved = json.loads(evidence[0].read_text())
            assert saved["validators_in_both_certificates"] == [VALIDATOR.public_key.hex()]


ENCODED_ALICE = encode_address(ALICE.public_key)
