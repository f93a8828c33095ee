"""``agora demo``: a 4-validator testnet from nothing to a transfer final on every node, non-interactively."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from cli.context import app_context

if TYPE_CHECKING:
    from chain.keys import PrivateKey
    from cli.output import Output
    from node.client import NodeClient
    from node.testnet import Testnet

DEMO_CHAIN_ID: Final = "agora-demo"
DEMO_VALIDATORS: Final = 4
DEMO_FOLLOWERS: Final = 1
STEPS: Final = 7
MUG_PRICE: Final = 12_500_000
"""12.5 AGR."""


def _step(out: Output, number: int, text: str) -> None:
    out.info(f"[bold cyan][{number}/{STEPS}][/] {text}")


async def _final_everywhere(
    testnet: Testnet,
    height: int,
    addresses: list[str],
    timeout: float,  # noqa: ASYNC109 (one deadline over many polls)
) -> tuple[list[str], list[list[dict[str, Any]]]]:
    """Wait until every node has the block at ``height``; return each node's hash of it and its
    view of ``addresses``. CliError after ``timeout`` seconds."""
    from cli.errors import CliError
    from cli.remote import fetch_account
    from cli.testnet_probe import clients_for, close_all, hashes_at

    deadline = time.monotonic() + timeout
    clients = clients_for(testnet)
    try:
        while (hashes := await hashes_at(clients, height)) is None:
            if time.monotonic() > deadline:
                raise CliError(f"not every node has block {height} after {timeout:g} s")
            await asyncio.sleep(0.05)
        accounts = [[await fetch_account(c, a) for a in addresses] for c in clients]
        return hashes, accounts
    finally:
        await close_all(clients)


async def _marketplace(
    client: NodeClient,
    merchant: PrivateKey,
    shopper: PrivateKey,
    price: int,
    timeout: float,  # noqa: ASYNC109 (each step's commit wait)
) -> list[tuple[str, str, dict[str, Any]]]:
    """The merchant lists a mug, the shopper orders it, the merchant accepts and ships it, the
    shopper confirms: each step committed (CliError on a failed receipt). Returns (step, who, record)."""
    from cli.errors import CliError
    from cli.market_tx import receipt_failure
    from cli.submit import submit_body
    from market.bodies import ListingCreate, OrderAccept, OrderConfirm, OrderPlace, OrderShip
    from market.privacy import seal_for
    from market.records import ShippingOption, Windows

    steps: list[tuple[str, str, dict[str, Any]]] = []

    async def send(step: str, who: str, key: PrivateKey, body: Any) -> bytes:
        record = await submit_body(client, key, body, None, wait=True, commit_timeout=timeout)
        if (failure := receipt_failure(record)) is not None:
            raise CliError(f"demo step {step!r} failed: {failure}")
        steps.append((step, who, record))
        return bytes.fromhex(str(record["hash"]))

    day = 86_400_000
    listing = ListingCreate(
        "Hand-thrown mug",
        "",
        price,
        10,
        (ShippingOption("standard", 0),),
        (),
        Windows(2 * day, 5 * day, 14 * day, 7 * day),
    )
    listing_id = await send("list a mug", "merchant", merchant, listing)
    delivery = seal_for(merchant.public_key, b"Ada, 1 Main St")
    order_id = await send("order it", "shopper", shopper, OrderPlace(listing_id, 1, 0, price, 0, b"", delivery))
    await send("accept", "merchant", merchant, OrderAccept(order_id))
    await send("ship", "merchant", merchant, OrderShip(order_id, seal_for(shopper.public_key, b"PARCEL-42")))
    await send("confirm delivery", "shopper", shopper, OrderConfirm(order_id))
    return steps


def demo(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Empty directory for the testnet (default: a fresh temp dir).", show_default=False),
    ] = None,
    amount: Annotated[
        str, typer.Option("--amount", help="AGR the merchant sends the shopper (1.5 or 1500000u).")
    ] = "25",
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the testnet running afterwards (prints how to stop it).")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1, max=600, help="Seconds allowed for each wait.")] = 30.0,
) -> None:
    """Start a 4-validator + 1 follower testnet, send a transfer through the follower, show the
    block final with the same hash on every node, show the balances, stop everything."""
    from cli.amounts import parse_amount
    from cli.errors import CliError
    from cli.testnet_cmd import bring_up, interrupted_by_signals, show_endpoints, show_layout
    from node.testnet import TestnetError, init_testnet

    out = app_context(ctx).output
    minor = parse_amount(amount)
    temporary = directory is None
    path = Path(tempfile.mkdtemp(prefix="agora-demo-")) if directory is None else directory.expanduser().resolve()
    testnet = None
    succeeded = False
    with interrupted_by_signals():
        try:
            _step(out, 1, f"writing a {DEMO_VALIDATORS}-validator + {DEMO_FOLLOWERS} follower testnet in {path}")
            try:
                testnet = init_testnet(path, DEMO_VALIDATORS, DEMO_FOLLOWERS, DEMO_CHAIN_ID)
            except TestnetError as exc:
                raise CliError(str(exc)) from None
            show_layout(out, testnet)

            _step(out, 2, "starting every node in the background (agora testnet up)")
            committed = bring_up(out, testnet, timeout)
            out.info(f"      all {len(testnet.nodes)} nodes agree on block {committed.height}")

            merchant = _transfer_final_everywhere(out, testnet, minor, timeout)
            order_id, settled_at = _marketplace_step(out, testnet, merchant, timeout)
            _verify_step(out, testnet, order_id, settled_at, timeout)
            show_endpoints(out, testnet)
            if not keep:
                out.info(f"      (the demo stops these nodes now; `{_agora()} demo --keep` leaves them running to try)")
            succeeded = True
        finally:
            _finish(out, testnet, path, keep=keep, succeeded=succeeded, temporary=temporary)
    out.info("[bold green]demo complete[/]")


def _transfer_final_everywhere(out: Output, testnet: Testnet, minor: int, timeout: float) -> dict[str, Any]:
    """Steps 3 and 4: merchant pays shopper through the follower; the block and the balances are
    the same on every node (CliError otherwise). Returns the merchant's account afterwards."""
    from chain.address import decode_address
    from cli.amounts import format_amount
    from cli.errors import CliError
    from cli.remote import call, run_at_edge
    from cli.render import show_tx
    from cli.transfer import TransferRequest, send_transfer
    from cli.wallets import load_wallet_key

    entry = testnet.nodes[-1]
    _step(out, 3, f"merchant sends shopper {format_amount(minor)} AGR through {entry.name} ({entry.role})")
    key = load_wallet_key(testnet.path, "merchant", _password(testnet))
    shopper = testnet.wallets["shopper"]
    request = TransferRequest(to=decode_address(shopper), amount=minor, memo="hello from agora demo")
    with out.err.status("waiting for the transaction to be committed ..."):
        record = call(entry.api_url, lambda c: send_transfer(c, key, request, wait=True, commit_timeout=timeout))
    from cli.wallets import wallet_names

    show_tx(out, record, wallet_names(testnet.path))
    if (record.get("receipt") or {}).get("code") != "ok":
        raise CliError(f"the demo transfer failed: {record.get('receipt')}")

    height = int(record["height"])
    _step(out, 4, f"checking block {height} on every node")
    addresses = [testnet.wallets["merchant"], shopper]
    hashes, accounts = run_at_edge(_final_everywhere(testnet, height, addresses, timeout))
    out.table(
        f"Block {height} on every node",
        ["node", "role", "block hash"],
        [(n.name, n.role, h) for n, h in zip(testnet.nodes, hashes, strict=True)],
    )
    if len(set(hashes)) != 1 or any(a != accounts[0] for a in accounts):
        raise CliError("the nodes disagree about the demo block or the balances")
    _show_balances(out, ["merchant", "shopper"], accounts[0], len(testnet.nodes))
    return accounts[0][0]


def _marketplace_step(
    out: Output, testnet: Testnet, merchant_before: dict[str, Any], timeout: float
) -> tuple[str, int]:
    """Step 5: a listing, an order and its settlement through the follower; the merchant is paid.

    Returns the order id (hex) and the height of the block that settled it."""
    from cli.amounts import format_amount
    from cli.remote import call, fetch_account
    from cli.wallets import load_wallet_key

    _step(out, 5, "marketplace: merchant lists a mug, shopper orders, merchant ships, shopper confirms")
    url, password = testnet.nodes[-1].api_url, _password(testnet)
    merchant, shopper = (load_wallet_key(testnet.path, name, password) for name in ("merchant", "shopper"))
    with out.err.status("each step waits for its block ..."):
        steps = call(url, lambda c: _marketplace(c, merchant, shopper, MUG_PRICE, timeout))
        after = call(url, lambda c: fetch_account(c, testnet.wallets["merchant"]))
    rows = [(step, who, r["height"], r["hash"]) for step, who, r in steps]
    out.table("Marketplace (escrow released to the merchant on confirm)", ["step", "by", "block", "tx hash"], rows)
    before, now = (int((a.get("balances") or {}).get("AGR", 0)) for a in (merchant_before, after))
    gain = f"{format_amount(before)} -> {format_amount(now)} AGR"
    out.info(f"      merchant balance: {gain} (the mug, less the fees of 3 transactions)")
    return str(steps[1][2]["hash"]), int(steps[-1][2]["height"])


def _verify_step(out: Output, testnet: Testnet, order_id: str, settled_at: int, timeout: float) -> None:
    """Step 6: the light client proves the settlement and the merchant's balance, trusting no node."""
    from chain.address import decode_address
    from cli.errors import CliError
    from cli.remote import run_at_edge
    from cli.render import agr
    from cli.verify_cmd import DEFAULT_MAX_LAG, TrustOptions, verify_balance, verify_order
    from node.client import NodeClient

    primary, witness = testnet.nodes[0], testnet.nodes[1]
    _step(out, 6, f"verifying with the light client: {primary.name} answers, {witness.name} is the witness")
    trust = TrustOptions(testnet.path, primary.datadir / "genesis.json", None, None, DEFAULT_MAX_LAG)
    merchant = decode_address(testnet.wallets["merchant"])

    async def check() -> tuple[Any, Any]:
        async with NodeClient(primary.api_url) as p, NodeClient(witness.api_url) as w:
            deadline = time.monotonic() + timeout
            while min([(await p.status())["height"], (await w.status())["height"]]) < settled_at:
                if time.monotonic() > deadline:
                    raise CliError(f"{primary.name} and {witness.name} did not reach block {settled_at}")
                await asyncio.sleep(0.05)
            witnesses = {witness.api_url: w}
            order = await verify_order(primary.api_url, p, witnesses, trust, bytes.fromhex(order_id), None)
            balance = await verify_balance(primary.api_url, p, witnesses, trust, merchant, "AGR", None)
            return order, balance

    (verified, record), (at, amount) = run_at_edge(check())
    if record is None or record.state.value != "settled":
        raise CliError(f"the light client did not prove the demo order settled: {record}")
    out.info(
        f"      order {order_id[:16]}… is [bold]{record.state.value}[/] at block {verified.block.height}, "
        f"merchant holds {agr(amount)} at block {at.block.height}: proven against headers certified by "
        f"{len(verified.block.commit.signatures)} of {len(verified.block.validators)} validators, "
        f"{witness.name} agrees"
    )


def _agora() -> str:
    from cli.invocation import agora_markup

    return agora_markup()


def _password(testnet: Testnet) -> str:
    from cli.passwords import read_password_file

    return read_password_file(testnet.password_file)


def _finish(out: Output, testnet: Testnet | None, path: Path, *, keep: bool, succeeded: bool, temporary: bool) -> None:
    """Stop the testnet (unless kept after success) and remove a temporary directory after success."""
    from cli.testnet_run import stop_nodes

    _step(out, STEPS, "finishing")
    if testnet is not None and keep and succeeded:
        from rich.markup import escape

        out.info(
            "      the testnet keeps running; stop it with:  "
            f"[bold]{_agora()} testnet down --dir {escape(str(path))}[/]"
        )
        return
    if testnet is not None:
        stopped, killed = stop_nodes(testnet)
        out.info(f"      stopped {len(stopped)} nodes" + (f", killed {', '.join(killed)}" if killed else ""))
    if temporary and succeeded:
        shutil.rmtree(path, ignore_errors=True)
        out.info(f"      removed {path}")
    else:
        out.info(f"      files kept in {path}")


def _show_balances(out: Output, names: list[str], accounts: list[dict[str, Any]], nodes: int) -> None:
    from cli.render import agr

    rows = []
    for name, account in zip(names, accounts, strict=True):
        balance = agr(int((account.get("balances") or {}).get("AGR", 0)))
        rows.append((name, account.get("address"), balance, account.get("nonce")))
    out.table(f"Balances (the same on all {nodes} nodes)", ["wallet", "address", "AGR", "nonce"], rows)
