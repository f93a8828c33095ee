"""`agora testnet init / add-node / url / down` on a testnet that is written but not started."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cli_testkit import run_cli

from cli.testnet_run import PIDS_FILE
from node.testnet import load_testnet


def _init(path: Path, *args: str) -> tuple[int, str, str]:
    result = run_cli(["testnet", "init", "--dir", str(path), *args])
    return result.exit_code, result.stdout, result.stderr


def test_init_writes_every_node_wallets_and_distinct_ports(tmp_path: Path) -> None:
    path = tmp_path / "net"
    code, out, err = _init(path, "--validators", "4", "--nodes", "1", "--chain-id", "layout-test")
    assert code == 0, err
    testnet = load_testnet(path)
    assert testnet.chain_id == "layout-test"
    assert [(n.name, n.role) for n in testnet.nodes] == [
        ("v0", "validator"),
        ("v1", "validator"),
        ("v2", "validator"),
        ("v3", "validator"),
        ("f0", "follower"),
    ]
    ports = [int(url.rsplit(":", 1)[1]) for n in testnet.nodes for url in (n.api_url, n.p2p_url)]
    assert len(set(ports)) == len(ports) == 10
    for node in testnet.nodes:
        assert node.name in out and node.api_url in out and node.p2p_url in out
        assert (node.datadir / "config.toml").is_file() and (node.datadir / "genesis.json").is_file()
        assert (node.datadir / "keys" / "validator.json").exists() == (node.role == "validator")
    genesis = {(n.datadir / "genesis.json").read_text() for n in testnet.nodes}
    assert len(genesis) == 1
    assert stat.S_IMODE(os.stat(testnet.password_file).st_mode) == 0o600
    for wallet, address in testnet.wallets.items():
        assert (path / "keys" / f"{wallet}.json").is_file()
        assert address in out
    assert f"agora testnet up --dir {path}" in err


def test_init_refuses_a_non_empty_directory_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "net"
    path.mkdir()
    (path / "precious.txt").write_text("keep me")
    code, _, err = _init(path, "--validators", "2")
    assert code == 1
    assert "not empty" in err and "Traceback" not in err
    assert sorted(p.name for p in path.iterdir()) == ["precious.txt"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--validators", "0"], "--validators must be 1..16"),
        (["--validators", "17"], "--validators must be 1..16"),
        (["--validators", "1", "--nodes", "17"], "--nodes must be 0..16"),
        (["--validators", "1", "--nodes", "-1"], "--nodes must be 0..16"),
    ],
)
def test_init_refuses_counts_out_of_bounds(tmp_path: Path, args: list[str], message: str) -> None:
    code, _, err = _init(tmp_path / "net", *args)
    assert code == 1
    assert message in err
    assert not (tmp_path / "net").exists()


def test_add_node_writes_a_follower_with_the_same_genesis_and_the_validators_as_seeds(tmp_path: Path) -> None:
    path = tmp_path / "net"
    assert _init(path, "--validators", "3")[0] == 0
    result = run_cli(["testnet", "add-node", "--dir", str(path)])
    assert result.exit_code == 0, result.stderr
    testnet = load_testnet(path)
    added = testnet.node("f0")
    assert added.role == "follower" and added.api_url in result.stdout
    assert (added.datadir / "genesis.json").read_text() == (testnet.node("v0").datadir / "genesis.json").read_text()
    config = (added.datadir / "config.toml").read_text()
    for validator in testnet.nodes[:3]:
        assert validator.p2p_url in config
    ports = [url for n in testnet.nodes for url in (n.api_url, n.p2p_url)]
    assert len(set(ports)) == len(ports)
    url = run_cli(["testnet", "url", "f0", "--dir", str(path)])
    assert url.exit_code == 0 and url.stdout.strip() == added.api_url


def test_commands_on_a_directory_that_is_not_a_testnet_fail_cleanly(tmp_path: Path) -> None:
    for command in (["up"], ["status"], ["down"], ["logs", "v0"], ["add-node"]):
        result = run_cli(["testnet", *command, "--dir", str(tmp_path)])
        assert result.exit_code == 1, command
        assert "is not a testnet" in result.stderr and "Traceback" not in result.stderr


def test_down_never_signals_a_pid_whose_process_is_not_the_recorded_one(tmp_path: Path) -> None:
    path = tmp_path / "net"
    assert _init(path, "--validators", "1")[0] == 0
    # A stale record: this very test process, with a start time that is not its own.
    (path / PIDS_FILE).write_text(json.dumps({"nodes": [{"name": "v0", "pid": os.getpid(), "identity": "0"}]}))
    result = run_cli(["testnet", "down", "--dir", str(path)])
    assert result.exit_code == 0, result.stderr
    assert "not running" in result.stderr
    assert not (path / PIDS_FILE).exists()


def test_logs_of_a_node_never_started_and_of_an_unknown_node(tmp_path: Path) -> None:
    path = tmp_path / "net"
    assert _init(path, "--validators", "1")[0] == 0
    result = run_cli(["testnet", "logs", "v0", "--dir", str(path)])
    assert result.exit_code == 1 and "does not exist yet" in result.stderr
    result = run_cli(["testnet", "logs", "v9", "--dir", str(path)])
    assert result.exit_code == 1 and "no node 'v9'" in result.stderr


def test_status_of_a_testnet_whose_nodes_are_all_down_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "net"
    assert _init(path, "--validators", "2")[0] == 0
    for extra in ([], ["--json"]):
        result = run_cli(["testnet", "status", "--dir", str(path), *extra])
        assert result.exit_code == 1, result.stdout
        assert "every node of the testnet is down" in result.stderr and "Traceback" not in result.stderr
        assert "v0" in result.stdout and "v1" in result.stdout
    nodes = json.loads(run_cli(["testnet", "status", "--dir", str(path), "--json"]).stdout)["nodes"]
    assert [n["name"] for n in nodes] == ["v0", "v1"]


def _as_unprivileged(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user that file permissions apply to: as root, in a new user namespace with
    no mapping (uid 65534 there, and root's files are no longer exempt from their modes)."""
    prefix = ["unshare", "--user"] if os.geteuid() == 0 else []
    return subprocess.run(
        [*prefix, sys.executable, "-P", "-m", "cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
        env={k: v for k, v in os.environ.items() if not k.startswith("AGORA_")} | {"HOME": str(home)},
    )


def test_init_in_a_directory_it_cannot_read_or_write_is_one_clear_line(tmp_path: Path) -> None:
    shut = tmp_path / "shut"  # may not be searched: whether shut/net exists cannot even be asked
    shut.mkdir(mode=0o600)
    locked = tmp_path / "locked"  # may be read, not written
    locked.mkdir(mode=0o500)
    try:
        for target, message in (
            (shut / "net", f"error: cannot read {shut / 'net'}: Permission denied"),
            (locked, f"error: cannot write the testnet in {locked}: [Errno 13] Permission denied"),
            (locked / "net", f"error: cannot write the testnet in {locked / 'net'}: [Errno 13] Permission denied"),
        ):
            done = _as_unprivileged(["testnet", "init", "--dir", str(target)], tmp_path)
            assert done.returncode == 1, done
            assert "Traceback" not in done.stderr, done.stderr
            assert done.stderr.strip().splitlines() == [done.stderr.strip()] and done.stderr.startswith(message), done
        done = _as_unprivileged(["testnet", "status", "--dir", str(shut / "net")], tmp_path)
        assert (
            done.returncode == 1
            and done.stderr.strip() == f"error: cannot read {shut / 'net' / 'testnet.json'}: Permission denied"
        ), done
        assert list(locked.iterdir()) == []
    finally:
        shut.chmod(0o700)
        locked.chmod(0o700)


def test_start_and_stop_are_up_and_down(tmp_path: Path) -> None:
    path = tmp_path / "net"
    assert _init(path, "--validators", "2")[0] == 0
    stopped = run_cli(["testnet", "stop", "--dir", str(path)])
    assert stopped.exit_code == 0 and "is not running" in stopped.stderr + stopped.stdout, stopped.stderr
    started = run_cli(["testnet", "start", "--help"])
    assert started.exit_code == 0 and "Start every node" in started.stdout
    listed = run_cli(["testnet", "--help"]).stdout
    assert " up " in listed and " start " not in listed and " stop " not in listed
