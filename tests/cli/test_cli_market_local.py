"""The listing and order commands refuse bad input locally, before signing or reaching a node."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_testkit import run_cli

from cli.errors import CliError
from cli.market_tx import parse_duration, parse_id, receipt_failure
from cli.pricing import check_price_syntax

UNREACHABLE = "http://127.0.0.1:1"
LISTING = "ab" * 32


def _fails(tmp_path: Path, *args: str) -> str:
    result = run_cli(["--home", str(tmp_path), "--node", UNREACHABLE, *args])
    assert result.exit_code == 1, result.stdout
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def test_parsers_are_exact_and_bounded() -> None:
    assert parse_duration("90s", "w") == 90_000
    assert parse_duration(" 2D ", "w") == 2 * 86_400_000
    assert parse_duration("500ms", "w") == 500
    for bad in ("", "5", "1.5h", "-1m", "1w", "9" * 13 + "s"):
        with pytest.raises(CliError):
            parse_duration(bad, "w")
    assert parse_id(LISTING.upper(), "id") == bytes.fromhex(LISTING)
    for bad in ("ab", LISTING + "00", "zz" * 32):
        with pytest.raises(CliError):
            parse_id(bad, "id")
    for bad in ("express", "=1", "x=abc", "x=-1"):  # --shipping NAME=AMOUNT[:ASSET]
        with pytest.raises(CliError):
            check_price_syntax(["1"], [bad], "AGR")
    assert receipt_failure({"receipt": {"code": "ok"}}) is None
    assert receipt_failure({"status": "pending"}) is None
    assert receipt_failure({"receipt": {"code": "wrong_state", "message": "no"}}) == "wrong_state: no"


def test_commands_refuse_bad_input_with_one_line_and_exit_1(tmp_path: Path) -> None:
    create = ["listing", "create", "--from", "shop", "--title", "T", "--price", "1", "--stock", "1"]
    assert "not a duration" in _fails(tmp_path, *create, "--accept-window", "soon")
    assert "between 1m and 180d" in _fails(tmp_path, *create, "--ship-window", "30s")
    assert "NAME=AMOUNT" in _fails(tmp_path, *create, "--shipping", "free")
    assert "basis points" in _fails(tmp_path, *create, "--arbiter", "agora1x=9999")
    assert "not a number" in _fails(tmp_path, *create, "--price", "cheap")
    assert "nothing to update" in _fails(tmp_path, "listing", "update", LISTING, "--from", "shop")
    assert "bad listing id" in _fails(tmp_path, "listing", "pause", "xyz", "--from", "shop")
    assert "bad listing id" in _fails(tmp_path, "listing", "show", "xyz")
    assert "--deliver-to" in _fails(tmp_path, "order", "place", LISTING, "--from", "bob")
    assert "bad order id" in _fails(tmp_path, "order", "accept", "12", "--from", "shop")
    assert "--rating" in _fails(tmp_path, "order", "review", LISTING, "--from", "bob")
    both = ["order", "review", LISTING, "--from", "bob", "--rating", "5", "--reply", "hi"]
    assert "either --rating" in _fails(tmp_path, *both)
    assert "no wallet named 'bob'" in _fails(tmp_path, "order", "cancel", LISTING, "--from", "bob")
    assert "cannot reach the node" in _fails(tmp_path, "order", "list", "--state", "placed")


def test_listing_prices_in_several_assets_parse_exactly() -> None:
    from cli.pricing import check_price_syntax, parse_listing_prices, split_asset
    from market.records import AssetPrice, ShippingOption

    decimals = {"AGR": 6, "USDX": 2, "EURS": 2}
    assert split_asset("12.00:usdx", "AGR", "--price") == ("12.00", "USDX")
    assert split_asset("1.5", "AGR", "--price") == ("1.5", "AGR")
    agr = parse_listing_prices(["1.5"], "AGR", ["standard=0"], decimals)
    assert (agr.asset, agr.price, agr.shipping, agr.alt_prices) == (
        "AGR",
        1_500_000,
        (ShippingOption("standard", 0),),
        (),
    )
    two = parse_listing_prices(["12:USDX", "11:EURS"], "AGR", ["post=0.5", "post=0.45:EURS", "pickup=0"], decimals)
    assert (two.asset, two.price) == ("USDX", 1_200)
    assert two.shipping == (ShippingOption("post", 50), ShippingOption("pickup", 0))
    assert two.alt_prices == (AssetPrice("EURS", 1_100, (45, 0)),)  # a bare 0 is free in every asset
    assert parse_listing_prices(["12"], "USDX", ["post=0.5"], decimals).asset == "USDX"
    bad = [
        (["12:USDX", "11:EURS"], ["post=0.5"], "has no price in EURS"),
        (["12:USDX", "13:USDX"], ["post=0"], "one price per asset"),
        (["12:USDX"], ["post=1:EURS"], "not priced in EURS"),
        (["12.001:USDX"], ["post=0"], "more than 2 decimals"),
        (["12:GBPX"], ["post=0"], "no asset GBPX"),
    ]
    for prices, shipping, message in bad:
        with pytest.raises(CliError, match=message):
            parse_listing_prices(prices, "AGR", shipping, decimals)
    for prices, shipping in ((["cheap"], []), (["1"], ["post"]), (["1:usd$"], []), (["1"], ["post=x:EURS"])):
        with pytest.raises(CliError):
            check_price_syntax(prices, shipping, "AGR")


def test_a_listing_update_changes_only_what_is_given() -> None:
    import asyncio

    from cli.listing_cmd import _update_body
    from market.bodies import ListingUpdate
    from market.records import ShippingOption

    lid = bytes.fromhex(LISTING)
    agr = {"asset": "AGR", "price": 1_000_000, "shipping": [{"index": 0, "name": "post", "price": 0}]}
    agr["prices"] = [{"asset": "AGR", "price": 1_000_000, "shipping": [0]}]

    def body(prices: list[str], shipping: list[str], stock: int | None = None) -> ListingUpdate:
        made: ListingUpdate = asyncio.run(_update_body(agr, None, lid, prices, shipping, stock, None, None))  # type: ignore[arg-type]
        return made

    assert body(["2"], []) == ListingUpdate(lid, price=2_000_000)
    assert body(["1"], [], stock=3) == ListingUpdate(lid, stock=3)  # the same price is no change
    assert body([], ["post=0.5"]) == ListingUpdate(lid, shipping=(ShippingOption("post", 500_000),))
    assert len(body(["2"], []).to_wire()) == 7  # an AGR listing's update keeps the short form


def test_a_split_is_explained_in_the_order_asset_unit() -> None:
    from cli.order_checks import split_refusal_text

    order = {"total": 1_250, "arbiter_fee": 62, "asset": "USDX"}
    assert split_refusal_text(order, 1_000, 188, False, "USDX", 2) is None
    text = split_refusal_text(order, 1_000, 100, False, "USDX", 2)
    assert text is not None and "add up to 11.88 USDX (the escrow 12.5 USDX less your fee 0.62 USDX)" in text
