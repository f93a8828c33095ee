"""Separate hosts for a local testnet: one Linux network namespace per node, on one bridge.

``agora testnet init --hosts netns`` lays out a testnet whose nodes each live in a network
namespace of their own, with one address on a private /24 and a veth link to a bridge on
the host. Nodes reach each other only across those links, as separate machines would on
one switch; the host reaches every node at its address through the bridge (``status``,
the CLI, the tests). Every name carries the testnet's random id, so several such testnets
(parallel tests) never collide.

Needs root and iproute2's ``ip``. :func:`netns_up` creates the namespaces, links and bridge
(idempotently: what already exists is kept); :func:`netns_down` removes them, and is safe to
call any number of times, also after a failed ``up``.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

NETNS_PREFIX: Final = "agora-"
API_PORT: Final = 26657
P2P_PORT: Final = 26656
SUBNET_POOL: Final = ipaddress.IPv4Network("10.128.0.0/9")
"""The private /24s a testnet's subnet is drawn from (10.128.0.0 - 10.255.255.255)."""
IP_TIMEOUT: Final = 20.0


class NetnsError(Exception):
    """The host cannot give the testnet separate namespaces (no root, no ``ip``), or a command failed."""


@dataclass(frozen=True, slots=True)
class NetnsHost:
    """One node's network namespace and address."""

    namespace: str
    ip: str
    host_veth: str
    """The host end of the node's veth link (attached to the bridge)."""


@dataclass(frozen=True, slots=True)
class NetnsLayout:
    """The namespaces, bridge and subnet of one testnet."""

    id: str
    bridge: str
    subnet: str
    """A /24, e.g. 10.201.7.0/24; the bridge holds .1, nodes .2 upwards."""
    hosts: tuple[NetnsHost, ...]

    @property
    def bridge_ip(self) -> str:
        """The host's address on the bridge."""
        return str(ipaddress.ip_network(self.subnet)[1])

    def host(self, namespace: str) -> NetnsHost:
        """The host entry of ``namespace``; NetnsError if it is not this testnet's."""
        for host in self.hosts:
            if host.namespace == namespace:
                return host
        raise NetnsError(f"{namespace} is not a namespace of testnet {self.id}")

    def to_json(self) -> dict[str, object]:
        """The layout as JSON (kept in testnet.json)."""
        return {
            "id": self.id,
            "bridge": self.bridge,
            "subnet": self.subnet,
            "hosts": [{"namespace": h.namespace, "ip": h.ip, "host_veth": h.host_veth} for h in self.hosts],
        }

    @staticmethod
    def from_json(data: dict[str, object]) -> NetnsLayout:
        """Parse :meth:`to_json`'s output; KeyError/TypeError/ValueError if malformed."""
        hosts = data["hosts"]
        if not isinstance(hosts, list):
            raise TypeError("netns.hosts must be a list")
        layout = NetnsLayout(
            str(data["id"]),
            str(data["bridge"]),
            str(ipaddress.ip_network(str(data["subnet"]))),
            tuple(NetnsHost(str(h["namespace"]), str(h["ip"]), str(h["host_veth"])) for h in hosts),
        )
        for name in (layout.bridge, *(h.host_veth for h in layout.hosts)):
            _check_ifname(name)
        for host in layout.hosts:
            if not host.namespace.startswith(NETNS_PREFIX) or ipaddress.ip_address(host.ip) not in ipaddress.ip_network(
                layout.subnet
            ):
                raise ValueError(f"netns host {host.namespace} {host.ip} is not in {layout.subnet}")
        return layout


def require_netns() -> None:
    """NetnsError unless this process can create namespaces: it runs as root and ``ip`` is installed."""
    if os.geteuid() != 0:
        raise NetnsError(
            "--hosts netns needs root: each node gets its own network namespace, veth link and a bridge "
            "(run the command as root, e.g. with sudo, or use the default --hosts loopback)"
        )
    if shutil.which("ip") is None:
        raise NetnsError("--hosts netns needs iproute2's `ip` command (apt-get install iproute2)")


def plan_layout(node_names: Sequence[str], taken: Sequence[str] | None = None) -> NetnsLayout:
    """A fresh layout for ``node_names``: a random id and a random /24 of SUBNET_POOL that no
    address or route of this host uses (``taken``: the host's networks, read when None)."""
    if len(node_names) > 250:
        raise NetnsError("at most 250 nodes fit a /24")
    used = [ipaddress.ip_network(n, strict=False) for n in (host_networks() if taken is None else taken)]
    count = SUBNET_POOL.num_addresses // 256

    def nth(k: int) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network((int(SUBNET_POOL.network_address) + 256 * k, 24))

    used = [u for u in used if u.version == 4 and u.prefixlen > 0]
    draws = (nth(secrets.randbelow(count)) for _ in range(64))  # random first: parallel testnets
    scan = (nth(k) for k in range(count))
    subnet = next((n for n in itertools.chain(draws, scan) if not any(n.overlaps(u) for u in used)), None)
    if subnet is None:
        raise NetnsError(f"no free /24 in {SUBNET_POOL}")
    ident = secrets.token_hex(3)
    hosts = tuple(
        NetnsHost(f"{NETNS_PREFIX}{ident}-{name}", str(subnet[i + 2]), f"ag{ident}{name}")
        for i, name in enumerate(node_names)
    )
    for host in hosts:
        _check_ifname(host.host_veth)
    return NetnsLayout(ident, f"agb{ident}", str(subnet), hosts)


def host_networks() -> list[str]:
    """Every IPv4 network this host has an address or a route in (CIDR strings)."""
    nets: list[str] = []
    for entry in json.loads(_ip(["-j", "-4", "addr", "show"]) or "[]"):
        for addr in entry.get("addr_info", []):
            nets.append(f"{addr['local']}/{addr['prefixlen']}")
    for route in json.loads(_ip(["-j", "-4", "route", "show", "table", "all"]) or "[]"):
        dst = route.get("dst", "default")
        if dst != "default" and route.get("type", "unicast") in ("unicast", "local"):
            nets.append(dst if "/" in dst else f"{dst}/32")
    return nets


def netns_up(layout: NetnsLayout) -> None:
    """Create the bridge (holding the host's address), and per node a namespace with loopback up,
    a veth link to the bridge named eth0 inside, and the node's address. What exists is kept.

    NetnsError (with ``ip``'s message) if a step fails; call :func:`netns_down` to undo.
    """
    require_netns()
    existing = set(list_namespaces())
    if not _link_exists(layout.bridge):
        _check_subnet_free(layout)
        _ip(["link", "add", layout.bridge, "type", "bridge"])
        _ip(["addr", "add", f"{layout.bridge_ip}/24", "dev", layout.bridge])
    _ip(["link", "set", layout.bridge, "up"])
    for host in layout.hosts:
        if host.namespace not in existing:
            _ip(["netns", "add", host.namespace])
        _ip(["-n", host.namespace, "link", "set", "lo", "up"])
        if not _link_exists(host.host_veth):
            peer = f"{host.host_veth}p"
            _ip(["link", "add", host.host_veth, "type", "veth", "peer", "name", peer])
            _ip(["link", "set", peer, "netns", host.namespace])
            _ip(["-n", host.namespace, "link", "set", peer, "name", "eth0"])
            _ip(["-n", host.namespace, "addr", "add", f"{host.ip}/24", "dev", "eth0"])
        _ip(["link", "set", host.host_veth, "master", layout.bridge, "up"])
        _ip(["-n", host.namespace, "link", "set", "eth0", "up"])


def netns_down(layout: NetnsLayout) -> list[str]:
    """Delete every namespace of the layout (which removes its veth link) and the bridge.

    Safe to repeat; only names of this layout are touched. Returns what was removed;
    NetnsError if something is left (or there is something to remove and no root).
    """
    before = set(list_namespaces())
    present = [h.namespace for h in layout.hosts if h.namespace in before]
    if _link_exists(layout.bridge):
        present.append(layout.bridge)
    if not present:
        return []
    require_netns()
    for host in layout.hosts:
        if host.namespace in before:
            _ip(["netns", "del", host.namespace], check=False)
        if _link_exists(host.host_veth):
            _ip(["link", "del", host.host_veth], check=False)
    if _link_exists(layout.bridge):
        _ip(["link", "del", layout.bridge], check=False)
    after = set(list_namespaces())
    left = [name for name in present if name in after or _link_exists(name)]
    if left:
        raise NetnsError(f"could not remove {', '.join(left)}")
    return present


def is_up(layout: NetnsLayout) -> bool:
    """True if the bridge and every namespace of the layout exist."""
    existing = set(list_namespaces())
    return _link_exists(layout.bridge) and all(h.namespace in existing for h in layout.hosts)


def list_namespaces() -> list[str]:
    """The names of the host's network namespaces."""
    if not os.path.isdir("/run/netns"):
        return []
    return sorted(os.listdir("/run/netns"))


def exec_prefix(namespace: str) -> list[str]:
    """The command prefix that runs a program inside ``namespace`` (``ip netns exec`` execs it,
    so the started process keeps the pid the caller sees)."""
    return ["ip", "netns", "exec", namespace]


def _check_subnet_free(layout: NetnsLayout) -> None:
    subnet = ipaddress.ip_network(layout.subnet)
    for net in host_networks():
        other = ipaddress.ip_network(net, strict=False)
        if other.version == 4 and other.prefixlen > 0 and other.overlaps(subnet):
            raise NetnsError(f"the testnet's subnet {subnet} is in use on this host ({net}); write a new testnet")


def _check_ifname(name: str) -> None:
    if not 1 <= len(name) <= 15 or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"bad interface name {name!r} (1-15 letters, digits, - or _)")


def _link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def _ip(args: list[str], check: bool = True) -> str:
    try:
        done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT)
    except FileNotFoundError:
        raise NetnsError("iproute2's `ip` command is not installed") from None
    except subprocess.TimeoutExpired:
        raise NetnsError(f"`ip {' '.join(args)}` did not finish in {IP_TIMEOUT:g} s") from None
    if check and done.returncode != 0:
        raise NetnsError(f"`ip {' '.join(args)}` failed: {done.stderr.strip() or done.returncode}")
    return done.stdout
