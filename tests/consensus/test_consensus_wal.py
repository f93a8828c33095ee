"""The write-ahead log, the double-sign guard, and restarting from the log after a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from chain.keys import PrivateKey
from chain.validators import Validator, ValidatorSet
from chain.votes import NIL, Vote, VoteType
from consensus.engine import Broadcast, Engine, SignRefused, Step, TimeoutConfig
from consensus.messages import DoubleSignError, LockState, Proposal
from consensus.signer import WalSigner
from consensus.sim import make_block
from consensus.wal import COMPACT_AFTER_BYTES, MemoryWalStorage, Wal, frame

CHAIN = "agora-test"
KEYS = sorted((PrivateKey(bytes([i + 1]) * 32) for i in range(4)), key=lambda k: k.public_key)
VALIDATORS = ValidatorSet.of(Validator(k.public_key, 1) for k in KEYS)
X_HASH, X = make_block(1, 0, 0, True, 1)
Y_HASH, Y = make_block(1, 0, 0, True, 2)


def _signer(path: Path, key: PrivateKey = KEYS[0]) -> WalSigner:
    return WalSigner(key, CHAIN, Wal.open_file(path))


def test_records_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "wal" / "consensus.wal"
    signer = _signer(path)
    p = signer.sign_proposal(1, 0, -1, X_HASH, X)
    prevote = signer.sign_vote(VoteType.PREVOTE, 1, 0, X_HASH)
    signer.save_lock(LockState(1, 0, X_HASH, 0, X_HASH))
    precommit = signer.sign_vote(VoteType.PRECOMMIT, 1, 0, X_HASH)
    signer.sign_vote(VoteType.PREVOTE, 2, 0, NIL)
    reopened = Wal.open_file(path)
    assert reopened.opened.truncated_bytes == 0 and len(reopened) == 5
    recovered = reopened.recover(1)
    assert recovered.proposals == (p,) and recovered.votes == (prevote, precommit)
    assert recovered.lock == LockState(1, 0, X_HASH, 0, X_HASH)
    assert reopened.last_signed() == Vote.create(KEYS[0], CHAIN, VoteType.PREVOTE, 2, 0, NIL)


@pytest.mark.parametrize("cut", [1, 5, 9, 20])
def test_torn_tail_is_truncated(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "consensus.wal"
    signer = _signer(path)
    signer.sign_vote(VoteType.PREVOTE, 1, 0, X_HASH)
    good_size = path.stat().st_size
    signer.sign_vote(VoteType.PRECOMMIT, 1, 0, X_HASH)
    data = path.read_bytes()
    path.write_bytes(data[: good_size + cut])
    wal = Wal.open_file(path)
    assert wal.opened.truncated_bytes == cut and len(wal) == 1
    assert path.stat().st_size == good_size
    signer = WalSigner(KEYS[0], CHAIN, wal)
    signer.sign_vote(VoteType.PRECOMMIT, 1, 0, Y_HASH)
    assert len(Wal.open_file(path)) == 2


def test_corrupt_checksum_and_garbage_record_are_cut(tmp_path: Path) -> None:
    path = tmp_path / "consensus.wal"
    _signer(path).sign_vote(VoteType.PREVOTE, 1, 0, X_HASH)
    good = path.read_bytes()
    bad_frame = bytearray(frame(b"\x92\xa4vote\x90"))
    path.write_bytes(good + bytes(bad_frame))
    assert Wal.open_file(path).opened.truncated_bytes == len(bad_frame)
    bad_frame[-1] ^= 0xFF
    path.write_bytes(good + bytes(bad_frame))
    wal = Wal.open_file(path)
    assert wal.opened.truncated_bytes == len(bad_frame) and len(wal) == 1


def test_guard_repeats_identical_and_refuses_conflicting_signatures(tmp_path: Path) -> None:
    signer = _signer(tmp_path / "w")
    vote = signer.sign_vote(VoteType.PREVOTE, 5, 2, X_HASH)
    assert signer.sign_vote(VoteType.PREVOTE, 5, 2, X_HASH) == vote
    assert len(signer.wal) == 1
    with pytest.raises(DoubleSignError):
        signer.sign_vote(VoteType.PREVOTE, 5, 2, Y_HASH)
    with pytest.raises(DoubleSignError):
        signer.sign_vote(VoteType.PREVOTE, 5, 2, NIL)
    with pytest.raises(DoubleSignError):
        signer.sign_vote(VoteType.PRECOMMIT, 5, 1, X_HASH)
    with pytest.raises(DoubleSignError):
        signer.sign_proposal(5, 2, -1, X_HASH, X)
    with pytest.raises(DoubleSignError):
        signer.sign_vote(VoteType.PREVOTE, 4, 9, X_HASH)
    signer.sign_vote(VoteType.PRECOMMIT, 5, 2, X_HASH)
    reopened = _signer(tmp_path / "w")
    with pytest.raises(DoubleSignError):
        reopened.sign_vote(VoteType.PRECOMMIT, 5, 2, NIL)


def test_crashed_validator_restarts_from_its_wal_and_cannot_double_sign(tmp_path: Path) -> None:
    """Crash mid-round right after signing a prevote; after restart nothing conflicting gets signed."""
    path = tmp_path / "wal" / "consensus.wal"
    me = next(i for i, k in enumerate(KEYS) if k.public_key != VALIDATORS.proposer(1, 0))
    proposer = next(k for k in KEYS if k.public_key == VALIDATORS.proposer(1, 0))
    engine = Engine(CHAIN, _signer(path, KEYS[me]), TimeoutConfig())
    engine.start_height(1, VALIDATORS, txs_waiting=True)
    engine.on_proposal(Proposal.create(proposer, CHAIN, 1, 0, -1, X_HASH, X))
    out = engine.on_block_validated(1, X_HASH, True)
    [prevote] = [e.message for e in out.effects if isinstance(e, Broadcast)]
    assert isinstance(prevote, Vote) and prevote.block_hash == X_HASH and engine.step is Step.PREVOTE
    del engine  # crash: everything in memory is gone, the WAL file stays

    wal = Wal.open_file(path)
    signer = WalSigner(KEYS[me], CHAIN, wal)
    restarted = Engine(CHAIN, signer, TimeoutConfig())
    out = restarted.start_height(1, VALIDATORS, txs_waiting=True, recovered=wal.recover(1))
    assert (restarted.round, restarted.step) == (0, Step.PREVOTE)
    [resent] = [e.message for e in out.effects if isinstance(e, Broadcast)]
    assert resent == prevote
    # The equivocating proposer now shows it a different block: it does not vote again.
    out = restarted.on_proposal(Proposal.create(proposer, CHAIN, 1, 0, -1, Y_HASH, Y))
    out2 = restarted.on_block_validated(1, Y_HASH, True)
    assert not any(isinstance(e, Broadcast) for e in (*out.effects, *out2.effects))
    with pytest.raises(DoubleSignError):
        signer.sign_vote(VoteType.PREVOTE, 1, 0, Y_HASH)

    # Even a host that forgets to pass the recovered state cannot make it double-sign.
    forgetful = Engine(CHAIN, WalSigner(KEYS[me], CHAIN, Wal.open_file(path)), TimeoutConfig())
    forgetful.start_height(1, VALIDATORS, txs_waiting=True)
    forgetful.on_proposal(Proposal.create(proposer, CHAIN, 1, 0, -1, Y_HASH, Y))
    out = forgetful.on_block_validated(1, Y_HASH, True)
    assert any(isinstance(e, SignRefused) for e in out.effects)
    assert not any(isinstance(e, Broadcast) for e in out.effects)


def test_unsynced_lock_is_lost_on_crash_but_signatures_are_not() -> None:
    storage = MemoryWalStorage()
    signer = WalSigner(KEYS[0], CHAIN, Wal(storage))
    signer.sign_vote(VoteType.PREVOTE, 1, 0, X_HASH)
    signer.save_lock(LockState(1, 0, X_HASH, 0, X_HASH))
    storage.crash(torn_bytes=7)
    wal = Wal(storage)
    assert len(wal) == 1 and wal.opened.truncated_bytes == 7
    assert wal.recover(1).lock is None


def test_checkpoint_forgets_old_heights_but_keeps_the_last_signature(tmp_path: Path) -> None:
    path = tmp_path / "w"
    signer = _signer(path)
    for height in range(1, 6):
        signer.sign_vote(VoteType.PREVOTE, height, 0, NIL)
        signer.save_lock(LockState(height))
    signer.wal.checkpoint(4, force=True)
    assert len(signer.wal) == 4
    signer.wal.checkpoint(9, force=True)
    reopened = Wal.open_file(path)
    assert len(reopened) == 1 and reopened.last_signed() == signer.last_signed
    with pytest.raises(DoubleSignError):
        WalSigner(KEYS[0], CHAIN, reopened).sign_vote(VoteType.PREVOTE, 5, 0, X_HASH)


def test_proposals_with_large_blocks_keep_the_log_bounded_by_size(tmp_path: Path) -> None:
    path = tmp_path / "w"
    signer = _signer(path)
    block = bytes(1024 * 1024)  # a 1 MiB block in every proposal
    for height in range(1, 41):
        signer.sign_proposal(height, 0, -1, bytes([height]) * 32, block)
        signer.sign_vote(VoteType.PREVOTE, height, 0, bytes([height]) * 32)
        signer.wal.checkpoint(height + 1)  # what the node does after each commit
        assert signer.wal.size_bytes <= COMPACT_AFTER_BYTES + 2 * len(block)
    assert path.stat().st_size == signer.wal.size_bytes
    reopened = Wal.open_file(path)
    assert reopened.last_signed() == signer.last_signed
    with pytest.raises(DoubleSignError):
        WalSigner(KEYS[0], CHAIN, reopened).sign_vote(VoteType.PREVOTE, 40, 0, X_HASH)
