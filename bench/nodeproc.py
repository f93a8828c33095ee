"""Start and stop real node processes for the benchmarks."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path


def start_node(datadir: Path, password: str, *args: str) -> subprocess.Popen[bytes]:
    """Start ``python -m node`` on ``datadir`` (output in ``datadir/node.out``)."""
    with (datadir / "node.out").open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "node", "--datadir", str(datadir), *args],
            env=dict(os.environ, AGORA_PASSWORD=password),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop_nodes(procs: Iterable[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every process, then SIGKILL whichever has not exited after 20 s."""
    running = [p for p in procs if p.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)
    for proc in running:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def nodes_running(
    nodes: Iterable[tuple[Path, tuple[str, ...]]], password: str
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Run a node per (datadir, extra args) and give their processes; always stop them all on exit."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for datadir, args in nodes:
            procs.append(start_node(datadir, password, *args))
        yield procs
    finally:
        stop_nodes(procs)
