"""`agora testnet up / status / logs / down` and `agora demo` with real node processes on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_testkit import run_cli

from cli.errors import CliError
from cli.testnet_run import PIDS_FILE, NodeRecord, is_running, read_records, stop_nodes
from node.testnet import Testnet as Layout
from node.testnet import TestnetError as LayoutError
from node.testnet import init_testnet, load_testnet


def _agora(*args: str) -> tuple[int, str, str]:
    result = run_cli(list(args))
    return result.exit_code, result.stdout, result.stderr


def _node_pids_under(path: Path) -> list[int]:
    """Pids of live processes whose command line mentions ``path`` (this test's nodes only)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(path) in cmdline and "-m node" in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.fixture
def testnet(tmp_path: Path) -> Iterator[Layout]:
    """A written 4-validator testnet; whatever was started in it is stopped afterwards, even on failure."""
    written = init_testnet(tmp_path / "net", 4, 0, "run-test")
    try:
        yield written
    finally:
        stop_nodes(written, timeout=10)
        assert _node_pids_under(written.path) == []


def test_up_status_transfer_logs_down(testnet: Layout) -> None:
    path = str(testnet.path)
    code, out, err = _agora("testnet", "up", "--dir", path, "--timeout", "60")
    assert code == 0, err
    assert "testnet up" in err
    for node in testnet.nodes:
        assert f"{node.api_url}/api/v1" in out
    records = read_records(testnet)
    assert [r.name for r in records] == ["v0", "v1", "v2", "v3"]
    assert all(is_running(r) for r in records)

    code, _, err = _agora("testnet", "up", "--dir", path)
    assert code == 1 and "already up" in err
    assert all(is_running(r) for r in records), "a refused `up` must leave the running testnet alone"

    code, out, err = _agora("testnet", "status", "--dir", path, "--json")
    assert code == 0, err
    status = json.loads(out)
    assert [n["name"] for n in status["nodes"]] == ["v0", "v1", "v2", "v3"]
    assert all(n["up"] and n["ready"] and n["height"] >= 1 and n["peers"] >= 1 for n in status["nodes"])

    shopper = testnet.wallets["shopper"]
    node_url = testnet.node("v2").api_url
    code, out, err = _agora(
        "--home", path, "--node", node_url, "tx", "transfer", "--from", "merchant", "--to", shopper,
        "--amount", "5", "--password-file", str(testnet.password_file), "--json",
    )  # fmt: skip
    assert code == 0, err
    record = json.loads(out)
    assert record["receipt"]["code"] == "ok"
    other = testnet.node("v0").api_url
    deadline = time.monotonic() + 20
    while True:  # the block reaches every node; v0 serves the same balance
        code, out, err = _agora("--node", other, "wallet", "balance", shopper, "--json")
        if code == 0 and json.loads(out)["balances"].get("AGR") == 1_000_005 * 10**6:
            break
        assert time.monotonic() < deadline, f"v0 never saw the transfer: {out} {err}"
        time.sleep(0.1)

    code, out, err = _agora("testnet", "status", "--dir", path)
    assert code == 0, err
    assert "v3" in out and "down" not in out

    code, out, err = _agora("testnet", "logs", "v1", "--dir", path, "-n", "200")
    assert code == 0, err
    assert "committed block" in out
    code, out, _ = _agora("testnet", "logs", "v1", "--dir", path, "-n", "2")
    assert code == 0 and len(out.splitlines()) == 2

    _follow_then_interrupt(testnet.path, ["logs", "v2", "-n", "0", "--follow"], "committed block")
    _follow_then_interrupt(testnet.path, ["status", "--watch"], "v3")

    code, _, err = _agora("testnet", "down", "--dir", path)
    assert code == 0, err
    assert "stopped 4 node(s)" in err
    assert not (testnet.path / PIDS_FILE).exists()
    assert not any(is_running(r) for r in records)
    assert _node_pids_under(testnet.path) == []

    code, _, err = _agora("testnet", "down", "--dir", path)
    assert code == 0 and "not running" in err

    code, out, err = _agora("testnet", "status", "--dir", path, "--json")
    assert code == 1 and "every node of the testnet is down" in err
    assert not any(n["up"] for n in json.loads(out)["nodes"])
    code, out, err = _agora("testnet", "status", "--dir", path)
    assert code == 1, err
    assert out.count("down") == 4


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _follow_then_interrupt(path: Path, command: list[str], expected: str) -> None:
    """Run a following `agora testnet` command until ``expected`` appears, then Ctrl-C it: exit 0."""
    output = path / "follow.txt"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-P", "-X", "faulthandler", "-m", "cli", "testnet", *command, "--dir", str(path)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            # pytest-xdist workers ignore SIGINT and children inherit that; a user's shell does not.
            preexec_fn=_default_sigint,
        )
    try:
        deadline = time.monotonic() + 30
        while expected not in output.read_text():
            assert process.poll() is None and time.monotonic() < deadline, output.read_text()
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(30)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)  # faulthandler prints where it hangs
            process.wait(10)
            raise AssertionError(f"{command} ignored Ctrl-C for 30 s:\n{output.read_text()}") from None
        assert code == 0, output.read_text()
    finally:
        process.kill()
        process.wait()


def test_up_fails_naming_the_node_that_cannot_start_and_stops_the_others(testnet: Layout) -> None:
    blocker = socket.socket()
    port = int(testnet.node("v2").api_url.rsplit(":", 1)[1])
    try:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        code, _, err = _agora("testnet", "up", "--dir", str(testnet.path), "--timeout", "30")
    finally:
        blocker.close()
    assert code == 1
    assert "node v2" in err and "cannot listen" in err
    assert not (testnet.path / PIDS_FILE).exists()
    assert _node_pids_under(testnet.path) == []


VENV_BIN = Path(sys.executable).parent
SCRIPT_FROM_ROOT = os.path.relpath(VENV_BIN / "agora", VENV_BIN.parent.parent)
"""How `make demo` runs it: `.venv/bin/agora demo`, from the repository, with no venv on the PATH."""


def _demo(directory: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if Path(p) != VENV_BIN)
    command = [SCRIPT_FROM_ROOT, "demo", "--dir", str(directory), *args]
    return subprocess.Popen(
        command, cwd=VENV_BIN.parent.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_demo_runs_end_to_end_and_leaves_no_node_behind(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    process = _demo(directory)
    try:
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "demo complete" in err
    assert "Balances (the same on all 5 nodes)" in out
    assert "1000025 AGR" in out
    assert "confirm delivery" in out and "merchant balance: 999974.99999 -> 999987.49996 AGR" in err
    # The hints work in the user's shell: the venv's agora is not on the PATH after `make demo`.
    assert f"  {SCRIPT_FROM_ROOT} testnet status --dir" in err and f"{SCRIPT_FROM_ROOT} demo --keep" in err
    assert "agora is not on your PATH" in err and "source " in err and "  agora " not in err
    assert _node_pids_under(directory) == []
    assert not (directory / PIDS_FILE).exists()


def test_demo_stopped_with_sigterm_while_starting_leaves_no_node_behind(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    process = _demo(directory, "--timeout", "60")
    try:
        deadline = time.monotonic() + 60
        while len(_recorded(directory)) < 5:  # every node started: now interrupt the demo
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
        if (directory / "testnet.json").exists():
            stop_nodes(load_testnet(directory), timeout=10)
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert _node_pids_under(directory) == []


def _recorded(directory: Path) -> list[NodeRecord]:
    try:
        return read_records(load_testnet(directory))
    except (CliError, LayoutError):  # not written yet
        return []
