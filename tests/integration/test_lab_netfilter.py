"""The lab's nftables table, loaded with the real ``nft`` into network namespaces.

Namespaces stand in for the controller (``ctl``: ``ve-ta`` and ``ve-tb``
towards two lab hosts, ``up0`` towards the outside, and one more address of
its own on ``lo``), for two lab hosts (``ta``, ``tb``: ``host0`` with the
addresses the lab gives the first two hosts) and for the outside (``out``: a
Debian mirror, a resolver and some other address). The controller forwards
IPv4 and IPv6, and no reverse-path filter helps: what is dropped here, the
lab's rules drop. No lab container is started.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from anl_stack.adapters import netfilter
from anl_stack.lab.network import PREFIX, Subnet
from tests.integration.netns_support import Namespace, Topology, Try, counter, require_netns

pytestmark = pytest.mark.lab

UPLINK, MIRROR, RESOLVER, ELSEWHERE = "198.51.100.1", "198.51.100.80", "198.51.100.53", "198.51.100.99"
#: Another address of the controller, not on a lab link; its own resolver listens there.
CONTROLLER = "203.0.113.1"
RESOLVERS, MIRRORS = [RESOLVER, CONTROLLER], [MIRROR]


@dataclass
class Lab:
    topology: Topology
    ctl: Namespace
    out: Namespace
    hosts: dict[str, tuple[Namespace, Subnet]]

    def ns(self, host: str) -> Namespace:
        return self.hosts[host][0]

    def subnet(self, host: str) -> Subnet:
        return self.hosts[host][1]

    def listing(self, host: str) -> str:
        return self.ctl.run("nft", "list", "table", netfilter.FAMILY, netfilter.table_name(host))


def _veth(ctl: Namespace, here: str, peer: Namespace, there: str) -> None:
    ctl.ip("link", "add", here, "type", "veth", "peer", "name", there, "netns", peer.name)
    for ns, name in ((ctl, here), (peer, there)):
        ns.ip("link", "set", name, "addrgenmode", "none")  # only the link-local addresses given below
        ns.ip("link", "set", name, "up")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    require_netns()
    topology = Topology(tmp_path)
    try:
        ctl, out = topology.namespace("ctl"), topology.namespace("out")
        ctl.sysctl("net.ipv4.ip_forward", "1")
        ctl.sysctl("net.ipv6.conf.all.forwarding", "1")
        _veth(ctl, "up0", out, "eth0")
        ctl.ip("addr", "add", f"{UPLINK}/24", "dev", "up0")
        ctl.ip("addr", "add", "fd00:51::1/64", "dev", "up0", "nodad")
        for address in (MIRROR, RESOLVER, ELSEWHERE):
            out.ip("addr", "add", f"{address}/24", "dev", "eth0")
        out.ip("addr", "add", "fd00:51::80/64", "dev", "eth0", "nodad")
        out.ip("route", "add", "default", "via", UPLINK)
        ctl.ip("addr", "add", f"{CONTROLLER}/32", "dev", "lo")
        hosts = {}
        for index, name in enumerate(("ta", "tb")):
            ns, subnet = topology.namespace(name), Subnet(index)
            interface = f"ve-{name}"  # as systemd-nspawn names the controller's end
            _veth(ctl, interface, ns, "host0")
            ctl.ip("addr", "add", f"{subnet.gateway}/{PREFIX}", "dev", interface)
            ctl.ip("addr", "add", "fe80::1/64", "dev", interface, "nodad")
            ns.ip("addr", "add", f"{subnet.address}/{PREFIX}", "dev", "host0")
            ns.ip("addr", "add", "fe80::2/64", "dev", "host0", "nodad")
            ns.ip("route", "add", "default", "via", subnet.gateway)
            ctl.run("nft", "-f", "-", input=netfilter.render(name, subnet.cidr, RESOLVERS, MIRRORS))
            hosts[name] = (ns, subnet)
        yield Lab(topology, ctl, out, hosts)
    finally:
        topology.close()


def test_spoofed_sources_are_dropped_and_mirrors_reached_through_nat(lab: Lab) -> None:
    ta, ctl, out = lab.ns("ta"), lab.ctl, lab.out
    outside_dns = lab.topology.listen(out, "udp", "::", 53)
    controller_dns = lab.topology.listen(ctl, "udp", "::", 53)
    mirror = lab.topology.listen(out, "tcp", "::", 80)
    lab.topology.listen(out, "tcp", "::", 8080)
    # ta takes tb's address and an outside one: the lab would accept DNS from either.
    tb_address = lab.subnet("tb").address
    for address in (tb_address, "203.0.113.66"):
        ta.ip("addr", "add", f"{address}/32", "dev", "host0")
    ta.attempt(Try("udp", RESOLVER, 53, tb_address, 40001), Try("udp", RESOLVER, 53, "203.0.113.66", 40002),
               Try("udp", CONTROLLER, 53, tb_address, 40003), Try("udp", CONTROLLER, 53, "203.0.113.66", 40004))
    # The outside passes for ta (the controller would otherwise answer it as any outside sender).
    out.ip("addr", "add", f"{lab.subnet('ta').address}/32", "dev", "lo")
    out.attempt(Try("udp", CONTROLLER, 53, lab.subnet("ta").address, 40005))
    # Markers, sent after the spoofed datagrams on the same paths.
    ta.attempt(Try("udp", RESOLVER, 53, "", 40010), Try("udp", CONTROLLER, 53, "", 40011))
    out.attempt(Try("udp", CONTROLLER, 53, MIRROR, 40012))
    outside_dns.wait_for(UPLINK)  # masqueraded
    controller_dns.wait_for(lab.subnet("ta").address, 40011)
    controller_dns.wait_for(MIRROR, 40012)
    assert len(outside_dns.peers()) == 1, outside_dns.peers()
    assert sorted(controller_dns.peers()) == sorted([f"{lab.subnet('ta').address} 40011", f"{MIRROR} 40012"])
    # The mirrors' web ports only, through NAT.
    assert ta.attempt(Try("tcp", MIRROR, 80), Try("tcp", MIRROR, 8080), Try("tcp", ELSEWHERE, 80)) == [
        True, False, False]
    assert mirror.sources() == {UPLINK}


def test_the_controller_answers_a_host_only_where_the_lab_needs(lab: Lab) -> None:
    ta, ctl, out = lab.ns("ta"), lab.ctl, lab.out
    ta_net = lab.subnet("ta")
    service = lab.topology.listen(ctl, "tcp", "::", 8080)  # every address of the controller
    dns_udp = lab.topology.listen(ctl, "udp", "::", 53)
    lab.topology.listen(ctl, "tcp", "::", 53)
    ssh = lab.topology.listen(ta, "tcp", ta_net.address, 22)
    made = ta.attempt(
        Try("tcp", CONTROLLER, 8080), Try("tcp", UPLINK, 8080), Try("tcp", ta_net.gateway, 8080),
        Try("tcp", lab.subnet("tb").gateway, 8080),
        Try("tcp", ta_net.gateway, 53),  # the resolver is not on the gateway address here
        Try("tcp", CONTROLLER, 53), Try("udp", CONTROLLER, 53),
    )
    assert made == [False, False, False, False, False, True, True]
    dns_udp.wait_for(ta_net.address)
    assert service.peers() == []
    # The controller reaches the host (replies come in on ve-ta), and the rest of the
    # controller is not filtered by the lab.
    assert ctl.attempt(Try("tcp", ta_net.address, 22)) == [True]
    assert ssh.sources() == {ta_net.gateway}
    assert out.attempt(Try("tcp", UPLINK, 8080)) == [True]
    # A port the lab opens on the gateway address, and only there.
    for command in netfilter.controller_port_rules("ta", ta_net.cidr, 8080):
        ctl.run(*command)
    assert netfilter.controller_port_present(lab.listing("ta"), "ta", ta_net.cidr, 8080)
    assert ta.attempt(Try("tcp", ta_net.gateway, 8080), Try("tcp", CONTROLLER, 8080)) == [True, False]
    assert lab.ns("tb").attempt(Try("tcp", lab.subnet("tb").gateway, 8080)) == [False]


WATCH = """table inet watch {
  chain seen {
    type filter hook prerouting priority raw - 10; policy accept;
    tcp dport 22 tcp sport 40099 counter comment "spoofed"
  }
}
"""


def test_a_link_opens_one_port_to_the_linked_host_only(lab: Lab) -> None:
    ta, tb, out = lab.ns("ta"), lab.ns("tb"), lab.out
    a, b = lab.subnet("ta"), lab.subnet("tb")
    b_ssh = lab.topology.listen(tb, "tcp", b.address, 22)
    lab.topology.listen(tb, "tcp", b.address, 80)
    lab.topology.listen(ta, "tcp", a.address, 22)
    tb.run("nft", "-f", "-", input=WATCH)
    for command in netfilter.link_rules("ta", a.cidr, "tb", b.cidr, 22):
        lab.ctl.run(*command)
    assert all(netfilter.link_present(lab.listing(host), "ta", a.cidr, "tb", b.cidr, 22) for host in ("ta", "tb"))
    assert ta.attempt(Try("tcp", b.address, 22), Try("tcp", b.address, 80)) == [True, False]
    assert tb.attempt(Try("tcp", a.address, 22)) == [False]
    assert b_ssh.sources() == {b.gateway}  # masqueraded, as everything of a host's that leaves its link
    # The outside, passing for ta, does not get through the link.
    out.ip("addr", "add", f"{a.address}/32", "dev", "lo")
    assert out.attempt(Try("tcp", b.address, 22, a.address, 40099)) == [False]
    assert counter(tb, "watch", "spoofed") == 0


def test_ipv6_from_a_host_is_dropped(lab: Lab) -> None:
    ta, ctl, out = lab.ns("ta"), lab.ctl, lab.out
    service = lab.topology.listen(ctl, "tcp", "::", 8080)
    outside = lab.topology.listen(out, "udp", "::", 53)
    # Static neighbours: the packets reach the controller's rules without neighbour discovery.
    ta.ip("-6", "neigh", "replace", "fe80::1", "lladdr", ctl.mac("ve-ta"), "dev", "host0")
    ctl.ip("-6", "neigh", "replace", "fe80::2", "lladdr", ta.mac("host0"), "dev", "ve-ta")
    ctl.ip("-6", "neigh", "replace", "fd00:51::80", "lladdr", out.mac("eth0"), "dev", "up0")
    # What a host could set up itself: an address and a route through the controller.
    ta.ip("-6", "addr", "add", "fd00:77::2/64", "dev", "host0", "nodad")
    ta.ip("-6", "route", "add", "default", "via", "fe80::1", "dev", "host0")
    made = ta.attempt(Try("tcp", "fe80::1%host0", 8080, "fe80::2%host0"),
                      Try("udp", "fd00:51::80", 53, "fd00:77::2", 40020))
    ta.attempt(Try("udp", RESOLVER, 53, "", 40021))  # marker, after the IPv6 datagram
    outside.wait_for(UPLINK, 40021)
    assert made == [False, True]  # the datagram left the host
    assert outside.peers() == [f"{UPLINK} 40021"]
    assert service.peers() == []
