"""What the base role's system hardening must leave on a host, and how far a host is from it.

The expected values are the base role's own defaults
(``playbooks/roles/base/defaults/main.yml``), overridden by the host's
inventory variables of the same name: a commune that sets
``base_ssh_allow_tcp_forwarding: true`` on purpose passes, a host that
drifted from what was deployed does not. Pure functions: the checks in
``test_hardening.py`` read the host and hand the text here.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import yaml

from anl_stack.core.paths import shared_roles_dir

#: Sysctl groups a container cannot set: the kernel belongs to the host machine.
HOST_KERNEL_PREFIXES = ("kernel.", "fs.", "vm.")


@cache
def role_defaults() -> dict[str, Any]:
    """The base role's defaults (a project file, trusted; templated values are left as written)."""
    text = (shared_roles_dir() / "base" / "defaults" / "main.yml").read_text(encoding="utf-8")
    return dict(yaml.safe_load(text))


def expected(hostvars: dict[str, Any], name: str) -> Any:
    """The value the base role applied for ``name``: the host's inventory value, else the role default."""
    return hostvars[name] if name in hostvars else role_defaults()[name]


def sysctl_drift(wanted: dict[str, Any], live: dict[str, str | None], in_container: bool) -> tuple[list[str], list[str]]:
    """``(problems, not_applicable)``: keys whose live value differs, and kernel keys a container cannot set.

    ``live`` maps each key to the text of ``/proc/sys/...`` (``None`` when absent on this kernel,
    which is not counted: an older kernel simply lacks the knob).
    """
    problems: list[str] = []
    skipped: list[str] = []
    for key, value in sorted(wanted.items()):
        if in_container and key.startswith(HOST_KERNEL_PREFIXES):
            skipped.append(key)
            continue
        got = live.get(key)
        if got is not None and got.split() != str(value).split():
            problems.append(f"{key} = {got.strip()} (expected {value})")
    return problems, skipped


def login_defs_drift(wanted: dict[str, Any], login_defs: str) -> list[str]:
    """Keys of ``/etc/login.defs`` missing or set to another value (the last setting wins, as in shadow)."""
    found: dict[str, str] = {}
    for line in login_defs.splitlines():
        match = re.match(r"^\s*([A-Z_]+)\s+(\S+)", line)
        if match:
            found[match.group(1)] = match.group(2)
    return [f"{key} is {found.get(key, 'not set')} (expected {value})"
            for key, value in sorted(wanted.items()) if found.get(key) != str(value)]


def sshd_drift(hostvars: dict[str, Any], settings: dict[str, str]) -> list[str]:
    """sshd's effective settings (``sshd -T``, lower-case keys) against the base role's SSH limits."""
    def yes_no(name: str) -> str:
        return "yes" if expected(hostvars, name) else "no"

    wanted = {
        "allowtcpforwarding": yes_no("base_ssh_allow_tcp_forwarding"),
        "allowagentforwarding": yes_no("base_ssh_allow_agent_forwarding"),
        "permittunnel": yes_no("base_ssh_permit_tunnel"),
        "loglevel": str(expected(hostvars, "base_ssh_log_level")).upper(),
        "clientaliveinterval": str(expected(hostvars, "base_ssh_client_alive_interval")),
        "clientalivecountmax": str(expected(hostvars, "base_ssh_client_alive_count_max")),
    }
    problems = [f"{key} {settings.get(key, 'unset')} (expected {value})"
                for key, value in wanted.items() if settings.get(key, "").upper() != value.upper()]
    most = int(expected(hostvars, "base_ssh_max_auth_tries"))
    tries = settings.get("maxauthtries", "")
    if not tries.isdigit() or int(tries) > most:
        problems.append(f"maxauthtries {tries or 'unset'} (expected at most {most})")
    return problems


def blocked_modules(showconfig: str) -> set[str]:
    """Modules ``modprobe --showconfig`` will never load (``install NAME /bin/false`` or ``/bin/true``)."""
    return {m.group(1) for m in re.finditer(r"^install\s+(\S+)\s+/(?:usr/)?bin/(?:false|true)\s*$", showconfig, re.M)}


#: systemd sandboxing every unit anl-stack writes carries (``systemctl show`` property: value).
SANDBOX: dict[str, tuple[str, ...]] = {
    "NoNewPrivileges": ("yes",),
    "PrivateTmp": ("yes",),
    "ProtectSystem": ("yes", "full", "strict"),
    "ProtectKernelTunables": ("yes",),
    "ProtectKernelModules": ("yes",),
    "ProtectControlGroups": ("yes",),
}


def unit_sandbox_gaps(show: str) -> list[str]:
    """Properties of :data:`SANDBOX` a unit lacks, from ``systemctl show -p ...`` output."""
    values = dict(line.split("=", 1) for line in show.splitlines() if "=" in line)
    return [f"{prop}={values.get(prop, '') or 'unset'}" for prop, allowed in SANDBOX.items()
            if values.get(prop) not in allowed]
