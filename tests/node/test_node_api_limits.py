"""The client API of a real node against hostile bodies and methods (real LevelDB, real aiohttp server)."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
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


async def _open_stream(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw connection holding an open /api/v1/events stream (its head and first comment read)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    writer.write(f"GET /api/v1/events HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b": agora event stream" in await asyncio.wait_for(reader.readuntil(b"\n\n"), 5)
    return reader, writer


async def _closed(reader: asyncio.StreamReader) -> bool:
    """True iff the node closed this connection (whatever it wrote first is read and dropped)."""
    with contextlib.suppress(TimeoutError, ConnectionError):
        while not reader.at_eof():
            await asyncio.wait_for(reader.read(65536), 0.001)
    return reader.at_eof()


async def test_event_streams_are_not_requests_in_progress_and_do_not_starve_other_clients(tmp_path: Path) -> None:
    # The cap used to count a stream as a request in progress for as long as it lasted: 16
    # streams made a port capped at 16 refuse every other client with a 503 at connect.
    async for running in _start(tmp_path, api_max_connections=16, idle_timeout_ms=120_000):
        cap = running.node.api_connections
        assert cap is not None
        host, port = running.url.removeprefix("http://").rsplit(":", 1)
        streams = [await _open_stream(host, int(port)) for _ in range(15)]
        idle = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 5)
        try:
            assert (cap.open, cap.busy) == (16, 0)
            # a new client gets in: the idle connection goes first, every stream stays open
            async with aiohttp.ClientSession() as fresh, fresh.get(running.url + "/api/v1/status") as r:
                assert r.status == 200
            assert await _closed(idle[0])
            assert not any([await _closed(reader) for reader, _ in streams])
            # with only streams left (and the one keep-alive of the request above, closed by
            # now or idle), newcomers still get in: the oldest stream makes room
            streams.append(await _open_stream(host, int(port)))
            for _ in range(3):
                async with aiohttp.ClientSession() as fresh, fresh.get(running.url + "/api/v1/status") as r:
                    assert r.status == 200
            assert cap.open <= 16 and cap.refused == 0
            closed = [await _closed(reader) for reader, _ in streams]
            assert closed[0] and not closed[-1], closed  # the oldest went first
        finally:
            idle[1].close()
            for _, writer in streams:
                writer.close()
