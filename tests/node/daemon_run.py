"""Runs the node daemon once as its own process, for tests of what it refuses before it starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_daemon(datadir: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m node` on ``datadir`` (password "pw", API on a free port) with ``env`` added; wait at most 60 s.

    The process's exit code and its captured stdout and stderr are returned; a daemon that
    starts instead of refusing is killed by the timeout, which fails the test.
    """
    return subprocess.run(
        [sys.executable, "-m", "node", "--datadir", str(datadir), "--api-port", "0"],
        capture_output=True,
        env=dict(os.environ, PYTHONPATH=str(REPO), AGORA_PASSWORD="pw", **env),
        cwd=REPO,
        timeout=60,
    )
