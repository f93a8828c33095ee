"""``agora order``: buy, sell and settle (transactions signed locally), list, show and watch orders.

Who does what: the buyer places, cancels, confirms, requests and ships back returns and
reviews; the merchant accepts, rejects, ships, approves and receives returns and replies
to reviews; either party disputes; the order's arbiter resolves a dispute; the buyer
reclaims a dispute its arbiter left past the ruling deadline.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.context import app_context
from cli.options import ForceOption, HomeOption, JsonOption, NodeOption, PasswordFileOption, WriteOptions, write_command

if TYPE_CHECKING:
    from collections.abc import Callable

    from chain.keys import PrivateKey
    from cli.market_tx import Builder
    from market.assets.offers import Offer
    from market.order_quote import OrderAsk
    from node.client import NodeClient

    OrderCheck = Callable[[dict[str, Any], bytes, int], str | None]
    """Given the order (node JSON), the signer's key and the chain time: why it would fail, or None."""

app = typer.Typer(
    help="Buy and sell: place, accept, ship, confirm, cancel, return, dispute, resolve and review orders; "
    "list, show and watch them live.",
    no_args_is_help=True,
)
return_app = typer.Typer(
    help="Returns, in order: the buyer requests, the merchant approves, the buyer ships the item back, "
    "the merchant marks it received (the buyer is refunded in full).",
    no_args_is_help=True,
)
app.add_typer(return_app, name="return")

OrderId = Annotated[str, typer.Argument(metavar="ORDER_ID", help="The order id (64 hex digits).")]
ReasonOption = Annotated[str, typer.Option("--reason", help="A short public reason (at most 512 bytes).")]
TrackingOption = Annotated[
    str | None,
    typer.Option(
        "--tracking", help="Tracking reference; encrypted so that only the other party can read it.", show_default=False
    ),
]


def _send(ctx: typer.Context, build: Builder, how: WriteOptions, created: str | None = None) -> None:
    from cli.market_tx import send_market_tx

    send_market_tx(app_context(ctx), how, build, created)


def _guarded(order_id: bytes, force: bool, check: OrderCheck, build: Builder) -> Builder:
    """``build``, after ``check`` found nothing the chain would refuse (unless ``force``)."""

    async def guarded(client: NodeClient, key: PrivateKey) -> Any:
        if not force:
            from cli.order_checks import chain_now_ms, fetch_order, refuse

            order = await fetch_order(client, order_id.hex())
            refuse(check(order, key.public_key, await chain_now_ms(client)))
        return await build(client, key)

    return guarded


def _step_check(action_name: str) -> OrderCheck:
    from cli.order_checks import step_refusal
    from market.order_state import Action

    action = Action(action_name)
    return lambda order, me, now_ms: step_refusal(order, action, me, now_ms)


def _fixed(body: Any) -> Builder:
    async def build(client: NodeClient, key: PrivateKey) -> Any:
        return body

    return build


def _sealed_to_party(order_id: bytes, party: str, text: str | None, body_class: Any) -> Builder:
    """A builder that seals ``text`` to the order's ``party`` (read from the node) into ``body_class``."""

    async def build(client: NodeClient, key: PrivateKey) -> Any:
        from chain.address import decode_address
        from market.privacy import seal_for

        if text is None:
            return body_class(order_id, b"")
        order = await client.order(order_id.hex())
        return body_class(order_id, _seal(seal_for, decode_address(order[party]), text))

    return build


def _seal(seal_for: Any, recipient: bytes, text: str) -> bytes:
    from cli.errors import CliError
    from market.privacy import SealError

    try:
        sealed: bytes = seal_for(recipient, text.encode())
    except SealError as exc:
        raise CliError(f"cannot encrypt: {exc}") from None
    return sealed


def _id(text: str) -> bytes:
    from cli.market_tx import parse_id

    return parse_id(text, "order id")


# --- the buyer places an order ------------------------------------------------------------


@app.command("place")
@write_command()
def place(
    ctx: typer.Context,
    listing_id: Annotated[str, typer.Argument(metavar="LISTING_ID", help="The listing to buy from.")],
    how: WriteOptions,
    deliver_to: Annotated[
        str | None,
        typer.Option(
            "--deliver-to",
            help="Delivery details (name, address, contact); encrypted so that only the merchant can read them.",
            show_default=False,
        ),
    ] = None,
    delivery_file: Annotated[
        Path | None,
        typer.Option("--delivery-file", help="Read the delivery details from this file.", show_default=False),
    ] = None,
    quantity: Annotated[int, typer.Option("--quantity", "-n", min=1, max=10_000, help="Units to buy.")] = 1,
    shipping: Annotated[str, typer.Option("--shipping", help="Shipping option: its number or its name.")] = "0",
    arbiter: Annotated[
        str | None,
        typer.Option(
            "--arbiter",
            help="An arbiter the listing accepts (wallet or address); needed to dispute later.",
            show_default=False,
        ),
    ] = None,
    redeem: Annotated[
        int, typer.Option("--redeem", min=0, help="Loyalty points of the merchant's programme to spend on a discount.")
    ] = 0,
    asset: Annotated[
        str | None,
        typer.Option(
            "--asset",
            help="Which of the listing's prices to pay (its asset); default the listing's own.",
            show_default=False,
        ),
    ] = None,
    pay_with: Annotated[
        str | None,
        typer.Option(
            "--pay-with",
            help="Pay in this other asset: the whole total converts through the best standing offers "
            "in the same transaction, or nothing happens (needs --max-rate).",
            show_default=False,
        ),
    ] = None,
    max_rate: Annotated[
        str | None,
        typer.Option(
            "--max-rate",
            help="With --pay-with: at most this many units of it per unit of the listing's asset on any offer "
            "(e.g. 0.95).",
            show_default=False,
        ),
    ] = None,
    force: ForceOption = False,
) -> None:
    """Order from a listing at its current price: the total (less any points discount) goes into
    escrow until the order ends.

    Pay in any asset the listing takes (--asset), or in another through conversion offers
    (--pay-with ASSET --max-rate R): all of the total converts within your limit, or nothing happens."""
    from chain.address import decode_address
    from cli.errors import CliError
    from cli.market_tx import parse_id
    from cli.pricing import read_asset_code
    from cli.wallets import resolve_account

    if (deliver_to is None) == (delivery_file is None):
        raise CliError("give the delivery details with --deliver-to TEXT or --delivery-file PATH (one of them)")
    if (pay_with is None) != (max_rate is None):
        raise CliError("--pay-with and --max-rate go together: the asset you pay in and your limit")
    if delivery_file is not None:
        try:
            details = delivery_file.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read {delivery_file}: {exc}") from None
    else:
        details = deliver_to or ""
    listing_hex = parse_id(listing_id, "listing id").hex()
    arbiter_key = (
        b"" if arbiter is None else decode_address(resolve_account(app_context(ctx).resolve_home(how.home), arbiter))
    )
    wanted = None if asset is None else read_asset_code(asset, "--asset")
    paying = None if pay_with is None else read_asset_code(pay_with, "--pay-with")

    async def build(client: NodeClient, key: PrivateKey) -> Any:
        from market.order_quote import Refusal, check_order
        from market.privacy import seal_for

        listing = await client.listing(listing_hex)
        ask = await _order_ask(client, key, listing, wanted, paying, max_rate, quantity, shipping, redeem)
        checked = check_order(replace(ask, arbiter=arbiter_key, arbiter_name=repr(arbiter or "")))
        if isinstance(checked, Refusal):
            if checked.forced is None:
                raise CliError(checked.reason)
            if not force:
                raise CliError(f"{checked.reason} (nothing was signed; --force sends it anyway)")
            checked = checked.forced
        return checked.body(bytes.fromhex(listing_hex), _seal(seal_for, decode_address(listing["merchant"]), details))

    _send(ctx, build, how, created="order")


async def _order_ask(
    client: NodeClient,
    key: PrivateKey,
    listing: dict[str, Any],
    asset: str | None,
    pay_with: str | None,
    max_rate: str | None,
    quantity: int,
    shipping: str,
    redeem: int,
) -> OrderAsk:
    """What the node says the order depends on, as market.order_quote reads it: the listing, the
    merchant's points programme and the wallet's live points (when redeeming), the book (when
    converting), the wallet's balances and freezes, the decimals, the chain time and the fee.

    A listing that refuses the order by itself (paused, delisted, the buyer's own, short of stock)
    is a CliError before any of the other reads."""
    from chain.address import decode_address, encode_address
    from cli.errors import CliError
    from cli.order_checks import chain_now_ms
    from cli.points_cmd import programme_of
    from cli.pricing import asset_decimals, listing_assets, offers_from_json
    from cli.remote import fetch_account
    from market.order_quote import ListingTerms, OrderAsk, PriceTerms, listing_refusal
    from node.client import NodeApiError

    prices = listing_assets(listing)
    options = sorted(listing["shipping"], key=lambda o: int(o["index"]))
    terms = ListingTerms(
        str(listing["status"]),
        decode_address(str(listing["merchant"])),
        int(listing["stock"]),
        tuple(PriceTerms(str(p["asset"]), int(p["price"]), tuple(int(x) for x in p["shipping"])) for p in prices),
        tuple(str(o["name"]) for o in options),
        tuple(decode_address(str(a["arbiter"])) for a in listing["arbiters"]),
    )
    refused = listing_refusal(terms, key.public_key, quantity)
    if refused is not None:
        raise CliError(refused.reason)
    me = encode_address(key.public_key)
    now = await chain_now_ms(client)
    order_asset = asset or terms.prices[0].asset
    programme, live = None, 0
    if redeem:
        try:
            view = await client.points_of(str(listing["merchant"]), me, limit=1)
        except NodeApiError as exc:
            if exc.reason != "not_found":
                raise
        else:
            programme = programme_of(view["programme"])
            live = sum(int(lot["points"]) for lot in view["lots"] if not lot["expires_ms"] or lot["expires_ms"] > now)
    decimals = await asset_decimals(client, {order_asset, pay_with or order_asset})
    book: tuple[Offer, ...] = ()
    if pay_with is not None and pay_with != order_asset and {pay_with, order_asset} <= decimals.keys():
        book = tuple(offers_from_json((await client.offers(order_asset, pay_with))["items"]))
    account = await fetch_account(client, me)
    return OrderAsk(
        listing=terms,
        buyer=key.public_key,
        asset=asset or "",
        quantity=quantity,
        shipping=shipping,
        now_ms=now,
        fee=int((await client.status()).get("min_fee", 0)),
        pay_with=pay_with,
        max_rate=max_rate,
        rate_field="--max-rate",
        redeem=redeem,
        programme=programme,
        live_points=live,
        offers=book,
        balances={str(k): int(v) for k, v in (account.get("balances") or {}).items()},
        frozen=frozenset(str(a) for a in account.get("frozen") or []),
        decimals=decimals,
    )


# --- the simple steps: an order id (and a reason) -----------------------------------------


def _step_command(name: str, kind: str, summary: str, with_reason: bool) -> None:
    action = kind.removeprefix("order.")
    if with_reason:

        def noted(
            ctx: typer.Context,
            order_id: OrderId,
            how: WriteOptions,
            reason: ReasonOption = "",
            force: ForceOption = False,
        ) -> None:
            oid = _id(order_id)
            build = _guarded(oid, force, _step_check(action), _fixed(_body_class(kind)(oid, reason)))
            _send(ctx, build, how)

        command: Any = noted
    else:

        def plain(ctx: typer.Context, order_id: OrderId, how: WriteOptions, force: ForceOption = False) -> None:
            oid = _id(order_id)
            build = _guarded(oid, force, _step_check(action), _fixed(_body_class(kind)(oid)))
            _send(ctx, build, how)

        command = plain
    command.__doc__ = summary
    target = return_app if name.startswith("return ") else app
    target.command(name.removeprefix("return "))(write_command()(command))


def _body_class(kind: str) -> Any:
    from market import bodies

    classes = {
        "order.accept": bodies.OrderAccept,
        "order.reject": bodies.OrderReject,
        "order.cancel": bodies.OrderCancel,
        "order.confirm": bodies.OrderConfirm,
        "order.dispute": bodies.OrderDispute,
        "order.reclaim": bodies.OrderReclaim,
        "order.request_return": bodies.OrderRequestReturn,
        "order.approve_return": bodies.OrderApproveReturn,
        "order.receive_return": bodies.OrderReceiveReturn,
    }
    return classes[kind]


_step_command("accept", "order.accept", "Merchant: accept a placed order (before the accept deadline).", False)
_step_command("reject", "order.reject", "Merchant: reject a placed order; the buyer is refunded.", True)
_step_command("cancel", "order.cancel", "Buyer: cancel an order not yet accepted; you are refunded.", False)
_step_command("confirm", "order.confirm", "Buyer: confirm you received the order; the merchant is paid.", False)
_step_command("dispute", "order.dispute", "Buyer or merchant: hand the order to its arbiter, with a --reason.", True)
_step_command(
    "reclaim", "order.reclaim", "Buyer: take back the escrow of a dispute the arbiter did not rule on in time.", False
)
_step_command("return request", "order.request_return", "Buyer: ask to return a shipped order (--reason).", True)
_step_command("return approve", "order.approve_return", "Merchant: approve a requested return.", False)
_step_command(
    "return received",
    "order.receive_return",
    "Merchant: mark the returned item received; the buyer is refunded in full.",
    False,
)


@app.command("ship")
@write_command()
def ship(
    ctx: typer.Context,
    order_id: OrderId,
    how: WriteOptions,
    tracking: TrackingOption = None,
    force: ForceOption = False,
) -> None:
    """Merchant: mark an accepted order shipped; the --tracking reference is encrypted to the buyer."""
    from market.bodies import OrderShip

    oid = _id(order_id)
    sealed = _sealed_to_party(oid, "buyer", tracking, OrderShip)
    build = _guarded(oid, force, _step_check("ship"), sealed if force else _untraced(oid, sealed))
    _send(ctx, build, how)


def _untraced(order_id: bytes, build: Builder) -> Builder:
    """``build``, after the node shows the order's listing names no traced item (the chain's 'item_required')."""

    async def untraced(client: NodeClient, key: PrivateKey) -> Any:
        from cli.order_checks import refuse

        traced = (await client.order_provenance(order_id.hex())).get("item")
        if traced is not None:
            refuse(
                f"item_required: this listing sells the traced item {traced.get('key')}; ship it with "
                f"`agora trace ship-order {order_id.hex()} LOT`, naming the lot or serial delivered"
            )
        return await build(client, key)

    return untraced


@return_app.command("ship")
@write_command()
def return_ship(
    ctx: typer.Context,
    order_id: OrderId,
    how: WriteOptions,
    tracking: TrackingOption = None,
    force: ForceOption = False,
) -> None:
    """Buyer: ship the item back after an approved return; the --tracking reference is encrypted to the merchant."""
    from market.bodies import OrderShipReturn

    oid = _id(order_id)
    sealed = _sealed_to_party(oid, "merchant", tracking, OrderShipReturn)
    build = _guarded(oid, force, _step_check("ship_return"), sealed)
    _send(ctx, build, how)


@app.command("resolve")
@write_command()
def resolve(
    ctx: typer.Context,
    order_id: OrderId,
    how: WriteOptions,
    buyer_amount: Annotated[
        str, typer.Option("--buyer-amount", help="The buyer's share in the order's asset, or minor units (u).")
    ],
    merchant_amount: Annotated[
        str, typer.Option("--merchant-amount", help="The merchant's share in the order's asset, or minor units (u).")
    ],
    note: Annotated[str, typer.Option("--note", help="The ruling's public reasoning.")] = "",
    force: ForceOption = False,
) -> None:
    """Arbiter: rule a disputed order; the two shares (in the order's asset) must add up to the
    escrow less your fee."""
    from cli.amounts import parse_amount
    from cli.errors import CliError
    from cli.order_checks import chain_now_ms, fetch_order, refuse, split_refusal_text
    from cli.pricing import AGR, AGR_DECIMALS, asset_decimals
    from market.assets.records import MAX_DECIMALS
    from market.bodies import OrderRule

    oid = _id(order_id)
    for text in (buyer_amount, merchant_amount):  # refused here already if it is not an amount at all
        parse_amount(text, allow_zero=True, decimals=MAX_DECIMALS)
    in_minor = buyer_amount.strip().endswith("u") and merchant_amount.strip().endswith("u")
    rule = _step_check("rule")

    async def build(client: NodeClient, key: PrivateKey) -> Any:
        try:
            order = await fetch_order(client, oid.hex())
        except CliError:
            if not force:
                raise
            order = {}  # --force: sent as typed, in AGR's unit when the node cannot say the order's asset
        asset = str(order.get("asset") or AGR)
        places = AGR_DECIMALS if asset == AGR else (await asset_decimals(client, [asset])).get(asset)
        if places is None:
            raise CliError(f"the order's asset {asset} is unknown to the node")
        shares = [parse_amount(text, allow_zero=True, decimals=places) for text in (buyer_amount, merchant_amount)]
        if not force:
            now = await chain_now_ms(client)
            refuse(
                rule(order, key.public_key, now)
                or split_refusal_text(order, shares[0], shares[1], in_minor, asset, places)
            )
        return OrderRule(oid, shares[0], shares[1], note)

    _send(ctx, build, how)


@app.command("review")
@write_command()
def review(
    ctx: typer.Context,
    order_id: OrderId,
    how: WriteOptions,
    rating: Annotated[
        int | None, typer.Option("--rating", min=1, max=5, help="Buyer: your rating, 1 to 5.", show_default=False)
    ] = None,
    comment: Annotated[str, typer.Option("--comment", help="Buyer: your comment.")] = "",
    reply: Annotated[
        str | None, typer.Option("--reply", help="Merchant: your one reply to the buyer's review.", show_default=False)
    ] = None,
    force: ForceOption = False,
) -> None:
    """Buyer: rate a finished order once (--rating, --comment). Merchant: reply once (--reply)."""
    from cli.errors import CliError
    from cli.order_checks import reply_refusal_text, review_refusal_text
    from market.bodies import OrderReply, OrderReview

    if (rating is None) == (reply is None):
        raise CliError("give either --rating (the buyer's review) or --reply (the merchant's answer)")
    oid = _id(order_id)
    body = OrderReview(oid, rating, comment) if rating is not None else OrderReply(oid, reply or "")
    refusal = review_refusal_text if rating is not None else reply_refusal_text

    def check(order: dict[str, Any], me: bytes, now_ms: int) -> str | None:
        return refusal(order, me)

    _send(ctx, _guarded(oid, force, check, _fixed(body)), how)


# --- reads --------------------------------------------------------------------------------

PartyOption = Annotated[str | None, typer.Option(help="Wallet name or address.", show_default=False)]


@app.command("list")
def list_(
    ctx: typer.Context,
    buyer: PartyOption = None,
    merchant: PartyOption = None,
    arbiter: PartyOption = None,
    state: Annotated[
        str | None,
        typer.Option("--state", help="placed, accepted, shipped, disputed, settled, ...", show_default=False),
    ] = None,
    listing: Annotated[
        str | None, typer.Option("--listing", help="Only orders of this listing (its id).", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100, help="Orders per page.")] = 20,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Continue after a previous page.", show_default=False)
    ] = None,
    home: HomeOption = None,
    node: NodeOption = None,
    json_: JsonOption = False,
) -> None:
    """List orders by buyer, merchant, arbiter, state and listing (oldest first)."""
    from cli.market_render import show_orders
    from cli.remote import call
    from cli.wallets import resolve_account

    app_ctx = app_context(ctx)
    home_dir = app_ctx.resolve_home(home)
    filters: dict[str, str | int | bool | None] = {
        "buyer": None if buyer is None else resolve_account(home_dir, buyer),
        "merchant": None if merchant is None else resolve_account(home_dir, merchant),
        "arbiter": None if arbiter is None else resolve_account(home_dir, arbiter),
        "state": state,
        "listing": listing,
        "limit": limit,
        "cursor": cursor,
    }
    page, decimals = call(app_ctx.resolve_node(node), lambda client: _orders_and_decimals(client, filters))
    if json_:
        app_ctx.output.json(page)
    else:
        show_orders(app_ctx.output, page, decimals)


async def _orders_and_decimals(
    client: NodeClient, filters: dict[str, str | int | bool | None]
) -> tuple[dict[str, Any], dict[str, int]]:
    from cli.pricing import asset_decimals

    page = await client.orders(**filters)
    return page, await asset_decimals(client, {str(o.get("asset") or "AGR") for o in page.get("items") or []})


def decrypt_for(key: PrivateKey, order: dict[str, Any]) -> dict[str, str]:
    """What ``key`` may read of ``order``: the delivery details and return tracking for its
    merchant, the tracking reference for its buyer (empty for anybody else).
    """
    from chain.address import encode_address
    from market.privacy import SealError, open_sealed

    me = encode_address(key.public_key)
    fields: list[tuple[str, str]] = []
    if me == order.get("merchant"):
        fields = [("delivery details", "delivery"), ("return tracking", "return_tracking")]
    elif me == order.get("buyer"):
        fields = [("tracking", "tracking")]
    opened: dict[str, str] = {}
    for label, name in fields:
        sealed = bytes.fromhex(str(order.get(name) or ""))
        if not sealed:
            continue
        try:
            opened[label] = open_sealed(key, sealed).decode(errors="replace")
        except SealError as exc:
            opened[label] = f"(cannot decrypt: {exc})"
    return opened


@app.command("show")
def show(
    ctx: typer.Context,
    order_id: OrderId,
    as_: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Your wallet: decrypts the delivery details if you are the merchant, the tracking if the buyer "
            "(without it they are not shown).",
            show_default=False,
        ),
    ] = None,
    home: HomeOption = None,
    node: NodeOption = None,
    password_file: PasswordFileOption = None,
    json_: JsonOption = False,
) -> None:
    """Show an order with its full history. The delivery details and the tracking are encrypted:
    only --as the merchant's wallet shows the delivery details, only --as the buyer's the tracking."""
    from cli.market_render import show_order
    from cli.market_tx import load_key
    from cli.remote import call

    app_ctx = app_context(ctx)
    clean = _id(order_id).hex()
    key = None if as_ is None else load_key(app_ctx, home, as_, password_file)
    order, provenance, decimals = call(app_ctx.resolve_node(node), lambda client: _order_and_provenance(client, clean))
    opened = {} if key is None else decrypt_for(key, order)
    if key is not None and not opened and as_ is not None:
        app_ctx.output.info(
            f"wallet {as_!r} is neither this order's merchant nor its buyer, or nothing is sealed to it"
        )
    if json_:
        app_ctx.output.json({**order, "decrypted": opened, "provenance": provenance})
    else:
        from cli.trace_render import show_order_provenance
        from cli.wallets import wallet_names

        show_order(app_ctx.output, order, opened, wallet_names(app_ctx.resolve_home(home)), decimals)
        show_order_provenance(app_ctx.output, provenance)


async def _order_and_provenance(
    client: NodeClient, order_id: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, int]]:
    """The order, what it is traced to (the lot shipped, any recall that reached it) and the
    decimals of its asset."""
    from cli.pricing import asset_decimals

    order = await client.order(order_id)
    decimals = await asset_decimals(client, [str(order.get("asset") or "AGR")])
    return order, await client.order_provenance(order_id), decimals


@app.command("watch")
def watch(
    ctx: typer.Context,
    merchant: PartyOption = None,
    buyer: PartyOption = None,
    order: Annotated[str | None, typer.Option("--order", help="Only this order.", show_default=False)] = None,
    types: Annotated[
        str,
        typer.Option("--types", help="Events to follow: order, listing, review, review_reply, escrow (comma list)."),
    ] = "order",
    count: Annotated[
        int | None, typer.Option("--count", min=1, help="Stop after this many events.", show_default=False)
    ] = None,
    home: HomeOption = None,
    node: NodeOption = None,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object per event (JSON lines).")] = False,
) -> None:
    """Follow orders live (a merchant with --merchant sees each new order as it is placed). Ctrl-C stops."""
    import json

    from cli.market_render import event_line
    from cli.remote import call
    from cli.wallets import resolve_account

    app_ctx = app_context(ctx)
    home_dir = app_ctx.resolve_home(home)
    filters = {
        "types": types,
        "merchant": None if merchant is None else resolve_account(home_dir, merchant),
        "buyer": None if buyer is None else resolve_account(home_dir, buyer),
        "order": None if order is None else _id(order).hex(),
    }
    out = app_ctx.output
    from cli.wallets import wallet_names

    names = wallet_names(home_dir)

    async def follow(client: NodeClient) -> int:
        from contextlib import aclosing

        seen = 0

        def opened() -> None:
            out.info(f"watching {types} events (Ctrl-C to stop)")

        async with aclosing(client.events(opened, **filters)) as events:
            async for name, event in events:
                if json_:
                    typer.echo(json.dumps({"event": name, **event}))
                else:
                    typer.echo(event_line(name, event, names))
                seen += 1
                if count is not None and seen >= count:
                    break
        return seen

    seen = call(app_ctx.resolve_node(node), follow)
    if count is None or seen < count:
        from cli.errors import CliError

        raise CliError(f"the node ended the event stream after {seen} events (it is stopping)")
