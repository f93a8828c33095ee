"""Running NodeClient calls from synchronous commands: ``asyncio.run`` at the edge."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Coroutine
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

    return run_at_edge(run())


_INTERRUPTS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def run_at_edge(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)``, safe against Ctrl-C, SIGTERM or SIGHUP arriving at any moment.

    While the loop runs, SIGTERM and SIGHUP cancel the coroutine the way asyncio already
    treats Ctrl-C, and the run ends in KeyboardInterrupt once the loop has unwound; the
    process's own handlers for them are put back afterwards. The signals are held back
    while the loop is being built (an interrupt half-way through construction leaves a loop
    that cannot be closed), and a coroutine an interrupt kept from starting is closed
    rather than left never-awaited.
    """
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
    try:
        with asyncio.Runner() as runner:
            loop = runner.get_loop()
            signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)  # a pending interrupt is raised here
            return runner.run(_cancelled_by_signals(loop, coro))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        coro.close()  # a no-op once it has run


async def _cancelled_by_signals(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    task = asyncio.current_task()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        if task is not None:
            task.cancel()

    watched = (signal.SIGTERM, signal.SIGHUP)
    handlers = {signum: signal.getsignal(signum) for signum in watched}
    for signum in watched:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        return await coro
    except asyncio.CancelledError:
        if received:
            raise KeyboardInterrupt from None
        raise
    finally:
        for signum, handler in handlers.items():
            loop.remove_signal_handler(signum)
            signal.signal(signum, handler)


async def fetch_account(client: NodeClient, address: str) -> dict[str, Any]:
    """The node's view of ``address``; an account the chain has never seen is all zeros."""
    from node.client import NodeApiError

    try:
        return await client.account(address)
    except NodeApiError as exc:
        if exc.reason != "not_found":
            raise
        return {"address": address, "nonce": 0, "pending_nonce": 0, "balances": {}}


async def found_or_fail(request: Awaitable[T], missing: str) -> T:
    """The node's answer to ``request``; CliError(``missing``) if the node answers not_found.

    Any other API error is raised as it came.
    """
    from cli.errors import CliError
    from node.client import NodeApiError

    try:
        return await request
    except NodeApiError as exc:
        if exc.reason == "not_found":
            raise CliError(missing) from None
        raise
