"""The chain store: blocks, certificates, the transaction index and state in LevelDB.

A committed block is written with everything it changes in one atomic, synced batch
(see storage/keys.py for the layout), so the store is always at a complete block.
Opening a store resumes at its stored head without replaying history.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import plyvel

from chain.block import Block, Header, decode_block
from chain.encoding import DecodeError, as_bytes, as_int, as_list, as_str, decode, encode
from chain.execution import BlockResult, Event, Receipt
from chain.genesis import Genesis
from chain.tx import MAX_TX_BYTES, KindRegistry, Transaction, decode_transaction
from chain.votes import Commit
from storage import keys as k

MAX_VALUE_BYTES: Final = 80 * 1024 * 1024


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


class DbState:
    """A :class:`chain.state.StateReader` over the committed state in the database."""

    __slots__ = ("_db",)

    def __init__(self, db: Any) -> None:
        self._db = db

    def get(self, key: bytes) -> bytes | None:
        """Return the committed value at state ``key``, or None."""
        value: bytes | None = self._db.get(k.state_key(key))
        return value


class ChainStore:
    """One node's chain in LevelDB. Reads are thread-safe; only one writer commits."""

    def __init__(self, db: Any, genesis: Genesis, registry: KindRegistry, head: Head) -> None:
        self._db = db
        self._registry = registry
        self._lock = threading.Lock()
        self.genesis = genesis
        self.state = DbState(db)
        self._head = head

    # --- opening ---------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, genesis: Genesis, registry: KindRegistry) -> ChainStore:
        """Open (creating if needed) the store at ``path`` for ``genesis``.

        A new store is initialised with the genesis state in one synced batch. An
        existing one must carry the same genesis hash and schema version, else
        GenesisMismatch / StoreError; its head is read back, nothing is replayed.
        """
        try:
            db = plyvel.DB(str(path), create_if_missing=True, paranoid_checks=True)
        except plyvel.Error as exc:
            raise StoreError(_open_failure(path, exc)) from None
        try:
            head = cls._init_or_check(db, genesis)
        except BaseException:
            db.close()
            raise
        return cls(db, genesis, registry, head)

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
                for key, value in genesis.initial_state().items():
                    batch.put(k.state_key(key), value)
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

    def close(self) -> None:
        """Close the database (idempotent)."""
        if not self._db.closed:
            self._db.close()

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
        """The block at ``height``, or None."""
        raw = self.block_bytes(height)
        return None if raw is None else decode_block(raw, self._registry)

    def height_of(self, block_hash: bytes) -> int | None:
        """The height of the block with ``block_hash``, or None if not committed."""
        raw = self._db.get(k.block_hash_key(block_hash))
        return None if raw is None else int.from_bytes(raw, "big")

    def block_by_hash(self, block_hash: bytes) -> Block | None:
        """The block with ``block_hash``, or None."""
        height = self.height_of(block_hash)
        return None if height is None else self.block(height)

    def commit(self, height: int) -> Commit | None:
        """The certificate ("seen commit") of the block at ``height``, or None."""
        raw = self._db.get(k.commit_key(height))
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
        out: list[tuple[bytes, bytes]] = []
        if limit <= 0 or start >= stop:
            return out
        skip = len(k.STATE_PREFIX)
        with self._db.iterator(start=k.state_key(start), stop=k.state_key(stop)) as it:
            for key, value in it:
                out.append((key[skip:], value))
                if len(out) >= limit:
                    break
        return out

    def index_get(self, key: bytes) -> bytes | None:
        """The node-side index entry at ``key`` (without the ``x/`` family tag), or None."""
        value: bytes | None = self._db.get(k.index_key(key))
        return value

    def index_range(self, start: bytes, stop: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        """Index entries with ``start <= key < stop`` in key order, at most ``limit`` of them.

        Keys are returned without the ``x/`` family tag.
        """
        out: list[tuple[bytes, bytes]] = []
        if limit <= 0 or start >= stop:
            return out
        skip = len(k.INDEX_PREFIX)
        with self._db.iterator(start=k.index_key(start), stop=k.index_key(stop)) as it:
            for key, value in it:
                out.append((key[skip:], value))
                if len(out) >= limit:
                    break
        return out

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
            if len(result.receipts) != len(block.txs):
                raise StoreError("receipts do not match the block's transactions")
            height_key = k.height_bytes(header.height)
            with self._db.write_batch(transaction=True, sync=True) as batch:
                batch.put(k.block_key(header.height), block.encode())
                batch.put(k.block_hash_key(header.hash), height_key)
                batch.put(k.commit_key(header.height), encode(certificate.to_wire()))
                if result.block_events:
                    batch.put(k.block_events_key(header.height), encode([e.to_wire() for e in result.block_events]))
                for index, (tx, receipt) in enumerate(zip(block.txs, result.receipts, strict=True)):
                    batch.put(k.tx_key(tx.hash), encode([header.height, index, tx.raw, receipt.to_wire()]))
                for key, value in result.writes.items():
                    if value is None:
                        batch.delete(k.state_key(key))
                    else:
                        batch.put(k.state_key(key), value)
                if index_writes:
                    _put_index(batch, index_writes)
                batch.put(k.META_HEAD, encode([header.height, header.hash]))
            self._head = Head(header.height, header.hash, header)
            return self._head


def _put_index(batch: Any, writes: Mapping[bytes, bytes | None]) -> None:
    for key, value in writes.items():
        if value is None:
            batch.delete(k.index_key(key))
        else:
            batch.put(k.index_key(key), value)
