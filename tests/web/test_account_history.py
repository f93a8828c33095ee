"""The account history index: every transaction an account sent or is named in, newest first,
paginated, kept per block, and the same after a restart and after a rebuild from the blocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from node_market_kit import MarketNode, addr, forget_index, market_node
from web_kit import page, place_order, text_of

from chain.transfer import Transfer
from node.account_index import META_KEY
from web.mount import mount


async def _all_pages(m: MarketNode, who: str, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
        body = await m.ok(f"/api/v1/accounts/{addr(m[who])}/txs", **params)
        assert len(body["items"]) <= limit
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items


async def test_history_lists_sent_and_received_newest_first_across_restart_and_rebuild(tmp_path: Path) -> None:
    async with market_node(tmp_path, api_extensions=(mount,)) as m:
        sent = [await m.send("buyer", Transfer(m["buyer2"].public_key, n)) for n in (1, 2, 3)]
        back = await m.send("buyer2", Transfer(m["buyer"].public_key, 7))
        listing = await m.create_listing()
        _, order_tx = await place_order(m, listing)
        # buyer: 3 sent, 1 received, 1 order; buyer2: 3 received, 1 sent; merchant: the listing, the order
        want_buyer = [order_tx, back["hash"], *(r["hash"] for r in reversed(sent))]
        items = await _all_pages(m, "buyer", 2)
        assert [i["hash"] for i in items] == want_buyer
        assert items[0]["kind"] == "order.place" and items[1]["sender"] == addr(m["buyer2"])
        assert [i["hash"] for i in await _all_pages(m, "buyer2", 10)] == [
            back["hash"],
            *(r["hash"] for r in reversed(sent)),
        ]
        merchant = [i["hash"] for i in await _all_pages(m, "merchant", 1)]
        assert merchant[0] == order_tx and len(merchant) == 2  # named as the order's merchant; its listing
        assert (await m.ok(f"/api/v1/accounts/{addr(m['arbiter2'])}/txs"))["items"] == []

        # the address page shows a page and links to the older one (no JavaScript needed)
        html = await page(m, f"/address/{addr(m['buyer'])}")
        assert all(f'href="/tx/{h}"' in html for h in want_buyer)
        status, bad = await m.get(f"/api/v1/accounts/{addr(m['buyer'])}/txs", cursor="x")
        assert status == 400 and bad["reason"] == "bad_cursor"
        status, bad = await m.get(f"/api/v1/accounts/{addr(m['buyer'])}/txs", limit="101")
        assert status == 400 and bad["reason"] == "bad_limit"
        await page(m, f"/address/{addr(m['buyer'])}?before=oops", status=400)
        older = await page(m, f"/address/{addr(m['buyer'])}?before={items[1]['height']}-{items[1]['index']}")
        assert "Newest" in text_of(older) and f'href="/tx/{sent[0]["hash"]}"' in older
        assert f'href="/tx/{order_tx}"' not in older and f'href="/tx/{back["hash"]}"' not in older
        before = {who: await _all_pages(m, who, 100) for who in ("buyer", "buyer2", "merchant")}

    async with market_node(tmp_path) as m:
        assert {who: await _all_pages(m, who, 100) for who in before} == before

    forget_index(tmp_path, META_KEY)
    async with market_node(tmp_path) as m:
        assert {who: await _all_pages(m, who, 100) for who in before} == before
        extra = await m.send("buyer2", Transfer(m["buyer"].public_key, 1))
        assert (await _all_pages(m, "buyer", 1))[0]["hash"] == extra["hash"]
