"""The consensus engine, driven message by message."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import pytest

from chain.encoding import DecodeError, encode
from chain.keys import PrivateKey
from chain.validators import Validator, ValidatorSet
from chain.votes import NIL, DuplicateVoteEvidence, Vote, VoteType, verify_commit
from consensus.engine import (
    Broadcast,
    BuildBlock,
    Decide,
    Decision,
    Engine,
    EvidenceFound,
    Outcome,
    ScheduleTimeout,
    Step,
    Timeout,
    TimeoutConfig,
    TimeoutKind,
    ValidateBlock,
    Verdict,
)
from consensus.messages import Message, Proposal, decode_message, encode_message
from consensus.signer import WalSigner
from consensus.sim import block_is_valid, make_block
from consensus.wal import MemoryWalStorage, Wal

CHAIN = "agora-test"
KEYS = sorted((PrivateKey(bytes([i + 1]) * 32) for i in range(7)), key=lambda k: k.public_key)
TIMEOUTS = TimeoutConfig(idle_ms=700)


@dataclass
class Net:
    """Validators with immediate, reliable, in-order delivery; timeouts are fired by hand."""

    n: int
    txs_waiting: bool = True
    invalid_from: set[int] = field(default_factory=set)
    muted: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.keys = KEYS[: self.n]
        self.validators = ValidatorSet.of(Validator(k.public_key, 1) for k in self.keys)
        self.engines = [Engine(CHAIN, WalSigner(k, CHAIN, Wal(MemoryWalStorage())), TIMEOUTS) for k in self.keys]
        self.queue: deque[tuple[int, Message]] = deque()
        self.timeouts: list[list[ScheduleTimeout]] = [[] for _ in self.keys]
        self.decisions: list[list[Decision]] = [[] for _ in self.keys]
        self.effects: list[list[object]] = [[] for _ in self.keys]

    def index_of(self, public_key: bytes) -> int:
        return [k.public_key for k in self.keys].index(public_key)

    def start(self, height: int = 1) -> None:
        for i, e in enumerate(self.engines):
            self.handle(i, e.start_height(height, self.validators, txs_waiting=self.txs_waiting))
        self.pump()

    def handle(self, i: int, outcome: Outcome) -> None:
        engine = self.engines[i]
        for effect in outcome.effects:
            self.effects[i].append(effect)
            if isinstance(effect, Broadcast):
                if i not in self.muted:
                    self.queue.extend((j, effect.message) for j in range(self.n) if j != i)
            elif isinstance(effect, ScheduleTimeout):
                self.timeouts[i].append(effect)
            elif isinstance(effect, BuildBlock):
                valid = i not in self.invalid_from
                block_hash, block = make_block(effect.height, effect.round, i, valid, 0)
                self.handle(i, engine.on_block_built(effect.height, effect.round, block_hash, block))
            elif isinstance(effect, ValidateBlock):
                ok = block_is_valid(effect.height, effect.block_hash, effect.block)
                self.handle(i, engine.on_block_validated(effect.height, effect.block_hash, ok))
            elif isinstance(effect, Decide):
                self.decisions[i].append(effect.decision)

    def pump(self) -> None:
        while self.queue:
            j, message = self.queue.popleft()
            self.handle(j, self.engines[j].on_message(message))

    def fire(self, kind: TimeoutKind) -> None:
        """Fire the latest timer of ``kind`` on every engine that scheduled it for its current round."""
        for i, e in enumerate(self.engines):
            for t in reversed(self.timeouts[i]):
                if t.timeout.kind is kind and t.timeout.round == e.round and t.timeout.height == e.height:
                    self.handle(i, e.on_timeout(t.timeout))
                    break
        self.pump()


def test_single_validator_commits_at_once() -> None:
    net = Net(1)
    net.start()
    [decision] = net.decisions[0]
    assert decision.height == 1 and decision.round == 0
    verify_commit(CHAIN, decision.commit, net.validators, 1, decision.block_hash)
    assert net.engines[0].step is Step.DECIDED


def test_idle_proposer_waits_for_transactions_then_proposes_at_once() -> None:
    net = Net(1, txs_waiting=False)
    net.start()
    assert net.decisions[0] == []
    assert not any(isinstance(e, BuildBlock) for e in net.effects[0])
    idle = [t for t in net.timeouts[0] if t.timeout.kind is TimeoutKind.IDLE]
    assert [t.delay_ms for t in idle] == [700]
    net.handle(0, net.engines[0].on_txs_available())
    assert len(net.decisions[0]) == 1


def test_idle_timer_proposes_an_empty_heartbeat_block() -> None:
    net = Net(1, txs_waiting=False)
    net.start()
    net.fire(TimeoutKind.IDLE)
    assert len(net.decisions[0]) == 1


def test_four_validators_agree_in_round_zero() -> None:
    net = Net(4)
    net.start()
    hashes = {d.block_hash for ds in net.decisions for d in ds}
    assert len(hashes) == 1 and all(len(ds) == 1 and ds[0].round == 0 for ds in net.decisions)
    for ds in net.decisions:
        verify_commit(CHAIN, ds[0].commit, net.validators, 1, ds[0].block_hash)
    for i, e in enumerate(net.engines):
        net.handle(i, e.start_height(2, net.validators, txs_waiting=True))
    net.pump()
    assert all(len(ds) == 2 for ds in net.decisions)


def test_silent_proposer_is_skipped_after_timeouts() -> None:
    net = Net(4)
    proposer = net.index_of(net.validators.proposer(1, 0))
    net.muted.add(proposer)
    net.start()
    assert all(ds == [] for ds in net.decisions)
    net.fire(TimeoutKind.PROPOSE)
    assert all(e.step is Step.PRECOMMIT for i, e in enumerate(net.engines) if i != proposer)
    net.fire(TimeoutKind.PRECOMMIT)
    net.muted.clear()
    net.pump()
    live = [ds for i, ds in enumerate(net.decisions) if i != proposer]
    assert all(len(ds) == 1 and ds[0].round == 1 for ds in live)


def test_invalid_block_gets_nil_prevotes() -> None:
    net = Net(4)
    proposer = net.index_of(net.validators.proposer(1, 0))
    net.invalid_from.add(proposer)
    net.start()
    for i, e in enumerate(net.engines):
        if i != proposer:
            assert e.step is Step.PRECOMMIT
            votes = [x.message for x in net.effects[i] if isinstance(x, Broadcast)]
            assert [v.block_hash for v in votes if isinstance(v, Vote)] == [NIL, NIL]
    assert all(ds == [] for ds in net.decisions)


def test_timeouts_grow_linearly_with_the_round() -> None:
    config = TimeoutConfig(propose_ms=1000, propose_delta_ms=500, prevote_ms=200, prevote_delta_ms=100)
    assert [config.delay_ms(TimeoutKind.PROPOSE, r) for r in range(3)] == [1000, 1500, 2000]
    assert config.delay_ms(TimeoutKind.PREVOTE, 4) == 600
    with pytest.raises(ValueError):
        TimeoutConfig(propose_ms=-1)


def test_lock_forbids_prevoting_another_block() -> None:
    """A validator that precommitted X at round 0 prevotes nil for a fresh Y at round 1."""
    net = Net(4)
    proposer0 = net.keys[net.index_of(net.validators.proposer(1, 0))]
    proposer1 = net.keys[net.index_of(net.validators.proposer(1, 1))]
    me = next(i for i, k in enumerate(net.keys) if k not in (proposer0, proposer1))
    e = net.engines[me]
    others = [k for i, k in enumerate(net.keys) if i != me]
    e.start_height(1, net.validators, txs_waiting=True)
    x_hash, x = make_block(1, 0, 9, True, 1)
    net.handle(me, e.on_proposal(Proposal.create(proposer0, CHAIN, 1, 0, -1, x_hash, x)))
    for k in others[:2]:
        net.handle(me, e.on_vote(Vote.create(k, CHAIN, VoteType.PREVOTE, 1, 0, x_hash)))
    assert e.lock is not None and e.lock.locked_hash == x_hash and e.step is Step.PRECOMMIT
    for k in others[:2]:
        net.handle(me, e.on_vote(Vote.create(k, CHAIN, VoteType.PRECOMMIT, 1, 0, NIL)))
    net.handle(me, e.on_timeout(Timeout(TimeoutKind.PRECOMMIT, 1, 0)))
    assert e.round == 1
    y_hash, y = make_block(1, 1, 9, True, 2)
    net.handle(me, e.on_proposal(Proposal.create(proposer1, CHAIN, 1, 1, -1, y_hash, y)))
    sent = [x.message for x in net.effects[me] if isinstance(x, Broadcast) and isinstance(x.message, Vote)]
    assert [(v.round, v.type, v.block_hash) for v in sent] == [
        (0, VoteType.PREVOTE, x_hash),
        (0, VoteType.PRECOMMIT, x_hash),
        (1, VoteType.PREVOTE, NIL),
    ]


def test_f_plus_one_messages_from_a_higher_round_skip_ahead() -> None:
    net = Net(4)
    e = net.engines[0]
    e.start_height(1, net.validators, txs_waiting=True)
    e.on_vote(Vote.create(net.keys[1], CHAIN, VoteType.PREVOTE, 1, 5, NIL))
    assert e.round == 0
    out = e.on_vote(Vote.create(net.keys[2], CHAIN, VoteType.PRECOMMIT, 1, 5, NIL))
    assert e.round == 5
    timers = [x for x in out.effects if isinstance(x, ScheduleTimeout)]
    assert timers and timers[-1].timeout == Timeout(TimeoutKind.PROPOSE, 1, 5)
    assert timers[-1].delay_ms == TIMEOUTS.delay_ms(TimeoutKind.PROPOSE, 5)


def test_bad_inputs_are_rejected_or_ignored_without_effect() -> None:
    net = Net(4)
    e = net.engines[0]
    e.start_height(2, net.validators, txs_waiting=True)
    outsider = PrivateKey(b"\x77" * 32)
    assert e.on_vote(Vote.create(outsider, CHAIN, VoteType.PREVOTE, 2, 0, NIL)).verdict is Verdict.REJECTED
    good = Vote.create(net.keys[1], CHAIN, VoteType.PREVOTE, 2, 0, NIL)
    forged = Vote(good.type, good.height, good.round, good.block_hash, good.validator, bytes(64))
    assert e.on_vote(forged).verdict is Verdict.REJECTED
    other_chain = Vote.create(net.keys[1], "other-chain", VoteType.PREVOTE, 2, 0, NIL)
    assert e.on_vote(other_chain).verdict is Verdict.REJECTED
    assert e.on_vote(Vote.create(net.keys[1], CHAIN, VoteType.PREVOTE, 1, 0, NIL)).reason == "stale height"
    h, b = make_block(2, 0, 0, True, 0)
    not_proposer = next(k for k in net.keys if k.public_key != net.validators.proposer(2, 0))
    wrong = Proposal.create(not_proposer, CHAIN, 2, 0, -1, h, b)
    assert e.on_proposal(wrong).verdict is Verdict.REJECTED
    assert e.on_vote(good).verdict is Verdict.ACCEPTED
    assert e.on_vote(good) == Outcome(Verdict.IGNORED, "duplicate vote")
    assert e.round == 0


def test_next_height_messages_are_buffered_and_replayed() -> None:
    net = Net(4)
    e = net.engines[0]
    e.start_height(1, net.validators, txs_waiting=True)
    early = Vote.create(net.keys[1], CHAIN, VoteType.PREVOTE, 2, 0, NIL)
    assert e.on_vote(early).reason == "buffered for the next height"
    assert e.on_vote(Vote.create(net.keys[1], CHAIN, VoteType.PREVOTE, 3, 0, NIL)).reason == "height too far ahead"
    e.start_height(2, net.validators, txs_waiting=True)
    assert early in e.gossip_messages()


def test_double_vote_produces_verifiable_evidence() -> None:
    net = Net(4)
    e = net.engines[0]
    e.start_height(1, net.validators, txs_waiting=True)
    a = Vote.create(net.keys[2], CHAIN, VoteType.PREVOTE, 1, 0, NIL)
    b = Vote.create(net.keys[2], CHAIN, VoteType.PREVOTE, 1, 0, b"\x05" * 32)
    e.on_vote(a)
    out = e.on_vote(b)
    [found] = [x for x in out.effects if isinstance(x, EvidenceFound)]
    assert found.evidence == DuplicateVoteEvidence.of(a, b)
    found.evidence.verify(CHAIN, net.validators)
    c = Vote.create(net.keys[2], CHAIN, VoteType.PREVOTE, 1, 0, b"\x06" * 32)
    assert not any(isinstance(x, EvidenceFound) for x in e.on_vote(c).effects)


def test_follower_decides_from_a_commit_certificate() -> None:
    net = Net(4)
    net.start()
    decision = net.decisions[0][0]
    follower = Engine(CHAIN, None, TIMEOUTS)
    follower.start_height(1, net.validators)
    tampered = type(decision.commit)(
        1, decision.commit.round, decision.commit.block_hash, decision.commit.signatures[:2]
    )
    assert follower.on_commit_certificate(decision.block_hash, decision.block, tampered).verdict is Verdict.REJECTED
    out = follower.on_commit_certificate(decision.block_hash, decision.block, decision.commit)
    assert out.verdict is Verdict.ACCEPTED
    assert next(x for x in out.effects if isinstance(x, Decide)).decision.block_hash == decision.block_hash


def test_message_codec_round_trips_and_rejects_garbage() -> None:
    h, b = make_block(1, 0, 0, True, 0)
    p = Proposal.create(KEYS[0], CHAIN, 3, 2, 1, h, b)
    v = Vote.create(KEYS[1], CHAIN, VoteType.PRECOMMIT, 3, 2, h)
    assert decode_message(encode_message(p)) == p and decode_message(encode_message(v)) == v
    assert p.verify(CHAIN) and not p.verify("other")
    for bad in (encode(["blob", []]), encode(["proposal", [3, 2, 2, h, b, KEYS[0].public_key, bytes(64)]]), b"\xc1"):
        with pytest.raises(DecodeError):
            decode_message(bad)


def test_random_message_storm_never_raises_and_stays_consistent() -> None:
    """Thousands of random (mostly invalid) messages: every one gets a verdict, none raises."""
    import random

    rng = random.Random(1234)
    net = Net(4)
    e = net.engines[0]
    e.start_height(3, net.validators, txs_waiting=True)
    outsider = PrivateKey(b"\x55" * 32)
    signers = [*net.keys, outsider]
    verdicts = set()
    for _ in range(3000):
        key = rng.choice(signers)
        height = rng.choice((1, 2, 3, 3, 3, 4, 5))
        round_ = rng.choice((0, 0, 1, 2, 9, 40, 2**31))
        block_hash = rng.choice((NIL, b"\x01" * 32, rng.randbytes(32)))
        if rng.random() < 0.3:
            h, b = make_block(height, round_, 0, rng.random() < 0.5, rng.randrange(99))
            pol = rng.choice((-1, 0, round_ - 1)) if round_ > 0 else -1
            msg: Message = Proposal.create(key, CHAIN, height, round_, pol, h, b)
        else:
            msg = Vote.create(key, CHAIN, rng.choice(list(VoteType)), height, round_, block_hash)
        if rng.random() < 0.1:
            msg = decode_message(encode_message(msg)[:-1] + b"\x00")
        out = e.on_message(msg)
        verdicts.add(out.verdict)
        net.handle(0, out)
    assert verdicts == {Verdict.ACCEPTED, Verdict.IGNORED, Verdict.REJECTED}
    assert e.height == 3
