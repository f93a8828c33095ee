"""Blocks and headers.

A header commits to its parent, its transactions (Merkle root of their hashes), their
results (Merkle root of the receipts), the state after executing them (the root of the
authenticated state tree, chain/state_tree.py), its proposer, the validator set that
certifies it and the one that certifies the next block, the certificate of its parent and
the evidence it carries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from chain.encoding import (
    U64_MAX,
    DecodeError,
    Primitive,
    as_bytes,
    as_int,
    as_list,
    as_str,
    decode,
    encode,
    sha256,
)
from chain.keys import PUBLIC_KEY_SIZE
from chain.merkle import merkle_root
from chain.params import MAX_BLOCK_TXS_LIMIT
from chain.tx import MAX_CHAIN_ID, MAX_TX_BYTES, KindRegistry, Transaction, transaction_from_wire
from chain.votes import Commit, DuplicateVoteEvidence

HASH_SIZE: Final = 32
ZERO_HASH: Final = bytes(32)
MAX_EVIDENCE: Final = 64
MAX_BLOCK_WIRE_BYTES: Final = 72 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Header:
    """A block header; its hash is the block's identity."""

    chain_id: str
    height: int
    """1 for the first block after genesis."""
    time_ms: int
    """Proposer's clock in Unix milliseconds; strictly increasing."""
    parent_hash: bytes
    """Hash of the previous header (the genesis hash at height 1)."""
    tx_root: bytes
    """Merkle root of the transaction hashes in block order."""
    state_root: bytes
    """Root of the state tree after executing this block: any value is provable against it."""
    results_root: bytes
    """Merkle root of the block's results (:func:`chain.execution.result_leaves`)."""
    proposer: bytes
    """Public key of the validator that proposed the block (receives the fees)."""
    validators_hash: bytes
    """Hash of the validator set that must certify this block."""
    next_validators_hash: bytes
    """Hash of the validator set recorded in the state after this block: it certifies the next one."""
    last_commit_hash: bytes
    """Hash of the parent's commit certificate (ZERO_HASH at height 1)."""
    evidence_hash: bytes
    """Merkle root of the evidence hashes carried."""
    hash: bytes = field(default=b"", compare=False, repr=False)
    """SHA-256 of the canonical header; always computed from the fields (a passed value is ignored,
    so ``dataclasses.replace`` can never carry a stale hash)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "hash", sha256(encode(self.to_wire())))

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [
            self.chain_id,
            self.height,
            self.time_ms,
            self.parent_hash,
            self.tx_root,
            self.state_root,
            self.results_root,
            self.proposer,
            self.validators_hash,
            self.next_validators_hash,
            self.last_commit_hash,
            self.evidence_hash,
        ]

    @classmethod
    def from_wire(cls, value: Primitive) -> Header:
        """Parse a header; raise DecodeError if malformed."""
        f = as_list(value, "header", length=12)
        return cls(
            as_str(f[0], "chain_id", min_len=1, max_len=MAX_CHAIN_ID),
            as_int(f[1], "height", 1, U64_MAX),
            as_int(f[2], "time_ms", 0, U64_MAX),
            as_bytes(f[3], "parent_hash", size=HASH_SIZE),
            as_bytes(f[4], "tx_root", size=HASH_SIZE),
            as_bytes(f[5], "state_root", size=HASH_SIZE),
            as_bytes(f[6], "results_root", size=HASH_SIZE),
            as_bytes(f[7], "proposer", size=PUBLIC_KEY_SIZE),
            as_bytes(f[8], "validators_hash", size=HASH_SIZE),
            as_bytes(f[9], "next_validators_hash", size=HASH_SIZE),
            as_bytes(f[10], "last_commit_hash", size=HASH_SIZE),
            as_bytes(f[11], "evidence_hash", size=HASH_SIZE),
        )

    def encode(self) -> bytes:
        """Canonical bytes of the header (what its hash covers)."""
        return encode(self.to_wire())


@dataclass(frozen=True, slots=True)
class Block:
    """A header with the transactions, parent certificate and evidence it commits to."""

    header: Header
    txs: tuple[Transaction, ...]
    last_commit: Commit | None
    """Certificate of the parent block; None only at height 1."""
    evidence: tuple[DuplicateVoteEvidence, ...] = ()

    @property
    def hash(self) -> bytes:
        """The header hash."""
        return self.header.hash

    @property
    def height(self) -> int:
        """The header height."""
        return self.header.height

    def to_wire(self) -> Primitive:
        """Canonical positional form; transactions are embedded as their raw encodings."""
        return [
            self.header.to_wire(),
            [tx.raw for tx in self.txs],
            None if self.last_commit is None else self.last_commit.to_wire(),
            [e.to_wire() for e in self.evidence],
        ]

    def encode(self) -> bytes:
        """Canonical bytes of the whole block."""
        return encode(self.to_wire())


def tx_root(txs: tuple[Transaction, ...] | list[Transaction]) -> bytes:
    """Merkle root over the transaction hashes."""
    return merkle_root([tx.hash for tx in txs])


def evidence_root(evidence: tuple[DuplicateVoteEvidence, ...] | list[DuplicateVoteEvidence]) -> bytes:
    """Merkle root over the evidence hashes."""
    return merkle_root([e.hash() for e in evidence])


def commit_hash(commit: Commit | None) -> bytes:
    """The header field for a parent certificate."""
    return ZERO_HASH if commit is None else commit.hash()


KnownTx = Callable[[bytes], Transaction | None]
"""Returns the already decoded transaction whose hash is given, if there is one."""


def block_from_wire(value: Primitive, registry: KindRegistry, known: KnownTx | None = None) -> Block:
    """Parse a block; raise DecodeError if anything in it is malformed.

    Only the shape is checked; :func:`chain.execution.execute_block` checks the rules.
    ``known`` (the mempool's pending transactions) lets a transaction whose exact bytes were
    decoded before be reused instead of decoded again: the same bytes decode to the same
    transaction, so the block parsed is the same either way.
    """
    f = as_list(value, "block", length=4)
    header = Header.from_wire(f[0])
    txs = []
    for raw in as_list(f[1], "transactions", max_len=MAX_BLOCK_TXS_LIMIT):
        raw_tx = as_bytes(raw, "transaction", max_len=MAX_TX_BYTES)
        tx = None if known is None else known(sha256(raw_tx))
        if tx is None or tx.raw != raw_tx:
            tx = transaction_from_wire(decode(raw_tx, MAX_TX_BYTES), registry, raw_tx)
        txs.append(tx)
    last_commit = None if f[2] is None else Commit.from_wire(f[2])
    evidence = tuple(DuplicateVoteEvidence.from_wire(e) for e in as_list(f[3], "evidence", max_len=MAX_EVIDENCE))
    if (last_commit is None) != (header.height == 1):
        raise DecodeError("every block but the first carries its parent's certificate")
    return Block(header, tuple(txs), last_commit, evidence)


def decode_header(data: bytes) -> Header:
    """Decode canonical header bytes; raise DecodeError for anything malformed."""
    return Header.from_wire(decode(data, 4096))


def decode_block(data: bytes, registry: KindRegistry, known: KnownTx | None = None) -> Block:
    """Decode canonical block bytes; raise DecodeError for anything malformed or oversized.

    ``known`` as in :func:`block_from_wire`.
    """
    return block_from_wire(decode(data, MAX_BLOCK_WIRE_BYTES), registry, known)
