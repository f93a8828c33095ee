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
Notify = Callable[[str], None]
"""Tells the user something on the way (a line on stderr by default)."""

MAX_RESUBMITS = 3
"""How often a transaction the node dropped from its mempool is sent again while waiting for it."""


def _to_stderr(message: str) -> None:
    import typer

    typer.echo(message, err=True)


async def submit_body(
    client: NodeClient,
    key: PrivateKey,
    body: Any,
    fee: int | None,
    *,
    wait: bool,
    commit_timeout: float,
    check: AccountCheck | None = None,
    notify: Notify = _to_stderr,
) -> dict[str, Any]:
    """Sign ``body`` with ``key`` for the node's chain and next free nonce, submit it, and
    (with ``wait``) return the committed record with its receipt; else {"hash", "status"}.

    ``fee`` None pays the chain's minimum fee; a lower fee is refused before signing.
    ``check`` may refuse locally what the chain would fail and still charge the fee for.
    See :func:`submit_signed` for how refusals for load and drops are resubmitted.
    """
    from chain.address import encode_address
    from chain.tx import sign_transaction
    from cli.remote import fetch_account

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
    return await submit_signed(client, tx.raw, tx.hash.hex(), wait=wait, commit_timeout=commit_timeout, notify=notify)


async def submit_signed(
    client: NodeClient,
    raw: bytes,
    tx_hash: str,
    *,
    wait: bool,
    commit_timeout: float,
    notify: Notify = _to_stderr,
) -> dict[str, Any]:
    """Submit the signed transaction ``raw`` (hash ``tx_hash``) and, with ``wait``, return its
    committed record; else {"hash", "status"}. The same signed bytes are sent every time.

    A node at capacity (429 with Retry-After) is sent it again after each Retry-After, for up
    to ``commit_timeout`` seconds; then CliError says nothing was submitted. While waiting,
    a transaction the node reports ``dropped`` (expired, evicted, ...) is sent again, at most
    :data:`MAX_RESUBMITS` times; each resubmission and each wait for a Retry-After is told
    through ``notify``. If the node refuses a resubmission and the transaction is not
    committed, CliError names the drop and the refusal. A transaction not committed within
    ``commit_timeout`` seconds of waiting raises CliError naming it.
    """
    import time

    from node.client import NodeApiError

    def on_retry(refusal: NodeApiError, seconds: float) -> None:
        notify(f"the node is at capacity ({refusal.reason}); sending transaction {tx_hash} again in {seconds:g} s")

    async def send(timeout: float) -> dict[str, Any]:  # noqa: ASYNC109
        try:
            return await client.submit_tx_retrying(raw, timeout=timeout, on_retry=on_retry)
        except NodeApiError as exc:
            if not exc.retryable:
                raise
            raise CliError(
                f"the node is at capacity ({exc.reason}) and refused transaction {tx_hash} for "
                f"{timeout:g} s; nothing was submitted, try again later"
            ) from None

    submitted = await send(commit_timeout)
    if not wait:
        return {"hash": str(submitted.get("hash", tx_hash)), "status": str(submitted.get("status", "pending"))}
    deadline = time.monotonic() + commit_timeout
    resubmits = 0
    while True:
        try:
            return await client.wait_for_tx(tx_hash, max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise CliError(
                f"transaction {tx_hash} was accepted but not committed within {commit_timeout:g} s; "
                f"check it later with `agora tx show {tx_hash}`"
            ) from None
        except NodeApiError as exc:
            if exc.status != 200:  # not a drop: an error of the look-up itself
                raise
            dropped = f"{exc.reason}: {exc.detail}"
        if resubmits >= MAX_RESUBMITS:
            raise CliError(f"transaction {tx_hash} was dropped {resubmits + 1} times ({dropped}); not sent again")
        resubmits += 1
        notify(f"the node dropped transaction {tx_hash} ({dropped}); sending it again ({resubmits}/{MAX_RESUBMITS})")
        try:
            await send(max(0.1, deadline - time.monotonic()))
        except NodeApiError as refusal:
            try:
                record = await client.tx(tx_hash)
            except NodeApiError:
                record = {}
            if record.get("status") == "committed":  # it committed meanwhile (e.g. through a peer)
                return record
            raise CliError(
                f"transaction {tx_hash} was dropped ({dropped}) and the node refused it again "
                f"({refusal.reason}: {refusal.detail})"
            ) from None
