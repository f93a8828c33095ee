"""``agora listing``: create and manage listings (signed locally), browse and show them."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.context import app_context
from cli.options import HomeOption, JsonOption, NodeOption, WriteOptions, write_command

if TYPE_CHECKING:
    from chain.keys import PrivateKey
    from node.client import NodeClient

app = typer.Typer(
    help="Sell things: create, update, pause, resume and delist listings; browse and show them.",
    no_args_is_help=True,
)

PRICE_HELP = "AGR as a decimal (1.5) or minor units with a 'u' suffix (1500000u)."
PRICES_HELP = (
    "Unit price, in the listing's asset (--asset, default AGR) or as AMOUNT:ASSET (12.00:USDX); "
    "repeat for a fixed price in each further asset you take (--price 12.00:USDX --price 10.00:EURX)."
)
ListingId = Annotated[str, typer.Argument(metavar="LISTING_ID", help="The listing id (64 hex digits).")]
ShippingOption = Annotated[
    list[str] | None,
    typer.Option(
        "--shipping",
        help="A shipping option NAME=PRICE[:ASSET] (e.g. standard=2.5 or pickup=0); repeat for several, and "
        "once per asset for a listing in several assets (a bare price is in the first asset, a bare 0 free in all).",
        show_default=False,
    ),
]


def _arbiters(home: Any, options: list[str]) -> tuple[Any, ...]:
    from chain.address import decode_address
    from cli.errors import CliError
    from cli.wallets import resolve_account
    from market.limits import MAX_ARBITER_FEE_BPS
    from market.records import ArbiterTerms

    terms = []
    for text in options:
        who, _, bps = text.partition("=")
        if bps and not (bps.isdigit() and int(bps) <= MAX_ARBITER_FEE_BPS):
            raise CliError(f"--arbiter {text!r}: the fee is 0..{MAX_ARBITER_FEE_BPS} basis points")
        terms.append(ArbiterTerms(decode_address(resolve_account(home, who)), int(bps or 0)))
    return tuple(terms)


def _windows(accept: str, ship: str, confirm: str, ruling: str) -> Any:
    from cli.errors import CliError
    from cli.market_tx import parse_duration
    from market.limits import MAX_WINDOW_MS, MIN_WINDOW_MS
    from market.records import Windows

    values = []
    for what, text in (("--accept-window", accept), ("--ship-window", ship), ("--confirm-window", confirm)):
        values.append((what, parse_duration(text, what)))
    values.append(("--ruling-window", parse_duration(ruling, "--ruling-window")))
    for what, ms in values:
        if not MIN_WINDOW_MS <= ms <= MAX_WINDOW_MS:
            raise CliError(f"{what} must be between 1m and 180d")
    return Windows(*(ms for _, ms in values))


@app.command("create")
@write_command()
def create(
    ctx: typer.Context,
    how: WriteOptions,
    title: Annotated[str, typer.Option("--title", help="What you sell (at most 120 bytes).")],
    price: Annotated[list[str], typer.Option("--price", help=PRICES_HELP)],
    stock: Annotated[int, typer.Option("--stock", min=0, max=10**9, help="Units available.")],
    asset: Annotated[
        str, typer.Option("--asset", help="The asset of a --price given without one (AGR or an issued symbol).")
    ] = "AGR",
    description: Annotated[str, typer.Option("--description", help="Longer text (at most 4 KiB).")] = "",
    shipping: ShippingOption = None,
    arbiter: Annotated[
        list[str] | None,
        typer.Option(
            "--arbiter",
            help="An arbiter you accept for disputes: WALLET|ADDRESS[=FEE_BPS] (fee in basis points, max 2500).",
            show_default=False,
        ),
    ] = None,
    media: Annotated[
        list[str] | None,
        typer.Option(
            "--media", help="SHA-256 (64 hex) of off-chain metadata or an image; repeatable.", show_default=False
        ),
    ] = None,
    accept_window: Annotated[str, typer.Option("--accept-window", help="Time you have to accept an order.")] = "2d",
    ship_window: Annotated[str, typer.Option("--ship-window", help="Time you have to ship an accepted order.")] = "5d",
    confirm_window: Annotated[
        str, typer.Option("--confirm-window", help="Time the buyer has to confirm; then you are paid automatically.")
    ] = "14d",
    ruling_window: Annotated[
        str, typer.Option("--ruling-window", help="Time the arbiter has to rule a dispute.")
    ] = "7d",
) -> None:
    """Create a listing; its id is the transaction hash (shown when it is committed).

    Priced in AGR by default, or in an issued asset, or in several at fixed prices."""
    from cli.market_tx import parse_id, send_market_tx
    from cli.pricing import asset_decimals, check_price_syntax, parse_listing_prices, price_assets, read_asset_code
    from market.bodies import ListingCreate

    app_ctx = app_context(ctx)
    own = read_asset_code(asset, "--asset")
    check_price_syntax(price, shipping or [], own)
    assets = price_assets(price, own)
    arbiters = _arbiters(app_ctx.resolve_home(how.home), arbiter or [])
    windows = _windows(accept_window, ship_window, confirm_window, ruling_window)
    hashes = tuple(parse_id(m, "media hash") for m in media or [])

    async def build(client: NodeClient, key: PrivateKey) -> Any:
        terms = parse_listing_prices(price, own, shipping or ["standard=0"], await asset_decimals(client, assets))
        return ListingCreate(
            title,
            description,
            terms.price,
            stock,
            terms.shipping,
            arbiters,
            windows,
            hashes,
            terms.asset,
            terms.alt_prices,
        )

    send_market_tx(app_ctx, how, build, created="listing")


@app.command("update")
@write_command()
def update(
    ctx: typer.Context,
    listing_id: ListingId,
    how: WriteOptions,
    price: Annotated[
        list[str] | None,
        typer.Option(
            "--price",
            help="New unit price in the listing's own asset, or AMOUNT:ASSET for (or to add) a price in a "
            f"further asset; repeatable. {PRICE_HELP}",
            show_default=False,
        ),
    ] = None,
    stock: Annotated[
        int | None, typer.Option("--stock", min=0, max=10**9, help="New number of units available.", show_default=False)
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="New title.", show_default=False)] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="New description.", show_default=False)
    ] = None,
    shipping: ShippingOption = None,
) -> None:
    """Change a listing's prices, stock, text or shipping options (only what you give changes)."""
    from cli.errors import CliError
    from cli.market_tx import parse_id, send_market_tx
    from cli.pricing import AGR, check_price_syntax

    if not price and stock is None and title is None and description is None and not shipping:
        raise CliError("nothing to update: give --price, --stock, --title, --description or --shipping")
    check_price_syntax(price or [], shipping or [], AGR)
    lid = parse_id(listing_id, "listing id")

    async def build(client: NodeClient, key: PrivateKey) -> Any:
        return await _update_body(
            await client.listing(lid.hex()), client, lid, price or [], shipping or [], stock, title, description
        )

    app_ctx = app_context(ctx)
    send_market_tx(app_ctx, how, build)


async def _update_body(
    listing: dict[str, Any],
    client: NodeClient,
    lid: bytes,
    prices: list[str],
    shipping: list[str],
    stock: int | None,
    title: str | None,
    description: str | None,
) -> Any:
    """The listing.update for the options given, priced in the listing's assets."""
    from cli.amounts import parse_amount
    from cli.errors import CliError
    from cli.pricing import asset_decimals, listing_assets, parse_listing_prices, split_asset
    from market.bodies import ListingUpdate
    from market.records import AssetPrice

    current = listing_assets(listing)
    own = str(current[0]["asset"])
    units = {str(p["asset"]): int(p["price"]) for p in current}
    ships = {str(p["asset"]): tuple(int(x) for x in p["shipping"]) for p in current}
    wanted = [split_asset(p, own, "--price") for p in prices]
    decimals = await asset_decimals(client, [*units, *(a for _, a in wanted)])
    for figure, asset in wanted:
        if asset not in decimals:
            raise CliError(f"no asset {asset} has been issued on this chain")
        units[asset] = parse_amount(figure, decimals=decimals[asset])
    order = [*(str(p["asset"]) for p in current), *(a for _, a in wanted if a not in ships)]
    if shipping:
        terms = parse_listing_prices([f"{units[a]}u:{a}" for a in order], own, shipping, decimals)
        options: Any = terms.shipping
        alt_prices = terms.alt_prices
    else:
        missing = [a for a in order if a not in ships]
        if missing:
            raise CliError(
                f"a new price in {missing[0]} needs its shipping prices: add --shipping NAME=PRICE:{missing[0]}"
            )
        options = None
        alt_prices = tuple(AssetPrice(a, units[a], ships[a]) for a in order[1:])
    old_alts = tuple(AssetPrice(str(p["asset"]), int(p["price"]), ships[str(p["asset"])]) for p in current[1:])
    return ListingUpdate(
        lid,
        units[own] if units[own] != int(current[0]["price"]) else None,
        stock,
        title,
        description,
        options,
        None,
        None if alt_prices == old_alts else alt_prices,
    )


def _status_command(kind: str, summary: str) -> None:
    def command(ctx: typer.Context, listing_id: ListingId, how: WriteOptions) -> None:
        from cli.market_tx import parse_id, send_market_tx
        from market import bodies

        body_class = {"pause": bodies.ListingPause, "resume": bodies.ListingResume, "delist": bodies.ListingDelist}[
            kind
        ]
        body = body_class(parse_id(listing_id, "listing id"))

        async def build(client: NodeClient, key: PrivateKey) -> Any:
            return body

        app_ctx = app_context(ctx)
        send_market_tx(app_ctx, how, build)

    command.__doc__ = summary
    app.command(kind)(write_command()(command))


_status_command("pause", "Stop taking orders on a listing (open orders continue).")
_status_command("resume", "Take orders again on a paused listing.")
_status_command("delist", "Withdraw a listing for good (open orders continue).")


@app.command("list")
def list_(
    ctx: typer.Context,
    merchant: Annotated[
        str | None,
        typer.Option("--merchant", help="Only this merchant's (wallet name or address).", show_default=False),
    ] = None,
    search: Annotated[
        str | None,
        typer.Option(
            "--search", "-q", help="Whole words that must all be in the title or description.", show_default=False
        ),
    ] = None,
    asset: Annotated[
        str | None,
        typer.Option(
            "--asset",
            help="Only listings that take this asset; --min/--max-price are in it (default AGR when a price "
            "bound is given: prices in different assets never compare).",
            show_default=False,
        ),
    ] = None,
    min_price: Annotated[
        str | None,
        typer.Option(
            "--min-price",
            help=f"{PRICE_HELP} In --asset's unit when given; without --asset, only listings that take AGR, "
            "at their AGR price.",
            show_default=False,
        ),
    ] = None,
    max_price: Annotated[
        str | None,
        typer.Option(
            "--max-price",
            help=f"{PRICE_HELP} In --asset's unit when given; without --asset, only listings that take AGR, "
            "at their AGR price.",
            show_default=False,
        ),
    ] = None,
    in_stock: Annotated[bool, typer.Option("--in-stock", help="Only listings with stock left.")] = False,
    status: Annotated[str, typer.Option("--status", help="active, paused, delisted or any.")] = "active",
    limit: Annotated[int, typer.Option("--limit", min=1, max=100, help="Listings per page.")] = 20,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Continue after a previous page.", show_default=False)
    ] = None,
    home: HomeOption = None,
    node: NodeOption = None,
    json_: JsonOption = False,
) -> None:
    """Browse listings: by merchant, words, asset, price range, stock and status (oldest first;
    with a price bound and neither words nor a merchant, cheapest first)."""
    from cli.amounts import parse_amount
    from cli.errors import CliError
    from cli.market_render import show_listings
    from cli.pricing import AGR, AGR_DECIMALS, asset_decimals, read_asset_code
    from cli.remote import call
    from cli.wallets import resolve_account

    app_ctx = app_context(ctx)
    wanted = None if asset is None else read_asset_code(asset, "--asset")
    if wanted is None and (min_price is not None or max_price is not None):
        wanted = AGR  # a price bound is in one asset: AGR unless --asset names another
    for bound in (min_price, max_price):
        if bound is not None and wanted in (None, AGR):
            parse_amount(bound, allow_zero=True)  # refused here, before the node is asked
    filters: dict[str, str | int | bool | None] = {
        "merchant": None if merchant is None else resolve_account(app_ctx.resolve_home(home), merchant),
        "q": search,
        "asset": wanted,
        "in_stock": in_stock or None,
        "status": status,
        "limit": limit,
        "cursor": cursor,
    }

    async def read(client: NodeClient) -> tuple[dict[str, Any], dict[str, int]]:
        places = AGR_DECIMALS
        if wanted not in (None, AGR):
            known = await asset_decimals(client, [wanted])
            if wanted not in known:
                raise CliError(f"no asset {wanted} has been issued on this chain")
            places = known[wanted]
        for key, bound in (("min_price", min_price), ("max_price", max_price)):
            filters[key] = None if bound is None else parse_amount(bound, allow_zero=True, decimals=places)
        return await _with_decimals(client, client.listings(**filters))

    page, decimals = call(app_ctx.resolve_node(node), read)
    if json_:
        app_ctx.output.json(page)
    else:
        show_listings(app_ctx.output, page, decimals)


@app.command("show")
def show(
    ctx: typer.Context,
    listing_id: ListingId,
    home: HomeOption = None,
    node: NodeOption = None,
    json_: JsonOption = False,
) -> None:
    """Show a listing: price, stock, shipping options, accepted arbiters and deadlines."""
    from cli.market_render import show_listing
    from cli.market_tx import parse_id
    from cli.remote import call

    app_ctx = app_context(ctx)
    clean = parse_id(listing_id, "listing id").hex()
    listing, decimals = call(app_ctx.resolve_node(node), lambda client: _with_decimals(client, client.listing(clean)))
    if json_:
        app_ctx.output.json(listing)
    else:
        from cli.wallets import wallet_names

        show_listing(app_ctx.output, listing, wallet_names(app_ctx.resolve_home(home)), decimals)


async def _with_decimals(client: NodeClient, read: Awaitable[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, int]]:
    """A listing (or a page of them) and the decimals of every asset it is priced in."""
    from cli.pricing import asset_decimals, listing_assets

    value = await read
    listings = value.get("items") if "items" in value else [value]
    assets = {str(p.get("asset")) for item in listings or [] for p in listing_assets(item)}
    return value, await asset_decimals(client, assets)
