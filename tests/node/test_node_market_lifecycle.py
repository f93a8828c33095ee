"""Every path of the order lifecycle through the public HTTP API of a real node.

Signed transactions go in through POST /api/v1/txs; states, balances, escrow, receipts and
histories are read back through GET endpoints only. Deadline paths advance the node's
injected block clock instead of waiting.
"""

from __future__ import annotations

from pathlib import Path

from node_market_kit import FEE, MINUTE, MarketNode, addr, market_node

from market.bodies import (
    OrderAccept,
    OrderApproveReturn,
    OrderCancel,
    OrderConfirm,
    OrderDispute,
    OrderPlace,
    OrderReceiveReturn,
    OrderReclaim,
    OrderReject,
    OrderReply,
    OrderRequestReturn,
    OrderReview,
    OrderRule,
    OrderShip,
    OrderShipReturn,
)
from market.privacy import open_sealed, seal_for

PRICE = 1_000
SHIP = 100


async def _place(m: MarketNode, listing: str, *, buyer: str = "buyer", quantity: int = 1, arbiter: bool = True) -> str:
    body = OrderPlace(
        bytes.fromhex(listing),
        quantity,
        0,
        PRICE,
        SHIP,
        m["arbiter"].public_key if arbiter else b"",
        seal_for(m["merchant"].public_key, b"Ada Lovelace, 12 Analytical St, London"),
    )
    receipt = await m.do(buyer, body)
    order_event = next(e for e in receipt["events"] if e["type"] == "order")
    assert order_event["attrs"]["state"] == "placed"
    order_id: str = order_event["attrs"]["order_id"]
    return order_id


def _oid(order_id: str) -> bytes:
    return bytes.fromhex(order_id)


async def _actions(m: MarketNode, order_id: str) -> list[tuple[str, str]]:
    return [(h["action"], h["state"]) for h in (await m.order(order_id))["history"]]


async def test_happy_path_pays_the_merchant_and_keeps_history_review_and_reputation(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        listing = await m.create_listing()
        merchant0, buyer0 = await m.balance("merchant"), await m.balance("buyer")
        order_id = await _place(m, listing, quantity=2)
        total = 2 * PRICE + SHIP
        order = await m.order(order_id)
        assert order["state"] == "placed" and order["escrow"] == total and order["total"] == total
        assert order["buyer"] == addr(m["buyer"]) and order["merchant"] == addr(m["merchant"])
        assert open_sealed(m["merchant"], bytes.fromhex(order["delivery"])).startswith(b"Ada Lovelace")
        assert (await m.ok(f"/api/v1/listings/{listing}"))["stock"] == 3
        assert await m.balance("buyer") == buyer0 - total - FEE

        await m.do("merchant", OrderAccept(_oid(order_id)))
        await m.do("merchant", OrderShip(_oid(order_id), seal_for(m["buyer"].public_key, b"TRACK-123")))
        order = await m.order(order_id)
        assert open_sealed(m["buyer"], bytes.fromhex(order["tracking"])) == b"TRACK-123"
        receipt = await m.do("buyer", OrderConfirm(_oid(order_id)))
        assert {"type": "escrow", "role": "merchant", "amount": total} in [
            {"type": e["type"], "role": e["attrs"].get("role"), "amount": e["attrs"].get("amount")}
            for e in receipt["events"]
        ]
        order = await m.order(order_id)
        assert order["state"] == "settled" and order["escrow"] == 0
        assert await _actions(m, order_id) == [
            ("place", "placed"),
            ("accept", "accepted"),
            ("ship", "shipped"),
            ("confirm", "settled"),
        ]
        assert all(h["actor"] is not None and not h["automatic"] for h in order["history"])
        assert await m.balance("merchant") == merchant0 + total - 2 * FEE

        await m.do("buyer", OrderReview(_oid(order_id), 4, "sturdy"))
        await m.fails("buyer", OrderReview(_oid(order_id), 5, "again"), "already_reviewed")
        await m.fails("buyer", OrderReply(_oid(order_id), "not mine"), "not_merchant")
        await m.do("merchant", OrderReply(_oid(order_id), "thank you"))
        review = (await m.order(order_id))["review"]
        assert (review["rating"], review["comment"], review["reply"]) == (4, "sturdy", "thank you")
        rep = await m.ok(f"/api/v1/merchants/{addr(m['merchant'])}/reputation")
        assert (rep["reviews"], rep["mean_rating_milli"], rep["settled_orders"], rep["dispute_rate_bps"]) == (
            1,
            4000,
            1,
            0,
        )


async def test_reject_and_cancel_refund_and_restock_and_wrong_parties_change_nothing(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        listing = await m.create_listing(stock=2)
        buyer0 = await m.balance("buyer")
        rejected = await _place(m, listing)
        await m.fails("buyer", OrderAccept(_oid(rejected)), "not_merchant")
        await m.fails("buyer2", OrderCancel(_oid(rejected)), "not_buyer")
        await m.do("merchant", OrderReject(_oid(rejected), "out of oak"))
        order = await m.order(rejected)
        assert order["state"] == "rejected" and order["escrow"] == 0
        assert order["history"][-1]["note"] == "out of oak"
        assert (await m.ok(f"/api/v1/listings/{listing}"))["stock"] == 2

        cancelled = await _place(m, listing, quantity=2)
        await m.fails("buyer", OrderPlace(bytes.fromhex(listing), 1, 0, PRICE, SHIP), "insufficient_stock")
        await m.do("buyer", OrderCancel(_oid(cancelled)))
        assert (await m.order(cancelled))["state"] == "cancelled"
        await m.fails("merchant", OrderAccept(_oid(cancelled)), "wrong_state")
        assert (await m.ok(f"/api/v1/listings/{listing}"))["stock"] == 2
        # two placements, a cancel and two failed transactions: refunded in full, the buyer paid only fees
        assert await m.balance("buyer") == buyer0 - 5 * FEE
        await m.fails("buyer", OrderPlace(bytes.fromhex(listing), 1, 0, PRICE + 1, SHIP), "price_changed")


async def test_unaccepted_order_expires_at_its_deadline_with_a_refund(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        listing = await m.create_listing(stock=1)
        buyer0 = await m.balance("buyer")
        order_id = await _place(m, listing)
        m.clock.advance(MINUTE // 2)
        await m.tick()
        assert (await m.order(order_id))["state"] == "placed"
        m.clock.advance(2 * MINUTE)
        await m.tick()
        order = await m.order(order_id)
        assert order["state"] == "expired" and order["escrow"] == 0
        last = order["history"][-1]
        assert (last["action"], last["actor"], last["automatic"]) == ("timeout", None, True)
        await m.fails("merchant", OrderAccept(_oid(order_id)), "wrong_state")
        assert await m.balance("buyer") == buyer0 - FEE
        assert (await m.ok(f"/api/v1/listings/{listing}"))["stock"] == 1


async def test_shipped_order_settles_to_the_merchant_on_its_own(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        listing = await m.create_listing()
        order_id = await _place(m, listing)
        await m.do("merchant", OrderAccept(_oid(order_id)))
        await m.do("merchant", OrderShip(_oid(order_id)))
        merchant0 = await m.balance("merchant")
        m.clock.advance(2 * MINUTE + 1)
        await m.tick()
        order = await m.order(order_id)
        assert order["state"] == "settled" and order["history"][-1]["automatic"] is True
        assert await m.balance("merchant") == merchant0 + PRICE + SHIP
        await m.fails("buyer", OrderConfirm(_oid(order_id)), "wrong_state")


async def test_return_refunds_the_buyer_when_the_item_is_received(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        listing = await m.create_listing()
        buyer0, merchant0 = await m.balance("buyer"), await m.balance("merchant")
        order_id = await _place(m, listing)
        await m.do("merchant", OrderAccept(_oid(order_id)))
        await m.do("merchant", OrderShip(_oid(order_id)))
        await m.do("buyer", OrderRequestReturn(_oid(order_id), "wrong colour"))
        await m.fails("buyer", OrderApproveReturn(_oid(order_id)), "not_merchant")
        await m.do("merchant", OrderApproveReturn(_oid(order_id)))
        await m.do("buyer", OrderShipReturn(_oid(order_id), seal_for(m["merchant"].public_key, b"RET-9")))
        order = await m.order(order_id)
        assert order["state"] == "return_shipped" and order["escrow"] == PRICE + SHIP
        assert open_sealed(m["merchant"], bytes.fromhex(order["return_tracking"])) == b"RET-9"
        await m.do("merchant", OrderReceiveReturn(_oid(order_id)))
        order = await m.order(order_id)
        assert order["state"] == "refunded" and order["escrow"] == 0
        assert [a for a, _ in await _actions(m, order_id)] == [
            "place",
            "accept",
            "ship",
            "request_return",
            "approve_return",
            "ship_return",
            "receive_return",
        ]
        assert await m.balance("buyer") == buyer0 - 4 * FEE
        assert await m.balance("merchant") == merchant0 - 4 * FEE
        rep = await m.ok(f"/api/v1/merchants/{addr(m['merchant'])}/reputation")
        assert (rep["closed_orders"], rep["refunded_orders"]) == (1, 1)


async def test_disputes_are_split_by_the_arbiter_who_earns_its_fee(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        listing = await m.create_listing(stock=10)
        total = PRICE + SHIP
        fee = total * 500 // 10_000
        splits = [(total - fee, 0), (0, total - fee), (400, total - fee - 400)]
        orders = [await _place(m, listing) for _ in splits]
        for i, order_id in enumerate(orders):
            await m.do("merchant", OrderAccept(_oid(order_id)))
            if i:
                await m.do("merchant", OrderShip(_oid(order_id)))
            await m.do("buyer" if i % 2 == 0 else "merchant", OrderDispute(_oid(order_id), "not as described"))
        no_arbiter = await _place(m, listing, arbiter=False)
        await m.do("merchant", OrderAccept(_oid(no_arbiter)))
        await m.fails("buyer", OrderDispute(_oid(no_arbiter), "x"), "no_arbiter")

        await m.fails("arbiter", OrderRule(_oid(orders[0]), total, 0), "bad_split")
        await m.fails("arbiter2", OrderRule(_oid(orders[0]), total - fee, 0), "not_arbiter")
        await m.fails("buyer", OrderRule(_oid(orders[0]), total - fee, 0), "not_arbiter")
        before = {p: await m.balance(p) for p in ("buyer", "merchant", "arbiter")}
        for order_id, (to_buyer, to_merchant) in zip(orders, splits, strict=True):
            await m.do("arbiter", OrderRule(_oid(order_id), to_buyer, to_merchant, "split"))
            order = await m.order(order_id)
            assert order["state"] == "resolved" and order["escrow"] == 0
            assert order["ruling"] == {"buyer_amount": to_buyer, "merchant_amount": to_merchant, "arbiter_fee": fee}
        after = {p: await m.balance(p) for p in ("buyer", "merchant", "arbiter")}
        assert after["buyer"] - before["buyer"] == sum(b for b, _ in splits)
        assert after["merchant"] - before["merchant"] == sum(s for _, s in splits)
        assert after["arbiter"] - before["arbiter"] == len(splits) * (fee - FEE)
        rep = await m.ok(f"/api/v1/merchants/{addr(m['merchant'])}/reputation")
        assert (rep["closed_orders"], rep["disputed_orders"], rep["dispute_rate_bps"]) == (3, 3, 10_000)


async def test_buyer_reclaims_a_dispute_the_arbiter_left_past_its_deadline(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        listing = await m.create_listing()
        order_id = await _place(m, listing)
        await m.do("merchant", OrderAccept(_oid(order_id)))
        await m.do("merchant", OrderDispute(_oid(order_id), "buyer unreachable"))
        await m.fails("buyer", OrderReclaim(_oid(order_id)), "too_early")
        buyer0 = await m.balance("buyer")
        m.clock.advance(2 * MINUTE + 1)
        await m.tick()
        assert (await m.order(order_id))["state"] == "disputed"  # no automatic refund
        total = PRICE + SHIP
        fee = total * 500 // 10_000
        await m.fails("arbiter", OrderRule(_oid(order_id), total - fee, 0), "deadline_passed")
        await m.do("buyer", OrderReclaim(_oid(order_id)))
        order = await m.order(order_id)
        assert order["state"] == "reclaimed" and order["escrow"] == 0
        assert await m.balance("buyer") == buyer0 + total - FEE
