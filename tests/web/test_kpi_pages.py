"""The KPI pages over a real node: the dashboard's and the chain's figures, charts and tables,
server-rendered (readable with JavaScript off), and the fragment the live update reloads."""

from __future__ import annotations

import re
from pathlib import Path

from node_market_kit import FEE, addr
from web_kit import PRICE, SHIP, page, scenario, text_of, web_node

from market.bodies import OrderConfirm, OrderReview
from node.market_stats import bucket_bounds, bucket_of
from web.format import amount, duration


async def test_dashboard_and_market_pages_show_the_kpis_as_charts_and_tables(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        sc = await scenario(m)
        merchant = addr(m["merchant"])
        before = text_of(await page(m, f"/merchant/{merchant}"))
        assert "Your KPIs" in before and "Orders 1" in before and "Settled 0" in before
        assert "No order has settled yet." in before and "Mean time to settle -" in before

        m.clock.advance(30_000)
        await m.do("buyer", OrderConfirm(bytes.fromhex(sc.order_id)))
        await m.do("buyer", OrderReview(bytes.fromhex(sc.order_id), 4, "sturdy"))
        html = await page(m, f"/merchant/{merchant}")
        text = text_of(html)
        total = (PRICE + SHIP) / 10**6
        assert "Orders 1" in text and "Accepted 1" in text and "Settled 1" in text
        assert f"Sales volume (AGR) {total:g} AGR" in text
        history = (await m.order(sc.order_id))["history"]
        took_ms = history[-1]["time_ms"] - history[0]["time_ms"]  # about 30 s
        took, p90 = duration(took_ms), duration(bucket_bounds(bucket_of(took_ms))[1])  # p90: its bucket's top
        assert f"Mean time to settle {took}" in text and f"p90 time to settle {p90}" in text
        assert f"Fees per order {amount(4 * FEE)}" in text  # place, accept, ship, confirm
        assert "Repeat-purchase rate (of buyers) 0 of 1 0.0 %" in text
        assert "4 / 5 1 100 %" in text  # the rating table
        assert re.search(r"\d{4}-\d\d-\d\d 1 " + re.escape(f"{total:g} AGR"), text)  # sales per day table
        # the two charts: SVG drawn on the server, with a title and description for screen readers
        assert html.count('<svg id="') == 2 and 'role="img"' in html
        assert '<rect class="bar"' in html and f"1 settled order; mean {took}, p90 {p90}." in text
        assert 'data-fragment="/merchant/' in html

        fragment = await page(m, f"/merchant/{merchant}/kpis")
        assert fragment.startswith('<div class="kpis" id="kpis"') or 'id="kpis"' in fragment[:200]
        assert "<html" not in fragment and "Settled 1" in text_of(fragment)

        chain = text_of(await page(m, "/market"))
        assert "Marketplace KPIs" in chain and "every order on the chain" in chain and "Settled 1" in chain
        assert "Settled 1" in text_of(await page(m, "/market/kpis"))
        await page(m, "/merchant/agora1nope/kpis", status=404)


async def test_sales_volume_is_kept_per_asset_and_shown_in_its_unit(tmp_path: Path) -> None:
    from market.assets.bodies import AssetCreate, AssetMint
    from market.bodies import ListingCreate, OrderAccept, OrderPlace, OrderShip
    from market.records import ShippingOption, Windows

    async with web_node(tmp_path) as m:
        sc = await scenario(m)  # an AGR order, shipped
        await m.do("buyer", OrderConfirm(bytes.fromhex(sc.order_id)))
        await m.do("merchant", AssetCreate("USDX", "US dollar token", 2))
        await m.do("merchant", AssetMint("USDX", m["buyer"].public_key, 10_000))
        windows = Windows(3_600_000, 3_600_000, 3_600_000, 3_600_000)
        tea = ListingCreate("Green tea", "", 1_200, 3, (ShippingOption("post", 50),), (), windows, (), "USDX")
        listing = (await m.send("merchant", tea))["hash"]
        order = bytes.fromhex((await m.send("buyer", OrderPlace(bytes.fromhex(listing), 1, 0, 1_200, 50)))["hash"])
        for who, body in (
            ("merchant", OrderAccept(order)),
            ("merchant", OrderShip(order)),
            ("buyer", OrderConfirm(order)),
        ):
            await m.do(who, body)

        stats = await m.ok("/api/v1/market/stats", merchant=addr(m["merchant"]))
        assert stats["sales"] == 2 and stats["sales_volume"] == {"AGR": str(PRICE + SHIP), "USDX": "1250"}
        today = stats["sales_per_day"][-1]
        assert today["sales"] == 2 and today["volume"] == {"AGR": str(PRICE + SHIP), "USDX": "1250"}
        text = text_of(await page(m, f"/merchant/{addr(m['merchant'])}"))
        assert "Sales volume (USDX) 12.5 USDX" in text and f"Sales volume (AGR) {amount(PRICE + SHIP)}" in text
        assert f"2 {amount(PRICE + SHIP)}, 12.5 USDX" in text  # the day's row in the sales-per-day table
