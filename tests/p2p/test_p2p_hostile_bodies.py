"""Compressed and oversized bodies against a live p2p server: refused before they cost memory or time."""

from __future__ import annotations

import asyncio
import gzip
import zlib

import aiohttp
import pytest

from chain.encoding import DecodeError
from p2p import serve_p2p
from p2p.wire import decode_batch, decode_error

from .conftest import Cluster, RawPeer


def gzip_bomb(inflated: int) -> bytes:
    """A gzip stream of ``inflated`` zero bytes (about 1/1000 of that on the wire)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1024 * 1024)
    parts = [packer.compress(block) for _ in range(inflated // len(block))]
    return b"".join(parts) + packer.flush()


async def test_corrupt_gzip_and_a_gzip_bomb_get_415_on_both_endpoints(cluster: Cluster) -> None:
    target = await cluster.start()
    bomb = gzip_bomb(64 * 1024 * 1024)
    corrupt = gzip.compress(b"\x90")[:-6] + b"garbage!"
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        raw = RawPeer(http, target.url)
        for path in ("/p2p/handshake", "/p2p/msg"):
            for body in (corrupt, bomb):
                status, answer = await raw.post(path, body, {"Content-Encoding": "gzip"})
                assert (status, decode_error(answer)[0]) == (415, "compressed_body"), (path, status, answer)
        status, _ = await raw.post("/p2p/msg", b"\x90", {"Content-Encoding": "identity", "X-Agora-Node": "zz"})
        assert status == 400  # identity is no encoding: the request reaches the authentication check


def test_a_batch_is_bounded_by_its_array_headers_before_anything_is_decoded() -> None:
    # 4 MiB of nils in one array: refused on the header alone, before building a 4-million-item list
    huge = b"\xdd" + (4 * 1024 * 1024).to_bytes(4, "big") + b"\xc0" * (4 * 1024 * 1024)
    with pytest.raises(DecodeError, match="header declares 4194304 envelopes"):
        decode_batch(huge, len(huge), 16, 1024)
    # the same nils nested inside the one envelope allowed
    nested = b"\x91\xdd" + (4 * 1024 * 1024).to_bytes(4, "big") + b"\xc0" * (4 * 1024 * 1024)
    with pytest.raises(DecodeError, match="header declares 4194304 items"):
        decode_batch(nested, len(nested), 16, 1024)
    # a payload declared larger than allowed
    big_bin = b"\x91\x92\xa1x\xc6" + (2048).to_bytes(4, "big") + bytes(2048)
    with pytest.raises(DecodeError, match="max_bin_len"):
        decode_batch(big_bin, len(big_bin), 16, 1024)


async def test_idle_and_slow_header_connections_are_closed_after_the_idle_timeout(cluster: Cluster) -> None:
    target = await cluster.start()
    server = await serve_p2p(target.switch, "127.0.0.1", 0, idle_timeout=0.3)
    try:
        idle = await asyncio.open_connection("127.0.0.1", server.port)
        slow = await asyncio.open_connection("127.0.0.1", server.port)
        slow[1].write(b"POST /p2p/msg HTTP/1.1\r\nHo")
        await slow[1].drain()
        for reader, writer in (idle, slow):
            async with asyncio.timeout(5):
                assert await reader.read() == b""  # closed by the server, not by us
            writer.close()
    finally:
        await server.close()
