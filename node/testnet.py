"""Local testnet layout: genesis, keys, datadirs and configs for N validators and M followers.

``init_testnet`` writes everything a loopback testnet needs into one directory; the CLI
(`agora testnet`) and the multi-node tests start processes from it. Every node gets a
client API port and a p2p port that were free on 127.0.0.1 when it was written, and
every node's seeds are all the validators but itself. Two demo wallets, ``merchant`` and
``shopper``, are funded at genesis; their keystores live in ``<dir>/keys`` so that
``agora --home <dir>`` can sign with them. One password (``<dir>/password.txt``, mode
0600) unlocks every key of the testnet: it is a local test network, not a production one.

Layout::

    <dir>/testnet.json        chain id, nodes (name, role, datadir, api and p2p URLs), wallets
    <dir>/password.txt        the password of every key below
    <dir>/keys/<wallet>.json  demo wallet keystores
    <dir>/nodes/<name>/       one node datadir each (v0.. validators, f0.. followers)

With ``hosts="netns"`` every node instead gets a network namespace of its own and an address
on a private /24 (``node/netns.py``); it listens on that address on fixed ports, and the
layout records the namespaces, which ``agora testnet up`` creates and ``down`` removes.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from chain.address import encode_address
from chain.keys import PrivateKey
from node.datadir import DatadirError, dev_genesis, init_datadir, read_genesis
from node.keystore import save_key
from node.netns import API_PORT, P2P_PORT, NetnsError, NetnsLayout, plan_layout, require_netns

LAYOUT_FILE: Final = "testnet.json"
PASSWORD_FILE: Final = "password.txt"
DEMO_WALLETS: Final = ("merchant", "shopper")
DEMO_FUNDS: Final = 1_000_000 * 10**6
"""1,000,000 AGR for each demo wallet."""
MAX_VALIDATORS: Final = 16
MAX_FOLLOWERS: Final = 16
HOSTS: Final = ("loopback", "netns")
"""Where the nodes run: all on 127.0.0.1, or each in a network namespace of its own."""


class TestnetError(Exception):
    """The testnet directory is missing, foreign or malformed, or the request is out of bounds."""


@dataclass(frozen=True, slots=True)
class TestnetNode:
    """One node of the testnet."""

    name: str
    role: str
    """'validator' or 'follower'."""
    datadir: Path
    api_url: str
    p2p_url: str
    netns: str | None = None
    """The node's network namespace (``--hosts netns``), None on loopback."""


@dataclass(frozen=True, slots=True)
class Testnet:
    """A written testnet directory."""

    path: Path
    chain_id: str
    nodes: tuple[TestnetNode, ...]
    wallets: dict[str, str]
    """Demo wallet name -> address."""
    netns: NetnsLayout | None = None
    """The namespaces and bridge of a ``--hosts netns`` testnet (None on loopback)."""

    @property
    def password_file(self) -> Path:
        """The file holding the password of every key."""
        return self.path / PASSWORD_FILE

    def node(self, name: str) -> TestnetNode:
        """The node called ``name``; TestnetError if there is none."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise TestnetError(f"no node {name!r} in {self.path} (nodes: {', '.join(n.name for n in self.nodes)})")


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that were free a moment ago (held open until all are found)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def one_machine_settings(nodes: int, cores: int | None = None) -> dict[str, object]:
    """Settings for ``nodes`` node processes sharing one machine of ``cores`` cores (default: this one's).

    With at least as many nodes as cores, a signature-verification thread pool buys no
    parallelism, only hand-off cost, so each node verifies inline (``verify_workers = 0``);
    a lone node, or fewer nodes than cores, keeps the default pool.
    """
    cores = cores if cores is not None else (os.cpu_count() or 1)
    return {"verify_workers": 0} if nodes >= cores else {}


def init_testnet(
    path: Path,
    validators: int,
    followers: int = 0,
    chain_id: str = "agora-testnet",
    min_block_interval_ms: int = 100,
    heartbeat_interval_ms: int = 2000,
    extra_balances: Mapping[bytes, int] | None = None,
    node_config: Mapping[str, object] | None = None,
    hosts: str = "loopback",
) -> Testnet:
    """Write a testnet of ``validators`` validators and ``followers`` followers into ``path``.

    ``extra_balances`` funds more accounts at genesis (benchmarks); ``node_config`` adds
    settings to every node's config.toml. ``hosts="netns"`` places each node in a network
    namespace of its own (needs root; TestnetError without). Refuses (TestnetError) a
    non-empty directory, a directory it cannot read or write, or counts out of bounds; nothing
    is left half-written on a refusal before the first file.
    """
    if hosts not in HOSTS:
        raise TestnetError(f"--hosts must be one of {', '.join(HOSTS)}")
    if hosts == "netns":
        try:
            require_netns()
        except NetnsError as exc:
            raise TestnetError(str(exc)) from None
    if not 1 <= validators <= MAX_VALIDATORS:
        raise TestnetError(f"--validators must be 1..{MAX_VALIDATORS}")
    if not 0 <= followers <= MAX_FOLLOWERS:
        raise TestnetError(f"--nodes must be 0..{MAX_FOLLOWERS}")
    try:
        occupied = path.exists() and (not path.is_dir() or any(path.iterdir()))
    except OSError as exc:  # e.g. a parent that may not be searched, a directory that may not be listed
        raise TestnetError(f"cannot read {path}: {exc.strerror or exc}") from None
    if occupied:
        raise TestnetError(f"{path} exists and is not empty (run `agora testnet down` and remove it, or pick another)")
    password = secrets.token_urlsafe(24)
    validator_keys = [PrivateKey.generate() for _ in range(validators)]
    wallet_keys = {name: PrivateKey.generate() for name in DEMO_WALLETS}
    balances = {k.public_key: DEMO_FUNDS for k in wallet_keys.values()}
    balances.update(extra_balances or {})
    genesis = dev_genesis(chain_id, [k.public_key for k in validator_keys], balances)
    names = [f"v{i}" for i in range(validators)] + [f"f{i}" for i in range(followers)]
    layout: NetnsLayout | None = None
    if hosts == "netns":
        try:
            layout = plan_layout(names)
        except NetnsError as exc:
            raise TestnetError(str(exc)) from None
        ips = [h.ip for h in layout.hosts]
        api_ports, p2p_ports = [API_PORT] * len(names), [P2P_PORT] * len(names)
    else:
        ips = ["127.0.0.1"] * len(names)
        ports = free_ports(2 * len(names))
        api_ports, p2p_ports = ports[: len(names)], ports[len(names) :]
    validator_p2p = [f"http://{ips[i]}:{p2p_ports[i]}" for i in range(validators)]
    nodes = []
    try:
        path.mkdir(parents=True, exist_ok=True)
        _write_private(path / PASSWORD_FILE, password + "\n")
        for name, key in wallet_keys.items():
            save_key(path / "keys" / f"{name}.json", key, password, name)
        for i, name in enumerate(names):
            datadir = path / "nodes" / name
            seeds = [url for j, url in enumerate(validator_p2p) if j != i]
            config = {
                **({} if layout is None else {"api_host": ips[i]}),
                "api_port": api_ports[i],
                "p2p_listen": f"{ips[i]}:{p2p_ports[i]}",
                "seeds": ",".join(seeds),
                "min_block_interval_ms": min_block_interval_ms,
                "heartbeat_interval_ms": heartbeat_interval_ms,
                **one_machine_settings(len(names)),
                **(node_config or {}),
            }
            init_datadir(datadir, genesis, validator_keys[i] if i < validators else None, password, config)
            role = "validator" if i < validators else "follower"
            netns = None if layout is None else layout.hosts[i].namespace
            api_url, p2p_url = f"http://{ips[i]}:{api_ports[i]}", f"http://{ips[i]}:{p2p_ports[i]}"
            nodes.append(TestnetNode(name, role, datadir, api_url, p2p_url, netns))
        wallets = {name: encode_address(k.public_key) for name, k in wallet_keys.items()}
        testnet = Testnet(path, chain_id, tuple(nodes), wallets, layout)
        (path / LAYOUT_FILE).write_text(json.dumps(_to_json(testnet), indent=2) + "\n")
    except (OSError, DatadirError) as exc:
        raise TestnetError(f"cannot write the testnet in {path}: {exc}") from None
    return testnet


def add_follower(path: Path) -> TestnetNode:
    """Write one more follower datadir into the testnet at ``path`` and record it in the layout.

    The new node gets the testnet's genesis, fresh free loopback ports and every validator
    as a seed; it is named after the existing followers (f0, f1, ...). Refuses (TestnetError)
    when the testnet already has MAX_FOLLOWERS followers; the layout file is only rewritten
    once the datadir is complete.
    """
    testnet = load_testnet(path)
    if testnet.netns is not None:
        raise TestnetError("add-node is not supported on a --hosts netns testnet yet; write it with --nodes N")
    followers = [n for n in testnet.nodes if n.role == "follower"]
    if len(followers) >= MAX_FOLLOWERS:
        raise TestnetError(f"the testnet already has {MAX_FOLLOWERS} followers")
    taken = {n.name for n in testnet.nodes}
    name = next(f"f{i}" for i in range(MAX_FOLLOWERS + len(taken)) if f"f{i}" not in taken)
    validators = [n for n in testnet.nodes if n.role == "validator"]
    if not validators:
        raise TestnetError(f"{path / LAYOUT_FILE} lists no validator")
    api_port, p2p_port = free_ports(2)
    config = {
        "api_port": api_port,
        "p2p_listen": f"127.0.0.1:{p2p_port}",
        "seeds": ",".join(n.p2p_url for n in validators),
    }
    datadir = path / "nodes" / name
    try:
        genesis = read_genesis(validators[0].datadir / "genesis.json")
        init_datadir(datadir, genesis, None, "", config)
    except (OSError, DatadirError) as exc:
        raise TestnetError(f"cannot add a node to {path}: {exc}") from None
    node = TestnetNode(name, "follower", datadir, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{p2p_port}")
    grown = Testnet(testnet.path, testnet.chain_id, (*testnet.nodes, node), testnet.wallets)
    (path / LAYOUT_FILE).write_text(json.dumps(_to_json(grown), indent=2) + "\n")
    return node


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _to_json(testnet: Testnet) -> dict[str, Any]:
    data: dict[str, Any] = {
        "chain_id": testnet.chain_id,
        "nodes": [
            {
                "name": n.name,
                "role": n.role,
                "datadir": n.datadir.name,
                "api_url": n.api_url,
                "p2p_url": n.p2p_url,
                **({} if n.netns is None else {"netns": n.netns}),
            }
            for n in testnet.nodes
        ],
        "wallets": testnet.wallets,
    }
    if testnet.netns is not None:
        data["hosts"] = "netns"
        data["netns"] = testnet.netns.to_json()
    return data


def load_testnet(path: Path) -> Testnet:
    """Read the layout written by :func:`init_testnet`; TestnetError if missing or malformed."""
    try:
        data = json.loads((path / LAYOUT_FILE).read_text())
        nodes = tuple(
            TestnetNode(
                str(n["name"]),
                str(n["role"]),
                path / "nodes" / str(n["datadir"]),
                str(n["api_url"]),
                str(n["p2p_url"]),
                None if n.get("netns") is None else str(n["netns"]),
            )
            for n in data["nodes"]
        )
        wallets = {str(k): str(v) for k, v in data["wallets"].items()}
        hosts = data.get("hosts", "loopback")
        if hosts not in HOSTS:
            raise ValueError(f"hosts must be one of {', '.join(HOSTS)}, not {hosts!r}")
        layout = None if hosts == "loopback" else NetnsLayout.from_json(data["netns"])
        if layout is not None:
            for node in nodes:
                layout.host(str(node.netns))
        return Testnet(path, str(data["chain_id"]), nodes, wallets, layout)
    except FileNotFoundError:
        raise TestnetError(
            f"{path} is not a testnet (no {LAYOUT_FILE}; create one with `agora testnet init`)"
        ) from None
    except PermissionError as exc:
        raise TestnetError(f"cannot read {path / LAYOUT_FILE}: {exc.strerror}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, NetnsError) as exc:
        raise TestnetError(f"{path / LAYOUT_FILE} is malformed: {exc}") from None
