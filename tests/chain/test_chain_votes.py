"""Votes, commit certificates, double-vote evidence and the validator set."""

from __future__ import annotations

from dataclasses import replace

import pytest
from chain_testkit import CHAIN_ID, double_vote, key

from chain.encoding import DecodeError, decode, encode, sha256
from chain.errors import InvalidBlock
from chain.validators import Validator, ValidatorSet
from chain.votes import NIL, Commit, CommitSig, DuplicateVoteEvidence, Vote, VoteType, verify_commit

KEYS = [key(i) for i in range(4)]
VALIDATORS = ValidatorSet.of(Validator(k.public_key, 1) for k in KEYS)
BLOCK = sha256(b"block-7")
HEIGHT = 7


def _precommits(signers: list[int], block_hash: bytes = BLOCK, height: int = HEIGHT) -> list[Vote]:
    return [Vote.create(KEYS[i], CHAIN_ID, VoteType.PRECOMMIT, height, 0, block_hash) for i in signers]


def _reject(commit: Commit, validators: ValidatorSet = VALIDATORS, height: int = HEIGHT, block: bytes = BLOCK) -> str:
    with pytest.raises(InvalidBlock) as info:
        verify_commit(CHAIN_ID, commit, validators, height, block)
    assert info.value.code == "bad_commit"
    return info.value.message


def test_vote_sign_verify_and_wire() -> None:
    vote = Vote.create(KEYS[0], CHAIN_ID, VoteType.PREVOTE, 3, 1, BLOCK)
    assert vote.verify(CHAIN_ID)
    assert not vote.verify("agora-other")
    for changed in (
        replace(vote, type=VoteType.PRECOMMIT),
        replace(vote, height=4),
        replace(vote, round=2),
        replace(vote, block_hash=NIL),
        replace(vote, validator=KEYS[1].public_key),
    ):
        assert not changed.verify(CHAIN_ID)
    assert Vote.from_wire(decode(encode(vote.to_wire()))) == vote
    nil = Vote.create(KEYS[0], CHAIN_ID, VoteType.PREVOTE, 3, 1, NIL)
    assert Vote.from_wire(nil.to_wire()) == nil and nil.verify(CHAIN_ID)


@pytest.mark.parametrize(
    ("index", "value"),
    [(0, 3), (0, True), (1, 0), (2, 2**31 + 1), (3, b"\x00" * 31), (3, b"\x00" * 33), (4, b"k"), (5, b"s" * 63)],
)
def test_malformed_votes_are_rejected(index: int, value: object) -> None:
    wire = Vote.create(KEYS[0], CHAIN_ID, VoteType.PREVOTE, 3, 1, BLOCK).to_wire()
    wire[index] = value
    with pytest.raises(DecodeError):
        Vote.from_wire(wire)


def test_a_real_certificate_is_accepted() -> None:
    for signers in ([0, 1, 2], [0, 1, 2, 3], [3, 1, 0]):
        commit = Commit.from_votes(_precommits(signers))
        verify_commit(CHAIN_ID, commit, VALIDATORS, HEIGHT, BLOCK)
        assert Commit.from_wire(decode(encode(commit.to_wire()))) == commit


def test_missing_quorum() -> None:
    assert VALIDATORS.quorum == 3
    assert "quorum" in _reject(Commit.from_votes(_precommits([0, 1])))
    assert "quorum" in _reject(Commit(HEIGHT, 0, BLOCK, ()))
    weighted = ValidatorSet.of([Validator(KEYS[0].public_key, 10), *(Validator(k.public_key, 1) for k in KEYS[1:])])
    assert weighted.quorum == 9
    verify_commit(CHAIN_ID, Commit.from_votes(_precommits([0])), weighted, HEIGHT, BLOCK)
    _reject(Commit.from_votes(_precommits([1, 2, 3])), weighted)


def test_unsorted_or_duplicate_signatures() -> None:
    commit = Commit.from_votes(_precommits([0, 1, 2]))
    assert "sorted" in _reject(replace(commit, signatures=commit.signatures[::-1]))
    assert "sorted" in _reject(replace(commit, signatures=(*commit.signatures[:2], commit.signatures[1])))


def test_non_validator_signatures() -> None:
    outsider = Vote.create(key(50), CHAIN_ID, VoteType.PRECOMMIT, HEIGHT, 0, BLOCK)
    commit = Commit.from_votes([*_precommits([0, 1, 2]), outsider])
    assert "non-validator" in _reject(commit)


def test_bad_signatures() -> None:
    commit = Commit.from_votes(_precommits([0, 1, 2]))
    sig = commit.signatures[1]
    forged = CommitSig(sig.validator, commit.signatures[0].signature)
    assert "invalid signature" in _reject(
        replace(commit, signatures=(commit.signatures[0], forged, commit.signatures[2]))
    )
    # Prevotes are not precommits; another chain's precommits do not count.
    prevotes = [Vote.create(KEYS[i], CHAIN_ID, VoteType.PREVOTE, HEIGHT, 0, BLOCK) for i in range(3)]
    as_commit = Commit(
        HEIGHT,
        0,
        BLOCK,
        tuple(CommitSig(v.validator, v.signature) for v in sorted(prevotes, key=lambda v: v.validator)),
    )
    assert "invalid signature" in _reject(as_commit)
    foreign = [Vote.create(KEYS[i], "agora-other", VoteType.PRECOMMIT, HEIGHT, 0, BLOCK) for i in range(3)]
    assert "invalid signature" in _reject(Commit.from_votes(foreign))
    # The round is signed too.
    assert "invalid signature" in _reject(replace(commit, round=1))


def test_wrong_height_or_hash() -> None:
    commit = Commit.from_votes(_precommits([0, 1, 2]))
    assert "height" in _reject(commit, height=HEIGHT + 1)
    assert "different block" in _reject(commit, block=sha256(b"other"))
    relabelled = replace(commit, height=HEIGHT + 1)
    assert "invalid signature" in _reject(relabelled, height=HEIGHT + 1)


def test_commit_from_votes_refuses_mixed_votes() -> None:
    with pytest.raises(ValueError):
        Commit.from_votes([])
    with pytest.raises(ValueError):
        Commit.from_votes([*_precommits([0]), *_precommits([1], block_hash=sha256(b"x"))])
    with pytest.raises(ValueError):
        Commit.from_votes([Vote.create(KEYS[0], CHAIN_ID, VoteType.PREVOTE, HEIGHT, 0, BLOCK)])


def test_commit_wire_bounds() -> None:
    commit = Commit.from_votes(_precommits([0, 1, 2]))
    wire = commit.to_wire()
    for index, value in ((0, 0), (1, -1), (2, NIL), (3, [[b"k", b"s"]]), (3, "x")):
        bad = list(wire)
        bad[index] = value
        with pytest.raises(DecodeError):
            Commit.from_wire(bad)
    with pytest.raises(DecodeError):
        Commit.from_wire(wire[:3])


def test_double_vote_evidence_is_accepted() -> None:
    evidence = double_vote(KEYS[2], 5)
    evidence.verify(CHAIN_ID, VALIDATORS)
    assert DuplicateVoteEvidence.from_wire(decode(encode(evidence.to_wire()))) == evidence
    assert DuplicateVoteEvidence.of(evidence.vote_b, evidence.vote_a) == evidence
    nil_vs_block = DuplicateVoteEvidence.of(
        Vote.create(KEYS[1], CHAIN_ID, VoteType.PRECOMMIT, 5, 2, NIL),
        Vote.create(KEYS[1], CHAIN_ID, VoteType.PRECOMMIT, 5, 2, BLOCK),
    )
    nil_vs_block.verify(CHAIN_ID, VALIDATORS)


def _vote(i: int, block: bytes, *, type_: VoteType = VoteType.PREVOTE, height: int = 5, round_: int = 0) -> Vote:
    return Vote.create(KEYS[i], CHAIN_ID, type_, height, round_, block)


@pytest.mark.parametrize(
    "evidence",
    [
        DuplicateVoteEvidence(_vote(0, BLOCK), _vote(0, BLOCK)),  # the same vote twice
        DuplicateVoteEvidence.of(_vote(0, BLOCK), _vote(1, sha256(b"x"))),  # two validators
        DuplicateVoteEvidence.of(_vote(0, BLOCK), _vote(0, sha256(b"x"), height=6)),
        DuplicateVoteEvidence.of(_vote(0, BLOCK), _vote(0, sha256(b"x"), round_=1)),
        DuplicateVoteEvidence.of(_vote(0, BLOCK), _vote(0, sha256(b"x"), type_=VoteType.PRECOMMIT)),
    ],
)
def test_votes_that_are_not_a_double_vote_are_rejected(evidence: DuplicateVoteEvidence) -> None:
    with pytest.raises(InvalidBlock) as info:
        evidence.verify(CHAIN_ID, VALIDATORS)
    assert info.value.code == "bad_evidence"


def test_fake_or_foreign_evidence_is_rejected() -> None:
    genuine = double_vote(KEYS[0], 5)
    swapped = DuplicateVoteEvidence(genuine.vote_b, genuine.vote_a)
    forged = replace(genuine, vote_b=replace(genuine.vote_b, signature=genuine.vote_a.signature))
    outsider = double_vote(key(60), 5)
    for bad, chain in ((swapped, CHAIN_ID), (forged, CHAIN_ID), (outsider, CHAIN_ID), (genuine, "agora-other")):
        with pytest.raises(InvalidBlock) as info:
            bad.verify(chain, VALIDATORS)
        assert info.value.code == "bad_evidence"
    # Someone else's signature on a vote claimed to be by this validator.
    framed = DuplicateVoteEvidence.of(_vote(0, BLOCK), replace(_vote(1, sha256(b"x")), validator=KEYS[0].public_key))
    with pytest.raises(InvalidBlock):
        framed.verify(CHAIN_ID, VALIDATORS)


# --- validator set ------------------------------------------------------------------------


def test_validator_set_rules() -> None:
    keys = sorted(k.public_key for k in KEYS)
    assert [v.public_key for v in VALIDATORS.validators] == keys
    assert VALIDATORS.total_power == 4 and len(VALIDATORS) == 4
    assert KEYS[0].public_key in VALIDATORS and key(50).public_key not in VALIDATORS
    assert VALIDATORS.power_of(key(50).public_key) == 0
    assert ValidatorSet.from_wire(decode(encode(VALIDATORS.to_wire()))) == VALIDATORS
    with pytest.raises(ValueError):
        ValidatorSet(())
    with pytest.raises(ValueError):
        ValidatorSet(tuple(reversed(VALIDATORS.validators)))
    with pytest.raises(ValueError):
        ValidatorSet.of([Validator(keys[0], 1), Validator(keys[0], 2)])
    with pytest.raises(DecodeError):
        Validator.from_wire([keys[0], 0])
    assert ValidatorSet.of([Validator(keys[0], 2), *VALIDATORS.validators[1:]]).hash() != VALIDATORS.hash()


def test_quorum_is_more_than_two_thirds() -> None:
    for powers in ([1], [1, 1], [1, 1, 1], [1, 1, 1, 1], [3, 3], [2**32, 1, 1], [5, 5, 5, 1]):
        vset = ValidatorSet.of(Validator(key(i).public_key, p) for i, p in enumerate(powers))
        total = sum(powers)
        assert 3 * vset.quorum > 2 * total
        assert 3 * (vset.quorum - 1) <= 2 * total


def test_proposer_rotation_is_weighted_and_deterministic() -> None:
    vset = ValidatorSet.of([Validator(KEYS[0].public_key, 3), Validator(KEYS[1].public_key, 1)])
    picks = [vset.proposer(h, 0) for h in range(400)]
    assert picks.count(KEYS[0].public_key) == 300
    assert picks == [vset.proposer(h, 0) for h in range(400)]
    assert vset.proposer(5, 1) == vset.proposer(6, 0)
