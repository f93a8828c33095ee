"""The processes of a local testnet: start every node detached, record them, stop exactly those.

``<dir>/pids.json`` lists each started node with its pid and an *identity* (the kernel's
start time of that pid, or ``ps``'s on systems without /proc): a pid whose identity no
longer matches belongs to some other process now and is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from cli.errors import CliError

if TYPE_CHECKING:
    from node.testnet import Testnet, TestnetNode

PIDS_FILE: Final = "pids.json"
OUT_FILE: Final = "node.out"
LOG_FILE: Final = "node.log"
STOP_TIMEOUT: Final = 15.0
POLL_SECONDS: Final = 0.05

_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
"""Nodes this process started, kept so they are reaped (no zombies) when stopped from here."""


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """One started node process as recorded in pids.json."""

    name: str
    pid: int
    identity: str
    """The process start time as the OS reports it; tells this process from a later one with the same pid."""


def process_identity(pid: int) -> str | None:
    """The start time of process ``pid`` (None if there is no such live process; zombies count as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return _ps_identity(pid)
    fields = stat[stat.rfind(")") + 2 :].split()
    if not fields or fields[0] in ("Z", "X"):
        return None
    return fields[19]  # field 22 of /proc/PID/stat: start time in clock ticks after boot


def _ps_identity(pid: int) -> str | None:
    try:
        done = subprocess.run(["ps", "-o", "lstart=,stat=", "-p", str(pid)], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = done.stdout.strip()
    if done.returncode != 0 or not text or text.endswith("Z"):
        return None
    return text.rsplit(None, 1)[0]


def is_running(record: NodeRecord) -> bool:
    """True while the recorded process (the same one, not a reused pid) is alive."""
    _reap(record.pid)
    return process_identity(record.pid) == record.identity


def out_path(node: TestnetNode) -> Path:
    """Where a node's stdout and stderr go."""
    return node.datadir / OUT_FILE


def log_path(node: TestnetNode) -> Path:
    """The node's own log file."""
    return node.datadir / LOG_FILE


def log_tail(node: TestnetNode, lines: int = 8) -> str:
    """The last ``lines`` lines the node wrote to stdout/stderr (for error messages)."""
    try:
        text = out_path(node).read_text(errors="replace")
    except OSError:
        return "(no output)"
    return "\n".join(text.rstrip().splitlines()[-lines:]) or "(no output)"


def read_records(testnet: Testnet) -> list[NodeRecord]:
    """The processes recorded in pids.json (empty if there is none); CliError if it is malformed."""
    path = testnet.path / PIDS_FILE
    try:
        data = json.loads(path.read_text())
        return [NodeRecord(str(r["name"]), int(r["pid"]), str(r["identity"])) for r in data["nodes"]]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CliError(f"{path} is malformed ({exc}); stop the nodes by hand and remove it") from None


def _write_records(testnet: Testnet, records: list[NodeRecord]) -> None:
    path = testnet.path / PIDS_FILE
    data = {"nodes": [{"name": r.name, "pid": r.pid, "identity": r.identity} for r in records]}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n")
    temporary.replace(path)


def running(testnet: Testnet) -> list[NodeRecord]:
    """The recorded processes that are still alive."""
    return [r for r in read_records(testnet) if is_running(r)]


def refuse_if_running(testnet: Testnet) -> None:
    """CliError while any recorded process of this testnet is alive."""
    alive = running(testnet)
    if alive:
        names = ", ".join(f"{r.name} (pid {r.pid})" for r in alive)
        raise CliError(f"the testnet in {testnet.path} is already up: {names}; stop it with `agora testnet down`")


def start_nodes(testnet: Testnet) -> list[NodeRecord]:
    """Start every node as a detached process (own session, output to <datadir>/node.out).

    Refuses (CliError) while any recorded process of this testnet is alive. pids.json is
    rewritten after each start, so a failure midway still leaves every started node recorded
    (and stoppable with :func:`stop_nodes`).
    """
    refuse_if_running(testnet)
    records: list[NodeRecord] = []
    _write_records(testnet, records)
    for node in testnet.nodes:
        records.append(_start(testnet, node))
        _write_records(testnet, records)
    return records


def _start(testnet: Testnet, node: TestnetNode) -> NodeRecord:
    # -P keeps a stray `node` directory in the current directory from shadowing the installed package.
    command = [sys.executable, "-P", "-m", "node", "--datadir", str(node.datadir)]
    command += ["--password-file", str(testnet.password_file)]
    if node.netns is not None:  # a separate host: the node's own network namespace
        from node.netns import exec_prefix

        command = exec_prefix(node.netns) + command
    env = {k: v for k, v in os.environ.items() if k != "AGORA_PASSWORD"}
    with out_path(node).open("ab") as out:
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    _CHILDREN[process.pid] = process
    identity = process_identity(process.pid)
    if identity is None:
        raise CliError(f"node {node.name} exited at once:\n{log_tail(node)}")
    return NodeRecord(node.name, process.pid, identity)


def stop_nodes(testnet: Testnet, timeout: float = STOP_TIMEOUT) -> tuple[list[str], list[str]]:
    """SIGTERM every recorded live process, SIGKILL those still alive after ``timeout`` s, remove pids.json.

    Returns (names stopped gracefully, names killed). Stale records (a process already gone,
    or a pid now used by another process) are dropped without signalling anything.
    """
    deferred = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, deferred)  # a second Ctrl-C must not cut this short
    try:
        return _stop(testnet, timeout)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _stop(testnet: Testnet, timeout: float) -> tuple[list[str], list[str]]:
    alive = running(testnet)
    for record in alive:
        _signal(record, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    pending = list(alive)
    while pending and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        pending = [r for r in pending if is_running(r)]
    for record in pending:
        _signal(record, signal.SIGKILL)
    kill_deadline = time.monotonic() + 5.0
    while any(is_running(r) for r in pending) and time.monotonic() < kill_deadline:
        time.sleep(POLL_SECONDS)
    (testnet.path / PIDS_FILE).unlink(missing_ok=True)
    killed = {r.name for r in pending}
    return [r.name for r in alive if r.name not in killed], sorted(killed)


def _signal(record: NodeRecord, signum: signal.Signals) -> None:
    if not is_running(record):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signum)


def _reap(pid: int) -> None:
    process = _CHILDREN.get(pid)
    if process is not None and process.poll() is not None:
        del _CHILDREN[pid]
