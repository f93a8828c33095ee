"""``agora offer``: standing conversion offers between assets, and swaps that take them.

Rates are typed as people say them: ``--rate 1.08`` on an offer selling EURS for USDX means
one EURS costs 1.08 USDX, whatever the two assets' decimals. A swap either converts the
whole amount within ``--max-rate`` or fails; the CLI reads the book first and refuses before
signing when it cannot (``--force`` sends anyway).
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.context import app_context
from cli.errors import CliError
from cli.options import ForceOption, JsonOption, NodeOption, WriteOptions, write_command

if TYPE_CHECKING:
    from chain.keys import PrivateKey
    from market.assets.offers import Rate
    from node.client import NodeClient

app = typer.Typer(help="Conversion offers between assets: create, cancel, list, swap.", no_args_is_help=True)


def _asset(text: str, what: str) -> str:
    from cli.pricing import read_asset_code

    return read_asset_code(text, what)


async def decimals_of(client: NodeClient, asset: str) -> int:
    """The decimals of ``asset`` (AGR: 6); CliError if nobody issued it."""
    from cli.pricing import AGR, AGR_DECIMALS

    if asset == AGR:
        return AGR_DECIMALS
    from cli.asset_cmd import fetch_asset

    return int((await fetch_asset(client, asset))["decimals"])


def parse_rate(text: str, numerator_decimals: int, denominator_decimals: int, what: str) -> Rate:
    """``text`` units of one asset per unit of another, as an exact rate of minor units
    (market.assets.rate_text, which the web buy form reads rates with too); CliError if not."""
    from cli.errors import CliError
    from market.assets.rate_text import RateTextError, parse_unit_rate

    try:
        return parse_unit_rate(text, numerator_decimals, denominator_decimals, what)
    except RateTextError as exc:
        raise CliError(str(exc)) from None


def show_rate(rate: dict[str, Any], sell_decimals: int, buy_decimals: int) -> str:
    """A rate of minor units as units of buy per unit of sell, to 8 significant places."""
    value = Fraction(int(rate["num"]), int(rate["den"])) * 10**sell_decimals / 10**buy_decimals
    return f"{float(value):.8g}"


@app.command("create")
@write_command()
def create(
    ctx: typer.Context,
    how: WriteOptions,
    sell: Annotated[str, typer.Option("--sell", help="The asset you give (it is locked in the offer).")],
    buy: Annotated[str, typer.Option("--buy", help="The asset you take in exchange.")],
    rate: Annotated[str, typer.Option("--rate", help="Units of --buy per unit of --sell, e.g. 1.08.")],
    amount: Annotated[str, typer.Option("--amount", help="How much of --sell to offer, in its unit.")],
    expires: Annotated[str, typer.Option("--expires", help="How long it stands: 90m, 12h, 30d (at most 365d).")] = "7d",
    force: ForceOption = False,
) -> None:
    """Offer to exchange one asset for another at a rate, up to an amount, until an expiry."""
    from chain.address import encode_address
    from cli.amounts import format_amount, parse_amount
    from cli.errors import CliError
    from cli.market_tx import parse_duration, send_market_tx
    from cli.remote import fetch_account
    from market.assets.offers import OfferCreate

    app_ctx = app_context(ctx)
    give, take = _asset(sell, "--sell"), _asset(buy, "--buy")
    if give == take:
        raise CliError("--sell and --buy must be different assets")
    ttl = parse_duration(expires, "--expires")

    async def build(client: NodeClient, key: PrivateKey) -> OfferCreate:
        give_d, take_d = await decimals_of(client, give), await decimals_of(client, take)
        units = parse_amount(amount, decimals=give_d)
        held = int((await fetch_account(client, encode_address(key.public_key)))["balances"].get(give, 0))
        if held < units and not force:
            raise CliError(
                f"you hold {format_amount(held, give_d)} {give}, less than the {format_amount(units, give_d)} "
                "to lock in the offer (nothing was signed; --force sends it anyway)"
            )
        head = await client.status()
        now = int(head.get("head_time_ms") or 0)
        return OfferCreate(give, take, parse_rate(rate, take_d, give_d, "--rate"), units, now + ttl)

    send_market_tx(app_ctx, how, build, "offer")


@app.command("cancel")
@write_command()
def cancel(
    ctx: typer.Context,
    offer_id: Annotated[str, typer.Argument(metavar="OFFER_ID", help="The offer's id (64 hex).")],
    how: WriteOptions,
) -> None:
    """Withdraw your offer: what is left of it comes back to you."""
    from chain.address import encode_address
    from cli.errors import CliError
    from cli.market_tx import parse_id, send_market_tx
    from market.assets.offers import OfferCancel
    from node.client import NodeApiError

    app_ctx = app_context(ctx)
    oid = parse_id(offer_id, "offer id")

    async def build(client: NodeClient, key: PrivateKey) -> OfferCancel:
        try:
            offer = await client.offer(oid.hex())
        except NodeApiError as exc:
            if exc.reason == "not_found":
                raise CliError(
                    f"no standing offer {oid.hex()}: filled, cancelled, returned to its maker after it expired, "
                    "or never made"
                ) from None
            raise
        if offer["maker"] != encode_address(key.public_key):
            raise CliError(f"only the offer's maker ({offer['maker']}) may cancel it")
        return OfferCancel(oid)

    send_market_tx(app_ctx, how, build)


@app.command("list")
def list_(
    ctx: typer.Context,
    sell: Annotated[str, typer.Option("--sell", help="The asset the offers give.")],
    buy: Annotated[str, typer.Option("--buy", help="The asset the offers take.")],
    node: NodeOption = None,
    json_: JsonOption = False,
) -> None:
    """The book of offers selling one asset for another, best rate first."""
    from cli.amounts import format_amount
    from cli.remote import call
    from cli.render import local_time

    app_ctx = app_context(ctx)
    give, take = _asset(sell, "--sell"), _asset(buy, "--buy")

    async def read(client: NodeClient) -> tuple[dict[str, Any], int, int]:
        return await client.offers(give, take), await decimals_of(client, give), await decimals_of(client, take)

    book, give_d, take_d = call(app_ctx.resolve_node(node), read)
    if json_:
        app_ctx.output.json(book)
        return
    rows = [
        (
            o["id"],
            f"{show_rate(o['rate'], give_d, take_d)} {take}",
            f"{format_amount(int(o['remaining']), give_d)} {give}",
            local_time(int(o["expires_ms"])),
            o["maker"],
        )
        for o in book["items"]
    ]
    app_ctx.output.table(
        f"Offers selling {give} for {take}", ["id", f"price of 1 {give}", "left", "expires", "maker"], rows
    )


def plan_cost(book: list[dict[str, Any]], taker: bytes, now_ms: int, amount: int, max_rate: Rate) -> int:
    """What converting ``amount`` through the node's ``book`` costs, planned exactly as the chain
    fills it (market.assets.offers.plan_conversion); CliError naming why it would fail."""
    from chain.errors import TxFailure
    from cli.pricing import offers_from_json
    from market.assets.offers import plan_conversion

    try:
        return sum(f.paid for f in plan_conversion(offers_from_json(book), taker, amount, max_rate, now_ms))
    except TxFailure as failure:
        raise CliError(f"{failure.code}: {failure.message}") from None


@app.command("swap")
@write_command()
def swap(
    ctx: typer.Context,
    how: WriteOptions,
    pay: Annotated[str, typer.Option("--pay", help="The asset you pay with.")],
    want: Annotated[str, typer.Option("--want", help="The asset you receive.")],
    amount: Annotated[str, typer.Option("--amount", help="How much of --want to receive, in its unit.")],
    max_rate: Annotated[str, typer.Option("--max-rate", help="At most this many --pay per --want on any offer.")],
    force: ForceOption = False,
) -> None:
    """Convert: receive an amount of one asset, paying another through the best offers (all or nothing)."""
    from chain.address import encode_address
    from cli.amounts import format_amount, parse_amount
    from cli.errors import CliError
    from cli.market_tx import send_market_tx
    from cli.remote import fetch_account
    from market.assets.offers import OfferSwap

    app_ctx = app_context(ctx)
    paying, getting = _asset(pay, "--pay"), _asset(want, "--want")
    if paying == getting:
        raise CliError("--pay and --want must be different assets")

    async def build(client: NodeClient, key: PrivateKey) -> OfferSwap:
        pay_d, want_d = await decimals_of(client, paying), await decimals_of(client, getting)
        units = parse_amount(amount, decimals=want_d)
        limit = parse_rate(max_rate, pay_d, want_d, "--max-rate")
        me = encode_address(key.public_key)
        book = (await client.offers(getting, paying))["items"]
        now = int((await client.status()).get("head_time_ms") or 0)
        if not force:
            try:
                cost = plan_cost(book, key.public_key, now, units, limit)
            except CliError as exc:
                raise CliError(f"{exc} (nothing was signed; --force sends it anyway)") from None
            held = int((await fetch_account(client, me))["balances"].get(paying, 0))
            if held < cost:
                raise CliError(
                    f"the swap costs {format_amount(cost, pay_d)} {paying}; you hold {format_amount(held, pay_d)} "
                    "(nothing was signed; --force sends it anyway)"
                )
        return OfferSwap(paying, getting, units, limit)

    send_market_tx(app_ctx, how, build)
