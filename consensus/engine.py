"""The Tendermint consensus algorithm as a pure, deterministic state machine.

One :class:`Engine` decides one height at a time, following Algorithm 1 of "The latest
gossip on BFT consensus" (Buchman, Kwon, Milosevic, 2018). Every method takes one input
(a received message, a fired timeout, a block built or validated by the host, a commit
certificate from block sync) and returns an :class:`Outcome`: a verdict on the input and
the effects the host must carry out in order (broadcast a message, schedule a timeout,
build or validate a block, commit a decision, store evidence).

The engine has no clock, no threads and no I/O. Its only collaborators are a
:class:`PrivValidator` (signs with a write-ahead guard; see consensus.signer) and a
signature verifier; with the same inputs it produces the same outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Protocol

from chain.errors import InvalidBlock
from chain.keys import verify
from chain.validators import ValidatorSet
from chain.votes import NIL, Commit, DuplicateVoteEvidence, Vote, VoteType, verify_commit
from consensus.effects import (
    Broadcast,
    BuildBlock,
    Decide,
    Decision,
    Effect,
    EvidenceFound,
    Outcome,
    ScheduleTimeout,
    SignRefused,
    Step,
    Timeout,
    TimeoutConfig,
    TimeoutKind,
    ValidateBlock,
    Verdict,
)
from consensus.messages import (
    NO_ROUND,
    DoubleSignError,
    LockState,
    Message,
    Proposal,
    Recovered,
    SignatureVerifier,
)
from consensus.tally import RoundVotes

__all__ = [
    "Broadcast",
    "BuildBlock",
    "Decide",
    "Decision",
    "Effect",
    "Engine",
    "EvidenceFound",
    "Outcome",
    "PrivValidator",
    "ScheduleTimeout",
    "SignRefused",
    "Step",
    "Timeout",
    "TimeoutConfig",
    "TimeoutKind",
    "ValidateBlock",
    "Verdict",
]

MAX_ROUNDS_AHEAD: Final = 8
"""Votes more than this many rounds ahead are counted for round skipping, not stored."""
MAX_FUTURE_MESSAGES: Final = 1024
"""Messages for the next height buffered until it starts."""
MAX_PROPOSALS_PER_ROUND: Final = 2
"""Blocks kept per round: the first proposal and one conflicting one (equivocation)."""


class PrivValidator(Protocol):
    """The validator's signing key behind a double-sign guard (see consensus.signer)."""

    @property
    def public_key(self) -> bytes:
        """The validator's public key."""
        ...

    def sign_vote(self, type_: VoteType, height: int, round_: int, block_hash: bytes) -> Vote:
        """Return the signed vote, durably recorded; raise DoubleSignError if it conflicts."""
        ...

    def sign_proposal(self, height: int, round_: int, pol_round: int, block_hash: bytes, block: bytes) -> Proposal:
        """Return the signed proposal, durably recorded; raise DoubleSignError if it conflicts."""
        ...

    def save_lock(self, lock: LockState) -> None:
        """Record the lock state (made durable by the next signature at the latest)."""
        ...


@dataclass(slots=True)
class _Height:
    """Everything the engine knows about the height it is deciding."""

    height: int
    validators: ValidatorSet
    round: int = 0
    step: Step = Step.PROPOSE
    locked_round: int = NO_ROUND
    locked_hash: bytes = NIL
    valid_round: int = NO_ROUND
    valid_hash: bytes = NIL
    proposals: dict[int, Proposal] = field(default_factory=dict)
    round_hashes: dict[int, list[bytes]] = field(default_factory=dict)
    blocks: dict[bytes, bytes] = field(default_factory=dict)
    validity: dict[bytes, bool | None] = field(default_factory=dict)
    votes: dict[tuple[int, VoteType], RoundVotes] = field(default_factory=dict)
    highest_round: dict[bytes, int] = field(default_factory=dict)
    own: list[Message] = field(default_factory=list)
    prevote_timer: set[int] = field(default_factory=set)
    precommit_timer: set[int] = field(default_factory=set)
    polka_seen: set[int] = field(default_factory=set)
    reported: set[tuple[bytes, int, VoteType]] = field(default_factory=set)
    build_requested: int = NO_ROUND
    idle_waiting: bool = False
    decision: Decision | None = None

    def tally(self, round_: int, type_: VoteType) -> RoundVotes:
        key = (round_, type_)
        votes = self.votes.get(key)
        if votes is None:
            votes = self.votes[key] = RoundVotes()
        return votes


class Engine:
    """One validator's (or follower's) consensus state machine.

    Drive it from a single serialized loop: every call returns the effects to carry out;
    no two calls may run concurrently.
    """

    def __init__(
        self,
        chain_id: str,
        priv: PrivValidator | None,
        timeouts: TimeoutConfig | None = None,
        verifier: SignatureVerifier = verify,
    ) -> None:
        self.chain_id = chain_id
        self._priv = priv
        self._me = b"" if priv is None else priv.public_key
        self.timeouts = timeouts or TimeoutConfig()
        self._verify = verifier
        self._h: _Height | None = None
        self._txs_waiting = False
        self._future: list[Message] = []
        self._effects: list[Effect] = []

    # --- read-only view -----------------------------------------------------------

    @property
    def height(self) -> int:
        """The height being decided (0 before the first start_height)."""
        return 0 if self._h is None else self._h.height

    @property
    def round(self) -> int:
        """The current round."""
        return 0 if self._h is None else self._h.round

    @property
    def step(self) -> Step:
        """The current step."""
        return Step.PROPOSE if self._h is None else self._h.step

    @property
    def decision(self) -> Decision | None:
        """The decision at the current height, once made."""
        return None if self._h is None else self._h.decision

    @property
    def lock(self) -> LockState | None:
        """The current lock and valid value."""
        h = self._h
        if h is None:
            return None
        return LockState(h.height, h.locked_round, h.locked_hash, h.valid_round, h.valid_hash)

    def own_messages(self) -> list[Message]:
        """Every message this validator signed at the current height, oldest first."""
        return [] if self._h is None else list(self._h.own)

    def gossip_messages(self, recent_only: bool = False) -> list[Message]:
        """What to re-send to a peer that may have missed it: proposals and votes at this height.

        With ``recent_only``, just the current and previous round and the valid value's round
        (cheap enough to send to every peer whenever progress stalls).
        """
        h = self._h
        if h is None:
            return []
        wanted = {h.round, h.round - 1, h.valid_round} if recent_only else None
        out: list[Message] = [p for r, p in h.proposals.items() if wanted is None or r in wanted]
        for key in sorted(h.votes):
            if wanted is None or key[0] in wanted:
                out.extend(h.votes[key].all_votes())
        return out

    # --- inputs -------------------------------------------------------------------

    def start_height(
        self,
        height: int,
        validators: ValidatorSet,
        *,
        txs_waiting: bool = False,
        recovered: Recovered | None = None,
    ) -> Outcome:
        """Begin deciding ``height`` with ``validators`` (the set that certifies it).

        ``recovered`` is what this validator signed at ``height`` before a restart (from
        its WAL): the engine resumes at that round and step, with that lock, and never
        signs anything that conflicts with it. Buffered messages for ``height`` are replayed.
        """
        if height < 1 or height <= self.height:
            raise ValueError(f"cannot start height {height} after height {self.height}")
        self._h = h = _Height(height, validators)
        self._txs_waiting = txs_waiting
        if recovered is not None and recovered.height == height:
            self._restore(h, recovered)
        else:
            self._start_round(0)
        self._run_rules()
        future, self._future = self._future, []
        for message in future:
            if message.height == height:
                self._receive(message)
        return self._finish(Verdict.ACCEPTED)

    def on_message(self, message: Message) -> Outcome:
        """Handle a proposal or vote received from a peer."""
        if isinstance(message, Proposal):
            return self.on_proposal(message)
        return self.on_vote(message)

    def on_proposal(self, proposal: Proposal) -> Outcome:
        """Handle a received proposal."""
        verdict, reason = self._receive(proposal)
        return self._finish(verdict, reason)

    def on_vote(self, vote: Vote) -> Outcome:
        """Handle a received prevote or precommit."""
        verdict, reason = self._receive(vote)
        return self._finish(verdict, reason)

    def on_timeout(self, timeout: Timeout) -> Outcome:
        """Handle a timer scheduled earlier; stale timers are ignored."""
        h = self._h
        if h is None or h.decision is not None or timeout.height != h.height or timeout.round != h.round:
            return self._finish(Verdict.IGNORED, "stale timeout")
        if timeout.kind is TimeoutKind.PROPOSE and h.step is Step.PROPOSE:
            self._prevote(NIL)
        elif timeout.kind is TimeoutKind.PREVOTE and h.step is Step.PREVOTE:
            self._precommit(NIL)
        elif timeout.kind is TimeoutKind.PRECOMMIT:
            self._start_round(h.round + 1)
        elif timeout.kind is TimeoutKind.IDLE and h.step is Step.PROPOSE and h.idle_waiting:
            self._request_build()
        else:
            return self._finish(Verdict.IGNORED, "stale timeout")
        self._run_rules()
        return self._finish(Verdict.ACCEPTED)

    def on_txs_available(self) -> Outcome:
        """Transactions are waiting: a proposer idling at round 0 proposes now."""
        self._txs_waiting = True
        h = self._h
        if h is not None and h.idle_waiting and h.step is Step.PROPOSE and h.decision is None:
            self._request_build()
        return self._finish(Verdict.ACCEPTED)

    def on_block_built(self, height: int, round_: int, block_hash: bytes, block: bytes) -> Outcome:
        """The host built the block requested by BuildBlock(height, round): propose it."""
        h = self._h
        if (
            h is None
            or h.decision is not None
            or (height, round_) != (h.height, h.round)
            or h.build_requested != round_
            or h.step is not Step.PROPOSE
        ):
            return self._finish(Verdict.IGNORED, "stale block")
        h.build_requested = NO_ROUND
        self._propose(block_hash, block, NO_ROUND)
        self._run_rules()
        return self._finish(Verdict.ACCEPTED)

    def on_block_validated(self, height: int, block_hash: bytes, valid: bool) -> Outcome:
        """The host's answer to ValidateBlock."""
        h = self._h
        if h is None or height != h.height or h.validity.get(block_hash, False) is not None:
            return self._finish(Verdict.IGNORED, "not awaited")
        h.validity[block_hash] = valid
        self._run_rules()
        return self._finish(Verdict.ACCEPTED)

    def on_commit_certificate(self, block_hash: bytes, block: bytes, commit: Commit) -> Outcome:
        """Decide the current height from a peer's certificate (block sync, catching up).

        The host must have checked that ``block`` hashes to ``block_hash``; the engine
        verifies that ``commit`` certifies it with 2/3+ of this height's validators.
        """
        h = self._h
        if h is None or h.decision is not None or commit.height != h.height:
            return self._finish(Verdict.IGNORED, "not the current height")
        try:
            verify_commit(self.chain_id, commit, h.validators, h.height, block_hash)
        except InvalidBlock as exc:
            return self._finish(Verdict.REJECTED, exc.message)
        h.blocks.setdefault(block_hash, block)
        self._decide(Decision(h.height, commit.round, block_hash, block, commit))
        return self._finish(Verdict.ACCEPTED)

    # --- message intake -------------------------------------------------------------

    def _receive(self, message: Message) -> tuple[Verdict, str]:
        h = self._h
        if h is None:
            return self._buffer(message)
        if message.height < h.height:
            return Verdict.IGNORED, "stale height"
        if message.height > h.height:
            return self._buffer(message)
        if h.decision is not None:
            return Verdict.IGNORED, "height already decided"
        if isinstance(message, Proposal):
            return self._receive_proposal(h, message)
        return self._receive_vote(h, message)

    def _buffer(self, message: Message) -> tuple[Verdict, str]:
        if message.height != self.height + 1 or len(self._future) >= MAX_FUTURE_MESSAGES:
            return Verdict.IGNORED, "height too far ahead"
        self._future.append(message)
        return Verdict.IGNORED, "buffered for the next height"

    def _receive_proposal(self, h: _Height, p: Proposal) -> tuple[Verdict, str]:
        if p.proposer != h.validators.proposer(h.height, p.round):
            return Verdict.REJECTED, "not the proposer of this round"
        if not 0 <= p.pol_round + 1 <= p.round:
            return Verdict.REJECTED, "pol_round must be below the round"
        hashes = h.round_hashes.get(p.round, [])
        if p.block_hash in hashes:
            return Verdict.IGNORED, "duplicate proposal"
        if len(hashes) >= MAX_PROPOSALS_PER_ROUND:
            return Verdict.IGNORED, "too many proposals for this round"
        if not p.verify(self.chain_id, self._verify):
            return Verdict.REJECTED, "bad proposal signature"
        self._saw_round(h, p.proposer, p.round)
        if p.round > h.round + MAX_ROUNDS_AHEAD:
            self._run_rules()
            return Verdict.IGNORED, "round too far ahead"
        self._store_proposal(h, p, own=False)
        self._run_rules()
        return Verdict.ACCEPTED, "" if not hashes else "conflicting proposal from the proposer"

    def _store_proposal(self, h: _Height, p: Proposal, *, own: bool) -> None:
        h.proposals.setdefault(p.round, p)
        h.round_hashes.setdefault(p.round, []).append(p.block_hash)
        h.blocks.setdefault(p.block_hash, p.block)
        if own:
            h.validity[p.block_hash] = True
        elif p.block_hash not in h.validity:
            h.validity[p.block_hash] = None
            self._effects.append(ValidateBlock(h.height, p.block_hash, p.block))

    def _receive_vote(self, h: _Height, v: Vote) -> tuple[Verdict, str]:
        power = h.validators.power_of(v.validator)
        if power == 0:
            return Verdict.REJECTED, "vote from a non-validator"
        if v.round > h.round + MAX_ROUNDS_AHEAD:
            if h.highest_round.get(v.validator, -1) >= v.round:
                return Verdict.IGNORED, "round too far ahead"
            if not self._verify_vote(v):
                return Verdict.REJECTED, "bad vote signature"
            self._saw_round(h, v.validator, v.round)
            self._run_rules()
            return Verdict.IGNORED, "round too far ahead"
        tally = h.tally(v.round, v.type)
        if tally.has(v.validator, v.block_hash):
            return Verdict.IGNORED, "duplicate vote"
        if tally.full(v.validator):
            return Verdict.IGNORED, "too many conflicting votes"
        if not self._verify_vote(v):
            return Verdict.REJECTED, "bad vote signature"
        existing = tally.get(v.validator)
        tally.add(v, power)
        self._saw_round(h, v.validator, v.round)
        reason = ""
        if existing is not None:
            reason = "double vote"
            if (v.validator, v.round, v.type) not in h.reported:
                h.reported.add((v.validator, v.round, v.type))
                self._effects.append(EvidenceFound(DuplicateVoteEvidence.of(existing, v)))
        self._run_rules()
        return Verdict.ACCEPTED, reason

    def _verify_vote(self, v: Vote) -> bool:
        message = Vote.sign_bytes(self.chain_id, v.type, v.height, v.round, v.block_hash)
        return self._verify(v.validator, message, v.signature)

    def _saw_round(self, h: _Height, validator: bytes, round_: int) -> None:
        if round_ > h.highest_round.get(validator, -1):
            h.highest_round[validator] = round_

    # --- the algorithm --------------------------------------------------------------

    def _start_round(self, round_: int) -> None:
        """StartRound (lines 11-21): propose if it is our turn, else wait for a proposal."""
        h = self._require()
        h.round = round_
        h.step = Step.PROPOSE
        h.build_requested = NO_ROUND
        h.idle_waiting = False
        if self._me and h.validators.proposer(h.height, round_) == self._me:
            if h.valid_round != NO_ROUND and h.valid_hash in h.blocks:
                self._propose(h.valid_hash, h.blocks[h.valid_hash], h.valid_round)
            elif round_ == 0 and not self._txs_waiting:
                h.idle_waiting = True
                self._schedule(TimeoutKind.IDLE, round_)
            else:
                self._request_build()
        self._schedule_propose_timeout()

    def _schedule_propose_timeout(self) -> None:
        h = self._require()
        delay = self.timeouts.delay_ms(TimeoutKind.PROPOSE, h.round)
        if h.round == 0 and not self._txs_waiting:
            delay += self.timeouts.idle_ms
        self._effects.append(ScheduleTimeout(Timeout(TimeoutKind.PROPOSE, h.height, h.round), delay))

    def _request_build(self) -> None:
        h = self._require()
        h.idle_waiting = False
        h.build_requested = h.round
        self._effects.append(BuildBlock(h.height, h.round))

    def _propose(self, block_hash: bytes, block: bytes, pol_round: int) -> None:
        h = self._require()
        if self._priv is None:
            return
        try:
            p = self._priv.sign_proposal(h.height, h.round, pol_round, block_hash, block)
        except DoubleSignError as exc:
            self._effects.append(SignRefused(str(exc)))
            return
        h.own.append(p)
        if block_hash not in h.round_hashes.get(h.round, []):
            self._store_proposal(h, p, own=True)
        self._effects.append(Broadcast(p))

    def _sign_vote(self, type_: VoteType, block_hash: bytes) -> None:
        h = self._require()
        power = h.validators.power_of(self._me) if self._me else 0
        if self._priv is None or power == 0:
            return
        try:
            vote = self._priv.sign_vote(type_, h.height, h.round, block_hash)
        except DoubleSignError as exc:
            self._effects.append(SignRefused(str(exc)))
            return
        h.own.append(vote)
        tally = h.tally(vote.round, vote.type)
        if not tally.has(self._me, vote.block_hash):
            tally.add(vote, power)
        self._effects.append(Broadcast(vote))

    def _prevote(self, block_hash: bytes) -> None:
        self._require().step = Step.PREVOTE
        self._sign_vote(VoteType.PREVOTE, block_hash)

    def _precommit(self, block_hash: bytes) -> None:
        self._require().step = Step.PRECOMMIT
        self._sign_vote(VoteType.PRECOMMIT, block_hash)

    def _save_lock(self) -> None:
        h = self._require()
        if self._priv is not None:
            self._priv.save_lock(LockState(h.height, h.locked_round, h.locked_hash, h.valid_round, h.valid_hash))

    def _run_rules(self) -> None:
        """Apply every enabled upon-rule until none is (the algorithm's event loop)."""
        h = self._require()
        while h.decision is None:
            if self._try_decide(h) or self._try_skip_round(h):
                continue
            if h.step is Step.PROPOSE and self._try_prevote(h):
                continue
            if h.step is Step.PREVOTE:
                prevotes = h.tally(h.round, VoteType.PREVOTE)
                if prevotes.total >= h.validators.quorum and h.round not in h.prevote_timer:
                    h.prevote_timer.add(h.round)  # line 34
                    self._schedule(TimeoutKind.PREVOTE, h.round)
            if h.step in (Step.PREVOTE, Step.PRECOMMIT) and self._try_polka(h):
                continue
            if h.step is Step.PREVOTE and h.tally(h.round, VoteType.PREVOTE).power_for(NIL) >= h.validators.quorum:
                self._precommit(NIL)  # line 44
                continue
            precommits = h.tally(h.round, VoteType.PRECOMMIT)
            if precommits.total >= h.validators.quorum and h.round not in h.precommit_timer:
                h.precommit_timer.add(h.round)  # line 47
                self._schedule(TimeoutKind.PRECOMMIT, h.round)
            return

    def _try_prevote(self, h: _Height) -> bool:
        """Lines 22-33: prevote on the round's proposal once its validity is known."""
        p = h.proposals.get(h.round)
        if p is None:
            return False
        valid = h.validity.get(p.block_hash)
        if valid is None:
            return False
        v = p.block_hash
        if p.pol_round == NO_ROUND:
            accept = valid and (h.locked_round == NO_ROUND or h.locked_hash == v)
        else:
            polka = h.tally(p.pol_round, VoteType.PREVOTE).power_for(v) >= h.validators.quorum
            if not polka:
                return False
            accept = valid and (h.locked_round <= p.pol_round or h.locked_hash == v)
        self._prevote(v if accept else NIL)
        return True

    def _try_polka(self, h: _Height) -> bool:
        """Lines 36-43: 2/3+ prevotes for a valid proposal of this round: lock and precommit."""
        if h.round in h.polka_seen:
            return False
        prevotes = h.tally(h.round, VoteType.PREVOTE)
        for v in prevotes.hashes_with(h.validators.quorum):
            if v == NIL or v not in h.round_hashes.get(h.round, []) or h.validity.get(v) is not True:
                continue
            h.polka_seen.add(h.round)
            if h.step is Step.PREVOTE:
                h.locked_round, h.locked_hash = h.round, v
                h.valid_round, h.valid_hash = h.round, v
                self._save_lock()
                self._precommit(v)
            else:
                h.valid_round, h.valid_hash = h.round, v
                self._save_lock()
            return True
        return False

    def _try_decide(self, h: _Height) -> bool:
        """Lines 49-54: 2/3+ precommits for a valid block at any round decide it."""
        quorum = h.validators.quorum
        for (round_, type_), tally in h.votes.items():
            if type_ is not VoteType.PRECOMMIT or tally.total < quorum:
                continue
            for v in tally.hashes_with(quorum):
                if v != NIL and v in h.blocks and h.validity.get(v) is True:
                    commit = Commit.from_votes(tally.for_hash(v))
                    self._decide(Decision(h.height, round_, v, h.blocks[v], commit))
                    return True
        return False

    def _try_skip_round(self, h: _Height) -> bool:
        """Lines 55-56: messages from more than 1/3 of the power at a higher round: go there."""
        threshold = h.validators.total_power // 3 + 1
        power = 0
        for validator, round_ in sorted(h.highest_round.items(), key=lambda item: -item[1]):
            if round_ <= h.round:
                return False
            power += h.validators.power_of(validator)
            if power >= threshold:
                self._start_round(round_)
                return True
        return False

    def _decide(self, decision: Decision) -> None:
        h = self._require()
        h.decision = decision
        h.step = Step.DECIDED
        self._txs_waiting = False
        self._effects.append(Decide(decision))

    def _restore(self, h: _Height, rec: Recovered) -> None:
        """Resume after a restart from what the WAL says this validator signed at this height."""
        rounds = [p.round for p in rec.proposals] + [v.round for v in rec.votes]
        h.round = max(rounds, default=0)
        if rec.lock is not None:
            h.locked_round, h.locked_hash = rec.lock.locked_round, rec.lock.locked_hash
            h.valid_round, h.valid_hash = rec.lock.valid_round, rec.lock.valid_hash
        for p in rec.proposals:
            h.own.append(p)
            self._store_proposal(h, p, own=True)
            self._effects.append(Broadcast(p))
        power = h.validators.power_of(self._me)
        for v in rec.votes:
            h.own.append(v)
            if v.type is VoteType.PRECOMMIT and v.block_hash != NIL and v.round > h.locked_round:
                h.locked_round, h.locked_hash = v.round, v.block_hash
            tally = h.tally(v.round, v.type)
            if power and not tally.has(v.validator, v.block_hash):
                tally.add(v, power)
            self._effects.append(Broadcast(v))
        own_steps = {(v.round, v.type) for v in rec.votes}
        if (h.round, VoteType.PRECOMMIT) in own_steps:
            h.step = Step.PRECOMMIT
        elif (h.round, VoteType.PREVOTE) in own_steps:
            h.step = Step.PREVOTE
        elif any(p.round == h.round for p in rec.proposals):
            h.step = Step.PROPOSE
            self._schedule_propose_timeout()
        else:
            self._start_round(h.round)

    def _schedule(self, kind: TimeoutKind, round_: int) -> None:
        h = self._require()
        self._effects.append(ScheduleTimeout(Timeout(kind, h.height, round_), self.timeouts.delay_ms(kind, round_)))

    def _require(self) -> _Height:
        if self._h is None:
            raise RuntimeError("start_height was not called")
        return self._h

    def _finish(self, verdict: Verdict, reason: str = "") -> Outcome:
        effects, self._effects = tuple(self._effects), []
        return Outcome(verdict, reason, effects)
