"""A node daemon as a child process (``python -m cli node run``): start, find its URL, stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from cli.context import PASSWORD_ENV
from cli.errors import CliError

_LISTENING_RE: Final = re.compile(r"agora node listening on (http://\S+)")
POLL_SECONDS: Final = 0.05


@dataclass(slots=True)
class NodeProcess:
    """A running ``agora node run`` child; its stdout/stderr go to files in ``log_dir``."""

    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    url: str | None = None

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    def log_tail(self, lines: int = 5) -> str:
        """The last lines the node wrote to stderr (for error messages)."""
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])

    def wait_listening(self, timeout: float) -> str:
        """Wait until the node prints its API URL; return it. CliError if it exits or times out."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                match = _LISTENING_RE.search(self.stdout_path.read_text(errors="replace"))
            except OSError:
                match = None
            if match:
                self.url = match.group(1)
                return self.url
            code = self.process.poll()
            if code is not None:
                raise CliError(f"the node exited with code {code} before it started: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise CliError(f"the node did not start listening within {timeout:g} s: {self.log_tail()}")
            time.sleep(POLL_SECONDS)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, wait up to ``timeout`` s for the graceful shutdown, then SIGKILL; return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def start_node(
    home: Path, password: str, log_dir: Path, *, api_host: str = "127.0.0.1", api_port: int = 0
) -> NodeProcess:
    """Start ``agora node run`` for ``home``'s datadir in its own session (Ctrl-C on the terminal
    does not reach it; the caller stops it). The password reaches the child only via its environment.
    ``-P`` keeps a stray ``cli`` directory in the current directory from shadowing the installed one.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    stdout_path = log_dir / "node.stdout"
    stderr_path = log_dir / "node.stderr"
    env = {**os.environ, PASSWORD_ENV: password}
    command = [sys.executable, "-P", "-m", "cli", "--home", str(home), "node", "run"]
    command += ["--api-host", api_host, "--api-port", str(api_port)]
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = _spawn(command, env, out, err)
    return NodeProcess(process, stdout_path, stderr_path)


def _spawn(command: list[str], env: dict[str, str], out: IO[bytes], err: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
