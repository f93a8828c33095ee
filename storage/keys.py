"""The LevelDB key layout of a node's chain store (one database under ``datadir/db``).

Every key starts with a one-byte family tag and a slash. Heights are 8-byte big-endian
unsigned integers, so the keys of one family sort by height and a range scan walks the
chain in order. Values are canonical msgpack (chain/encoding.py) unless said otherwise.

=========================  ==========================================================
key                        value
=========================  ==========================================================
``m/schema``               schema version (int), written once when the store is created
``m/genesis``              the 32-byte genesis hash; a store opened with another genesis
                           is refused
``m/chain_id``             the chain id (str)
``m/head``                 ``[height, block_hash]`` of the last committed block
                           (``[0, genesis_hash]`` before block 1)
``b/<height:8>``           the block at that height (``Block.encode()``)
``h/<block_hash:32>``      the block's height (``<height:8>`` raw bytes)
``c/<height:8>``           the commit certificate ("seen commit") that certified that
                           block (``Commit.to_wire()``)
``e/<height:8>``           the block's begin-block events (``[Event.to_wire(), ...]``)
``t/<tx_hash:32>``         ``[height, index, raw_tx, Receipt.to_wire()]``: the
                           transaction index
``s/<state_key>``          chain state: the ``chain.state`` key-value pairs, the value
                           stored as is (already canonical bytes)
``x/<index_key>``          node-side query indexes (their layout belongs to the node,
                           e.g. node/market_index.py); derived data, never consensus
=========================  ==========================================================

Everything one block changes (``b/``, ``h/``, ``c/``, ``e/``, its ``t/`` entries, its
``s/`` write set, the ``x/`` index entries the node derived from it, and ``m/head``) is
written in one atomic, synced ``WriteBatch``: after a crash the store is at the previous
block or at this one, never in between, and so are the indexes.
"""

from __future__ import annotations

from typing import Final

SCHEMA_VERSION: Final = 1
HEIGHT_BYTES: Final = 8

META_SCHEMA: Final = b"m/schema"
META_GENESIS: Final = b"m/genesis"
META_CHAIN_ID: Final = b"m/chain_id"
META_HEAD: Final = b"m/head"

BLOCK_PREFIX: Final = b"b/"
BLOCK_HASH_PREFIX: Final = b"h/"
COMMIT_PREFIX: Final = b"c/"
BLOCK_EVENTS_PREFIX: Final = b"e/"
TX_PREFIX: Final = b"t/"
STATE_PREFIX: Final = b"s/"
INDEX_PREFIX: Final = b"x/"


def height_bytes(height: int) -> bytes:
    """The fixed-width big-endian form of ``height`` (sorts numerically)."""
    return height.to_bytes(HEIGHT_BYTES, "big")


def block_key(height: int) -> bytes:
    """Key of the block at ``height``."""
    return BLOCK_PREFIX + height_bytes(height)


def block_hash_key(block_hash: bytes) -> bytes:
    """Key of the height index entry for ``block_hash``."""
    return BLOCK_HASH_PREFIX + block_hash


def commit_key(height: int) -> bytes:
    """Key of the certificate of the block at ``height``."""
    return COMMIT_PREFIX + height_bytes(height)


def block_events_key(height: int) -> bytes:
    """Key of the begin-block events of the block at ``height``."""
    return BLOCK_EVENTS_PREFIX + height_bytes(height)


def tx_key(tx_hash: bytes) -> bytes:
    """Key of the transaction index entry for ``tx_hash``."""
    return TX_PREFIX + tx_hash


def state_key(key: bytes) -> bytes:
    """Key under which the chain-state entry ``key`` is stored."""
    return STATE_PREFIX + key


def index_key(key: bytes) -> bytes:
    """Key under which the node-side index entry ``key`` is stored."""
    return INDEX_PREFIX + key
