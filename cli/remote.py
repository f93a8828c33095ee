"""Running NodeClient calls from synchronous commands: ``asyncio.run`` at the edge."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from node.client import NodeClient

T = TypeVar("T")


def call(url: str, action: Callable[[NodeClient], Awaitable[T]]) -> T:
    """Open a client session to ``url``, run ``action`` with it, close the session, return the result."""
    from node.client import NodeClient

    async def run() -> T:
        async with NodeClient(url) as client:
            return await action(client)

    return asyncio.run(run())


async def fetch_account(client: NodeClient, address: str) -> dict[str, Any]:
    """The node's view of ``address``; an account the chain has never seen is all zeros."""
    from node.client import NodeApiError

    try:
        return await client.account(address)
    except NodeApiError as exc:
        if exc.reason != "not_found":
            raise
        return {"address": address, "nonce": 0, "pending_nonce": 0, "balances": {}}
