"""Prices in any asset for the ``listing`` and ``order`` commands: parsing ``12.00:USDX``,
the decimals of the assets a view shows, and standing offers read back from the node.

A price is typed in its asset's own unit (``12.00:USDX``, ``1.5`` for AGR); the chain keeps
minor units. Rendering needs each asset's decimals, which only the node knows: commands
fetch them once per view with :func:`asset_decimals`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from cli.amounts import DECIMALS
from cli.errors import CliError

if TYPE_CHECKING:
    from market.assets.offers import Offer
    from market.records import AssetPrice
    from market.records import ShippingOption as Shipping
    from node.client import NodeClient

AGR: Final = "AGR"
AGR_DECIMALS: Final = DECIMALS


def read_asset_code(text: str, what: str) -> str:
    """An asset symbol as typed (case-insensitive): AGR or a valid issued symbol, else CliError."""
    from chain.encoding import DecodeError
    from market.assets.records import read_asset

    code = text.strip().upper()
    try:
        return read_asset(code, what)
    except DecodeError as exc:
        raise CliError(f"bad asset: {exc}") from None


def split_asset(text: str, default: str, what: str) -> tuple[str, str]:
    """``AMOUNT[:ASSET]`` as (amount text, asset); the asset is ``default`` when not given."""
    amount, sep, asset = text.rpartition(":")
    if not sep:
        return text.strip(), default
    if not amount.strip():
        raise CliError(f"{what}: {text!r} must look like AMOUNT or AMOUNT:ASSET (e.g. 12.00:USDX)")
    return amount.strip(), read_asset_code(asset, what)


async def asset_decimals(client: NodeClient, assets: Iterable[str]) -> dict[str, int]:
    """The decimals of each asset (AGR: 6); an asset the node does not know is left out."""
    from node.client import NodeApiError

    known: dict[str, int] = {}
    for asset in sorted(set(assets)):
        if asset == AGR:
            known[asset] = AGR_DECIMALS
            continue
        try:
            known[asset] = int((await client.asset(asset))["decimals"])
        except NodeApiError:
            continue
    return known


def money(minor: Any, asset: str = AGR, decimals: Mapping[str, int] | None = None) -> str:
    """``minor`` units of ``asset`` as "12.5 USDX (1250)" (raw "1250u USDX" when its decimals are unknown)."""
    from cli.render import agr

    places = AGR_DECIMALS if asset == AGR else (decimals or {}).get(asset)
    if places is None or not isinstance(minor, int) or minor < 0:
        return f"{minor}u {asset}"
    return agr(minor, asset, places)


def listing_assets(listing: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A listing's prices as the node shows them, its own asset first (an older node: AGR only)."""
    prices = listing.get("prices")
    if isinstance(prices, list) and prices:
        return [p for p in prices if isinstance(p, dict)]
    shipping = [int(s.get("price", 0)) for s in listing.get("shipping") or []]
    return [{"asset": listing.get("asset") or AGR, "price": listing.get("price"), "shipping": shipping}]


@dataclass(frozen=True, slots=True)
class ListingPrices:
    """What ``--price`` and ``--shipping`` say, in minor units: the listing's own asset, its
    price and shipping options, and its further prices."""

    asset: str
    price: int
    shipping: tuple[Shipping, ...]
    alt_prices: tuple[AssetPrice, ...]


def price_assets(prices: list[str], default: str) -> list[str]:
    """The assets the ``--price`` options name, in order (a bare price is in ``default``)."""
    assets = [split_asset(p, default, "--price")[1] for p in prices]
    if len(set(assets)) != len(assets):
        raise CliError("--price: give one price per asset")
    return assets


def parse_listing_prices(
    prices: list[str], default: str, shipping: list[str], decimals: Mapping[str, int]
) -> ListingPrices:
    """Parse repeatable ``--price AMOUNT[:ASSET]`` (the first is the listing's own asset) and
    ``--shipping NAME=PRICE[:ASSET]`` (a bare price is in the first asset; a bare 0 is free in
    every asset). Every shipping option needs a price in every asset the listing takes."""
    from cli.amounts import AmountError, parse_amount
    from market.limits import MAX_PRICES
    from market.records import AssetPrice
    from market.records import ShippingOption as Shipping

    if not prices:
        raise CliError("give the price with --price AMOUNT[:ASSET]")
    if len(prices) > MAX_PRICES:
        raise CliError(f"--price: a listing takes at most {MAX_PRICES} assets")
    assets = price_assets(prices, default)
    for asset in assets:
        if asset not in decimals:
            raise CliError(f"no asset {asset} has been issued on this chain")

    def amount(text: str, asset: str, what: str, allow_zero: bool) -> int:
        try:
            return parse_amount(text, allow_zero=allow_zero, decimals=decimals[asset])
        except AmountError as exc:
            raise CliError(f"{what}: {exc}") from None

    units = [
        amount(split_asset(p, default, "--price")[0], a, "--price", False) for p, a in zip(prices, assets, strict=True)
    ]
    names: list[str] = []
    table: dict[tuple[str, str], int] = {}
    for text in shipping:
        name, sep, rest = text.partition("=")
        if not sep or not name.strip():
            raise CliError(f"--shipping: {text!r} must look like NAME=AMOUNT[:ASSET] (e.g. standard=2.5)")
        name = name.strip()
        figure, asset = split_asset(rest, "", "--shipping")
        if name not in names:
            names.append(name)
        if asset and asset not in assets:
            raise CliError(f"--shipping {text!r}: the listing is not priced in {asset}")
        if asset:
            table[(name, asset)] = amount(figure, asset, "--shipping", True)
            continue
        value = amount(figure, assets[0], "--shipping", True)
        table.setdefault((name, assets[0]), value)
        if value == 0:
            for other in assets[1:]:
                table.setdefault((name, other), 0)
    for name in names:
        for asset in assets:
            if (name, asset) not in table:
                raise CliError(f"--shipping {name} has no price in {asset}: add --shipping {name}=PRICE:{asset}")
    own = assets[0]
    return ListingPrices(
        own,
        units[0],
        tuple(Shipping(n, table[(n, own)]) for n in names),
        tuple(
            AssetPrice(a, u, tuple(table[(n, a)] for n in names)) for a, u in zip(assets[1:], units[1:], strict=True)
        ),
    )


def check_price_syntax(prices: list[str], shipping: list[str], default: str) -> None:
    """Refuse, before any wallet or node is touched, a ``--price`` or ``--shipping`` that is
    not ``AMOUNT[:ASSET]`` / ``NAME=AMOUNT[:ASSET]`` with a number (each asset's decimals are
    checked later, once the node says them)."""
    from cli.amounts import AmountError, parse_amount
    from market.assets.records import MAX_DECIMALS

    for what, text in [*(("--price", p) for p in prices), *(("--shipping", s) for s in shipping)]:
        figure = text
        if what == "--shipping":
            name, sep, figure = text.partition("=")
            if not sep or not name.strip():
                raise CliError(f"--shipping: {text!r} must look like NAME=AMOUNT[:ASSET] (e.g. standard=2.5)")
        try:
            parse_amount(split_asset(figure, default, what)[0], allow_zero=True, decimals=MAX_DECIMALS)
        except AmountError as exc:
            raise CliError(f"{what}: {exc}") from None
    price_assets(prices, default)


def offers_from_json(items: Iterable[Mapping[str, Any]]) -> list[Offer]:
    """The node's book (``GET /api/v1/offers``) as offer records, in its order, for planning."""
    from chain.address import decode_address
    from market.assets.offers import Offer, Rate

    return [
        Offer(
            bytes.fromhex(str(o["id"])),
            decode_address(str(o["maker"])),
            str(o["sell"]),
            str(o["buy"]),
            Rate(int(o["rate"]["num"]), int(o["rate"]["den"])),
            int(o["remaining"]),
            int(o["expires_ms"]),
        )
        for o in items
    ]
