"""Sign a transfer locally and submit it: the code path of ``agora tx transfer`` and ``agora demo``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from cli.errors import CliError

if TYPE_CHECKING:
    from chain.keys import PrivateKey
    from node.client import NodeClient

MAX_MEMO_BYTES: Final = 256
_ASSET_RE: Final = re.compile(r"[A-Z][A-Z0-9]{1,15}")


def check_asset(asset: str) -> None:
    """CliError unless ``asset`` is a well-formed asset symbol (AGR or an issued one)."""
    if not _ASSET_RE.fullmatch(asset):
        raise CliError(f"bad asset {asset!r}: 2-16 upper-case letters or digits, starting with a letter")


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """A transfer as the user asked for it (amounts already in minor units)."""

    to: bytes
    """Recipient public key."""
    amount: int
    """Minor units, at least 1."""
    asset: str = "AGR"
    fee: int | None = None
    """Minor units of AGR; None = the chain's minimum fee."""
    memo: str = ""
    check: bool = True
    """Refuse locally what the chain would fail (and keep the fee for): a transfer to yourself,
    or one the committed balance cannot pay."""

    def __post_init__(self) -> None:
        check_asset(self.asset)
        if len(self.memo.encode()) > MAX_MEMO_BYTES:
            raise CliError(f"memo is longer than {MAX_MEMO_BYTES} bytes")


async def send_transfer(
    client: NodeClient, key: PrivateKey, request: TransferRequest, *, wait: bool, commit_timeout: float = 30.0
) -> dict[str, Any]:
    """Sign ``request`` with ``key`` for the node's chain and next free nonce, submit it, and
    (with ``wait``) return the committed transaction record with its receipt.

    Without ``wait`` the result is {"hash", "status": "pending"}. A transaction that is not
    committed within ``commit_timeout`` seconds raises CliError naming its hash.
    """
    from chain.transfer import Transfer
    from cli.submit import submit_body

    if request.check and request.to == key.public_key:
        raise CliError("cannot transfer to yourself (the chain would fail it and keep the fee)")

    def check(account: dict[str, Any], fee: int) -> None:
        if request.check:
            _check_funds(account.get("balances") or {}, request, fee)

    body = Transfer(request.to, request.amount, request.asset, request.memo)
    return await submit_body(client, key, body, request.fee, wait=wait, commit_timeout=commit_timeout, check=check)


def _check_funds(balances: dict[str, Any], request: TransferRequest, fee: int) -> None:
    """Refuse locally what the chain would fail (and still charge the fee for)."""
    from cli.amounts import format_amount

    needs = {"AGR": fee}
    needs[request.asset] = needs.get(request.asset, 0) + request.amount
    for asset, amount in needs.items():
        have = int(balances.get(asset, 0))
        if have < amount:
            raise CliError(
                f"insufficient funds: the wallet has {format_amount(have)} {asset}, "
                f"the transfer needs {format_amount(amount)} {asset} (amount + fee)"
                if asset == "AGR"
                else f"insufficient funds: the wallet has {have}u of {asset} (minor units), it needs {amount}u"
            )
