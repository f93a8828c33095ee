"""The light client (chain/light_client.py) over synthetic chains whose validator set changes.

Headers are built and certified here by real Ed25519 keys; nothing is mocked. The light
client must accept exactly the chains the validators certified and fail, with the exact
reason, on every forged, under-signed, mismatched or garbled input.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.block import ZERO_HASH, Header
from chain.encoding import encode, sha256
from chain.keys import PrivateKey
from chain.light_client import (
    LightBlock,
    LightClientError,
    NotEnoughTrust,
    TrustedState,
    TxEvidence,
    compare_headers,
    verify_adjacent,
    verify_skipping,
    verify_state,
    verify_step,
    verify_to,
    verify_tx,
)
from chain.merkle import merkle_proof, merkle_root
from chain.state import MemoryState
from chain.state_tree import StateProof, read_at
from chain.validators import Validator, ValidatorSet
from chain.votes import Commit, CommitSig, Vote, VoteType
from node.datadir import dev_genesis

CHAIN = "light-test"
KEYS = sorted((PrivateKey(sha256(b"light-%d" % i)) for i in range(16)), key=lambda k: k.public_key)
GENESIS_HASH = sha256(b"light-genesis")


def vset(members: Sequence[int]) -> ValidatorSet:
    """A set of equal-power validators from KEYS."""
    return ValidatorSet.of(Validator(KEYS[i].public_key, 1) for i in members)


def certify(header: Header, members: Sequence[int], round_: int = 0) -> Commit:
    """A certificate of ``header`` signed by the keys ``members``."""
    message = Vote.sign_bytes(CHAIN, VoteType.PRECOMMIT, header.height, round_, header.hash)
    signers = sorted((KEYS[i] for i in members), key=lambda k: k.public_key)
    return Commit(header.height, round_, header.hash, tuple(CommitSig(k.public_key, k.sign(message)) for k in signers))


def build_chain(sets: Sequence[Sequence[int]]) -> dict[int, LightBlock]:
    """Light blocks for heights 1..len(sets)-1; ``sets[h]`` certifies height h (sets[0] is the genesis set)."""
    blocks: dict[int, LightBlock] = {}
    parent = GENESIS_HASH
    for h in range(1, len(sets)):
        current, following = vset(sets[h]), vset(sets[h + 1] if h + 1 < len(sets) else sets[h])
        header = Header(
            CHAIN,
            h,
            1000 + h,
            parent,
            ZERO_HASH,
            sha256(b"state-%d" % h),
            ZERO_HASH,
            KEYS[sets[h][0]].public_key,
            current.hash(),
            following.hash(),
            ZERO_HASH,
            ZERO_HASH,
        )
        blocks[h] = LightBlock(header, certify(header, sets[h]), current, following)
        parent = header.hash
    return blocks


def genesis_state(members: Sequence[int]) -> TrustedState:
    """The trusted start before block 1."""
    return TrustedState(CHAIN, 0, GENESIS_HASH, 1000, sha256(b"genesis-state"), vset(members), None)


def drive(
    steps: Generator[int, LightBlock, list[LightBlock]], blocks: dict[int, LightBlock]
) -> tuple[list[int], list[LightBlock]]:
    """Feed ``verify_to`` from ``blocks``; returns the heights it asked for and what it verified."""
    asked = []
    try:
        want = next(steps)
        while True:
            asked.append(want)
            want = steps.send(blocks[want])
    except StopIteration as done:
        return asked, done.value


def rotating_sets(start: Sequence[int], fresh: Sequence[int], every: int) -> list[list[int]]:
    """Replace one member of ``start`` by the next of ``fresh`` every ``every`` heights."""
    current = list(start)
    sets = [list(current)]
    for i in range(len(fresh) * every + every):
        if i and i % every == 0 and (i // every - 1) < len(fresh):
            current = [*current[1:], fresh[i // every - 1]]
        sets.append(sorted(current))
    return sets


# --- sequential and skipping ------------------------------------------------------------------


def test_each_header_is_accepted_sequentially_across_validator_set_changes() -> None:
    sets = rotating_sets([0, 1, 2, 3], [4, 5, 6, 7], every=3)
    blocks = build_chain(sets)
    trusted = genesis_state(sets[0])
    for h in range(1, len(sets)):
        trusted = verify_adjacent(trusted, blocks[h])
        assert trusted.height == h and trusted.header_hash == blocks[h].header.hash
    assert trusted.next_validators == vset([4, 5, 6, 7])


def test_a_skip_is_accepted_when_a_third_of_the_trusted_power_signed() -> None:
    sets = [[0, 1, 2, 3]] * 5 + [[0, 1, 2, 4]] * 5  # one validator swapped: 3 of 4 trusted still sign
    blocks = build_chain(sets)
    asked, verified = drive(verify_to(genesis_state(sets[0]), 9), blocks)
    assert asked == [9]
    assert [b.height for b in verified] == [9]


def test_bisection_reaches_a_header_whose_signers_the_client_does_not_trust() -> None:
    sets = rotating_sets([0, 1, 2, 3], [4, 5, 6, 7, 8, 9, 10, 11], every=4)
    blocks = build_chain(sets)
    target = len(sets) - 1
    with pytest.raises(NotEnoughTrust):
        verify_skipping(genesis_state(sets[0]), blocks[target])
    asked, verified = drive(verify_to(genesis_state(sets[0]), target), blocks)
    assert verified[-1].height == target
    assert len(asked) > 1, "a set fully replaced needs intermediate headers"
    assert [b.height for b in verified] == sorted(b.height for b in verified)
    # The sequential walk reaches the same header.
    trusted = genesis_state(sets[0])
    for h in range(1, target + 1):
        trusted = verify_adjacent(trusted, blocks[h])
    assert trusted.header_hash == verified[-1].header.hash


def test_a_real_genesis_starts_the_client() -> None:
    genesis = dev_genesis(CHAIN, [KEYS[i].public_key for i in range(4)], {KEYS[0].public_key: 10}, time_ms=1)
    start = TrustedState.from_genesis(genesis)
    assert start.height == 0 and start.header_hash == genesis.hash
    assert start.next_validators == genesis.validators
    assert start.state_root == genesis.state_root


# --- what must fail, with the reason ------------------------------------------------------


def _chain4() -> tuple[TrustedState, dict[int, LightBlock]]:
    sets = [[0, 1, 2, 3]] * 6
    return genesis_state(sets[0]), build_chain(sets)


def _reason(call: object) -> str:
    assert callable(call)
    with pytest.raises(LightClientError) as caught:
        call()
    return caught.value.reason


def test_a_forged_header_fails() -> None:
    start, blocks = _chain4()
    forged = replace(blocks[1], header=replace(blocks[1].header, state_root=sha256(b"lie")))
    assert _reason(lambda: verify_adjacent(start, forged)) == "forged_header"
    trusted = verify_adjacent(start, blocks[1])
    assert (
        _reason(lambda: verify_skipping(trusted, replace(blocks[5], header=replace(blocks[5].header, time_ms=9999))))
        == "forged_header"
    )


def test_a_certificate_below_two_thirds_fails() -> None:
    start, blocks = _chain4()
    header = blocks[1].header
    weak = replace(blocks[1], commit=certify(header, [0, 1]))
    assert _reason(lambda: verify_adjacent(start, weak)) == "insufficient_power"


def test_signatures_that_do_not_verify_or_come_from_outsiders_fail() -> None:
    start, blocks = _chain4()
    good = blocks[1].commit
    bad_sig = replace(good, signatures=(replace(good.signatures[0], signature=bytes(64)), *good.signatures[1:]))
    assert _reason(lambda: verify_adjacent(start, replace(blocks[1], commit=bad_sig))) == "forged_commit"
    outsider = certify(blocks[1].header, [0, 1, 2, 9])
    assert _reason(lambda: verify_adjacent(start, replace(blocks[1], commit=outsider))) == "forged_commit"
    unsorted = replace(good, signatures=tuple(reversed(good.signatures)))
    assert _reason(lambda: verify_adjacent(start, replace(blocks[1], commit=unsorted))) == "forged_commit"


def test_a_validator_set_whose_hash_does_not_match_fails() -> None:
    start, blocks = _chain4()
    assert (
        _reason(lambda: verify_adjacent(start, replace(blocks[1], validators=vset([0, 1, 2, 4]))))
        == "validators_mismatch"
    )
    assert (
        _reason(lambda: verify_adjacent(start, replace(blocks[1], next_validators=vset([0, 1, 2, 4]))))
        == "validators_mismatch"
    )
    # A self-consistent chain certified by a set the trusted header did not name.
    other = build_chain([[0, 1, 2, 3], [4, 5, 6, 7], [4, 5, 6, 7]])
    assert _reason(lambda: verify_adjacent(start, other[1])) == "validators_mismatch"


def test_another_chain_a_broken_link_or_time_going_back_fail() -> None:
    start, blocks = _chain4()
    trusted = verify_adjacent(start, blocks[1])
    assert _reason(lambda: verify_adjacent(start, blocks[2])) == "not_adjacent"
    assert _reason(lambda: verify_adjacent(replace(start, chain_id="other"), blocks[1])) == "wrong_chain"
    assert _reason(lambda: verify_adjacent(replace(trusted, header_hash=sha256(b"x")), blocks[2])) == "forged_header"
    assert _reason(lambda: verify_adjacent(replace(trusted, time_ms=10**9), blocks[2])) == "time_not_increasing"


def test_verify_to_refuses_a_block_for_another_height() -> None:
    start, blocks = _chain4()
    steps = verify_to(start, 5)
    assert next(steps) == 5
    with pytest.raises(LightClientError) as caught:
        steps.send(blocks[4])
    assert caught.value.reason == "wrong_height"


@pytest.mark.parametrize("data", [b"", b"\xc1", encode([1, 2, 3]), encode(["a", "b", "c", "d"]), b"\x00" * 70_000])
def test_garbage_is_malformed(data: bytes) -> None:
    assert _reason(lambda: LightBlock.decode(data)) == "malformed"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_single_byte_change_of_a_light_block_fails(data: st.DataObject) -> None:
    start, blocks = _CHAIN_FOR_MUTATION
    raw = bytearray(blocks[3].encode())
    position = data.draw(st.integers(0, len(raw) - 1), label="position")
    raw[position] ^= data.draw(st.integers(1, 255), label="xor")
    with pytest.raises(LightClientError):
        verify_step(start, LightBlock.decode(bytes(raw)))


_CHAIN_FOR_MUTATION = (genesis_state([0, 1, 2, 3]), build_chain([[0, 1, 2, 3]] * 3 + [[0, 1, 2, 4]] * 2))


# --- proofs against a verified header ---------------------------------------------------


def _state() -> MemoryState:
    state = MemoryState({b"k%03d" % i: b"v%d" % i for i in range(200)})
    state.apply({b"k007": b"changed", b"k008": None})
    return state


def test_state_proofs_verify_and_every_kind_of_tampering_fails() -> None:
    state = _state()
    value, proof = read_at(state, state.tree_root, b"k007")
    assert value == b"changed"
    proof_bytes = encode(proof.to_wire())
    verify_state(state.root, b"k007", value, proof_bytes)
    absent, absence = read_at(state, state.tree_root, b"k008")
    assert absent is None
    verify_state(state.root, b"k008", None, encode(absence.to_wire()))

    assert _reason(lambda: verify_state(sha256(b"another root"), b"k007", value, proof_bytes)) == "bad_state_proof"
    assert _reason(lambda: verify_state(state.root, b"k007", b"other", proof_bytes)) == "bad_state_proof"
    assert _reason(lambda: verify_state(state.root, b"k007", None, proof_bytes)) == "bad_state_proof"
    assert _reason(lambda: verify_state(state.root, b"k007", value, proof_bytes[:-5])) == "malformed_proof"
    truncated = StateProof(proof.levels[1:], proof.leaf)
    assert _reason(lambda: verify_state(state.root, b"k007", value, encode(truncated.to_wire()))) == "bad_state_proof"
    if len(proof.levels[0].siblings) > 1:
        level = proof.levels[0]
        reordered = replace(level, siblings=tuple(reversed(level.siblings)))
        swapped = StateProof((reordered, *proof.levels[1:]), proof.leaf)
        assert _reason(lambda: verify_state(state.root, b"k007", value, encode(swapped.to_wire()))) == "bad_state_proof"


def test_a_transaction_and_its_receipt_verify_against_the_header_and_tampering_fails() -> None:
    txs = [b"tx-%d" % i for i in range(7)]
    hashes = [sha256(t) for t in txs]
    results = [b"begin-events", *(b"receipt-%d" % i for i in range(7))]
    header = replace(
        build_chain([[0, 1, 2, 3]] * 2)[1].header, tx_root=merkle_root(hashes), results_root=merkle_root(results)
    )
    good = TxEvidence(txs[3], results[4], merkle_proof(hashes, 3), merkle_proof(results, 4))
    verify_tx(header, hashes[3], good)
    assert _reason(lambda: verify_tx(header, hashes[2], good)) == "bad_tx_proof"
    assert _reason(lambda: verify_tx(header, hashes[3], replace(good, receipt_raw=b"receipt-9"))) == "bad_result_proof"
    shifted = replace(good, result_proof=merkle_proof(results, 3), receipt_raw=results[3])
    assert _reason(lambda: verify_tx(header, hashes[3], shifted)) == "bad_result_proof"
    assert _reason(lambda: verify_tx(replace(header, tx_root=sha256(b"x")), hashes[3], good)) == "bad_tx_proof"


def test_two_certified_headers_at_one_height_are_fork_evidence() -> None:
    sets = [[0, 1, 2, 3]] * 3
    ours = build_chain(sets)
    theirs_header = replace(ours[2].header, state_root=sha256(b"fork"))
    theirs = replace(ours[2], header=theirs_header, commit=certify(theirs_header, [0, 1, 2, 3]))
    assert compare_headers(ours[2], ours[2]) is None
    evidence = compare_headers(ours[2], theirs)
    assert evidence is not None and evidence.height == 2
    assert evidence.double_signers() == sorted(KEYS[i].public_key for i in range(4))
