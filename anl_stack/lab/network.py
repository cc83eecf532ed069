"""Addresses of lab hosts and what they may reach.

The lab owns 10.77.0.0/16 and gives each host one /30: ``.1`` on the
controller's side of the veth link, ``.2`` for the host.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from anl_stack.core.errors import AnlError
from anl_stack.core.i18n import _

LAB_RANGE = ipaddress.ip_network("10.77.0.0/16")
PREFIX = 30


@dataclass(frozen=True)
class Subnet:
    index: int

    @property
    def network(self) -> ipaddress.IPv4Network:
        base = int(LAB_RANGE.network_address) + self.index * 2 ** (32 - PREFIX)
        return ipaddress.IPv4Network((base, PREFIX))

    @property
    def gateway(self) -> str:
        return str(self.network.network_address + 1)

    @property
    def address(self) -> str:
        return str(self.network.network_address + 2)

    @property
    def cidr(self) -> str:
        return str(self.network)


def capacity() -> int:
    return 2 ** (PREFIX - LAB_RANGE.prefixlen)


def allocate(used_indexes: set[int], addresses_in_use: set[str] = frozenset()) -> Subnet:
    """Lowest free /30: not recorded in any lab state, no address on an interface."""
    for index in range(capacity()):
        if index in used_indexes:
            continue
        subnet = Subnet(index)
        hosts = {str(a) for a in subnet.network}
        if hosts & set(addresses_in_use):
            continue
        return subnet
    raise AnlError(_("no free lab subnet left in {lab_range}").format(lab_range=LAB_RANGE), expected=_("fewer lab hosts (`anl-stack lab list`)"))


def parse_resolvers(text: str) -> list[str]:
    found = []
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                addr = ipaddress.ip_address(parts[1])
            except ValueError:
                continue
            if addr.version == 4 and str(addr) not in found:
                found.append(str(addr))
    return found


def controller_resolvers() -> list[str]:
    """The controller's IPv4 resolvers, as a lab host can reach them (not loopback)."""
    for path in (Path("/etc/resolv.conf"), Path("/run/systemd/resolve/resolv.conf")):
        try:
            found = [a for a in parse_resolvers(path.read_text())
                     if not ipaddress.ip_address(a).is_loopback]
        except OSError:
            continue
        if found:
            return found
    raise AnlError(
        _("no resolver reachable from lab hosts in the controller's resolv.conf"),
        file="/etc/resolv.conf",
        expected=_("a non-loopback IPv4 nameserver"),
    )


def resolve_ipv4(hosts: list[str]) -> list[str]:
    """IPv4 addresses of the mirror host names, as the controller resolves them now."""
    found: list[str] = []
    for host in hosts:
        try:
            infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise AnlError(_("cannot resolve the Debian mirror {host}: {error}").format(host=host, error=exc),
                           file="/etc/apt/sources.list.d", key="URIs") from exc
        for info in infos:
            addr = info[4][0]
            if addr not in found:
                found.append(addr)
    return found


def hosts_entries(text: str, names: list[str]) -> list[str]:
    """Lines of a hosts file that name any of names (copied into lab hosts)."""
    wanted = set(names)
    lines = []
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split()
        if len(parts) >= 2 and wanted & set(parts[1:]):
            lines.append(" ".join(parts))
    return lines
