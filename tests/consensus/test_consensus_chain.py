"""Consensus meets chain/: evidence lands in blocks, and the validator set changes by vote."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from chain.block import Block
from chain.errors import InvalidBlock
from chain.execution import EVIDENCE_PREFIX, BlockResult, build_block, execute_block, read_validators
from chain.genesis import Genesis, GenesisBalance
from chain.keys import PrivateKey
from chain.params import ChainParams
from chain.transfer import CORE_KINDS
from chain.tx import Transaction, sign_transaction
from chain.validator_update import (
    MAX_PENDING_UPDATES,
    PENDING_KEY,
    VALIDATOR_KINDS,
    ValidatorUpdate,
    scheduled_key,
)
from chain.validators import Validator, ValidatorSet
from chain.votes import NIL, Commit, DuplicateVoteEvidence, Vote, VoteType, verify_commit
from consensus.engine import Engine, EvidenceFound, Verdict
from consensus.evidence import EvidencePool

CHAIN = "agora-test"
REGISTRY = CORE_KINDS.merged(VALIDATOR_KINDS)
KEYS = [PrivateKey(bytes([i + 1]) * 32) for i in range(24)]
BY_PUB = {k.public_key: k for k in KEYS}


class Chain:
    """A chain driven block by block through build_block and execute_block over a MemoryState."""

    def __init__(self, n_validators: int) -> None:
        validators = ValidatorSet.of(Validator(k.public_key, 1) for k in KEYS[:n_validators])
        balances = tuple(GenesisBalance(k.public_key, "AGR", 10**9) for k in KEYS)
        self.genesis = Genesis(CHAIN, 1_000, ChainParams(), validators, balances)
        self.state = self.genesis.initial_state()
        self.parent: Block | None = None
        self.last_commit: Commit | None = None
        self.nonces: dict[bytes, int] = {}

    @property
    def height(self) -> int:
        return 0 if self.parent is None else self.parent.height

    def validators(self) -> ValidatorSet:
        return read_validators(self.state)

    def tx(self, key: PrivateKey, body: object) -> Transaction:
        nonce = self.nonces.get(key.public_key, 0)
        self.nonces[key.public_key] = nonce + 1
        return sign_transaction(key, CHAIN, nonce, 10, body)

    def commit_block(
        self, txs: Sequence[Transaction] = (), evidence: tuple[DuplicateVoteEvidence, ...] = ()
    ) -> tuple[Block, BlockResult]:
        signers = self.validators()
        height = self.height + 1
        parent_header = None if self.parent is None else self.parent.header
        block, built, rejected = build_block(
            self.state,
            REGISTRY,
            parent_header,
            self.genesis.hash,
            CHAIN,
            1_000 + height,
            signers.proposer(height, 0),
            txs,
            self.last_commit,
            evidence,
        )
        assert not rejected
        result = execute_block(self.state, REGISTRY, block, parent_header, self.genesis.hash)
        assert result.state_root == built.state_root
        self.state.apply(result.writes)
        votes = [
            Vote.create(BY_PUB[v.public_key], CHAIN, VoteType.PRECOMMIT, height, 0, block.hash)
            for v in signers.validators
        ]
        commit = Commit.from_votes(votes)
        verify_commit(CHAIN, commit, signers, height, block.hash)
        self.parent, self.last_commit = block, commit
        return block, result


# --- evidence -------------------------------------------------------------------------


def test_double_vote_detected_by_the_engine_ends_up_in_a_block() -> None:
    chain = Chain(4)
    validators = chain.validators()
    engine = Engine(CHAIN, None)
    engine.start_height(1, validators)
    cheat = KEYS[2]
    engine.on_vote(Vote.create(cheat, CHAIN, VoteType.PRECOMMIT, 1, 0, NIL))
    out = engine.on_vote(Vote.create(cheat, CHAIN, VoteType.PRECOMMIT, 1, 0, b"\x42" * 32))
    [found] = [e.evidence for e in out.effects if isinstance(e, EvidenceFound)]

    pool = EvidencePool(CHAIN)
    assert pool.add(found, validators, height=1)
    assert not pool.add(found, validators, height=1)
    pending = pool.pending(chain.validators(), chain.state, height=1)
    assert pending == (found,)
    block, result = chain.commit_block(evidence=pending)
    assert block.evidence == (found,)
    assert chain.state.get(EVIDENCE_PREFIX + found.hash()) is not None
    assert [e.get("validator") for e in result.block_events if e.type == "evidence"] == [cheat.public_key]

    pool.mark_committed(block.evidence)
    assert len(pool) == 0 and not pool.add(found, validators, height=2)
    assert pool.pending(chain.validators(), chain.state, height=2) == ()
    with pytest.raises(InvalidBlock):
        chain.commit_block(evidence=(found,))


def test_pool_is_bounded_and_rejects_forgeries() -> None:
    validators = Chain(4).validators()
    pool = EvidencePool(CHAIN, max_pending=2)
    items = []
    for r in range(3):
        a = Vote.create(KEYS[1], CHAIN, VoteType.PREVOTE, 5, r, NIL)
        b = Vote.create(KEYS[1], CHAIN, VoteType.PREVOTE, 5, r, b"\x01" * 32)
        items.append(DuplicateVoteEvidence.of(a, b))
    assert [pool.add(e, validators, height=5) for e in items] == [True, True, False]
    outsider = PrivateKey(b"\x99" * 32)
    forged = DuplicateVoteEvidence.of(
        Vote.create(outsider, CHAIN, VoteType.PREVOTE, 5, 0, NIL),
        Vote.create(outsider, CHAIN, VoteType.PREVOTE, 5, 0, b"\x01" * 32),
    )
    with pytest.raises(InvalidBlock):
        pool.add(forged, validators, height=5)
    stale = EvidencePool(CHAIN, max_age=10)
    assert not stale.add(items[0], validators, height=50)


# --- validator-set changes ---------------------------------------------------------------


def _codes(result: BlockResult) -> list[str]:
    return [r.code for r in result.receipts]


def test_added_validator_takes_effect_two_heights_after_quorum() -> None:
    chain = Chain(4)
    old = chain.validators()
    newcomer = KEYS[10]
    add = ValidatorUpdate(newcomer.public_key, 3)
    _, r1 = chain.commit_block([chain.tx(KEYS[0], add), chain.tx(KEYS[1], add)])
    assert _codes(r1) == ["ok", "ok"]
    assert chain.validators() == old and chain.state.get(PENDING_KEY) is not None

    _block2, r2 = chain.commit_block([chain.tx(KEYS[2], add)])
    assert _codes(r2) == ["ok"]
    [event] = r2.receipts[0].events
    assert event.type == "validator_update_scheduled" and event.get("effective_height") == 4
    assert chain.validators() == old and chain.state.get(PENDING_KEY) is None

    block3, r3 = chain.commit_block()
    assert block3.header.validators_hash == old.hash()
    assert [e.type for e in r3.block_events] == ["validator_update_applied"]
    new = chain.validators()
    assert new.power_of(newcomer.public_key) == 3 and len(new) == 5
    assert chain.state.get(scheduled_key(3)) is None

    block4, _ = chain.commit_block()
    assert block4.header.validators_hash == new.hash()

    # The engine is told the set of each height: the newcomer's votes count from height 4 on.
    vote3 = Vote.create(newcomer, CHAIN, VoteType.PREVOTE, 3, 0, NIL)
    at3 = Engine(CHAIN, None)
    at3.start_height(3, old)
    assert at3.on_vote(vote3).verdict is Verdict.REJECTED
    at4 = Engine(CHAIN, None)
    at4.start_height(4, new)
    assert at4.on_vote(Vote.create(newcomer, CHAIN, VoteType.PREVOTE, 4, 0, NIL)).verdict is Verdict.ACCEPTED


def test_votes_below_quorum_change_nothing_and_removal_works() -> None:
    chain = Chain(4)
    target = KEYS[3].public_key
    remove = ValidatorUpdate(target, 0)
    chain.commit_block([chain.tx(KEYS[0], remove), chain.tx(KEYS[1], remove)])
    for _ in range(3):
        chain.commit_block()
    assert target in chain.validators()
    chain.commit_block([chain.tx(KEYS[3], remove)])  # the removed validator's own vote counts too
    assert target in chain.validators()
    chain.commit_block()
    assert target not in chain.validators() and len(chain.validators()) == 3


def test_invalid_votes_fail_with_typed_codes() -> None:
    chain = Chain(4)
    outsider = KEYS[20]
    add = ValidatorUpdate(KEYS[11].public_key, 1)
    _, result = chain.commit_block(
        [
            chain.tx(outsider, add),
            chain.tx(KEYS[0], add),
            chain.tx(KEYS[0], add),
            chain.tx(KEYS[1], ValidatorUpdate(KEYS[12].public_key, 0)),
            chain.tx(KEYS[1], ValidatorUpdate(KEYS[0].public_key, 1)),
        ]
    )
    assert _codes(result) == ["not_validator", "ok", "already_voted", "not_a_validator", "no_change"]

    solo = Chain(1)
    _, result = solo.commit_block([solo.tx(KEYS[0], ValidatorUpdate(KEYS[0].public_key, 0))])
    assert _codes(result) == ["last_validator"]
    assert len(solo.validators()) == 1


def test_pending_proposals_are_bounded() -> None:
    chain = Chain(4)
    txs = [chain.tx(KEYS[0], ValidatorUpdate(KEYS[4 + i].public_key, 1)) for i in range(MAX_PENDING_UPDATES + 1)]
    _, result = chain.commit_block(txs)
    assert _codes(result) == ["ok"] * MAX_PENDING_UPDATES + ["too_many_pending"]
    assert ValidatorUpdate.from_wire(ValidatorUpdate(KEYS[4].public_key, 0).to_wire()).power == 0
