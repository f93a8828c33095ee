"""Consensus messages: the signed proposal, the wire envelope, and the lock record.

Votes are :class:`chain.votes.Vote` (the chain verifies them inside commit
certificates). A proposal is defined here: it carries the proposed block's bytes and is
signed over ``[height, round, pol_round, block_hash]`` under the domain
``agora/proposal/v1`` and the chain id, so it cannot be replayed on another chain or at
another height or round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from chain.block import MAX_BLOCK_WIRE_BYTES
from chain.encoding import U64_MAX, DecodeError, Primitive, as_bytes, as_int, as_list, as_str, decode, encode
from chain.keys import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, PrivateKey, signing_message, verify
from chain.votes import HASH_SIZE, MAX_ROUND, NIL, Vote

PROPOSAL_DOMAIN: Final = "agora/proposal/v1"
NO_ROUND: Final = -1
"""The pol_round / locked_round / valid_round meaning "none"."""
MAX_MESSAGE_BYTES: Final = MAX_BLOCK_WIRE_BYTES + 4096
"""The largest consensus message a decoder accepts (a proposal carries a whole block)."""

SignatureVerifier = Callable[[bytes, bytes, bytes], bool]
"""``verify(public_key, message, signature) -> bool``; :func:`chain.keys.verify` by default."""


class DoubleSignError(Exception):
    """The signer refused to sign something that conflicts with what it already signed."""


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposer's signed offer of one block for (height, round)."""

    height: int
    round: int
    pol_round: int
    """The round whose 2/3+ prevotes justify re-proposing this block, or -1."""
    block_hash: bytes
    """The block's identity (its header hash); what votes refer to."""
    block: bytes
    """The block's canonical bytes; the host checks that they hash to ``block_hash``."""
    proposer: bytes
    signature: bytes

    @staticmethod
    def sign_bytes(chain_id: str, height: int, round_: int, pol_round: int, block_hash: bytes) -> bytes:
        """The exact bytes a proposer signs."""
        return signing_message(PROPOSAL_DOMAIN, chain_id, [height, round_, pol_round, block_hash])

    @classmethod
    def create(
        cls, key: PrivateKey, chain_id: str, height: int, round_: int, pol_round: int, block_hash: bytes, block: bytes
    ) -> Proposal:
        """Return a proposal signed by ``key`` (no double-sign guard: see consensus.signer)."""
        signature = key.sign(cls.sign_bytes(chain_id, height, round_, pol_round, block_hash))
        return cls(height, round_, pol_round, block_hash, block, key.public_key, signature)

    def verify(self, chain_id: str, verifier: SignatureVerifier = verify) -> bool:
        """Return True iff the signature is the proposer's over this proposal on ``chain_id``."""
        message = self.sign_bytes(chain_id, self.height, self.round, self.pol_round, self.block_hash)
        return verifier(self.proposer, message, self.signature)

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.height, self.round, self.pol_round, self.block_hash, self.block, self.proposer, self.signature]

    @classmethod
    def from_wire(cls, value: Primitive) -> Proposal:
        """Parse a proposal; raise DecodeError if malformed (the signature is not checked here)."""
        f = as_list(value, "proposal", length=7)
        height = as_int(f[0], "height", 1, U64_MAX)
        round_ = as_int(f[1], "round", 0, MAX_ROUND)
        pol_round = as_int(f[2], "pol_round", NO_ROUND, MAX_ROUND)
        if pol_round >= round_:
            raise DecodeError("pol_round must be below the round")
        return cls(
            height,
            round_,
            pol_round,
            as_bytes(f[3], "block hash", size=HASH_SIZE),
            as_bytes(f[4], "block", max_len=MAX_BLOCK_WIRE_BYTES),
            as_bytes(f[5], "proposer", size=PUBLIC_KEY_SIZE),
            as_bytes(f[6], "signature", size=SIGNATURE_SIZE),
        )


Message = Proposal | Vote
"""What validators exchange."""

_PROPOSAL_TAG: Final = "proposal"
_VOTE_TAG: Final = "vote"


def message_to_wire(message: Message) -> Primitive:
    """Tagged positional form: ``["proposal", ...]`` or ``["vote", ...]``."""
    if isinstance(message, Proposal):
        return [_PROPOSAL_TAG, message.to_wire()]
    return [_VOTE_TAG, message.to_wire()]


def message_from_wire(value: Primitive) -> Message:
    """Parse a tagged message; raise DecodeError for anything malformed or unknown."""
    f = as_list(value, "consensus message", length=2)
    tag = as_str(f[0], "message tag", max_len=16)
    if tag == _PROPOSAL_TAG:
        return Proposal.from_wire(f[1])
    if tag == _VOTE_TAG:
        try:
            return Vote.from_wire(f[1])
        except ValueError as exc:
            raise DecodeError(str(exc)) from None
    raise DecodeError(f"unknown consensus message {tag!r}")


def encode_message(message: Message) -> bytes:
    """Canonical bytes of a consensus message (what the p2p reactor sends)."""
    return encode(message_to_wire(message))


def decode_message(data: bytes) -> Message:
    """Decode canonical message bytes; raise DecodeError if malformed or oversized."""
    return message_from_wire(decode(data, MAX_MESSAGE_BYTES))


@dataclass(frozen=True, slots=True)
class LockState:
    """A validator's lock and valid value at one height (written ahead with its signatures)."""

    height: int
    locked_round: int = NO_ROUND
    locked_hash: bytes = NIL
    valid_round: int = NO_ROUND
    valid_hash: bytes = NIL

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.height, self.locked_round, self.locked_hash, self.valid_round, self.valid_hash]

    @classmethod
    def from_wire(cls, value: Primitive) -> LockState:
        """Parse a lock record; raise DecodeError if malformed."""
        f = as_list(value, "lock", length=5)
        return cls(
            as_int(f[0], "height", 1, U64_MAX),
            as_int(f[1], "locked_round", NO_ROUND, MAX_ROUND),
            as_bytes(f[2], "locked hash", max_len=HASH_SIZE),
            as_int(f[3], "valid_round", NO_ROUND, MAX_ROUND),
            as_bytes(f[4], "valid hash", max_len=HASH_SIZE),
        )


@dataclass(frozen=True, slots=True)
class Recovered:
    """What a restarted validator signed at one height, read back from its WAL."""

    height: int
    proposals: tuple[Proposal, ...] = ()
    votes: tuple[Vote, ...] = ()
    lock: LockState | None = None
