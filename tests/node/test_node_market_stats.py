"""Marketplace KPIs: a hand-built scenario whose figures are known, kept per block and after
a restart and a full index rebuild; the histogram's p90 bound; bad parameters."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from node_market_kit import FEE, ManualClock, MarketNode, addr, forget_index, market_node

from market.bodies import (
    OrderAccept,
    OrderApproveReturn,
    OrderConfirm,
    OrderDispute,
    OrderPlace,
    OrderReceiveReturn,
    OrderReject,
    OrderRequestReturn,
    OrderReview,
    OrderShip,
    OrderShipReturn,
)
from market.order_state import Action, OrderState
from market.privacy import seal_for
from market.records import HistoryEntry, Order, Windows
from node.market_index import META_KEY, MarketIndex
from node.market_stats import (
    CHAIN_SCOPE,
    DAY_MS,
    K_SCOPE,
    StatsDelta,
    bucket_bounds,
    bucket_of,
    decode_counters,
    stats_writes,
)

PRICE, SHIP = 1_000, 100
GAP = 120_000
"""Clock step before each order: every order is placed at a time the test knows."""


async def _place(
    m: MarketNode, listing: str, buyer: str, price: int = PRICE, ship: int = SHIP, arbiter: str = ""
) -> bytes:
    m.clock.advance(GAP)
    body = OrderPlace(
        bytes.fromhex(listing),
        1,
        0,
        price,
        ship,
        m[arbiter].public_key if arbiter else b"",
        seal_for(m["merchant"].public_key, b"1 Main St"),
    )
    receipt = await m.do(buyer, body)
    return bytes.fromhex(next(e for e in receipt["events"] if e["type"] == "order")["attrs"]["order_id"])


async def _settle(m: MarketNode, order: bytes, buyer: str, merchant: str, after_ms: int) -> None:
    """Accept, ship, and confirm ``after_ms`` after placement (4 fees with the placement)."""
    await m.do(merchant, OrderAccept(order))
    await m.do(merchant, OrderShip(order))
    m.clock.advance(after_ms)
    await m.do(buyer, OrderConfirm(order))


async def _scenario(m: MarketNode) -> None:
    """Seven orders whose KPIs are worked out by hand in the test below."""
    chair = await m.create_listing(price=PRICE, shipping=(("standard", SHIP),), stock=100)
    cup = await m.create_listing("arbiter", price=500, shipping=(("post", 50),), arbiters=(), stock=10)
    o1 = await _place(m, chair, "buyer")
    await _settle(m, o1, "buyer", "merchant", 10_000)
    await m.do("buyer", OrderReview(o1, 5, "great"))
    o2 = await _place(m, chair, "buyer")
    await _settle(m, o2, "buyer", "merchant", 20_000)
    o3 = await _place(m, chair, "buyer2")
    await _settle(m, o3, "buyer2", "merchant", 40_959)
    await m.do("buyer2", OrderReview(o3, 4))
    o4 = await _place(m, chair, "buyer2")
    await m.do("merchant", OrderReject(o4, "out of oak"))
    o6 = await _place(m, chair, "arbiter2")
    await m.do("merchant", OrderAccept(o6))
    await m.do("merchant", OrderShip(o6))
    await m.do("arbiter2", OrderRequestReturn(o6, "wobbles"))
    await m.do("merchant", OrderApproveReturn(o6))
    await m.do("arbiter2", OrderShipReturn(o6))
    await m.do("merchant", OrderReceiveReturn(o6))
    await m.do("arbiter2", OrderReview(o6, 1, "wobbly"))
    o7 = await _place(m, cup, "buyer", price=500, ship=50)
    await _settle(m, o7, "buyer", "arbiter", 5_000)
    o5 = await _place(m, chair, "buyer", arbiter="arbiter")
    await m.do("merchant", OrderAccept(o5))
    await m.do("buyer", OrderDispute(o5, "never came"))


REPO = Path(__file__).resolve().parents[2]


async def _agora(home: Path, *args: str) -> str:
    """Run ``agora`` as a real process that must succeed; its stdout."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        "--home",
        str(home),
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


def _rate(count: int, of: int) -> dict[str, Any]:
    return {"count": count, "of": of, "rate": round(count / of, 6)}


def _check_merchant(stats: dict[str, Any]) -> None:
    # o1, o2, o3 settled; o4 rejected; o5 disputed; o6 refunded (o7 is another merchant's)
    assert stats["orders"] == 6
    states = {s: n for s, n in stats["orders_by_state"].items() if n}
    assert states == {"settled": 3, "rejected": 1, "disputed": 1, "refunded": 1}
    assert stats["trades"] == 5 and stats["sales"] == 3
    assert stats["sales_volume"] == {"AGR": str(3 * (PRICE + SHIP))}
    settlement = stats["settlement"]
    assert settlement["count"] == 3
    assert settlement["mean_ms"] == (10_000 + 20_000 + 40_959) // 3
    assert settlement["p90_ms"] == 40_959  # the 3rd of 3, exactly the top of its bucket
    assert sum(b["count"] for b in settlement["histogram"]) == 3
    assert stats["return_rate"] == _rate(1, 5)
    assert stats["refund_rate"] == _rate(1, 5)
    assert stats["dispute_rate"] == _rate(1, 5)
    # buyer: o1 o2 o5 (repeat); buyer2: o3 (o4 was rejected, no trade); arbiter2: o6
    assert stats["repeat_purchase_rate"] == _rate(1, 3)
    assert stats["ratings"] == {"count": 3, "distribution": {"1": 1, "2": 0, "3": 0, "4": 1, "5": 1}}
    # transactions that moved each order: 4 + 4 + 4 + 2 (place, reject) + 3 + 7
    assert stats["fees"] == {"total": str(24 * FEE), "per_order": str(4 * FEE), "asset": "AGR"}


def _check_chain(stats: dict[str, Any]) -> None:
    assert stats["merchant"] is None
    assert stats["orders"] == 7 and stats["trades"] == 6 and stats["sales"] == 4
    assert stats["sales_volume"] == {"AGR": str(3 * (PRICE + SHIP) + 550)}
    assert stats["settlement"]["mean_ms"] == (5_000 + 10_000 + 20_000 + 40_959) // 4
    assert stats["settlement"]["p90_ms"] == 40_959
    assert stats["repeat_purchase_rate"] == _rate(1, 3)  # buyer now has 4 trades, still 1 of 3
    assert stats["dispute_rate"] == _rate(1, 6)
    assert stats["fees"] == {"total": str(28 * FEE), "per_order": str(28 * FEE // 7), "asset": "AGR"}
    assert sum(d["sales"] for d in stats["sales_per_day"]) == 4
    assert len(stats["sales_per_day"]) == 30


async def _read(m: MarketNode) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    chain = await m.ok("/api/v1/market/stats")
    merchant = await m.ok("/api/v1/market/stats", merchant=addr(m["merchant"]))
    other = await m.ok("/api/v1/market/stats", merchant=addr(m["arbiter"]), days="1")
    return chain, merchant, other


async def test_kpis_match_a_hand_built_scenario_and_survive_restart_and_rebuild(tmp_path: Path) -> None:
    clock = ManualClock()
    async with market_node(tmp_path, clock) as m:
        empty = await m.ok("/api/v1/market/stats")
        assert empty["orders"] == 0 and empty["settlement"]["p90_ms"] is None
        assert empty["fees"]["per_order"] is None and empty["repeat_purchase_rate"]["rate"] is None
        await _scenario(m)
        chain, merchant, other = await _read(m)
        home = tmp_path / "home"
        as_json = await _agora(home, "market", "stats", "--node", m.url, "--merchant", addr(m["merchant"]), "--json")
        assert json.loads(as_json) == {**merchant, "sales_per_day": merchant["sales_per_day"][-7:]}
        table = await _agora(home, "market", "stats", "--node", m.url)
        assert "repeat-purchase rate" in table and "33.3 % (1 of 3)" in table and "Orders by state" in table
    _check_chain(chain)
    _check_merchant(merchant)
    assert merchant["merchant"] == addr(m["merchant"])
    assert other["orders"] == 1 and other["sales_volume"] == {"AGR": "550"} and len(other["sales_per_day"]) == 1
    assert other["sales_per_day"][0]["sales"] == 1 and other["sales_per_day"][0]["day"] % DAY_MS == 0

    # a restart reads the counters the blocks wrote
    async with market_node(tmp_path, clock) as m:
        assert await _read(m) == (chain, merchant, other)

    # drop the index version: the next start rebuilds everything from state and stored blocks
    forget_index(tmp_path, META_KEY)
    async with market_node(tmp_path, clock) as m:
        assert MarketIndex(m.node.services.store).indexed_height() is not None  # type: ignore[union-attr]
        rebuilt = await _read(m)
        assert rebuilt == (chain, merchant, other)
        # and counting goes on from the rebuilt counters
        o8 = await _place(m, (await m.ok("/api/v1/listings", merchant=addr(m["merchant"])))["items"][0]["id"], "buyer2")
        after = await m.ok("/api/v1/market/stats", merchant=addr(m["merchant"]))
        assert after["orders"] == 7 and after["orders_by_state"]["placed"] == 1
        assert after["fees"]["total"] == str(25 * FEE)
        assert o8


async def test_stats_refuse_bad_parameters(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        for params, reason in (
            ({"merchant": "agora1nope"}, "bad_address"),
            ({"days": "0"}, "bad_days"),
            ({"days": "367"}, "bad_days"),
            ({"days": "-1"}, "bad_days"),
            ({"when": "now"}, "unknown_parameter"),
        ):
            status, body = await m.get("/api/v1/market/stats", **params)
            assert status == 400 and body["reason"] == reason, (params, body)


@given(st.integers(min_value=0, max_value=2**62))
def test_a_histogram_bucket_holds_its_value_and_is_at_most_a_sixteenth_wide(ms: int) -> None:
    low, high = bucket_bounds(bucket_of(ms))
    assert low <= ms <= high
    assert high - low <= low // 16
    assert bucket_of(low) == bucket_of(high) == bucket_of(ms)


# --- the update of the counters: incremental equals recomputed -----------------------------

_PARTIES = [bytes([i]) * 32 for i in range(1, 5)]
_ACTIONS = list(Action)


@st.composite
def _versions(draw: st.DrawFn, order_id: bytes) -> list[Order]:
    """Successive versions of one order record (any fields the counters read, drawn freely)."""
    out = []
    buyer, merchant = draw(st.sampled_from(_PARTIES)), draw(st.sampled_from(_PARTIES))
    placed = draw(st.integers(0, 10**12))
    asset = draw(st.sampled_from(["AGR", "USDX"]))
    for _ in range(draw(st.integers(1, 4))):
        steps = draw(st.lists(st.tuples(st.sampled_from(_ACTIONS), st.sampled_from(list(OrderState))), max_size=4))
        history = [HistoryEntry(Action.PLACE, OrderState.PLACED, placed, 1, buyer)]
        history += [HistoryEntry(a, s, placed + draw(st.integers(0, 10**9)), 2, buyer) for a, s in steps]
        state = history[-1].state
        out.append(
            Order(
                order_id, b"l" * 32, buyer, merchant, b"", 0, 1, 100, 0, 0, draw(st.integers(0, 10**9)),
                Windows(60_000, 60_000, 60_000, 60_000), b"", b"", b"", state, 0, draw(st.booleans()), b"", None,
                tuple(history), asset=asset,
            )
        )  # fmt: skip
    return out


def _apply(index: dict[bytes, bytes], delta: StatsDelta) -> None:
    writes: dict[bytes, bytes | None] = {}
    stats_writes(index.get, delta, writes)
    for key, value in writes.items():
        if value is None:
            index.pop(key, None)
        else:
            index[key] = value


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=6, unique=True).flatmap(
    lambda ids: st.tuples(*(_versions(i) for i in ids))
), st.randoms(use_true_random=False))  # fmt: skip
def test_counters_updated_record_by_record_equal_counters_computed_from_the_last_records(
    histories: tuple[list[Order], ...], rng: Any
) -> None:
    # interleave the orders' versions into "blocks", each changing some records once
    pending = [list(v) for v in histories]
    current: dict[bytes, Order] = {}
    incremental: dict[bytes, bytes] = {}
    while any(pending):
        delta = StatsDelta.empty()
        for versions in pending:
            if versions and rng.random() < 0.6:
                new = versions.pop(0)
                delta.order(current.get(new.order_id), new)
                current[new.order_id] = new
                delta.fee(new.merchant, 10)
        _apply(incremental, delta)
    rebuilt: dict[bytes, bytes] = {}
    fees = StatsDelta.empty()
    for order in current.values():
        fees.order(None, order)
    for versions in histories:
        for version in versions:
            fees.fee(version.merchant, 10)
    _apply(rebuilt, fees)
    assert incremental == rebuilt
    chain = decode_counters(incremental.get(K_SCOPE + CHAIN_SCOPE))
    assert chain["orders"] == len(current) and all(v >= 0 for v in chain.values())
    assert chain["repeat_buyers"] <= chain["buyers"] <= chain["trades"]
