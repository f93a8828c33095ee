"""The item page verifies the item's trace receipt in Chromium (web/frontend/src/receipt.js):
a good receipt passes every step; a damaged one fails at the very part, with the very reason,
that the Python verifier (market/provenance/receipt.py) names for the same bytes."""

from __future__ import annotations

import random
from pathlib import Path

from browser_kit import PHONE, chromium, collect_errors
from playwright.async_api import Page, expect
from trace_kit import COFFEE, roasted_journey
from web_kit import web_node

from chain.encoding import decode, encode
from chain.genesis import genesis_from_json
from market.provenance.receipt import ReceiptError, locate_framing_fault, parse_receipt, verify_receipt


async def _verify_file(page: Page, name: str, data: bytes) -> str:
    """Give the page ``data`` as a receipt file; the result line once the page has verified it."""
    await page.set_input_files(
        "#receipt-file", files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}]
    )
    result = page.locator("#receipt-result")
    await expect(result).to_have_attribute("data-source", name)
    return await result.inner_text()


async def test_the_item_page_verifies_the_receipt_and_names_what_a_damaged_one_fails(tmp_path: Path) -> None:
    import json

    async with web_node(tmp_path) as m, chromium(tmp_path / "profile") as browser:
        await roasted_journey(m)
        data = await m.client.item_receipt(COFFEE.path())
        genesis = genesis_from_json(json.loads((tmp_path / "node" / "genesis.json").read_text()))
        proven = verify_receipt(data, genesis)
        page = await browser.new_page()
        errors = collect_errors(page)
        await page.goto(m.url + COFFEE.path())
        await expect(page.locator("#receipt-genesis")).to_have_value(genesis.hash.hex())

        await page.get_by_role("button", name="Verify the receipt in this browser").click()
        result = page.locator("#receipt-result")
        await expect(result).to_have_attribute("data-ok", "true")
        await expect(result).to_contain_text(f"{len(proven.events)} events of 3 items")
        steps = page.locator("#receipt-steps li")
        await expect(steps).to_have_count(len(proven.steps))
        assert await steps.all_inner_texts() == [f"✓ {step}" for step in proven.steps]  # the same steps as Python's

        # a damaged receipt fails at the same part with the same reason as the Python verifier
        rng = random.Random(7)
        receipt = parse_receipt(data)
        signature = receipt.light_blocks[-1].commit.signatures[0].signature
        positions = [
            data.index(signature) + 5,
            data.index(receipt.events[0].tx_raw) + 40,
            *rng.sample(range(len(data)), 10),
        ]
        for n, position in enumerate(positions):
            damaged = bytearray(data)
            damaged[position] ^= rng.randrange(1, 256)
            try:
                verify_receipt(bytes(damaged), genesis)
                raise AssertionError(f"a receipt changed at byte {position} verified in Python")
            except ReceiptError as exc:
                expected = f"RECEIPT VERIFICATION FAILED at {exc.where} ({exc.reason}): "
                message = exc.args[0]
            text = await _verify_file(page, f"damaged-{n}.receipt", bytes(damaged))
            assert text.startswith(expected), (position, text, expected)
            if locate_framing_fault(bytes(damaged)) is not None:  # a broken frame: the very same message
                assert text == expected + message, (position, text, expected + message)
            await expect(result).to_have_attribute("data-ok", "false")
            if n == 0:
                assert "forged_commit" in text and "does not verify" in text
            if n == 1:
                assert "bad_tx_proof" in text and "event 0" in text

        # a broken frame is named as the Python verifier names it: part, field, byte offset, expected, found
        top = decode(data, len(data))
        assert isinstance(top, list)
        events = 1 + sum(len(encode(field)) for field in top[:6])  # the events list's type byte
        assert data[events : events + 1] == encode([None] * len(receipt.events))[:1]
        broken = {  # what each file is, and what its message must say
            "truncated": (data[: len(data) - 7], "that runs past the end of the file at byte"),
            "wrong-type": (
                data[:events] + b"\xcb" + data[events + 1 :],
                "expected an array, found a float (type byte 0xcb)",
            ),
        }
        for name, (damaged, says) in broken.items():
            try:
                parse_receipt(damaged)
                raise AssertionError(f"the {name} receipt parsed in Python")
            except ReceiptError as exc:
                assert exc.reason == "malformed" and says in exc.args[0] and "damaged?" not in exc.args[0], exc
                expected = f"RECEIPT VERIFICATION FAILED at {exc.where} ({exc.reason}): {exc.args[0]}"
            assert await _verify_file(page, f"{name}.receipt", damaged) == expected
            await expect(result).to_have_attribute("data-ok", "false")
        assert expected.startswith(f"RECEIPT VERIFICATION FAILED at file (malformed): events at byte {events}: ")

        assert "Receipt verified" in await _verify_file(page, "good.receipt", data)
        await page.locator("#receipt-genesis").fill("00" * 32)  # a genesis the receipt is not from
        text = await _verify_file(page, "other-genesis.receipt", data)
        assert text.startswith("RECEIPT VERIFICATION FAILED at genesis (wrong_genesis)")
        await page.set_viewport_size(PHONE)  # the verification's steps fit a phone
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the item page is {overflow}px wider than a phone"
        assert errors == []
