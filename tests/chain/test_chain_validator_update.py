"""Validator-set changes by an on-chain 2/3+ vote (chain/validator_update.py)."""

from __future__ import annotations

import pytest
from chain_testkit import CHAIN_ID, TestChain, genesis_json, key
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.encoding import DecodeError, decode, encode
from chain.execution import BlockResult, TxContext, read_validators
from chain.genesis import genesis_from_json
from chain.keys import PrivateKey
from chain.state import MemoryState, Overlay
from chain.transfer import CORE_KINDS
from chain.tx import Transaction, sign_transaction
from chain.validator_update import (
    MAX_PENDING_UPDATES,
    PENDING_KEY,
    PENDING_TTL,
    VALIDATOR_KINDS,
    ValidatorUpdate,
    activate_validator_updates,
    apply_validator_update,
    read_pending,
    scheduled_key,
)
from chain.validators import MAX_POWER, MAX_VALIDATORS, Validator, ValidatorSet

REGISTRY = CORE_KINDS.merged(VALIDATOR_KINDS)
V = [key(i) for i in range(4)]
NEWCOMER = key(40)


def _chain(validators: list[PrivateKey]) -> TestChain:
    doc = genesis_json(validators, [(v, 10_000) for v in validators])
    return TestChain(genesis_from_json(doc), tuple(validators), registry=REGISTRY)


class _Nonces:
    def __init__(self) -> None:
        self.next: dict[bytes, int] = {}

    def vote(self, signer: PrivateKey, target: bytes, power: int) -> Transaction:
        nonce = self.next.get(signer.public_key, 0)
        self.next[signer.public_key] = nonce + 1
        return sign_transaction(signer, CHAIN_ID, nonce, 10, ValidatorUpdate(target, power))


def _codes(result: BlockResult) -> list[str]:
    return [r.code for r in result.receipts]


def test_adding_a_validator_takes_effect_two_blocks_after_the_quorum() -> None:
    chain = _chain(V)
    old_set = read_validators(chain.state)
    assert old_set.quorum == 3
    n = _Nonces()
    _, result, _ = chain.produce([n.vote(V[0], NEWCOMER.public_key, 2), n.vote(V[1], NEWCOMER.public_key, 2)])
    assert _codes(result) == ["ok", "ok"]
    assert [e.type for r in result.receipts for e in r.events] == ["validator_update_vote"] * 2
    (pending,) = read_pending(Overlay(chain.state))
    assert pending.voters == tuple(sorted([V[0].public_key, V[1].public_key]))
    # The third vote reaches 2/3+ at height 2: scheduled for height 3, certifying from height 4.
    _, result, _ = chain.produce([n.vote(V[2], NEWCOMER.public_key, 2)])
    assert result.receipts[0].events[0].type == "validator_update_scheduled"
    assert result.receipts[0].events[0].get("effective_height") == 4
    assert read_pending(Overlay(chain.state)) == []
    assert read_validators(chain.state) == old_set
    block3, result3, _ = chain.produce([])
    assert block3.header.validators_hash == old_set.hash()  # block 3 is still the old set's
    assert [e.type for e in result3.block_events] == ["validator_update_applied"]
    new_set = read_validators(chain.state)
    assert new_set.power_of(NEWCOMER.public_key) == 2 and new_set.total_power == 6
    assert chain.state.get(scheduled_key(3)) is None
    block4, _, _ = chain.produce([])
    assert block4.header.validators_hash == new_set.hash()
    # A late vote for a change already scheduled is a fresh proposal that changes nothing.
    _, result, _ = chain.produce([n.vote(V[3], NEWCOMER.public_key, 2)])
    assert _codes(result) == ["no_change"]


def test_removal_and_its_failures() -> None:
    chain = _chain(V[:2])  # quorum 2 of 2
    n = _Nonces()
    outsider_vote = sign_transaction(NEWCOMER, CHAIN_ID, 0, 10, ValidatorUpdate(V[0].public_key, 0))
    chain.state.apply({b"bal/" + NEWCOMER.public_key + b"/AGR": encode(100)})
    _, result, _ = chain.produce(
        [
            outsider_vote,
            n.vote(V[0], NEWCOMER.public_key, 0),  # not a validator: nothing to remove
            n.vote(V[0], V[1].public_key, 1),  # already has this power
            n.vote(V[0], V[1].public_key, 0),
            n.vote(V[0], V[1].public_key, 0),  # second vote by the same validator
            n.vote(V[1], V[1].public_key, 0),  # quorum: V1 votes itself out
        ]
    )
    assert _codes(result) == ["not_validator", "not_a_validator", "no_change", "ok", "already_voted", "ok"]
    chain.produce([])
    assert read_validators(chain.state) == ValidatorSet.of([Validator(V[0].public_key, 1)])
    _, result, _ = chain.produce([n.vote(V[0], V[0].public_key, 0)])
    assert _codes(result) == ["last_validator"]


def test_a_set_never_exceeds_the_maximum() -> None:
    everyone = [key(100 + i) for i in range(MAX_VALIDATORS)]
    doc = genesis_json(everyone, [(everyone[0], 1_000)])
    doc["validators"][0]["power"] = MAX_POWER  # alone above 2/3 of the total
    chain = TestChain(genesis_from_json(doc), tuple(everyone), registry=REGISTRY)
    _, result, _ = chain.produce([_Nonces().vote(everyone[0], NEWCOMER.public_key, 1)])
    assert _codes(result) == ["too_many_validators"]


def _ctx(state: Overlay, height: int, sender: bytes = b"") -> TxContext:
    return TxContext(state, CHAIN_ID, height, 0, V[0].public_key, sender, b"")


def test_open_proposals_are_bounded_and_expire() -> None:
    genesis = genesis_from_json(genesis_json(V, []))
    state = Overlay(genesis.initial_state())
    for i in range(MAX_PENDING_UPDATES):
        apply_validator_update(_ctx(state, 5, V[0].public_key), ValidatorUpdate(key(200 + i).public_key, 1))
    assert len(read_pending(state)) == MAX_PENDING_UPDATES
    with pytest.raises(Exception) as info:
        apply_validator_update(_ctx(state, 5, V[0].public_key), ValidatorUpdate(key(300).public_key, 1))
    assert getattr(info.value, "code", None) == "too_many_pending"
    activate_validator_updates(_ctx(state, 5 + PENDING_TTL))
    assert len(read_pending(state)) == MAX_PENDING_UPDATES
    activate_validator_updates(_ctx(state, 6 + PENDING_TTL))
    assert read_pending(state) == [] and state.get(PENDING_KEY) is None
    # Expired proposals no longer count, so new ones fit again.
    apply_validator_update(_ctx(state, 6 + PENDING_TTL, V[0].public_key), ValidatorUpdate(key(300).public_key, 1))
    assert len(read_pending(state)) == 1


def test_at_most_sixteen_changes_activate_at_once() -> None:
    # One validator holds the quorum alone, so each of its votes schedules a change at once.
    chain = _chain(V[:1])
    n = _Nonces()
    votes = [n.vote(V[0], key(500 + i).public_key, 1) for i in range(MAX_PENDING_UPDATES + 2)]
    _, result, _ = chain.produce(votes)
    assert _codes(result) == ["ok"] * MAX_PENDING_UPDATES + ["too_many_pending"] * 2
    _, result, _ = chain.produce([])
    assert len(result.block_events) == MAX_PENDING_UPDATES
    assert len(read_validators(chain.state)) == 1 + MAX_PENDING_UPDATES
    assert chain.blocks[-1] is not None  # the chain goes on


def test_invalid_scheduled_changes_are_skipped_not_fatal() -> None:
    genesis = genesis_from_json(genesis_json(V[:2], []))
    state = Overlay(genesis.initial_state())
    state.put_value(scheduled_key(9), [[V[0].public_key, 0], [V[1].public_key, 0]])
    ctx = _ctx(state, 9)
    activate_validator_updates(ctx)
    assert [e.type for e in ctx.events] == ["validator_update_applied", "validator_update_skipped"]
    assert read_validators(state) == ValidatorSet.of([Validator(V[1].public_key, 1)])


def test_body_wire_bounds() -> None:
    body = ValidatorUpdate(NEWCOMER.public_key, 7)
    assert ValidatorUpdate.from_wire(decode(encode(body.to_wire()))) == body
    for bad in ([NEWCOMER.public_key], [b"k", 1], [NEWCOMER.public_key, -1], [NEWCOMER.public_key, MAX_POWER + 1]):
        with pytest.raises(DecodeError):
            ValidatorUpdate.from_wire(bad)


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), st.integers(0, 3)), max_size=25))
@settings(max_examples=40, deadline=None)
def test_random_votes_keep_a_valid_set_and_replay_identically(votes: list[tuple[int, int, int]]) -> None:
    chain = _chain(V)
    n = _Nonces()
    targets = [*V, NEWCOMER, key(41)]
    txs = [n.vote(V[s], targets[t].public_key, p) for s, t, p in votes]
    for start in range(0, len(txs), 5):
        chain.produce(txs[start : start + 5])
    chain.produce([])
    chain.produce([])
    final = read_validators(chain.state)
    assert 1 <= len(final) <= MAX_VALIDATORS
    replayed = TestChain(chain.genesis, chain.validators, registry=REGISTRY)
    for block in chain.blocks:
        replayed.apply(block, replayed.execute(block))
    assert list(replayed.state.items()) == list(chain.state.items())
    assert isinstance(MemoryState(), MemoryState)
