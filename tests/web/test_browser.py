"""The pages in a real Chromium against a real node: live blocks over SSE, the search box, an
order's live timeline, keyboard use, and no horizontal overflow at phone width."""

from __future__ import annotations

from pathlib import Path

from browser_kit import PHONE, chromium, collect_errors
from node_market_kit import addr
from playwright.async_api import expect
from web_kit import place_order, scenario, web_node

from chain.transfer import Transfer
from market.assets.bodies import AssetCreate, AssetMint
from market.bodies import ListingCreate, OrderConfirm, OrderPlace
from market.records import ShippingOption, Windows

XSS_HOOK = '<img src=x onerror="document.body.dataset.pwned=1"><script>alert(1)</script> mug'


async def test_home_shows_blocks_and_a_new_block_arrives_live_and_search_navigates(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m, chromium(tmp_path / "profile") as browser:
        sc = await scenario(m)
        page = await browser.new_page()
        errors = collect_errors(page)
        await page.goto(m.url + "/")
        height = (await m.ok("/api/v1/status"))["height"]
        await expect(page.locator("#height")).to_have_text(str(height))
        blocks = page.locator('[data-live="blocks"] tr')
        await expect(blocks.first.locator("a").first).to_have_text(str(height))
        await expect(page.locator("body")).to_have_attribute("data-live", "open")

        record = await m.send("buyer", Transfer(m["buyer2"].public_key, 7))  # a new block commits
        await expect(page.locator("#height")).to_have_text(str(record["height"]))
        await expect(blocks.first.locator("a").first).to_have_text(str(record["height"]))
        new_tx = page.locator('[data-live="txs"] tr').first
        await expect(new_tx.locator("a").first).to_have_attribute("href", f"/tx/{record['hash']}")
        await expect(new_tx).to_contain_text("transfer")
        validators = page.locator("#validators")  # reloaded at each block: the latest signature follows
        await expect(validators).to_have_attribute("data-height", str(record["height"]))
        await expect(validators.locator("td[data-signed]").first).to_have_attribute(
            "data-signed", str(record["height"])
        )
        await expect(page.locator("#live-status")).to_contain_text("Live")

        await page.locator("#search-q").fill(sc.transfer_tx)
        await page.locator("#search-q").press("Enter")
        await expect(page).to_have_url(m.url + f"/tx/{sc.transfer_tx}")
        await expect(page.locator("h1")).to_have_text("Transaction")
        await page.get_by_label("Search").fill(addr(m["buyer"]))
        await page.get_by_role("button", name="Go").click()
        await expect(page).to_have_url(m.url + f"/address/{addr(m['buyer'])}")

        await page.goto(m.url + "/")
        await page.keyboard.press("Tab")  # keyboard users can skip the header
        await expect(page.locator("a.skip")).to_be_focused()
        assert errors == []


async def test_order_timeline_and_merchant_dashboard_update_live(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m, chromium(tmp_path / "profile") as browser:
        sc = await scenario(m)
        page = await browser.new_page()
        errors = collect_errors(page)
        await page.goto(m.url + f"/order/{sc.order_id}")
        await expect(page.locator("#order-state")).to_have_text("shipped")
        await expect(page.locator("body")).to_have_attribute("data-live", "open")
        await m.do("buyer", OrderConfirm(bytes.fromhex(sc.order_id)))
        await expect(page.locator("#order-state")).to_have_text("settled")
        await expect(page.locator("#timeline li").last).to_contain_text("confirm → settled")
        await expect(page.locator("#timeline li")).to_have_count(4)
        await expect(page.locator("#order-escrow")).to_have_text("0 AGR")

        await page.goto(m.url + f"/merchant/{addr(m['merchant'])}")  # the dashboard: new orders arrive live
        await expect(page.locator("body")).to_have_attribute("data-live", "open")
        order_id, _ = await place_order(m, sc.listing_id)
        event = page.locator('[data-live="merchant-orders"] li').first
        await expect(event).to_contain_text("New order")
        await expect(event).to_contain_text("place → placed")
        await expect(event.locator("a").first).to_have_attribute("href", f"/order/{order_id}")

        # an order in an issued asset shows its total in that asset's unit (its decimals read from the node)
        await m.do("merchant", AssetCreate("USDX", "US dollar token", 2))
        await m.do("merchant", AssetMint("USDX", m["buyer"].public_key, 10_000))
        windows = Windows(3_600_000, 3_600_000, 3_600_000, 3_600_000)
        tea = ListingCreate("Green tea", "", 1_200, 3, (ShippingOption("post", 50),), (), windows, (), "USDX")
        tea_id = (await m.send("merchant", tea))["hash"]
        await m.do("buyer", OrderPlace(bytes.fromhex(tea_id), 1, 0, 1_200, 50))
        await expect(event).to_contain_text("1 for 12.5 USDX, block")
        assert errors == []


async def test_every_page_fits_a_phone_screen(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m, chromium(tmp_path / "profile", viewport=PHONE) as browser:
        sc = await scenario(m)
        xss = await m.create_listing(title=XSS_HOOK, description="<script>document.body.dataset.pwned = 2</script>")
        page = await browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: dialogs.append(d.message))
        errors = collect_errors(page, expected_404s=("/search?q=nothing",))  # answers 404 by design
        for path in (
            f"/listing/{xss}",
            "/",
            f"/block/{sc.transfer_height}",
            f"/tx/{sc.order_tx}",
            f"/address/{addr(m['buyer'])}",
            "/shop",
            f"/listing/{sc.listing_id}",
            f"/order/{sc.order_id}",
            "/search?q=nothing",
            f"/merchant/{addr(m['merchant'])}",
            "/wallet",
        ):
            await page.goto(m.url + path)
            overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow}px wider than a {PHONE['width']}px phone"
            assert await page.evaluate("document.body.dataset.pwned") is None, path  # chain text stays inert
        await page.goto(m.url + f"/listing/{xss}")
        await expect(page.locator("h1")).to_have_text(XSS_HOOK)  # shown as text
        assert errors == [] and dialogs == []
