"""Warnings before an ACME deploy: each web site's name should resolve to its server.

Let's Encrypt (or any ACME server) validates a name over HTTP on the address the
name resolves to. A name that does not resolve makes certbot fail during the
deploy, after much has changed: `inventory check` and `plan` warn first. A name
that resolves to another address than the inventory's may be right (the server
behind NAT): that is said, not refused.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

from anl_stack.core.errors import ErrorRecord
from anl_stack.core.i18n import _
from anl_stack.inventory.model import Inventory

#: name -> its addresses (empty when it does not resolve)
Resolver = Callable[[str], set[str]]


def resolve(name: str) -> set[str]:
    try:
        return {str(info[4][0]) for info in socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):
        return set()


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def acme_name_warnings(inv: Inventory, plugins: list[Any], resolver: Resolver = resolve) -> list[ErrorRecord]:
    """One warning per web site of a host in ACME mode whose name does not point at the host."""
    web = {p.name: p.manifest for p in plugins
           if getattr(p, "manifest", None) is not None and p.manifest.deployment.web}
    warnings: list[ErrorRecord] = []
    for host in inv.hosts:
        values = inv.host_settings(host)
        if str(values.get("web_tls_mode", values.get("anl_tls_mode", "selfsigned"))) != "acme":
            continue
        target = str(values.get("ansible_host") or host)
        host_addresses = {target} if _is_address(target) else resolver(target)
        for group in inv.groups_of(host):
            manifest = web.get(group)
            if manifest is None:
                continue
            domain = str(values.get(f"{group}_domain") or f"{manifest.deployment.subdomain}.{values.get('anl_domain', '')}")
            if "{{" in domain or not values.get("anl_domain"):
                continue  # a template is resolved by Ansible at run time
            found = resolver(domain)
            key = f"{group}_domain"
            if not found:
                warnings.append(ErrorRecord(
                    _("{domain} does not resolve: certbot (web_tls_mode acme) would fail on {host}")
                    .format(domain=domain, host=host),
                    str(inv.paths.settings), None, key,
                    _("a DNS record of the name to the server, or web_tls_mode selfsigned for a trial")))
            elif host_addresses and not found & host_addresses:
                warnings.append(ErrorRecord(
                    _("{domain} resolves to {found}, not to {host} ({host_addresses}): right only if that address "
                      "leads to it (NAT)")
                    .format(domain=domain, found=', '.join(sorted(found)), host=host,
                            host_addresses=', '.join(sorted(host_addresses))),
                    str(inv.paths.settings), None, key, _("the name pointing at the server the ACME server reaches")))
    return warnings
