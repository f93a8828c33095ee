"""In-browser keys and signing, in Chromium against a real node: a shopper creates a key in the
page, is funded, and places an order the page signed (canonical msgpack + Ed25519) with the
delivery address sealed to the merchant in the page; the node accepts it and the merchant can
open the address. A wrong password is a clear message; an imported key never leaves the page."""

from __future__ import annotations

import json
import re
from pathlib import Path

from browser_kit import chromium, collect_errors
from node_market_kit import addr
from playwright.async_api import Request, expect
from web_kit import PRICE, SHIP, web_node

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
