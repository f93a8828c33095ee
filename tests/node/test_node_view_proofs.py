"""Typed views with ``?prove=true`` and ``?height=H`` against a real node: every proof verifies
against the certified header, the view follows from the proven bytes, and past heights read
the versioned state (410 once pruned)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from node_market_kit import MarketNode, addr, market_node

from chain.accounts import balance_key, nonce_key
from chain.block import decode_header
from chain.encoding import decode
from chain.state_tree import ProofError, StateProof, verify_state_proof
from chain.transfer import Transfer
from chain.votes import Commit, verify_commit
from market.bodies import OrderAccept, OrderPlace
from market.finance import financing_key
from market.keys import escrow_key, listing_key, order_key, review_key
from market.points import redemption_key
from market.privacy import seal_for
from market.records import Listing, Order

PRICE = 1_000
SHIP = 100


def _verified(m: MarketNode, answer: dict[str, Any]) -> dict[bytes, bytes | None]:
    """Check the certificate, the header and every proof; the proven key -> value map."""
    header = decode_header(bytes.fromhex(answer["header"]))
    commit = Commit.from_wire(decode(bytes.fromhex(answer["commit"])))
    verify_commit("market-api-test", commit, m.node.datadir.genesis.validators, answer["height"], header.hash)
    assert header.height == answer["height"] and header.state_root.hex() == answer["state_root"]
    proven: dict[bytes, bytes | None] = {}
    for entry in answer["proofs"]:
        key = bytes.fromhex(entry["key"])
        value = None if entry["value"] is None else bytes.fromhex(entry["value"])
        proof = StateProof.from_wire(decode(bytes.fromhex(entry["proof"])))
        verify_state_proof(header.state_root, key, value, proof)
        proven[key] = value
    return proven


async def _place(m: MarketNode, listing: str) -> str:
    body = OrderPlace(bytes.fromhex(listing), 1, 0, PRICE, SHIP, b"", seal_for(m["merchant"].public_key, b"x"))
    receipt = await m.do("buyer", body)
    order_id: str = next(e for e in receipt["events"] if e["type"] == "order")["attrs"]["order_id"]
    return order_id


async def test_account_order_and_listing_views_prove_what_they_show(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        listing = await m.create_listing(stock=5)
        order = await _place(m, listing)
        placed_at = (await m.ok("/api/v1/head"))["height"]
        await m.do("merchant", OrderAccept(bytes.fromhex(order)))
        buyer = addr(m["buyer"])

        # the order at the height it was placed, proven: record, escrow and (absent) review
        answer = await m.ok(f"/api/v1/orders/{order}", prove="true", height=str(placed_at))
        assert answer["value"]["state"] == "placed" and answer["value"]["escrow"] == PRICE + SHIP
        proven = _verified(m, answer)
        oid = bytes.fromhex(order)
        assert set(proven) == {
            order_key(oid),
            escrow_key(oid),
            review_key(oid),
            redemption_key(oid),
            financing_key(oid),
        }
        record = proven[order_key(oid)]
        assert record is not None and Order.from_wire(decode(record)).state.value == "placed"
        assert decode(proven[escrow_key(oid)] or b"") == PRICE + SHIP and proven[review_key(oid)] is None
        # at the head, without a height: accepted now, the same view as the plain answer
        now = await m.ok(f"/api/v1/orders/{order}", prove="true")
        assert now["value"] == await m.ok(f"/api/v1/orders/{order}") and now["value"]["state"] == "accepted"
        _verified(m, now)
        assert (await m.ok(f"/api/v1/orders/{order}", height=str(placed_at)))["state"] == "placed"
        status, _ = await m.get(f"/api/v1/orders/{order}", height="1")
        assert status == 404  # not placed yet at block 1

        # the listing: stock reserved by the order, proven by its one record
        answer = await m.ok(f"/api/v1/listings/{listing}", prove="1")
        proven = _verified(m, answer)
        raw_listing = proven[listing_key(bytes.fromhex(listing))]
        assert raw_listing is not None and Listing.from_wire(decode(raw_listing)).stock == 4
        assert answer["value"]["stock"] == 4

        # the account: its balance and nonce, proven, and at genesis the starting balance
        answer = await m.ok(f"/api/v1/accounts/{buyer}", prove="true")
        proven = _verified(m, answer)
        assert decode(proven[balance_key(m["buyer"].public_key, "AGR")] or b"") == answer["value"]["balances"]["AGR"]
        assert decode(proven[nonce_key(m["buyer"].public_key)] or b"") == answer["value"]["nonce"] == 1
        assert answer["value"]["balances"] == (await m.ok(f"/api/v1/accounts/{buyer}"))["balances"]
        genesis_view = await m.ok(f"/api/v1/accounts/{buyer}", height="0")
        assert genesis_view["nonce"] == 0 and genesis_view["pending_nonce"] is None
        assert genesis_view["balances"]["AGR"] == 10**12

        # a proof of one view does not prove another value
        entry = answer["proofs"][0]
        header = decode_header(bytes.fromhex(answer["header"]))
        wrong = bytes.fromhex(entry["value"])[:-1] + b"\x00"
        try:
            verify_state_proof(
                header.state_root,
                bytes.fromhex(entry["key"]),
                wrong,
                StateProof.from_wire(decode(bytes.fromhex(entry["proof"]))),
            )
        except ProofError:
            pass
        else:
            raise AssertionError("a changed value verified")

        for path in (f"/api/v1/accounts/{buyer}", f"/api/v1/orders/{order}", f"/api/v1/listings/{listing}"):
            for params, want in (
                ({"height": "x"}, (400, "bad_height")),
                ({"height": "99999"}, (404, "not_found")),
                ({"prove": "maybe"}, (400, "bad_bool")),
                ({"other": "1"}, (400, "unknown_parameter")),
            ):
                status, problem = await m.get(path, **params)
                assert (status, problem["reason"]) == want, (path, params)


async def test_a_view_at_a_pruned_height_answers_410_with_the_oldest_kept(tmp_path: Path) -> None:
    async with market_node(tmp_path, state_versions_kept=2) as m:
        buyer = addr(m["buyer"])
        for _ in range(4):
            await m.do("buyer", Transfer(m["buyer2"].public_key, 1))
        deadline = time.monotonic() + 20
        while True:  # the background pruner follows the head within seconds
            status, problem = await m.get(f"/api/v1/accounts/{buyer}", height="1", prove="true")
            if status == 410:
                break
            assert status == 200, problem
            assert time.monotonic() < deadline, "height 1 was never pruned"
            await asyncio.sleep(0.1)
        assert problem["reason"] == "pruned" and "oldest height kept" in problem["detail"]
        head = (await m.ok("/api/v1/head"))["height"]
        assert (await m.ok(f"/api/v1/accounts/{buyer}", height=str(head)))["nonce"] == 4
