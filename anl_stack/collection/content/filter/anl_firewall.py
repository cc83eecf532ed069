"""Filter ``firewall_ports``: per host, the ports of every plugin whose group holds it.

Shipped in the collection as ``plugins/filter/anl_firewall.py``; the same rule as
anl-stack's deploy engine (anl_stack.inventory.model.firewall_ports), which a unit test
compares it with. It imports nothing from anl-stack: AWX runs it without anl-stack.
"""

from __future__ import annotations

from typing import Any


def firewall_ports(groups: list[str], ports_by_plugin: dict[str, list[dict[str, Any]]],
                   settings: dict[str, Any], closed: list[str] | None = None) -> list[dict[str, Any]]:
    """The ports to open: the manifests' ports of the plugins in GROUPS (but CLOSED ones).

    ``allow_from_setting`` is read from SETTINGS (the host's variables); an empty
    ``allow_from`` means everyone, and one plugin open to everyone wins. A port with
    ``open_when_setting`` is left out unless that setting is true.
    """
    seen: dict[tuple[int, str], dict[str, Any]] = {}
    for group in groups:
        if group in (closed or []) or group not in ports_by_plugin:
            continue
        for port in ports_by_plugin[group]:
            if port.get("open_when_setting") and not _truthy(settings.get(port["open_when_setting"])):
                continue
            allow: list[str] = []
            setting = port.get("allow_from_setting")
            if setting:
                value = settings.get(setting) or []
                allow = [str(v) for v in (value if isinstance(value, list) else [value])]
            key = (int(port["port"]), str(port["protocol"]))
            if key not in seen:
                seen[key] = {"port": key[0], "protocol": key[1], "allow_from": allow}
            else:
                previous = seen[key]["allow_from"]
                seen[key]["allow_from"] = sorted(set(previous) | set(allow)) if previous and allow else []
    return sorted(seen.values(), key=lambda e: (e["port"], e["protocol"]))


def _truthy(value: Any) -> bool:
    """A boolean setting as Ansible's ``bool`` filter reads it (true, yes, on, 1)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "1", "y", "t")
    return bool(value) if isinstance(value, (bool, int)) else False


class FilterModule:
    """Ansible's entry point for filter plugins."""

    def filters(self) -> dict[str, Any]:
        return {"firewall_ports": firewall_ports}
