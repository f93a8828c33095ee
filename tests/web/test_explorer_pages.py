"""The explorer's pages over a real node: readable with JavaScript off, escaped, bounded, 404 on bad ids."""

from __future__ import annotations

from pathlib import Path

from node_market_kit import addr
from web_kit import page, redirect_of, scenario, text_of, web_node


async def test_home_block_tx_and_address_pages_show_the_chain_without_javascript(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        sc = await scenario(m)
        head = (await m.ok("/api/v1/status"))["height"]
        home = text_of(await page(m, "/"))
        assert f"Height {head}" in home
        assert "Latest blocks" in home and "Latest transactions" in home
        assert addr(m["validator"])[:14] in home and f"block {head}" in home  # the validator's latest signature
        home_html = await page(m, "/")
        assert f'href="/block/{head}"' in home_html and f'href="/tx/{sc.order_tx}"' in home_html

        block = await m.ok(f"/api/v1/blocks/{sc.transfer_height}")
        block_text = text_of(await page(m, f"/block/{sc.transfer_height}"))
        assert f"Block {sc.transfer_height}" in block_text and block["hash"] in block_text
        assert block["state_root"] in block_text and "transfer" in block_text
        assert text_of(await page(m, f"/block/{block['hash']}")) == block_text  # by hash: the same page
        assert "transfer" not in text_of(await page(m, f"/block/{sc.transfer_height}?from=1"))  # past its one tx
        await page(m, f"/block/{sc.transfer_height}?from=-1", status=400)

        tx_text = text_of(await page(m, f"/tx/{sc.order_tx}"))
        assert sc.order_tx in tx_text and "committed in block" in tx_text
        assert "Receipt" in tx_text and "Outcome ok" in tx_text and "Fee paid 0.00001 AGR" in tx_text
        assert "order" in tx_text and sc.order_id in tx_text  # the receipt's events with their attributes
        assert f'href="/order/{sc.order_id}"' in await page(m, f"/tx/{sc.order_tx}")

        buyer_before = await m.balance("buyer")
        address_text = text_of(await page(m, f"/address/{addr(m['buyer'])}"))
        assert addr(m["buyer"]) in address_text
        whole, frac = divmod(buyer_before, 10**6)
        assert f"{whole:,}.{frac:06d}".rstrip("0").rstrip(".") + " AGR" in address_text
        address_html = await page(m, f"/address/{addr(m['buyer'])}")
        assert f'href="/tx/{sc.transfer_tx}"' in address_html and f'href="/tx/{sc.order_tx}"' in address_html
        assert f'href="/order/{sc.order_id}"' in address_html
        # the recipient of the transfer sees it in its history too
        assert f'href="/tx/{sc.transfer_tx}"' in await page(m, f"/address/{addr(m['buyer2'])}")


async def test_one_search_box_finds_heights_hashes_addresses_orders_and_listings(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        sc = await scenario(m)
        block_hash = (await m.ok(f"/api/v1/blocks/{sc.transfer_height}"))["hash"]
        assert await redirect_of(m, f"/search?q={sc.transfer_height}") == f"/block/{sc.transfer_height}"
        assert await redirect_of(m, f"/search?q={block_hash}") == f"/block/{block_hash}"
        assert await redirect_of(m, f"/search?q={sc.transfer_tx}") == f"/tx/{sc.transfer_tx}"
        # an order id is also the hash of the transaction that placed it: the order page wins
        assert await redirect_of(m, f"/search?q=%20{addr(m['buyer'])}%20") == f"/address/{addr(m['buyer'])}"
        assert await redirect_of(m, f"/search?q={m['buyer'].public_key.hex()}") == f"/address/{addr(m['buyer'])}"
        assert await redirect_of(m, f"/search?q={sc.order_id}") == f"/order/{sc.order_id}"
        assert await redirect_of(m, f"/search?q={sc.listing_id}") == f"/listing/{sc.listing_id}"
        for nothing in ("99999", "0", "f" * 64, "agora1notanaddress", "<b>x</b>"):
            html = await page(m, f"/search?q={nothing}", status=404)
            assert "Nothing found" in text_of(html)
            assert "<b>x</b>" not in html
        await page(m, "/search?q=" + "9" * 201, status=400)


async def test_mistyped_or_forged_ids_give_a_clear_404_page(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        await scenario(m)
        for path, says in (
            ("/block/999999", "no block at height 999999"),
            ("/block/" + "ab" * 32, "no committed block with hash"),
            ("/block/zz", "is not 64 hex digits"),
            ("/block/" + "9" * 30, "is not 64 hex digits"),
            ("/tx/" + "00" * 32, "no transaction"),
            ("/tx/xyz", "is not 64 hex digits"),
            ("/address/agora1qqqq", "is not an address"),
            ("/order/" + "11" * 32, "no order"),
            ("/listing/" + "22" * 32, "no listing"),
            ("/listing/%3Cscript%3E", "is not 64 hex digits"),
            ("/static/nothing.js", "no static file"),
        ):
            html = await page(m, path, status=404)
            text = text_of(html)
            assert "Not found" in text and says in text, (path, text)
            assert "Traceback" not in html and "<script>" not in html.replace('<script src="/static/', "")


async def test_a_browser_gets_an_html_404_for_a_missing_page_and_api_clients_keep_problem_json(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        html = await page(m, "/no/such/page", status=404)
        assert "there is no page at /no/such/page" in text_of(html)
        for path, accept in (("/no/such/page", "application/json"), ("/api/v1/nothing", "text/html")):
            async with m.http.get(m.url + path, headers={"Accept": accept}) as r:
                assert r.status == 404 and r.content_type == "application/problem+json", path
        async with m.http.post(m.url + "/no/such/page", headers={"Accept": "text/html"}) as r:
            assert r.status in (404, 405) and r.content_type == "application/problem+json"


async def test_the_validators_table_shows_each_latest_signature_and_reloads_alone(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        await scenario(m)
        height = (await m.ok("/api/v1/status"))["height"]
        home = await page(m, "/")
        assert 'id="validators" data-fragment="/fragments/validators"' in home
        assert addr(m["validator"]) in home and f'data-signed="{height}"' in home
        await m.tick()
        fragment = await page(m, "/fragments/validators")
        assert "<html" not in fragment and f'data-height="{height + 1}"' in fragment
        assert f'data-signed="{height + 1}"' in fragment and text_of(fragment).endswith(f"block {height + 1} yes")
