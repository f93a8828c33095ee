"""Real multi-process testnets on loopback for the network tests.

Every node is a `python -m node` process on ports chosen free at init; `LocalNet` always
kills what it started (use it as a context manager). Waiting is by polling a condition
with a deadline, never a bare sleep.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from chain.keys import PrivateKey
from node.client import NodeApiError, NodeClient, NodeUnreachable
from node.keystore import load_key
from node.testnet import Testnet, init_testnet


class LocalNet:
    """A testnet directory plus the node processes started from it."""

    def __init__(self, path: Path, validators: int, followers: int = 0, heartbeat_ms: int = 150) -> None:
        self.testnet: Testnet = init_testnet(
            path, validators, followers, min_block_interval_ms=20, heartbeat_interval_ms=heartbeat_ms
        )
        self.password = self.testnet.password_file.read_text().strip()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> LocalNet:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_all()

    def url(self, name: str) -> str:
        """The client API URL of node ``name``."""
        return self.testnet.node(name).api_url

    @property
    def names(self) -> list[str]:
        """Every node name."""
        return [n.name for n in self.testnet.nodes]

    def start(self, *names: str) -> None:
        """Start the named nodes (all if none named) as background processes."""
        for name in names or self.names:
            node = self.testnet.node(name)
            out = (node.datadir / "node.out").open("ab")
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "node", "--datadir", str(node.datadir)],
                env=dict(os.environ, AGORA_PASSWORD=self.password),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            out.close()

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to node ``name`` and reap it."""
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop_all(self) -> None:
        """Stop every process this net started (SIGTERM, then SIGKILL after a deadline)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def log_tail(self, name: str, lines: int = 30) -> str:
        """The last lines of node ``name``'s output (for failure messages)."""
        path = self.testnet.node(name).datadir / "node.out"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no output)"

    def wallet(self, name: str) -> PrivateKey:
        """The key of demo wallet ``name`` (merchant or shopper)."""
        return load_key(self.testnet.path / "keys" / f"{name}.json", self.password)

    def validator_key(self, name: str) -> PrivateKey:
        """The validator key of node ``name``."""
        return load_key(self.testnet.node(name).datadir / "keys" / "validator.json", self.password)


async def status(url: str) -> dict[str, Any] | None:
    """The node's /status, or None if it does not answer."""
    try:
        async with NodeClient(url, timeout=2.0) as client:
            return await client.status()
    except (TimeoutError, NodeUnreachable, NodeApiError):
        return None


async def height(url: str) -> int:
    """The node's height (-1 if it does not answer)."""
    s = await status(url)
    return -1 if s is None else int(s["height"])


async def wait_until(
    condition: Callable[[], Awaitable[bool]], seconds: float, what: str, net: LocalNet | None = None
) -> None:
    """Poll ``condition`` every 50 ms until it holds; fail naming ``what`` (and node logs) at the deadline."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.05)
    logs = ""
    if net is not None:
        logs = "\n".join(f"--- {name} ---\n{net.log_tail(name)}" for name in net.procs)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}\n{logs}")


async def heights(net: LocalNet, names: list[str]) -> dict[str, int]:
    """Heights of the named nodes."""
    values = await asyncio.gather(*(height(net.url(n)) for n in names))
    return dict(zip(names, values, strict=True))


async def block_hash(url: str, h: int) -> str:
    """The hash of block ``h`` on the node at ``url``."""
    async with NodeClient(url) as client:
        return str((await client.block(h))["hash"])


async def assert_same_chain(net: LocalNet, names: list[str], up_to: int) -> None:
    """Every named node has identical block hashes at heights 1..up_to."""
    for h in range(1, up_to + 1):
        hashes = {n: await block_hash(net.url(n), h) for n in names}
        assert len(set(hashes.values())) == 1, f"fork at height {h}: {hashes}"
