"""Points and financing through a real node's client API: balances and history are served with
proofs of every key they read (checked against the certified header), a financier sees the
order and the merchant's record, and the supply adds up with advances locked in offers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from node_market_kit import MINUTE, MarketNode, addr, market_node
from test_node_view_proofs import _verified

from market.bodies import OrderAccept, OrderConfirm, OrderPlace, OrderShip
from market.finance import FinanceAccept, FinanceOffer, financing_key
from market.points import PointsOpen, Terms, holding_key, programme_key
from market.privacy import seal_for

PRICE, SHIP = 1_000, 100
TERMS = Terms("AGR", unit=100, rate=1, point_value=10, max_redeem_bps=5_000, expiry_ms=0, ends_ms=0)


async def _order(m: MarketNode, listing: str, redeem: int = 0) -> str:
    sealed = seal_for(m["merchant"].public_key, b"x")
    body = OrderPlace(bytes.fromhex(listing), 1, 0, PRICE, SHIP, b"", sealed, redeem=redeem)
    receipt = await m.do("buyer", body)
    oid: str = next(e for e in receipt["events"] if e["type"] == "order")["attrs"]["order_id"]
    await m.do("merchant", OrderAccept(bytes.fromhex(oid)))
    return oid


async def _settle(m: MarketNode, oid: str) -> None:
    await m.do("merchant", OrderShip(bytes.fromhex(oid), b""))
    await m.do("buyer", OrderConfirm(bytes.fromhex(oid)))


async def test_points_views_prove_the_balance_and_history(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        merchant, buyer = addr(m["merchant"]), addr(m["buyer"])
        status, body = await m.get(f"/api/v1/points/{merchant}")
        assert status == 404 and body["reason"] == "not_found"
        await m.do("merchant", PointsOpen(TERMS))
        listing = await m.create_listing()
        await _settle(m, await _order(m, listing))
        second = await _order(m, listing, redeem=5)
        placed = await m.order(second)
        assert placed["total"] == PRICE + SHIP - 50 and placed["points_redeemed"] == {"points": 5, "discount": 50}

        view = await m.ok(f"/api/v1/points/{merchant}/{buyer}")
        assert view["balance"] == 11 - 5 and view["spent"] == PRICE + SHIP
        assert [(e["kind"], e["points"]) for e in view["history"]] == [("earn", 11), ("redeem", 5)]
        assert view["history"][1]["order_id"] == second
        programme = await m.ok(f"/api/v1/points/{merchant}")
        assert (programme["earned"], programme["redeemed"], programme["outstanding"]) == (11, 5, 6)

        proved = await m.ok(f"/api/v1/points/{merchant}/{buyer}", prove="true")
        proven = _verified(m, proved)
        mk, bk = m["merchant"].public_key, m["buyer"].public_key
        assert holding_key(mk, bk) in proven and programme_key(mk) in proven
        assert proved["value"]["balance"] == 6 and len([k for k in proven if k.startswith(b"mkt/pts/h/")]) == 2
        past = await m.ok(f"/api/v1/points/{merchant}/{buyer}", height=str(proved["height"] - 2))
        assert past["balance"] == 11, "before the redemption"
        status, body = await m.get(f"/api/v1/points/{merchant}/{buyer}", limit="0")
        assert status == 400 and body["reason"] == "bad_query"
        status, body = await m.get(f"/api/v1/points/nobody/{buyer}")
        assert status == 400 and body["reason"] == "bad_address"


async def test_a_financier_reads_the_order_and_the_record_and_the_supply_adds_up(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        merchant, financier = addr(m["merchant"]), addr(m["buyer2"])
        listing = await m.create_listing()
        oid = await _order(m, listing)
        before: dict[str, Any] = await m.ok(f"/api/v1/finance/orders/{oid}")
        assert (before["state"], before["payout"], before["financeable"]) == ("accepted", PRICE + SHIP, True)
        assert before["payee"] == merchant and before["financing"] is None
        record = await m.ok(f"/api/v1/finance/merchants/{merchant}")
        assert record["open_financings"] == 0 and record["outstanding_debt"] == {}

        receipt = await m.do("buyer2", FinanceOffer(bytes.fromhex(oid), 900, m.clock() + 60 * MINUTE))
        offer_id = next(e for e in receipt["events"] if e["type"] == "finance")["attrs"]["offer_id"]
        offered = await m.ok(f"/api/v1/finance/orders/{oid}")
        assert [o["advance"] for o in offered["offers"]] == [900]
        supply = await m.ok("/api/v1/supply")
        agr = next(a for a in supply["assets"] if a["asset"] == "AGR")
        assert (agr["in_financing"], agr["balanced"]) == (900, True)
        assert (await m.ok(f"/api/v1/finance/offers/{offer_id}"))["financier"] == financier

        await m.do("merchant", FinanceAccept(bytes.fromhex(offer_id)))
        financed = await m.ok(f"/api/v1/finance/orders/{oid}", prove="true")
        assert financed["value"]["payee"] == financier and financed["value"]["financing"]["face"] == PRICE + SHIP
        assert financing_key(bytes.fromhex(oid)) in _verified(m, financed)
        shown = await m.order(oid)
        assert (shown["payee"], shown["financed_by"]) == (financier, financier)
        f_before = await m.balance("buyer2")
        await _settle(m, oid)
        assert await m.balance("buyer2") == f_before + PRICE + SHIP
        record = await m.ok(f"/api/v1/finance/merchants/{merchant}")
        assert record["settled_volume"] == {"AGR": PRICE + SHIP} and record["financed_orders"] == 1
        status, _ = await m.get(f"/api/v1/finance/offers/{offer_id}")
        assert status == 404
        for path, code in (
            ("/api/v1/finance/orders/zz", "bad_id"),
            (f"/api/v1/finance/orders/{'0' * 64}", "not_found"),
            ("/api/v1/finance/merchants/nobody", "bad_address"),
            (f"/api/v1/finance/offers/{'0' * 63}", "bad_id"),
        ):
            status, body = await m.get(path)
            assert (status, body["reason"]) == ((404 if code == "not_found" else 400), code), path
        status, body = await m.get(f"/api/v1/finance/orders/{oid}", prove="maybe")
        assert (status, body["reason"]) == (400, "bad_bool")
        supply = await m.ok("/api/v1/supply")
        assert all(a["balanced"] for a in supply["assets"])
