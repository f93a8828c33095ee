"""Signing and sending market transactions, and the parsing the listing/order commands share.

A command describes its transaction as an async *builder* (it may read the node first:
``order place`` fetches the listing to seal the delivery details to its merchant and send
the prices the buyer saw); :func:`send_market_tx` loads the wallet, builds, signs for the
node's chain and next nonce, submits, waits for the receipt and prints it. A failed
receipt prints its typed reason and exits non-zero.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from cli.errors import CliError

if TYPE_CHECKING:
    from chain.keys import PrivateKey
    from cli.context import AppContext
    from cli.options import WriteOptions
    from node.client import NodeClient

Builder = Callable[["NodeClient", "PrivateKey"], Awaitable[Any]]
"""Makes a transaction body, given a client of the node and the signing key."""

_DURATION_RE: Final = re.compile(r"([0-9]{1,12})(ms|s|m|h|d)")
_UNIT_MS: Final = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_HEX_ID_RE: Final = re.compile(r"[0-9a-fA-F]{64}")


def parse_duration(text: str, what: str) -> int:
    """Milliseconds written as 90s, 15m, 2h, 3d or 500ms; CliError otherwise."""
    match = _DURATION_RE.fullmatch(text.strip().lower())
    if not match:
        raise CliError(f"{what}: {text!r} is not a duration (write 90s, 15m, 2h or 3d)")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_id(text: str, what: str) -> bytes:
    """A listing or order id: 64 hex digits."""
    cleaned = text.strip()
    if not _HEX_ID_RE.fullmatch(cleaned):
        raise CliError(f"bad {what} {text!r}: expected 64 hex digits")
    return bytes.fromhex(cleaned)


def receipt_failure(record: dict[str, Any]) -> str | None:
    """'code: message' of a failed receipt, or None if the transaction succeeded (or is pending)."""
    receipt = record.get("receipt") or {}
    code = receipt.get("code")
    if code is None or code == "ok":
        return None
    return f"{code}: {receipt.get('message') or 'no message'}"


def load_key(app_ctx: AppContext, home: Path | None, wallet: str, password_file: Path | None) -> PrivateKey:
    """Decrypt the wallet ``wallet`` of the home (password from file, env or prompt)."""
    from cli.passwords import get_password
    from cli.wallets import load_wallet_key, show_wallet

    home_dir = app_ctx.resolve_home(home)
    show_wallet(home_dir, wallet)
    return load_wallet_key(home_dir, wallet, get_password(password_file, confirm=False, what=f"wallet {wallet!r}"))


def send_market_tx(
    app_ctx: AppContext, how: WriteOptions, build: Builder, created: str | None = None
) -> dict[str, Any]:
    """Sign and send the body ``build`` makes, print the result, and return the record.

    ``created`` names what the transaction creates ("listing", "order"): its id (the
    transaction hash) is shown. A failed receipt raises CliError with its reason after
    the receipt is printed, so the command exits non-zero.
    """
    from cli.remote import call
    from cli.render import show_tx
    from cli.submit import submit_body

    fee = how.fee_units()
    key = load_key(app_ctx, how.home, how.sender, how.password_file)

    async def run(client: NodeClient) -> dict[str, Any]:
        body = await build(client, key)
        return await submit_body(client, key, body, fee, wait=how.wait, commit_timeout=how.timeout)

    record = call(app_ctx.resolve_node(how.node), run)
    out = app_ctx.output
    failure = receipt_failure(record)
    if how.json:
        out.json(record)
    elif not how.wait:
        out.fields("Transaction submitted", [("hash", record["hash"]), ("status", record["status"])])
        from rich.markup import escape

        from cli.invocation import agora_command

        out.info(f"follow it with  [bold]{escape(agora_command())} tx show {record['hash']}[/]")
    else:
        from cli.wallets import wallet_names

        show_tx(out, record, wallet_names(app_ctx.resolve_home(how.home)))
        if created is not None and failure is None:
            out.fields(None, [(f"{created} id", record["hash"])])
    if failure is not None:
        raise CliError(f"transaction failed: {failure}")
    return record
