"""Sign a transaction body locally and submit it: the one code path every sending command uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cli.errors import CliError

if TYPE_CHECKING:
    from chain.keys import PrivateKey
    from node.client import NodeClient

AccountCheck = Callable[[dict[str, Any], int], None]
"""Looks at the sender's account (as the node reports it) and the fee; raises CliError to refuse."""


async def submit_body(
    client: NodeClient,
    key: PrivateKey,
    body: Any,
    fee: int | None,
    *,
    wait: bool,
    commit_timeout: float,
    check: AccountCheck | None = None,
) -> dict[str, Any]:
    """Sign ``body`` with ``key`` for the node's chain and next free nonce, submit it, and
    (with ``wait``) return the committed record with its receipt; else {"hash", "status"}.

    ``fee`` None pays the chain's minimum fee; a lower fee is refused before signing.
    ``check`` may refuse locally what the chain would fail and still charge the fee for.
    A node at capacity (429 with Retry-After) is sent the same signed transaction again after
    each Retry-After, for up to ``commit_timeout`` seconds; then CliError says nothing was
    submitted. A transaction not committed within ``commit_timeout`` seconds raises CliError
    naming it.
    """
    from chain.address import encode_address
    from chain.tx import sign_transaction
    from cli.remote import fetch_account
    from node.client import NodeApiError

    status = await client.status()
    min_fee = int(status.get("min_fee", 0))
    chosen = min_fee if fee is None else fee
    if chosen < min_fee:
        from cli.amounts import format_amount

        raise CliError(
            f"fee {format_amount(chosen)} AGR ({chosen}u) is below the chain's minimum fee of "
            f"{format_amount(min_fee)} AGR ({min_fee}u)"
        )
    account = await fetch_account(client, encode_address(key.public_key))
    if check is not None:
        check(account, chosen)
    nonce = int(account.get("pending_nonce", account.get("nonce", 0)))
    tx = sign_transaction(key, str(status["chain_id"]), nonce, chosen, body)
    try:
        submitted = await client.submit_tx_retrying(tx.raw, timeout=commit_timeout)
    except NodeApiError as exc:
        if not exc.retryable:
            raise
        raise CliError(
            f"the node is at capacity ({exc.reason}) and refused transaction {tx.hash.hex()} for "
            f"{commit_timeout:g} s; nothing was submitted, try again later"
        ) from None
    tx_hash = str(submitted.get("hash", tx.hash.hex()))
    if not wait:
        return {"hash": tx_hash, "status": str(submitted.get("status", "pending"))}
    try:
        return await client.wait_for_tx(tx_hash, commit_timeout)
    except TimeoutError:
        raise CliError(
            f"transaction {tx_hash} was accepted but not committed within {commit_timeout:g} s; "
            f"check it later with `agora tx show {tx_hash}`"
        ) from None
