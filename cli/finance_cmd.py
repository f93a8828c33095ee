"""``agora finance``: receivable financing. A financier reads an order and its merchant's record,
offers an advance below the order's payout; the merchant accepts it (paid now, the financier
becomes the order's payee); the settlement pays the financier. Every write command refuses
before signing what the chain would fail (``--force`` sends it anyway)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.context import app_context
from cli.options import ForceOption, HomeOption, JsonOption, NodeOption, WriteOptions, write_command

if TYPE_CHECKING:
    from chain.keys import PrivateKey
    from node.client import NodeClient

app = typer.Typer(
    help="Receivable financing: list a merchant's orders, read one and the merchant's record, "
    "offer, accept or withdraw an advance.",
    no_args_is_help=True,
)

OrderArg = Annotated[str, typer.Argument(metavar="ORDER_ID", help="The order (64 hex).")]
OfferArg = Annotated[str, typer.Argument(metavar="OFFER_ID", help="The financing offer (64 hex), printed by offer.")]


async def fetch_finance_order(client: NodeClient, order_id: str) -> dict[str, Any]:
    """The order's financing view; CliError if the node has no such order."""
    from cli.order_checks import FORCE_HINT
    from cli.remote import found_or_fail

    return await found_or_fail(client.finance_order(order_id), f"no order {order_id} on the node {FORCE_HINT}")


async def fetch_finance_offer(client: NodeClient, offer_id: str) -> dict[str, Any]:
    """An open financing offer; CliError if it is gone (accepted, withdrawn, returned) or never was."""
    from cli.order_checks import FORCE_HINT
    from cli.remote import found_or_fail

    missing = f"no open financing offer {offer_id}: accepted, withdrawn or never made {FORCE_HINT}"
    return await found_or_fail(client.finance_offer(offer_id), missing)


def offer_refusal_text(view: dict[str, Any], me: str, advance: int) -> str | None:
    """Why ``me`` cannot offer (or accept) ``advance`` on the order ``view`` (the node's financing
    view), in words, or None: the checks of market.finance.offer_refusal."""
    if me == view["merchant"]:
        return "a merchant cannot finance its own order"
    if not view["financeable"] and view["financing"] is None:
        return f"only an accepted, funded order can be financed; this one is {view['state']}"
    if view["financing"] is not None:
        return "the order is already financed"
    if advance >= int(view["payout"]):
        return f"the advance must be below the order's payout of {view['payout']}u {view['asset']}"
    return None


def _amount(units: int, asset: str, decimals: int) -> str:
    from cli.amounts import format_amount

    return f"{format_amount(units, decimals)} {asset}"


def _id(text: str, what: str) -> str:
    from cli.market_tx import parse_id

    return parse_id(text, what).hex()


@app.command("offer")
@write_command()
def offer(
    ctx: typer.Context,
    order_id: OrderArg,
    how: WriteOptions,
    advance: Annotated[str, typer.Option("--advance", help="What you pay the merchant now, in the order's asset.")],
    expires: Annotated[str, typer.Option("--expires", help="How long the offer stands (2h, 3d; at most 180d).")] = "1d",
    force: ForceOption = False,
) -> None:
    """Offer an advance on an accepted, funded order: locked until the merchant accepts it or you withdraw."""
    from cli.market_tx import parse_duration, send_market_tx

    oid = _id(order_id, "order id")
    ttl = parse_duration(expires, "--expires")

    async def build(client: NodeClient, key: PrivateKey) -> Any:
        from chain.address import encode_address
        from cli.amounts import format_amount, parse_amount
        from cli.offer_cmd import decimals_of
        from cli.order_checks import chain_now_ms, refuse
        from cli.remote import fetch_account
        from market.finance import FinanceOffer

        view = await fetch_finance_order(client, oid)
        asset = view["asset"]
        decimals = await decimals_of(client, asset)
        units = parse_amount(advance, decimals=decimals)
        if not force:
            me = encode_address(key.public_key)
            refuse(offer_refusal_text(view, me, units))
            held = int((await fetch_account(client, me))["balances"].get(asset, 0))
            if held < units:
                refuse(f"you hold {format_amount(held, decimals)} {asset}, less than the advance")
        return FinanceOffer(bytes.fromhex(oid), units, await chain_now_ms(client) + ttl)

    send_market_tx(app_context(ctx), how, build, "offer")


@app.command("accept")
@write_command()
def accept(ctx: typer.Context, offer_id: OfferArg, how: WriteOptions, force: ForceOption = False) -> None:
    """Take an advance on your order: paid to you now; the financier becomes the order's payee."""
    from cli.market_tx import send_market_tx

    fid = _id(offer_id, "offer id")

    async def build(client: NodeClient, key: PrivateKey) -> Any:
        from chain.address import encode_address
        from cli.order_checks import chain_now_ms, refuse
        from market.finance import FinanceAccept

        if not force:
            found = await fetch_finance_offer(client, fid)
            view = await fetch_finance_order(client, found["order_id"])
            me = encode_address(key.public_key)
            if view["merchant"] != me:
                refuse(f"only the order's merchant ({view['merchant']}) may accept an advance on it")
            if await chain_now_ms(client) >= int(found["expires_ms"]):
                refuse(f"the offer expired at {found['expires_ms']}")
            refuse(offer_refusal_text(view, found["financier"], int(found["advance"])))
        return FinanceAccept(bytes.fromhex(fid))

    send_market_tx(app_context(ctx), how, build)


@app.command("withdraw")
@write_command()
def withdraw(ctx: typer.Context, offer_id: OfferArg, how: WriteOptions, force: ForceOption = False) -> None:
    """Take back an offer the merchant has not accepted: the advance returns to you."""
    from cli.market_tx import send_market_tx

    fid = _id(offer_id, "offer id")

    async def build(client: NodeClient, key: PrivateKey) -> Any:
        from chain.address import encode_address
        from cli.order_checks import refuse
        from market.finance import FinanceWithdraw

        if not force:
            found = await fetch_finance_offer(client, fid)
            if found["financier"] != encode_address(key.public_key):
                refuse(f"only the financier ({found['financier']}) may withdraw this offer")
        return FinanceWithdraw(bytes.fromhex(fid))

    send_market_tx(app_context(ctx), how, build)


@app.command("record")
def record(
    ctx: typer.Context,
    merchant: Annotated[str, typer.Argument(metavar="MERCHANT", help="A wallet name or an address.")],
    home: HomeOption = None,
    node: NodeOption = None,
    json_: JsonOption = False,
) -> None:
    """A merchant's record for financiers: settled volume, dispute and refund rates, debts, open financings."""
    from cli.remote import call
    from cli.wallets import resolve_account

    app_ctx = app_context(ctx)
    address = resolve_account(app_ctx.resolve_home(home), merchant)

    async def read(client: NodeClient) -> tuple[dict[str, Any], dict[str, int]]:
        from cli.offer_cmd import decimals_of

        view = await client.finance_record(address)
        assets = set(view["settled_volume"]) | set(view["debts"])
        return view, {asset: await decimals_of(client, asset) for asset in assets}

    view, decimals = call(app_ctx.resolve_node(node), read)
    if json_:
        app_ctx.output.json(view)
        return

    def per_asset(amounts: dict[str, int]) -> str:
        return ", ".join(_amount(units, asset, decimals[asset]) for asset, units in sorted(amounts.items())) or "none"

    out = app_ctx.output
    out.fields(
        f"Merchant {view['merchant']}",
        [
            ("closed orders", view["closed_orders"]),
            ("settled", view["settled_orders"]),
            ("settled volume", per_asset(view["settled_volume"])),
            ("dispute rate", f"{view['dispute_rate_bps'] / 100:g} %"),
            ("refund rate", f"{view['refund_rate_bps'] / 100:g} %"),
            ("outstanding debt", per_asset(view["outstanding_debt"])),
            ("open financings", view["open_financings"]),
            ("financed / fell short", f"{view['financed_orders']} / {view['short_financings']}"),
        ],
    )
    rows = [
        (asset, d["financier"], _amount(d["amount"], asset, decimals[asset]))
        for asset, debts in view["debts"].items()
        for d in debts
    ]
    if rows:
        out.table("Debts to financiers (repaid first, oldest first)", ["asset", "financier", "owed"], rows)


@app.command("list")
def list_(
    ctx: typer.Context,
    merchant: Annotated[str, typer.Argument(metavar="MERCHANT", help="A wallet name or an address.")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=100, help="Orders per state to read.")] = 50,
    home: HomeOption = None,
    node: NodeOption = None,
    json_: JsonOption = False,
) -> None:
    """A merchant's orders that can be financed (accepted or shipped), with payout, payee and open offers."""
    from cli.remote import call
    from cli.wallets import resolve_account
    from market.finance import FINANCEABLE

    app_ctx = app_context(ctx)
    address = resolve_account(app_ctx.resolve_home(home), merchant)

    async def read(client: NodeClient) -> tuple[list[dict[str, Any]], dict[str, int]]:
        from cli.offer_cmd import decimals_of

        views = []
        for state in sorted(s.value for s in FINANCEABLE):
            page = await client.orders(merchant=address, state=state, limit=limit)
            views += [await fetch_finance_order(client, o["id"]) for o in page["items"]]
        return views, {v["asset"]: await decimals_of(client, v["asset"]) for v in views}

    views, decimals = call(app_ctx.resolve_node(node), read)
    if json_:
        app_ctx.output.json(views)
        return
    app_ctx.output.table(
        f"Orders of {address} in a financeable state",
        ["order", "state", "payout", "financed", "open offers"],
        [
            (
                v["order_id"],
                v["state"],
                _amount(v["payout"], v["asset"], decimals[v["asset"]]),
                "no" if v["financing"] is None else f"by {v['financing']['financier']}",
                len(v["offers"]),
            )
            for v in views
        ],
    )


@app.command("show")
def show(ctx: typer.Context, order_id: OrderArg, node: NodeOption = None, json_: JsonOption = False) -> None:
    """An order as a financier sees it: state, payout, payee, the accepted financing and open offers."""
    from cli.remote import call
    from cli.render import deadline

    app_ctx = app_context(ctx)
    oid = _id(order_id, "order id")

    async def read(client: NodeClient) -> tuple[dict[str, Any], int]:
        from cli.offer_cmd import decimals_of

        view = await fetch_finance_order(client, oid)
        return view, await decimals_of(client, view["asset"])

    view, decimals = call(app_ctx.resolve_node(node), read)
    if json_:
        app_ctx.output.json(view)
        return
    out = app_ctx.output
    f = view["financing"]
    asset = view["asset"]

    def amount(units: int) -> str:
        return _amount(units, asset, decimals)

    rows = [
        ("state", view["state"]),
        ("payout", amount(view["payout"])),
        ("merchant", view["merchant"]),
        ("payee", view["payee"]),
        ("financeable", "yes" if view["financeable"] else "no"),
    ]
    if f is not None:
        rows += [
            ("financier", f["financier"]),
            ("advance", amount(f["advance"])),
            ("face value (owed to it)", amount(f["face"])),
            ("paid out", "not yet" if not f["closed"] else f"{amount(f['received'])} (short {amount(f['shortfall'])})"),
        ]
    out.fields(f"Order {view['order_id']}", rows)
    out.table(
        "Open financing offers",
        ["offer", "financier", "advance", "expires"],
        [
            (o["id"], o["financier"], amount(o["advance"]), "EXPIRED" if o["expired"] else deadline(o["expires_ms"]))
            for o in view["offers"]
        ],
    )
