"""A seeded, deterministic simulation of n validators running the consensus engine.

Virtual time, one event queue, one ``random.Random(seed)``: the same seed always gives
the same run. The network delays, reorders and drops messages and may partition the
validators for a while; one honest validator may crash and restart from its WAL (with a
torn tail); ``f`` byzantine validators stay silent, equivocate (double votes and
conflicting proposals) or propose invalid blocks. Honest hosts do what a node does:
answer build/validate requests, re-gossip when stuck, and send commit certificates to
peers that are behind.

:func:`run` returns a :class:`SimResult`; :func:`check` lists the violated properties
(safety, agreement, validity, liveness after the network heals, no refused signatures).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from chain.encoding import DecodeError, as_bool, as_int, as_list, decode, encode, sha256
from chain.errors import InvalidBlock
from chain.keys import PrivateKey, verify
from chain.validators import Validator, ValidatorSet
from chain.votes import NIL, Vote, VoteType, verify_commit
from consensus.engine import (
    Broadcast,
    BuildBlock,
    Decide,
    Decision,
    Engine,
    EvidenceFound,
    Outcome,
    ScheduleTimeout,
    SignRefused,
    TimeoutConfig,
    ValidateBlock,
    Verdict,
)
from consensus.messages import LockState, Message, Proposal
from consensus.signer import WalSigner
from consensus.wal import MemoryWalStorage, Wal

CHAIN_ID: Final = "agora-sim"
SIM_TIMEOUTS: Final = TimeoutConfig(
    propose_ms=300,
    propose_delta_ms=100,
    prevote_ms=150,
    prevote_delta_ms=50,
    precommit_ms=150,
    precommit_delta_ms=50,
    idle_ms=100,
)
GOSSIP_INTERVAL_MS: Final = 200
LIVENESS_BUDGET_MS: Final = 30_000
"""After the last partition heals and the last crashed validator restarts, every honest
validator must reach the target height within this much virtual time."""
BYZANTINE_MODES: Final = ("silent", "equivocate", "invalid")

_KEYS: Final = [PrivateKey(sha256(f"agora-sim-validator-{i}".encode())) for i in range(16)]
_verified: dict[tuple[bytes, bytes, bytes], bool] = {}


def cached_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Ed25519 verification, memoised (many simulated nodes verify the same signatures)."""
    key = (public_key, message, signature)
    result = _verified.get(key)
    if result is None:
        if len(_verified) > 500_000:
            _verified.clear()
        result = _verified[key] = verify(public_key, message, signature)
    return result


def make_block(height: int, round_: int, proposer: int, valid: bool, salt: int) -> tuple[bytes, bytes]:
    """A simulated block and its hash."""
    block = encode([height, round_, proposer, valid, salt])
    return sha256(block), block


def block_is_valid(height: int, block_hash: bytes, block: bytes) -> bool:
    """The simulated application's validation: right height, hash matches, not marked invalid."""
    if sha256(block) != block_hash:
        return False
    try:
        f = as_list(decode(block), "sim block", length=5)
        return as_int(f[0], "height") == height and as_bool(f[3], "valid")
    except DecodeError:
        return False


@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything random about one run, derived from its seed."""

    seed: int
    n: int
    byzantine: dict[int, str]
    heights: int
    max_delay_ms: int
    drop_rate: float
    partition: tuple[int, int, frozenset[int]] | None
    """(start, end, one side) of a partition, in virtual ms."""
    crash: tuple[int, int, int, bool] | None
    """(validator, crash time, restart time, torn WAL tail)."""
    txs_waiting: bool

    @property
    def stable_at(self) -> int:
        """When the network is whole and every crashed validator is back."""
        times = [0]
        if self.partition is not None:
            times.append(self.partition[1])
        if self.crash is not None:
            times.append(self.crash[2])
        return max(times)


def scenario_for(seed: int, n: int, f: int, heights: int = 4) -> Scenario:
    """The scenario of ``seed`` for ``n`` validators of which ``f`` are byzantine."""
    rng = random.Random(f"scenario-{n}-{f}-{seed}")
    byzantine = {i: rng.choice(BYZANTINE_MODES) for i in rng.sample(range(n), f)}
    honest = [i for i in range(n) if i not in byzantine]
    partition = None
    if rng.random() < 0.3:
        start = rng.randint(0, 800)
        side = frozenset(rng.sample(range(n), rng.randint(1, n - 1)))
        partition = (start, start + rng.randint(200, 2000), side)
    crash = None
    if rng.random() < 0.3:
        at = rng.randint(0, 1500)
        crash = (rng.choice(honest), at, at + rng.randint(50, 1200), rng.random() < 0.5)
    return Scenario(
        seed=seed,
        n=n,
        byzantine=byzantine,
        heights=heights,
        max_delay_ms=rng.choice((5, 30, 80)),
        drop_rate=rng.choice((0.0, 0.0, 0.05, 0.15)),
        partition=partition,
        crash=crash,
        txs_waiting=rng.random() < 0.7,
    )


class _PlainSigner:
    """A byzantine validator's signer: no WAL, no double-sign guard."""

    def __init__(self, key: PrivateKey) -> None:
        self._key = key
        self.public_key = key.public_key

    def sign_vote(self, type_: VoteType, height: int, round_: int, block_hash: bytes) -> Vote:
        return Vote.create(self._key, CHAIN_ID, type_, height, round_, block_hash)

    def sign_proposal(self, height: int, round_: int, pol_round: int, block_hash: bytes, block: bytes) -> Proposal:
        return Proposal.create(self._key, CHAIN_ID, height, round_, pol_round, block_hash, block)

    def save_lock(self, lock: LockState) -> None:
        return None


@dataclass(slots=True)
class _Node:
    index: int
    key: PrivateKey
    mode: str
    """'honest' or a byzantine mode."""
    wal_storage: MemoryWalStorage = field(default_factory=MemoryWalStorage)
    committed: list[Decision] = field(default_factory=list)
    engine: Engine | None = None
    incarnation: int = 0
    up: bool = False
    gossip_marker: tuple[int, int, int] = (0, 0, 0)
    cert_sent: dict[tuple[int, int], int] = field(default_factory=dict)
    refused: int = 0
    evidence: int = 0
    restored: int = 0
    """Signed messages recovered from the WAL on restarts."""


@dataclass(frozen=True, slots=True)
class SimResult:
    """What happened in one run."""

    scenario: Scenario
    decisions: dict[int, list[tuple[int, bytes]]]
    """Per honest validator: (height, block hash) in commit order."""
    finished_at: int
    """Virtual ms when every honest validator reached the target (or the deadline)."""
    invalid_decisions: int
    bad_certificates: int
    refused_signatures: int
    evidence_found: int
    restored_messages: int
    """Signed messages honest validators recovered from their WALs on restart."""
    max_round: int


class Simulation:
    """One seeded run."""

    def __init__(self, scenario: Scenario) -> None:
        self.s = scenario
        self.rng = random.Random(f"run-{scenario.n}-{scenario.seed}")
        self.now = 0
        self._queue: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = 0
        self.validators = ValidatorSet.of(Validator(_KEYS[i].public_key, 1) for i in range(scenario.n))
        self.nodes = [_Node(i, _KEYS[i], scenario.byzantine.get(i, "honest")) for i in range(scenario.n)]
        self.honest = [node for node in self.nodes if node.mode == "honest"]
        self.invalid_decisions = 0
        self.bad_certificates = 0
        self.max_round = 0
        self._certified: set[tuple[int, bytes]] = set()

    # --- scheduling -----------------------------------------------------------------

    def at(self, time: int, action: Callable[[], None]) -> None:
        """Run ``action`` at virtual ``time``."""
        self._seq += 1
        heapq.heappush(self._queue, (time, self._seq, action))

    def for_node(self, node: _Node, delay: int, action: Callable[[Engine], Outcome]) -> None:
        """Run ``action`` on ``node``'s current engine after ``delay``, unless it crashed meanwhile."""
        incarnation = node.incarnation

        def run() -> None:
            if node.up and node.incarnation == incarnation and node.engine is not None:
                self.handle(node, action(node.engine))

        self.at(self.now + delay, run)

    # --- network ----------------------------------------------------------------------

    def _connected(self, a: int, b: int) -> bool:
        p = self.s.partition
        if p is None or not p[0] <= self.now < p[1]:
            return True
        return (a in p[2]) == (b in p[2])

    def send(self, sender: _Node, to: _Node, message: Message) -> None:
        """Deliver ``message`` later, unless partitioned or dropped."""
        if to is sender or not self._connected(sender.index, to.index) or self.rng.random() < self.s.drop_rate:
            return
        self.for_node(to, self.rng.randint(1, self.s.max_delay_ms), lambda e: self.receive(to, sender, e, message))

    def receive(self, node: _Node, sender: _Node, engine: Engine, message: Message) -> Outcome:
        """A message arrives; a peer that is behind gets the commit certificate it lacks."""
        if message.height < engine.height and node.mode == "honest":
            last = self.cert_sent_at(node, sender.index, message.height)
            if last is None or self.now - last >= GOSSIP_INTERVAL_MS:
                node.cert_sent[(sender.index, message.height)] = self.now
                decision = node.committed[message.height - 1]
                self.send_certificate(node, sender, decision)
        return engine.on_message(message)

    def cert_sent_at(self, node: _Node, peer: int, height: int) -> int | None:
        """When ``node`` last sent ``peer`` the certificate of ``height``."""
        return node.cert_sent.get((peer, height))

    def send_certificate(self, node: _Node, to: _Node, d: Decision) -> None:
        """Block sync: hand a lagging peer a decided block with its certificate."""
        if not self._connected(node.index, to.index) or self.rng.random() < self.s.drop_rate:
            return

        def deliver(engine: Engine) -> Outcome:
            if sha256(d.block) != d.block_hash:
                return Outcome(Verdict.REJECTED, "block does not match its hash")
            return engine.on_commit_certificate(d.block_hash, d.block, d.commit)

        self.for_node(to, self.rng.randint(1, self.s.max_delay_ms), deliver)

    def broadcast(self, node: _Node, message: Message) -> None:
        """Send to every peer; a byzantine equivocator sends half of them something else."""
        peers = [p for p in self.nodes if p is not node]
        if node.mode != "equivocate":
            for peer in peers:
                self.send(node, peer, message)
            return
        other = self._conflicting(node, message)
        for peer in peers:
            self.send(node, peer, message if self.rng.random() < 0.5 else other)

    def _conflicting(self, node: _Node, message: Message) -> Message:
        if isinstance(message, Proposal):
            block_hash, block = make_block(message.height, message.round, node.index, True, self.rng.randrange(2**32))
            return Proposal.create(node.key, CHAIN_ID, message.height, message.round, -1, block_hash, block)
        other = NIL if message.block_hash != NIL else sha256(b"conflict" + bytes([message.round % 256]))
        return Vote.create(node.key, CHAIN_ID, message.type, message.height, message.round, other)

    # --- the host -----------------------------------------------------------------------

    def handle(self, node: _Node, outcome: Outcome) -> None:
        """Carry out the engine's effects, as a node's consensus loop does."""
        engine = node.engine
        if engine is None:
            return
        self.max_round = max(self.max_round, engine.round)
        for effect in outcome.effects:
            if isinstance(effect, Broadcast):
                self.broadcast(node, effect.message)
            elif isinstance(effect, ScheduleTimeout):
                timeout = effect.timeout
                self.for_node(node, effect.delay_ms, lambda e, t=timeout: e.on_timeout(t))  # type: ignore[misc]
            elif isinstance(effect, BuildBlock):
                valid = node.mode != "invalid"
                block_hash, block = make_block(
                    effect.height, effect.round, node.index, valid, self.rng.randrange(2**32)
                )
                built = (effect.height, effect.round, block_hash, block)
                self.for_node(node, 1, lambda e, b=built: e.on_block_built(*b))  # type: ignore[misc]
            elif isinstance(effect, ValidateBlock):
                ok = block_is_valid(effect.height, effect.block_hash, effect.block)
                answer = (effect.height, effect.block_hash, ok)
                self.for_node(node, 1, lambda e, a=answer: e.on_block_validated(*a))  # type: ignore[misc]
            elif isinstance(effect, Decide):
                self.commit(node, effect.decision)
            elif isinstance(effect, EvidenceFound):
                node.evidence += 1
            elif isinstance(effect, SignRefused):
                node.refused += 1

    def commit(self, node: _Node, d: Decision) -> None:
        """Persist a decision (survives crashes) and start the next height."""
        node.committed.append(d)
        if not block_is_valid(d.height, d.block_hash, d.block):
            self.invalid_decisions += 1
        if (d.height, d.block_hash) not in self._certified:
            try:
                verify_commit(CHAIN_ID, d.commit, self.validators, d.height, d.block_hash)
            except InvalidBlock:
                self.bad_certificates += 1
            self._certified.add((d.height, d.block_hash))
        self.for_node(node, 1, lambda e: e.start_height(d.height + 1, self.validators, txs_waiting=self.s.txs_waiting))

    def start(self, node: _Node) -> None:
        """Boot (or reboot) a validator from its committed blocks and its WAL."""
        node.incarnation += 1
        node.up = True
        node.gossip_marker = (0, 0, 0)
        height = len(node.committed) + 1
        if node.mode == "honest":
            wal = Wal(node.wal_storage)
            node.engine = Engine(CHAIN_ID, WalSigner(node.key, CHAIN_ID, wal), SIM_TIMEOUTS, cached_verify)
            recovered = wal.recover(height)
            node.restored += len(recovered.proposals) + len(recovered.votes)
        else:
            node.engine = Engine(CHAIN_ID, _PlainSigner(node.key), SIM_TIMEOUTS, cached_verify)
            recovered = None
        self.handle(
            node, node.engine.start_height(height, self.validators, txs_waiting=self.s.txs_waiting, recovered=recovered)
        )
        self._schedule_gossip(node)

    def crash(self, node: _Node, torn: bool) -> None:
        """Kill a validator: it loses everything but its committed blocks and synced WAL."""
        node.up = False
        node.incarnation += 1
        node.engine = None
        node.wal_storage.crash()
        if torn:
            node.wal_storage.append(self.rng.randbytes(self.rng.randint(1, 40)), sync=True)

    def _schedule_gossip(self, node: _Node) -> None:
        """Every GOSSIP_INTERVAL_MS, if nothing moved since the last tick, re-send what may be lost.

        The recent rounds go to every peer; everything held at this height to one random peer.
        """

        def tick(engine: Engine) -> Outcome:
            marker = (engine.height, engine.round, int(engine.step))
            if marker == node.gossip_marker:
                peers = [p for p in self.nodes if p is not node]
                recent = engine.gossip_messages(recent_only=True)
                for peer in peers:
                    for message in recent:
                        self.send(node, peer, message)
                lucky = self.rng.choice(peers)
                for message in engine.gossip_messages():
                    self.send(node, lucky, message)
            node.gossip_marker = marker
            self._schedule_gossip(node)
            return Outcome(Verdict.IGNORED)

        self.for_node(node, GOSSIP_INTERVAL_MS, tick)

    # --- the run --------------------------------------------------------------------------

    def done(self) -> bool:
        """Every honest validator reached the target height."""
        return all(len(node.committed) >= self.s.heights for node in self.honest)

    def run(self) -> SimResult:
        """Run to the target height or the liveness deadline."""
        for node in self.nodes:
            if node.mode != "silent":
                self.at(0, lambda n=node: self.start(n))  # type: ignore[misc]
        if self.s.crash is not None:
            index, down_at, up_at, torn = self.s.crash
            victim = self.nodes[index]
            self.at(down_at, lambda: self.crash(victim, torn))
            self.at(up_at, lambda: self.start(victim))
        deadline = self.s.stable_at + LIVENESS_BUDGET_MS
        while self._queue and not self.done():
            time, _, action = heapq.heappop(self._queue)
            if time > deadline:
                break
            self.now = time
            action()
        return SimResult(
            scenario=self.s,
            decisions={n.index: [(d.height, d.block_hash) for d in n.committed] for n in self.honest},
            finished_at=self.now,
            invalid_decisions=self.invalid_decisions,
            bad_certificates=self.bad_certificates,
            refused_signatures=sum(n.refused for n in self.honest),
            evidence_found=sum(n.evidence for n in self.honest),
            restored_messages=sum(n.restored for n in self.honest),
            max_round=self.max_round,
        )


def run(scenario: Scenario) -> SimResult:
    """Run one scenario."""
    return Simulation(scenario).run()


def check(result: SimResult) -> list[str]:
    """Every property the run violated (empty if it passed)."""
    problems: list[str] = []
    by_height: dict[int, set[bytes]] = {}
    for decisions in result.decisions.values():
        for height, block_hash in decisions:
            by_height.setdefault(height, set()).add(block_hash)
    for height, hashes in sorted(by_height.items()):
        if len(hashes) > 1:
            problems.append(f"safety: {len(hashes)} different blocks committed at height {height}")
    for index, decisions in result.decisions.items():
        heights = [h for h, _ in decisions]
        if heights != list(range(1, len(heights) + 1)):
            problems.append(f"validator {index} committed heights out of order: {heights}")
        if len(decisions) < result.scenario.heights:
            problems.append(
                f"liveness: validator {index} reached height {len(decisions)} of {result.scenario.heights} "
                f"within {LIVENESS_BUDGET_MS} ms after the network healed at {result.scenario.stable_at} ms"
            )
    if result.invalid_decisions:
        problems.append(f"validity: {result.invalid_decisions} invalid blocks committed")
    if result.bad_certificates:
        problems.append(f"{result.bad_certificates} commit certificates do not verify")
    if result.refused_signatures:
        problems.append(f"honest validators hit the double-sign guard {result.refused_signatures} times")
    return problems
