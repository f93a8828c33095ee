"""The client API of a real node against hostile bodies and methods (real LevelDB, real aiohttp server)."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_node_api import Running, _start


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    async for r in _start(tmp_path, api_max_body_bytes=64 * 1024):
        yield r


def _gzip_bomb(inflated: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1024 * 1024)
    return b"".join(packer.compress(block) for _ in range(inflated // len(block))) + packer.flush()


async def test_compressed_bodies_are_refused_with_a_415_problem_and_never_inflated(running: Running) -> None:
    corrupt = gzip.compress(json.dumps({"tx": "00"}).encode())[:-6] + b"garbage!"
    valid = gzip.compress(json.dumps({"tx": "00"}).encode())
    for body in (corrupt, valid, _gzip_bomb(64 * 1024 * 1024)):
        for path in ("/api/v1/txs", "/api/v1/txs/batch"):
            headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
            async with running.http.post(running.url + path, data=body, headers=headers) as r:
                assert r.status == 415, await r.text()
                assert r.content_type == "application/problem+json"
                assert (await r.json(content_type=None))["reason"] == "unsupported_content_encoding"
    status, head = await running.get("/api/v1/status")
    assert status == 200 and head["mempool_size"] == 0


async def test_a_405_problem_keeps_its_allow_header(running: Running) -> None:
    async with running.http.delete(running.url + "/api/v1/status") as r:
        assert r.status == 405 and r.content_type == "application/problem+json"
        assert "GET" in r.headers.get("Allow", "").split(","), dict(r.headers)
    async with running.http.put(running.url + "/api/v1/txs", data=b"{}") as r:
        assert r.status == 405 and r.headers.get("Allow") == "POST"
