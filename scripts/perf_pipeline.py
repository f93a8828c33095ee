"""CPU per transaction of each stage one validator runs for a transfer, in process, real LevelDB.

Stages (what every node of a testnet does per transaction; the proposer builds instead of
validating): decode a submitted transaction, verify its signature, admit it to the mempool,
decode the proposed block, execute it (transfer rules, then the state tree in ``finish``),
commit it (one LevelDB batch), re-check the mempool. ``time.process_time`` per stage, the
fastest of ``--rounds`` fresh runs, so the figures hold on a shared machine.
Run: ``.venv/bin/python scripts/perf_pipeline.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import chain.execution
from chain.block import decode_block
from chain.encoding import sha256
from chain.execution import build_block, execute_block
from chain.genesis import Genesis, GenesisBalance
from chain.keys import PrivateKey
from chain.params import ChainParams
from chain.transfer import CORE_KINDS, Transfer
from chain.tx import Transaction, sign_transaction
from chain.validators import Validator, ValidatorSet
from chain.votes import Commit, Vote, VoteType
from node.executor import touched_accounts
from node.mempool import Mempool, decode_candidate
from storage.store import ChainStore

CHAIN = "perf-pipeline"


def run(accounts: int, blocks: int, per_block: int) -> dict[str, float]:
    """One fresh chain: ``blocks`` blocks of ``per_block`` transfers; CPU us per tx per stage."""
    keys = [PrivateKey(sha256(b"pipe-%d" % i)) for i in range(accounts)]
    validator = PrivateKey(sha256(b"pipe-validator"))
    genesis = Genesis(
        CHAIN,
        0,
        ChainParams(min_fee=10, max_block_txs=per_block),
        ValidatorSet.of([Validator(validator.public_key, 1)]),
        tuple(GenesisBalance(k.public_key, "AGR", 10**15) for k in keys),
    )
    nonces = [0] * accounts
    spent: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def timed(stage: str) -> Iterator[None]:
        t0 = time.process_time()
        yield
        spent[stage] += time.process_time() - t0

    tree_apply = chain.execution.apply_writes
    executing: list[bool] = []
    """Non-empty while the validator's execute stage runs (the proposer's build is not counted)."""

    def timed_apply(*args: object, **kwargs: object) -> object:
        """``apply_writes`` with its CPU time counted apart (the execute stage's state-tree share)."""
        if not executing:
            return tree_apply(*args, **kwargs)  # type: ignore[arg-type]
        t0 = time.process_time()
        try:
            return tree_apply(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            spent["  of which state tree (apply_writes)"] += time.process_time() - t0

    chain.execution.apply_writes = timed_apply  # type: ignore[assignment]
    with tempfile.TemporaryDirectory(prefix="agora-pipe-") as tmp:
        store = ChainStore.open(Path(tmp) / "db", genesis, CORE_KINDS)
        pool = Mempool(store.state, CHAIN, genesis.params, 10 * per_block, 10**9, 8)
        parent, last_commit, n = None, None, 0
        for height in range(1, blocks + 1):
            raws = []
            for _ in range(per_block):
                i = n % accounts
                tx = sign_transaction(keys[i], CHAIN, nonces[i], 10, Transfer(keys[(i + 1) % accounts].public_key, 1))
                nonces[i] += 1
                n += 1
                raws.append(tx.raw)
            with timed("decode submitted tx"):
                txs: list[Transaction] = [decode_candidate(r, CORE_KINDS) for r in raws]
            with timed("verify signature"):
                oks = [t.signature_valid() for t in txs]
            with timed("mempool admit"):
                pool.add_many(txs, oks)
            block, _, refused = build_block(
                store.state,
                CORE_KINDS,
                parent,
                genesis.hash,
                CHAIN,
                height,
                validator.public_key,
                pool.select(per_block, 10**9),
                last_commit,
                verifier=pool.verified,
            )
            assert not refused and len(block.txs) == per_block
            raw_block = block.encode()
            with timed("decode proposed block (txs pending)"):
                block = decode_block(raw_block, CORE_KINDS, pool.get)
            executing.append(True)
            with timed("execute block (rules + state tree)"):
                result = execute_block(
                    store.state, CORE_KINDS, block, parent, genesis.hash, verifier=pool.verified, chain_id=CHAIN
                )
            executing.clear()
            commit = Commit.from_votes([Vote.create(validator, CHAIN, VoteType.PRECOMMIT, height, 0, block.hash)])
            with timed("commit block (LevelDB batch)"):
                store.commit_block(block, result, commit, {})
            with timed("mempool re-check after commit"):
                pool.on_commit(block.txs, touched_accounts(result.writes))
            parent, last_commit = block.header, commit
        store.close()
    chain.execution.apply_writes = tree_apply
    total = n
    return {stage: seconds * 1e6 / total for stage, seconds in spent.items()}


def main() -> None:
    """Print each stage's CPU per transaction (fastest of the rounds) and their sum, as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=4000)
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--per-block", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runs = [run(args.accounts, args.blocks, args.per_block) for _ in range(args.rounds)]
    best = {stage: round(min(r[stage] for r in runs), 2) for stage in runs[0]}
    best["sum"] = round(sum(v for stage, v in best.items() if not stage.startswith(" ")), 2)
    print(json.dumps(best, indent=1))


if __name__ == "__main__":
    main()
