"""nftables rules for lab hosts: one table per host, removed whole at ``down``.

Each host's table ``inet anl_lab_NAME`` (IPv4 and IPv6) is bound to the host's
own interface ``ve-NAME``, and holds:

- ``from_host``: what a packet coming in on ``ve-NAME`` may do, forwarded or
  addressed to this machine alike: IPv4 only, with the host's own address as
  source (anything else is spoofed), replies, DNS to the controller's
  resolvers and HTTP/HTTPS to the Debian mirrors' addresses; everything else
  is dropped (another lab host, this machine's services, any other address);
- ``lab_input`` (hook input) and ``lab_forward`` (hook forward) send that
  interface's packets there. Forwarded traffic *to* the host passes only as
  replies (``to_host``): this machine reaches its lab hosts directly, not
  through forwarding. A packet with the host's subnet as source arriving on
  any other interface is dropped: nobody else may pass for the host;
- ``lab_nat``: masquerade of the host's traffic towards the outside.

``link_rules`` and ``controller_port_rules`` open one more TCP port each,
bound to the same interfaces. The table is loaded before the host starts.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from anl_stack.adapters.nspawn import host_interface, run

FAMILY = "inet"
#: The family of the tables of older versions, still removed at ``down``.
LEGACY_FAMILY = "ip"


def table_name(host: str) -> str:
    return "anl_lab_" + host.replace("-", "_")


def _quoted(interface: str) -> str:
    return f'"{interface}"'


def _set(name: str, addresses: list[str]) -> str:
    elements = f" elements = {{ {', '.join(sorted(set(addresses)))} }};" if addresses else ""
    return f"  set {name} {{ type ipv4_addr;{elements} }}"


def render(host: str, subnet: str, resolvers: list[str], mirrors: list[str]) -> str:
    """The nft script that creates the host's table (pure, for tests)."""
    net = str(ipaddress.ip_network(subnet))
    iface = _quoted(host_interface(host))
    lines = [
        f"table {FAMILY} {table_name(host)} {{",
        _set("resolvers", resolvers),
        _set("mirrors", mirrors),
        "  chain from_host {",
        "    meta nfproto != ipv4 counter drop",
        f"    ip saddr != {net} counter drop",
        "    ct state established,related accept",
        "    ip daddr @resolvers udp dport 53 accept",
        "    ip daddr @resolvers tcp dport 53 accept",
        "    ip daddr @mirrors tcp dport { 80, 443 } accept",
        "    counter drop",
        "  }",
        "  chain to_host {",
        "    ct state established,related accept",
        "    counter drop",
        "  }",
        "  chain lab_input {",
        "    type filter hook input priority filter; policy accept;",
        f"    iifname {iface} jump from_host",
        # This machine's own packets to the gateway address come in on lo.
        f'    iifname != "lo" ip saddr {net} counter drop',
        "  }",
        "  chain lab_forward {",
        "    type filter hook forward priority filter; policy accept;",
        f"    iifname {iface} jump from_host",
        f"    oifname {iface} jump to_host",
        f"    ip saddr {net} counter drop",
        "  }",
        "  chain lab_nat {",
        "    type nat hook postrouting priority srcnat; policy accept;",
        f"    iifname {iface} ip saddr {net} ip daddr != {net} masquerade",
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _link_rule(source: str, source_net: str, target: str, target_net: str, port: int) -> list[str]:
    return ["iifname", _quoted(host_interface(source)), "ip", "saddr", source_net,
            "oifname", _quoted(host_interface(target)), "ip", "daddr", target_net,
            "tcp", "dport", str(port), "ct", "state", "new", "accept"]


def link_rules(source: str, source_net: str, target: str, target_net: str, port: int) -> list[list[str]]:
    """nft commands that let ``source`` open TCP ``port`` on ``target`` (pure, for tests).

    Both hosts' forward chains drop traffic between lab hosts, and a packet must pass
    both: each gets one rule, inserted before its drops. Replies are already accepted.
    The rule names both interfaces, so no other interface can pass for ``source``.
    """
    rule = _link_rule(source, source_net, target, target_net, port)
    return [["nft", "insert", "rule", FAMILY, table_name(host), "lab_forward", *rule] for host in (source, target)]


def link_present(listing: str, source: str, source_net: str, target: str, target_net: str, port: int) -> bool:
    """True if ``nft list table`` output holds the link rule."""
    return " ".join(_link_rule(source, source_net, target, target_net, port)) in listing


def _controller_port_rule(host: str, subnet: str, port: int) -> list[str]:
    net = ipaddress.ip_network(subnet)
    gateway = str(net.network_address + 1)
    return ["iifname", _quoted(host_interface(host)), "ip", "saddr", str(net), "ip", "daddr", gateway,
            "tcp", "dport", str(port), "ct", "state", "new", "accept"]


def controller_port_rules(host: str, subnet: str, port: int) -> list[list[str]]:
    """nft command that lets ``host`` open TCP ``port`` on its gateway address, this machine (pure)."""
    return [["nft", "insert", "rule", FAMILY, table_name(host), "lab_input",
             *_controller_port_rule(host, subnet, port)]]


def controller_port_present(listing: str, host: str, subnet: str, port: int) -> bool:
    return " ".join(_controller_port_rule(host, subnet, port)) in listing


def add_link(source: str, source_net: str, target: str, target_net: str, port: int) -> None:
    for command in link_rules(source, source_net, target, target_net, port):
        run(command)


def add_controller_port(host: str, subnet: str, port: int) -> None:
    for command in controller_port_rules(host, subnet, port):
        run(command)


def add_host_table(host: str, subnet: str, resolvers: list[str], mirrors: list[str]) -> None:
    remove_host_table(host)
    run(["nft", "-f", "-"], input=render(host, subnet, resolvers, mirrors))


def remove_host_table(host: str) -> None:
    for family in (FAMILY, LEGACY_FAMILY):
        if _exists(family, host):
            run(["nft", "delete", "table", family, table_name(host)])


def _exists(family: str, host: str) -> bool:
    return run(["nft", "list", "table", family, table_name(host)], check=False).returncode == 0


def table_exists(host: str) -> bool:
    return _exists(FAMILY, host) or _exists(LEGACY_FAMILY, host)


def list_table(host: str) -> str:
    return run(["nft", "list", "table", FAMILY, table_name(host)], check=False).stdout


def ruleset() -> str:
    return run(["nft", "list", "ruleset"], check=False).stdout


def enable_forwarding() -> None:
    """Let the kernel route IPv4 between lab links and the uplink (the NAT needs it)."""
    Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n")
