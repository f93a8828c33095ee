"""``agora verify``: check a balance, an order or a transaction without trusting any node.

The node asked (``--node``, the primary) and the witnesses (``--witness``) are untrusted.
The light client verifies the primary's headers from the genesis (or a header given out of
band) by their validators' signatures, cross-checks them with every witness, and checks
the node's Merkle proof against the verified header. Any failure exits 1 with the exact
reason; a conflicting certified header from a witness is a fork and is saved as evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from cli.context import app_context
from cli.options import HomeOption, JsonOption, NodeOption

if TYPE_CHECKING:
    from chain.light_client import LightBlock
    from cli.light import TrustStore
    from market.points import Holding, Programme
    from market.records import Order
    from node.client import NodeClient

DEFAULT_MAX_LAG: Final = 10

app = typer.Typer(
    help="Verify a balance, an order or a transaction against the validators' signatures, trusting no node.",
    no_args_is_help=True,
)

WitnessOption = Annotated[
    list[str] | None,
    typer.Option(
        "--witness",
        help="URL of another node to cross-check the headers with (repeatable). A conflicting certified "
        "header is reported as a fork and fails the command.",
        show_default=False,
    ),
]
GenesisOption = Annotated[
    Path | None,
    typer.Option(
        "--genesis",
        help="The chain's genesis.json, trusted as the start (needed on the first run unless --trust-height/"
        "--trust-hash; e.g. <testnet>/nodes/v0/genesis.json). Later runs start from the headers cached in "
        "<home>/light/.",
        show_default=False,
    ),
]
TrustHeightOption = Annotated[
    int | None,
    typer.Option("--trust-height", min=1, help="Start from a header you trust: its height.", show_default=False),
]
TrustHashOption = Annotated[
    str | None,
    typer.Option("--trust-hash", help="Start from a header you trust: its hash (64 hex).", show_default=False),
]
MaxLagOption = Annotated[
    int,
    typer.Option(
        "--max-lag",
        min=0,
        help="Fail when the primary is more than this many blocks behind a witness (it may hide recent state).",
    ),
]


@dataclass(frozen=True, slots=True)
class TrustOptions:
    """Where the light client's trust starts and how strict it is."""

    home: Path
    genesis: Path | None
    trust_height: int | None
    trust_hash: str | None
    max_lag: int


@dataclass(frozen=True, slots=True)
class Verified:
    """A header the light client verified and the witnesses that agree with it."""

    store: TrustStore
    block: LightBlock
    witnesses: list[str]


def _trust(home: Path, genesis: Path | None, height: int | None, hash_: str | None, max_lag: int) -> TrustOptions:
    from cli.errors import CliError

    if (height is None) != (hash_ is None):
        raise CliError("give --trust-height and --trust-hash together")
    if hash_ is not None:
        cleaned = hash_.strip().lower()
        if len(cleaned) != 64 or any(c not in "0123456789abcdef" for c in cleaned):
            raise CliError(f"--trust-hash must be 64 hex digits, not {hash_!r}")
        hash_ = cleaned
    return TrustOptions(home, genesis, height, hash_, max_lag)


async def _chain_and_head(client: NodeClient, what: str) -> tuple[str, int]:
    from cli.errors import CliError

    status = await client.status()
    chain_id, height = status.get("chain_id"), status.get("height")
    if not isinstance(chain_id, str) or not isinstance(height, int) or height < 0:
        raise CliError(f"{what} did not answer with a chain id and height")
    return chain_id, height


async def verified_header(
    primary_url: str,
    primary: NodeClient,
    witnesses: dict[str, NodeClient],
    trust: TrustOptions,
    height: int | None,
) -> Verified:
    """Verify the header at ``height`` (default: the newest every node has) and cross-check it.

    CliError subclasses (VerificationFailed, ForkDetected) say exactly what did not verify.
    """
    from chain.light_client import LightClientError
    from cli.errors import CliError
    from cli.light import TrustStore, VerificationFailed, fetch_light_block

    chain_id, primary_head = await _chain_and_head(primary, f"the primary {primary_url}")
    heads = {}
    for url, client in witnesses.items():
        witness_chain, heads[url] = await _chain_and_head(client, f"witness {url}")
        if witness_chain != chain_id:
            raise CliError(f"witness {url} runs chain {witness_chain!r}, the primary {chain_id!r}")
    for url, head in heads.items():
        if head - primary_head > trust.max_lag:
            raise VerificationFailed(
                f"the primary {primary_url}",
                LightClientError(
                    "stale_primary",
                    f"it is at height {primary_head} while witness {url} is at {head} "
                    f"(more than --max-lag {trust.max_lag} behind): it may be hiding recent blocks",
                ),
            )
    target = height if height is not None else min([primary_head, *heads.values()])
    if target < 1:
        raise CliError("the chain has no certified block yet")
    for url, head in heads.items():
        if head < target:
            raise CliError(f"witness {url} has not reached height {target} yet (it is at {head})")
    trusted_header = None
    if trust.trust_height is not None and trust.trust_hash is not None:
        try:
            trusted_header = await fetch_light_block(primary, trust.trust_height)
        except LightClientError as exc:
            raise VerificationFailed(f"the primary {primary_url}", exc) from None
        if trusted_header.header.hash.hex() != trust.trust_hash:
            raise VerificationFailed(
                f"the primary {primary_url}",
                LightClientError(
                    "untrusted_header",
                    f"its header at {trust.trust_height} is {trusted_header.header.hash.hex()}, "
                    f"not the trusted {trust.trust_hash}",
                ),
            )
    store = TrustStore.open(trust.home, chain_id, trust.genesis, trusted_header)
    block = await store.verify_header(primary, target, f"the primary {primary_url}")
    agreed = await store.cross_check(witnesses, block, trust.home / "light" / "evidence")
    store.save()
    return Verified(store, block, agreed)


async def _with_clients(node_url: str, witness_urls: list[str], action: Any) -> Any:
    from node.client import NodeClient

    primary = NodeClient(node_url)
    witnesses = {url: NodeClient(url) for url in witness_urls}
    try:
        return await action(primary, witnesses)
    finally:
        await primary.close()
        for client in witnesses.values():
            await client.close()


def _run(ctx: typer.Context, node: str | None, witness: list[str] | None, action: Any) -> Any:
    from cli.remote import run_at_edge

    app_ctx = app_context(ctx)
    node_url = app_ctx.resolve_node(node)
    witness_urls = [app_ctx.resolve_node(url) for url in witness or []]
    return run_at_edge(_with_clients(node_url, witness_urls, lambda p, w: action(node_url, p, w)))


def _header_rows(v: Verified) -> list[tuple[str, Any]]:
    signers = len(v.block.commit.signatures)
    return [
        ("height", v.block.height),
        ("header", v.block.header.hash.hex()),
        ("certified by", f"{signers} of {len(v.block.validators)} validators"),
        ("witnesses agreeing", ", ".join(v.witnesses) if v.witnesses else "none given (use --witness URL)"),
        ("light blocks fetched", v.store.fetched),
    ]


def _header_json(v: Verified) -> dict[str, Any]:
    return {
        "height": v.block.height,
        "header_hash": v.block.header.hash.hex(),
        "state_root": v.block.header.state_root.hex(),
        "signers": len(v.block.commit.signatures),
        "validators": len(v.block.validators),
        "witnesses": v.witnesses,
        "light_blocks_fetched": v.store.fetched,
    }


async def _proven_value(primary: NodeClient, primary_url: str, v: Verified, key: bytes) -> bytes | None:
    from chain.light_client import LightClientError, verify_state
    from cli.light import VerificationFailed
    from node.client import NodeApiError

    try:
        answer = await primary.state_proof(key, v.block.height)
    except NodeApiError as exc:
        raise VerificationFailed(
            f"the primary {primary_url}", LightClientError("no_proof", f"{exc.reason}: {exc.detail}")
        ) from None
    try:
        if not isinstance(answer, dict) or answer.get("height") != v.block.height:
            raise LightClientError(
                "wrong_height", f"asked for a proof at height {v.block.height}, got {answer.get('height')!r}"
            )
        value_hex, proof_hex = answer.get("value"), answer.get("proof")
        if not isinstance(proof_hex, str) or not (value_hex is None or isinstance(value_hex, str)):
            raise LightClientError("malformed_proof", "the answer holds no proof")
        try:
            value = None if value_hex is None else bytes.fromhex(value_hex)
            proof = bytes.fromhex(proof_hex)
        except ValueError:
            raise LightClientError("malformed_proof", "the value or proof is not hex") from None
        verify_state(v.block.header.state_root, key, value, proof)
    except LightClientError as exc:
        raise VerificationFailed(f"the primary {primary_url}", exc) from None
    return value


async def verify_balance(
    url: str,
    primary: NodeClient,
    witnesses: dict[str, NodeClient],
    trust: TrustOptions,
    account: bytes,
    asset: str,
    height: int | None,
) -> tuple[Verified, int]:
    """The balance of ``account`` in ``asset``, proven against a verified, cross-checked header."""
    from chain.accounts import balance_key
    from chain.encoding import decode
    from chain.light_client import LightClientError
    from cli.light import VerificationFailed

    v = await verified_header(url, primary, witnesses, trust, height)
    value = await _proven_value(primary, url, v, balance_key(account, asset))
    amount = 0 if value is None else decode(value)
    if not isinstance(amount, int):
        raise VerificationFailed(url, LightClientError("bad_value", "the proven balance is not an integer"))
    return v, amount


async def verify_order(
    url: str,
    primary: NodeClient,
    witnesses: dict[str, NodeClient],
    trust: TrustOptions,
    order_id: bytes,
    height: int | None,
) -> tuple[Verified, Order | None]:
    """The record of order ``order_id`` (None: proven absent) against a verified, cross-checked header."""
    from chain.encoding import DecodeError, decode
    from chain.light_client import LightClientError
    from cli.light import VerificationFailed
    from market.keys import order_key
    from market.records import Order

    v = await verified_header(url, primary, witnesses, trust, height)
    value = await _proven_value(primary, url, v, order_key(order_id))
    if value is None:
        return v, None
    try:
        return v, Order.from_wire(decode(value))
    except (DecodeError, ValueError) as exc:
        raise VerificationFailed(
            url, LightClientError("bad_value", f"the proven order does not decode: {exc}")
        ) from None


async def verify_points(
    url: str,
    primary: NodeClient,
    witnesses: dict[str, NodeClient],
    trust: TrustOptions,
    merchant: bytes,
    account: bytes,
    height: int | None,
) -> tuple[Verified, Programme | None, Holding]:
    """The merchant's points programme and the account's points with it (an empty holding when
    proven absent), each proven against a verified, cross-checked header."""
    from chain.encoding import DecodeError, decode
    from chain.light_client import LightClientError
    from cli.light import VerificationFailed
    from market.points import Holding, Programme, holding_key, programme_key

    v = await verified_header(url, primary, witnesses, trust, height)
    raw_programme = await _proven_value(primary, url, v, programme_key(merchant))
    raw_holding = await _proven_value(primary, url, v, holding_key(merchant, account))
    try:
        programme = None if raw_programme is None else Programme.from_wire(decode(raw_programme))
        holding = Holding() if raw_holding is None else Holding.from_wire(decode(raw_holding))
    except (DecodeError, ValueError) as exc:
        raise VerificationFailed(
            url, LightClientError("bad_value", f"the proven points do not decode: {exc}")
        ) from None
    return v, programme, holding


@app.command("balance")
def balance(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(metavar="ACCOUNT", help="An agora1... address or a wallet name.")],
    asset: Annotated[str, typer.Option("--asset", help="The asset.")] = "AGR",
    height: Annotated[int | None, typer.Option("--height", min=1, help="Verify at this height.")] = None,
    node: NodeOption = None,
    witness: WitnessOption = None,
    genesis: GenesisOption = None,
    trust_height: TrustHeightOption = None,
    trust_hash: TrustHashOption = None,
    max_lag: MaxLagOption = DEFAULT_MAX_LAG,
    home: HomeOption = None,
    json_: JsonOption = False,
) -> None:
    """Verify an account's balance at the newest height every node has (or --height)."""
    from chain.address import decode_address
    from cli.render import agr
    from cli.wallets import resolve_account

    app_ctx = app_context(ctx)
    trust = _trust(app_ctx.resolve_home(home), genesis, trust_height, trust_hash, max_lag)
    address = resolve_account(trust.home, address)
    account = decode_address(address)

    async def action(url: str, primary: NodeClient, witnesses: dict[str, NodeClient]) -> tuple[Verified, int]:
        return await verify_balance(url, primary, witnesses, trust, account, asset, height)

    v, amount = _run(ctx, node, witness, action)
    if json_:
        app_ctx.output.json(
            {"verified": True, "address": address, "asset": asset, "balance": amount, **_header_json(v)}
        )
        return
    app_ctx.output.fields("VERIFIED balance", [("address", address), ("balance", agr(amount, asset)), *_header_rows(v)])


@app.command("points")
def points(
    ctx: typer.Context,
    merchant: Annotated[str, typer.Argument(metavar="MERCHANT", help="The merchant: an address or a wallet name.")],
    address: Annotated[str, typer.Argument(metavar="ACCOUNT", help="Whose points: an address or a wallet name.")],
    height: Annotated[int | None, typer.Option("--height", min=1, help="Verify at this height.")] = None,
    node: NodeOption = None,
    witness: WitnessOption = None,
    genesis: GenesisOption = None,
    trust_height: TrustHeightOption = None,
    trust_hash: TrustHashOption = None,
    max_lag: MaxLagOption = DEFAULT_MAX_LAG,
    home: HomeOption = None,
    json_: JsonOption = False,
) -> None:
    """Verify an account's loyalty points with a merchant (live at the block's time) and the programme's totals."""
    from chain.address import decode_address
    from cli.errors import CliError
    from cli.wallets import resolve_account

    app_ctx = app_context(ctx)
    trust = _trust(app_ctx.resolve_home(home), genesis, trust_height, trust_hash, max_lag)
    merchant_address, account_address = resolve_account(trust.home, merchant), resolve_account(trust.home, address)
    m, a = decode_address(merchant_address), decode_address(account_address)

    async def action(url: str, primary: NodeClient, witnesses: dict[str, NodeClient]) -> Any:
        return await verify_points(url, primary, witnesses, trust, m, a, height)

    v, programme, holding = _run(ctx, node, witness, action)
    if programme is None:
        raise CliError(f"VERIFIED: {merchant_address} runs no points programme at height {v.block.height}")
    now = v.block.header.time_ms
    balance = holding.balance(now)
    if json_:
        app_ctx.output.json(
            {
                "verified": True,
                "merchant": merchant_address,
                "account": account_address,
                "balance": balance,
                "at_ms": now,
                "lots": [[lot.expires_ms, lot.points] for lot in holding.lots],
                "history_count": holding.entries,
                "programme": {"earned": programme.earned, "redeemed": programme.redeemed, "expired": programme.expired},
                **_header_json(v),
            }
        )
        return
    rows = [
        ("merchant", merchant_address),
        ("account", account_address),
        ("points", f"{balance} live at the block's time"),
        ("history entries", holding.entries),
        ("programme earned / redeemed / expired", f"{programme.earned} / {programme.redeemed} / {programme.expired}"),
    ]
    app_ctx.output.fields("VERIFIED points", [*rows, *_header_rows(v)])


@app.command("order")
def order(
    ctx: typer.Context,
    order_id: Annotated[str, typer.Argument(metavar="ORDER_ID", help="The order id (64 hex).")],
    height: Annotated[int | None, typer.Option("--height", min=1, help="Verify at this height.")] = None,
    node: NodeOption = None,
    witness: WitnessOption = None,
    genesis: GenesisOption = None,
    trust_height: TrustHeightOption = None,
    trust_hash: TrustHashOption = None,
    max_lag: MaxLagOption = DEFAULT_MAX_LAG,
    home: HomeOption = None,
    json_: JsonOption = False,
) -> None:
    """Verify an order's state (placed, accepted, shipped, settled, ...) and its history."""
    from cli.errors import CliError
    from cli.render import agr, local_time

    app_ctx = app_context(ctx)
    trust = _trust(app_ctx.resolve_home(home), genesis, trust_height, trust_hash, max_lag)
    cleaned = order_id.strip().lower()
    if len(cleaned) != 64 or any(c not in "0123456789abcdef" for c in cleaned):
        raise CliError(f"an order id is 64 hex digits, not {order_id!r}")

    async def action(url: str, primary: NodeClient, witnesses: dict[str, NodeClient]) -> tuple[Verified, Order | None]:
        return await verify_order(url, primary, witnesses, trust, bytes.fromhex(cleaned), height)

    v, record = _run(ctx, node, witness, action)
    if record is None:
        if json_:
            app_ctx.output.json({"verified": True, "order": cleaned, "exists": False, **_header_json(v)})
        else:
            app_ctx.output.fields("VERIFIED: no such order", [("order", cleaned), *_header_rows(v)])
        raise typer.Exit(1)
    history = [
        {"action": e.action.value, "state": e.state.value, "height": e.height, "time_ms": e.time_ms}
        for e in record.history
    ]
    if json_:
        app_ctx.output.json(
            {
                "verified": True,
                "order": cleaned,
                "exists": True,
                "state": record.state.value,
                "total": record.total,
                "history": history,
                **_header_json(v),
            }
        )
        return
    app_ctx.output.fields(
        "VERIFIED order",
        [("order", cleaned), ("state", record.state.value), ("total", agr(record.total)), *_header_rows(v)],
    )
    app_ctx.output.table(
        "history (proven)",
        ["action", "state", "height", "time"],
        [[e["action"], e["state"], e["height"], local_time(int(e["time_ms"]))] for e in history],
    )


@app.command("tx")
def tx(
    ctx: typer.Context,
    tx_hash: Annotated[str, typer.Argument(metavar="HASH", help="The transaction hash (64 hex).")],
    node: NodeOption = None,
    witness: WitnessOption = None,
    genesis: GenesisOption = None,
    trust_height: TrustHeightOption = None,
    trust_hash: TrustHashOption = None,
    max_lag: MaxLagOption = DEFAULT_MAX_LAG,
    home: HomeOption = None,
    json_: JsonOption = False,
) -> None:
    """Verify that a transaction is in a certified block, and its outcome and events (the receipt)."""
    from cli.errors import CliError

    app_ctx = app_context(ctx)
    trust = _trust(app_ctx.resolve_home(home), genesis, trust_height, trust_hash, max_lag)
    cleaned = tx_hash.strip().lower()
    if len(cleaned) != 64 or any(c not in "0123456789abcdef" for c in cleaned):
        raise CliError(f"a transaction hash is 64 hex digits, not {tx_hash!r}")

    async def action(
        url: str, primary: NodeClient, witnesses: dict[str, NodeClient]
    ) -> tuple[Verified, dict[str, Any], int]:
        return await _verify_tx(url, primary, witnesses, trust, cleaned)

    v, receipt, index = _run(ctx, node, witness, action)
    if json_:
        app_ctx.output.json({"verified": True, "tx": cleaned, "index": index, "receipt": receipt, **_header_json(v)})
        return
    rows: list[tuple[str, Any]] = [
        ("transaction", cleaned),
        ("outcome", receipt["code"] + (f" ({receipt['message']})" if receipt.get("message") else "")),
        ("fee", receipt["fee"]),
        ("events", ", ".join(e.get("type", "?") for e in receipt["events"]) or "none"),
        *_header_rows(v),
    ]
    app_ctx.output.fields("VERIFIED transaction", rows)


async def _verify_tx(
    url: str, primary: NodeClient, witnesses: dict[str, NodeClient], trust: TrustOptions, hash_hex: str
) -> tuple[Verified, dict[str, Any], int]:
    from chain.encoding import DecodeError, decode
    from chain.execution import Receipt
    from chain.light_client import LightClientError, TxEvidence, merkle_proof_from_json, verify_tx
    from cli.light import VerificationFailed
    from node.client import NodeApiError
    from node.render import receipt_json

    source = f"the primary {url}"
    try:
        answer = await primary.tx_proof(hash_hex)
    except NodeApiError as exc:
        raise VerificationFailed(source, LightClientError("no_proof", f"{exc.reason}: {exc.detail}")) from None
    try:
        height = answer.get("height") if isinstance(answer, dict) else None
        if not isinstance(height, int) or height < 1:
            raise LightClientError("malformed_proof", "the answer names no block height")
        try:
            evidence = TxEvidence(
                bytes.fromhex(str(answer["tx"])),
                bytes.fromhex(str(answer["receipt"])),
                merkle_proof_from_json(answer.get("tx_proof"), "the transaction's Merkle path"),
                merkle_proof_from_json(answer.get("result_proof"), "the receipt's Merkle path"),
            )
        except (KeyError, ValueError):
            raise LightClientError("malformed_proof", "the transaction or receipt is not hex") from None
    except LightClientError as exc:
        raise VerificationFailed(source, exc) from None
    v = await verified_header(url, primary, witnesses, trust, height)
    try:
        verify_tx(v.block.header, bytes.fromhex(hash_hex), evidence)
        try:
            receipt = Receipt.from_wire(decode(evidence.receipt_raw))
        except (DecodeError, ValueError) as exc:
            raise LightClientError("bad_result_proof", f"the proven receipt does not decode: {exc}") from None
    except LightClientError as exc:
        raise VerificationFailed(source, exc) from None
    return v, receipt_json(receipt), evidence.tx_proof.index
