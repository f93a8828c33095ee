"""Per-transaction CPU costs of the node's hot paths, before and after (docs/PERFORMANCE.md).

CPU time (``time.process_time``: every thread of this process), not wall time, so that the
figures mean something on a shared machine. Each case runs its "before" and "after" forms
alternately, ``--rounds`` times, and reports the fastest of each in microseconds per
transaction. Run: ``.venv/bin/python scripts/perf_micro.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import uvloop
from aiohttp import web

from chain.block import decode_block
from chain.encoding import decode, decode_uint, encode, sha256
from chain.execution import build_block
from chain.genesis import Genesis, GenesisBalance
from chain.keys import PrivateKey
from chain.params import ChainParams
from chain.transfer import CORE_KINDS, Transfer
from chain.tx import Transaction, decode_transaction, sign_transaction
from chain.validators import Validator, ValidatorSet
from node.mempool_reactor import decode_batch, encode_batch
from node.sigverify import DEFAULT_WORKERS as WORKERS
from node.sigverify import INLINE_BELOW, _verify_chunk, verify_async

CHAIN = "perf-micro"


def _txs(n: int) -> list[Transaction]:
    keys = [PrivateKey(sha256(b"perf-%d" % i)) for i in range(n)]
    sink = PrivateKey(sha256(b"perf-sink")).public_key
    return [sign_transaction(k, CHAIN, 0, 10, Transfer(sink, 1)) for k in keys]


def _cpu_us_per_tx(run: Callable[[], object], txs: int) -> float:
    t0 = time.process_time()
    run()
    return (time.process_time() - t0) * 1e6 / txs


def _ab(before: Callable[[], object], after: Callable[[], object], txs: int, rounds: int) -> dict[str, float]:
    b, a = [], []
    for _ in range(rounds):
        b.append(_cpu_us_per_tx(before, txs))
        a.append(_cpu_us_per_tx(after, txs))
    return {"before_us_per_tx": round(min(b), 2), "after_us_per_tx": round(min(a), 2)}


# --- signature verification from the event loop, batches of 100 ------------------------

_old_pool = ThreadPoolExecutor(max_workers=WORKERS)


def _old_verify_many(txs: Sequence[Transaction]) -> list[bool]:
    """node/sigverify.verify_many at fe05c65: chunks over the pool, called via to_thread."""
    if len(txs) < INLINE_BELOW or WORKERS == 1:
        return _verify_chunk(txs)
    size = -(-len(txs) // WORKERS)
    out: list[bool] = []
    for part in _old_pool.map(_verify_chunk, [txs[i : i + size] for i in range(0, len(txs), size)]):
        out.extend(part)
    return out


def verify_case(txs: list[Transaction], batch: int, rounds: int) -> dict[str, float]:
    batches = [txs[i : i + batch] for i in range(0, len(txs), batch)]

    async def old() -> None:
        await asyncio.gather(*(asyncio.to_thread(_old_verify_many, b) for b in batches))

    async def new() -> None:
        await asyncio.gather(*(verify_async(b) for b in batches))

    loop = asyncio.new_event_loop()
    try:
        result = _ab(lambda: loop.run_until_complete(old()), lambda: loop.run_until_complete(new()), len(txs), rounds)
    finally:
        loop.close()
    result["inline_us_per_tx"] = round(
        min(_cpu_us_per_tx(lambda: _verify_chunk(txs), len(txs)) for _ in range(rounds)), 2
    )
    return result


# --- a relayed gossip batch whose transactions are all pending already -------------------


def gossip_case(txs: list[Transaction], rounds: int) -> dict[str, float]:
    pending = {tx.hash: tx for tx in txs}
    payloads = [encode_batch([t.raw for t in txs[i : i + 1000]]) for i in range(0, len(txs), 1000)]

    def old() -> None:  # fe05c65: decode every transaction, then drop the pending ones
        for p in payloads:
            [tx for tx in decode_batch(p, CORE_KINDS) if tx.hash not in pending]

    def new() -> None:
        for p in payloads:
            decode_batch(p, CORE_KINDS, pending)

    return _ab(old, new, len(txs), rounds)


# --- a proposed block whose transactions are pending ----------------------------------------


def block_case(txs: list[Transaction], rounds: int) -> dict[str, float]:
    keys = [PrivateKey(sha256(b"perf-%d" % i)) for i in range(len(txs))]
    validator = PrivateKey(sha256(b"perf-validator"))
    genesis = Genesis(
        CHAIN,
        0,
        ChainParams(min_fee=10, max_block_txs=len(txs)),
        ValidatorSet.of([Validator(validator.public_key, 1)]),
        tuple(GenesisBalance(k.public_key, "AGR", 10**9) for k in keys),
    )
    block, _, refused = build_block(
        genesis.initial_state(), CORE_KINDS, None, genesis.hash, CHAIN, 1, validator.public_key, txs, None
    )
    assert not refused
    raw = block.encode()
    pending = {tx.hash: tx for tx in txs}
    assert len(decode_block(raw, CORE_KINDS).txs) == len(txs)
    return _ab(
        lambda: decode_block(raw, CORE_KINDS), lambda: decode_block(raw, CORE_KINDS, pending.get), len(txs), rounds
    )


# --- the client API's batch body: JSON with hex against the binary msgpack form ------------


def batch_body_case(txs: list[Transaction], rounds: int) -> dict[str, float]:
    """Client encoding plus node decoding of 100-transaction batch bodies (what differs)."""
    batches = [[t.raw for t in txs[i : i + 100]] for i in range(0, len(txs), 100)]

    def as_json() -> None:
        for raws in batches:
            body = json.loads(json.dumps({"txs": [r.hex() for r in raws]}).encode())
            [bytes.fromhex(item) for item in body["txs"]]

    def as_msgpack() -> None:
        for raws in batches:
            data = encode(list(raws))
            value = decode(data, len(data))
            assert type(value) is list and all(type(item) is bytes for item in value)

    return _ab(as_json, as_msgpack, len(txs), rounds)


# --- reading a state counter (balance, nonce): about 9 reads per transfer and node -------------


def state_int_case(txs: list[Transaction], rounds: int) -> dict[str, float]:
    """Per read, not per transaction: full canonical decode against decode_uint's fast path."""
    values = [encode(v) for v in (10**15 - 7 * i for i in range(len(txs)))] + [encode(i % 100) for i in range(len(txs))]

    def full() -> None:
        for raw in values:
            v = decode(raw)
            assert type(v) is int

    def fast() -> None:
        for raw in values:
            v = decode_uint(raw)
            if v is None:
                v = decode(raw)

    return _ab(full, fast, len(values), rounds)


# --- the event loop: loopback HTTP posts of a 100-transaction gossip-sized body -------------


def loop_case(txs: list[Transaction], requests: int, rounds: int) -> dict[str, float]:
    body = encode_batch([t.raw for t in txs[:100]])

    async def posts() -> None:
        async def handler(request: web.Request) -> web.Response:
            await request.read()
            return web.Response(body=b"ok")

        app = web.Application()
        app.router.add_post("/m", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        async with aiohttp.ClientSession() as session:
            for _ in range(requests):
                async with session.post(f"http://127.0.0.1:{port}/m", data=body) as r:
                    await r.read()
        await runner.cleanup()

    def run_with(factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(posts())

    # per request of 100 transactions, reported per transaction
    return _ab(
        lambda: run_with(asyncio.new_event_loop), lambda: run_with(uvloop.new_event_loop), requests * 100, rounds
    )


def main() -> None:
    """Run every case and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--txs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    txs = _txs(args.txs)
    assert all(decode_transaction(t.raw, CORE_KINDS) == t for t in txs[:10])
    report = {
        "verify_batches_of_100_from_the_loop": verify_case(txs, 100, args.rounds),
        "gossip_batch_all_pending": gossip_case(txs, args.rounds),
        "block_decode_all_pending": block_case(txs, args.rounds),
        "batch_body_json_hex_vs_msgpack": batch_body_case(txs, args.rounds),
        "state_counter_read_per_read": state_int_case(txs, args.rounds),
        "loopback_post_100_tx_body_asyncio_vs_uvloop": loop_case(txs, 300, args.rounds),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
