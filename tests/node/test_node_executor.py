"""Block executor: build / validate / commit as separate steps over real LevelDB stores."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from chain.encoding import sha256
from chain.errors import InvalidBlock
from chain.keys import PrivateKey
from chain.transfer import CORE_KINDS, Transfer
from chain.tx import sign_transaction
from chain.votes import Commit, Vote, VoteType
from node.datadir import dev_genesis
from node.events import EventBus
from node.executor import BlockExecutor
from node.mempool import Mempool
from node.metrics import NodeMetrics
from storage.store import ChainStore

CHAIN = "executor-test"
VALIDATOR = PrivateKey(sha256(b"executor-validator"))
ALICE = PrivateKey(sha256(b"executor-alice"))
BOB = PrivateKey(sha256(b"executor-bob"))
GENESIS = dev_genesis(CHAIN, [VALIDATOR.public_key], {ALICE.public_key: 10**9}, time_ms=1)


def _executor(path: Path) -> BlockExecutor:
    store = ChainStore.open(path, GENESIS, CORE_KINDS)
    mempool = Mempool(store.state, CHAIN, GENESIS.params, 100, 10**7, 8)
    return BlockExecutor(store, CORE_KINDS, mempool, EventBus(), NodeMetrics())


def _certify(key: PrivateKey, height: int, block_hash: bytes) -> Commit:
    return Commit.from_votes([Vote.create(key, CHAIN, VoteType.PRECOMMIT, height, 0, block_hash)])


async def test_proposal_validation_and_commit_are_separate_steps(tmp_path: Path) -> None:
    proposer = _executor(tmp_path / "a")
    follower = _executor(tmp_path / "b")
    txs = [sign_transaction(ALICE, CHAIN, n, 10, Transfer(BOB.public_key, 5)) for n in range(3)]
    for tx in txs:
        proposer.mempool.add(tx)
    block = proposer.build_proposal(proposer.mempool.select(100, 10**7), VALIDATOR.public_key, 1000)
    assert block.txs == tuple(txs)
    own = proposer.validate_proposal(block)
    assert proposer.validate_proposal(block) is own, "a block built here is not executed again"
    theirs = follower.validate_proposal(block)
    assert theirs.state_root == own.state_root == block.header.state_root
    assert proposer.store.height == follower.store.height == 0, "validating writes nothing"

    async with proposer.events.subscribe() as queue:
        committed = await proposer.commit(block, _certify(VALIDATOR, 1, block.hash))
        assert queue.get_nowait() == committed
    assert proposer.store.height == 1 and len(proposer.mempool) == 0
    assert proposer.last_commit == committed.commit
    await follower.commit(block, committed.commit)
    assert dict(follower.store.state_items()) == dict(proposer.store.state_items())

    # the next block carries the certificate of block 1 and follows on both
    block2 = proposer.build_proposal([], VALIDATOR.public_key, 2000)
    assert block2.last_commit == committed.commit
    follower.validate_proposal(block2)


async def test_invalid_blocks_and_certificates_write_nothing(tmp_path: Path) -> None:
    proposer = _executor(tmp_path / "a")
    follower = _executor(tmp_path / "b")
    tx = sign_transaction(ALICE, CHAIN, 0, 10, Transfer(BOB.public_key, 5))
    block = proposer.build_proposal([tx], VALIDATOR.public_key, 1000)
    forged_header = dataclasses.replace(block.header, state_root=bytes(32), hash=b"")
    forged = dataclasses.replace(block, header=forged_header)
    with pytest.raises(InvalidBlock, match="state root"):
        follower.validate_proposal(forged)
    outsider = PrivateKey(sha256(b"executor-outsider"))
    with pytest.raises(InvalidBlock, match="non-validator"):
        follower.persist(block, _certify(outsider, 1, block.hash))
    with pytest.raises(InvalidBlock, match="different block"):
        follower.persist(block, _certify(VALIDATOR, 1, bytes(32)))
    assert follower.store.height == 0 and follower.store.tx(tx.hash) is None
    await follower.commit(block, _certify(VALIDATOR, 1, block.hash))
    assert follower.store.height == 1
