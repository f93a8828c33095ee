"""Hypothesis: random journeys by random actors keep provenance state consistent.

After every step, read from chain state alone: packing links agree on both ends, packed
items share their unit's custodian and shipment, a recall's mark covers everything
downstream, each head matches its log's hash chain, and a refused step changed nothing
but fee and nonce.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_case
from hypothesis import strategies as st

from chain.encoding import decode, sha256
from market.provenance.bodies import TraceAggregate, TraceEvent, TraceGrant, TraceRecall, TraceTransform
from market.provenance.keys import ITEM_PREFIX
from market.provenance.queries import event_ids, get_head
from market.provenance.records import ZERO_HASH, Action, Item, QuantityLine
from market.provenance.vocab import Role

from .conftest import GREEN, SSCC1, SSCC2, Trace, green_lot

ACTORS = ("farm1", "farm2", "carrier", "roaster", "stranger")
LOTS = (green_lot("F1-2026"), green_lot("F2-2026"))
CASES = ("00/" + SSCC1, "00/" + SSCC2)


def _items(chain: Any) -> dict[str, Item]:
    return {
        k[len(ITEM_PREFIX) :].decode(): Item.from_wire(decode(v))
        for k, v in chain.state.items()
        if k.startswith(ITEM_PREFIX)
    }


def check_invariants(chain: Any) -> None:
    items = _items(chain)
    for item in items.values():
        if item.parent:
            parent = items[item.parent]
            assert item.key in parent.children
            assert item.custodian == parent.custodian, item.key
            assert item.in_transit_to == parent.in_transit_to, item.key
        for child in item.children:
            assert items[child].parent == item.key
        if item.recalled:
            for key in item.downstream:
                assert items[key].recalled, f"{key} is downstream of recalled {item.key}"
        head = get_head(chain.state, item.key)
        chained = ZERO_HASH
        for event_id in event_ids(chain.state, item.key, 0, head.count):
            chained = sha256(chained + event_id)
        assert chained == head.chain and len(event_ids(chain.state, item.key, 0, head.count)) == head.count


def _body(t: Trace, step: tuple[Any, ...]) -> Any:
    kind, a, b, c = step
    when = t.when()
    item = (LOTS + CASES)[a % 4]
    if kind == "ship":
        return TraceEvent(item, "shipping", "", when, t.chain.pub(ACTORS[b % len(ACTORS)]))
    if kind == "receive":
        moving = [k for k, i in _items(t.chain).items() if i.in_transit_to and not i.parent]
        return TraceEvent(moving[a % len(moving)] if moving else item, "receiving", "", when)
    if kind == "pack":
        return TraceAggregate(CASES[a % 2], Action.ADD, ((LOTS + CASES)[b % 4],), when)
    if kind == "unpack":
        return TraceAggregate(CASES[a % 2], Action.DELETE, (), when)
    if kind == "grant":
        return TraceGrant("01/" + GREEN, Role.PROCESSOR, t.chain.pub(ACTORS[b % len(ACTORS)]))
    if kind == "transform":
        out = green_lot(f"T{c}")
        return TraceTransform((QuantityLine(LOTS[a % 2], 1 + b, "KGM"),), (QuantityLine(out, 1 + b, "KGM"),), 0, when)
    return TraceRecall(item, "test", when)


def _actor(t: Trace, names: dict[bytes, str], who: int, step: tuple[Any, ...]) -> str:
    """Mostly whoever may act (the custodian; for a receipt, the recipient), sometimes anyone."""
    from market.provenance.queries import get_item

    kind, a, _, _ = step
    key = CASES[a % 2] if kind in ("pack", "unpack") else (LOTS + CASES)[a % 4]
    if kind == "receive":
        moving = [k for k, i in _items(t.chain).items() if i.in_transit_to and not i.parent]
        key = moving[a % len(moving)] if moving else key
    item = get_item(t.chain.state, key)
    if who >= 7 or item is None:
        return ACTORS[who % len(ACTORS)]
    if kind == "receive" and item.in_transit_to:
        return names[item.in_transit_to]
    return "farm1" if kind in ("recall", "grant") else names[item.custodian]


steps = st.tuples(
    st.sampled_from(["ship"] * 4 + ["receive"] * 4 + ["pack"] * 3 + ["transform"] * 2 + ["unpack", "grant", "recall"]),
    st.integers(0, 7),
    st.integers(0, 7),
    st.integers(0, 99),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(st.tuples(st.integers(0, 9), steps), min_size=1, max_size=20))
def test_random_journeys_keep_state_consistent(make_chain: Any, plan: list[Any]) -> None:
    from chain.accounts import NATIVE_ASSET, balance_key, fees_key, nonce_key
    from market.provenance.bodies import TraceCommission, TraceRegister

    t = Trace(make_chain({name: 10**12 for name in ACTORS}))
    t.ok("farm1", TraceRegister(GREEN, "beans"))
    t.ok("farm1", TraceGrant("01/" + GREEN, Role.PROCESSOR, t.chain.pub("farm2")))
    t.ok("farm1", TraceCommission(LOTS[0], 100, "KGM", t.when()))
    t.ok("farm2", TraceCommission(LOTS[1], 100, "KGM", t.when()))
    t.ok("farm1", TraceCommission(CASES[0], 1, "H87", t.when()))
    t.ok("roaster", TraceCommission(CASES[1], 1, "H87", t.when()))
    names = {t.chain.pub(name): name for name in ACTORS}
    for who, step in plan:
        actor = _actor(t, names, who, step)
        before = t.chain.snapshot()
        receipt = t.chain.send(actor, _body(t, step))
        note_case(f"{step[0]}: {receipt.code}")
        if not receipt.ok:
            sender = t.chain.pub(actor)
            allowed = {
                balance_key(sender, NATIVE_ASSET),
                balance_key(t.chain.validator.public_key, NATIVE_ASSET),
                nonce_key(sender),
                fees_key(NATIVE_ASSET),
            }
            assert t.chain.changed_keys(before) <= allowed, receipt.code
        check_invariants(t.chain)
