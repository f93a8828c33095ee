"""`agora testnet init --hosts netns`: each node in its own network namespace, reached over a bridge.

These tests need root (network namespaces, veth links, a bridge): without it they fail, by
design, rather than skip. Whatever a test creates is removed afterwards, even on failure.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_testkit import run_cli

from cli.testnet_run import read_records, stop_nodes
from node.netns import is_up, list_namespaces, netns_down
from node.testnet import Testnet as Layout
from node.testnet import load_testnet

pytestmark = pytest.mark.timeout(180)


def _require_root() -> None:
    assert os.geteuid() == 0, "the netns testnet tests need root (network namespaces); run them as root"


@pytest.fixture
def netns_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory for a netns testnet; its nodes, namespaces and bridge are removed afterwards."""
    _require_root()
    path = tmp_path / "net"
    try:
        yield path
    finally:
        if (path / "testnet.json").exists():
            testnet = load_testnet(path)
            stop_nodes(testnet, timeout=10)
            assert testnet.netns is not None
            netns_down(testnet.netns)
            assert not any(ns.startswith(f"agora-{testnet.netns.id}-") for ns in list_namespaces())


def _netns_of(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/net")


def test_init_up_status_down_with_one_namespace_per_node(netns_dir: Path) -> None:
    result = run_cli(["testnet", "init", "--hosts", "netns", "--validators", "4", "--dir", str(netns_dir)])
    assert result.exit_code == 0, result.stderr
    testnet: Layout = load_testnet(netns_dir)
    layout = testnet.netns
    assert layout is not None and not is_up(layout), "init writes the layout; `up` creates the namespaces"
    subnet = ipaddress.ip_network(layout.subnet)
    ips = [ipaddress.ip_address(n.api_url.split("//")[1].split(":")[0]) for n in testnet.nodes]
    assert len(set(ips)) == 4 and all(ip in subnet for ip in ips)
    assert all(n.netns is not None and n.netns.startswith(f"agora-{layout.id}-") for n in testnet.nodes)

    result = run_cli(["testnet", "up", "--dir", str(netns_dir), "--timeout", "90"])
    assert result.exit_code == 0, result.stderr
    assert is_up(layout)
    records = read_records(testnet)
    host_ns = _netns_of(os.getpid())
    spaces = {_netns_of(r.pid) for r in records}
    assert len(spaces) == 4 and host_ns not in spaces, "every node runs in a network namespace of its own"
    for node, record in zip(testnet.nodes, records, strict=True):
        # inside its namespace, the node sees only loopback and its veth end, holding its own address
        shown = subprocess.run(
            ["ip", "-n", str(node.netns), "-j", "-4", "addr"], capture_output=True, text=True, check=True
        ).stdout
        addrs = {a["local"] for entry in json.loads(shown) for a in entry["addr_info"]}
        assert addrs == {"127.0.0.1", node.api_url.split("//")[1].split(":")[0]}, (node.name, record.pid, addrs)

    result = run_cli(["testnet", "status", "--dir", str(netns_dir), "--json"])
    assert result.exit_code == 0, result.stderr
    nodes = json.loads(result.stdout)["nodes"]
    assert all(n["up"] and n["ready"] and n["height"] >= 1 and n["peers"] == 3 for n in nodes), nodes

    result = run_cli(["testnet", "down", "--dir", str(netns_dir)])
    assert result.exit_code == 0, result.stderr
    assert "stopped 4 node(s)" in result.stderr and "removed the network namespaces" in result.stderr
    assert not is_up(layout)
    assert not any(ns.startswith(f"agora-{layout.id}-") for ns in list_namespaces())
    assert not Path(f"/sys/class/net/{layout.bridge}").exists()
    result = run_cli(["testnet", "down", "--dir", str(netns_dir)])
    assert result.exit_code == 0 and "not running" in result.stderr


def test_two_netns_testnets_get_distinct_names_and_subnets(netns_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    for path in (netns_dir, other):
        assert run_cli(["testnet", "init", "--hosts", "netns", "--validators", "2", "--dir", str(path)]).exit_code == 0
    a, b = load_testnet(netns_dir).netns, load_testnet(other).netns
    assert a is not None and b is not None
    assert a.id != b.id and a.bridge != b.bridge
    assert not ipaddress.ip_network(a.subnet).overlaps(ipaddress.ip_network(b.subnet))
    assert {h.namespace for h in a.hosts}.isdisjoint(h.namespace for h in b.hosts)


def test_init_with_netns_without_root_is_one_clear_line_and_writes_nothing() -> None:
    _require_root()  # to drop to an unprivileged user, the test itself starts as root
    with tempfile.TemporaryDirectory(prefix="agora-netns-") as name:  # pytest's tmp_path is root's alone
        _init_as_nobody(Path(name))


def _init_as_nobody(tmp_path: Path) -> None:
    tmp_path.chmod(0o777)
    path = tmp_path / "net"
    # A new user namespace with no mapping: inside it the process is uid 65534, not root, yet it
    # still reads the checkout as its owner (setpriv to nobody could not read a 0700 clone dir).
    nobody = ["unshare", "--user"]
    done = subprocess.run(
        [*nobody, sys.executable, "-P", "-m", "cli", "testnet", "init", "--hosts", "netns", "--dir", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("AGORA_")} | {"HOME": str(tmp_path)},
    )
    assert done.returncode == 1, done
    assert "--hosts netns needs root" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not path.exists()


def test_an_unknown_hosts_kind_is_refused(tmp_path: Path) -> None:
    result = run_cli(["testnet", "init", "--hosts", "vms", "--dir", str(tmp_path / "net")])
    assert result.exit_code == 1
    assert "--hosts must be one of loopback, netns" in result.stderr
    assert not (tmp_path / "net").exists()
