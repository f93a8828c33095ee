"""Parallel Ed25519 verification of transaction batches.

PyNaCl's C calls release the GIL, so verification spreads over threads and uses every
core, while the rest of the node stays on one event loop. Small batches are verified
inline: a thread hop costs more than a handful of verifications.

The event loop calls :func:`verify_async`: it hands the chunks straight to the pool's
threads and awaits them, one hop per chunk; the loop never blocks on a verification and no
thread sits waiting for the others (``asyncio.to_thread(verify_many, ...)`` cost a second
hop and a blocked thread per batch).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from chain.tx import Transaction

INLINE_BELOW: Final = 64
WORKERS: Final = max(1, min(8, os.cpu_count() or 1))
_pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="sigverify")


def _verify_chunk(txs: Sequence[Transaction]) -> list[bool]:
    return [tx.signature_valid() for tx in txs]


def _chunks(txs: Sequence[Transaction]) -> list[Sequence[Transaction]]:
    """Split ``txs`` into at most WORKERS chunks of at least INLINE_BELOW (but one) each."""
    parts = max(1, min(WORKERS, len(txs) // INLINE_BELOW))
    size = -(-len(txs) // parts)
    return [txs[i : i + size] for i in range(0, len(txs), size)]


def verify_many(txs: Sequence[Transaction]) -> list[bool]:
    """Return, in order, whether each transaction's signature is valid (blocking; any thread)."""
    if len(txs) < INLINE_BELOW or WORKERS == 1:
        return _verify_chunk(txs)
    results: list[bool] = []
    for part in _pool.map(_verify_chunk, _chunks(txs)):
        results.extend(part)
    return results


async def verify_async(txs: Sequence[Transaction]) -> list[bool]:
    """Return, in order, whether each transaction's signature is valid, verified on the pool.

    For the event loop: the loop never blocks, even for one transaction.
    """
    if not txs:
        return []
    loop = asyncio.get_running_loop()
    parts = await asyncio.gather(*(loop.run_in_executor(_pool, _verify_chunk, chunk) for chunk in _chunks(txs)))
    return [ok for part in parts for ok in part]
