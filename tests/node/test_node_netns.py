"""The netns layout: fresh names and a free subnet per testnet, and a layout file that is checked."""

from __future__ import annotations

import ipaddress

import pytest

from node.netns import SUBNET_POOL, NetnsError, NetnsLayout, plan_layout


def test_a_plan_gives_every_node_a_namespace_an_address_and_a_short_link_name() -> None:
    layout = plan_layout(["v0", "v1", "v2", "f0"], taken=[])
    subnet = ipaddress.ip_network(layout.subnet)
    assert subnet.prefixlen == 24 and subnet.subnet_of(SUBNET_POOL)
    assert layout.bridge_ip == str(subnet[1])
    assert [h.ip for h in layout.hosts] == [str(subnet[i]) for i in range(2, 6)]
    assert all(
        h.namespace == f"agora-{layout.id}-{n}" for h, n in zip(layout.hosts, ["v0", "v1", "v2", "f0"], strict=True)
    )
    assert all(len(h.host_veth) + 1 <= 15 for h in layout.hosts)  # its peer end adds a "p"
    assert NetnsLayout.from_json(layout.to_json()) == layout


def test_a_plan_avoids_the_networks_the_host_uses() -> None:
    pool = list(SUBNET_POOL.subnets(new_prefix=24))
    free = pool[1234]
    taken = [str(n) for n in SUBNET_POOL.address_exclude(free)]
    assert plan_layout(["v0"], taken=taken).subnet == str(free)
    with pytest.raises(NetnsError, match="no free /24"):
        plan_layout(["v0"], taken=[str(SUBNET_POOL)])


def test_a_malformed_layout_is_refused() -> None:
    good = plan_layout(["v0", "v1"], taken=[]).to_json()
    outside = {**good, "hosts": [{**good["hosts"][0], "ip": "192.168.1.2"}]}  # type: ignore[index]
    with pytest.raises(ValueError, match="is not in"):
        NetnsLayout.from_json(outside)
    long_name = {**good, "bridge": "a-bridge-name-that-is-too-long"}
    with pytest.raises(ValueError, match="bad interface name"):
        NetnsLayout.from_json(long_name)
    foreign = {**good, "hosts": [{**good["hosts"][0], "namespace": "someone-elses"}]}  # type: ignore[index]
    with pytest.raises(ValueError):
        NetnsLayout.from_json(foreign)
