"""A seeded market-mix chain committed block by block into a real ChainStore, with the node's
indexers writing into each block's batch exactly as BlockExecutor.persist does.

Used by tests/node/test_node_index_incremental.py (incremental indexes equal a rebuild) and by
scripts/perf_index.py (CPU time of the indexers per block).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.market_load import WINDOW_MS, MarketPlan
from chain.block import Block
from chain.execution import BlockResult, build_block
from chain.genesis import Genesis, GenesisBalance
from chain.params import ChainParams
from chain.transfer import CORE_KINDS
from chain.tx import Transaction
from chain.validators import Validator, ValidatorSet
from chain.votes import Commit, Vote, VoteType
from market.registry import MARKET_KINDS
from node.account_index import AccountIndex
from node.executor import Indexers
from node.market_index import MarketIndex
from storage.store import ChainStore

REGISTRY = CORE_KINDS.merged(MARKET_KINDS)
CHAIN = "index-kit"
FEE = 10
START_MS = 1_700_000_000_000


@dataclass
class IndexedChain:
    """A store, its indexers, and the seconds of CPU time their index_writes took."""

    store: ChainStore
    market: MarketIndex
    accounts: AccountIndex
    index_cpu: float = 0.0
    blocks: int = 0
    txs: int = 0


def market_blocks(
    lanes: int, lane_rate: float, seconds: float, seed: str
) -> tuple[MarketPlan, list[list[Transaction]]]:
    """The plan and its transactions in one-second blocks: setup, the mix, in order of due time."""
    plan = MarketPlan.make(CHAIN, FEE, 100 * lanes, lanes, seed=seed, time_ms=START_MS)
    blocks = plan.setup()
    by_second: dict[int, list[tuple[float, int, Transaction]]] = {}
    for lane in range(lanes):
        for n, (due, tx) in enumerate(plan.schedule(lane, lane_rate, seconds, 0.5, seed=seed)):
            by_second.setdefault(int(due), []).append((due, lane * 1_000_000 + n, tx))
    for second in sorted(by_second):
        blocks.append([tx for _, _, tx in sorted(by_second[second], key=lambda e: (e[0], e[1]))])
    return plan, blocks


def run_chain(
    path: Path,
    lanes: int = 2,
    lane_rate: float = 100.0,
    seconds: float = 12.0,
    seed: str = "index-kit",
    late_blocks: int = 2,
    timer: Callable[[], float] = time.process_time,
    check_fresh: bool = False,
) -> IndexedChain:
    """Commit the mix (then ``late_blocks`` empty blocks days later, so windows run out and
    the deadline hook moves orders) into a new store at ``path``; returns it open.

    With ``check_fresh``, before each block the indexers also index a decoy block that is
    never committed (the first half of its transactions), and the block's market writes must
    equal those of a new MarketIndex that remembers nothing.
    """
    plan, blocks = market_blocks(lanes, lane_rate, seconds, seed)
    proposer = plan.lanes[0].transfer[0]
    genesis = Genesis(
        CHAIN,
        START_MS,
        ChainParams(min_fee=FEE),
        ValidatorSet.of([Validator(proposer.public_key, 1)]),
        tuple(GenesisBalance(k, "AGR", 10**15) for k in plan.funded()),
    )
    store = ChainStore.open(path, genesis, REGISTRY)
    chain = IndexedChain(store, MarketIndex(store), AccountIndex(store))
    chain.market.ensure()
    chain.accounts.ensure()
    indexers = Indexers(chain.market, chain.accounts)
    times = [START_MS + 1_000 * (i + 2) for i in range(len(blocks))]
    for i in range(late_blocks):
        blocks.append([])
        times.append(times[-1] + (i + 1) * 2 * WINDOW_MS)
    last_commit: Commit | None = None
    for txs, time_ms in zip(blocks, times, strict=True):
        block, result = _build(store, txs, time_ms, proposer.public_key, last_commit)
        if check_fresh:
            decoy, decoy_result = _build(store, txs[: len(txs) // 2], time_ms, proposer.public_key, last_commit)
            indexers.index_writes(decoy, decoy_result)
            fresh = MarketIndex(store).index_writes(block, result)
            assert chain.market.index_writes(block, result) == fresh, f"block {block.height}"
        started = timer()
        writes = dict(indexers.index_writes(block, result))
        chain.index_cpu += timer() - started
        vote = Vote.create(proposer, CHAIN, VoteType.PRECOMMIT, block.height, 0, block.hash)
        last_commit = Commit.from_votes([vote])
        store.commit_block(block, result, last_commit, writes)
        chain.blocks += 1
        chain.txs += len(block.txs)
    return chain


def _build(
    store: ChainStore, txs: list[Transaction], time_ms: int, proposer: bytes, last_commit: Commit | None
) -> tuple[Block, BlockResult]:
    block, result, _ = build_block(
        store.state,
        REGISTRY,
        store.head.header,
        store.genesis.hash,
        CHAIN,
        time_ms,
        proposer,
        txs,
        last_commit,
    )
    return block, result


def index_entries(store: ChainStore) -> Iterator[tuple[bytes, bytes]]:
    """Every entry of the store's index family, in key order."""
    start = b""
    while chunk := store.index_range(start, b"\xff" * 8, 5_000):
        yield from chunk
        start = chunk[-1][0] + b"\x00"
