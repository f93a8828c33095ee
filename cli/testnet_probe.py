"""Asking every node of a testnet how it is: one status view per node, and waiting until all commit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from cli.errors import CliError

if TYPE_CHECKING:
    from cli.testnet_run import NodeRecord
    from node.client import NodeClient
    from node.testnet import Testnet, TestnetNode

PROBE_TIMEOUT: Final = 2.0
POLL_SECONDS: Final = 0.1


@dataclass(frozen=True, slots=True)
class NodeView:
    """One node as seen from outside: its status if it answered, else why not."""

    node: TestnetNode
    status: dict[str, Any] | None
    ready: bool
    error: str | None = None

    @property
    def height(self) -> int:
        """The node's committed height (-1 if it did not answer)."""
        value = (self.status or {}).get("height")
        return value if isinstance(value, int) else -1

    def to_json(self) -> dict[str, Any]:
        """The view as a JSON object (for ``agora testnet status --json``)."""
        status = self.status or {}
        return {
            "name": self.node.name,
            "role": self.node.role,
            "api_url": self.node.api_url,
            "p2p_url": self.node.p2p_url,
            "up": self.status is not None,
            "ready": self.ready,
            "height": status.get("height"),
            "round": status.get("round"),
            "step": status.get("step"),
            "peers": status.get("peers"),
            "mempool_size": status.get("mempool_size"),
            "head_hash": status.get("head_hash"),
            "head_time_ms": status.get("head_time_ms"),
            "syncing": status.get("syncing"),
            "error": self.error,
        }


async def probe(client: NodeClient, node: TestnetNode) -> NodeView:
    """Ask one node for /readyz and its status; a node that does not answer is a view with ``error``."""
    from node.client import NodeApiError, NodeUnreachable

    try:
        status = await client.status()
    except (NodeUnreachable, NodeApiError) as exc:
        return NodeView(node, None, False, str(exc))
    try:
        await client.wait_ready(0)  # one probe of /readyz
    except TimeoutError:
        return NodeView(node, status, False, "not ready")
    return NodeView(node, status, True)


async def probe_all(clients: Sequence[NodeClient], testnet: Testnet) -> list[NodeView]:
    """One view per node, asked concurrently."""
    return list(await asyncio.gather(*(probe(c, n) for c, n in zip(clients, testnet.nodes, strict=True))))


def clients_for(testnet: Testnet) -> list[NodeClient]:
    """One short-timeout client per node (close them with ``close_all``)."""
    from node.client import NodeClient

    return [NodeClient(n.api_url, timeout=PROBE_TIMEOUT) for n in testnet.nodes]


async def close_all(clients: Sequence[NodeClient]) -> None:
    """Close every client session."""
    for client in clients:
        await client.close()


async def snapshot(testnet: Testnet) -> list[NodeView]:
    """Every node's view, once."""
    clients = clients_for(testnet)
    try:
        return await probe_all(clients, testnet)
    finally:
        await close_all(clients)


@dataclass(frozen=True, slots=True)
class Committed:
    """Proof that the testnet commits: every node's block at ``height`` has hash ``block_hash``."""

    height: int
    block_hash: str
    views: tuple[NodeView, ...]


async def wait_committing(
    testnet: Testnet,
    records: Sequence[NodeRecord],
    timeout: float,  # noqa: ASYNC109 (a deadline spanning many polls and process checks)
    on_views: Callable[[list[NodeView], dict[str, int]], None],
) -> Committed:
    """Wait until every node is ready, has committed past the height it first reported, and all
    nodes agree on the block hash at a common height. ``on_views(views, start heights)`` is called
    after every poll (for a progress display).

    CliError, naming the node and the tail of its output, if a process exits or ``timeout`` passes.
    """
    from cli.testnet_run import is_running, log_tail

    deadline = time.monotonic() + timeout
    start: dict[str, int] = {}
    clients = clients_for(testnet)
    try:
        while True:
            for record in records:
                if not is_running(record):
                    node = testnet.node(record.name)
                    raise CliError(f"node {node.name} exited while starting; its output ends with:\n{log_tail(node)}")
            views = await probe_all(clients, testnet)
            for view in views:
                if view.ready:
                    start.setdefault(view.node.name, view.height)
            on_views(views, start)
            if all(v.ready and v.height > start[v.node.name] for v in views):
                common = min(v.height for v in views)
                hashes = await hashes_at(clients, common)
                if hashes is not None and len(set(hashes)) == 1:
                    return Committed(common, hashes[0], tuple(views))
            if time.monotonic() > deadline:
                raise CliError(_late(views, start, timeout))
            await asyncio.sleep(POLL_SECONDS)
    finally:
        await close_all(clients)


async def hashes_at(clients: Sequence[NodeClient], height: int) -> list[str] | None:
    """Every node's block hash at ``height`` (None if one of them does not have it or cannot say)."""
    from node.client import NodeApiError, NodeUnreachable

    try:
        blocks = await asyncio.gather(*(c.block(height) for c in clients))
    except (NodeUnreachable, NodeApiError):
        return None
    return [str(b.get("hash")) for b in blocks]


def _late(views: list[NodeView], start: dict[str, int], timeout: float) -> str:
    from cli.testnet_run import log_tail

    laggard = next(
        (v for v in views if not v.ready),
        next((v for v in views if v.height <= start.get(v.node.name, -1)), views[0]),
    )
    why = laggard.error or ("not ready" if not laggard.ready else f"still at height {laggard.height}")
    return (
        f"the testnet did not start committing within {timeout:g} s: node {laggard.node.name} is {why}; "
        f"its output ends with:\n{log_tail(laggard.node)}"
    )
