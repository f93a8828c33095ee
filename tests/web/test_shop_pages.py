"""The shop's pages over a real node: listings with terms and reputation, a listing, an order's timeline."""

from __future__ import annotations

import re
from pathlib import Path

from node_market_kit import addr
from web_kit import MAX_PAGE_BYTES, PRICE, XSS_TITLE, page, place_order, scenario, text_of, web_node

from market.bodies import ListingPause, OrderConfirm, OrderReview


async def test_shop_lists_and_searches_active_listings_with_terms_and_reputation(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        sc = await scenario(m)
        await m.do("buyer", OrderConfirm(bytes.fromhex(sc.order_id)))
        await m.do("buyer", OrderReview(bytes.fromhex(sc.order_id), 4, "sturdy"))
        lamp = await m.create_listing(title="Brass desk lamp", description="Warm light.", price=2_500_000, stock=0)
        paused = await m.create_listing(title="Paused teapot", description="Cast iron.")
        await m.do("merchant", ListingPause(bytes.fromhex(paused)))

        text = text_of(await page(m, "/shop"))
        assert "Hand-made oak chair" in text and "Brass desk lamp" in text and "Paused teapot" not in text
        assert "0.001 AGR" in text and "2.5 AGR" in text  # prices
        assert "4 in stock" in text and "out of stock" in text
        assert "Shipping: standard 0.0001 AGR, express 0.0003 AGR" in text
        assert "4.0 / 5 (1)" in text and "1 settled" in text  # the merchant's reputation

        found = await page(m, "/shop?q=brass")
        assert f'href="/listing/{lamp}"' in found and sc.listing_id not in found
        assert "No active listing matches" in text_of(await page(m, "/shop?q=unicorn"))
        await page(m, "/shop?q=" + "a" * 201, status=400)
        await page(m, "/shop?cursor=zz", status=400)

        listing = text_of(await page(m, f"/listing/{sc.listing_id}"))
        assert "Hand-made oak chair" in listing and "Solid oak, oiled." in listing and "0.001 AGR" in listing
        assert "Stock 4" in listing and "standard 0.0001 AGR" in listing and "express 0.0003 AGR" in listing
        assert addr(m["merchant"]) in listing and "fee 5.00 %" in listing and "4.0 / 5 from 1 review" in listing


async def test_order_page_shows_its_timeline_amounts_and_review(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        sc = await scenario(m)
        html = await page(m, f"/order/{sc.order_id}")
        text = text_of(html)
        assert f'data-order="{sc.order_id}"' in html  # what the script subscribes to
        assert "State shipped" in text and "Hand-made oak chair" in text
        assert (
            f"Total {(PRICE + 100) / 10**6:g} AGR" in text and f"Held in escrow {(PRICE + 100) / 10**6:g} AGR" in text
        )
        timeline = text[text.index("Timeline") :]
        assert timeline.index("place → placed") < timeline.index("accept → accepted") < timeline.index("ship → shipped")
        await m.do("buyer", OrderConfirm(bytes.fromhex(sc.order_id)))
        await m.do("buyer", OrderReview(bytes.fromhex(sc.order_id), 5, "<img src=x onerror=alert(1)> great"))
        html = await page(m, f"/order/{sc.order_id}")
        text = text_of(html)
        assert "State settled" in text and "Held in escrow 0 AGR" in text and "confirm → settled" in text
        assert "5 / 5" in text and "<img src=x onerror=alert(1)> great" in text
        assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt; great" in html


async def test_chain_text_is_escaped_everywhere_it_is_shown(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        listing = await m.create_listing(title=XSS_TITLE, description='"><script>alert(2)</script>')
        order_id, _ = await place_order(m, listing)
        for path in ("/shop", f"/listing/{listing}", f"/order/{order_id}", f"/tx/{listing}", "/shop?q=mug"):
            html = await page(m, path)
            assert "<script>alert" not in html, path
            assert "&lt;script&gt;alert(1)&lt;/script&gt; mug" in html, path


ASSET_RE = re.compile(r'(?:src|href)="(/static/[^"?]+)\?v=([0-9a-f]{10})"')


async def test_each_page_with_its_scripts_and_styles_weighs_under_100_kb(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        sc = await scenario(m)
        for path in ("/", f"/block/{sc.transfer_height}", f"/tx/{sc.order_tx}", "/shop", f"/listing/{sc.listing_id}",
                     f"/order/{sc.order_id}", f"/address/{addr(m['buyer'])}", "/wallet",
                     f"/merchant/{addr(m['merchant'])}", "/market", "/assets", "/funds"):  # fmt: skip
            html = await page(m, path)
            total = len(html.encode())
            assets = ASSET_RE.findall(html)
            assert {a for a, _ in assets} >= {"/static/style.css", "/static/app.js"}, path
            for asset, version in assets:
                async with m.http.get(m.url + asset, params={"v": version}) as r:
                    assert r.status == 200 and "immutable" in r.headers["Cache-Control"]
                    total += len(await r.read())
            assert total < MAX_PAGE_BYTES, (path, total)
        async with m.http.get(m.url + "/static/wallet.js", headers={"Accept-Encoding": "gzip"}) as r:
            assert r.headers["Content-Encoding"] == "gzip" and r.headers["Cache-Control"] == "no-cache"


async def test_wallet_and_buying_say_they_need_javascript_when_it_is_off(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        sc = await scenario(m)
        wallet = await page(m, "/wallet")
        assert "<noscript>" in wallet and "The wallet needs JavaScript" in wallet
        assert '<section id="wallet" hidden>' in wallet
        listing = await page(m, f"/listing/{sc.listing_id}")
        assert f'data-merchant-key="{m["merchant"].public_key.hex()}"' in listing
        assert "Buying here needs JavaScript" in listing and 'id="buy" hidden' in listing


async def test_merchant_dashboard_shows_waiting_and_open_orders_and_listings_with_stock(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        sc = await scenario(m)  # one order shipped
        waiting_id, _ = await place_order(m, sc.listing_id)
        empty = await m.create_listing(title="Sold-out vase", stock=0)
        html = await page(m, f"/merchant/{addr(m['merchant'])}")
        text = text_of(html)
        waiting = text[text.index("Waiting for you") : text.index("Other open orders")]
        others = text[text.index("Other open orders") : text.index("Listings")]
        assert waiting_id[:12] in waiting and sc.order_id[:12] not in waiting and "placed" in waiting
        assert sc.order_id[:12] in others and "shipped" in others
        assert f'href="/listing/{empty}"' in html and "Sold-out vase" in text
        assert "Hand-made oak chair active 0.001 AGR 3" in text  # 5 in stock, two units in open orders
        assert f'data-merchant="{addr(m["merchant"])}"' in html
        nobody = text_of(await page(m, f"/merchant/{addr(m['ticker'])}"))
        assert "Nothing waits for you." in nobody and "No listings." in nobody
        await page(m, "/merchant/agora1nope", status=404)


async def test_pages_show_a_stable_asset_listing_and_order_in_the_asset_unit(tmp_path: Path) -> None:
    from market.assets.bodies import AssetCreate, AssetMint
    from market.bodies import ListingCreate, OrderPlace
    from market.records import AssetPrice, ShippingOption, Windows

    async with web_node(tmp_path) as m:
        await m.do("merchant", AssetCreate("USDX", "US dollar token", 2))
        await m.do("merchant", AssetCreate("EURS", "Euro token", 2))
        await m.do("merchant", AssetMint("USDX", m["buyer"].public_key, 10_000))
        windows = Windows(3_600_000, 3_600_000, 3_600_000, 3_600_000)
        body = ListingCreate(
            "Green tea",
            "",
            1_200,
            3,
            (ShippingOption("post", 50),),
            (),
            windows,
            (),
            "USDX",
            (AssetPrice("EURS", 1_100, (45,)),),
        )
        listing = (await m.send("merchant", body))["hash"]
        text = text_of(await page(m, f"/listing/{listing}"))
        assert "12 USDX" in text and "post 0.5 USDX" in text and "or 11 EURS" in text
        assert "12 USDX" in text_of(await page(m, "/shop"))
        order = (await m.send("buyer", OrderPlace(bytes.fromhex(listing), 1, 0, 1_200, 50)))["hash"]
        html = await page(m, f"/order/{order}")
        assert 'data-asset="USDX" data-decimals="2"' in html  # what the live update formats the escrow with
        text = text_of(html)
        assert "Total 12.5 USDX" in text and "Held in escrow 12.5 USDX" in text
        balances = text_of(await page(m, f"/address/{addr(m['buyer'])}"))
        assert "87.5 USDX" in balances and "12.5 USDX" in balances  # the balance, and the order's total
        dashboard = text_of(await page(m, f"/merchant/{addr(m['merchant'])}"))
        assert "placed 1 12.5 USDX" in dashboard  # the waiting order's total, in the asset's unit
        assert "Green tea active 12 USDX 2" in dashboard and "1250u" not in dashboard and "1200u" not in dashboard
