"""In a real Chromium: the dashboard's and the market's KPIs change live when the shopper's
order settles; the asset, offer, fund, points and financing pages render with their figures,
fit a phone and raise no error.

Each page is also saved as a screenshot under the test's directory; with AGORA_SCREENSHOTS set
to a directory (``docs/screenshots`` for the README's), the screenshots are written there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from browser_kit import PHONE, chromium, collect_errors
from node_market_kit import START_MS, MarketNode, addr
from playwright.async_api import Page, expect
from web_kit import PRICE, SHIP, place_order, scenario, web_node

from market.assets.bodies import AssetCreate, AssetMint
from market.assets.offers import OfferCreate, Rate
from market.bodies import OrderAccept, OrderConfirm, OrderReview
from market.finance import FinanceAccept, FinanceOffer
from market.funds import FundDisburse, FundDonate, FundOpen
from market.points import PointsOpen, Terms, Tier
from web.format import amount

POINTS: Final = Terms("AGR", 100, 1, 10, 5_000, 30 * 86_400_000, 0, (Tier(5_000, 2),))


async def _shot(page: Page, tmp_path: Path, name: str) -> None:
    path = Path(os.environ.get("AGORA_SCREENSHOTS") or tmp_path) / f"{name}.png"
    shot = await page.screenshot(path=str(path), full_page=True)  # Playwright creates the directory
    assert len(shot) > 1_000 and shot.startswith(b"\x89PNG")


async def _fits(page: Page) -> None:
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the viewport"


async def _finance(m: MarketNode) -> tuple[str, str]:
    await m.do("merchant", AssetCreate("EURX", "Euro voucher", 2, 1_000_000, b"", "1:1 with euros"))
    await m.do("merchant", AssetMint("EURX", m["buyer"].public_key, 12_345))
    made = await m.send("buyer", OfferCreate("EURX", "AGR", Rate(3, 2), 1_000, START_MS + 10**9))
    offer_id = next(e for e in made["receipt"]["events"] if "offer_id" in e["attrs"])["attrs"]["offer_id"]
    opened = await m.do("arbiter", FundOpen("School roof", "New tiles for the village school"))
    fund_id = next(e for e in opened["events"] if "fund_id" in e["attrs"])["attrs"]["fund_id"]
    await m.do("buyer2", FundDonate(bytes.fromhex(fund_id), "AGR", 5_000, "for tiles"))
    await m.do("arbiter", FundDisburse(bytes.fromhex(fund_id), "AGR", 2_000, m["merchant"].public_key, "tiles"))
    return offer_id, fund_id


async def test_kpis_change_live_when_the_order_settles_and_the_asset_and_fund_pages_render(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m, chromium(tmp_path / "profile") as browser:
        sc = await scenario(m)
        page = await browser.new_page()
        errors = collect_errors(page)
        await page.goto(m.url + f"/merchant/{addr(m['merchant'])}")
        await expect(page.locator("body")).to_have_attribute("data-live", "open")
        kpi = page.locator("#kpis")
        await expect(kpi.locator('[data-kpi="orders"]')).to_have_text("1")
        await expect(kpi.locator('[data-kpi="sales"]')).to_have_text("0")
        await expect(kpi.locator('[data-kpi="mean"]')).to_have_text("-")
        await expect(kpi.locator("#sales-chart rect.bar")).to_have_count(0)

        await m.do("merchant", PointsOpen(POINTS))  # the settlement earns (1,000 + 100) / 100 points
        m.clock.advance(45_000)
        await m.do("buyer", OrderConfirm(bytes.fromhex(sc.order_id)))  # the shopper's order settles
        await expect(kpi.locator('[data-kpi="sales"]')).to_have_text("1")  # live: the fragment reloads
        kpi = page.locator("#kpis")
        await expect(kpi.locator('[data-kpi="volume-AGR"]')).to_have_text(amount(PRICE + SHIP))
        await expect(kpi.locator('[data-kpi="state-settled"]')).to_have_text("1")
        await expect(kpi.locator('[data-kpi="mean"]')).not_to_have_text("-")
        await expect(kpi.locator("#sales-chart rect.bar")).to_have_count(1)
        await expect(kpi.locator("#settle-chart rect.bar")).to_have_count(1)
        await m.do("buyer", OrderReview(bytes.fromhex(sc.order_id), 5, "lovely"))
        five_stars = page.locator("#kpis table").nth(2).locator("tbody tr").first.locator("td")
        await expect(five_stars).to_have_text(["5 / 5", "1", "100 %"])
        await _shot(page, tmp_path, "dashboard-kpis")

        await page.goto(m.url + "/market")
        await expect(page.locator('#kpis [data-kpi="sales"]')).to_have_text("1")
        await expect(page.locator("body")).to_have_attribute("data-live", "open")
        await _shot(page, tmp_path, "market-kpis")

        offer_id, fund_id = await _finance(m)
        pages = {
            "assets": ("/assets", "Assets"),
            "asset": ("/asset/EURX", "Euro voucher (EURX)"),
            "offer": (f"/offer/{offer_id}", "Standing offer"),
            "funds": ("/funds", "Funds"),
            "fund": (f"/fund/{fund_id}", "School roof"),
        }
        for name, (path, title) in pages.items():
            await page.goto(m.url + path)
            await expect(page.locator("h1")).to_have_text(title)
            await _shot(page, tmp_path, name)
        await page.goto(m.url + "/asset/EURX")
        await page.get_by_role("link", name=offer_id[:12] + "…").click()  # the book links to the offer
        await expect(page).to_have_url(m.url + f"/offer/{offer_id}")

        loyalty = await _points_and_financing(m, page, tmp_path, sc.listing_id)
        await page.set_viewport_size(PHONE)
        for path in ("/market", f"/merchant/{addr(m['merchant'])}", *(p for p, _ in pages.values()), *loyalty):
            await page.goto(m.url + path)
            overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow}px wider than a {PHONE['width']}px phone"
        await page.goto(m.url + "/market")
        await _shot(page, tmp_path, "market-kpis-phone")
        assert errors == []


async def _points_and_financing(m: MarketNode, page: Page, tmp_path: Path, listing_id: str) -> list[str]:
    """At phone width, the points and financing pages show the scenario's figures and fit; their paths."""
    merchant, buyer, financier = addr(m["merchant"]), addr(m["buyer"]), addr(m["buyer2"])
    await page.set_viewport_size(PHONE)
    await page.goto(m.url + f"/merchant/{merchant}")
    await page.get_by_role("link", name="Points programme").click()
    await expect(page).to_have_url(m.url + f"/points/{merchant}")
    await expect(page.locator('[data-points="earned"]')).to_have_text("11")
    await expect(page.locator('[data-terms="rate"]')).to_have_text("1 point per 0.0001 AGR spent")
    await expect(page.locator('[data-terms="expiry"]')).to_have_text("30 days after they are earned")
    await _fits(page)
    await _shot(page, tmp_path, "points")
    await page.get_by_label("Account (agora1…)").fill(buyer)  # the lookup form, no script needed
    await page.get_by_role("button", name="Show balance and history").click()
    await expect(page).to_have_url(m.url + f"/points/{merchant}/{buyer}")
    await expect(page.locator("#points-balance")).to_have_text("11 points")
    await expect(page.locator("#points-worth")).to_have_text(f"{amount(110)} of discount")
    await expect(page.locator("#points-history tbody tr")).to_have_count(1)
    await _fits(page)
    await _shot(page, tmp_path, "points-account")

    order_id, _ = await place_order(m, listing_id)
    await m.do("merchant", OrderAccept(bytes.fromhex(order_id)))
    made = await m.do("buyer2", FinanceOffer(bytes.fromhex(order_id), 900, m.clock() + 3_600_000))
    offer_id = next(e for e in made["events"] if e["type"] == "finance")["attrs"]["offer_id"]
    await page.goto(m.url + f"/order/{order_id}")
    await expect(page.locator("#order-financed")).to_contain_text("no")
    await page.locator("#order-offers").get_by_role("link", name=offer_id[:12] + "…").click()
    await expect(page.locator("h1")).to_have_text("Financing offer")
    await expect(page.locator("#offer-advance")).to_have_text(amount(900))
    await expect(page.locator("#offer-payout")).to_have_text(amount(PRICE + SHIP))
    await _fits(page)
    await _shot(page, tmp_path, "finance-offer")
    await m.do("merchant", FinanceAccept(bytes.fromhex(offer_id)))
    await page.goto(m.url + f"/order/{order_id}")
    await expect(page.locator("#order-payee")).to_contain_text(f"{financier[:14]}… (the financier)")
    await expect(page.locator("#order-advance")).to_have_text(amount(900))
    await expect(page.locator("#order-face")).to_have_text(amount(PRICE + SHIP))
    await _fits(page)
    await _shot(page, tmp_path, "order-financed")
    await page.goto(m.url + f"/finance/merchant/{merchant}")
    await expect(page.locator('[data-record="settled"]')).to_have_text("1")
    await expect(page.locator('[data-record="open"]')).to_have_text("1")
    await expect(page.locator('[data-volume="AGR"]')).to_have_text(amount(PRICE + SHIP))
    await expect(page.locator('[data-debt="AGR"]')).to_have_text(amount(0))
    await _fits(page)
    await _shot(page, tmp_path, "finance-merchant")
    await page.set_viewport_size({"width": 1200, "height": 900})
    return [f"/points/{merchant}", f"/points/{merchant}/{buyer}", f"/order/{order_id}", f"/finance/merchant/{merchant}"]
