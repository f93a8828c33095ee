"""Every broken rule fails with its typed code and changes nothing but the fee and nonce."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chain.accounts import NATIVE_ASSET, balance_key, fees_key, nonce_key
from chain.encoding import U64_MAX, DecodeError, decode
from market.bodies import (
    ListingCreate,
    ListingDelist,
    ListingPause,
    ListingResume,
    ListingUpdate,
    OrderAccept,
    OrderConfirm,
    OrderDispute,
    OrderPlace,
    OrderReclaim,
    OrderReply,
    OrderReview,
    OrderRule,
    OrderShip,
)
from market.keys import listing_key, order_key
from market.queries import listing_from_bytes, order_from_bytes
from market.records import ArbiterTerms, Listing, Order, ShippingOption

SHIP = 50
Scenario = Callable[[Any], tuple[str, Any]]


def _placed(chain: Any, arbiter: str | None = "a1") -> bytes:
    return chain.place("b1", chain.create_listing(), arbiter=arbiter)


def _shipped(chain: Any, arbiter: str | None = "a1") -> bytes:
    oid = _placed(chain, arbiter)
    chain.ok("m1", OrderAccept(oid))
    chain.ok("m1", OrderShip(oid, b""))
    return oid


def _disputed(chain: Any) -> bytes:
    oid = _shipped(chain)
    chain.ok("b1", OrderDispute(oid, "broken"))
    return oid


def _settled(chain: Any) -> bytes:
    oid = _shipped(chain)
    chain.ok("b1", OrderConfirm(oid))
    return oid


def not_merchant(chain: Any) -> tuple[str, Any]:
    return "b1", OrderAccept(_placed(chain))


def not_merchant_listing(chain: Any) -> tuple[str, Any]:
    return "m2", ListingUpdate(chain.create_listing(), stock=0)


def not_buyer(chain: Any) -> tuple[str, Any]:
    return "m1", OrderConfirm(_shipped(chain))


def not_arbiter(chain: Any) -> tuple[str, Any]:
    return "a2", OrderRule(_disputed(chain), 0, 0)


def not_party(chain: Any) -> tuple[str, Any]:
    return "a1", OrderDispute(_shipped(chain), "meddling")


def wrong_state(chain: Any) -> tuple[str, Any]:
    return "m1", OrderShip(_placed(chain), b"")


def insufficient_stock(chain: Any) -> tuple[str, Any]:
    lid = chain.create_listing(stock=3)
    return "b1", OrderPlace(lid, 4, 0, 1_000, SHIP)


def price_changed(chain: Any) -> tuple[str, Any]:
    lid = chain.create_listing(price=1_000)
    return "b1", OrderPlace(lid, 1, 0, 999, SHIP)


def shipping_price_changed(chain: Any) -> tuple[str, Any]:
    lid = chain.create_listing(price=1_000)
    return "b1", OrderPlace(lid, 1, 0, 1_000, SHIP + 1)


def insufficient_funds(chain: Any) -> tuple[str, Any]:
    lid = chain.create_listing(price=10**12, stock=10)
    return "b1", OrderPlace(lid, 1, 0, 10**12, SHIP)


def overflow(chain: Any) -> tuple[str, Any]:
    lid = chain.create_listing(price=U64_MAX // 2, stock=10)
    return "b1", OrderPlace(lid, 3, 0, U64_MAX // 2, SHIP)


def deadline_passed(chain: Any) -> tuple[str, Any]:
    oid = _disputed(chain)
    chain.advance_to(chain.order(oid).deadline_ms)
    return "a1", OrderRule(oid, 0, 1_050 - 52)


def too_early(chain: Any) -> tuple[str, Any]:
    return "b1", OrderReclaim(_disputed(chain))


def arbiter_not_accepted(chain: Any) -> tuple[str, Any]:
    lid = chain.create_listing(arbiters=(("a1", 100),))
    return "b1", OrderPlace(lid, 1, 0, 1_000, SHIP, chain.pub("a2"))


def buyer_as_arbiter(chain: Any) -> tuple[str, Any]:
    lid = chain.create_listing(arbiters=(("b1", 100),))
    return "b1", OrderPlace(lid, 1, 0, 1_000, SHIP, chain.pub("b1"))


def bad_split(chain: Any) -> tuple[str, Any]:
    return "a1", OrderRule(_disputed(chain), 1_050, 0)


def no_arbiter(chain: Any) -> tuple[str, Any]:
    return "b1", OrderDispute(_shipped(chain, arbiter=None), "broken")


def already_reviewed(chain: Any) -> tuple[str, Any]:
    oid = _settled(chain)
    chain.ok("b1", OrderReview(oid, 5, "great"))
    return "b1", OrderReview(oid, 1, "changed my mind")


def review_not_finished(chain: Any) -> tuple[str, Any]:
    return "b1", OrderReview(_shipped(chain), 5, "")


def review_never_accepted(chain: Any) -> tuple[str, Any]:
    oid = _placed(chain)
    chain.advance_to(chain.order(oid).deadline_ms)
    return "b1", OrderReview(oid, 1, "ignored")


def review_by_merchant(chain: Any) -> tuple[str, Any]:
    return "m1", OrderReview(_settled(chain), 5, "")


def reply_without_review(chain: Any) -> tuple[str, Any]:
    return "m1", OrderReply(_settled(chain), "thanks")


def listing_paused(chain: Any) -> tuple[str, Any]:
    lid = chain.create_listing()
    chain.ok("m1", ListingPause(lid))
    return "b1", OrderPlace(lid, 1, 0, 1_000, SHIP)


def listing_delisted(chain: Any) -> tuple[str, Any]:
    lid = chain.create_listing()
    chain.ok("m1", ListingDelist(lid))
    return "m1", ListingResume(lid)


def self_purchase(chain: Any) -> tuple[str, Any]:
    return "m1", OrderPlace(chain.create_listing(), 1, 0, 1_000, SHIP)


def bad_shipping_option(chain: Any) -> tuple[str, Any]:
    return "b1", OrderPlace(chain.create_listing(), 1, 3, 1_000, SHIP)


def unknown_listing(chain: Any) -> tuple[str, Any]:
    return "b1", OrderPlace(bytes(32), 1, 0, 1_000, SHIP)


def unknown_order(chain: Any) -> tuple[str, Any]:
    return "m1", OrderAccept(bytes(32))


CASES: dict[str, tuple[Scenario, str]] = {
    "not_merchant": (not_merchant, "not_merchant"),
    "not_merchant_listing": (not_merchant_listing, "not_merchant"),
    "not_buyer": (not_buyer, "not_buyer"),
    "not_arbiter": (not_arbiter, "not_arbiter"),
    "not_party": (not_party, "not_party"),
    "wrong_state": (wrong_state, "wrong_state"),
    "insufficient_stock": (insufficient_stock, "insufficient_stock"),
    "price_changed": (price_changed, "price_changed"),
    "shipping_price_changed": (shipping_price_changed, "price_changed"),
    "insufficient_funds": (insufficient_funds, "insufficient_funds"),
    "overflow": (overflow, "overflow"),
    "deadline_passed": (deadline_passed, "deadline_passed"),
    "too_early": (too_early, "too_early"),
    "arbiter_not_accepted": (arbiter_not_accepted, "arbiter_not_accepted"),
    "buyer_as_arbiter": (buyer_as_arbiter, "arbiter_not_accepted"),
    "bad_split": (bad_split, "bad_split"),
    "no_arbiter": (no_arbiter, "no_arbiter"),
    "already_reviewed": (already_reviewed, "already_reviewed"),
    "review_not_finished": (review_not_finished, "wrong_state"),
    "review_never_accepted": (review_never_accepted, "wrong_state"),
    "review_by_merchant": (review_by_merchant, "not_buyer"),
    "reply_without_review": (reply_without_review, "not_reviewed"),
    "listing_paused": (listing_paused, "listing_paused"),
    "listing_delisted": (listing_delisted, "listing_delisted"),
    "self_purchase": (self_purchase, "self_purchase"),
    "bad_shipping_option": (bad_shipping_option, "bad_shipping_option"),
    "unknown_listing": (unknown_listing, "unknown_listing"),
    "unknown_order": (unknown_order, "unknown_order"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_rule_fails_with_its_code_and_changes_only_fee_and_nonce(chain: Any, case: str) -> None:
    scenario, code = CASES[case]
    name, body = scenario(chain)
    before = chain.snapshot()
    sender_balance = chain.balance(name)
    receipt = chain.send(name, body)
    assert receipt.code == code, receipt.message
    assert receipt.events == ()
    sender = chain.pub(name)
    proposer = chain.validator.public_key
    allowed = {
        balance_key(sender, NATIVE_ASSET),
        balance_key(proposer, NATIVE_ASSET),
        nonce_key(sender),
        fees_key(NATIVE_ASSET),
    }
    assert chain.changed_keys(before) <= allowed
    assert chain.balance(name) == sender_balance - receipt.fee
    chain.check_conservation()


def test_merchant_cannot_arbitrate_its_own_listing(chain: Any) -> None:
    listing = chain.listing(chain.create_listing())
    body = ListingCreate(
        "t", "", 1, 1, (ShippingOption("post", 0),), (ArbiterTerms(chain.pub("m1"), 0),), listing.windows
    )
    before = chain.snapshot()
    assert chain.send("m1", body).code == "bad_arbiter"
    assert chain.changed_keys(before) <= {
        balance_key(chain.pub("m1"), NATIVE_ASSET),
        balance_key(chain.validator.public_key, NATIVE_ASSET),
        nonce_key(chain.pub("m1")),
        fees_key(NATIVE_ASSET),
    }


def test_decoded_records_are_remembered_by_their_bytes_and_stay_exact(chain: Any) -> None:
    oid = _shipped(chain)
    raw = chain.state.get(order_key(oid))
    order = order_from_bytes(raw)
    assert order == Order.from_wire(decode(raw)) == chain.order(oid)
    assert order_from_bytes(bytes(raw)) is order  # equal bytes: the remembered value
    chain.ok("b1", OrderConfirm(oid))
    moved = chain.order(oid)  # new bytes, a new value: never the remembered one
    assert moved != order and moved == Order.from_wire(decode(chain.state.get(order_key(oid))))
    listing_raw = chain.state.get(listing_key(order.listing_id))
    assert listing_from_bytes(listing_raw) == Listing.from_wire(decode(listing_raw))
    for _ in range(2):  # a failure is raised every time, not remembered
        with pytest.raises(DecodeError):
            order_from_bytes(raw[:-1])
