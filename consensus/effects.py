"""What the consensus engine consumes and produces, besides messages.

Steps and timers, the decision it reaches, the effects it asks its host to carry out,
and the verdict on each input (for peer scoring). Plain frozen data: no behaviour
beyond the timer arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum

from chain.votes import Commit, DuplicateVoteEvidence
from consensus.messages import Message


class Step(IntEnum):
    """Where the engine is within its current round."""

    PROPOSE = 1
    PREVOTE = 2
    PRECOMMIT = 3
    DECIDED = 4


class TimeoutKind(IntEnum):
    """Which timer fired."""

    PROPOSE = 1
    PREVOTE = 2
    PRECOMMIT = 3
    IDLE = 4
    """The proposer of round 0 waited this long for transactions and proposes anyway."""


@dataclass(frozen=True, slots=True)
class TimeoutConfig:
    """Timer lengths in milliseconds; each grows linearly with the round."""

    propose_ms: int = 1000
    propose_delta_ms: int = 500
    prevote_ms: int = 500
    prevote_delta_ms: int = 250
    precommit_ms: int = 500
    precommit_delta_ms: int = 250
    idle_ms: int = 1000
    """Round 0 only: how long a proposer with no waiting transactions waits before proposing."""

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value <= 3_600_000:
                raise ValueError(f"{name} must be an integer number of milliseconds up to an hour")

    def delay_ms(self, kind: TimeoutKind, round_: int) -> int:
        """The length of timer ``kind`` at ``round_``."""
        if kind is TimeoutKind.PROPOSE:
            return self.propose_ms + round_ * self.propose_delta_ms
        if kind is TimeoutKind.PREVOTE:
            return self.prevote_ms + round_ * self.prevote_delta_ms
        if kind is TimeoutKind.PRECOMMIT:
            return self.precommit_ms + round_ * self.precommit_delta_ms
        return self.idle_ms


@dataclass(frozen=True, slots=True)
class Timeout:
    """A timer the host fires back with :meth:`Engine.on_timeout`."""

    kind: TimeoutKind
    height: int
    round: int


@dataclass(frozen=True, slots=True)
class Decision:
    """A block decided at ``height``: final, with the certificate that proves it."""

    height: int
    round: int
    block_hash: bytes
    block: bytes
    commit: Commit


# --- effects ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send ``message`` to every peer (it is already signed and written ahead)."""

    message: Message


@dataclass(frozen=True, slots=True)
class ScheduleTimeout:
    """Call :meth:`Engine.on_timeout` with ``timeout`` after ``delay_ms``."""

    timeout: Timeout
    delay_ms: int


@dataclass(frozen=True, slots=True)
class BuildBlock:
    """Build a block for (height, round) and answer with :meth:`Engine.on_block_built`."""

    height: int
    round: int


@dataclass(frozen=True, slots=True)
class ValidateBlock:
    """Check that ``block`` hashes to ``block_hash`` and is valid at ``height``.

    Answer with :meth:`Engine.on_block_validated`.
    """

    height: int
    block_hash: bytes
    block: bytes


@dataclass(frozen=True, slots=True)
class Decide:
    """Commit ``decision``, then start the next height with :meth:`Engine.start_height`."""

    decision: Decision


@dataclass(frozen=True, slots=True)
class EvidenceFound:
    """A validator signed two different votes for one step: keep and gossip the evidence."""

    evidence: DuplicateVoteEvidence


@dataclass(frozen=True, slots=True)
class SignRefused:
    """The signer refused to sign (it already signed something else for this step)."""

    reason: str


Effect = Broadcast | ScheduleTimeout | BuildBlock | ValidateBlock | Decide | EvidenceFound | SignRefused


class Verdict(Enum):
    """What the engine made of an input (for peer scoring)."""

    ACCEPTED = "accepted"
    """New and valid: it was used."""
    IGNORED = "ignored"
    """Harmless but unused: a duplicate, stale, or too far ahead."""
    REJECTED = "rejected"
    """Invalid (bad signature, not a validator, wrong proposer): penalise the sender."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The verdict on one input and the effects it caused, in order."""

    verdict: Verdict
    reason: str = ""
    effects: tuple[Effect, ...] = ()
