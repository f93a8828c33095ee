"""``agora trace``: product provenance. Register classes and lots, record their journey
(ship, receive, inspect, certify, transform, pack, recall), grant roles, link listings and
orders to lots, and show, export or print a QR code of any item.

Items are named by their GS1 Digital Link path (``01/<gtin>/10/<lot>``,
``01/<gtin>/21/<serial>``, ``00/<sscc>``) or a whole Digital Link URI.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.context import app_context
from cli.options import (
    NO_SENDER,
    ForceOption,
    HomeOption,
    JsonOption,
    NodeOption,
    WriteOptions,
    write_command,
)

if TYPE_CHECKING:
    from chain.keys import PrivateKey
    from cli.market_tx import Builder
    from node.client import NodeClient

app = typer.Typer(
    help="Product provenance: register product classes and lots, record their journey (GS1 EPCIS events), "
    "grant roles, recall, and show, export, QR-code or write a verifiable receipt of any item.",
    no_args_is_help=True,
)

ItemArg = Annotated[str, typer.Argument(metavar="ITEM", help="01/<gtin>/10/<lot>, 01/<gtin>/21/<serial>, 00/<sscc>.")]
TimeOption = Annotated[
    str | None,
    typer.Option("--time", help="When it happened, ISO 8601 with offset (default: now).", show_default=False),
]
ReadPointOption = Annotated[
    str | None, typer.Option("--read-point", help="Where it was seen: a GLN or geo:LAT,LON.", show_default=False)
]
LocationOption = Annotated[
    str | None, typer.Option("--location", help="Where it is now: a GLN or geo:LAT,LON.", show_default=False)
]
DocOption = Annotated[
    list[str] | None,
    typer.Option("--doc", help="TYPE=FILE: an off-chain document; only its SHA-256 goes on chain.", show_default=False),
]


def _send(ctx: typer.Context, build: Builder, how: WriteOptions, created: str | None = None) -> dict[str, Any]:
    from cli.market_tx import send_market_tx

    return send_market_tx(app_context(ctx), how, build, created)


def _fixed(body: Any) -> Builder:
    async def build(client: NodeClient, key: PrivateKey) -> Any:
        return body

    return build


def _checked(body: Any, force: bool, check: Any) -> Builder:
    """``body``, after ``check(client, my_address)`` found nothing the chain would refuse (unless ``force``).

    ``check`` returns a refusal line or None; reading an item that does not exist is the
    node's 404, which stops the command the same way (before anything is signed).
    """

    async def build(client: NodeClient, key: PrivateKey) -> Any:
        if not force:
            from chain.address import encode_address
            from cli.order_checks import refuse

            refuse(await check(client, encode_address(key.public_key)))
        return body

    return build


async def _absent(client: NodeClient, key: str) -> str | None:
    """A refusal if the item already exists (duplicate_item), else None."""
    from node.client import NodeApiError

    try:
        await _fetch(client, key)
    except NodeApiError as exc:
        if exc.status == 404:
            return None
        raise
    return f"{key} is already commissioned (duplicate_item)"


async def _standing(client: NodeClient, key: str, me: str) -> dict[str, Any]:
    from market.provenance.identifiers import parse_key

    return await client.item(parse_key(key).path(), f"roles/{me}")


async def _fetch(client: NodeClient, key: str) -> dict[str, Any]:
    from market.provenance.identifiers import parse_key

    return await client.item(parse_key(key).path())


def _account(ctx: typer.Context, home: Path | None, text: str) -> bytes:
    from chain.address import decode_address
    from cli.wallets import resolve_account

    return decode_address(resolve_account(app_context(ctx).resolve_home(home), text))


def _when(time: str | None, read_point: str | None, location: str | None, docs: list[str] | None) -> Any:
    from cli.trace_parse import event_when

    return event_when(time, read_point, location, docs)


def _item_key(text: str) -> str:
    from cli.trace_parse import parse_item

    return parse_item(text).key


@app.command("register")
@write_command()
def register(
    ctx: typer.Context,
    gtin: Annotated[str, typer.Argument(help="GTIN-8, -12, -13 or -14 (with its check digit).")],
    name: Annotated[str, typer.Argument(help="Product name (at most 120 bytes).")],
    how: WriteOptions,
) -> None:
    """Producer: register a product class (a GTIN); you become its producer."""
    from cli.errors import CliError
    from market.provenance.bodies import TraceRegister
    from market.provenance.identifiers import IdentifierError, normalize_gtin

    try:
        gtin14 = normalize_gtin(gtin.strip())
    except IdentifierError as exc:
        raise CliError(f"bad GTIN: {exc}") from None
    _send(ctx, _fixed(TraceRegister(gtin14, name)), how)


@app.command("lot")
@write_command()
def lot(
    ctx: typer.Context,
    item: ItemArg,
    how: WriteOptions,
    quantity: Annotated[
        str, typer.Option("--quantity", help="AMOUNT and unit, e.g. 1000KGM (a serial or SSCC is 1H87).")
    ] = "1H87",
    time: TimeOption = None,
    read_point: ReadPointOption = None,
    location: LocationOption = None,
    doc: DocOption = None,
    force: ForceOption = False,
) -> None:
    """Commission a lot, serialised item or logistic unit (its first event); you hold it."""
    from cli.trace_parse import parse_quantity
    from market.provenance.bodies import TraceCommission

    amount, uom = parse_quantity(quantity, "--quantity")
    key = _item_key(item)
    body = TraceCommission(key, amount, uom, _when(time, read_point, location, doc))

    async def check(client: NodeClient, me: str) -> str | None:
        return await _absent(client, key)

    _send(ctx, _checked(body, force, check), how)


def _role_command(name: str, revoke: bool) -> None:
    def command(
        ctx: typer.Context,
        scope: Annotated[str, typer.Argument(metavar="SCOPE", help="01/<gtin> (the class) or an item.")],
        role: Annotated[str, typer.Argument(help="carrier, inspector, processor or merchant.")],
        account: Annotated[str, typer.Argument(help="Wallet name, agora1... address or public key.")],
        how: WriteOptions,
    ) -> None:
        from cli.errors import CliError
        from market.provenance.bodies import TraceGrant, TraceRevoke
        from market.provenance.vocab import Role

        try:
            parsed = Role(role.strip().lower())
        except ValueError:
            raise CliError(f"bad role {role!r}: one of {', '.join(r.value for r in Role)}") from None
        cls = TraceRevoke if revoke else TraceGrant
        _send(ctx, _fixed(cls(_item_key(scope), parsed, _account(ctx, how.home, account))), how)

    command.__doc__ = (
        "Producer: revoke a role granted on a class or item."
        if revoke
        else "Producer: grant a role (carrier, inspector, processor, merchant) on a class or one item."
    )
    app.command(name)(write_command()(command))


_role_command("grant", revoke=False)
_role_command("revoke", revoke=True)


def _event(ctx: typer.Context, opts: dict[str, Any], step: str, disposition: str, to: bytes = b"") -> None:
    from chain.address import encode_address
    from cli.trace_checks import event_refusal
    from market.provenance.bodies import TraceEvent

    when = _when(opts["time"], opts["read_point"], opts["location"], opts["doc"])
    key = _item_key(opts["item"])
    recipient = encode_address(to) if to else None

    async def check(client: NodeClient, me: str) -> str | None:
        from cli.trace_checks import role_refusal
        from market.provenance.vocab import OBJECT_STEPS

        found = event_refusal(await _fetch(client, key), step, me, when.time_ms, recipient)
        if found or step == "receiving":
            return found
        if step not in OBJECT_STEPS:
            return f"trace event records {', '.join(sorted(OBJECT_STEPS))}; {step} has a command of its own"
        allowed = tuple(r.value for r in OBJECT_STEPS[step])
        return role_refusal(await _standing(client, key, me), allowed, step)

    body = TraceEvent(key, step, disposition, when, to)
    _send(ctx, _checked(body, opts["force"], check), opts["how"])


@app.command("event")
@write_command()
def event(
    ctx: typer.Context,
    item: ItemArg,
    step: Annotated[str, typer.Argument(help="A CBV business step: storing, stocking, sampling, retail_selling...")],
    how: WriteOptions,
    disposition: Annotated[str, typer.Option("--disposition", help="A CBV disposition (default: the usual one).")] = "",
    to: Annotated[str | None, typer.Option("--to", help="Shipping: the recipient.", show_default=False)] = None,
    time: TimeOption = None,
    read_point: ReadPointOption = None,
    location: LocationOption = None,
    doc: DocOption = None,
    force: ForceOption = False,
) -> None:
    """Record any EPCIS ObjectEvent on an item (custodian or a granted role)."""
    recipient = b"" if to is None else _account(ctx, how.home, to)
    _event(ctx, locals(), step, disposition, recipient)


@app.command("ship")
@write_command()
def ship(
    ctx: typer.Context,
    item: ItemArg,
    to: Annotated[str, typer.Option("--to", help="Who is to receive it (wallet name or address).")],
    how: WriteOptions,
    time: TimeOption = None,
    read_point: ReadPointOption = None,
    location: LocationOption = None,
    doc: DocOption = None,
    force: ForceOption = False,
) -> None:
    """Custodian or carrier: ship an item (and what is packed in it) to a recipient."""
    _event(ctx, locals(), "shipping", "", _account(ctx, how.home, to))


@app.command("receive")
@write_command()
def receive(
    ctx: typer.Context,
    item: ItemArg,
    how: WriteOptions,
    time: TimeOption = None,
    read_point: ReadPointOption = None,
    location: LocationOption = None,
    doc: DocOption = None,
    force: ForceOption = False,
) -> None:
    """Recipient of a shipment: receive it; custody passes to you."""
    _event(ctx, locals(), "receiving", "")


@app.command("inspect")
@write_command()
def inspect(
    ctx: typer.Context,
    item: ItemArg,
    how: WriteOptions,
    result: Annotated[str, typer.Option("--result", help="conformant or non_conformant.")] = "conformant",
    certify: Annotated[
        bool, typer.Option("--certify", help="The --doc files certify the item (EPCIS certificationInfo).")
    ] = False,
    time: TimeOption = None,
    read_point: ReadPointOption = None,
    location: LocationOption = None,
    doc: DocOption = None,
    force: ForceOption = False,
) -> None:
    """Inspector: record an inspection and its result; --doc lab_report=FILE, --certify for certificates."""
    from cli.errors import CliError

    if result not in ("conformant", "non_conformant"):
        raise CliError("--result: conformant or non_conformant")
    if certify:
        if not doc:
            raise CliError("--certify needs at least one --doc FILE (the certificate)")
        doc = [f"certificate={spec.partition('=')[2] or spec}" for spec in doc]
    _event(ctx, locals(), "inspecting", result)


@app.command("transform")
@write_command()
def transform(
    ctx: typer.Context,
    how: WriteOptions,
    inputs: Annotated[list[str], typer.Option("--in", help="ITEM=AMOUNTUOM consumed (repeat).")],
    outputs: Annotated[list[str], typer.Option("--out", help="New lot ITEM=AMOUNTUOM made (repeat).")],
    loss: Annotated[str, typer.Option("--loss", help="The most the outputs fall short of the inputs.")] = "0%",
    time: TimeOption = None,
    read_point: ReadPointOption = None,
    location: LocationOption = None,
    doc: DocOption = None,
    force: ForceOption = False,
) -> None:
    """Processor: input lots become new output lots (e.g. green beans roasted into coffee)."""
    from cli.trace_parse import parse_line, parse_loss
    from market.provenance.bodies import TraceTransform

    body = TraceTransform(
        tuple(parse_line(t, "--in") for t in inputs),
        tuple(parse_line(t, "--out") for t in outputs),
        parse_loss(loss),
        _when(time, read_point, location, doc),
    )

    async def check(client: NodeClient, me: str) -> str | None:
        from cli.trace_checks import consume_refusal, role_refusal

        for line in body.inputs:
            found = consume_refusal(await _fetch(client, line.item), line.amount, line.uom, body.when.time_ms)
            found = found or role_refusal(await _standing(client, line.item, me), ("processor",), "a transformation")
            if found:
                return found
        for line in body.outputs:
            found = await _absent(client, line.item)
            if found:
                return found
        return None

    _send(ctx, _checked(body, force, check), how)


def _pack_command(name: str, unpack: bool) -> None:
    def command(
        ctx: typer.Context,
        unit: Annotated[str, typer.Argument(metavar="SSCC", help="The case or pallet: 00/<sscc>.")],
        items: Annotated[list[str] | None, typer.Argument(metavar="ITEM...", help="What to (un)pack.")] = None,
        how: WriteOptions = NO_SENDER,
        time: TimeOption = None,
        read_point: ReadPointOption = None,
        location: LocationOption = None,
        doc: DocOption = None,
        force: ForceOption = False,
    ) -> None:
        from cli.errors import CliError
        from market.provenance.bodies import TraceAggregate
        from market.provenance.records import Action

        if not how.sender:
            raise CliError("--from: name the wallet that signs")
        children = tuple(_item_key(i) for i in items or [])
        if not unpack and not children:
            raise CliError("name at least one ITEM to pack")
        action = Action.DELETE if unpack else Action.ADD
        body = TraceAggregate(_item_key(unit), action, children, _when(time, read_point, location, doc))

        async def check(client: NodeClient, me: str) -> str | None:
            from cli.trace_checks import pack_refusal, role_refusal

            parent = await _fetch(client, body.parent)
            for key in (body.parent, *body.children):
                refusal = role_refusal(await _standing(client, key, me), ("processor", "carrier"), "packing")
                if refusal:
                    return refusal
            for child in body.children:
                found = await _fetch(client, child)
                if unpack and found["parent"] != body.parent:
                    return f"{child} is not packed in {body.parent} (not_packed_here)"
                refusal = None if unpack else pack_refusal(parent, found, body.when.time_ms)
                if refusal:
                    return refusal
            return None

        _send(ctx, _checked(body, force, check), how)

    command.__doc__ = (
        "Unpack items from a case or pallet (none named: all)." if unpack else "Pack items into a case or pallet."
    )
    app.command(name)(write_command()(command))


_pack_command("pack", unpack=False)
_pack_command("unpack", unpack=True)


@app.command("recall")
@write_command()
def recall(
    ctx: typer.Context,
    item: ItemArg,
    reason: Annotated[str, typer.Option("--reason", help="Why (public, at most 512 bytes).")],
    how: WriteOptions,
    time: TimeOption = None,
    force: ForceOption = False,
) -> None:
    """Producer: recall an item; everything made from it or packed with it downstream is marked too."""
    from cli.trace_checks import reach_refusal, recall_refusal
    from market.provenance.bodies import TraceRecall

    body = TraceRecall(_item_key(item), reason, _when(time, None, None, None))

    async def check(client: NodeClient, me: str) -> str | None:
        from market.provenance.identifiers import parse_key

        found = recall_refusal(await _fetch(client, body.item), me, body.when.time_ms)
        return found or reach_refusal(await client.item(parse_key(body.item).path(), "downstream"))

    _send(ctx, _checked(body, force, check), how)


@app.command("sell")
@write_command()
def sell(
    ctx: typer.Context,
    listing_id: Annotated[str, typer.Argument(metavar="LISTING_ID", help="Your listing (64 hex digits).")],
    item: Annotated[str, typer.Argument(metavar="ITEM", help="01/<gtin> (the class) or a lot.")],
    how: WriteOptions,
) -> None:
    """Merchant: name the product class or lot your listing sells (orders then ship with a lot of it)."""
    from cli.market_tx import parse_id
    from market.provenance.bodies import TraceSell

    _send(ctx, _fixed(TraceSell(parse_id(listing_id, "listing id"), _item_key(item))), how)


@app.command("ship-order")
@write_command()
def ship_order(
    ctx: typer.Context,
    order_id: Annotated[str, typer.Argument(metavar="ORDER_ID", help="The accepted order (64 hex digits).")],
    item: Annotated[str, typer.Argument(metavar="ITEM", help="The lot or serial delivered.")],
    how: WriteOptions,
    tracking: Annotated[
        str | None, typer.Option("--tracking", help="Tracking reference, encrypted to the buyer.", show_default=False)
    ] = None,
) -> None:
    """Merchant: ship an order of a traced listing, naming the lot or serial delivered."""
    from cli.market_tx import parse_id

    oid = parse_id(order_id, "order id")
    key = _item_key(item)

    async def build(client: NodeClient, signer: PrivateKey) -> Any:
        from chain.address import decode_address
        from market.privacy import seal_for
        from market.provenance.bodies import TraceShipOrder

        if tracking is None:
            return TraceShipOrder(oid, key, b"")
        order = await client.order(oid.hex())
        return TraceShipOrder(oid, key, seal_for(decode_address(order["buyer"]), tracking.encode()))

    _send(ctx, build, how)


# --- reading ---------------------------------------------------------------------------


def _read(ctx: typer.Context, node: str | None, item: str, view: str, **params: Any) -> dict[str, Any]:
    from cli.remote import call
    from cli.trace_parse import parse_item

    path = parse_item(item).path()
    return call(app_context(ctx).resolve_node(node), lambda client: client.item(path, view, **params))


@app.command("show")
def show(
    ctx: typer.Context,
    item: ItemArg,
    home: HomeOption = None,
    node: NodeOption = None,
    json_: JsonOption = False,
) -> None:
    """The whole journey: the item, everything upstream of it as a tree, and every event in time order."""
    from cli.trace_render import show_journey
    from cli.wallets import wallet_names

    journey = _read(ctx, node, item, "journey")
    out = app_context(ctx).output
    if json_:
        out.json(journey)
        return
    show_journey(out, journey, wallet_names(app_context(ctx).resolve_home(home)))


@app.command("history")
def history(
    ctx: typer.Context,
    item: ItemArg,
    start: Annotated[int, typer.Option("--start", min=0, help="Index of the first event.")] = 0,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="Events to show.")] = 100,
    node: NodeOption = None,
    json_: JsonOption = False,
) -> None:
    """The item's own events (EPCIS JSON with --json), with its current state."""
    from cli.trace_render import show_item

    out = app_context(ctx).output
    found = _read(ctx, node, item, "")
    page = _read(ctx, node, item, "history", start=start, limit=limit)
    if json_:
        out.json({"item": found, "history": page})
        return
    show_item(out, found)
    rows = [
        [e["eventTime"], e["type"], e["bizStep"], e.get("disposition", ""), e.get("agora:actor", ""), e["agora:tx"]]
        for e in page["events"]
    ]
    out.table(
        f"Events {start}..{start + len(rows) - 1} of {page['count']}",
        ["time", "type", "step", "disposition", "by", "tx"],
        rows,
    )


@app.command("export")
def export(
    ctx: typer.Context,
    item: ItemArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the document.")],
    format_: Annotated[str, typer.Option("--format", help="Only epcis (EPCIS 2.0 JSON-LD).")] = "epcis",
    node: NodeOption = None,
) -> None:
    """Export the item's journey as an EPCIS 2.0 JSON-LD document, checked against GS1's schema first."""
    import json

    from cli.errors import CliError
    from market.provenance.schema import schema_errors

    if format_ != "epcis":
        raise CliError("--format: only epcis is supported")
    document = _read(ctx, node, item, "epcis")
    errors = schema_errors(document)
    if errors:
        raise CliError("the node's document fails the EPCIS 2.0 schema: " + "; ".join(errors[:3]))
    try:
        output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {output}: {exc.strerror or exc}") from None
    count = len(document["epcisBody"]["eventList"])
    app_context(ctx).output.info(f"wrote {count} EPCIS 2.0 events to {output} (valid against the GS1 schema)")


@app.command("receipt")
def receipt(
    ctx: typer.Context,
    item: ItemArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the receipt file.")],
    node: NodeOption = None,
) -> None:
    """Write the item's trace receipt: its whole journey with every proof, verifiable offline
    (`agora trace verify FILE --genesis GENESIS`)."""
    from cli.errors import CliError
    from cli.remote import call
    from cli.trace_parse import parse_item
    from market.provenance.receipt import ReceiptError, parse_receipt

    path = parse_item(item).path()
    data = call(app_context(ctx).resolve_node(node), lambda client: client.item_receipt(path))
    try:
        parsed = parse_receipt(data)
    except ReceiptError as exc:
        raise CliError(f"the node's receipt is not well-formed: {exc}") from None
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise CliError(f"cannot write {output}: {exc.strerror or exc}") from None
    app_context(ctx).output.info(
        f"wrote the receipt of {parsed.item} at height {parsed.height} to {output} ({len(data)} bytes: "
        f"{len(parsed.events)} events of {len(parsed.items)} items, {len(parsed.light_blocks)} certified headers)"
    )


@app.command("verify")
def verify(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A receipt written by `agora trace receipt`.")],
    genesis: Annotated[
        Path,
        typer.Option(
            "--genesis", help="The chain's genesis.json, the only thing trusted (e.g. <testnet>/nodes/v0/genesis.json)."
        ),
    ],
    json_: JsonOption = False,
) -> None:
    """Verify a trace receipt offline, trusting only the genesis: every header's certificate, every
    event's Merkle proofs, every item's head. Says exactly what fails; exits 1 on failure."""
    from cli.errors import CliError
    from cli.light import read_genesis
    from cli.trace_render import show_verified_receipt
    from market.provenance.receipt import MAX_RECEIPT_BYTES, ReceiptError, verify_receipt

    trusted = read_genesis(genesis)
    try:
        with file.open("rb") as handle:
            data = handle.read(MAX_RECEIPT_BYTES + 1)
    except OSError as exc:
        raise CliError(f"cannot read {file}: {exc.strerror or exc}") from None
    out = app_context(ctx).output
    try:
        verified = verify_receipt(data, trusted)
    except ReceiptError as exc:
        if json_:
            out.json({"ok": False, "where": exc.where, "reason": exc.reason, "message": exc.args[0]})
            raise typer.Exit(1) from None
        out.fail(f"RECEIPT VERIFICATION FAILED at {exc.where} ({exc.reason}): {exc.args[0]}")
    show_verified_receipt(out, verified, json_)


@app.command("qr")
def qr(
    ctx: typer.Context,
    item: ItemArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="A .png or .svg file.")],
    base: Annotated[
        str | None,
        typer.Option("--base", help="Digital Link base URL (default: the node's URL).", show_default=False),
    ] = None,
    node: NodeOption = None,
) -> None:
    """Write a QR code of the item's GS1 Digital Link URI (PNG or SVG, by the file's suffix)."""
    import segno

    from cli.errors import CliError
    from cli.trace_parse import parse_item
    from market.provenance.identifiers import IdentifierError

    suffix = output.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise CliError("-o: the file must end in .png or .svg")
    try:
        uri = parse_item(item).uri(base or app_context(ctx).resolve_node(node))
    except IdentifierError as exc:
        raise CliError(f"--base: {exc}") from None
    try:
        segno.make(uri, error="m", micro=False).save(str(output), scale=8, border=4)
    except OSError as exc:
        raise CliError(f"cannot write {output}: {exc.strerror or exc}") from None
    app_context(ctx).output.info(f"wrote a QR code of {uri} to {output}")


MAX_IMPORT_BYTES = 16 * 1024 * 1024


@app.command("import")
@write_command(wait_option=False)
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="An EPCIS 2.0 JSON(-LD) document.")],
    how: WriteOptions,
) -> None:
    """Import another system's EPCIS 2.0 document: checked against GS1's schema and the CBV, its
    identifiers mapped to Agora items, then each event recorded (one transaction each, in order)."""
    import json

    from cli.errors import CliError
    from cli.market_tx import load_key, receipt_failure
    from cli.remote import call
    from cli.submit import submit_body
    from market.provenance.epcis_import import EpcisImportError, document_bodies
    from market.provenance.schema import schema_errors

    try:
        if file.stat().st_size > MAX_IMPORT_BYTES:
            raise CliError(f"{file} is larger than {MAX_IMPORT_BYTES} bytes")
        document = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"cannot read {file}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise CliError(f"{file} is not JSON: {exc}") from None
    errors = schema_errors(document)
    if errors:
        raise CliError(f"{file} fails the EPCIS 2.0 schema:\n" + "\n".join(errors))
    try:
        bodies = document_bodies(document)
    except EpcisImportError as exc:
        raise CliError(f"{file} cannot be imported:\n{exc}") from None
    app_ctx = app_context(ctx)
    key = load_key(app_ctx, how.home, how.sender, how.password_file)
    fee_units = how.fee_units()

    async def run(client: NodeClient) -> list[dict[str, Any]]:
        records = []
        for body in bodies:
            record = await submit_body(client, key, body, fee_units, wait=True, commit_timeout=how.timeout)
            records.append(record)
            if receipt_failure(record) is not None:
                break
        return records

    records = call(app_ctx.resolve_node(how.node), run)
    out = app_ctx.output
    if how.json:
        out.json(records)
    else:
        rows = [
            [i, body.type.value, body.biz_step, ", ".join(line.item for line in body.items[:3]), r["receipt"]["code"]]
            for i, (body, r) in enumerate(zip(bodies, records, strict=False))
        ]
        out.table(f"Imported from {file}", ["#", "type", "step", "items", "result"], rows)
    failure = receipt_failure(records[-1]) if records else None
    if failure is not None:
        raise CliError(f"event {len(records) - 1} was refused: {failure}; the events before it are recorded")
