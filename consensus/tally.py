"""Power-weighted tallies of the votes of one (height, round, step)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from chain.votes import Vote

MAX_VOTES_PER_VALIDATOR: Final = 4
"""Distinct block hashes counted per validator and step: the first vote and a few conflicting
ones (an equivocator's vote counts for each value it signed, as in the paper, but bounded)."""


@dataclass(slots=True)
class RoundVotes:
    """The votes of one (height, round, type): power per block hash, each validator once per hash."""

    first: dict[bytes, Vote] = field(default_factory=dict)
    """Each validator's first vote."""
    by_hash: dict[bytes, dict[bytes, Vote]] = field(default_factory=dict)
    """Block hash (NIL included) -> validator -> vote."""
    power_by_hash: dict[bytes, int] = field(default_factory=dict)
    total: int = 0
    """Power of the distinct validators that voted (for anything)."""
    _count: dict[bytes, int] = field(default_factory=dict)

    def get(self, validator: bytes) -> Vote | None:
        """Return ``validator``'s first vote, or None."""
        return self.first.get(validator)

    def has(self, validator: bytes, block_hash: bytes) -> bool:
        """True if ``validator``'s vote for ``block_hash`` is already counted."""
        return validator in self.by_hash.get(block_hash, {})

    def full(self, validator: bytes) -> bool:
        """True if no further conflicting vote of ``validator`` will be counted."""
        return self._count.get(validator, 0) >= MAX_VOTES_PER_VALIDATOR

    def add(self, vote: Vote, power: int) -> None:
        """Count ``vote`` with ``power``; the caller checked ``has`` and ``full`` and the signature."""
        validator = vote.validator
        if validator not in self.first:
            self.first[validator] = vote
            self.total += power
        self._count[validator] = self._count.get(validator, 0) + 1
        self.by_hash.setdefault(vote.block_hash, {})[validator] = vote
        self.power_by_hash[vote.block_hash] = self.power_by_hash.get(vote.block_hash, 0) + power

    def power_for(self, block_hash: bytes) -> int:
        """Power of the votes for ``block_hash`` (NIL counts votes for nothing)."""
        return self.power_by_hash.get(block_hash, 0)

    def hashes_with(self, power: int) -> list[bytes]:
        """Block hashes (NIL included) that at least ``power`` voted for."""
        return [h for h, p in self.power_by_hash.items() if p >= power]

    def for_hash(self, block_hash: bytes) -> list[Vote]:
        """The votes for ``block_hash``."""
        return list(self.by_hash.get(block_hash, {}).values())

    def all_votes(self) -> list[Vote]:
        """Every counted vote, conflicting ones included."""
        return [v for votes in self.by_hash.values() for v in votes.values()]
