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
``d/<height:8>``           the block's header alone (``Header.encode()``), for light
                           clients and proofs that need no transactions
``q/<height:8>``           the leaf hashes of the block's results tree, 32 bytes each,
                           concatenated (raw bytes): leaf 0 begin-block events, then one
                           per receipt (chain.execution.result_leaves)
``n/<node_key>``           a state-tree node (chain/state_tree.py's stored form, raw
                           bytes); ``node_key`` = ``<version:8><depth:1><packed path>``.
                           A leaf is ``L <u32 key length> key value``; an internal node
                           ``I <bitmap:2> <leafmap:2>`` then its children's hashes (32
                           each), versions (8 each) and the key hashes of its leaf children
                           (32 each), each run in nibble order (schema 3)
``r/<height:8>``           the state-tree root of that version: ``[version, hash, leaf]``
                           of the root node, or ``[]`` for an empty state
``z/<height:8>``           the keys of the tree nodes that block replaced (``[key, ...]``):
                           deleted with it once no retained version needs them
``m/pruned``               the oldest tree version kept (older roots and nodes pruned)
=========================  ==========================================================

Everything one block changes (``b/``, ``d/``, ``h/``, ``c/``, ``e/``, ``q/``, its ``t/``
entries, its ``s/`` write set, its state-tree nodes ``n/``, ``r/`` and ``z/``, the ``x/``
index entries the node derived from it, and ``m/head``) is
written in one atomic, synced ``WriteBatch``: after a crash the store is at the previous
block or at this one, never in between, and so are the indexes.
"""

from __future__ import annotations

from typing import Final

SCHEMA_VERSION: Final = 3
"""3: internal tree nodes carry their leaf children's key hashes (2026-12-02); 2: the state tree."""
HEIGHT_BYTES: Final = 8

META_SCHEMA: Final = b"m/schema"
META_GENESIS: Final = b"m/genesis"
META_CHAIN_ID: Final = b"m/chain_id"
META_HEAD: Final = b"m/head"
META_PRUNED: Final = b"m/pruned"

BLOCK_PREFIX: Final = b"b/"
BLOCK_HASH_PREFIX: Final = b"h/"
COMMIT_PREFIX: Final = b"c/"
BLOCK_EVENTS_PREFIX: Final = b"e/"
TX_PREFIX: Final = b"t/"
STATE_PREFIX: Final = b"s/"
INDEX_PREFIX: Final = b"x/"
HEADER_PREFIX: Final = b"d/"
RESULT_LEAVES_PREFIX: Final = b"q/"
TREE_NODE_PREFIX: Final = b"n/"
TREE_ROOT_PREFIX: Final = b"r/"
TREE_STALE_PREFIX: Final = b"z/"


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


def header_key(height: int) -> bytes:
    """Key of the header of the block at ``height``."""
    return HEADER_PREFIX + height_bytes(height)


def result_leaves_key(height: int) -> bytes:
    """Key of the results-tree leaf hashes of the block at ``height``."""
    return RESULT_LEAVES_PREFIX + height_bytes(height)


def tree_node_key(node_key: bytes) -> bytes:
    """Key under which the state-tree node ``node_key`` is stored."""
    return TREE_NODE_PREFIX + node_key


def tree_root_key(version: int) -> bytes:
    """Key of the state-tree root of ``version`` (a block height; 0 is the genesis state)."""
    return TREE_ROOT_PREFIX + height_bytes(version)


def tree_stale_key(version: int) -> bytes:
    """Key of the list of tree nodes that ``version`` replaced."""
    return TREE_STALE_PREFIX + height_bytes(version)
