"""Property tests over random transfer sequences (issue 2): money is conserved, nonces are
strict, replay is byte-identical, and different states have different app hashes.

The state machine keeps an independent model of balances and nonces and checks the chain
against it block by block, so a rule that quietly drifts from the model fails here.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass, replace
from typing import Any

import pytest
from chain_testkit import MIN_FEE, TestChain, genesis_json, key, transfer
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from chain.accounts import BALANCE_PREFIX, NONCE_PREFIX, get_nonce
from chain.block import decode_block
from chain.encoding import U64_MAX, decode
from chain.genesis import genesis_from_json
from chain.keys import PrivateKey
from chain.state import Overlay
from chain.state_tree import compute_root
from chain.transfer import CORE_KINDS
from chain.tx import Transaction

# The validators are ordinary accounts too, so a proposer is sometimes also a sender, and
# the fees they earn flow back; key(23) only ever receives.
VALIDATORS = (key(0), key(1))
ACCOUNTS = (key(0), key(1), key(20), key(21), key(22))
EVERYONE: tuple[PrivateKey, ...] = (*ACCOUNTS, key(23))


def _balances(chain: TestChain) -> dict[bytes, int]:
    """Every AGR balance in state, checked to be a positive u64 (zero balances are deleted)."""
    out: dict[bytes, int] = {}
    for k, raw in chain.state.items():
        if k.startswith(BALANCE_PREFIX):
            value = decode(raw)
            assert type(value) is int and 0 < value <= U64_MAX, (k, value)
            assert k.endswith(b"/AGR")
            out[k[len(BALANCE_PREFIX) : len(BALANCE_PREFIX) + 32]] = value
    return out


def _nonces(chain: TestChain) -> dict[bytes, int]:
    return {k[len(NONCE_PREFIX) :]: decode(raw) for k, raw in chain.state.items() if k.startswith(NONCE_PREFIX)}


@dataclass(frozen=True)
class TxPlan:
    """One candidate transfer, described relative to the state it will meet."""

    sender: int
    to: int
    amount: int
    fee: int
    nonce_offset: int
    bad_signature: bool


def _event(text: str) -> None:
    """Record a statistic when running under hypothesis (``--hypothesis-show-statistics``)."""
    with contextlib.suppress(InvalidArgument):  # raised when a seeded test drives the machine
        event(text)


def _clamp(value: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, value))


_small_amount = st.integers(1, 2_000)
_normal_fee = st.integers(MIN_FEE, 3 * MIN_FEE)
# Mostly affordable transfers (repeated branches weigh more), with every edge mixed in.
amounts = st.one_of(
    _small_amount, _small_amount, _small_amount, _small_amount, _small_amount, _small_amount,
    st.integers(1, U64_MAX), st.just(U64_MAX), st.sampled_from([-1, -2, -3]),
)  # fmt: skip
fees = st.one_of(
    _normal_fee, _normal_fee, _normal_fee, _normal_fee, _normal_fee,
    st.integers(0, MIN_FEE - 1), st.integers(0, U64_MAX), st.just(U64_MAX), st.sampled_from([-1, -2]),
)  # fmt: skip
plans = st.builds(
    TxPlan,
    sender=st.integers(0, len(ACCOUNTS) - 1),
    to=st.integers(0, len(EVERYONE) - 1),
    amount=amounts,
    fee=fees,
    nonce_offset=st.sampled_from([0, 0, 0, 0, 0, -1, 1, 2, U64_MAX]),
    bad_signature=st.sampled_from([False] * 9 + [True]),
)


def _next_nonce(queued: list[Transaction], sender: bytes, nonce: int) -> int:
    """The nonce a well-behaved wallet would use next, given the transactions already queued."""
    for tx in queued:
        if tx.sender == sender and tx.nonce == nonce and tx.fee >= MIN_FEE and tx.signature != bytes(64):
            nonce += 1
    return nonce


def realize(plan: TxPlan, balances: dict[bytes, int], next_nonce: int) -> Transaction:
    """Turn a plan into a signed transaction; small amounts/fees are read relative to the balance.

    Negative ``amount`` / ``fee`` values -1, -2 and -3 stand for "balance - 1", "balance" and
    "balance + 1", so that sequences hit the exact edges of what a sender can afford.
    """
    sender = ACCOUNTS[plan.sender]
    balance = balances.get(sender.public_key, 0)
    relative = {-1: balance - 1, -2: balance, -3: balance + 1}
    amount = relative.get(plan.amount, plan.amount)
    fee = relative.get(plan.fee, plan.fee)
    nonce = next_nonce + plan.nonce_offset if plan.nonce_offset != U64_MAX else U64_MAX
    tx = transfer(
        sender,
        _clamp(nonce, 0, U64_MAX),
        EVERYONE[plan.to],
        _clamp(amount, 1, U64_MAX),
        fee=_clamp(fee, 0, U64_MAX),
    )
    if plan.bad_signature:
        tx = replace(tx, signature=bytes(64))
    return tx


@dataclass
class Model:
    """An independent model of the transfer rules: balances, nonces, and what each tx does."""

    balances: dict[bytes, int]
    nonces: dict[bytes, int]

    def apply(self, tx: Transaction, proposer: bytes) -> str | None:
        """Return None if ``tx`` may not be included, else its receipt code (and apply it)."""
        sender = tx.sender
        valid_signature = tx.signature_valid()
        if tx.fee < MIN_FEE or tx.nonce != self.nonces.get(sender, 0):
            return None
        if self.balances.get(sender, 0) < tx.fee or not valid_signature:
            return None
        self._add(sender, -tx.fee)
        self._add(proposer, tx.fee)
        self.nonces[sender] = tx.nonce + 1
        body = tx.body
        if body.to == sender:
            return "self_transfer"
        if self.balances.get(sender, 0) < body.amount:
            return "insufficient_funds"
        if self.balances.get(body.to, 0) + body.amount > U64_MAX:
            return "overflow"
        self._add(sender, -body.amount)
        self._add(body.to, body.amount)
        return "ok"

    def _add(self, account: bytes, delta: int) -> None:
        value = self.balances.get(account, 0) + delta
        assert 0 <= value <= U64_MAX
        if value:
            self.balances[account] = value
        else:
            self.balances.pop(account, None)


def replay(chain: TestChain) -> TestChain:
    """Re-execute every committed block from genesis on fresh state, from its wire bytes."""
    fresh = TestChain(chain.genesis, chain.validators)
    for block in chain.blocks:
        decoded = decode_block(block.encode(), CORE_KINDS)
        fresh.apply(decoded, fresh.execute(decoded))
    return fresh


class TransferMachine(RuleBasedStateMachine):
    """Random transfers, block by block, checked against :class:`Model`."""

    def __init__(self) -> None:
        super().__init__()
        self.chain: TestChain
        self.model: Model
        self.supply = 0
        self.pending: list[Transaction] = []

    @initialize(
        small=st.lists(
            st.one_of(st.integers(10_000, 10**9), st.integers(1, 10**15)),
            min_size=len(ACCOUNTS),
            max_size=len(ACCOUNTS),
        ),
        whale=st.booleans(),
    )
    def start(self, small: list[int], whale: bool) -> None:
        balances = list(small)
        if whale:  # total supply exactly 2**64-1: any overflow bug shows up at once
            balances[1] = U64_MAX - sum(balances) + balances[1]
        doc = genesis_json(VALIDATORS, list(zip(ACCOUNTS, balances, strict=True)))
        self.chain = TestChain(genesis_from_json(doc), VALIDATORS)
        self.supply = sum(balances)
        self.model = Model({a.public_key: b for a, b in zip(ACCOUNTS, balances, strict=True)}, {})

    @rule(batch=st.lists(plans, min_size=1, max_size=4))
    def submit(self, batch: list[TxPlan]) -> None:
        """Queue transfers for the next block."""
        for plan in batch:
            sender = ACCOUNTS[plan.sender].public_key
            nonce = _next_nonce(self.pending, sender, self.model.nonces.get(sender, 0))
            self.pending.append(realize(plan, self.model.balances, nonce))

    @rule(proposer=st.sampled_from(VALIDATORS))
    def produce(self, proposer: PrivateKey) -> None:
        """Propose, re-execute as a follower, commit; compare with the model."""
        nonces_before = _nonces(self.chain)
        block, result, rejected = self.chain.produce(self.pending, proposer=proposer)
        expected = [(tx, self.model.apply(tx, proposer.public_key)) for tx in self.pending]
        included = [(tx, code) for tx, code in expected if code is not None]
        assert list(block.txs) == [tx for tx, _ in included]
        assert [r.code for r in result.receipts] == [code for _, code in included]
        assert [tx for tx, _ in rejected] == [tx for tx, code in expected if code is None]
        assert all(r.fee == tx.fee for r, tx in zip(result.receipts, block.txs, strict=True))
        _event(f"blocks with {min(len(block.txs), 5)}+ txs")
        for receipt in result.receipts:
            _event(f"receipt {receipt.code}")
        for _, why in rejected:
            _event(f"rejected {why.code}")
        # Nonces: +1 per included transaction of the sender, no other change.
        nonces_after = _nonces(self.chain)
        for account in {*nonces_before, *nonces_after}:
            count = sum(1 for tx in block.txs if tx.sender == account)
            assert nonces_after.get(account, 0) == nonces_before.get(account, 0) + count
        for tx in block.txs:
            assert tx.nonce == nonces_before.get(tx.sender, 0) + sum(
                1 for t in block.txs[: block.txs.index(tx)] if t.sender == tx.sender
            )
        self.pending = []

    @invariant()
    def conserved(self) -> None:
        """Total supply is exactly the genesis supply; state matches the model."""
        if not hasattr(self, "chain"):
            return
        balances = _balances(self.chain)
        assert sum(balances.values()) == self.supply
        assert balances == self.model.balances
        assert _nonces(self.chain) == self.model.nonces

    def teardown(self) -> None:
        if not hasattr(self, "chain"):
            return
        if self.pending:
            self.produce(VALIDATORS[0])
            self.conserved()
        again = replay(self.chain)
        assert list(again.state.items()) == list(self.chain.state.items())
        assert [b.header.state_root for b in again.blocks] == [b.header.state_root for b in self.chain.blocks]
        assert [b.hash for b in again.blocks] == [b.hash for b in self.chain.blocks]
        assert again.results == self.chain.results


TransferMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_transfer_sequences = TransferMachine.TestCase


# --- different sequences, different app hashes ------------------------------------------------


def _run(blocks: list[tuple[int, list[TxPlan]]]) -> TestChain:
    chain = TestChain(
        genesis_from_json(genesis_json(VALIDATORS, [(a, 5_000 + 1_000 * i) for i, a in enumerate(ACCOUNTS)])),
        VALIDATORS,
    )
    for proposer, block_plans in blocks:
        view = Overlay(chain.state)
        balances = _balances(chain)
        txs: list[Transaction] = []
        for plan in block_plans:
            sender = ACCOUNTS[plan.sender].public_key
            txs.append(realize(plan, balances, _next_nonce(txs, sender, get_nonce(view, sender))))
        chain.produce(txs, proposer=VALIDATORS[proposer])
    return chain


block_lists = st.lists(
    st.tuples(st.integers(0, len(VALIDATORS) - 1), st.lists(plans, max_size=5)), min_size=1, max_size=5
)


def _mutate(blocks: list[tuple[int, list[TxPlan]]], data: st.DataObject) -> list[tuple[int, list[TxPlan]]]:
    out = [(p, list(txs)) for p, txs in blocks]
    i = data.draw(st.integers(0, len(out) - 1))
    proposer, txs = out[i]
    what = data.draw(st.sampled_from(["proposer", "add", "drop", "change"]))
    if what == "proposer":
        out[i] = (1 - proposer, txs)
    elif what == "add" or not txs:
        txs.insert(data.draw(st.integers(0, len(txs))), data.draw(plans))
    elif what == "drop":
        del txs[data.draw(st.integers(0, len(txs) - 1))]
    else:
        j = data.draw(st.integers(0, len(txs) - 1))
        field = data.draw(st.sampled_from(["amount", "fee", "to", "sender"]))
        value: Any = data.draw(amounts if field in ("amount", "fee") else st.integers(0, len(ACCOUNTS) - 1))
        txs[j] = replace(txs[j], **{field: value})
    return out


@given(block_lists, st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_state_root_is_a_function_of_the_state(blocks: list[tuple[int, list[TxPlan]]], data: st.DataObject) -> None:
    a = _run(blocks)
    b = _run(_mutate(blocks, data))
    # Two chains agree on the state root exactly when their states agree, and it is the
    # from-scratch root of the whole state.
    assert (a.state_root == b.state_root) == (list(a.state.items()) == list(b.state.items()))
    assert a.state_root == compute_root(a.state.items()) == a.state.root
    assert b.state_root == compute_root(b.state.items()) == b.state.root
    # And the replay of either is byte-identical to itself.
    assert replay(b).state_root == b.state_root


def _random_plan(rng: random.Random) -> TxPlan:
    roll = rng.random()
    amount = rng.choice([rng.randint(1, 2_000)] * 20 + [rng.randint(1, U64_MAX), U64_MAX, rng.choice([-1, -2, -3])])
    fee = rng.choice(
        [rng.randint(MIN_FEE, 3 * MIN_FEE)] * 20 + [rng.randint(0, MIN_FEE - 1), U64_MAX, rng.choice([-1, -2])]
    )
    return TxPlan(
        sender=rng.randrange(len(ACCOUNTS)),
        to=rng.randrange(len(EVERYONE)),
        amount=amount,
        fee=fee,
        nonce_offset=rng.choice([0] * 8 + [-1, 1, 2, U64_MAX]),
        bad_signature=roll < 0.05,
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_long_seeded_sequences(seed: int) -> None:
    """Deep runs (40 blocks of up to 12 transfers) through the same checks as the machine."""
    rng = random.Random(seed)
    machine = TransferMachine()
    machine.start(small=[rng.randint(10_000, 10**6) for _ in ACCOUNTS], whale=seed == 2)
    codes: list[str] = []
    for _ in range(40):
        machine.submit([_random_plan(rng) for _ in range(rng.randint(0, 12))])
        machine.produce(rng.choice(VALIDATORS))
        machine.conserved()
        codes.extend(r.code for r in machine.chain.results[-1].receipts)
    machine.teardown()
    # The run is only meaningful if it exercised both outcomes many times.
    assert codes.count("ok") >= 40 and len(set(codes)) >= 3
