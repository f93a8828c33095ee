"""The client API of a real node (real LevelDB, real aiohttp server on port 0)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chain.address import encode_address
from chain.encoding import encode, sha256
from chain.keys import PrivateKey
from chain.transfer import Transfer
from chain.tx import Transaction, sign_transaction
from node.api_models import BatchResults
from node.client import NodeApiError, NodeClient
from node.datadir import dev_genesis, init_datadir, open_datadir
from node.service import Node

CHAIN = "api-test"
FEE = 10
START = 10**9


@dataclass
class Running:
    node: Node
    url: str
    validator: PrivateKey
    alice: PrivateKey
    bob: PrivateKey
    http: aiohttp.ClientSession

    def tx(self, key: PrivateKey, nonce: int, amount: int = 1000, fee: int = FEE, chain: str = CHAIN) -> Transaction:
        return sign_transaction(key, chain, nonce, fee, Transfer(self.bob.public_key, amount))

    async def post(self, path: str, body: Any, content_type: str = "application/json") -> tuple[int, dict[str, Any]]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self.http.post(self.url + path, data=data, headers={"Content-Type": content_type}) as r:
            return r.status, await self._body(r)

    async def get(self, path: str) -> tuple[int, dict[str, Any]]:
        async with self.http.get(self.url + path) as r:
            return r.status, await self._body(r)

    @staticmethod
    async def _body(r: aiohttp.ClientResponse) -> dict[str, Any]:
        if r.status >= 400:
            assert r.content_type == "application/problem+json", await r.text()
        result: dict[str, Any] = json.loads(await r.read())
        return result


async def _start(tmp_path: Path, **config: object) -> AsyncIterator[Running]:
    validator = PrivateKey(sha256(b"api-validator"))
    alice = PrivateKey(sha256(b"api-alice"))
    bob = PrivateKey(sha256(b"api-bob"))
    genesis = dev_genesis(CHAIN, [validator.public_key], {alice.public_key: START}, time_ms=1)
    settings: dict[str, object] = {"api_port": 0, "min_block_interval_ms": 10, "heartbeat_interval_ms": 3_600_000}
    settings.update(config)
    init_datadir(tmp_path / "node", genesis, validator, "pw", settings)
    node = Node(open_datadir(tmp_path / "node"), validator)
    url = await node.start()
    async with aiohttp.ClientSession() as http:
        try:
            yield Running(node, url, validator, alice, bob, http)
        finally:
            await node.stop()


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    async for r in _start(tmp_path, mempool_max_txs=6, api_max_body_bytes=64 * 1024):
        yield r


def _bad_signature(tx: Transaction) -> bytes:
    return encode([tx.chain_id, tx.sender, tx.nonce, tx.fee, tx.kind, tx.body.to_wire(), bytes(64)])


async def test_transfer_is_committed_into_block_balances_and_index(running: Running) -> None:
    async with NodeClient(running.url) as client:
        await client.wait_ready(10)
        tx = running.tx(running.alice, 0, amount=12345)
        submitted = await client.submit_tx(tx.raw)
        assert submitted == {"hash": tx.hash.hex(), "status": "pending"}
        record = await client.wait_for_tx(tx.hash.hex(), 10)
        assert record["status"] == "committed" and record["index"] == 0
        assert record["receipt"]["code"] == "ok" and record["receipt"]["fee"] == FEE
        assert record["tx"]["body"]["to"] == encode_address(running.bob.public_key)
        assert record["tx"]["sender"] == encode_address(running.alice.public_key)
        assert record["receipt"]["events"][0]["attrs"]["amount"] == 12345
        block = await client.block(record["height"])
        assert tx.hash.hex() in block["txs"]
        assert (await client.block(block["hash"])) == block
        bob = await client.account(encode_address(running.bob.public_key))
        alice = await client.account(running.alice.public_key.hex())
        assert bob["balances"]["AGR"] == 12345
        assert alice["balances"]["AGR"] == START - 12345 - FEE
        assert (alice["nonce"], alice["pending_nonce"]) == (1, 1)
        status = await client.status()
        assert status["chain_id"] == CHAIN and status["validator"] is True and status["height"] >= 1
        head = await client.head()
        assert head["height"] == status["height"]
        # the block's certificate is the validator's precommit, carried by the next block
        services = running.node.services
        assert services is not None
        commit = services.store.commit(record["height"])
        assert commit is not None and commit.block_hash.hex() == block["hash"]


async def test_every_bad_input_gets_a_4xx_problem_with_a_reason_and_writes_nothing(running: Running) -> None:
    async with NodeClient(running.url) as client:
        committed = running.tx(running.alice, 0)
        await client.submit_tx(committed.raw)
        await client.wait_for_tx(committed.hash.hex(), 10)
    height_before = (await running.get("/api/v1/head"))[1]["height"]
    pending = running.tx(running.alice, 3)
    assert (await running.post("/api/v1/txs", {"tx": pending.raw.hex()}))[0] == 202
    poor = PrivateKey(sha256(b"api-poor"))
    unknown_kind = encode([CHAIN, running.alice.public_key, 1, FEE, "teleport", [], bytes(64)])
    cases: list[tuple[str, Any, str, int, str]] = [
        ("/api/v1/txs", b"{not json", "application/json", 400, "malformed_body"),
        ("/api/v1/txs", {"tx": committed.raw.hex()}, "text/plain", 415, "unsupported_media_type"),
        ("/api/v1/txs", {"tx": "00" * 40_000}, "application/json", 413, "body_too_large"),
        ("/api/v1/txs", {"transaction": "00"}, "application/json", 400, "malformed_body"),
        ("/api/v1/txs", {"tx": "zz"}, "application/json", 400, "bad_hex"),
        ("/api/v1/txs", {"tx": "c1"}, "application/json", 400, "decode_error"),
        ("/api/v1/txs", {"tx": unknown_kind.hex()}, "application/json", 400, "unknown_kind"),
        (
            "/api/v1/txs",
            {"tx": _bad_signature(running.tx(running.alice, 1)).hex()},
            "application/json",
            400,
            "bad_signature",
        ),
        (
            "/api/v1/txs",
            {"tx": running.tx(running.alice, 1, chain="other").raw.hex()},
            "application/json",
            400,
            "wrong_chain",
        ),
        ("/api/v1/txs", {"tx": committed.raw.hex()}, "application/json", 422, "nonce_too_low"),
        ("/api/v1/txs", {"tx": running.tx(running.alice, 500).raw.hex()}, "application/json", 422, "nonce_gap"),
        ("/api/v1/txs", {"tx": running.tx(poor, 0).raw.hex()}, "application/json", 422, "insufficient_funds"),
        ("/api/v1/txs", {"tx": running.tx(running.alice, 1, fee=1).raw.hex()}, "application/json", 422, "fee_too_low"),
        ("/api/v1/txs", {"tx": pending.raw.hex()}, "application/json", 409, "duplicate"),
        ("/api/v1/txs/batch", {"txs": ["00"] * 1001}, "application/json", 413, "batch_too_large"),
        ("/api/v1/txs/batch", {"txs": "00"}, "application/json", 400, "malformed_body"),
    ]
    for path, body, content_type, status, reason in cases:
        got_status, problem = await running.post(path, body, content_type)
        assert (got_status, problem["reason"]) == (status, reason), (reason, problem)
        assert problem["status"] == status and problem["detail"] and problem["title"]
    gets = [
        ("/api/v1/txs/" + "ab" * 32, 404, "not_found"),
        ("/api/v1/txs/xyz", 400, "bad_hex"),
        ("/api/v1/blocks/999", 404, "not_found"),
        ("/api/v1/blocks/-1", 400, "bad_height"),
        ("/api/v1/blocks/hash/" + "cd" * 32, 404, "not_found"),
        ("/api/v1/accounts/agora1notanaddress", 400, "bad_address"),
        ("/api/v1/accounts/" + encode_address(poor.public_key), 404, "not_found"),
        ("/api/v1/nothing-here", 404, "not_found"),
    ]
    for path, status, reason in gets:
        got_status, problem = await running.get(path)
        assert (got_status, problem["reason"]) == (status, reason), (path, problem)
    async with running.http.delete(running.url + "/api/v1/status") as r:
        assert r.status == 405 and (await r.json(content_type=None))["reason"] == "method_not_allowed"
    node_status = (await running.get("/api/v1/status"))[1]
    assert node_status["mempool_size"] == 1
    assert (await running.get("/api/v1/head"))[1]["height"] == height_before


async def test_full_mempool_refuses_with_mempool_full(running: Running) -> None:
    gapped = [running.tx(running.alice, n) for n in range(1, 7)]
    for tx in gapped:
        assert (await running.post("/api/v1/txs", {"tx": tx.raw.hex()}))[0] == 202
    status, problem = await running.post("/api/v1/txs", {"tx": running.tx(running.alice, 7).raw.hex()})
    assert (status, problem["reason"]) == (429, "mempool_full")
    assert (await running.get("/api/v1/status"))[1]["mempool_size"] == 6


async def test_batch_submission_reports_each_transaction(tmp_path: Path) -> None:
    async for r in _start(tmp_path):
        txs = [r.tx(r.alice, n, amount=n + 1) for n in range(40)]
        raws = [tx.raw for tx in txs]
        raws.insert(5, _bad_signature(r.tx(r.alice, 40)))
        async with NodeClient(r.url) as client:
            results = await client.submit_txs(raws)
            assert len(results) == 41
            assert [x["accepted"] for x in results] == [True] * 5 + [False] + [True] * 35
            assert results[5]["reason"] == "bad_signature"
            code, body = await r.post("/api/v1/txs/batch", {"txs": ["zz", txs[0].raw.hex()]})
            assert code == 200
            # txs[0] is refused as still pending ("duplicate") or, if a block took it
            # meanwhile, as committed ("nonce_too_low"): both refuse it, neither admits it twice
            reasons = [x["reason"] for x in body["results"]]
            assert reasons[0] == "bad_hex" and reasons[1] in ("duplicate", "nonce_too_low")
            # the binary form (what the client sends): same answers, item by item
            binary = [b"\xc1", b"\x00" * (70 * 1024), txs[1].raw, _bad_signature(r.tx(r.alice, 40))]
            code, body = await r.post("/api/v1/txs/batch", encode(binary), "application/msgpack")
            assert code == 200
            assert BatchResults.model_validate(body).model_dump() == body  # the documented shape, exactly
            got = [x["reason"] for x in body["results"]]
            assert got[:2] == ["decode_error", "tx_too_large"] and got[3] == "bad_signature"
            assert got[2] in ("duplicate", "nonce_too_low")  # pending still, or committed meanwhile
            for bad, status, reason in [
                (encode(binary) + b"\x00", 400, "malformed_body"),  # trailing bytes: not canonical
                (b"\xdc\x00\x01\xc4\x01\x00", 400, "malformed_body"),  # array16 where fixarray fits
                (encode([txs[1].raw.hex()]), 400, "malformed_body"),  # hex inside the binary form
                (encode({"txs": []}), 400, "malformed_body"),
                (encode([b"\x00"] * 1001), 413, "batch_too_large"),
            ]:
                code, problem = await r.post("/api/v1/txs/batch", bad, "application/msgpack")
                assert (code, problem["reason"]) == (status, reason), problem
            await client.wait_for_tx(txs[-1].hash.hex(), 10)
            bob = await client.account(encode_address(r.bob.public_key))
            assert bob["balances"]["AGR"] == sum(range(1, 41))


async def test_metrics_and_health(tmp_path: Path) -> None:
    async for r in _start(tmp_path):
        async with NodeClient(r.url) as client:
            tx = r.tx(r.alice, 0)
            await client.submit_tx(tx.raw)
            await client.wait_for_tx(tx.hash.hex(), 10)
            tx2 = r.tx(r.alice, 1)
            await client.submit_tx(tx2.raw)
            await client.wait_for_tx(tx2.hash.hex(), 10)
        assert (await r.get("/healthz"))[0] == 200
        assert (await r.get("/readyz"))[0] == 200
        async with r.http.get(r.url + "/metrics") as resp:
            assert resp.status == 200
            text = await resp.text()
        for name in (
            "agora_height ",
            "agora_mempool_size 0.0",
            "agora_block_interval_seconds_count",
            "agora_txs_committed_total 2.0",
            'agora_api_requests_total{method="POST",route="/api/v1/txs",status="202"} 2.0',
        ):
            assert name in text, name


async def test_openapi_document_matches_the_routes(running: Running) -> None:
    status, doc = await running.get("/api/v1/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.1")
    services = running.node.services
    assert services is not None
    from node.api import build_app

    app = build_app(services, 64 * 1024)
    routed = {
        (route.resource.canonical, route.method.lower())
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    documented = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert routed == documented
    for path, item in doc["paths"].items():
        for op in item.values():
            assert op["responses"], path


async def test_event_stream_delivers_committed_blocks(running: Running) -> None:
    tx = running.tx(running.alice, 0)
    async with running.http.get(running.url + "/api/v1/events") as stream:
        assert stream.status == 200 and stream.content_type == "text/event-stream"
        assert (await stream.content.readline()).startswith(b":")
        await running.post("/api/v1/txs", {"tx": tx.raw.hex()})

        async def next_block() -> dict[str, Any]:
            while True:
                line = await stream.content.readline()
                if line.startswith(b"data: "):
                    result: dict[str, Any] = json.loads(line[6:])
                    return result

        block = await asyncio.wait_for(next_block(), 10)
        assert block["txs"] == [tx.hash.hex()]
        assert block["receipts"] == [{"hash": tx.hash.hex(), "code": "ok"}]


async def test_client_raises_typed_errors(running: Running) -> None:
    async with NodeClient(running.url) as client:
        with pytest.raises(NodeApiError) as info:
            await client.tx("00" * 32)
        assert (info.value.status, info.value.reason) == (404, "not_found")
    from node.client import NodeUnreachable

    async with NodeClient("http://127.0.0.1:1") as dead:
        with pytest.raises(NodeUnreachable, match=r"127\.0\.0\.1:1"):
            await dead.status()


async def test_a_full_node_refuses_with_429_and_retry_after_before_reading_the_body(running: Running) -> None:
    for tx in [running.tx(running.alice, n) for n in range(1, 7)]:  # gapped: they stay pending
        assert (await running.post("/api/v1/txs", {"tx": tx.raw.hex()}))[0] == 202
    refused = [
        ("/api/v1/txs", {"tx": running.tx(running.alice, 7).raw.hex()}),
        ("/api/v1/txs/batch", {"txs": [running.tx(running.alice, 7).raw.hex()]}),
        ("/api/v1/txs", b"{not json"),  # not even read: the refusal comes before the body
        ("/api/v1/txs/batch", b"{not json"),
    ]
    for path, body in refused:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with running.http.post(running.url + path, data=data, headers={"Content-Type": "application/json"}) as r:
            problem = await r.json(content_type=None)
            assert (r.status, problem["reason"]) == (429, "mempool_full"), (path, problem)
            assert r.content_type == "application/problem+json"
            assert 1 <= int(r.headers["Retry-After"]) <= 30
    async with NodeClient(running.url) as client:
        with pytest.raises(NodeApiError) as caught:
            await client.submit_tx(running.tx(running.alice, 7).raw)
        assert caught.value.retryable and caught.value.retry_after is not None
        with pytest.raises(NodeApiError):  # gives up once the deadline is passed, still 429
            await client.submit_tx_retrying(running.tx(running.alice, 7).raw, timeout=0.0)
    assert (await running.get("/api/v1/status"))[1]["mempool_size"] == 6


async def test_a_batch_beyond_capacity_is_cut_and_the_rest_resubmitted_until_all_commit(tmp_path: Path) -> None:
    async for r in _start(tmp_path, mempool_max_txs=20):
        txs = [r.tx(r.alice, n, amount=n + 1) for n in range(30)]
        code, body = await r.post("/api/v1/txs/batch", {"txs": [tx.raw.hex() for tx in txs]})
        assert code == 200
        assert [x["accepted"] for x in body["results"]] == [True] * 20 + [False] * 10
        assert {x["reason"] for x in body["results"][20:]} == {"mempool_full"}
        assert all(x["hash"] is None for x in body["results"][20:])  # refused unread
        assert body["resubmit"] == list(range(20, 30)) and 1 <= body["retry_after"] <= 30
        assert BatchResults.model_validate(body).model_dump() == body
        async with NodeClient(r.url) as client:
            for tx in txs[:20]:  # everything accepted is committed
                record = await client.wait_for_tx(tx.hash.hex(), 10)
                assert record["receipt"]["code"] == "ok"
            results = await client.submit_txs_retrying([tx.raw for tx in txs[20:]], timeout=30)
            assert [x["accepted"] for x in results] == [True] * 10
            await client.wait_for_tx(txs[-1].hash.hex(), 10)
            bob = await client.account(encode_address(r.bob.public_key))
            alice = await client.account(encode_address(r.alice.public_key))
        assert bob["balances"]["AGR"] == sum(range(1, 31))
        assert alice["nonce"] == 30


async def test_an_expired_transaction_shows_as_dropped_with_its_reason(tmp_path: Path) -> None:
    async for r in _start(tmp_path, mempool_expiry_blocks=2):
        stuck = r.tx(r.alice, 5)  # behind a nonce gap: it can only wait, then expire
        assert (await r.post("/api/v1/txs", {"tx": stuck.raw.hex()}))[0] == 202
        assert (await r.get(f"/api/v1/txs/{stuck.hash.hex()}"))[1]["status"] == "pending"
        async with NodeClient(r.url) as client:
            for nonce in (0, 1):  # two blocks that cannot include it
                tx = r.tx(r.alice, nonce, amount=5)
                await client.submit_tx(tx.raw)
                await client.wait_for_tx(tx.hash.hex(), timeout=10)
            code, record = await r.get(f"/api/v1/txs/{stuck.hash.hex()}")
            assert code == 200 and record["status"] == "dropped" and record["reason"] == "expired"
            assert record["tx"] is None and "send it again" in record["detail"]
            [looked_up] = await client.lookup_txs([stuck.hash.hex()])
            assert looked_up["status"] == "dropped" and looked_up["reason"] == "expired"
            assert looked_up["detail"] == record["detail"]
            with pytest.raises(NodeApiError) as info:
                await client.wait_for_tx(stuck.hash.hex(), timeout=5)
            assert info.value.reason == "expired"
