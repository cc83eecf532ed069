"""nftables rules for lab hosts: one table per host, removed whole at ``down``.

Each host's table ``ip anl_lab_NAME`` holds:

- ``lab_nat``: masquerade of the host's subnet towards the outside;
- ``lab_forward``: a forward filter for the host's subnet that accepts replies, DNS
  to the controller's resolvers and HTTP/HTTPS to the Debian mirrors'
  addresses, and drops everything else (another lab host, any other
  address). Traffic forwarded *to* the host is accepted only as replies:
  the controller itself reaches its lab hosts directly, not through
  forwarding.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from anl_stack.adapters.nspawn import run

FAMILY = "ip"


def table_name(host: str) -> str:
    return "anl_lab_" + host.replace("-", "_")


def render(host: str, subnet: str, resolvers: list[str], mirrors: list[str]) -> str:
    """The nft script that creates the host's table (pure, for tests)."""
    net = str(ipaddress.ip_network(subnet))
    mirror_elems = f" elements = {{ {', '.join(sorted(set(mirrors)))} }};" if mirrors else ""
    lines = [
        f"table {FAMILY} {table_name(host)} {{",
        f"  set mirrors {{ type ipv4_addr;{mirror_elems} }}",
        "  chain lab_nat {",
        "    type nat hook postrouting priority srcnat; policy accept;",
        f"    ip saddr {net} ip daddr != {net} masquerade",
        "  }",
        "  chain lab_forward {",
        "    type filter hook forward priority filter; policy accept;",
        f"    ip saddr {net} ct state established,related accept",
    ]
    for resolver in resolvers:
        lines += [
            f"    ip saddr {net} ip daddr {resolver} udp dport 53 accept",
            f"    ip saddr {net} ip daddr {resolver} tcp dport 53 accept",
        ]
    lines += [
        f"    ip saddr {net} ip daddr @mirrors tcp dport {{ 80, 443 }} accept",
        f"    ip saddr {net} counter drop",
        f"    ip daddr {net} ct state established,related accept",
        f"    ip daddr {net} counter drop",
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def link_rules(source: str, source_net: str, target: str, target_net: str, port: int) -> list[list[str]]:
    """nft commands that let ``source``'s subnet open TCP ``port`` on ``target``'s (pure, for tests).

    Both hosts' forward chains drop traffic between lab hosts, and a packet must pass
    both: each gets one rule, inserted before its drops. Replies are already accepted.
    """
    return [
        ["nft", "insert", "rule", FAMILY, table_name(source), "lab_forward", "ip", "saddr", source_net,
         "ip", "daddr", target_net, "tcp", "dport", str(port), "ct", "state", "new", "accept"],
        ["nft", "insert", "rule", FAMILY, table_name(target), "lab_forward", "ip", "saddr", source_net,
         "ip", "daddr", target_net, "tcp", "dport", str(port), "ct", "state", "new", "accept"],
    ]


def add_link(source: str, source_net: str, target: str, target_net: str, port: int) -> None:
    for command in link_rules(source, source_net, target, target_net, port):
        run(command)


def add_host_table(host: str, subnet: str, resolvers: list[str], mirrors: list[str]) -> None:
    remove_host_table(host)
    run(["nft", "-f", "-"], input=render(host, subnet, resolvers, mirrors))


def remove_host_table(host: str) -> None:
    if table_exists(host):
        run(["nft", "delete", "table", FAMILY, table_name(host)])


def table_exists(host: str) -> bool:
    return run(["nft", "list", "table", FAMILY, table_name(host)], check=False).returncode == 0


def ruleset() -> str:
    return run(["nft", "list", "ruleset"], check=False).stdout


def enable_forwarding() -> None:
    """Let the kernel route IPv4 between lab links and the uplink (the NAT needs it)."""
    Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n")
