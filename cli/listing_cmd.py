"""``agora listing``: create and manage listings (signed locally), browse and show them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.context import app_context
from cli.market_options import FeeOption, FromOption, TimeoutOption, WaitOption, sending
from cli.options import HomeOption, JsonOption, NodeOption, PasswordFileOption

if TYPE_CHECKING:
    from chain.keys import PrivateKey
    from node.client import NodeClient

app = typer.Typer(
    help="Sell things: create, update, pause, resume and delist listings; browse and show them.",
    no_args_is_help=True,
)

PRICE_HELP = "AGR as a decimal (1.5) or minor units with a 'u' suffix (1500000u)."
ListingId = Annotated[str, typer.Argument(metavar="LISTING_ID", help="The listing id (64 hex digits).")]
ShippingOption = Annotated[
    list[str] | None,
    typer.Option(
        "--shipping",
        help="A shipping option NAME=PRICE (e.g. standard=2.5 or pickup=0); repeat for several.",
        show_default=False,
    ),
]


def _shipping(options: list[str]) -> tuple[Any, ...]:
    from cli.market_tx import parse_named_amount
    from market.records import ShippingOption as Option

    return tuple(Option(*parse_named_amount(text, "--shipping")) for text in options)


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
def create(
    ctx: typer.Context,
    sender: FromOption,
    title: Annotated[str, typer.Option("--title", help="What you sell (at most 120 bytes).")],
    price: Annotated[str, typer.Option("--price", help=f"Unit price: {PRICE_HELP}")],
    stock: Annotated[int, typer.Option("--stock", min=0, max=10**9, help="Units available.")],
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
    fee: FeeOption = None,
    wait: WaitOption = True,
    timeout: TimeoutOption = 30.0,
    home: HomeOption = None,
    node: NodeOption = None,
    password_file: PasswordFileOption = None,
    json_: JsonOption = False,
) -> None:
    """Create a listing; its id is the transaction hash (shown when it is committed)."""
    from cli.amounts import parse_amount
    from cli.market_tx import parse_id, send_market_tx
    from market.bodies import ListingCreate

    app_ctx = app_context(ctx)
    body = ListingCreate(
        title,
        description,
        parse_amount(price),
        stock,
        _shipping(shipping or ["standard=0"]),
        _arbiters(app_ctx.resolve_home(home), arbiter or []),
        _windows(accept_window, ship_window, confirm_window, ruling_window),
        tuple(parse_id(m, "media hash") for m in media or []),
    )

    async def build(client: NodeClient, key: PrivateKey) -> Any:
        return body

    how = sending(sender, fee, wait, timeout, home, node, password_file, json_)
    send_market_tx(app_ctx, how, build, created="listing")


@app.command("update")
def update(
    ctx: typer.Context,
    listing_id: ListingId,
    sender: FromOption,
    price: Annotated[
        str | None, typer.Option("--price", help=f"New unit price: {PRICE_HELP}", show_default=False)
    ] = None,
    stock: Annotated[
        int | None, typer.Option("--stock", min=0, max=10**9, help="New number of units available.", show_default=False)
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="New title.", show_default=False)] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="New description.", show_default=False)
    ] = None,
    shipping: ShippingOption = None,
    fee: FeeOption = None,
    wait: WaitOption = True,
    timeout: TimeoutOption = 30.0,
    home: HomeOption = None,
    node: NodeOption = None,
    password_file: PasswordFileOption = None,
    json_: JsonOption = False,
) -> None:
    """Change a listing's price, stock, text or shipping options (only what you give changes)."""
    from cli.amounts import parse_amount
    from cli.errors import CliError
    from cli.market_tx import parse_id, send_market_tx
    from market.bodies import ListingUpdate

    if price is None and stock is None and title is None and description is None and not shipping:
        raise CliError("nothing to update: give --price, --stock, --title, --description or --shipping")
    body = ListingUpdate(
        parse_id(listing_id, "listing id"),
        None if price is None else parse_amount(price),
        stock,
        title,
        description,
        _shipping(shipping) if shipping else None,
    )

    async def build(client: NodeClient, key: PrivateKey) -> Any:
        return body

    app_ctx = app_context(ctx)
    send_market_tx(app_ctx, sending(sender, fee, wait, timeout, home, node, password_file, json_), build)


def _status_command(kind: str, summary: str) -> None:
    def command(
        ctx: typer.Context,
        listing_id: ListingId,
        sender: FromOption,
        fee: FeeOption = None,
        wait: WaitOption = True,
        timeout: TimeoutOption = 30.0,
        home: HomeOption = None,
        node: NodeOption = None,
        password_file: PasswordFileOption = None,
        json_: JsonOption = False,
    ) -> None:
        from cli.market_tx import parse_id, send_market_tx
        from market import bodies

        body_class = {"pause": bodies.ListingPause, "resume": bodies.ListingResume, "delist": bodies.ListingDelist}[
            kind
        ]
        body = body_class(parse_id(listing_id, "listing id"))

        async def build(client: NodeClient, key: PrivateKey) -> Any:
            return body

        app_ctx = app_context(ctx)
        send_market_tx(app_ctx, sending(sender, fee, wait, timeout, home, node, password_file, json_), build)

    command.__doc__ = summary
    app.command(kind)(command)


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
    min_price: Annotated[str | None, typer.Option("--min-price", help=PRICE_HELP, show_default=False)] = None,
    max_price: Annotated[str | None, typer.Option("--max-price", help=PRICE_HELP, show_default=False)] = None,
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
    """Browse listings: by merchant, words, price range, stock and status (oldest first)."""
    from cli.amounts import parse_amount
    from cli.market_render import show_listings
    from cli.remote import call
    from cli.wallets import resolve_account

    app_ctx = app_context(ctx)
    filters: dict[str, str | int | bool | None] = {
        "merchant": None if merchant is None else resolve_account(app_ctx.resolve_home(home), merchant),
        "q": search,
        "min_price": None if min_price is None else parse_amount(min_price, allow_zero=True),
        "max_price": None if max_price is None else parse_amount(max_price, allow_zero=True),
        "in_stock": in_stock or None,
        "status": status,
        "limit": limit,
        "cursor": cursor,
    }
    page = call(app_ctx.resolve_node(node), lambda client: client.listings(**filters))
    if json_:
        app_ctx.output.json(page)
    else:
        show_listings(app_ctx.output, page)


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
    listing = call(app_ctx.resolve_node(node), lambda client: client.listing(clean))
    if json_:
        app_ctx.output.json(listing)
    else:
        from cli.wallets import wallet_names

        show_listing(app_ctx.output, listing, wallet_names(app_ctx.resolve_home(home)))
