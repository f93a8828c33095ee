"""The height record of a node-side index: which version of its layout it holds, at which height.

Every index the node derives from blocks (node/market_index.py, node/account_index.py) keeps
one, written in the same batch as its entries; a record that is missing, unreadable or of
another version means the index must be rebuilt.
"""

from __future__ import annotations

from chain.encoding import DecodeError, as_int, as_list, decode, encode
from storage.store import ChainStore


def meta_record(version: int, height: int) -> bytes:
    """The stored height record of an index of layout ``version`` at ``height``."""
    return encode([version, height])


def indexed_height(store: ChainStore, key: bytes, version: int) -> int | None:
    """The height the index with height record ``key`` is at, or None if missing or of another version."""
    raw = store.index_get(key)
    if raw is None:
        return None
    try:
        stored, height = as_list(decode(raw), "index meta", length=2)
        if as_int(stored, "index version") != version:
            return None
        return as_int(height, "index height")
    except DecodeError:
        return None
