"""Hypothesis: quantities are conserved over random transformation graphs.

Random lots are commissioned, then random transformations (some of them asking for more
than a lot holds, or losing more than they declare) run on a real chain. After every step,
read back from chain state alone: each lot's remaining quantity is what was commissioned
or made, less what transformations consumed; each recorded transformation lost no more
than it declared and gained nothing; and a refused transformation changed nothing.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_case
from hypothesis import strategies as st

from chain.encoding import decode
from market.provenance.bodies import TraceCommission, TraceRegister, TraceTransform
from market.provenance.identifiers import lot_of
from market.provenance.keys import EVENT_PREFIX, ITEM_PREFIX
from market.provenance.limits import BPS
from market.provenance.records import EventType, Item, ProvEvent, QuantityLine
from market.provenance.vocab import base_amount

from .conftest import GREEN, Trace

UNITS = ("GRM", "KGM")


def _items(chain: Any) -> dict[str, Item]:
    return {
        k[len(ITEM_PREFIX) :].decode(): Item.from_wire(decode(v))
        for k, v in chain.state.items()
        if k.startswith(ITEM_PREFIX)
    }


def _events(chain: Any) -> list[ProvEvent]:
    return [ProvEvent.from_wire(decode(v)) for k, v in chain.state.items() if k.startswith(EVENT_PREFIX)]


def _base(line: QuantityLine) -> int:
    return base_amount(line.amount, line.uom)[1]


def check_conserved(chain: Any) -> None:
    """Remaining = commissioned + made - consumed, per lot, from chain state alone."""
    items = _items(chain)
    expected = {key: 0 for key in items}
    for event in _events(chain):
        if event.type is EventType.TRANSFORMATION:
            ins, outs = sum(map(_base, event.items)), sum(map(_base, event.outputs))
            assert outs <= ins
            assert outs * BPS >= ins * (BPS - event.loss_bps)
            for line in event.items:
                expected[line.item] -= _base(line)
            for line in event.outputs:
                expected[line.item] += _base(line)
        elif event.biz_step == "commissioning":
            for line in event.items:
                expected[line.item] += _base(line)
    for key, item in items.items():
        assert item.remaining == expected[key], key
        assert 0 <= item.remaining <= item.initial


step = st.tuples(
    st.lists(st.tuples(st.integers(0, 50), st.integers(1, 1_200)), min_size=1, max_size=3),
    st.integers(0, 3_000),
    st.integers(0, 3_500),
    st.integers(1, 2),
    st.sampled_from(UNITS),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lots=st.lists(st.tuples(st.integers(1, 5_000), st.sampled_from(UNITS)), min_size=1, max_size=4),
    steps=st.lists(step, min_size=1, max_size=8),
)
def test_quantities_are_conserved(make_chain: Any, lots: list[tuple[int, str]], steps: list[Any]) -> None:
    trace = Trace(make_chain({"roaster": 10**12}))
    trace.ok("roaster", TraceRegister(GREEN, "beans"))
    keys = []
    for i, (amount, uom) in enumerate(lots):
        key = lot_of(GREEN, f"L{i}").key
        trace.ok("roaster", TraceCommission(key, amount, uom, trace.when()))
        keys.append(key)
    for n, (picks, loss_bps, actual_loss_bps, outputs, out_uom) in enumerate(steps):
        inputs: dict[str, QuantityLine] = {}
        for index, grams in picks:
            key = keys[index % len(keys)]
            inputs.setdefault(key, QuantityLine(key, grams, "GRM"))
        total = sum(line.amount for line in inputs.values())
        made = total * (BPS - actual_loss_bps) // BPS
        factor = 1_000 if out_uom == "KGM" else 1
        made_units = made // factor
        if made_units < outputs:
            continue
        lines = tuple(
            QuantityLine(
                lot_of(GREEN, f"T{n}-{j}").key, made_units // outputs + (made_units % outputs if j == 0 else 0), out_uom
            )
            for j in range(outputs)
        )
        body = TraceTransform(tuple(inputs.values()), lines, min(loss_bps, 9_000), trace.when())
        before = trace.chain.snapshot()
        receipt = trace.chain.send("roaster", body)
        note_case(receipt.code)
        if receipt.ok:
            keys.extend(line.item for line in lines)
        else:
            assert receipt.code in ("insufficient_quantity", "quantity_not_conserved"), receipt.message
            assert not any(k.startswith(b"mkt/") for k in trace.chain.changed_keys(before))
        check_conserved(trace.chain)
