"""The commune's backup settings: repositories, schedule, retention (``anl_backup_*``).

Checked with the rest of the inventory (exit 2 naming the file and key);
read by a deploy to know which partner servers get an account and whether
an SSH key is needed. Shared inventories are untrusted: every value that
reaches a file on a host is checked here first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

DEFAULT_REPOSITORIES: tuple[dict[str, Any], ...] = ({"name": "local", "path": "/var/backups/anl-stack/restic"},)
RETENTION_KEYS = ("daily", "weekly", "monthly")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_PATH = re.compile(r"^/[A-Za-z0-9._/-]*$")
_ADDRESS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:-]*$")
_HOST_KEY = re.compile(r"^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) "
                       r"[A-Za-z0-9+/=]+$")
_CALENDAR = re.compile(r"^[A-Za-z0-9*:/,. ~-]{1,64}$")


@dataclass(frozen=True)
class Repository:
    name: str
    kind: str                 # local | partner (a managed inventory host) | sftp (an account given to us)
    partner: str | None = None


def problems(key: str, value: Any, hosts: set[str]) -> list[tuple[str, str]]:
    """(message, expected) for each problem of one ``anl_backup_*`` setting; [] when it is right."""
    if key == "anl_backup_repositories":
        return _repositories(value, hosts)
    if key in ("anl_backup_schedule", "anl_backup_check_schedule"):
        if not isinstance(value, str) or (value and not _CALENDAR.match(value)):
            return [(f"{value!r} is not a schedule", "a systemd calendar such as daily or 'Sun 03:00', or ''")]
        return []
    if key == "anl_backup_retention":
        if not isinstance(value, dict) or set(map(str, value)) - set(RETENTION_KEYS):
            return [(f"{value!r} is not a retention policy", "a mapping of daily, weekly, monthly to numbers")]
        bad = [k for k, v in value.items() if isinstance(v, bool) or not isinstance(v, int) or v < 0]
        if bad:
            return [(f"{', '.join(map(str, bad))}: not a number of snapshots", "whole numbers from 0")]
        if not any(value.values()):
            return [("keeps no snapshot", "at least one of daily, weekly, monthly above 0")]
    return []


def _repositories(value: Any, hosts: set[str]) -> list[tuple[str, str]]:
    if not isinstance(value, list) or not value:
        return [(f"{value!r} is not a list of repositories", "a list such as [{name: local, path: /var/backups/...}]")]
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, repo in enumerate(value):
        where = f"repository {index + 1}"
        if not isinstance(repo, dict):
            out.append((f"{where} is not a mapping", "name plus path, partner, or address and user"))
            continue
        name = repo.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            out.append((f"{where}: {name!r} is not a repository name", "lower-case letters, digits and '-'"))
        elif name in seen:
            out.append((f"{where}: the name {name!r} is used twice", "a name per repository"))
        else:
            seen.add(name)
            where = f"repository {name}"
        known = {"name", "path", "partner", "address", "user", "port", "host_key"}
        unknown = sorted(set(map(str, repo)) - known)
        if unknown:
            out.append((f"{where}: unknown key {', '.join(unknown)}", "keys among " + ", ".join(sorted(known))))
        kinds = [k for k in ("partner", "address") if k in repo]
        path = repo.get("path")
        if path is not None and (not isinstance(path, str) or not _PATH.match(path) or ".." in path):
            out.append((f"{where}: {path!r} is not an absolute path", "a path such as /var/backups/anl-stack/restic"))
        elif isinstance(path, str) and not kinds and _system_folder(path):
            # The deploy makes the repository folder root-only (0700): never a folder the system shares.
            out.append((f"{where}: {path!r} is a system folder", "a folder of its own, such as /var/backups/anl-stack/restic"))
        elif isinstance(path, str) and "partner" in repo and path.strip("/").count("/") > 0:
            out.append((f"{where}: {path!r} is more than one folder", "one folder in the partner account, such as /restic"))
        if not kinds:
            if path is None:
                out.append((f"{where} has no path, partner or address",
                            "path (on the host), partner (an inventory host) or address and user"))
            continue
        if len(kinds) > 1:
            out.append((f"{where} has both partner and address", "one of them"))
        if "partner" in repo and repo["partner"] not in hosts:
            out.append((f"{where}: partner {repo['partner']!r} is not a host of this inventory",
                        "a host of hosts.yml (or address, user and host_key for a server managed by others)"))
        if "address" in repo:
            if not isinstance(repo["address"], str) or not _ADDRESS.match(repo["address"]):
                out.append((f"{where}: {repo['address']!r} is not an address", "an IP address or a DNS name"))
            if "user" not in repo:
                out.append((f"{where} has an address but no user", "the account the partner's administrator gave"))
            if not isinstance(repo.get("host_key"), str) or not _HOST_KEY.match(repo["host_key"].strip()):
                out.append((f"{where}: no usable host_key", "the server's public host key, e.g. 'ssh-ed25519 AAAA...'"))
        if "user" in repo and (not isinstance(repo["user"], str) or not _USER.match(repo["user"])):
            out.append((f"{where}: {repo['user']!r} is not a user name", "a POSIX user name such as anl-exemple"))
        port = repo.get("port", 22)
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            out.append((f"{where}: {port!r} is not a port", "an integer from 1 to 65535"))
    return out


#: Folders a repository path must not be (nor be one level under /): the role makes it 0700 root.
_SYSTEM_FOLDERS = frozenset({"/var/lib", "/var/backups", "/var/cache", "/var/log", "/var/www", "/var/spool",
                             "/usr/local", "/srv", "/mnt", "/media", "/opt", "/home", "/root", "/tmp", "/var/tmp"})


def _system_folder(path: str) -> bool:
    folder = "/" + path.strip("/")
    return folder.count("/") < 2 or folder in _SYSTEM_FOLDERS


def repositories(settings: dict[str, Any]) -> list[Repository]:
    """The declared repositories (checked already), or the on-host default."""
    declared = settings.get("anl_backup_repositories") or list(DEFAULT_REPOSITORIES)
    return [Repository(str(r["name"]), "partner" if "partner" in r else "sftp" if "address" in r else "local",
                       r.get("partner")) for r in declared if isinstance(r, dict) and "name" in r]


def partner_hosts(settings: dict[str, Any]) -> list[str]:
    """Inventory hosts that keep off-host repositories (the deploy creates their accounts)."""
    return sorted({r.partner for r in repositories(settings) if r.partner})


def needs_ssh_key(settings: dict[str, Any]) -> bool:
    return any(r.kind != "local" for r in repositories(settings))
