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

from anl_stack.core.i18n import _

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
            return [(_("{value!r} is not a schedule").format(value=value), _("a systemd calendar such as daily or 'Sun 03:00', or ''"))]
        return []
    if key == "anl_backup_retention":
        if not isinstance(value, dict) or set(map(str, value)) - set(RETENTION_KEYS):
            return [(_("{value!r} is not a retention policy").format(value=value), _("a mapping of daily, weekly, monthly to numbers"))]
        bad = [k for k, v in value.items() if isinstance(v, bool) or not isinstance(v, int) or v < 0]
        if bad:
            return [(_("{keys}: not a number of snapshots").format(keys=', '.join(map(str, bad))), _("whole numbers from 0"))]
        if not any(value.values()):
            return [(_("keeps no snapshot"), _("at least one of daily, weekly, monthly above 0"))]
    return []


def _repositories(value: Any, hosts: set[str]) -> list[tuple[str, str]]:
    if not isinstance(value, list) or not value:
        return [(_("{value!r} is not a list of repositories").format(value=value), _("a list such as {example}").format(example="[{name: local, path: /var/backups/...}]"))]
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, repo in enumerate(value):
        where = _("repository {number}").format(number=index + 1)
        if not isinstance(repo, dict):
            out.append((_("{where} is not a mapping").format(where=where), _("name plus path, partner, or address and user")))
            continue
        name = repo.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            out.append((_("{where}: {name!r} is not a repository name").format(where=where, name=name), _("lower-case letters, digits and '-'")))
        elif name in seen:
            out.append((_("{where}: the name {name!r} is used twice").format(where=where, name=name), _("a name per repository")))
        else:
            seen.add(name)
            where = _("repository {name}").format(name=name)
        known = {"name", "path", "partner", "address", "user", "port", "host_key"}
        unknown = sorted(set(map(str, repo)) - known)
        if unknown:
            out.append((_("{where}: unknown key {unknown}").format(where=where, unknown=', '.join(unknown)), _("keys among {known}")
                                                                      .format(known=", ".join(sorted(known)))))
        kinds = [k for k in ("partner", "address") if k in repo]
        path = repo.get("path")
        if path is not None and (not isinstance(path, str) or not _PATH.match(path) or ".." in path):
            out.append((_("{where}: {path!r} is not an absolute path").format(where=where, path=path), _("a path such as "
                                                                        "/var/backups/anl-stack/restic")))
        elif isinstance(path, str) and not kinds and _system_folder(path):
            # The deploy makes the repository folder root-only (0700): never a folder the system shares.
            out.append((_("{where}: {path!r} is a system folder").format(where=where, path=path), _("a folder of its own, such as "
                                                                   "/var/backups/anl-stack/restic")))
        elif isinstance(path, str) and "partner" in repo and path.strip("/").count("/") > 0:
            out.append((_("{where}: {path!r} is more than one folder").format(where=where, path=path), _("one folder in the partner account, such "
                                                                        "as /restic")))
        if not kinds:
            if path is None:
                out.append((_("{where} has no path, partner or address").format(where=where),
                            _("path (on the host), partner (an inventory host) or address and user")))
            continue
        if len(kinds) > 1:
            out.append((_("{where} has both partner and address").format(where=where), _("one of them")))
        if "partner" in repo and repo["partner"] not in hosts:
            out.append((_("{where}: partner {partner!r} is not a host of this inventory")
                        .format(where=where, partner=repo['partner']),
                        _("a host of hosts.yml (or address, user and host_key for a server managed by others)")))
        if "address" in repo:
            if not isinstance(repo["address"], str) or not _ADDRESS.match(repo["address"]):
                out.append((_("{where}: {address!r} is not an address").format(where=where, address=repo['address']), _("an IP address or a DNS name")))
            if "user" not in repo:
                out.append((_("{where} has an address but no user").format(where=where), _("the account the partner's administrator gave")))
            if not isinstance(repo.get("host_key"), str) or not _HOST_KEY.match(repo["host_key"].strip()):
                out.append((_("{where}: no usable host_key").format(where=where), _("the server's public host key, e.g. 'ssh-ed25519 "
                                                              "AAAA...'")))
        if "user" in repo and (not isinstance(repo["user"], str) or not _USER.match(repo["user"])):
            out.append((_("{where}: {user!r} is not a user name").format(where=where, user=repo['user']), _("a POSIX user name such as anl-exemple")))
        port = repo.get("port", 22)
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            out.append((_("{where}: {port!r} is not a port").format(where=where, port=port), _("an integer from 1 to 65535")))
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
