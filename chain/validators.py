"""The validator set: who may propose and vote, with what power."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from chain.encoding import Primitive, as_bytes, as_int, as_list, encode, sha256
from chain.keys import PUBLIC_KEY_SIZE

MAX_VALIDATORS: Final = 100
MAX_POWER: Final = 2**32


@dataclass(frozen=True, slots=True)
class Validator:
    """One validator."""

    public_key: bytes
    """Its 32-byte Ed25519 public key (signs proposals and votes)."""
    power: int
    """Voting weight, 1..2**32."""

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.public_key, self.power]

    @classmethod
    def from_wire(cls, value: Primitive) -> Validator:
        """Parse a validator; raise DecodeError if malformed."""
        fields = as_list(value, "validator", length=2)
        return cls(as_bytes(fields[0], "validator key", size=PUBLIC_KEY_SIZE), as_int(fields[1], "power", 1, MAX_POWER))


@dataclass(frozen=True, slots=True)
class ValidatorSet:
    """An ordered set of validators (sorted by public key, no duplicates)."""

    validators: tuple[Validator, ...]
    _index: dict[bytes, int] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        keys = [v.public_key for v in self.validators]
        if not keys:
            raise ValueError("a validator set needs at least one validator")
        if len(keys) > MAX_VALIDATORS:
            raise ValueError(f"at most {MAX_VALIDATORS} validators")
        if keys != sorted(keys) or len(set(keys)) != len(keys):
            raise ValueError("validators must be sorted by key and unique")
        object.__setattr__(self, "_index", {k: i for i, k in enumerate(keys)})

    @classmethod
    def of(cls, validators: Iterable[Validator]) -> ValidatorSet:
        """Build a set from validators in any order."""
        return cls(tuple(sorted(validators, key=lambda v: v.public_key)))

    @property
    def total_power(self) -> int:
        """Sum of all voting power."""
        return sum(v.power for v in self.validators)

    @property
    def quorum(self) -> int:
        """The smallest power that is more than two thirds of the total."""
        return self.total_power * 2 // 3 + 1

    def power_of(self, public_key: bytes) -> int:
        """Return the power of ``public_key`` (0 if it is not a validator)."""
        i = self._index.get(public_key)
        return 0 if i is None else self.validators[i].power

    def __contains__(self, public_key: object) -> bool:
        return public_key in self._index

    def __len__(self) -> int:
        return len(self.validators)

    def proposer(self, height: int, round_: int) -> bytes:
        """The validator who proposes at (height, round): weighted rotation, deterministic."""
        slot = (height + round_) % self.total_power
        for v in self.validators:
            if slot < v.power:
                return v.public_key
            slot -= v.power
        raise AssertionError("unreachable: slot within total power")

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [v.to_wire() for v in self.validators]

    @classmethod
    def from_wire(cls, value: Primitive) -> ValidatorSet:
        """Parse a validator set; raise DecodeError/ValueError if malformed."""
        return cls(tuple(Validator.from_wire(v) for v in as_list(value, "validators", max_len=MAX_VALIDATORS)))

    def hash(self) -> bytes:
        """SHA-256 of the canonical encoding; committed in every header."""
        return sha256(encode(self.to_wire()))
