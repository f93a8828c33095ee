"""Start and stop a real node process for a benchmark."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def node_process(datadir: Path, port: int, password: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``python -m node`` on ``datadir``; stop it (SIGTERM, then SIGKILL) on exit."""
    env = dict(os.environ, AGORA_PASSWORD=password)
    log = (datadir / "bench-stderr.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "node", "--datadir", str(datadir), "--api-port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
