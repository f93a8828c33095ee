"""The node as a real process: `python -m node`, signals, restart on the same datadir."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from chain.address import encode_address
from chain.encoding import sha256
from chain.keys import PrivateKey
from chain.transfer import Transfer
from chain.tx import sign_transaction
from node.client import NodeClient
from node.datadir import dev_genesis, init_datadir

REPO = Path(__file__).resolve().parents[2]
CHAIN = "daemon-test"
VALIDATOR = PrivateKey(sha256(b"daemon-validator"))
ALICE = PrivateKey(sha256(b"daemon-alice"))
BOB = PrivateKey(sha256(b"daemon-bob"))


def _spawn(datadir: Path, password: str | None = "pw") -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("AGORA_PASSWORD", None)
    if password is not None:
        env["AGORA_PASSWORD"] = password
    return subprocess.Popen(
        [sys.executable, "-m", "node", "--datadir", str(datadir), "--api-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )


def _url_of(proc: subprocess.Popen[bytes]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if "listening on" not in line:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"node did not start: {line!r}\n{err.decode()[-3000:]}")
    return line.rsplit(" ", 1)[1].strip()


def _stop(proc: subprocess.Popen[bytes]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()[-3000:]
    return err.decode()


def _make_datadir(tmp_path: Path, chain: str = CHAIN) -> Path:
    datadir = tmp_path / "node"
    genesis = dev_genesis(chain, [VALIDATOR.public_key], {ALICE.public_key: 10**9}, time_ms=1)
    init_datadir(datadir, genesis, VALIDATOR, "pw", {"min_block_interval_ms": 20, "heartbeat_interval_ms": 300})
    return datadir


async def test_transfer_survives_a_restart_of_the_node_process(tmp_path: Path) -> None:
    datadir = _make_datadir(tmp_path)
    proc = _spawn(datadir)
    log = ""
    try:
        url = _url_of(proc)
        tx = sign_transaction(ALICE, CHAIN, 0, 10, Transfer(BOB.public_key, 777))
        async with NodeClient(url) as client:
            await client.wait_ready(20)
            await client.submit_tx(tx.raw)
            committed = await client.wait_for_tx(tx.hash.hex(), 20)
            head_before = await client.head()
    finally:
        if proc.poll() is None:
            log = _stop(proc)
    assert "agora node listening on" in log and "shutting down" in log
    assert "committed block" in (datadir / "node.log").read_text()

    proc = _spawn(datadir)
    try:
        url = _url_of(proc)
        async with NodeClient(url) as client:
            await client.wait_ready(20)
            head = await client.head()
            assert head["height"] >= head_before["height"]
            block = await client.block(head_before["height"])
            assert block["hash"] == head_before["hash"]
            again = await client.tx(tx.hash.hex())
            assert again == committed
            bob = await client.account(encode_address(BOB.public_key))
            assert bob["balances"]["AGR"] == 777
            # heartbeat blocks keep extending the resumed chain
            deadline = time.monotonic() + 20
            while (await client.head())["height"] <= head["height"]:
                assert time.monotonic() < deadline, "no heartbeat block after restart"
                await asyncio.sleep(0.05)
    finally:
        if proc.poll() is None:
            _stop(proc)


def test_foreign_datadir_and_missing_password_are_refused(tmp_path: Path) -> None:
    datadir = _make_datadir(tmp_path)
    proc = _spawn(datadir, password=None)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "password" in err.decode()
    proc = _spawn(datadir, password="wrong")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "wrong password" in err.decode()
    # create the db, then swap in the genesis of another chain
    proc = _spawn(datadir)
    _url_of(proc)
    _stop(proc)
    other = dev_genesis("another-chain", [VALIDATOR.public_key], {}, time_ms=1)
    (datadir / "genesis.json").write_text(json.dumps(other.to_json()))
    proc = _spawn(datadir)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "another chain" in err.decode()


async def test_sigterm_under_load_finishes_the_block_and_loses_nothing(tmp_path: Path) -> None:
    datadir = _make_datadir(tmp_path)
    senders = [PrivateKey(sha256(b"load-%d" % i)) for i in range(20)]
    genesis = dev_genesis(CHAIN, [VALIDATOR.public_key], {k.public_key: 10**9 for k in senders}, time_ms=1)
    (datadir / "genesis.json").write_text(json.dumps(genesis.to_json()))
    txs = [
        sign_transaction(k, CHAIN, n, 10, Transfer(BOB.public_key, 1 + i))
        for n in range(40)
        for i, k in enumerate(senders)
    ]
    proc = _spawn(datadir)
    try:
        url = _url_of(proc)
        async with NodeClient(url) as client:
            await client.wait_ready(20)
            for start in range(0, len(txs), 200):
                results = await client.submit_txs([tx.raw for tx in txs[start : start + 200]])
                assert all(r["accepted"] for r in results), results
            await client.wait_for_tx(txs[0].hash.hex(), 20)
    finally:
        log = _stop(proc) if proc.poll() is None else ""
    assert "node stopped at height" in log
    stopped_at = int(log.rsplit("node stopped at height", 1)[1].split()[0])
    amounts = {tx.hash.hex(): tx.body.amount for tx in txs}
    proc = _spawn(datadir)
    try:
        url = _url_of(proc)
        async with NodeClient(url) as client:
            await client.wait_ready(20)
            assert (await client.head())["height"] >= stopped_at
            included: list[str] = []
            for height in range(1, stopped_at + 1):
                included += (await client.block(height))["txs"]
            assert included, "some of the load was committed before the shutdown"
            for tx_hash in included[:: max(1, len(included) // 50)]:
                record = await client.tx(tx_hash)
                assert record["status"] == "committed" and record["height"] <= stopped_at
            bob = await client.account(encode_address(BOB.public_key))
            assert bob["balances"]["AGR"] == sum(amounts[h] for h in included)
    finally:
        if proc.poll() is None:
            _stop(proc)


async def test_check_state_recomputes_the_root_and_finds_a_tampered_value(tmp_path: Path) -> None:
    datadir = _make_datadir(tmp_path)
    proc = _spawn(datadir)
    try:
        url = _url_of(proc)
        tx = sign_transaction(ALICE, CHAIN, 0, 10, Transfer(BOB.public_key, 777))
        async with NodeClient(url) as client:
            await client.wait_ready(20)
            await client.submit_tx(tx.raw)
            await client.wait_for_tx(tx.hash.hex(), 20)
    finally:
        if proc.poll() is None:
            proc.kill()  # SIGKILL: the root must survive a crash as it is
            proc.communicate(timeout=30)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    check = [sys.executable, "-m", "node.check_state", "--datadir", str(datadir), "--json"]
    good = await asyncio.to_thread(subprocess.run, check, capture_output=True, env=env, cwd=REPO, check=False)
    assert good.returncode == 0, good.stderr.decode()
    report = json.loads(good.stdout)
    assert report["ok"] and report["recomputed_root"] == report["tree_root"] == report["header_root"]
    tamper = [sys.executable, "scripts/tamper_state.py", "--datadir", str(datadir)]
    tamper += ["--address", encode_address(BOB.public_key), "--amount", "999999"]
    done = await asyncio.to_thread(subprocess.run, tamper, capture_output=True, env=env, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr.decode()
    bad = await asyncio.to_thread(subprocess.run, check, capture_output=True, env=env, cwd=REPO, check=False)
    assert bad.returncode == 1
    report = json.loads(bad.stdout)
    assert not report["ok"] and report["recomputed_root"] != report["header_root"]
