"""The account history index: every committed transaction an account sent or is named in.

An account is in a transaction's history if it sent it, or if one of the transaction's
events names it under an account attribute (:data:`ACCOUNT_ATTRS`: a transfer's ``to``, an
order's ``buyer`` and ``merchant``, an offer's ``maker`` and ``taker``, ...). Both come from
the block and its receipts, so a block's entries are a pure function of the block: they
are written in its atomic batch (node/executor.py takes this as one of its indexers), and
:meth:`AccountIndex.ensure` rebuilds them from the stored blocks if missing or of another
version, giving the same entries. Automatic deadline steps (begin-block events) are not
transactions and are not listed.

Key layout (under the store's ``x/`` family; values are the 32-byte transaction hash)::

    acct/meta                                  [INDEX_VERSION, height]
    acct/t/<account:32><height:8><index:4>      one entry per (account, transaction)

A page walks one account's range backwards (newest first), at most ``limit`` entries,
with a cursor of (height, index) to continue below.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from chain.block import Block
from chain.execution import BlockResult, Receipt
from chain.tx import Transaction
from node.index_meta import indexed_height, meta_record
from storage.store import ChainStore

log = logging.getLogger("agora.account_index")

INDEX_VERSION: Final = 1
META_KEY: Final = b"acct/meta"
TX_PREFIX: Final = b"acct/t/"
ACCOUNT_SIZE: Final = 32
ACCOUNT_ATTRS: Final = frozenset(
    {"to", "account", "merchant", "buyer", "arbiter", "maker", "taker", "holder", "issuer", "donor", "actor"}
)
"""Event attributes whose 32-byte value is an account."""
MAX_LIMIT: Final = 100
REBUILD_BLOCKS: Final = 500


class HistoryQueryError(ValueError):
    """A history query parameter is unusable (the message says which)."""


def accounts_of(tx: Transaction, receipt: Receipt | None) -> set[bytes]:
    """The accounts a committed transaction belongs to: its sender and the accounts its events name."""
    found = {tx.sender}
    for event in receipt.events if receipt is not None else ():
        for name, value in event.attrs:
            if name in ACCOUNT_ATTRS and isinstance(value, bytes) and len(value) == ACCOUNT_SIZE:
                found.add(value)
    return found


def entry_key(account: bytes, height: int, index: int) -> bytes:
    """The index key of ``account``'s entry for the transaction at (height, index)."""
    return TX_PREFIX + account + height.to_bytes(8, "big") + index.to_bytes(4, "big")


def block_entries(height: int, txs: Iterable[Transaction], receipts: Iterable[Receipt | None]) -> dict[bytes, bytes]:
    """The index entries of one block's transactions (with their receipts, in block order):
    one per transaction and account of :func:`accounts_of`."""
    out: dict[bytes, bytes] = {}
    at = height.to_bytes(8, "big")
    for index, (tx, receipt) in enumerate(zip(txs, receipts, strict=True)):
        tail = at + index.to_bytes(4, "big")
        for account in accounts_of(tx, receipt):
            out[TX_PREFIX + account + tail] = tx.hash
    return out


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One transaction in an account's history."""

    height: int
    index: int
    tx_hash: bytes


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """A page of an account's history, newest first; ``next_cursor`` continues below (None: the end)."""

    items: list[HistoryEntry]
    next_cursor: tuple[int, int] | None


def parse_cursor(text: str) -> tuple[int, int]:
    """A cursor written ``<height>-<index>`` (at most 20 and 10 digits), else HistoryQueryError."""
    height, sep, index = text.partition("-")
    if not sep or not height.isdigit() or not index.isdigit() or len(height) > 20 or len(index) > 10:
        raise HistoryQueryError("cursor must be <height>-<index>")
    # beyond the largest key: the same as the largest (every entry lies below it)
    return min(int(height), 2**64 - 1), min(int(index), 2**32 - 1)


def format_cursor(cursor: tuple[int, int]) -> str:
    """The text form of a cursor (inverse of :func:`parse_cursor`)."""
    return f"{cursor[0]}-{cursor[1]}"


class AccountIndex:
    """Maintains the account history index of one store and answers pages of it."""

    def __init__(self, store: ChainStore) -> None:
        self.store = store

    def index_writes(self, block: Block, result: BlockResult) -> dict[bytes, bytes | None]:
        """The index writes of ``block`` (call before it is persisted)."""
        writes: dict[bytes, bytes | None] = dict(block_entries(block.height, block.txs, result.receipts))
        writes[META_KEY] = meta_record(INDEX_VERSION, block.height)
        return writes

    def indexed_height(self) -> int | None:
        """The height the index is at, or None if missing or of another version."""
        return indexed_height(self.store, META_KEY, INDEX_VERSION)

    def ensure(self) -> bool:
        """Rebuild the index from the stored blocks unless it is at the head; True if rebuilt.

        Crash-safe: the height record is removed first and written last.
        """
        if self.indexed_height() == self.store.height:
            return False
        log.info("rebuilding the account history index at height %d", self.store.height)
        self.store.write_index({META_KEY: None})
        stop = TX_PREFIX[:-1] + bytes([TX_PREFIX[-1] + 1])
        while chunk := self.store.index_range(TX_PREFIX, stop, 2_000):
            self.store.write_index(dict.fromkeys((key for key, _ in chunk), None))
        writes: dict[bytes, bytes | None] = {}
        for height in range(1, self.store.height + 1):
            block = self.store.block(height)
            if block is None:  # pruned or missing: nothing older can be listed
                continue
            receipts = []
            for tx in block.txs:
                record = self.store.tx(tx.hash)
                receipts.append(None if record is None else record.receipt)
            writes.update(block_entries(height, block.txs, receipts))
            if height % REBUILD_BLOCKS == 0:
                self.store.write_index(writes)
                writes = {}
        writes[META_KEY] = meta_record(INDEX_VERSION, self.store.height)
        self.store.write_index(writes)
        return True

    def history(self, account: bytes, cursor: tuple[int, int] | None = None, limit: int = 25) -> HistoryPage:
        """``account``'s transactions, newest first, below ``cursor`` (exclusive) if given."""
        if not 1 <= limit <= MAX_LIMIT:
            raise HistoryQueryError(f"limit must be 1..{MAX_LIMIT}")
        start = TX_PREFIX + account
        stop = start + b"\xff" * 12 if cursor is None else entry_key(account, *cursor)
        rows = self.store.index_range(start, stop, limit + 1, reverse=True)
        items = []
        for key, value in rows[:limit]:
            tail = key[len(start) :]
            items.append(HistoryEntry(int.from_bytes(tail[:8], "big"), int.from_bytes(tail[8:], "big"), value))
        more = len(rows) > limit
        return HistoryPage(items, (items[-1].height, items[-1].index) if more and items else None)
