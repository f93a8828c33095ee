"""Drives the consensus engine: one serialized loop that is the only code touching it.

Everything that can change round state arrives on one queue (cometbft's receiveRoutine):
proposals and votes from peers, fired timeouts, "transactions are waiting", certificates
from block sync, and the loop's own follow-ups. Each input goes to the pure
:class:`consensus.engine.Engine`; the effects it returns are carried out here in order:
broadcast a signed message, schedule a timer, build or validate a block through the
:class:`node.executor.BlockExecutor`, commit a decision and start the next height.

A one-validator chain is the degenerate case: the validator's own prevote and precommit
are a quorum, so a block commits as soon as it is built. Block production keeps the
foundation's rhythm: a proposal as soon as transactions wait but at least
``min_block_interval_ms`` after the previous block, and an empty block after
``heartbeat_interval_ms`` without transactions (the engine's idle timeout).

Each proposal takes at most :attr:`BlockBudget.limit` transactions: the driver times how
long every decided block took this node to build (or validate) and commit, and the budget
sizes the next proposal to fit its time target (a proposer's choice, not a chain rule).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final, Protocol

from chain.block import Block, decode_block
from chain.encoding import DecodeError
from chain.errors import InvalidBlock
from chain.execution import read_validators
from chain.votes import Commit, DuplicateVoteEvidence
from consensus.engine import (
    Broadcast,
    BuildBlock,
    Decide,
    Effect,
    Engine,
    EvidenceFound,
    Outcome,
    ScheduleTimeout,
    SignRefused,
    Timeout,
    ValidateBlock,
    Verdict,
)
from consensus.evidence import EvidencePool
from consensus.messages import Message, Proposal
from consensus.wal import Wal
from node.block_budget import BlockBudget
from node.clock import Clock
from node.executor import BlockExecutor
from node.mempool import Mempool
from node.metrics import NodeMetrics

log = logging.getLogger("agora.consensus")
MAX_BLOCKS_KEPT: Final = 8
"""Decoded blocks kept per height (our proposal plus a few received)."""
MAX_FUTURE_MS: Final = 10_000
"""A proposal timed further ahead of this validator's clock is not voted for: block time
drives market deadlines, so a proposer must not be able to fast-forward it."""
REGOSSIP_SECONDS: Final = 1.0
"""A height that has not moved for this long re-sends everything held at it."""


def check_proposal_time(block_time_ms: int, now_ms: int, max_future_ms: int = MAX_FUTURE_MS) -> None:
    """Raise InvalidBlock if a proposed block is timed more than ``max_future_ms`` after ``now_ms``.

    Only live proposals are checked (a clock is not deterministic, so this is a validator's
    judgement, not a chain rule); blocks that arrive with a 2/3+ certificate are final.
    """
    if block_time_ms > now_ms + max_future_ms:
        raise InvalidBlock(
            f"block time is {block_time_ms - now_ms} ms ahead of this validator's clock", "time_in_future"
        )


class ConsensusNetwork(Protocol):
    """How the driver reaches peers (the consensus reactor implements it)."""

    def broadcast_message(self, message: Message) -> None:
        """Send a signed proposal or vote to every peer."""
        ...

    def broadcast_evidence(self, evidence: DuplicateVoteEvidence) -> None:
        """Send double-vote evidence to every peer."""
        ...

    def report(self, peer_id: bytes, reason: str) -> None:
        """A peer sent something invalid."""
        ...


@dataclass(frozen=True, slots=True)
class _PeerMessage:
    peer_id: bytes
    message: Message


@dataclass(frozen=True, slots=True)
class _Certificate:
    block: Block
    commit: Commit
    done: asyncio.Future[bool]


@dataclass(frozen=True, slots=True)
class _BuildDue:
    height: int
    round: int


class _TxsWaiting:
    pass


_Input = _PeerMessage | Timeout | _Certificate | _BuildDue | _TxsWaiting


class ConsensusDriver:
    """Runs one node's consensus: validator (with a signer) or follower (without)."""

    def __init__(
        self,
        engine: Engine,
        executor: BlockExecutor,
        mempool: Mempool,
        evidence: EvidencePool,
        wal: Wal | None,
        proposer: bytes,
        min_block_interval_ms: int,
        clock: Clock,
        network: ConsensusNetwork | None = None,
        metrics: NodeMetrics | None = None,
        budget: BlockBudget | None = None,
    ) -> None:
        self.engine = engine
        self.executor = executor
        self.mempool = mempool
        self.evidence = evidence
        self.wal = wal
        self.proposer = proposer
        """This validator's public key (empty for a follower, which never builds)."""
        self.network = network
        self.clock = clock
        self.metrics = metrics
        self.min_interval = min_block_interval_ms / 1000
        self.budget = budget if budget is not None else BlockBudget(mempool.params.max_block_txs)
        """Caps the transactions of each proposal from the measured build+commit cost."""
        self._exec_seconds: dict[bytes, float] = {}
        """Seconds this node spent building or validating each block of the current height."""
        self._queue: asyncio.Queue[_Input] = asyncio.Queue()
        self._timers: set[asyncio.TimerHandle] = set()
        self._blocks: OrderedDict[bytes, Block] = OrderedDict()
        self._last_commit_at = 0.0
        self._last_progress = time.monotonic()
        self._txs_signalled = False
        self._committed_once = False

    # --- inputs (any task may call these) ---------------------------------------------

    def deliver(self, peer_id: bytes, message: Message) -> None:
        """Queue a proposal or vote received from ``peer_id`` (already decoded)."""
        self._queue.put_nowait(_PeerMessage(peer_id, message))

    def notify_txs(self) -> None:
        """Transactions are waiting in the mempool (coalesced: one signal queued at a time)."""
        if not self._txs_signalled:
            self._txs_signalled = True
            self._queue.put_nowait(_TxsWaiting())

    async def deliver_certificate(self, block: Block, commit: Commit) -> bool:
        """Hand a certified block from block sync to the loop; True once it is committed."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Certificate(block, commit, done))
        return await done

    # --- the loop ----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Decide heights until ``stop`` is set; a block being committed is always finished."""
        self._last_commit_at = time.monotonic()
        await self._start_next_height()
        stopper = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                getter = asyncio.ensure_future(self._queue.get())
                done, _ = await asyncio.wait(
                    {getter, stopper}, timeout=REGOSSIP_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
                if getter not in done:
                    getter.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await getter
                    self._regossip_if_stuck()
                    continue
                item = getter.result()
                try:
                    await self._handle(item)
                except (InvalidBlock, DecodeError) as exc:
                    # A certified block that does not execute: 2/3+ of the validators are faulty.
                    log.error("cannot commit: %s", exc)
                if isinstance(item, _Certificate) and not item.done.done():
                    item.done.set_result(False)
                self._regossip_if_stuck()
        finally:
            stopper.cancel()
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            for item in self._drain():
                if isinstance(item, _Certificate) and not item.done.done():
                    item.done.set_result(False)

    def _drain(self) -> list[_Input]:
        items = []
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items

    async def _handle(self, item: _Input) -> None:
        engine = self.engine
        outcome: Outcome | None
        if isinstance(item, _PeerMessage):
            outcome = engine.on_message(item.message)
            if self.metrics is not None:
                kind = "proposal" if isinstance(item.message, Proposal) else item.message.type.name.lower()
                self.metrics.consensus_messages.labels(kind, outcome.verdict.value).inc()
            if outcome.verdict is Verdict.REJECTED and self.network is not None:
                self.network.report(item.peer_id, outcome.reason)
        elif isinstance(item, Timeout):
            outcome = engine.on_timeout(item)
        elif isinstance(item, _TxsWaiting):
            self._txs_signalled = False
            if not self.mempool.has_proposable():
                return
            outcome = engine.on_txs_available()
        elif isinstance(item, _BuildDue):
            outcome = await self._build(item.height, item.round)
        else:
            outcome = self._on_certificate(item)
        if outcome is not None:
            await self._carry_out(outcome)
        if self.metrics is not None:
            self.metrics.consensus_round.set(engine.round)
        if isinstance(item, _Certificate) and not item.done.done():
            item.done.set_result(self.executor.store.height >= item.block.height)

    def _on_certificate(self, item: _Certificate) -> Outcome:
        block = item.block
        if block.height != self.engine.height:
            return Outcome(Verdict.IGNORED, "not the current height")
        self._keep(block)
        return self.engine.on_commit_certificate(block.hash, block.encode(), item.commit)

    async def _carry_out(self, outcome: Outcome) -> None:
        # Effects may produce further outcomes (built or validated blocks): run them in order.
        pending: list[Effect] = list(outcome.effects)
        while pending:
            effect = pending.pop(0)
            follow = await self._effect(effect)
            if follow is not None:
                pending[0:0] = list(follow.effects)

    async def _effect(self, effect: Effect) -> Outcome | None:
        if isinstance(effect, Broadcast):
            if self.network is not None:
                self.network.broadcast_message(effect.message)
            return None
        if isinstance(effect, ScheduleTimeout):
            self._schedule(effect.timeout, effect.delay_ms / 1000)
            return None
        if isinstance(effect, BuildBlock):
            wait = self._last_commit_at + self.min_interval - time.monotonic()
            if wait > 0:
                self._schedule(_BuildDue(effect.height, effect.round), wait)
                return None
            return await self._build(effect.height, effect.round)
        if isinstance(effect, ValidateBlock):
            return await self._validate(effect)
        if isinstance(effect, Decide):
            await self._commit(effect)
            return None
        if isinstance(effect, EvidenceFound):
            self._add_evidence(effect.evidence)
            return None
        if isinstance(effect, SignRefused):
            log.warning("signer refused to sign: %s", effect.reason)
            return None
        raise TypeError(f"unknown effect {effect!r}")

    def _schedule(self, item: _Input, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            if handle is not None:
                self._timers.discard(handle)
            self._queue.put_nowait(item)

        handle = loop.call_later(max(seconds, 0.0), fire)
        self._timers.add(handle)

    # --- blocks ------------------------------------------------------------------------

    def _keep(self, block: Block) -> None:
        self._blocks[block.hash] = block
        self._blocks.move_to_end(block.hash)
        while len(self._blocks) > MAX_BLOCKS_KEPT:
            self._blocks.popitem(last=False)

    def _block(self, block_hash: bytes, raw: bytes) -> Block:
        block = self._blocks.get(block_hash)
        if block is None:
            block = decode_block(raw, self.executor.registry, self.mempool.get)  # pending txs decoded once
            if block.hash != block_hash:
                raise InvalidBlock("block does not hash to the proposed hash", "bad_hash")
            self._keep(block)
        return block

    async def _build(self, height: int, round_: int) -> Outcome | None:
        executor = self.executor
        if height != self.engine.height or height != executor.store.height + 1:
            return None
        params = self.mempool.params
        candidates = self.mempool.select(min(self.budget.limit, params.max_block_txs), params.max_block_bytes)
        state = executor.store.state
        evidence = self.evidence.pending(read_validators(state), state, height)
        started = time.perf_counter()
        block = await asyncio.to_thread(executor.build_proposal, candidates, self.proposer, self.clock(), evidence)
        self._exec_seconds[block.hash] = time.perf_counter() - started
        self._keep(block)
        log.debug("built block %d round %d with %d txs", height, round_, len(block.txs))
        return self.engine.on_block_built(height, round_, block.hash, block.encode())

    async def _validate(self, effect: ValidateBlock) -> Outcome:
        try:
            block = self._block(effect.block_hash, effect.block)
            if block.height != effect.height:
                raise InvalidBlock("block is for another height", "bad_height")
            check_proposal_time(block.header.time_ms, self.clock())
            started = time.perf_counter()
            await asyncio.to_thread(self.executor.validate_proposal, block)
            self._exec_seconds.setdefault(block.hash, time.perf_counter() - started)
            valid = True
        except (DecodeError, InvalidBlock, ValueError) as exc:
            log.warning("proposal %s at height %d is invalid: %s", effect.block_hash.hex()[:16], effect.height, exc)
            valid = False
        return self.engine.on_block_validated(effect.height, effect.block_hash, valid)

    async def _commit(self, effect: Decide) -> None:
        decision = effect.decision
        block = self._block(decision.block_hash, decision.block)
        started = time.perf_counter()
        committed = await self.executor.commit(block, decision.commit)
        spent = self._exec_seconds.get(block.hash, 0.0) + time.perf_counter() - started
        self._exec_seconds.clear()
        self.budget.observe_block(len(block.txs), spent)
        log.debug(
            "block %d: %d txs built/validated and committed in %.3f s; next proposal at most %d txs",
            block.height,
            len(block.txs),
            spent,
            self.budget.limit,
        )
        self.evidence.mark_committed(block.evidence)
        log.info(
            "committed block %d round %d with %d txs (%s)",
            block.height,
            decision.round,
            len(block.txs),
            block.hash.hex()[:16],
        )
        if self.metrics is not None:
            self.metrics.consensus_decide_rounds.observe(decision.round)
        now = time.monotonic()
        if block.txs and self._committed_once:
            # the time between blocks under load (an empty block's wait is the heartbeat's)
            self.budget.observe_interval(now - self._last_commit_at)
        self._committed_once = True
        self._last_commit_at = now
        self._last_progress = now
        self._blocks.clear()
        del committed
        await self._start_next_height()

    async def _start_next_height(self) -> None:
        height = self.executor.store.height + 1
        validators = read_validators(self.executor.store.state)
        recovered = self.wal.recover(height) if self.wal is not None else None
        outcome = self.engine.start_height(
            height, validators, txs_waiting=self.mempool.has_proposable(), recovered=recovered
        )
        if self.wal is not None:
            self.wal.checkpoint(height)
        await self._carry_out(outcome)

    def _add_evidence(self, evidence: DuplicateVoteEvidence) -> None:
        state = self.executor.store.state
        try:
            added = self.evidence.add(evidence, read_validators(state), self.engine.height)
        except InvalidBlock as exc:
            log.warning("discarding invalid evidence: %s", exc.message)
            return
        if added:
            log.warning("double vote by %s at height %d", evidence.vote_a.validator.hex()[:16], evidence.vote_a.height)
            if self.network is not None:
                self.network.broadcast_evidence(evidence)

    def add_evidence_from_peer(self, peer_id: bytes, evidence: DuplicateVoteEvidence) -> None:
        """Keep evidence gossiped by a peer (called on the loop by the reactor)."""
        state = self.executor.store.state
        try:
            self.evidence.add(evidence, read_validators(state), self.engine.height)
        except InvalidBlock as exc:
            if self.network is not None:
                self.network.report(peer_id, f"invalid evidence: {exc.message}")

    def _regossip_if_stuck(self) -> None:
        if self.network is None:
            return
        now = time.monotonic()
        if now - self._last_progress < REGOSSIP_SECONDS:
            return
        self._last_progress = now
        for message in self.engine.gossip_messages(recent_only=True):
            self.network.broadcast_message(message)
