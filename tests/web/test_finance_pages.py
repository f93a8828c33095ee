"""Asset, offer and fund pages over a real node: lists and details readable without JavaScript,
found by the search box, linked from the explorer, escaped, and a 404 page for unknown ids."""

from __future__ import annotations

from pathlib import Path

from node_market_kit import MINUTE, START_MS, addr
from web_kit import page, redirect_of, text_of, web_node

from chain.transfer import Transfer
from market.assets.bodies import AssetCreate, AssetMint
from market.assets.offers import OfferCreate, Rate
from market.funds import FundDisburse, FundDonate, FundOpen


async def test_asset_offer_and_fund_pages_list_detail_and_search(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        assert "No asset has been issued yet." in text_of(await page(m, "/assets"))
        assert "No fund has been opened yet." in text_of(await page(m, "/funds"))
        await m.do("merchant", AssetCreate("EURX", "Euro <b>voucher</b>", 2, 1_000_000, b"", "1:1 with euros"))
        await m.do("merchant", AssetMint("EURX", m["buyer"].public_key, 12_345))
        made = await m.send("buyer", OfferCreate("EURX", "AGR", Rate(3, 2), 1_000, START_MS + 10**9))
        assert made["receipt"]["code"] == "ok", made["receipt"]
        offer_id = next(e for e in made["receipt"]["events"] if "offer_id" in e["attrs"])["attrs"]["offer_id"]
        opened = await m.do("arbiter", FundOpen("School roof", "Fix the <roof>"))
        fund_id = next(e for e in opened["events"] if "fund_id" in e["attrs"])["attrs"]["fund_id"]
        await m.do("buyer2", FundDonate(bytes.fromhex(fund_id), "AGR", 5_000, "for tiles"))
        await m.do("arbiter", FundDisburse(bytes.fromhex(fund_id), "AGR", 2_000, m["merchant"].public_key, "tiles"))

        listing = text_of(await page(m, "/assets"))
        assert "EURX" in listing and "123.45 EURX" in listing and "10,000 EURX" in listing
        html = await page(m, "/asset/EURX")
        text = text_of(html)
        assert "Euro <b>voucher</b> (EURX)" in text and "<b>" not in html  # escaped
        assert "Supply 123.45 EURX" in text and "1:1 with euros" in text and addr(m["merchant"]) in html
        # the book selling EURX for AGR, in the assets' units: 3/2 minor AGR per cent of EURX, 1,000 cents left
        assert f'href="/offer/{offer_id}"' in html and "1 EURX = 0.00015 AGR 10 EURX" in text
        assert "No standing offer buys EURX with AGR." in text

        offer = text_of(await page(m, f"/offer/{offer_id}"))
        assert "Remaining 10 EURX" in offer and "Rate 1 EURX = 0.00015 AGR (3 / 2 minor units of AGR" in offer

        other = await m.do("buyer", FundOpen("Village well", ""))  # a second fund after the first's entries
        other_id = next(e for e in other["events"] if "fund_id" in e["attrs"])["attrs"]["fund_id"]
        await m.do("buyer2", FundDonate(bytes.fromhex(other_id), "AGR", 1_000))
        funds = await page(m, "/funds")
        assert f'href="/fund/{fund_id}"' in funds and f'href="/fund/{other_id}"' in funds
        assert "School roof" in text_of(funds) and "Village well" in text_of(funds)
        fund_html = await page(m, f"/fund/{fund_id}")
        fund = text_of(fund_html)
        assert "Fix the <roof>" in fund and "<roof>" not in fund_html
        assert "for tiles" in fund and "tiles" in fund and addr(m["buyer2"]) in fund_html
        assert "AGR 0.003 AGR" in fund  # 5,000 in, 2,000 out

        # search and the explorer lead there
        assert await redirect_of(m, "/search?q=eurx") == "/asset/EURX"
        assert await redirect_of(m, f"/search?q={offer_id}") == f"/offer/{offer_id}"
        assert await redirect_of(m, f"/search?q={fund_id}") == f"/fund/{fund_id}"
        tx = await page(m, f"/tx/{made['hash']}")
        assert f'href="/offer/{offer_id}"' in tx and 'href="/asset/EURX"' in tx
        assert 'href="/asset/EURX"' in await page(m, f"/address/{addr(m['buyer'])}")
        for path in ("/asset/NOPE", "/asset/bad!sym", f"/offer/{'0' * 64}", "/offer/zz", f"/fund/{'1' * 64}"):
            await page(m, path, status=404)
        await page(m, "/assets?after=!!", status=400)
        await page(m, f"/fund/{fund_id}?from=x", status=400)


async def test_an_expired_offer_shows_its_automatic_return(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        await m.do("merchant", AssetCreate("USDX", "dollar", 2))
        made = await m.do("buyer", OfferCreate("AGR", "USDX", Rate(1, 1), 5_000, m.clock.now_ms + MINUTE // 2))
        offer_id = made["events"][0]["attrs"]["offer_id"]
        live = text_of(await page(m, f"/offer/{offer_id}"))
        assert "once it has expired, what is left goes back to the maker automatically" in live
        m.clock.advance(2 * MINUTE)
        record = await m.send("ticker", Transfer(m["validator"].public_key, 1))
        block = text_of(await page(m, f"/block/{record['height']}"))
        assert (
            "offer the offer expired: the 0.005 AGR left in it went back to its maker automatically "
            f"action expire offer_id {offer_id}"
        ) in block
        gone = text_of(await page(m, f"/offer/{offer_id}", status=404))
        assert "(filled, cancelled, returned to its maker after it expired, or never made)" in gone
