"""Order history entries name what made them (a transaction's hash or a block event's height),
incrementally and after an index rebuild; orders filter by listing."""

from __future__ import annotations

from pathlib import Path

from node_market_kit import CHAIN, FEE, MINUTE, MarketNode, market_node

from chain.tx import sign_transaction
from market.bodies import OrderAccept, OrderPlace, OrderShip
from market.privacy import seal_for
from node.datadir import open_datadir
from node.market_index import META_KEY, MarketIndex
from node.service import DEFAULT_REGISTRY
from storage.store import ChainStore

PRICE = 1_000
SHIP = 100


def _place_body(m: MarketNode, listing: str) -> OrderPlace:
    return OrderPlace(bytes.fromhex(listing), 1, 0, PRICE, SHIP, b"", seal_for(m["merchant"].public_key, b"x"))


async def _place(m: MarketNode, listing: str, buyer: str = "buyer") -> str:
    receipt = await m.do(buyer, _place_body(m, listing))
    order_id: str = next(e for e in receipt["events"] if e["type"] == "order")["attrs"]["order_id"]
    return order_id


async def test_history_entries_carry_their_transaction_or_block_event(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        listing = await m.create_listing()
        # place and accept signed together and sent in one batch: likely one block, never out of order
        buyer, merchant = m["buyer"], m["merchant"]
        place = sign_transaction(buyer, CHAIN, m.nonces[buyer.public_key], FEE, _place_body(m, listing))
        accept = sign_transaction(merchant, CHAIN, m.nonces[merchant.public_key], FEE, OrderAccept(place.hash))
        m.nonces[buyer.public_key] += 1
        m.nonces[merchant.public_key] += 1
        await m.client.submit_batch([place.raw, accept.raw])
        await m.client.wait_for_tx(place.hash.hex(), 20)
        await m.client.wait_for_tx(accept.hash.hex(), 20)
        order_id = place.hash.hex()
        ship = await m.send("merchant", OrderShip(place.hash))
        m.clock.advance(2 * MINUTE + 1)
        await m.tick()  # settles to the merchant in the block's begin-block step
        order = await m.order(order_id)
        assert [h["action"] for h in order["history"]] == ["place", "accept", "ship", "timeout"]
        settled_at = order["history"][-1]["height"]
        assert [h["made_by"] for h in order["history"]] == [
            {"tx_hash": place.hash.hex()},
            {"tx_hash": accept.hash.hex()},
            {"tx_hash": ship["hash"]},
            {"block_event_height": settled_at},
        ]
        # what the history names is what the chain holds: the block event and each transaction
        block = await m.ok(f"/api/v1/blocks/{settled_at}", receipts="true")
        assert any(
            e["type"] == "order" and e["attrs"]["order_id"] == order_id and e["attrs"]["action"] == "timeout"
            for e in block["block_events"]
        )
        for entry in order["history"][:3]:
            tx = await m.ok(f"/api/v1/txs/{entry['made_by']['tx_hash']}")
            assert tx["height"] == entry["height"]
        listed = await m.ok("/api/v1/orders", listing=listing)
        assert [o["history"] for o in listed["items"]] == [order["history"]]
        # at a past height the history is a prefix, with the same origins
        past = await m.ok(f"/api/v1/orders/{order_id}", height=str(order["history"][2]["height"]))
        assert past["history"] == order["history"][:3]


async def test_orders_filter_by_listing_and_the_origins_survive_an_index_rebuild(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        chair = await m.create_listing(title="Oak chair")
        table = await m.create_listing(title="Oak table")
        on_chair = [await _place(m, chair), await _place(m, chair, buyer="buyer2")]
        on_table = [await _place(m, table)]
        await m.do("merchant", OrderAccept(bytes.fromhex(on_chair[0])))
        assert [o["id"] for o in (await m.ok("/api/v1/orders", listing=chair))["items"]] == on_chair
        assert [o["id"] for o in (await m.ok("/api/v1/orders", listing=table))["items"]] == on_table
        both = await m.ok("/api/v1/orders", listing=chair, buyer=f"{m['buyer2'].public_key.hex()}")
        assert [o["id"] for o in both["items"]] == on_chair[1:]
        accepted = await m.ok("/api/v1/orders", listing=chair, state="accepted")
        assert [o["id"] for o in accepted["items"]] == on_chair[:1]
        page = await m.ok("/api/v1/orders", listing=chair, limit="1")
        rest = await m.ok("/api/v1/orders", listing=chair, cursor=page["next_cursor"])
        assert [o["id"] for o in page["items"] + rest["items"]] == on_chair
        assert (await m.ok("/api/v1/orders", listing="00" * 32))["items"] == []
        for bad in ("zz", "00" * 31, "00" * 33):
            status, problem = await m.get("/api/v1/orders", listing=bad)
            assert (status, problem["reason"]) == (400, "bad_id")
        before = [await m.order(o) for o in on_chair + on_table]
        assert all(h["made_by"] is not None for o in before for h in o["history"])

    # drop the index's height record while stopped: the next start rebuilds every index from
    # state, and the history origins from the stored blocks
    datadir = open_datadir(tmp_path / "node")
    store = ChainStore.open(datadir.db_path, datadir.genesis, DEFAULT_REGISTRY)
    try:
        store.write_index({META_KEY: None})
        assert MarketIndex(store).indexed_height() is None
    finally:
        store.close()
    async with market_node(tmp_path) as m:
        assert [await m.order(o) for o in on_chair + on_table] == before
        assert [o["id"] for o in (await m.ok("/api/v1/orders", listing=chair))["items"]] == on_chair
