"""Ed25519 verification of transaction batches: on a thread pool, or inline on the loop.

PyNaCl's C calls release the GIL, so verification can spread over threads and use every
core while the rest of the node stays on one event loop. That pays only where there are
idle cores: with several nodes sharing a machine's cores (a local testnet), a pool buys no
parallelism, only hand-off cost (submit, a worker's wake-up, a future, the loop's wake-up:
10-16 % of a loaded testnet's profile samples, docs/PERFORMANCE.md). So the number of
workers is a setting (:func:`configure`, from the node's ``verify_workers``):

- ``0``: inline. The loop verifies a batch itself, in chunks of :data:`INLINE_CHUNK`,
  yielding to other tasks between chunks (about 12 ms of work each), so no thread is
  woken and no future made.
- ``N >= 1``: a pool of N threads; the loop hands the chunks straight to it and awaits
  them, one hop per chunk (batches below :data:`INLINE_BELOW` are verified inline: a hop
  costs more than a handful of verifications).

Whichever it is, every transaction is verified exactly as before (``signature_valid``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from chain.tx import Transaction

INLINE_BELOW: Final = 64
INLINE_CHUNK: Final = 256
"""Transactions the loop verifies between two yields when verifying inline."""
MAX_WORKERS: Final = 64
DEFAULT_WORKERS: Final = max(1, min(8, os.cpu_count() or 1))

_workers: int = DEFAULT_WORKERS
_pool: ThreadPoolExecutor | None = None


def configure(workers: int | None) -> None:
    """Set the number of verification threads: None = one per core (up to 8), 0 = inline.

    ValueError outside 0..MAX_WORKERS. A pool of the old size is shut down (its queued
    work still runs).
    """
    global _workers, _pool
    count = DEFAULT_WORKERS if workers is None else workers
    if not 0 <= count <= MAX_WORKERS:
        raise ValueError(f"verify workers must be 0..{MAX_WORKERS}")
    if count != _workers and _pool is not None:
        _pool.shutdown(wait=False)
        _pool = None
    _workers = count


def workers() -> int:
    """The configured number of verification threads (0: inline)."""
    return _workers


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_workers, thread_name_prefix="sigverify")
    return _pool


def _verify_chunk(txs: Sequence[Transaction]) -> list[bool]:
    return [tx.signature_valid() for tx in txs]


def _chunks(txs: Sequence[Transaction], parts_max: int) -> list[Sequence[Transaction]]:
    """Split ``txs`` into at most ``parts_max`` chunks of at least INLINE_BELOW (but one) each."""
    parts = max(1, min(parts_max, len(txs) // INLINE_BELOW))
    size = -(-len(txs) // parts)
    return [txs[i : i + size] for i in range(0, len(txs), size)]


def verify_many(txs: Sequence[Transaction]) -> list[bool]:
    """Return, in order, whether each transaction's signature is valid (blocking; any thread)."""
    if len(txs) < INLINE_BELOW or _workers <= 1:
        return _verify_chunk(txs)
    results: list[bool] = []
    for part in _get_pool().map(_verify_chunk, _chunks(txs, _workers)):
        results.extend(part)
    return results


async def verify_async(txs: Sequence[Transaction]) -> list[bool]:
    """Return, in order, whether each transaction's signature is valid.

    For the event loop. With workers, the loop never blocks, even for one transaction;
    inline (0 workers), it verifies INLINE_CHUNK at a time and yields between chunks.
    """
    if not txs:
        return []
    if _workers == 0:
        results: list[bool] = []
        for start in range(0, len(txs), INLINE_CHUNK):
            if start:
                await asyncio.sleep(0)
            results.extend(_verify_chunk(txs[start : start + INLINE_CHUNK]))
        return results
    loop = asyncio.get_running_loop()
    pool = _get_pool()
    chunks = _chunks(txs, _workers)
    parts = await asyncio.gather(*(loop.run_in_executor(pool, _verify_chunk, chunk) for chunk in chunks))
    return [ok for part in parts for ok in part]
