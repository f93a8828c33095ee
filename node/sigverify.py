"""Parallel Ed25519 verification of transaction batches.

PyNaCl's C calls release the GIL, so verification spreads over threads and uses every
core, while the rest of the node stays on one event loop. Small batches are verified
inline: a thread hop costs more than a handful of verifications.
"""

from __future__ import annotations

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


def verify_many(txs: Sequence[Transaction]) -> list[bool]:
    """Return, in order, whether each transaction's signature is valid (blocking; any thread)."""
    if len(txs) < INLINE_BELOW or WORKERS == 1:
        return _verify_chunk(txs)
    size = -(-len(txs) // WORKERS)
    chunks = [txs[i : i + size] for i in range(0, len(txs), size)]
    results: list[bool] = []
    for part in _pool.map(_verify_chunk, chunks):
        results.extend(part)
    return results
