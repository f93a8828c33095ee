"""Redeeming loyalty points from the web buy form: ``GET /listing/{id}/quote?redeem=N`` makes
the checks ``agora order place --redeem`` makes before signing (the merchant's programme, the
buyer's live points, the programme's share of the order) over a real node, answering the
discount and the points to sign or a 400 naming why the chain would refuse them; the browser
signs what the quote says and the chain takes exactly that discount."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from browser_kit import chromium, collect_errors
from node_market_kit import MarketNode, addr
from playwright.async_api import expect
from web_kit import page, text_of, web_node

from market.bodies import OrderAccept, OrderConfirm, OrderPlace, OrderShip
from market.points import PointsOpen, Terms
from market.privacy import seal_for

PRICE, SHIP = 1_000, 100
DAY = 86_400_000
# 1 point per 100 spent, each worth 10 off, at most 50 % of an order, points expire after 30 days
TERMS = Terms("AGR", 100, 1, 10, 5_000, 30 * DAY, 0)
PASSWORD = "correct horse battery"


async def _quote(m: MarketNode, listing: str, status: int = 200, **params: Any) -> Any:
    async with m.http.get(f"{m.url}/listing/{listing}/quote", params=params) as response:
        body = await response.json(content_type=None)
        assert response.status == status, body
        return body


async def _members_shop(m: MarketNode) -> str:
    """The merchant's programme, a listing (1,000 + 100 shipping, stock 5), and 11 points the
    buyer earned on a confirmed order; the listing's id."""
    await m.do("merchant", PointsOpen(TERMS))
    listing = await m.create_listing(price=PRICE, stock=5)
    body = OrderPlace(bytes.fromhex(listing), 1, 0, PRICE, SHIP, b"", seal_for(m["merchant"].public_key, b"x"))
    receipt = await m.do("buyer", body)
    oid = bytes.fromhex(next(e for e in receipt["events"] if e["type"] == "order")["attrs"]["order_id"])
    await m.do("merchant", OrderAccept(oid))
    await m.do("merchant", OrderShip(oid, b""))
    await m.do("buyer", OrderConfirm(oid))  # earns 1,100 / 100 = 11 points
    points = await m.ok(f"/api/v1/points/{addr(m['merchant'])}/{addr(m['buyer'])}")
    assert points["balance"] == 11, points
    return listing


async def test_a_quote_takes_the_points_discount_and_the_chain_takes_the_same(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        listing = await _members_shop(m)
        base = {"buyer": addr(m["buyer"]), "asset": "AGR", "quantity": "1", "shipping": "0"}
        html = await page(m, f"/listing/{listing}")
        assert 'id="buy-redeem"' in html
        assert "one takes 0.00001 AGR off an order in AGR, at most 50 % of it" in text_of(html)

        q = await _quote(m, listing, **base, redeem="5")
        assert (q["asset"], q["conversion"], q["redeem"], q["discount"]) == ("", None, 5, 50)
        assert (q["total"], q["cost"]) == (1_050, 1_050)
        assert "after 0.00005 AGR off for 5 points" in q["summary"]
        plain = await _quote(m, listing, **base, redeem="0")
        assert (plain["redeem"], plain["discount"], plain["total"]) == (0, 0, 1_100)

        body = OrderPlace(
            bytes.fromhex(listing),
            1,
            0,
            q["unit_price"],
            q["shipping_price"],
            b"",
            seal_for(m["merchant"].public_key, b"x"),
            q["asset"],
            None,
            redeem=q["redeem"],
        )
        receipt = await m.do("buyer", body)
        oid = next(e for e in receipt["events"] if e["type"] == "order")["attrs"]["order_id"]
        assert (await m.order(oid))["total"] == q["total"]  # the discount the quote said
        points = await m.ok(f"/api/v1/points/{addr(m['merchant'])}/{addr(m['buyer'])}")
        assert points["balance"] == 11 - 5


async def test_a_quote_refuses_a_redemption_the_chain_would_refuse(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        listing = await _members_shop(m)
        base = {"buyer": addr(m["buyer"]), "asset": "AGR", "quantity": "1", "shipping": "0"}
        nonce = (await m.ok(f"/api/v1/accounts/{addr(m['buyer'])}"))["nonce"]

        async def refused(reason: str, status: int = 400, **params: str) -> None:
            body = await _quote(m, listing, status, **{**base, **params})
            assert reason in body["detail"], body

        await refused("redeeming 12 points: insufficient_points: you hold 11 live points, fewer than 12", redeem="12")
        await refused("insufficient_points", redeem="1", buyer=addr(m["buyer2"]))  # a member with no points
        # 50 % of 1,100 is 550: at most 55 points, but the buyer holds 11; a cheaper order caps lower
        other = await m.create_listing(title="Stool", price=100, stock=5, shipping=(("pickup", 0),))
        body = await _quote(m, other, 400, **base, redeem="6")
        assert "redeem_limit: at most 5 points may be redeemed on this order (50 %)" in body["detail"], body
        await refused("redeem must be a whole number of points", redeem="five")
        await refused("redeem must be a whole number of points", redeem="-1")
        await refused("redeem must be a whole number of points", redeem="9" * 21)
        elsewhere = await m.create_listing("buyer2", title="Lamp", price=PRICE, stock=1)
        body = await _quote(m, elsewhere, 400, **base, redeem="1")
        assert "no_programme: the merchant runs no points programme" in body["detail"], body
        assert 'id="buy-redeem"' not in await page(m, f"/listing/{elsewhere}")  # no programme: no field

        m.clock.advance(31 * DAY)  # the buyer's points expire; the chain counts only live ones
        await m.tick()
        await refused("you hold 0 live points, fewer than 1", redeem="1")
        assert (await m.ok(f"/api/v1/accounts/{addr(m['buyer'])}"))["nonce"] == nonce  # nothing was sent


async def test_the_buy_form_redeems_points_it_checked_before_signing(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m, chromium(tmp_path / "profile") as browser:
        listing = await _members_shop(m)
        buyer = addr(m["buyer"])
        page_ = await browser.new_page()
        errors = collect_errors(page_)
        await page_.goto(m.url + "/wallet")
        await page_.get_by_label("Secret key (64 hex digits)").fill(m["buyer"].seed.hex())
        await page_.get_by_label("Password to keep it under").fill(PASSWORD)
        await page_.get_by_role("button", name="Import key").click()
        await expect(page_.locator("#wallet-current")).to_be_visible()
        await page_.goto(m.url + f"/listing/{listing}")
        await page_.get_by_label("Delivery address").fill("Ada, 1 Engine Row")
        await page_.get_by_label("Your key's password").fill(PASSWORD)
        nonce = (await m.ok(f"/api/v1/accounts/{buyer}"))["nonce"]

        result = page_.locator("#buy-result")
        points = page_.locator("#buy-redeem")
        await points.fill("12")
        await page_.get_by_role("button", name="Place order").click()
        await expect(result).to_have_text(
            "Not sent: redeeming 12 points: insufficient_points: you hold 11 live points, fewer than 12"
        )
        assert (await m.ok(f"/api/v1/accounts/{buyer}"))["nonce"] == nonce  # nothing was signed or sent

        await points.fill("5")
        await page_.get_by_role("button", name="Place order").click()
        await expect(page_).to_have_url(re.compile(r"/order/[0-9a-f]{64}$"))
        order = await m.order(page_.url.rsplit("/", 1)[1])
        assert (order["buyer"], order["total"], order["escrow"]) == (buyer, PRICE + SHIP - 50, PRICE + SHIP - 50)
        left = await m.ok(f"/api/v1/points/{addr(m['merchant'])}/{buyer}")
        assert left["balance"] == 11 - 5
        assert [e for e in errors if "/quote" not in e] == [] and len(errors) == 1  # the refusal was a 400
