"""Market queries, their indexes, bad parameters and the live event stream, through the HTTP API."""

from __future__ import annotations

import asyncio
import json
from contextlib import aclosing
from pathlib import Path
from typing import Any

from node_market_kit import MINUTE, ManualClock, MarketNode, addr, market_node

from market.bodies import (
    ListingDelist,
    ListingPause,
    ListingUpdate,
    OrderAccept,
    OrderCancel,
    OrderPlace,
)
from node.market_index import INDEX_ROOT, META_KEY, MarketIndex, prefix_end


async def _all_pages(m: MarketNode, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(50):
        query = dict(params, **({} if cursor is None else {"cursor": cursor}))
        page = await m.ok(path, **query)
        assert len(page["items"]) <= int(params.get("limit", 20))
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


async def _ids(m: MarketNode, path: str, **params: Any) -> list[str]:
    return [item["id"] for item in await _all_pages(m, path, **params)]


async def _place(m: MarketNode, listing: str, buyer: str, price: int = 1_000) -> str:
    receipt = await m.do(buyer, OrderPlace(bytes.fromhex(listing), 1, 0, price, 100))
    order_id: str = receipt["events"][-1]["attrs"]["order_id"]
    return order_id


async def test_listing_filters_and_pagination(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        chair = await m.create_listing(title="Oak Chair", description="A sturdy chair", price=1_000, stock=3)
        table = await m.create_listing(title="Oak table", description="Seats six", price=5_000, stock=0)
        lamp = await m.create_listing(title="Brass lamp", description="Warm LIGHT, oak base", price=2_500)
        stool = await m.create_listing("buyer2", title="Pine stool", description="light", price=700)
        bench = await m.create_listing("buyer2", title="Oak bench", description="old", price=1_200)
        await m.do("buyer2", ListingPause(bytes.fromhex(stool)))
        await m.do("buyer2", ListingDelist(bytes.fromhex(bench)))
        everything = [chair, table, lamp, stool, bench]

        assert await _ids(m, "/api/v1/listings") == everything
        assert await _ids(m, "/api/v1/listings", limit=2) == everything
        assert await _ids(m, "/api/v1/listings", merchant=addr(m["merchant"])) == [chair, table, lamp]
        assert await _ids(m, "/api/v1/listings", merchant=m["buyer2"].public_key.hex()) == [stool, bench]
        assert await _ids(m, "/api/v1/listings", q="OAK") == [chair, table, lamp, bench]
        assert await _ids(m, "/api/v1/listings", q="oak light") == [lamp]
        assert await _ids(m, "/api/v1/listings", q="chair", merchant=addr(m["buyer2"])) == []
        assert await _ids(m, "/api/v1/listings", q="marble") == []
        assert await _ids(m, "/api/v1/listings", min_price=1_000, max_price=2_500) == [chair, bench, lamp]
        assert await _ids(m, "/api/v1/listings", max_price=999) == [stool]
        assert await _ids(m, "/api/v1/listings", min_price=1_000, limit=1) == [chair, bench, lamp, table]
        assert await _ids(m, "/api/v1/listings", in_stock="true") == [chair, lamp, stool, bench]
        assert await _ids(m, "/api/v1/listings", status="active") == [chair, table, lamp]
        assert await _ids(m, "/api/v1/listings", status="paused") == [stool]
        assert await _ids(m, "/api/v1/listings", status="active", in_stock="1", q="oak") == [chair, lamp]

        # changing the text and price moves the listing in the word and price indexes
        await m.do("merchant", ListingUpdate(bytes.fromhex(chair), price=9_000, description="A walnut seat"))
        assert await _ids(m, "/api/v1/listings", q="sturdy") == []
        assert await _ids(m, "/api/v1/listings", q="walnut") == [chair]
        assert await _ids(m, "/api/v1/listings", min_price=6_000) == [chair]
        listing = await m.ok(f"/api/v1/listings/{chair}")
        assert listing["price"] == 9_000 and listing["merchant"] == addr(m["merchant"])
        assert listing["shipping"][1] == {"index": 1, "name": "express", "price": 300}


async def test_a_price_range_is_in_one_asset_agr_unless_one_is_named(tmp_path: Path) -> None:
    from market.assets.bodies import AssetCreate
    from market.bodies import ListingCreate
    from market.records import AssetPrice, ShippingOption, Windows

    async with market_node(tmp_path) as m:
        await m.do("merchant", AssetCreate("USDX", "US dollar token", 2))
        windows = Windows(3_600_000, 3_600_000, 3_600_000, 3_600_000)

        def priced(title: str, price: int, asset: str, *alt: AssetPrice) -> ListingCreate:
            return ListingCreate(title, "", price, 3, (ShippingOption("post", 0),), (), windows, (), asset, alt)

        mug = (await m.send("merchant", priced("Mug", 1_000, "AGR")))["hash"]
        tea = (await m.send("merchant", priced("Tea", 1_000, "USDX", AssetPrice("AGR", 5_000, (0,)))))["hash"]
        jam = (await m.send("merchant", priced("Jam", 900, "USDX")))["hash"]

        # no asset: the bounds are AGR, and only listings that take AGR match, at their AGR price
        # (before, Tea's and Jam's USDX prices were compared with AGR bounds as if they were AGR)
        assert await _ids(m, "/api/v1/listings", max_price=2_000) == [mug]
        assert await _ids(m, "/api/v1/listings", min_price=4_000) == [tea]
        assert await _ids(m, "/api/v1/listings", min_price=0) == [mug, tea]  # cheapest first
        assert await _ids(m, "/api/v1/listings", min_price=0, limit=1) == [mug, tea]
        assert await _ids(m, "/api/v1/listings", max_price=2_000, asset="AGR") == [mug]
        assert await _ids(m, "/api/v1/listings", max_price=2_000, asset="USDX") == [jam, tea]
        assert await _ids(m, "/api/v1/listings", asset="USDX") == [tea, jam]  # no bound: oldest first
        assert await _ids(m, "/api/v1/listings") == [mug, tea, jam]

        # a new AGR price for Jam puts it in the AGR price index; dropping Tea's takes Tea out
        await m.do("merchant", ListingUpdate(bytes.fromhex(jam), alt_prices=(AssetPrice("AGR", 1_500, (0,)),)))
        await m.do("merchant", ListingUpdate(bytes.fromhex(tea), alt_prices=()))
        assert await _ids(m, "/api/v1/listings", max_price=2_000) == [mug, jam]
        assert await _ids(m, "/api/v1/listings", min_price=4_000) == []
        schema = await m.ok("/api/v1/openapi.json")
        params = {p["name"]: p for p in schema["paths"]["/api/v1/listings"]["get"]["parameters"]}
        assert "AGR when no asset is given" in params["max_price"]["description"]


async def test_order_queries_follow_state_changes_including_automatic_ones(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        listing = await m.create_listing(stock=100)
        other = await m.create_listing("buyer2", price=1_000)
        a = await _place(m, listing, "buyer")
        b = await _place(m, listing, "buyer")
        c = await _place(m, listing, "buyer2")
        d = await _place(m, other, "buyer")
        await m.do("merchant", OrderAccept(bytes.fromhex(a)))
        await m.do("buyer", OrderCancel(bytes.fromhex(b)))
        merchant = addr(m["merchant"])
        buyer = addr(m["buyer"])

        assert await _ids(m, "/api/v1/orders") == [a, b, c, d]
        assert await _ids(m, "/api/v1/orders", limit=1) == [a, b, c, d]
        assert await _ids(m, "/api/v1/orders", buyer=buyer) == [a, b, d]
        assert await _ids(m, "/api/v1/orders", merchant=merchant) == [a, b, c]
        assert await _ids(m, "/api/v1/orders", state="placed") == [c, d]
        assert await _ids(m, "/api/v1/orders", merchant=merchant, state="placed") == [c]
        assert await _ids(m, "/api/v1/orders", buyer=buyer, state="accepted") == [a]
        assert await _ids(m, "/api/v1/orders", buyer=buyer, merchant=merchant, limit=1) == [a, b]
        assert await _ids(m, "/api/v1/orders", state="cancelled") == [b]
        assert await _ids(m, "/api/v1/orders", arbiter=addr(m["arbiter"])) == []

        m.clock.advance(2 * MINUTE + 1)
        await m.tick()
        assert await _ids(m, "/api/v1/orders", state="expired") == [a, c, d]
        assert await _ids(m, "/api/v1/orders", state="placed") == []
        page = await m.ok("/api/v1/orders", buyer=buyer, state="expired")
        assert [o["id"] for o in page["items"]] == [a, d] and page["items"][0]["history"][-1]["automatic"]


async def test_bad_parameters_get_a_400_problem_naming_the_reason(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        listing = await m.create_listing()
        first = await m.ok("/api/v1/listings", limit=1)
        order_cursor = "00" * 12
        cases: list[tuple[str, dict[str, Any], int, str]] = [
            ("/api/v1/listings", {"colour": "red"}, 400, "unknown_parameter"),
            ("/api/v1/listings", {"merchant": "agora1nope"}, 400, "bad_address"),
            ("/api/v1/listings", {"min_price": "-1"}, 400, "bad_price"),
            ("/api/v1/listings", {"max_price": "1e3"}, 400, "bad_price"),
            ("/api/v1/listings", {"min_price": "5", "max_price": "4"}, 400, "bad_price"),
            ("/api/v1/listings", {"max_price": "9" * 25}, 400, "bad_price"),
            ("/api/v1/listings", {"in_stock": "maybe"}, 400, "bad_bool"),
            ("/api/v1/listings", {"status": "sold"}, 400, "bad_status"),
            ("/api/v1/listings", {"q": "!!! ???"}, 400, "bad_query"),
            ("/api/v1/listings", {"q": " ".join(f"w{i}" for i in range(9))}, 400, "bad_query"),
            ("/api/v1/listings", {"q": "x" * 600}, 400, "bad_parameter"),
            ("/api/v1/listings", {"limit": "0"}, 400, "bad_limit"),
            ("/api/v1/listings", {"limit": "101"}, 400, "bad_limit"),
            ("/api/v1/listings", {"limit": "ten"}, 400, "bad_limit"),
            ("/api/v1/listings", {"cursor": "zz"}, 400, "bad_cursor"),
            ("/api/v1/listings", {"cursor": "00" * 300}, 400, "bad_parameter"),
            ("/api/v1/listings", {"cursor": "ff" * 255}, 400, "bad_cursor"),
            ("/api/v1/listings", {"cursor": first["next_cursor"] or "", "q": "oak"}, 400, "bad_cursor"),
            ("/api/v1/listings/abc", {}, 400, "bad_id"),
            ("/api/v1/listings/" + "00" * 32, {}, 404, "not_found"),
            ("/api/v1/listings/" + listing, {"x": "1"}, 400, "unknown_parameter"),
            ("/api/v1/orders", {"state": "lost"}, 400, "bad_state"),
            ("/api/v1/orders", {"buyer": "12"}, 400, "bad_address"),
            ("/api/v1/orders", {"cursor": order_cursor}, 400, "bad_cursor"),
            ("/api/v1/orders/" + "g" * 64, {}, 400, "bad_id"),
            ("/api/v1/orders/" + "00" * 32, {}, 404, "not_found"),
            ("/api/v1/merchants/nobody/reputation", {}, 400, "bad_address"),
            ("/api/v1/events", {"types": "order,weather"}, 400, "bad_types"),
            ("/api/v1/events", {"types": ","}, 400, "bad_types"),
            ("/api/v1/events", {"merchant": "x"}, 400, "bad_address"),
            ("/api/v1/events", {"order": "00"}, 400, "bad_id"),
        ]
        for path, params, status, reason in cases:
            got_status, body = await m.get(path, **params)
            assert (got_status, body.get("reason")) == (status, reason), (path, params, body)
            assert body["detail"]
        async with m.http.get(m.url + "/api/v1/listings?limit=1&limit=2") as r:
            assert r.status == 400 and (await r.json(content_type=None))["reason"] == "repeated_parameter"
        rep = await m.ok(f"/api/v1/merchants/{addr(m['buyer2'])}/reputation")
        assert rep["reviews"] == 0 and rep["closed_orders"] == 0


def _index_entries(m: MarketNode) -> dict[bytes, bytes]:
    services = m.node.services
    assert services is not None
    return dict(services.store.index_range(INDEX_ROOT, prefix_end(INDEX_ROOT), 1_000_000))


async def test_indexes_written_with_blocks_equal_a_rebuild_from_state_after_restart(tmp_path: Path) -> None:
    clock = ManualClock()
    async with market_node(tmp_path, clock) as m:
        listing = await m.create_listing(title="Red kettle", stock=50)
        for i in range(6):
            order_id = await _place(m, listing, "buyer" if i % 2 else "buyer2")
            if i % 3 == 0:
                await m.do("merchant", OrderAccept(bytes.fromhex(order_id)))
        await m.do("merchant", ListingUpdate(bytes.fromhex(listing), title="Blue kettle"))
        clock.advance(2 * MINUTE + 1)
        await m.tick()
        incremental = _index_entries(m)
        height = (await m.ok("/api/v1/head"))["height"]
    assert len(incremental) > 40

    async with market_node(tmp_path, clock) as m:
        services = m.node.services
        assert services is not None and services.market is not None
        index: MarketIndex = services.market
        assert index.indexed_height() == height
        assert _index_entries(m) == incremental
        # a node that lost its indexes (or has an older version) rebuilds the same ones from state
        services.store.write_index({META_KEY: None})
        assert index.ensure() is True
        assert _index_entries(m) == incremental
        assert index.ensure() is False
        assert await _ids(m, "/api/v1/listings", q="blue") == [listing]
        assert await _ids(m, "/api/v1/listings", q="red") == []
        assert len(await _ids(m, "/api/v1/orders", state="expired")) == 6


async def _next_events(stream: Any, count: int) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    name = ""
    while len(events) < count:
        line = (await stream.content.readline()).decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[6:])))
    return events


async def test_event_stream_shows_a_merchant_its_new_orders_and_automatic_steps_live(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        mine = await m.create_listing()
        theirs = await m.create_listing("buyer2")
        url = f"{m.url}/api/v1/events?types=order&merchant={addr(m['merchant'])}"
        async with m.http.get(url) as stream:
            assert stream.status == 200 and stream.content_type == "text/event-stream"
            assert (await stream.content.readline()).startswith(b":")
            await _place(m, theirs, "buyer")
            order_id = await _place(m, mine, "buyer")
            ((name, event),) = await asyncio.wait_for(_next_events(stream, 1), 10)
            assert name == "order"
            assert (event["order_id"], event["action"], event["state"]) == (order_id, "place", "placed")
            assert event["merchant"] == addr(m["merchant"]) and event["buyer"] == addr(m["buyer"])
            assert event["tx"] == order_id and event["automatic"] is False
            m.clock.advance(2 * MINUTE + 1)
            await m.tick()
            ((name, event),) = await asyncio.wait_for(_next_events(stream, 1), 10)
            assert (name, event["order_id"], event["state"], event["tx"], event["actor"]) == (
                "order",
                order_id,
                "expired",
                None,
                None,
            )
        # the client side: NodeClient.events follows the same stream
        seen: list[tuple[str, dict[str, Any]]] = []
        subscribed = asyncio.Event()

        async def follow() -> None:
            stream = m.client.events(subscribed.set, types="listing,block", merchant=addr(m["buyer2"]))
            async with aclosing(stream) as events:
                async for item in events:
                    seen.append(item)
                    if len(seen) == 2:
                        return

        task = asyncio.create_task(follow())
        await asyncio.wait_for(subscribed.wait(), 10)
        await m.create_listing("buyer2", title="Live listing")
        await asyncio.wait_for(task, 10)
        assert [name for name, _ in seen] == ["block", "listing"]
        assert seen[1][1]["title"] == "Live listing" and seen[1][1]["action"] == "create"
