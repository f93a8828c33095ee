"""Fixtures of the CLI tests; makes cli_testkit.py (next to this file) importable."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from cli_testkit import PASSWORD, RunningNode  # noqa: E402

from cli.init_cmd import initialize  # noqa: E402
from cli.process import start_node  # noqa: E402


@pytest.fixture
def running_node(tmp_path: Path) -> Iterator[RunningNode]:
    """Init a home, start ``python -m cli node run --api-port 0`` on it, wait until ready; always stop it."""
    from node.client import NodeClient

    home = tmp_path / "home"
    result = initialize(home, "agora-test", "alice", PASSWORD)
    node = start_node(home, PASSWORD, tmp_path / "logs")
    try:
        url = node.wait_listening(30)

        async def ready() -> None:
            async with NodeClient(url) as client:
                await client.wait_ready(30)

        asyncio.run(ready())
        yield RunningNode(home, url, result.wallet.address)
    finally:
        code = node.stop(timeout=15)
        assert code == 0, f"node did not shut down cleanly (exit {code}): {node.log_tail()}"
