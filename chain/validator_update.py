"""Changing the validator set by an on-chain vote of the validators.

A validator proposes a change (add a key with a power, change a power, or remove a key
with power 0) by sending a ``validator_update`` transaction; every other validator votes
for the same change by sending the same body. When validators holding 2/3+ of the
current power have voted for it in a block at height ``h``, the change is scheduled: the
begin-block hook of block ``h + 1`` rewrites ``VALIDATORS_KEY``, so block ``h + 1`` is still
certified by the old set and the new set certifies blocks from ``h + 2`` on
(:data:`ACTIVATION_DELAY`). The host reads the set for each height with
:func:`chain.execution.read_validators` after committing the previous block.

Bounds: at most :data:`MAX_PENDING_UPDATES` open proposals, each expiring after
:data:`PENDING_TTL` heights; the last validator cannot be removed; a set never exceeds
``MAX_VALIDATORS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from chain.encoding import Primitive, as_bytes, as_int, as_list
from chain.errors import TxFailure
from chain.execution import TxContext, read_validators
from chain.genesis import VALIDATORS_KEY
from chain.keys import PUBLIC_KEY_SIZE
from chain.state import Overlay
from chain.tx import KindRegistry, KindSpec
from chain.validators import MAX_POWER, MAX_VALIDATORS, Validator, ValidatorSet

ACTIVATION_DELAY: Final = 2
"""A change voted in at height h first certifies block h + ACTIVATION_DELAY."""
MAX_PENDING_UPDATES: Final = 16
PENDING_TTL: Final = 1000
"""A proposal that has not reached 2/3+ within this many heights is dropped."""
PENDING_KEY: Final = b"validator_update/pending"
_SCHEDULED_PREFIX: Final = b"validator_update/at/"


def scheduled_key(height: int) -> bytes:
    """State key of the changes the begin-block hook applies at ``height``."""
    return _SCHEDULED_PREFIX + height.to_bytes(8, "big")


@dataclass(frozen=True, slots=True)
class ValidatorUpdate:
    """Vote to give ``public_key`` the voting ``power`` (0 removes it from the set)."""

    KIND: ClassVar[str] = "validator_update"
    public_key: bytes
    power: int
    """0..2**32; 0 means remove."""

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.public_key, self.power]

    @classmethod
    def from_wire(cls, value: Primitive) -> ValidatorUpdate:
        """Parse a body; raise DecodeError if malformed."""
        f = as_list(value, "validator_update", length=2)
        return cls(as_bytes(f[0], "public key", size=PUBLIC_KEY_SIZE), as_int(f[1], "power", 0, MAX_POWER))


@dataclass(frozen=True, slots=True)
class PendingUpdate:
    """A proposed change and the validators that voted for it so far."""

    public_key: bytes
    power: int
    expires: int
    """The last height at which it can still gather votes."""
    voters: tuple[bytes, ...]

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.public_key, self.power, self.expires, list(self.voters)]

    @classmethod
    def from_wire(cls, value: Primitive) -> PendingUpdate:
        """Parse a stored pending update."""
        f = as_list(value, "pending update", length=4)
        voters = as_list(f[3], "voters", max_len=MAX_VALIDATORS)
        return cls(
            as_bytes(f[0], "public key", size=PUBLIC_KEY_SIZE),
            as_int(f[1], "power", 0, MAX_POWER),
            as_int(f[2], "expires"),
            tuple(as_bytes(v, "voter", size=PUBLIC_KEY_SIZE) for v in voters),
        )


def read_pending(state: Overlay) -> list[PendingUpdate]:
    """The open proposals, oldest first."""
    raw = state.get_value(PENDING_KEY)
    if raw is None:
        return []
    return [PendingUpdate.from_wire(p) for p in as_list(raw, "pending updates", max_len=MAX_PENDING_UPDATES)]


def _write_pending(state: Overlay, pending: list[PendingUpdate]) -> None:
    if pending:
        state.put_value(PENDING_KEY, [p.to_wire() for p in pending])
    else:
        state.delete(PENDING_KEY)


def _check_change(validators: ValidatorSet, body: ValidatorUpdate) -> None:
    if body.power == 0:
        if body.public_key not in validators:
            raise TxFailure("cannot remove a key that is not a validator", "not_a_validator")
        if len(validators) == 1:
            raise TxFailure("cannot remove the last validator", "last_validator")
        return
    if validators.power_of(body.public_key) == body.power:
        raise TxFailure("the validator already has this power", "no_change")
    if body.public_key not in validators and len(validators) >= MAX_VALIDATORS:
        raise TxFailure(f"the set already has {MAX_VALIDATORS} validators", "too_many_validators")


def apply_validator_update(ctx: TxContext, body: ValidatorUpdate) -> None:
    """Count the sender's vote; at 2/3+ of the current power, schedule the change.

    Fails with 'not_validator' (sender is not a validator), 'not_a_validator',
    'last_validator', 'no_change', 'too_many_validators', 'too_many_pending' or
    'already_voted', changing nothing.
    """
    validators = read_validators(ctx.state)
    if ctx.sender not in validators:
        raise TxFailure("only a validator may vote on the validator set", "not_validator")
    _check_change(validators, body)
    pending = [p for p in read_pending(ctx.state) if p.expires >= ctx.height]
    index = next(
        (i for i, p in enumerate(pending) if (p.public_key, p.power) == (body.public_key, body.power)),
        None,
    )
    if index is None:
        if len(pending) >= MAX_PENDING_UPDATES:
            raise TxFailure(f"at most {MAX_PENDING_UPDATES} validator updates may be pending", "too_many_pending")
        pending.append(PendingUpdate(body.public_key, body.power, ctx.height + PENDING_TTL, ()))
        index = len(pending) - 1
    entry = pending[index]
    if ctx.sender in entry.voters:
        raise TxFailure("this validator already voted for this update", "already_voted")
    voters = tuple(sorted((*entry.voters, ctx.sender)))
    voted = sum(validators.power_of(v) for v in voters)
    if voted >= validators.quorum:
        del pending[index]
        key = scheduled_key(ctx.height + ACTIVATION_DELAY - 1)
        scheduled = as_list(ctx.state.get_value(key) or [], "scheduled updates", max_len=MAX_PENDING_UPDATES)
        if len(scheduled) >= MAX_PENDING_UPDATES:
            # Without this bound a 17th change would be stored, and reading it back would raise
            # DecodeError in every later vote and in the activation hook: a halted chain.
            raise TxFailure(f"at most {MAX_PENDING_UPDATES} validator updates may activate at once", "too_many_pending")
        ctx.state.put_value(key, [*scheduled, [body.public_key, body.power]])
        ctx.emit(
            "validator_update_scheduled",
            public_key=body.public_key,
            power=body.power,
            effective_height=ctx.height + ACTIVATION_DELAY,
        )
    else:
        pending[index] = PendingUpdate(entry.public_key, entry.power, entry.expires, voters)
        ctx.emit("validator_update_vote", public_key=body.public_key, power=body.power, voted_power=voted)
    _write_pending(ctx.state, pending)


def _with_change(validators: ValidatorSet, public_key: bytes, power: int) -> ValidatorSet | None:
    kept = [v for v in validators.validators if v.public_key != public_key]
    if power > 0:
        kept.append(Validator(public_key, power))
    if not kept or len(kept) > MAX_VALIDATORS:
        return None
    return ValidatorSet.of(kept)


def activate_validator_updates(ctx: TxContext) -> None:
    """Begin-block hook: apply the changes scheduled for this height; drop expired proposals."""
    key = scheduled_key(ctx.height)
    raw = ctx.state.get_value(key)
    if raw is not None:
        validators = read_validators(ctx.state)
        for item in as_list(raw, "scheduled updates", max_len=MAX_PENDING_UPDATES):
            change = as_list(item, "scheduled update", length=2)
            public_key = as_bytes(change[0], "public key", size=PUBLIC_KEY_SIZE)
            power = as_int(change[1], "power", 0, MAX_POWER)
            updated = _with_change(validators, public_key, power)
            if updated is None:
                ctx.emit("validator_update_skipped", public_key=public_key, power=power)
                continue
            validators = updated
            ctx.emit("validator_update_applied", public_key=public_key, power=power)
        ctx.state.put_value(VALIDATORS_KEY, validators.to_wire())
        ctx.state.delete(key)
    pending = read_pending(ctx.state)
    live = [p for p in pending if p.expires >= ctx.height]
    if len(live) != len(pending):
        _write_pending(ctx.state, live)


VALIDATOR_KINDS: Final = KindRegistry.of(
    [KindSpec(ValidatorUpdate, apply_validator_update)], hooks=[activate_validator_updates]
)
"""Register with ``CORE_KINDS.merged(VALIDATOR_KINDS)`` to enable validator-set changes."""
