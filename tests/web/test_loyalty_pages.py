"""Points and financing pages over a real node: a programme's terms and totals, a member's
balance, lots and history, a merchant's financing record (volume, rates, debt), an order's
financing and open offers, an open offer; linked, searchable, escaped, 404 for forged ids."""

from __future__ import annotations

from pathlib import Path

from node_market_kit import MINUTE, MarketNode, addr
from web_kit import page, redirect_of, text_of, web_node

from market.assets.bodies import AssetCreate
from market.bodies import OrderAccept, OrderConfirm, OrderPlace, OrderShip
from market.finance import FinanceAccept, FinanceOffer
from market.points import PointsOpen, Terms, Tier
from market.privacy import seal_for
from web.format import amount, when

PRICE, SHIP = 1_000, 100
DAY = 86_400_000
TERMS = Terms("AGR", 100, 1, 10, 5_000, 30 * DAY, 0, (Tier(5_000, 2),))


async def _order(m: MarketNode, listing: str, redeem: int = 0) -> str:
    body = OrderPlace(
        bytes.fromhex(listing), 1, 0, PRICE, SHIP, b"", seal_for(m["merchant"].public_key, b"x"), redeem=redeem
    )
    receipt = await m.do("buyer", body)
    oid: str = next(e for e in receipt["events"] if e["type"] == "order")["attrs"]["order_id"]
    await m.do("merchant", OrderAccept(bytes.fromhex(oid)))
    return oid


async def _offer(m: MarketNode, who: str, oid: str, advance: int) -> str:
    receipt = await m.do(who, FinanceOffer(bytes.fromhex(oid), advance, m.clock() + 60 * MINUTE))
    offer_id: str = next(e for e in receipt["events"] if e["type"] == "finance")["attrs"]["offer_id"]
    return offer_id


async def test_points_and_financing_pages_show_the_figures(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        merchant, buyer, financier = addr(m["merchant"]), addr(m["buyer"]), addr(m["buyer2"])
        await page(m, f"/points/{merchant}", status=404)  # no programme yet
        await m.do("merchant", PointsOpen(TERMS))
        listing = await m.create_listing(price=PRICE, stock=5)
        first = await _order(m, listing)
        await m.do("merchant", OrderShip(bytes.fromhex(first), b""))
        await m.do("buyer", OrderConfirm(bytes.fromhex(first)))  # earns 1,100 / 100 = 11 points
        earned_at = m.clock()

        # a financed order that expires unshipped: the whole face value becomes the merchant's debt
        short = await _order(m, listing)
        await m.do("merchant", FinanceAccept(bytes.fromhex(await _offer(m, "buyer2", short, 900))))
        m.clock.advance(2 * MINUTE)
        await m.tick()
        assert (await m.order(short))["state"] == "expired"

        second = await _order(m, listing, redeem=5)  # 50 off: total 1,050
        rival = await _offer(m, "arbiter", second, 800)
        best = await _offer(m, "buyer2", second, 1_000)

        programme_html = await page(m, f"/points/{merchant}")
        prog = text_of(programme_html)
        assert "1 point per 0.0001 AGR spent" in prog and "1 point = 0.00001 AGR off an order" in prog
        assert "50 % of an order's total" in prog and "30 days after they are earned" in prog
        assert "from 0.005 AGR spent: 2 points per 0.0001 AGR" in prog and "Programme ends never" in prog
        assert "Earned 11 Redeemed 5 Expired 0 Held by members 6" in prog
        assert f'action="/points/{merchant}"' in programme_html
        assert await redirect_of(m, f"/points/{merchant}?account={buyer}") == f"/points/{merchant}/{buyer}"
        await page(m, f"/points/{merchant}?account=nobody", status=400)

        held_html = await page(m, f"/points/{merchant}/{buyer}")
        held = text_of(held_html)
        assert "Live balance 6 points" in held and f"Worth {amount(60)} of discount" in held
        assert f"Lifetime spend {amount(PRICE + SHIP)} (earning 1 point per 0.0001 AGR)" in held
        lot_expiry = when(-(-(earned_at + 30 * DAY) // MINUTE) * MINUTE)
        assert f"6 {lot_expiry} live" in held, held
        assert "0 earn +11" in held and "1 redeem -5" in held
        assert f'href="/order/{first}"' in held_html and f'href="/order/{second}"' in held_html
        nobody = text_of(await page(m, f"/points/{merchant}/{financier}"))
        assert "Live balance 0 points" in nobody and "No points held." in nobody and "No history." in nobody

        # the order page: points redeemed, open offers, not yet financed
        order_html = await page(m, f"/order/{second}")
        order = text_of(order_html)
        assert f"Points redeemed 5 points for {amount(50)} off" in order
        assert f"Paid at settlement to {merchant[:14]}… (the merchant)" in order and "Financed no: a financier" in order
        assert f'href="/finance/offer/{rival}"' in order_html and f'href="/finance/offer/{best}"' in order_html
        assert amount(800) in order and amount(1_000) in order
        offer = text_of(await page(m, f"/finance/offer/{best}"))
        assert f"Advance {amount(1_000)}" in offer and f"Against a payout of {amount(1_050)}" in offer
        assert f"/order/{second}"[7:19] in offer and "(accepted)" in offer
        assert await redirect_of(m, f"/search?q={best}") == f"/finance/offer/{best}"

        await m.do("merchant", FinanceAccept(bytes.fromhex(best)))
        financed_html = await page(m, f"/order/{second}")
        financed = text_of(financed_html)
        assert f"Paid at settlement to {financier[:14]}… (the financier)" in financed
        assert f"Advance paid to the merchant {amount(1_000)}" in financed
        assert f"Owed to the financier {amount(1_050)}" in financed and 'id="order-offers"' not in financed_html
        await page(m, f"/finance/offer/{best}", status=404)  # accepted: no longer open
        await page(m, f"/finance/offer/{rival}", status=404)  # returned to its financier

        record_html = await page(m, f"/finance/merchant/{merchant}")
        record = text_of(record_html)
        assert (
            "Closed 2 Settled 1 Dispute rate 0 % Refund rate 0 %" in record
        )  # an expiry is not counted as a refund (Reputation.refunded)
        assert f"AGR {amount(1_100)} {amount(1_100)}" in record  # settled volume, outstanding debt
        assert financier in record_html and "Open 1 Ever financed 2 Paid short 1" in record
        stranger = text_of(await page(m, f"/finance/merchant/{financier}"))
        assert "Closed 0" in stranger and "No settled volume and no debt." in stranger

        # links: the dashboard, the merchant's and the buyer's address pages
        dash = await page(m, f"/merchant/{merchant}")
        assert f'href="/points/{merchant}"' in dash and f'href="/finance/merchant/{merchant}"' in dash
        assert f'href="/points/{merchant}"' in await page(m, f"/address/{merchant}")
        mine = await page(m, f"/address/{buyer}")
        assert f'href="/points/{merchant}/{buyer}"' in mine and "6 points" in text_of(mine)
        assert 'href="/points/' not in await page(m, f"/address/{financier}")
        shown = text_of(await page(m, f"/listing/{listing}"))
        assert "Loyalty points 1 point per 0.0001 AGR spent" in shown

        for path in (
            f"/points/{'0' * 64}x",
            "/points/nobody",
            f"/points/{financier}",
            f"/points/{merchant}/nobody",
            f"/points/{financier}/{buyer}",
            "/finance/merchant/nobody",
            f"/finance/offer/{'0' * 64}",
            "/finance/offer/<script>",
        ):
            assert "Not found" in await page(m, path, status=404), path
        await page(m, f"/points/{merchant}/{buyer}?from=x", status=400)


async def test_a_programme_in_an_issued_asset_shows_its_decimals(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        await m.do("arbiter", AssetCreate("EURX", "Euro voucher", 2, 0, b"", "vouchers"))
        ends = m.clock() + 3_600_000
        await m.do("arbiter", PointsOpen(Terms("EURX", 100, 3, 5, 1_000, 90 * MINUTE, ends, ())))
        html = await page(m, f"/points/{addr(m['arbiter'])}")
        terms = text_of(html)
        assert "Asset EURX" in terms and 'href="/asset/EURX"' in html
        assert "3 points per 1 EURX spent" in terms and "1 point = 0.05 EURX off an order" in terms
        assert "10 % of an order's total" in terms and "1 h 30 min after they are earned" in terms
        assert f"Programme ends {when(ends)}" in terms and "Tiers none" in terms
