"""The proof endpoints against a real node: every answer verifies against its certified header."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from chain.accounts import balance_key
from chain.block import decode_header
from chain.encoding import decode, sha256
from chain.execution import Receipt
from chain.keys import PrivateKey
from chain.merkle import MerkleProof, verify_proof
from chain.state_tree import StateProof, verify_state_proof
from chain.transfer import Transfer
from chain.tx import sign_transaction
from chain.votes import Commit, verify_commit
from node.client import NodeClient
from node.datadir import dev_genesis, init_datadir, open_datadir
from node.service import Node

CHAIN = "proof-test"
VALIDATOR = PrivateKey(sha256(b"proof-validator"))
ALICE = PrivateKey(sha256(b"proof-alice"))
BOB = PrivateKey(sha256(b"proof-bob"))


async def _node(tmp_path: Path, **settings: object) -> tuple[Node, str]:
    genesis = dev_genesis(CHAIN, [VALIDATOR.public_key], {ALICE.public_key: 10**9}, time_ms=1)
    config: dict[str, object] = {"api_port": 0, "min_block_interval_ms": 10, "heartbeat_interval_ms": 50}
    config.update(settings)
    init_datadir(tmp_path / "node", genesis, VALIDATOR, "pw", config)
    node = Node(open_datadir(tmp_path / "node"), VALIDATOR)
    return node, await node.start()


def _merkle(data: dict[str, object]) -> MerkleProof:
    path = data["path"]
    assert isinstance(path, list)
    return MerkleProof(int(str(data["index"])), int(str(data["size"])), tuple(bytes.fromhex(p) for p in path))


async def test_state_and_tx_proofs_verify_against_the_certified_header(tmp_path: Path) -> None:
    node, url = await _node(tmp_path)
    validators = node.datadir.genesis.validators
    try:
        async with NodeClient(url) as client, aiohttp.ClientSession() as http:
            await client.wait_ready(10)
            tx = sign_transaction(ALICE, CHAIN, 0, 10, Transfer(BOB.public_key, 4321))
            await client.submit_tx(tx.raw)
            record = await client.wait_for_tx(tx.hash.hex(), 10)
            height = record["height"]
            key = balance_key(BOB.public_key, "AGR")
            async with http.get(f"{url}/api/v1/proofs/state", params={"key": key.hex(), "height": str(height)}) as r:
                assert r.status == 200
                answer = await r.json()
            header = decode_header(bytes.fromhex(answer["header"]))
            commit = Commit.from_wire(decode(bytes.fromhex(answer["commit"])))
            verify_commit(CHAIN, commit, validators, height, header.hash)
            value = bytes.fromhex(answer["value"])
            assert decode(value) == 4321
            proof = StateProof.from_wire(decode(bytes.fromhex(answer["proof"])))
            verify_state_proof(header.state_root, key, value, proof)
            # an absent key proves absent at the same height
            absent = balance_key(BOB.public_key, "GOLD")
            async with http.get(f"{url}/api/v1/proofs/state", params={"key": absent.hex(), "height": str(height)}) as r:
                answer = await r.json()
            assert answer["value"] is None
            verify_state_proof(
                header.state_root, absent, None, StateProof.from_wire(decode(bytes.fromhex(answer["proof"])))
            )
            # before the transfer, bob had nothing
            async with http.get(f"{url}/api/v1/proofs/state", params={"key": key.hex(), "height": "0"}) as r:
                answer = await r.json()
            assert answer["value"] is None and answer["state_root"] == node.datadir.genesis.state_root.hex()

            async with http.get(f"{url}/api/v1/proofs/tx/{tx.hash.hex()}") as r:
                assert r.status == 200
                proof_tx = await r.json()
            header = decode_header(bytes.fromhex(proof_tx["header"]))
            assert verify_proof(header.tx_root, tx.hash, _merkle(proof_tx["tx_proof"]))
            receipt = bytes.fromhex(proof_tx["receipt"])
            assert Receipt.from_wire(decode(receipt)).ok
            assert verify_proof(header.results_root, receipt, _merkle(proof_tx["result_proof"]))
            assert not verify_proof(header.results_root, receipt[:-1] + b"\x01", _merkle(proof_tx["result_proof"]))

            for params, status in (({"key": "zz"}, 400), ({}, 400), ({"key": key.hex(), "height": "99999"}, 404)):
                async with http.get(f"{url}/api/v1/proofs/state", params=params) as r:
                    assert r.status == status
                    assert r.content_type == "application/problem+json"
            async with http.get(f"{url}/api/v1/proofs/tx/{'00' * 32}") as r:
                assert r.status == 404
    finally:
        await node.stop()


async def test_a_pruned_height_answers_410_with_the_oldest_kept(tmp_path: Path) -> None:
    node, url = await _node(tmp_path, state_versions_kept=3)
    try:
        async with NodeClient(url) as client, aiohttp.ClientSession() as http:
            await client.wait_ready(10)
            deadline = time.monotonic() + 20
            while True:  # heartbeat blocks move the head; the pruner follows within seconds
                async with http.get(f"{url}/api/v1/proofs/state", params={"key": b"params".hex(), "height": "1"}) as r:
                    if r.status == 410:
                        problem = await r.json()
                        break
                    assert r.status in (200, 404), await r.text()  # 404: block 1 is not there yet
                assert time.monotonic() < deadline, "height 1 was never pruned"
                await asyncio.sleep(0.1)
            assert problem["reason"] == "pruned" and "oldest height kept" in problem["detail"]
            head = (await client.head())["height"]
            async with http.get(f"{url}/api/v1/proofs/state", params={"key": b"params".hex()}) as r:
                assert r.status == 200 and (await r.json())["height"] >= head
    finally:
        await node.stop()
