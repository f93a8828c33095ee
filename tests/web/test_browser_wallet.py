"""In-browser keys and signing, in Chromium against a real node: a shopper creates a key in the
page, is funded, and places an order the page signed (canonical msgpack + Ed25519) with the
delivery address sealed to the merchant in the page; the node accepts it and the merchant can
open the address. A wrong password is a clear message; an imported key never leaves the page."""

from __future__ import annotations

import json
import re
from pathlib import Path

from browser_kit import PHONE, chromium, collect_errors
from node_market_kit import addr
from playwright.async_api import Page, Request, expect
from web_kit import PRICE, SHIP, conversion_shop, web_node

from chain.address import parse_account
from chain.transfer import Transfer
from market.bodies import OrderAccept
from market.privacy import open_sealed

PASSWORD = "correct horse battery"
DELIVERY = "Grace Hopper, 1 Compiler Way, Arlington"


async def test_a_shopper_creates_a_key_in_the_browser_and_places_an_order_it_signed(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m, chromium(tmp_path / "profile") as browser:
        listing = await m.create_listing(price=PRICE, shipping=(("standard", SHIP), ("express", 300)))
        page = await browser.new_page()
        errors = collect_errors(page, expected_404s=("/api/v1/accounts/",))  # the new key has no state yet
        await page.goto(m.url + "/wallet")
        await page.get_by_label("Password (at least 8 characters)").fill(PASSWORD)
        await page.get_by_label("Repeat the password").fill(PASSWORD)
        await page.get_by_role("button", name="Create key").click()
        await expect(page.locator("#wallet-address")).to_have_text(re.compile(r"^agora1[02-9ac-hj-np-z]{58}$"))
        shopper = await page.locator("#wallet-address").inner_text()
        await expect(page.locator("#wallet-balance")).to_contain_text("not funded yet")
        kept = json.loads(await page.evaluate("localStorage.getItem('agora.wallet.v1')"))
        assert kept["address"] == shopper and set(kept) == {"v", "address", "public_key", "kdf", "salt", "nonce", "box"}

        await m.do("buyer", Transfer(parse_account(shopper), 5 * 10**6))  # the shopper is funded
        await page.reload()
        await expect(page.locator("#wallet-balance")).to_have_text("5 AGR")

        await page.goto(m.url + f"/listing/{listing}")
        await expect(page.locator("#buy-from")).to_have_text(shopper)
        await page.get_by_label("Shipping", exact=True).select_option("1")
        await page.get_by_label("Delivery address").fill(DELIVERY)
        await page.get_by_label("Your key's password").fill("not the password")
        await page.get_by_role("button", name="Place order").click()
        await expect(page.locator("#buy-result")).to_have_text("Wrong password: the key was not unlocked.")
        await page.get_by_label("Your key's password").fill(PASSWORD)
        await page.get_by_role("button", name="Place order").click()
        await expect(page).to_have_url(re.compile(r"/order/[0-9a-f]{64}$"))

        order_id = page.url.rsplit("/", 1)[1]
        order = await m.order(order_id)  # the node accepted what the page signed
        assert (order["buyer"], order["merchant"], order["state"]) == (shopper, addr(m["merchant"]), "placed")
        assert (order["quantity"], order["shipping_index"], order["total"]) == (1, 1, PRICE + 300)
        assert order["arbiter"] == addr(m["arbiter"])
        assert open_sealed(m["merchant"], bytes.fromhex(order["delivery"])) == DELIVERY.encode()
        assert (await m.ok(f"/api/v1/accounts/{shopper}"))["balances"]["AGR"] == 5 * 10**6 - PRICE - 300 - 10

        await expect(page.locator("#order-state")).to_have_text("placed")
        await expect(page.locator("body")).to_have_attribute("data-live", "open")
        await m.do("merchant", OrderAccept(bytes.fromhex(order_id)))
        await expect(page.locator("#order-state")).to_have_text("accepted")
        assert errors == []


async def test_an_imported_key_is_kept_in_the_page_and_never_sent_to_the_node(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m, chromium(tmp_path / "profile") as browser:
        page = await browser.new_page()
        errors = collect_errors(page)
        seed = m["buyer2"].seed.hex()
        sent: list[str] = []

        def record(request: Request) -> None:
            sent.append(request.url + (request.post_data or ""))

        page.on("request", record)
        await page.goto(m.url + "/wallet")
        await page.get_by_label("Secret key (64 hex digits)").fill("12" * 31)
        await page.get_by_label("Password to keep it under").fill(PASSWORD)
        await page.get_by_role("button", name="Import key").click()  # the form refuses it: not 64 hex digits
        assert await page.evaluate("document.getElementById('import-seed').validity.valid") is False
        assert await page.evaluate("localStorage.getItem('agora.wallet.v1')") is None
        await page.get_by_label("Secret key (64 hex digits)").fill(seed)
        await page.get_by_role("button", name="Import key").click()
        await expect(page.locator("#wallet-address")).to_have_text(addr(m["buyer2"]))
        await expect(page.locator("#wallet-balance")).to_contain_text("AGR")
        stored = await page.evaluate("localStorage.getItem('agora.wallet.v1')")
        assert seed not in stored and seed not in " ".join(sent) and sent
        await page.get_by_role("button", name="Forget this key").click()
        await expect(page.locator("#wallet-current")).to_be_hidden()
        assert await page.evaluate("localStorage.getItem('agora.wallet.v1')") is None
        assert errors == []


async def _import_key(page: Page, url: str, seed: str) -> None:
    await page.goto(url + "/wallet")
    await page.get_by_label("Secret key (64 hex digits)").fill(seed)
    await page.get_by_label("Password to keep it under").fill(PASSWORD)
    await page.get_by_role("button", name="Import key").click()
    await expect(page.locator("#wallet-current")).to_be_visible()


async def _act(page: Page, action: str, **fields: str) -> None:
    """Fill and submit the order page's form for ``action``; wait until the page reloads into the new state."""
    form = page.locator(f'form[data-action="{action}"]')
    await expect(form).to_be_visible()
    for label, value in fields.items():
        target = form.get_by_label(label)
        if await target.evaluate("e => e.tagName") == "SELECT":
            await target.select_option(value)
        else:
            await target.fill(value)
    await form.get_by_label("Your key's password").fill(PASSWORD)
    async with page.expect_navigation():
        await form.get_by_role("button").click()


async def test_merchant_accepts_and_ships_and_the_shopper_confirms_and_reviews_on_the_order_page(
    tmp_path: Path,
) -> None:
    async with (
        web_node(tmp_path) as m,
        chromium(tmp_path / "shopper") as shopper_browser,
        chromium(tmp_path / "merchant") as merchant_browser,
    ):
        listing = await m.create_listing(price=PRICE, shipping=(("standard", SHIP),))
        shopper = await shopper_browser.new_page()
        merchant = await merchant_browser.new_page()
        errors = collect_errors(shopper) + collect_errors(merchant)
        await _import_key(shopper, m.url, m["buyer2"].seed.hex())
        await _import_key(merchant, m.url, m["merchant"].seed.hex())

        await shopper.goto(m.url + f"/listing/{listing}")
        await shopper.get_by_label("Delivery address").fill(DELIVERY)
        await shopper.get_by_label("Your key's password").fill(PASSWORD)
        await shopper.get_by_role("button", name="Place order").click()
        await expect(shopper).to_have_url(re.compile(r"/order/[0-9a-f]{64}$"))
        order_id = shopper.url.rsplit("/", 1)[1]
        await expect(shopper.locator("body")).to_have_attribute("data-live", "open")
        await expect(shopper.locator('form[data-action="cancel"]')).to_be_visible()  # the buyer's only move
        await expect(shopper.locator('form[data-action="accept"]')).to_be_hidden()

        await merchant.goto(m.url + f"/order/{order_id}")
        await expect(merchant.locator("#act-who")).to_contain_text("merchant")
        await _act(merchant, "accept")
        await expect(merchant.locator("#order-state")).to_have_text("accepted")
        await expect(shopper.locator("#order-state")).to_have_text("accepted")  # live, no reload
        await expect(shopper.locator("#order-actions")).to_contain_text("The order is now accepted")
        await _act(merchant, "ship", **{"Tracking reference": "PARCEL-42"})
        await expect(shopper.locator("#order-state")).to_have_text("shipped")
        await expect(shopper.locator("#timeline li").last).to_contain_text("ship → shipped")

        await shopper.reload()
        await _act(shopper, "confirm")
        await expect(shopper.locator("#order-state")).to_have_text("settled")
        await expect(merchant.locator("#order-state")).to_have_text("settled")
        await _act(shopper, "review", Rating="4", **{"Comment": "Sturdy <b>mug</b>"})
        await expect(shopper.locator("blockquote").first).to_have_text("Sturdy <b>mug</b>")

        order = await m.order(order_id)
        assert [h["action"] for h in order["history"]] == ["place", "accept", "ship", "confirm"]
        assert [h["actor"] for h in order["history"]] == [addr(m["buyer2"])] + [addr(m["merchant"])] * 2 + [
            addr(m["buyer2"])
        ]
        assert order["escrow"] == 0 and order["review"]["rating"] == 4
        assert open_sealed(m["buyer2"], bytes.fromhex(order["tracking"])) == b"PARCEL-42"

        settled_at = order["history"][-1]["height"]  # the explorer shows the block that settled it
        await shopper.goto(m.url + f"/block/{settled_at}")
        await expect(shopper.locator("tbody")).to_contain_text("order.confirm")
        assert errors == []


async def test_the_buy_form_pays_in_another_asset_through_offers_within_a_maximum_rate(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m, chromium(tmp_path / "profile") as browser:
        listing = await conversion_shop(m)
        buyer = addr(m["buyer"])
        page = await browser.new_page()
        errors = collect_errors(page)
        await _import_key(page, m.url, m["buyer"].seed.hex())
        await page.goto(m.url + f"/listing/{listing}")
        convert = page.locator("#buy-convert")
        await expect(convert).to_be_hidden()  # paying in the listing's own asset: no rate to give
        post = page.locator("#buy-ship option").first
        await expect(post).to_have_text("post (0.5 USDX)")
        await page.get_by_label("Pay with").select_option("EURX")  # its EURX price: shipping in EURX too
        await expect(post).to_have_text("post (0.45 EURX)")
        await expect(convert).to_be_hidden()
        await page.get_by_label("Pay with").select_option("EURX:USDX")
        await expect(post).to_have_text("post (0.5 USDX)")  # converted into USDX: USDX's shipping
        await expect(convert).to_be_visible()
        await expect(convert).to_contain_text("Most you pay, in EURX per USDX")
        await page.set_viewport_size(PHONE)  # the long route names still fit a phone
        assert await page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        await page.get_by_label("Delivery address").fill(DELIVERY)
        await page.get_by_label("Your key's password").fill(PASSWORD)
        nonce = (await m.ok(f"/api/v1/accounts/{buyer}"))["nonce"]

        result = page.locator("#buy-result")
        rate = page.locator("#buy-max-rate")
        await rate.fill("0.75")  # below the best offer (0.8): the node's check refuses before signing
        await page.get_by_role("button", name="Place order").click()
        await expect(result).to_contain_text("Not sent: paying 12.5 USDX with EURX: rate_above_max")
        await rate.fill("cheap")
        await page.get_by_role("button", name="Place order").click()
        await expect(result).to_have_text("Not sent: the maximum rate: 'cheap' is not a number (write 1.08 or 27/25)")
        assert (await m.ok(f"/api/v1/accounts/{buyer}"))["nonce"] == nonce  # nothing was signed or sent

        await rate.fill("0.9")
        await page.get_by_role("button", name="Place order").click()
        await expect(page).to_have_url(re.compile(r"/order/[0-9a-f]{64}$"))
        order = await m.order(page.url.rsplit("/", 1)[1])
        assert (order["asset"], order["total"], order["escrow"], order["buyer"]) == ("USDX", 1_250, 1_250, buyer)
        held = (await m.ok(f"/api/v1/accounts/{buyer}"))["balances"]
        assert held["EURX"] == 2_000 - (80 + 1_035)  # 1 USDX at 0.8, 11.5 at 0.9, rounded up per fill
        assert [e for e in errors if "/quote" not in e] == []  # the two refusals were 400 answers, nothing else
        assert len(errors) == 2
