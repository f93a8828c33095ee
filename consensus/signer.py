"""The validator's signer: never signs two different things for one height, round and step.

Every signature is checked against the last one signed (kept in the WAL, so it survives
restarts): a request for an earlier (height, round, step) is refused; the same step with
the same content returns the recorded message again; the same step with different
content is refused with :class:`DoubleSignError`. A new signature is appended to the WAL
and synced before it is returned, so nothing leaves the node that a restart could forget.
"""

from __future__ import annotations

from typing import Final

from chain.keys import PrivateKey
from chain.votes import Vote, VoteType
from consensus.messages import DoubleSignError, LockState, Message, Proposal
from consensus.wal import Wal

PROPOSAL_STEP: Final = 1
_VOTE_STEP: Final = {VoteType.PREVOTE: 2, VoteType.PRECOMMIT: 3}


def _hrs(message: Message) -> tuple[int, int, int]:
    if isinstance(message, Proposal):
        return message.height, message.round, PROPOSAL_STEP
    return message.height, message.round, _VOTE_STEP[message.type]


def _same_content(a: Message, b: Message) -> bool:
    if isinstance(a, Proposal) and isinstance(b, Proposal):
        return (a.pol_round, a.block_hash) == (b.pol_round, b.block_hash)
    if isinstance(a, Vote) and isinstance(b, Vote):
        return a.block_hash == b.block_hash
    return False


class WalSigner:
    """A :class:`consensus.engine.PrivValidator` backed by a :class:`Wal`."""

    def __init__(self, key: PrivateKey, chain_id: str, wal: Wal) -> None:
        self._key = key
        self._public_key = key.public_key
        self.chain_id = chain_id
        self.wal = wal
        self._last = wal.last_signed()

    @property
    def public_key(self) -> bytes:
        """The validator's public key."""
        return self._public_key

    @property
    def last_signed(self) -> Message | None:
        """The last message signed (from the WAL after a restart)."""
        return self._last

    def _check(self, candidate: Message) -> Message | None:
        """Return the recorded message if ``candidate`` repeats it; raise if it conflicts."""
        last = self._last
        if last is None:
            return None
        hrs, last_hrs = _hrs(candidate), _hrs(last)
        if hrs < last_hrs:
            raise DoubleSignError(f"already signed at {last_hrs}, refusing to sign for the earlier {hrs}")
        if hrs == last_hrs:
            if _same_content(candidate, last):
                return last
            raise DoubleSignError(f"already signed something different at height/round/step {hrs}")
        return None

    def sign_vote(self, type_: VoteType, height: int, round_: int, block_hash: bytes) -> Vote:
        """Return the vote signed and synced to the WAL; raise DoubleSignError on a conflict."""
        unsigned = Vote(type_, height, round_, block_hash, self._public_key, b"")
        previous = self._check(unsigned)
        if isinstance(previous, Vote):
            return previous
        vote = Vote.create(self._key, self.chain_id, type_, height, round_, block_hash)
        self.wal.append_signed(vote)
        self._last = vote
        return vote

    def sign_proposal(self, height: int, round_: int, pol_round: int, block_hash: bytes, block: bytes) -> Proposal:
        """Return the proposal signed and synced to the WAL; raise DoubleSignError on a conflict."""
        unsigned = Proposal(height, round_, pol_round, block_hash, block, self._public_key, b"")
        previous = self._check(unsigned)
        if isinstance(previous, Proposal):
            return previous
        proposal = Proposal.create(self._key, self.chain_id, height, round_, pol_round, block_hash, block)
        self.wal.append_signed(proposal)
        self._last = proposal
        return proposal

    def save_lock(self, lock: LockState) -> None:
        """Record the lock state in the WAL."""
        self.wal.append_lock(lock)
