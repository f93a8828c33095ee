"""The chain store: blocks, certificates, the transaction index and state in LevelDB.

A committed block is written with everything it changes in one atomic, synced batch
(see storage/keys.py for the layout), so the store is always at a complete block.
Opening a store resumes at its stored head without replaying history.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import plyvel

from chain.block import Block, Header, decode_block, decode_header
from chain.encoding import DecodeError, Primitive, as_bytes, as_int, as_list, as_str, decode, encode
from chain.execution import BlockResult, Event, Receipt
from chain.genesis import Genesis
from chain.state_tree import NodeRef, StateProof, TreeError, apply_writes, read_at
from chain.tx import MAX_TX_BYTES, KindRegistry, Transaction, decode_transaction
from chain.votes import Commit
from storage import keys as k

MAX_VALUE_BYTES: Final = 80 * 1024 * 1024
NODE_CACHE_BYTES: Final = 64 * 1024 * 1024
"""Default bound of the in-memory cache of state-tree nodes."""
RECENT_BLOCKS: Final = 16
"""How many of the newest committed blocks :meth:`ChainStore.block` answers without decoding."""
_CACHE_ENTRY_OVERHEAD: Final = 240
"""Bytes of Python objects per cached node beyond its key and value: two bytes headers (33 B
each), the OrderedDict's entry, linked-list node and table share (larger under eviction
churn), pymalloc rounding; 217-227 B measured with tracemalloc on CPython 3.11 (64-bit), so
``max_bytes`` bounds the real memory. It was 100, and a "64 MiB" cache held ~85 MiB."""


MAX_OPEN_FILES: Final = 256
"""Default of :attr:`DbOptions.max_open_files` (LevelDB's own is 1,000): the table cache holds
246 tables, about 7 MiB of index blocks with 2 MiB tables (docs/PERFORMANCE.md, session 8, h-mem8)."""
MAX_OPEN_FILES_RANGE: Final = (74, 50_000)
"""LevelDB clips ``max_open_files`` to this range silently; the store refuses values outside it."""
BLOCK_CACHE_RANGE: Final = (1024 * 1024, 16 * 1024**3)
"""Accepted sizes of LevelDB's block cache (bytes)."""
COMPRESSIONS: Final = ("snappy", "none")
"""How LevelDB may write new table blocks; a block records its own, so either reads both."""


@dataclass(frozen=True, slots=True)
class DbOptions:
    """How the store opens LevelDB: the bounds of LevelDB's own (untraced, C++) memory.

    LevelDB keeps every table file it has open in its table cache with the table's index
    block decompressed in the heap (about 1-2 % of the table's bytes with 4 KiB blocks) and
    the file mapped; the cache holds ``max_open_files - 10`` tables, so until a chain has that
    many tables LevelDB's heap grows with the chain on disk. ``block_cache_bytes`` bounds the
    cache of decompressed data blocks. Neither changes a stored byte; both only trade memory
    for re-reads. ``compression`` is how new table blocks are written (each block records its
    own, so a database written either way opens either way); compacting the state tree's
    hashes with snappy costs CPU and saves little, so the default is none (docs/PERFORMANCE.md,
    session 9). Raises ValueError for a value LevelDB would clip or refuse.
    """

    max_open_files: int = MAX_OPEN_FILES
    block_cache_bytes: int = 8 * 1024 * 1024
    compression: str = "none"

    def __post_init__(self) -> None:
        lo, hi = MAX_OPEN_FILES_RANGE
        if type(self.max_open_files) is not int or not lo <= self.max_open_files <= hi:
            raise ValueError(f"max_open_files must be an integer in {lo}..{hi}, got {self.max_open_files!r}")
        lo, hi = BLOCK_CACHE_RANGE
        if type(self.block_cache_bytes) is not int or not lo <= self.block_cache_bytes <= hi:
            raise ValueError(f"block_cache_bytes must be an integer in {lo}..{hi}, got {self.block_cache_bytes!r}")
        if self.compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {', '.join(COMPRESSIONS)}, got {self.compression!r}")


@dataclass(frozen=True, slots=True)
class LevelDbStats:
    """What LevelDB reports of its own state (``DB.get_property``), for the memory diagnostics."""

    tables_by_level: tuple[int, ...]
    """Table files at levels 0..6."""
    memory_bytes: int
    """LevelDB's ``approximate-memory-usage``: its memtables and block cache (not the table cache)."""

    @property
    def tables(self) -> int:
        """Table files at all levels."""
        return sum(self.tables_by_level)


def open_db(path: Path, options: DbOptions) -> Any:
    """Open (creating if needed) the LevelDB at ``path`` with ``options``; plyvel.Error if it cannot."""
    return plyvel.DB(
        str(path),
        create_if_missing=True,
        paranoid_checks=True,
        max_open_files=options.max_open_files,
        lru_cache_size=options.block_cache_bytes,
        compression=None if options.compression == "none" else options.compression,
    )


def leveldb_stats(db: Any) -> LevelDbStats:
    """The table counts per level and the approximate memory of an open plyvel DB."""
    levels = tuple(int(db.get_property(b"leveldb.num-files-at-level%d" % level) or 0) for level in range(7))
    memory = int(db.get_property(b"leveldb.approximate-memory-usage") or 0)
    return LevelDbStats(levels, memory)


class StoreError(Exception):
    """The store cannot be opened or used (corrupt, foreign or locked database)."""


def _open_failure(path: Path, exc: Exception) -> str:
    """Why LevelDB would not open ``path``, as plain text (plyvel's messages are bytes)."""
    raw = exc.args[0] if exc.args else str(exc)
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    if text.startswith("IO error: lock ") or "LOCK: already held" in text:
        from storage.lock_owner import in_use_message

        return in_use_message(path)
    return f"cannot open the database at {path}: {text}"


class GenesisMismatch(StoreError):
    """The database belongs to a chain with another genesis."""


class PrunedHeight(StoreError):
    """The state at that height is no longer kept (its tree version was pruned)."""

    def __init__(self, height: int, oldest: int) -> None:
        super().__init__(f"the state at height {height} was pruned; the oldest height kept is {oldest}")
        self.height = height
        self.oldest = oldest


def root_to_wire(root: NodeRef | None) -> Primitive:
    """The stored form of a tree root reference."""
    return [] if root is None else [root.version, root.hash, root.leaf]


def root_from_wire(value: Primitive) -> NodeRef | None:
    """Parse a stored tree root reference."""
    f = as_list(value, "tree root", max_len=3)
    if not f:
        return None
    if len(f) != 3 or type(f[2]) is not bool:
        raise DecodeError("tree root: expected [version, hash, leaf]")
    return NodeRef(as_int(f[0], "root version"), as_bytes(f[1], "root hash", size=32), f[2])


@dataclass(frozen=True, slots=True)
class TxRecord:
    """Where a committed transaction sits and what happened to it."""

    height: int
    index: int
    """Position in the block's transaction list."""
    tx: Transaction
    receipt: Receipt


@dataclass(frozen=True, slots=True)
class Head:
    """The last committed block (height 0 and the genesis hash before block 1)."""

    height: int
    hash: bytes
    header: Header | None
    """None at height 0."""


class NodeCache:
    """A bounded in-memory cache of stored state-tree nodes, by node key.

    A node is never changed once written under its key (a new version gets a new key), so
    a cached copy is always the stored one; pruning discards what it deletes. Holds at most
    about ``max_bytes``, evicting the oldest inserted first: every block re-inserts the new
    versions of the nodes near the root, so the hot part of the tree stays cached.
    """

    __slots__ = ("_bytes", "_lock", "_max", "_nodes")

    def __init__(self, max_bytes: int) -> None:
        self._nodes: OrderedDict[bytes, bytes] = OrderedDict()
        self._bytes = 0
        self._max = max_bytes
        self._lock = threading.Lock()

    def get(self, node_key: bytes) -> bytes | None:
        """The cached node under ``node_key``, or None."""
        return self._nodes.get(node_key)

    def put(self, node_key: bytes, node: bytes) -> None:
        """Remember ``node`` as the one stored under ``node_key``."""
        self.put_many({node_key: node})

    def put_many(self, nodes: Mapping[bytes, bytes]) -> None:
        """Remember each of ``nodes`` (node key -> node) as the one stored under its key.

        One pass under the lock, then the oldest are evicted down to the bound: a block's
        new nodes cost a dict insert each, not a call and a lock each.
        """
        with self._lock:
            cached = self._nodes
            added = 0
            for node_key, node in nodes.items():
                if node_key not in cached:
                    cached[node_key] = node
                    added += len(node_key) + len(node) + _CACHE_ENTRY_OVERHEAD
            self._bytes += added
            while self._bytes > self._max and cached:
                old_key, old = cached.popitem(last=False)
                self._bytes -= len(old_key) + len(old) + _CACHE_ENTRY_OVERHEAD

    def discard(self, node_key: bytes) -> None:
        """Forget the node under ``node_key`` (it was deleted from the store)."""
        with self._lock:
            old = self._nodes.pop(node_key, None)
            if old is not None:
                self._bytes -= len(node_key) + len(old) + _CACHE_ENTRY_OVERHEAD

    def __len__(self) -> int:
        return len(self._nodes)


class DbNodes:
    """A :class:`chain.state_tree.NodeReader` over the tree nodes in the database, through a cache."""

    __slots__ = ("_cache", "_db")

    def __init__(self, db: Any, cache: NodeCache) -> None:
        self._db = db
        self._cache = cache

    def get_node(self, node_key: bytes) -> bytes | None:
        """Return the stored tree node under ``node_key``, or None."""
        node = self._cache.get(node_key)
        if node is None:
            node = self._db.get(k.tree_node_key(node_key))
            if node is not None:
                self._cache.put(node_key, node)
        return node


class DbState(DbNodes):
    """A :class:`chain.state.CommittedState` over the committed state in the database."""

    __slots__ = ("tree_root",)

    def __init__(self, db: Any, cache: NodeCache, tree_root: NodeRef | None) -> None:
        super().__init__(db, cache)
        self.tree_root = tree_root
        """The state tree's root at the stored head (the store moves it with every commit)."""

    def get(self, key: bytes) -> bytes | None:
        """Return the committed value at state ``key``, or None."""
        value: bytes | None = self._db.get(k.state_key(key))
        return value


def _range(
    db: Any, family: bytes, start: bytes, stop: bytes, limit: int, *, reverse: bool = False
) -> list[tuple[bytes, bytes]]:
    """Pairs of one key family with ``start <= key < stop`` (keys without the family tag), at most ``limit``."""
    out: list[tuple[bytes, bytes]] = []
    if limit <= 0 or start >= stop:
        return out
    skip = len(family)
    with db.iterator(start=family + start, stop=family + stop, reverse=reverse) as it:
        for key, value in it:
            out.append((key[skip:], value))
            if len(out) >= limit:
                break
    return out


class StateSnapshot:
    """Committed state frozen at one complete block (a LevelDB snapshot): every read agrees.

    ``height`` is the block the snapshot is at; reads never see a later commit. Close it
    (or use :meth:`ChainStore.snapshot` as a context manager) to release the snapshot.
    """

    __slots__ = ("_snap", "height")

    def __init__(self, snap: Any) -> None:
        self._snap = snap
        head = as_list(decode(snap.get(k.META_HEAD) or b""), "head", length=2)
        self.height = as_int(head[0], "head height")
        """The height of the block the snapshot is at."""

    def get(self, key: bytes) -> bytes | None:
        """The value of state ``key`` at the snapshot's height, or None."""
        value: bytes | None = self._snap.get(k.state_key(key))
        return value

    def items(self, prefix: bytes, start: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """State pairs whose key starts with ``prefix`` (from ``start`` on, if given), in key order."""
        skip = len(k.STATE_PREFIX)
        full = k.state_key(prefix)
        lo = full if start is None else max(k.state_key(start), full)
        with self._snap.iterator(start=lo) as it:
            for key, value in it:
                if not key.startswith(full):
                    return
                yield key[skip:], value

    def index_get(self, key: bytes) -> bytes | None:
        """The node-side index entry ``key`` at the snapshot's height (written with its block), or None."""
        value: bytes | None = self._snap.get(k.index_key(key))
        return value

    def index_range(self, start: bytes, stop: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        """Index entries with ``start <= key < stop`` at the snapshot's height, in key order, at most ``limit``."""
        return _range(self._snap, k.INDEX_PREFIX, start, stop, limit)

    def close(self) -> None:
        """Release the snapshot (idempotent)."""
        self._snap.close()


_TX_RECORD_HEAD: Final = b"\x94"
"""The canonical (msgpack fixarray) header of a 4-element list."""


def encode_tx_record(height: int, index: int, raw_tx: bytes, receipt_leaf: bytes) -> bytes:
    """The stored record of a committed transaction: ``encode([height, index, raw_tx, receipt])``.

    ``receipt_leaf`` is the receipt's canonical encoding (``Receipt.encode()``, already made for
    the results root), spliced in rather than encoded again; the bytes equal encoding the
    whole list, because a canonical list is its header followed by its items' encodings.
    """
    return _TX_RECORD_HEAD + encode([height, index, raw_tx])[1:] + receipt_leaf


class ChainStore:
    """One node's chain in LevelDB. Reads are thread-safe; only one writer commits."""

    def __init__(
        self,
        db: Any,
        genesis: Genesis,
        registry: KindRegistry,
        head: Head,
        node_cache_bytes: int = NODE_CACHE_BYTES,
        db_options: DbOptions | None = None,
    ) -> None:
        self._db = db
        self.db_options = db_options or DbOptions()
        """The options the database was opened with."""
        self._registry = registry
        self._lock = threading.Lock()
        self.genesis = genesis
        self.node_cache = NodeCache(node_cache_bytes)
        """Tree nodes recently written or read (both the executor's and the proofs' reads go through it)."""
        self.nodes = DbNodes(db, self.node_cache)
        self._head = head
        self._recent: dict[int, Block] = {}
        """The last RECENT_BLOCKS committed blocks as this node committed them (blocks are immutable)."""
        self.state = DbState(db, self.node_cache, self._read_root(head.height))
        raw = db.get(k.META_PRUNED)
        self._oldest = 0 if raw is None else as_int(decode(raw), "oldest kept version")

    # --- opening ---------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path,
        genesis: Genesis,
        registry: KindRegistry,
        node_cache_bytes: int = NODE_CACHE_BYTES,
        db_options: DbOptions | None = None,
    ) -> ChainStore:
        """Open (creating if needed) the store at ``path`` for ``genesis``.

        A new store is initialised with the genesis state in one synced batch. An
        existing one must carry the same genesis hash and schema version, else
        GenesisMismatch / StoreError; its head is read back, nothing is replayed.
        ``node_cache_bytes`` bounds the in-memory cache of state-tree nodes (0: none);
        ``db_options`` bound LevelDB's own memory (default :class:`DbOptions`).
        """
        options = db_options or DbOptions()
        try:
            db = open_db(path, options)
        except plyvel.Error as exc:
            raise StoreError(_open_failure(path, exc)) from None
        try:
            head = cls._init_or_check(db, genesis)
        except BaseException:
            db.close()
            raise
        return cls(db, genesis, registry, head, node_cache_bytes, options)

    @staticmethod
    def _init_or_check(db: Any, genesis: Genesis) -> Head:
        stored_genesis = db.get(k.META_GENESIS)
        if stored_genesis is None:
            with db.iterator(include_value=False) as it:
                not_empty = next(it, None) is not None
            if not_empty:
                raise StoreError("the database is not empty but has no genesis record (corrupt or foreign)")
            with db.write_batch(transaction=True, sync=True) as batch:
                batch.put(k.META_SCHEMA, encode(k.SCHEMA_VERSION))
                batch.put(k.META_CHAIN_ID, encode(genesis.chain_id))
                batch.put(k.META_GENESIS, genesis.hash)
                initial = dict(genesis.initial_state().items())
                for key, value in initial.items():
                    batch.put(k.state_key(key), value)
                tree = apply_writes(DbNodes(db, NodeCache(0)), None, 0, initial)
                for node_key, node in tree.new_nodes.items():
                    batch.put(k.tree_node_key(node_key), node)
                batch.put(k.tree_root_key(0), encode(root_to_wire(tree.root)))
                batch.put(k.META_HEAD, encode([0, genesis.hash]))
            return Head(0, genesis.hash, None)
        if stored_genesis != genesis.hash:
            raise GenesisMismatch(
                f"the database belongs to genesis {stored_genesis.hex()}, not {genesis.hash.hex()} "
                "(a datadir of another chain)"
            )
        try:
            schema = as_int(decode(db.get(k.META_SCHEMA) or b""), "schema version")
            if schema != k.SCHEMA_VERSION:
                raise StoreError(f"database schema version {schema}, this node reads {k.SCHEMA_VERSION}")
            head_wire = as_list(decode(db.get(k.META_HEAD) or b""), "head", length=2)
            height = as_int(head_wire[0], "head height")
            head_hash = as_bytes(head_wire[1], "head hash", size=32)
            header = None
            if height > 0:
                raw = db.get(k.block_key(height))
                if raw is None:
                    raise StoreError(f"head block {height} is missing")
                header = Header.from_wire(as_list(decode(raw, MAX_VALUE_BYTES), "block", length=4)[0])
                if header.hash != head_hash:
                    raise StoreError("head block hash does not match the head record")
        except DecodeError as exc:
            raise StoreError(f"corrupt metadata: {exc}") from None
        return Head(height, head_hash, header)

    def _read_root(self, version: int) -> NodeRef | None:
        raw = self._db.get(k.tree_root_key(version))
        if raw is None:
            raise StoreError(f"the state tree has no root for version {version}")
        try:
            return root_from_wire(decode(raw))
        except DecodeError as exc:
            raise StoreError(f"corrupt state-tree root of version {version}: {exc}") from None

    def close(self) -> None:
        """Close the database (idempotent)."""
        if not self._db.closed:
            self._db.close()

    def leveldb_stats(self) -> LevelDbStats | None:
        """LevelDB's table counts and approximate memory (None once the store is closed)."""
        if self._db.closed:
            return None
        try:
            return leveldb_stats(self._db)
        except RuntimeError:  # closed by another thread in between
            return None

    # --- reads -----------------------------------------------------------------------

    @property
    def head(self) -> Head:
        """The last committed block."""
        return self._head

    @property
    def height(self) -> int:
        """The height of the last committed block (0 before block 1)."""
        return self._head.height

    def block_bytes(self, height: int) -> bytes | None:
        """The canonical bytes of the block at ``height``, or None."""
        if not 1 <= height <= self._head.height:
            return None
        value: bytes | None = self._db.get(k.block_key(height))
        return value

    def block(self, height: int) -> Block | None:
        """The block at ``height``, or None.

        The last few committed blocks are answered from memory: the object this node
        committed, equal to what decoding its stored bytes gives, without decoding again
        (clients and peers ask for the newest blocks most, the bench for every one).
        """
        if not 1 <= height <= self._head.height:
            return None
        recent = self._recent.get(height)
        if recent is not None:
            return recent
        raw = self.block_bytes(height)
        return None if raw is None else decode_block(raw, self._registry)

    def header_bytes(self, height: int) -> bytes | None:
        """The canonical bytes of the header at ``height``, or None."""
        if not 1 <= height <= self._head.height:
            return None
        value: bytes | None = self._db.get(k.header_key(height))
        return value

    def header(self, height: int) -> Header | None:
        """The header at ``height`` (without decoding the block), or None."""
        raw = self.header_bytes(height)
        return None if raw is None else decode_header(raw)

    def result_leaf_hashes(self, height: int) -> list[bytes]:
        """The leaf hashes of the results tree of the block at ``height`` (leaf 0: block events)."""
        raw = self._db.get(k.result_leaves_key(height))
        if raw is None or len(raw) % 32:
            raise StoreError(f"no results leaves stored for height {height}")
        return [raw[i : i + 32] for i in range(0, len(raw), 32)]

    @property
    def oldest_state_height(self) -> int:
        """The oldest height whose state can still be read and proven."""
        return self._oldest

    def tree_root_at(self, height: int) -> NodeRef | None:
        """The state tree's root after block ``height`` (0: genesis).

        PrunedHeight below the oldest kept version; StoreError above the head.
        """
        if height > self._head.height:
            raise StoreError(f"height {height} is above the head {self._head.height}")
        if height < self._oldest:
            raise PrunedHeight(height, self._oldest)
        return self._read_root(height)

    def state_at(self, key: bytes, height: int) -> tuple[bytes | None, StateProof]:
        """The value of state ``key`` after block ``height`` (None if absent) with its proof.

        Read from the versioned tree, so any retained height is answered; PrunedHeight if
        the height (or, during pruning, one of its nodes) is no longer kept.
        """
        root = self.tree_root_at(height)
        try:
            return read_at(self.nodes, root, key)
        except TreeError:
            if height < self._oldest:
                raise PrunedHeight(height, self._oldest) from None
            raise

    def height_of(self, block_hash: bytes) -> int | None:
        """The height of the block with ``block_hash``, or None if not committed."""
        raw = self._db.get(k.block_hash_key(block_hash))
        return None if raw is None else int.from_bytes(raw, "big")

    def block_by_hash(self, block_hash: bytes) -> Block | None:
        """The block with ``block_hash``, or None."""
        height = self.height_of(block_hash)
        return None if height is None else self.block(height)

    def commit_bytes(self, height: int) -> bytes | None:
        """The stored encoding of the certificate of the block at ``height`` (as written), or None."""
        return self._db.get(k.commit_key(height))

    def commit(self, height: int) -> Commit | None:
        """The certificate ("seen commit") of the block at ``height``, or None."""
        raw = self.commit_bytes(height)
        return None if raw is None else Commit.from_wire(decode(raw))

    def block_events(self, height: int) -> tuple[Event, ...]:
        """The begin-block events of the block at ``height``."""
        raw = self._db.get(k.block_events_key(height))
        if raw is None:
            return ()
        return tuple(Event.from_wire(e) for e in as_list(decode(raw), "block events", max_len=1_000_000))

    def tx(self, tx_hash: bytes) -> TxRecord | None:
        """The committed transaction ``tx_hash`` with its position and receipt, or None."""
        raw = self._db.get(k.tx_key(tx_hash))
        if raw is None:
            return None
        f = as_list(decode(raw), "tx record", length=4)
        tx = decode_transaction(as_bytes(f[2], "raw tx", max_len=MAX_TX_BYTES), self._registry)
        return TxRecord(as_int(f[0], "height"), as_int(f[1], "index"), tx, Receipt.from_wire(f[3]))

    def has_tx(self, tx_hash: bytes) -> bool:
        """True if ``tx_hash`` is committed."""
        return self._db.get(k.tx_key(tx_hash)) is not None

    def state_items(self, prefix: bytes = b"", limit: int | None = None) -> list[tuple[bytes, bytes]]:
        """Committed state pairs whose key starts with ``prefix``, in key order (at most ``limit``)."""
        start = len(k.STATE_PREFIX)
        out: list[tuple[bytes, bytes]] = []
        with self._db.iterator(prefix=k.state_key(prefix)) as it:
            for key, value in it:
                if limit is not None and len(out) >= limit:
                    break
                out.append((key[start:], value))
        return out

    def state_range(self, start: bytes, stop: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        """Committed state pairs with ``start <= key < stop`` in key order, at most ``limit``."""
        return _range(self._db, k.STATE_PREFIX, start, stop, limit)

    @contextmanager
    def snapshot(self) -> Iterator[StateSnapshot]:
        """Committed state frozen at the stored head, for reads that must agree (totals, pages)."""
        snap = StateSnapshot(self._db.snapshot())
        try:
            yield snap
        finally:
            snap.close()

    def index_get(self, key: bytes) -> bytes | None:
        """The node-side index entry at ``key`` (without the ``x/`` family tag), or None."""
        value: bytes | None = self._db.get(k.index_key(key))
        return value

    def index_range(self, start: bytes, stop: bytes, limit: int, *, reverse: bool = False) -> list[tuple[bytes, bytes]]:
        """Index entries with ``start <= key < stop`` in key order (``reverse``: from the end), at most ``limit``.

        Keys are returned without the ``x/`` family tag.
        """
        return _range(self._db, k.INDEX_PREFIX, start, stop, limit, reverse=reverse)

    def write_index(self, writes: Mapping[bytes, bytes | None]) -> None:
        """Apply index ``writes`` (None deletes) in one atomic, synced batch (index rebuilds)."""
        with self._lock, self._db.write_batch(transaction=True, sync=True) as batch:
            _put_index(batch, writes)

    def meta_chain_id(self) -> str:
        """The chain id recorded when the store was created."""
        return as_str(decode(self._db.get(k.META_CHAIN_ID) or b""), "chain id", max_len=64)

    # --- the one write ---------------------------------------------------------------

    def commit_block(
        self,
        block: Block,
        result: BlockResult,
        certificate: Commit,
        index_writes: Mapping[bytes, bytes | None] | None = None,
    ) -> Head:
        """Persist ``block``, its certificate, tx index, state writes, ``index_writes`` and the new head.

        Everything goes into one atomic batch written with sync=True: when this returns
        the block is durable; if the process dies before, none of it is visible. So the
        node's derived indexes (``index_writes``, keys without the ``x/`` tag, None
        deletes) are always exactly as of the stored head. The
        caller has validated the block (chain.execution) and the certificate; this only
        checks that the block extends the head and the certificate names it.
        """
        header = block.header
        with self._lock:
            head = self._head
            if header.height != head.height + 1 or header.parent_hash != head.hash:
                raise StoreError(f"block {header.height} does not extend the stored head {head.height}")
            if certificate.height != header.height or certificate.block_hash != header.hash:
                raise StoreError("the certificate does not certify this block")
            if len(result.receipts) != len(block.txs) or len(result.receipt_leaves) != len(block.txs):
                raise StoreError("receipts do not match the block's transactions")
            height_key = k.height_bytes(header.height)
            tree = result.tree
            with self._db.write_batch(transaction=True, sync=True) as batch:
                batch.put(k.block_key(header.height), block.encode())
                batch.put(k.header_key(header.height), header.encode())
                batch.put(k.result_leaves_key(header.height), b"".join(result.result_leaf_hashes))
                for node_key, node in tree.new_nodes.items():
                    batch.put(k.tree_node_key(node_key), node)
                if tree.stale:
                    batch.put(k.tree_stale_key(header.height), encode(list(tree.stale)))
                batch.put(k.tree_root_key(header.height), encode(root_to_wire(tree.root)))
                batch.put(k.block_hash_key(header.hash), height_key)
                batch.put(k.commit_key(header.height), encode(certificate.to_wire()))
                if result.block_events:
                    batch.put(k.block_events_key(header.height), encode([e.to_wire() for e in result.block_events]))
                for index, (tx, leaf) in enumerate(zip(block.txs, result.receipt_leaves, strict=True)):
                    batch.put(k.tx_key(tx.hash), encode_tx_record(header.height, index, tx.raw, leaf))
                for key, value in result.writes.items():
                    if value is None:
                        batch.delete(k.state_key(key))
                    else:
                        batch.put(k.state_key(key), value)
                if index_writes:
                    _put_index(batch, index_writes)
                batch.put(k.META_HEAD, encode([header.height, header.hash]))
            self._head = Head(header.height, header.hash, header)
            self._recent[header.height] = block
            self._recent.pop(header.height - RECENT_BLOCKS, None)
            self.state.tree_root = tree.root
            self.node_cache.put_many(tree.new_nodes)
            return self._head

    # --- pruning ---------------------------------------------------------------------

    def prune(self, keep_versions: int, max_versions: int = 64) -> int:
        """Delete the tree nodes and roots that only versions older than the last ``keep_versions`` need.

        Works through at most ``max_versions`` versions per call, each call one atomic
        batch, so it can run in the background in small steps. Returns the oldest height
        kept afterwards. Blocks, receipts and the current state are never pruned.
        """
        target = max(0, self._head.height - keep_versions + 1)
        with self._lock:
            start = self._oldest
            if target <= start:
                return start
            end = min(target, start + max_versions)
            pruned: list[bytes] = []
            with self._db.write_batch(transaction=True, sync=True) as batch:
                for version in range(start + 1, end + 1):
                    raw = self._db.get(k.tree_stale_key(version))
                    if raw is not None:
                        for node_key in as_list(decode(raw, MAX_VALUE_BYTES), "stale nodes"):
                            stale = as_bytes(node_key, "stale node key", max_len=64)
                            batch.delete(k.tree_node_key(stale))
                            pruned.append(stale)
                        batch.delete(k.tree_stale_key(version))
                    batch.delete(k.tree_root_key(version - 1))
                batch.put(k.META_PRUNED, encode(end))
            self._oldest = end
            for node_key in pruned:
                self.node_cache.discard(node_key)
            return end


def _put_index(batch: Any, writes: Mapping[bytes, bytes | None]) -> None:
    for key, value in writes.items():
        if value is None:
            batch.delete(k.index_key(key))
        else:
            batch.put(k.index_key(key), value)
