"""State-proof service time, measured by a client over loopback HTTP against real LevelDB.

Two setups, both in one process with an aiohttp server on a free loopback port:

- ``node``: a real one-validator node (``node.service.Node``) whose genesis funds ``keys``
  accounts (at most the genesis limit of 100,000), asked ``GET /api/v1/proofs/state`` at its
  head: the whole endpoint (tree read, header and certificate, JSON).
- ``tree``: a tree of ``keys`` keys (up to millions) written into LevelDB in blocks of
  ``block`` keys, one version each, under the store's own layout and read through the store's
  node reader and cache (``storage.store.DbNodes``); a small aiohttp handler answers each
  request with ``chain.state_tree.read_at`` and the proof's canonical hex, as the endpoint
  does, without a header.

Requests are sequential (one in flight), for existing keys and, one in ten, absent ones;
every answer's proof is checked against the root. Reported: client-side latency
percentiles, and the share of it the server spent in the tree read (``tree`` setup).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import plyvel
from aiohttp import web

from bench.measure import machine
from chain.accounts import balance_key
from chain.encoding import decode, encode
from chain.keys import PrivateKey
from chain.state_tree import NodeRef, StateProof, apply_writes, read_at, root_hash, verify_state_proof
from storage import keys as k
from storage.store import NODE_CACHE_BYTES, DbNodes, NodeCache

_STATE_KEY: web.AppKey[Callable[[bytes], dict[str, Any]]] = web.AppKey("prove")


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def q(x: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(x * len(ordered)))] * 1e3, 3)

    return {"p50_ms": q(0.50), "p90_ms": q(0.90), "p99_ms": q(0.99), "max_ms": round(ordered[-1] * 1e3, 3)}


async def _ask(
    url: str, queries: list[bytes], check: Callable[[bytes, dict[str, Any]], None], params: dict[str, str]
) -> list[float]:
    latencies = []
    async with aiohttp.ClientSession() as http:
        for i, key in enumerate(queries):
            started = time.perf_counter()
            async with http.get(url, params={"key": key.hex(), **params}) as r:
                body = await r.json()
                if r.status != 200:
                    raise RuntimeError(f"proof request answered {r.status}: {body}")
            latencies.append(time.perf_counter() - started)
            if i % 10 == 0:
                check(key, body)
    return latencies


def run_proofs_tree(keys: int, block: int, requests: int, seed: int = 3) -> dict[str, Any]:
    """Serve proofs from a ``keys``-key tree in LevelDB; client-side latency percentiles."""
    rng = random.Random(seed)
    all_keys: list[bytes] = []
    with tempfile.TemporaryDirectory(prefix="agora-bench-proofs-") as tmp:
        db = plyvel.DB(str(Path(tmp) / "db"), create_if_missing=True)
        try:
            nodes = DbNodes(db, NodeCache(0))
            root: NodeRef | None = None
            started = time.perf_counter()
            version = 0
            while len(all_keys) < keys:
                writes: dict[bytes, bytes | None] = {}
                for _ in range(min(block, keys - len(all_keys))):
                    key = b"b/" + rng.randbytes(32) + b"/AGR"
                    all_keys.append(key)
                    writes[key] = encode(rng.randrange(1, 10**12))
                update = apply_writes(nodes, root, version, writes)
                with db.write_batch() as batch:
                    for node_key, node in update.new_nodes.items():
                        batch.put(k.tree_node_key(node_key), node)
                root = update.root
                version += 1
            build_seconds = time.perf_counter() - started
            db.compact_range()
            db_bytes = sum(f.stat().st_size for f in (Path(tmp) / "db").iterdir())
            state_root = root_hash(root)
            reader = DbNodes(db, NodeCache(NODE_CACHE_BYTES))
            server_seconds: list[float] = []

            def prove(key: bytes) -> dict[str, Any]:
                t = time.perf_counter()
                value, proof = read_at(reader, root, key)
                answer = {"value": None if value is None else value.hex(), "proof": encode(proof.to_wire()).hex()}
                server_seconds.append(time.perf_counter() - t)
                return answer

            def check(key: bytes, body: dict[str, Any]) -> None:
                value = None if body["value"] is None else bytes.fromhex(body["value"])
                verify_state_proof(state_root, key, value, StateProof.from_wire(decode(bytes.fromhex(body["proof"]))))

            async def handler(request: web.Request) -> web.Response:
                return web.json_response(request.app[_STATE_KEY](bytes.fromhex(request.query["key"])))

            async def serve() -> list[float]:
                app = web.Application()
                app[_STATE_KEY] = prove
                app.router.add_get("/proof", handler)
                runner = web.AppRunner(app)
                await runner.setup()
                site = web.TCPSite(runner, "127.0.0.1", 0)
                await site.start()
                try:
                    port = runner.addresses[0][1]
                    queries = [
                        rng.choice(all_keys) if rng.random() < 0.9 else rng.randbytes(20) for _ in range(requests)
                    ]
                    return await _ask(f"http://127.0.0.1:{port}/proof", queries, check, {})
                finally:
                    await runner.cleanup()

            latencies = asyncio.run(serve())
        finally:
            db.close()
    return {
        "scenario": "proofs (tree in LevelDB behind a minimal aiohttp handler)",
        **machine(),
        "keys": keys,
        "versions": version,
        "build_seconds": round(build_seconds, 1),
        "db_mib": round(db_bytes / 2**20, 1),
        "db_bytes_per_key": round(db_bytes / keys, 1),
        "requests": requests,
        "client_latency": _percentiles(latencies),
        "server_tree_read_and_encode": _percentiles(server_seconds),
        "mean_ms": round(statistics.fmean(latencies) * 1e3, 3),
    }


def run_proofs_node(keys: int, requests: int, seed: int = 4) -> dict[str, Any]:
    """Serve proofs from a real node whose genesis funds ``keys`` accounts; latency percentiles."""
    from chain.block import decode_header
    from node.datadir import dev_genesis, init_datadir, open_datadir
    from node.service import Node

    rng = random.Random(seed)
    accounts = [rng.randbytes(32) for _ in range(keys)]
    validator = PrivateKey.generate()
    genesis = dev_genesis("agora-bench-proofs", [validator.public_key], dict.fromkeys(accounts, 10**9), time_ms=1)
    config: dict[str, object] = {"api_port": 0, "min_block_interval_ms": 200, "log_level": "warning"}

    async def main(tmp: Path) -> tuple[list[float], float]:
        init_datadir(tmp / "node", genesis, validator, "bench", config)
        started = time.perf_counter()
        node = Node(open_datadir(tmp / "node"), validator)
        url = await node.start()
        open_seconds = time.perf_counter() - started
        try:
            async with aiohttp.ClientSession() as http:
                deadline = time.monotonic() + 60
                while True:  # heartbeat blocks: wait for a certified header to prove against
                    async with http.get(f"{url}/api/v1/status") as r:
                        height = int((await r.json()).get("height", 0)) if r.status == 200 else 0
                    if height >= 1:
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError("the node committed no block within 60 s")
                    await asyncio.sleep(0.2)

            def check(key: bytes, body: dict[str, Any]) -> None:
                value = None if body["value"] is None else bytes.fromhex(body["value"])
                state_root = decode_header(bytes.fromhex(body["header"])).state_root
                verify_state_proof(state_root, key, value, StateProof.from_wire(decode(bytes.fromhex(body["proof"]))))

            queries = [
                balance_key(rng.choice(accounts) if rng.random() < 0.9 else rng.randbytes(32), "AGR")
                for _ in range(requests)
            ]
            latencies = await _ask(f"{url}/api/v1/proofs/state", queries, check, {"height": str(height)})
            return latencies, open_seconds
        finally:
            await node.stop()

    with tempfile.TemporaryDirectory(prefix="agora-bench-proofs-node-") as tmp:
        latencies, open_seconds = asyncio.run(main(Path(tmp)))
    return {
        "scenario": "proofs (real node, GET /api/v1/proofs/state)",
        **machine(),
        "keys": keys,
        "node_start_seconds": round(open_seconds, 2),
        "requests": requests,
        "client_latency": _percentiles(latencies),
        "mean_ms": round(statistics.fmean(latencies) * 1e3, 3),
    }
