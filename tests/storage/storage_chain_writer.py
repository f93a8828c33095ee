"""A deterministic test chain, and a child process that writes it to LevelDB forever.

Run as ``python storage_chain_writer.py DB_PATH SEED``: opens (or resumes) the store,
prints ``ready <height>``, then commits random transfer blocks and prints each height
right after its synced batch returned. The SIGKILL test kills it at random moments.
The helpers are also imported by the storage tests (by file path).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from chain.accounts import get_nonce
from chain.encoding import sha256
from chain.execution import BlockResult, build_block, execute_block
from chain.genesis import Genesis
from chain.keys import PrivateKey
from chain.params import ChainParams
from chain.state import MemoryState, Overlay, StateReader
from chain.transfer import CORE_KINDS, Transfer
from chain.tx import Transaction, sign_transaction
from chain.validators import Validator, ValidatorSet
from chain.votes import Commit, Vote, VoteType
from storage.store import ChainStore

CHAIN_ID = "storage-test"
ACCOUNTS = 12
START_BALANCE = 1_000_000


def key(i: int) -> PrivateKey:
    """Deterministic test key number ``i``."""
    return PrivateKey(sha256(b"storage-test-key-%d" % i))


VALIDATOR = key(1000)
USERS = [key(i) for i in range(ACCOUNTS)]


def test_genesis() -> Genesis:
    """The genesis of the test chain (fixed time, one validator, funded users)."""
    from chain.genesis import GenesisBalance

    return Genesis(
        CHAIN_ID,
        1_700_000_000_000,
        ChainParams(min_fee=1),
        ValidatorSet.of([Validator(VALIDATOR.public_key, 1)]),
        tuple(GenesisBalance(u.public_key, "AGR", START_BALANCE) for u in USERS),
    )


def random_txs(state: StateReader, rng: random.Random, count: int) -> list[Transaction]:
    """``count`` signed transfers with correct nonces; some are too big and fail with a receipt."""
    overlay = Overlay(state)
    nonces = {u.public_key: get_nonce(overlay, u.public_key) for u in USERS}
    txs = []
    for _ in range(count):
        sender, receiver = rng.sample(USERS, 2)
        amount = rng.randint(1, 3000) if rng.random() < 0.9 else 10**12
        tx = sign_transaction(
            sender, CHAIN_ID, nonces[sender.public_key], rng.randint(1, 5), Transfer(receiver.public_key, amount)
        )
        nonces[sender.public_key] += 1
        txs.append(tx)
    return txs


def certify(block_hash: bytes, height: int) -> Commit:
    """The single validator's certificate for a block."""
    return Commit.from_votes([Vote.create(VALIDATOR, CHAIN_ID, VoteType.PRECOMMIT, height, 0, block_hash)])


def next_block(store: ChainStore, rng: random.Random, count: int) -> tuple[object, BlockResult, Commit]:
    """Build the next block on the store's head with ``count`` random transfers."""
    genesis = store.genesis
    head = store.head
    time_ms = genesis.genesis_time_ms + 1000 * (head.height + 1)
    last_commit = store.commit(head.height) if head.height else None
    block, result, rejected = build_block(
        store.state,
        CORE_KINDS,
        head.header,
        genesis.hash,
        CHAIN_ID,
        time_ms,
        VALIDATOR.public_key,
        random_txs(store.state, rng, count),
        last_commit,
    )
    if rejected:
        raise RuntimeError(f"test transactions rejected: {rejected[0][1]}")
    return block, result, certify(block.hash, block.height)


def replay(state: MemoryState, store: ChainStore, start: int, end: int) -> None:
    """Re-execute stored blocks ``start..end`` over ``state`` (in memory), checking every header."""
    genesis = store.genesis
    parent = store.block(start - 1).header if start > 1 else None  # type: ignore[union-attr]
    for height in range(start, end + 1):
        block = store.block(height)
        if block is None:
            raise AssertionError(f"block {height} missing")
        result = execute_block(state, CORE_KINDS, block, parent, genesis.hash)
        state.apply(result.writes)
        parent = block.header


def main() -> None:
    """Write blocks forever, printing each committed height."""
    db_path, seed = Path(sys.argv[1]), int(sys.argv[2])
    store = ChainStore.open(db_path, test_genesis(), CORE_KINDS)
    print(f"ready {store.height}", flush=True)
    while True:
        rng = random.Random(seed * 1_000_003 + store.height)
        block, result, commit = next_block(store, rng, rng.randint(0, 40))
        store.commit_block(block, result, commit)  # type: ignore[arg-type]
        print(f"committed {store.height}", flush=True)


if __name__ == "__main__":
    main()
