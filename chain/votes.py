"""Signed votes, commit certificates and double-vote evidence.

These are data the chain itself must verify (a block carries the certificate of its
parent and may carry evidence), so they live here; the protocol that produces them
lives in consensus/.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from chain.encoding import U64_MAX, DecodeError, Primitive, as_bytes, as_int, as_list, encode, sha256
from chain.errors import InvalidBlock
from chain.keys import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, PrivateKey, signing_message, verify
from chain.validators import MAX_VALIDATORS, ValidatorSet

VOTE_DOMAIN: Final = "agora/vote/v1"
MAX_ROUND: Final = 2**31
HASH_SIZE: Final = 32
NIL: Final = b""
"""The block hash of a vote for nothing."""


class VoteType(IntEnum):
    """The two voting steps of a round."""

    PREVOTE = 1
    PRECOMMIT = 2


def _read_hash_or_nil(value: Primitive, what: str) -> bytes:
    raw = as_bytes(value, what, max_len=HASH_SIZE)
    if raw and len(raw) != HASH_SIZE:
        raise DecodeError(f"{what}: a block hash is 32 bytes or empty")
    return raw


@dataclass(frozen=True, slots=True)
class Vote:
    """A validator's signed prevote or precommit for a block hash (or NIL) at (height, round)."""

    type: VoteType
    height: int
    round: int
    block_hash: bytes
    validator: bytes
    signature: bytes

    @staticmethod
    def sign_bytes(chain_id: str, type_: VoteType, height: int, round_: int, block_hash: bytes) -> bytes:
        """The exact bytes a validator signs for a vote."""
        return signing_message(VOTE_DOMAIN, chain_id, [int(type_), height, round_, block_hash])

    @classmethod
    def create(
        cls, key: PrivateKey, chain_id: str, type_: VoteType, height: int, round_: int, block_hash: bytes
    ) -> Vote:
        """Return a vote signed by ``key``."""
        sig = key.sign(cls.sign_bytes(chain_id, type_, height, round_, block_hash))
        return cls(type_, height, round_, block_hash, key.public_key, sig)

    def verify(self, chain_id: str) -> bool:
        """Return True iff the signature is the validator's over this vote on ``chain_id``."""
        message = self.sign_bytes(chain_id, self.type, self.height, self.round, self.block_hash)
        return verify(self.validator, message, self.signature)

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [int(self.type), self.height, self.round, self.block_hash, self.validator, self.signature]

    @classmethod
    def from_wire(cls, value: Primitive) -> Vote:
        """Parse a vote; raise DecodeError if malformed (the signature is not checked here)."""
        f = as_list(value, "vote", length=6)
        return cls(
            VoteType(as_int(f[0], "vote type", 1, 2)),
            as_int(f[1], "height", 1, U64_MAX),
            as_int(f[2], "round", 0, MAX_ROUND),
            _read_hash_or_nil(f[3], "block hash"),
            as_bytes(f[4], "validator", size=PUBLIC_KEY_SIZE),
            as_bytes(f[5], "signature", size=SIGNATURE_SIZE),
        )


@dataclass(frozen=True, slots=True)
class CommitSig:
    """One validator's precommit signature inside a certificate."""

    validator: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class Commit:
    """A commit certificate: precommits of more than 2/3 of the power for one block."""

    height: int
    round: int
    block_hash: bytes
    signatures: tuple[CommitSig, ...]

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.height, self.round, self.block_hash, [[s.validator, s.signature] for s in self.signatures]]

    @classmethod
    def from_wire(cls, value: Primitive) -> Commit:
        """Parse a certificate; raise DecodeError if malformed (signatures are not checked here)."""
        f = as_list(value, "commit", length=4)
        sigs = []
        for item in as_list(f[3], "commit signatures", max_len=MAX_VALIDATORS):
            pair = as_list(item, "commit signature", length=2)
            sigs.append(
                CommitSig(
                    as_bytes(pair[0], "validator", size=PUBLIC_KEY_SIZE),
                    as_bytes(pair[1], "signature", size=SIGNATURE_SIZE),
                )
            )
        return cls(
            as_int(f[0], "height", 1, U64_MAX),
            as_int(f[1], "round", 0, MAX_ROUND),
            as_bytes(f[2], "block hash", size=HASH_SIZE),
            tuple(sigs),
        )

    def hash(self) -> bytes:
        """SHA-256 of the canonical encoding."""
        return sha256(encode(self.to_wire()))

    @classmethod
    def from_votes(cls, votes: list[Vote]) -> Commit:
        """Assemble a certificate from precommits for one block (sorted by validator)."""
        if not votes:
            raise ValueError("a commit needs at least one vote")
        first = votes[0]
        for v in votes:
            if (v.type, v.height, v.round, v.block_hash) != (
                VoteType.PRECOMMIT,
                first.height,
                first.round,
                first.block_hash,
            ):
                raise ValueError("votes of a commit must be precommits for one block, height and round")
        ordered = sorted(votes, key=lambda v: v.validator)
        return cls(
            first.height, first.round, first.block_hash, tuple(CommitSig(v.validator, v.signature) for v in ordered)
        )


def verify_commit(chain_id: str, commit: Commit, validators: ValidatorSet, height: int, block_hash: bytes) -> None:
    """Raise InvalidBlock unless ``commit`` certifies ``block_hash`` at ``height``.

    A valid certificate holds distinct validators of ``validators`` in key order, every
    signature verifies as a precommit, and their power is more than 2/3 of the total.
    """
    if commit.height != height:
        raise InvalidBlock(f"commit is for height {commit.height}, expected {height}", "bad_commit")
    if commit.block_hash != block_hash:
        raise InvalidBlock("commit is for a different block", "bad_commit")
    power = 0
    previous = b""
    for sig in commit.signatures:
        if sig.validator <= previous:
            raise InvalidBlock("commit signatures must be sorted and distinct", "bad_commit")
        previous = sig.validator
        weight = validators.power_of(sig.validator)
        if weight == 0:
            raise InvalidBlock("commit signed by a non-validator", "bad_commit")
        message = Vote.sign_bytes(chain_id, VoteType.PRECOMMIT, commit.height, commit.round, commit.block_hash)
        if not verify(sig.validator, message, sig.signature):
            raise InvalidBlock("commit carries an invalid signature", "bad_commit")
        power += weight
    if power < validators.quorum:
        raise InvalidBlock(f"commit power {power} is below the quorum {validators.quorum}", "bad_commit")


@dataclass(frozen=True, slots=True)
class DuplicateVoteEvidence:
    """Two votes by one validator for different blocks at the same height, round and step."""

    vote_a: Vote
    vote_b: Vote

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.vote_a.to_wire(), self.vote_b.to_wire()]

    @classmethod
    def from_wire(cls, value: Primitive) -> DuplicateVoteEvidence:
        """Parse evidence; raise DecodeError if malformed."""
        f = as_list(value, "evidence", length=2)
        return cls(Vote.from_wire(f[0]), Vote.from_wire(f[1]))

    @classmethod
    def of(cls, a: Vote, b: Vote) -> DuplicateVoteEvidence:
        """Return the evidence with its two votes in canonical (block-hash) order."""
        return cls(a, b) if a.block_hash < b.block_hash else cls(b, a)

    def hash(self) -> bytes:
        """SHA-256 of the canonical encoding (identifies the evidence)."""
        return sha256(encode(self.to_wire()))

    def verify(self, chain_id: str, validators: ValidatorSet) -> None:
        """Raise InvalidBlock unless this is a genuine double vote by a validator of the set."""
        a, b = self.vote_a, self.vote_b
        if (a.type, a.height, a.round, a.validator) != (b.type, b.height, b.round, b.validator):
            raise InvalidBlock("evidence votes are not for the same step by the same validator", "bad_evidence")
        if not a.block_hash < b.block_hash:
            raise InvalidBlock("evidence votes must differ and be in canonical order", "bad_evidence")
        if a.validator not in validators:
            raise InvalidBlock("evidence names a non-validator", "bad_evidence")
        if not (a.verify(chain_id) and b.verify(chain_id)):
            raise InvalidBlock("evidence carries an invalid signature", "bad_evidence")
