"""Paying for a listing in another asset from the web buy form: the listing page offers the
assets live conversion offers turn into the listing's, and ``GET /listing/{id}/quote`` makes
the CLI's checks before the browser signs (over a real node), answering what to sign or a
400 naming why the chain would refuse it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from node_market_kit import MarketNode, addr
from web_kit import conversion_shop, page, text_of, web_node

from market.assets.bodies import AssetFreeze, AssetMint
from market.assets.offers import Rate
from market.bodies import Conversion, OrderPlace
from web.conversion import QuoteAnswer


async def _quote(m: MarketNode, listing: str, status: int = 200, **params: Any) -> Any:
    async with m.http.get(f"{m.url}/listing/{listing}/quote", params=params) as response:
        body = await response.json(content_type=None)
        assert response.status == status, body
        if status != 200:
            assert response.content_type == "application/problem+json"
        else:  # every answer is what /api/v1/openapi.json documents
            assert QuoteAnswer.model_validate(body).model_dump() == body
        return body


async def test_the_listing_page_offers_payment_through_live_offers(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        listing = await conversion_shop(m)
        html = await page(m, f"/listing/{listing}")
        assert 'data-asset="USDX" data-pay-with="EURX" data-price="1200"' in html
        text = text_of(html)
        assert "USDX (12 USDX each)" in text and "EURX (11 EURX each)" in text
        assert 'data-label-usdx="post (0.5 USDX)" data-label-eurx="post (0.45 EURX)"' in html
        assert "EURX, converted to USDX (2 offers, best 1 USDX = 0.8 EURX, up to 21 USDX)" in text
        assert 'id="buy-max-rate"' in html


async def test_a_quote_plans_the_conversion_as_the_chain_fills_it_and_the_signed_order_matches(
    tmp_path: Path,
) -> None:
    async with web_node(tmp_path) as m:
        listing = await conversion_shop(m)
        buyer = addr(m["buyer"])
        base = {"buyer": buyer, "asset": "USDX", "quantity": "1", "shipping": "0"}
        q = await _quote(m, listing, **base, pay_with="EURX", max_rate="0.9")
        # 1,250 cents of USDX: 100 at 0.8 (80 EURX cents) and 1,150 at 0.9 (1,035), rounded up per fill
        assert (q["asset"], q["conversion"], q["unit_price"], q["shipping_price"]) == (
            "USDX",
            ["EURX", [9, 10]],
            1_200,
            50,
        )
        assert (q["total"], q["cost"]) == (1_250, 80 + 1_035)
        assert q["summary"] == "11.15 EURX converted to 12.5 USDX into escrow, plus a fee of 0.00001 AGR"
        body = OrderPlace(
            bytes.fromhex(listing),
            1,
            0,
            q["unit_price"],
            q["shipping_price"],
            b"",
            b"",
            q["asset"],
            Conversion("EURX", Rate(*q["conversion"][1])),
        )
        record = await m.do("buyer", body)
        assert record["code"] == "ok", record
        held = (await m.ok(f"/api/v1/accounts/{buyer}"))["balances"]
        assert held["EURX"] == 2_000 - q["cost"]  # exactly what the quote said

        await m.do("merchant", AssetMint("USDX", m["buyer"].public_key, 1_250))
        direct = await _quote(m, listing, **base)
        assert (direct["asset"], direct["conversion"], direct["cost"]) == ("", None, 1_250)  # the listing's own asset
        in_eurx = await _quote(m, listing, **{**base, "asset": "EURX", "buyer": addr(m["buyer2"])})  # another price
        assert (in_eurx["asset"], in_eurx["conversion"], in_eurx["unit_price"]) == ("EURX", None, 1_100)
        assert (in_eurx["shipping_price"], in_eurx["cost"]) == (45, 1_145)
        assert in_eurx["summary"] == "11.45 EURX into escrow, plus a fee of 0.00001 AGR"


async def test_a_quote_refuses_what_the_cli_refuses_before_signing(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        listing = await conversion_shop(m)
        base = {"buyer": addr(m["buyer2"]), "asset": "USDX", "quantity": "1", "shipping": "0"}
        nonce = (await m.ok(f"/api/v1/accounts/{addr(m['buyer2'])}"))["nonce"]

        async def refused(reason: str, status: int = 400, **params: str) -> None:
            body = await _quote(m, listing, status, **{**base, **params})
            assert reason in body["detail"], body

        await refused("rate_above_max", pay_with="EURX", max_rate="0.79")
        await refused("conversion_unavailable", quantity="2", pay_with="EURX", max_rate="0.95")  # 24.5 > 21 USDX
        await refused("is not a number (write 1.08 or 27/25)", pay_with="EURX", max_rate="cheap")
        await refused("must be above zero", pay_with="EURX", max_rate="0")
        await refused("needs more precision than a rate holds", pay_with="EURX", max_rate="1/99999999999")
        await refused("needs a maximum rate", pay_with="EURX")
        await refused("pay it directly, without converting", pay_with="USDX", max_rate="1")
        await refused("no asset GBPX has been issued", pay_with="GBPX", max_rate="1")
        await refused("the listing takes USDX, EURX, not AGR", asset="AGR")
        await refused("bad asset", asset="<b>not a symbol</b>")
        await refused("bad asset", pay_with="x" * 5_000, max_rate="1")
        await refused("only 3 in stock", quantity="4")
        await refused("quantity must be a whole number", quantity="1.5")
        await refused("no shipping option 1", shipping="1")
        await refused("buyer:", buyer="agora1nope")
        await refused("this is your own listing: a merchant cannot buy from it", buyer=addr(m["merchant"]))
        # the arbiter too, as agora order place --arbiter checks it (the tea listing accepts none)
        await refused(f"the listing does not accept the arbiter {addr(m['buyer'])}", arbiter=addr(m["buyer"]))
        await refused("arbiter:", arbiter="agora1nope")
        await refused("insufficient funds: the order costs 12.5 USDX, the wallet has 0 USDX")
        await m.do("merchant", AssetFreeze("EURX", m["buyer2"].public_key, True))
        await refused("your EURX is frozen", pay_with="EURX", max_rate="0.9")
        assert (await m.ok(f"/api/v1/accounts/{addr(m['buyer2'])}"))["nonce"] == nonce  # nothing was sent
        missing = await _quote(m, "ab" * 32, 404, **base)
        assert "no listing" in missing["detail"]
        assert "64 hex digits" in (await _quote(m, "zz", 404, **base))["detail"]
