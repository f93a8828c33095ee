"""``agora points``: loyalty points. A merchant opens a programme; buyers earn points when their
orders settle and spend them with ``agora order place --redeem N``; anyone reads a balance and
its history (the API serves both with ``?prove=true``: proofs against the certified state root)."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.context import app_context
from cli.options import HomeOption, JsonOption, NodeOption, WriteOptions, write_command

if TYPE_CHECKING:
    from chain.keys import PrivateKey
    from market.points import Programme
    from node.client import NodeClient

app = typer.Typer(help="Loyalty points: open a programme, read balances and history.", no_args_is_help=True)

MerchantArg = Annotated[str, typer.Argument(metavar="MERCHANT", help="The merchant: a wallet name or an address.")]
AccountArg = Annotated[str, typer.Argument(metavar="ACCOUNT", help="Whose points: a wallet name or an address.")]


def _parse_share(text: str) -> int:
    """``50%`` or ``50`` as basis points (0..10,000)."""
    from cli.errors import CliError

    cleaned = text.strip().removesuffix("%")
    try:
        value = float(cleaned)
    except ValueError:
        raise CliError(f"--max-share: {text!r} is not a percentage (write 50%)") from None
    if not 0 <= value <= 100:
        raise CliError("--max-share must be between 0% and 100%")
    return round(value * 100)


def programme_of(view: dict[str, Any]) -> Programme:
    """The programme record the API's JSON describes (for the chain's own refusal rules)."""
    from chain.address import decode_address
    from market.points import Programme, Terms, Tier

    t = view["terms"]
    terms = Terms(
        t["asset"],
        int(t["unit"]),
        int(t["rate"]),
        int(t["point_value"]),
        int(t["max_redeem_bps"]),
        int(t["expiry_ms"] or 0),
        int(t["ends_ms"] or 0),
        tuple(Tier(int(x["threshold"]), int(x["rate"])) for x in t["tiers"]),
    )
    return Programme(decode_address(view["merchant"]), terms, int(view["created_height"]))


@app.command("open")
@write_command()
def open_(
    ctx: typer.Context,
    how: WriteOptions,
    rate: Annotated[int, typer.Option("--rate", min=0, max=1_000_000, help="Points earned per --per spent.")],
    point_value: Annotated[
        str, typer.Option("--point-value", help="What one point takes off an order, in the asset's unit (0.01).")
    ],
    per: Annotated[str, typer.Option("--per", help="The spend that earns --rate points, in the asset's unit.")] = "1",
    asset: Annotated[str, typer.Option("--asset", help="AGR or an issued asset: spend in it earns.")] = "AGR",
    max_share: Annotated[
        str, typer.Option("--max-share", help="The largest share of an order points may pay (50%).")
    ] = "50%",
    expiry: Annotated[
        str | None, typer.Option("--expiry", help="Earned points expire after this long (30d); default never.")
    ] = None,
    ends_in: Annotated[
        str | None, typer.Option("--ends-in", help="The programme ends after this long (365d); default never.")
    ] = None,
    tier: Annotated[
        list[str] | None,
        typer.Option("--tier", help="SPENT=RATE: from SPENT (asset's unit, lifetime) on, RATE points per --per."),
    ] = None,
) -> None:
    """Open your (the --from wallet's) points programme: one per merchant, its terms public."""
    from cli.amounts import parse_amount
    from cli.errors import CliError
    from cli.market_tx import parse_duration, send_market_tx
    from cli.offer_cmd import _asset, decimals_of
    from cli.order_checks import chain_now_ms
    from market.points import MAX_TIERS, PointsOpen, Terms, Tier

    code = _asset(asset, "--asset")
    share = _parse_share(max_share)
    expiry_ms = 0 if expiry is None else parse_duration(expiry, "--expiry")
    ends_ms_in = 0 if ends_in is None else parse_duration(ends_in, "--ends-in")
    tiers_text = tier or []
    if len(tiers_text) > MAX_TIERS:
        raise CliError(f"at most {MAX_TIERS} tiers")

    async def build(client: NodeClient, key: PrivateKey) -> PointsOpen:
        from chain.address import encode_address
        from node.client import NodeApiError

        decimals = await decimals_of(client, code)
        tiers = []
        for text in tiers_text:
            spent, sep, tier_rate = text.partition("=")
            if not sep or not tier_rate.strip().isdigit():
                raise CliError(f"--tier {text!r}: write SPENT=RATE, e.g. 100=2")
            tiers.append(Tier(parse_amount(spent, decimals=decimals), int(tier_rate)))
        if any(a.threshold >= b.threshold for a, b in itertools.pairwise(tiers)):
            raise CliError("--tier thresholds must rise strictly")
        try:
            await client.points(encode_address(key.public_key))
        except NodeApiError as exc:
            if exc.reason != "not_found":
                raise
        else:
            raise CliError("you already run a points programme (nothing was signed)")
        ends = 0 if not ends_ms_in else await chain_now_ms(client) + ends_ms_in
        terms = Terms(
            code,
            parse_amount(per, decimals=decimals),
            rate,
            parse_amount(point_value, decimals=decimals),
            share,
            expiry_ms,
            ends,
            tuple(tiers),
        )
        return PointsOpen(terms)

    send_market_tx(app_context(ctx), how, build)


def _resolve(ctx: typer.Context, home: Any, text: str) -> str:
    from cli.wallets import resolve_account

    return resolve_account(app_context(ctx).resolve_home(home), text)


def _show_programme(out: Any, view: dict[str, Any], decimals: int) -> None:
    from cli.amounts import format_amount
    from cli.render import deadline, duration

    t = view["terms"]
    asset = t["asset"]
    tiers = ", ".join(f"from {format_amount(x['threshold'], decimals)}: {x['rate']}" for x in t["tiers"]) or "none"
    out.fields(
        f"Points programme of {view['merchant']}",
        [
            ("earn", f"{t['rate']} points per {format_amount(t['unit'], decimals)} {asset} spent"),
            ("tiers", tiers),
            ("a point is worth", f"{format_amount(t['point_value'], decimals)} {asset}"),
            ("redeem at most", f"{t['max_redeem_bps'] / 100:g} % of an order"),
            ("points expire after", "never" if not t["expiry_ms"] else duration(t["expiry_ms"])),
            ("ends", "never" if not t["ends_ms"] else ("ENDED " if view["ended"] else "") + deadline(t["ends_ms"])),
            ("earned / redeemed / expired", f"{view['earned']} / {view['redeemed']} / {view['expired']}"),
            ("outstanding", view["outstanding"]),
        ],
    )


@app.command("balance")
def balance(
    ctx: typer.Context,
    merchant: MerchantArg,
    account: Annotated[
        str | None, typer.Argument(metavar="[ACCOUNT]", help="Whose points (default: the programme only).")
    ] = None,
    home: HomeOption = None,
    node: NodeOption = None,
    json_: JsonOption = False,
) -> None:
    """A merchant's programme, and an account's live points with it."""
    from cli.offer_cmd import decimals_of
    from cli.remote import call

    app_ctx = app_context(ctx)
    m = _resolve(ctx, home, merchant)
    a = None if account is None else _resolve(ctx, home, account)

    async def read(client: NodeClient) -> tuple[dict[str, Any], int]:
        view = await _fetch(client, m, a)
        terms = (view["programme"] if a else view)["terms"]
        return view, await decimals_of(client, terms["asset"])

    view, decimals = call(app_ctx.resolve_node(node), read)
    if json_:
        app_ctx.output.json(view)
        return
    out = app_ctx.output
    _show_programme(out, view["programme"] if a else view, decimals)
    if a:
        from cli.amounts import format_amount

        terms_asset = view["programme"]["terms"]["asset"]
        out.fields(
            f"Points of {a}",
            [
                ("balance", f"{view['balance']} points"),
                ("lifetime spend", f"{format_amount(view['spent'], decimals)} {terms_asset}"),
                ("lots", ", ".join(_lot(lot) for lot in view["lots"]) or "none"),
            ],
        )


def _lot(lot: dict[str, Any]) -> str:
    from cli.render import deadline

    if not lot["expires_ms"]:
        return f"{lot['points']} (no expiry)"
    return f"{lot['points']} ({'expires' if lot['live'] else 'EXPIRED'} {deadline(lot['expires_ms'])})"


async def _fetch(client: NodeClient, merchant: str, account: str | None, start: int = 0, limit: int = 100) -> Any:
    from cli.remote import found_or_fail

    request = client.points(merchant) if account is None else client.points_of(merchant, account, start, limit)
    return await found_or_fail(request, f"{merchant} runs no points programme")


@app.command("history")
def history(
    ctx: typer.Context,
    merchant: MerchantArg,
    account: AccountArg,
    start: Annotated[int, typer.Option("--from", min=0, help="First entry to show.")] = 0,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="Entries to show.")] = 100,
    home: HomeOption = None,
    node: NodeOption = None,
    json_: JsonOption = False,
) -> None:
    """Every change of an account's points with a merchant: earned, redeemed, restored, expired."""
    from cli.remote import call

    app_ctx = app_context(ctx)
    m, a = _resolve(ctx, home, merchant), _resolve(ctx, home, account)
    view = call(app_ctx.resolve_node(node), lambda client: _fetch(client, m, a, start, limit))
    if json_:
        app_ctx.output.json(view)
        return
    from cli.render import when

    app_ctx.output.table(
        f"Points of {a} with {m}: {view['balance']} now ({view['history_count']} entries)",
        ["#", "what", "points", "order", "block", "expires"],
        [
            (
                e["index"],
                e["kind"],
                ("-" if e["kind"] in ("redeem", "expire") else "+") + str(e["points"]),
                (e["order_id"] or "")[:16],
                e["height"],
                when(e["expires_ms"]) if e["expires_ms"] else "",
            )
            for e in view["history"]
        ],
    )
