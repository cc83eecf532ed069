"""Snapshots of a plugin's backups: listed through its hosts, chosen, and checked before a restore.

Listing runs a read-only play (the shared ``backup`` role's ``snapshots``
tasks) on the plugin's hosts: each host reads every repository it knows,
on the host and off-host, with its own password file and key, so the
controller never holds a repository open itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.i18n import _
from anl_stack.deploy.engine import Options, Result, execute
from anl_stack.deploy.events import DisplayFactory, quiet_display, task_reports
from anl_stack.deploy.lifecycle import require_step
from anl_stack.deploy.prepare import Prepared, prepare, resolve_plugins
from anl_stack.inventory import backup_settings
from anl_stack.plugin_api import BACKUP_ROLE

SNAPSHOT_ID = re.compile(r"^[0-9a-f]{8,64}$")
REPORT_PREFIX = "anl-snapshots: "


@dataclass
class Snapshot:
    repo: str
    id: str
    short_id: str
    time: str
    host: str | None
    plugin: str | None
    recipe_version: str | None = None
    digest: str | None = None
    app_version: str | None = None
    size: int | None = None
    labels: list[str] = field(default_factory=list)
    #: the inventory host that listed it (and that a restore without --to-host runs on)
    seen_from: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Listing:
    snapshots: list[Snapshot]
    errors: list[ErrorRecord]
    prep: Prepared
    result: Result


def snapshots_playbook(plugin: str) -> str:
    return yaml.safe_dump([{
        "name": f"Snapshots of {plugin}", "hosts": plugin, "become": True, "gather_facts": False,
        "tasks": [{"name": "List the snapshots in every repository",
                   "ansible.builtin.include_role": {"name": BACKUP_ROLE, "tasks_from": "snapshots"},
                   "vars": {"backup_plugin": plugin}}],
    }], sort_keys=False)


def parse_report(host: str, message: str) -> tuple[list[Snapshot], list[str]]:
    """The snapshots and errors one host reported (pure; tested on its own)."""
    data = json.loads(message[len(REPORT_PREFIX):]) if message.startswith(REPORT_PREFIX) else {}
    known = set(Snapshot.__dataclass_fields__)
    found = [Snapshot(**{k: v for k, v in s.items() if k in known}, seen_from=host)
             for s in data.get("snapshots") or [] if isinstance(s, dict)]
    return found, [str(e) for e in data.get("errors") or []]


def list_snapshots(plugin_name: str, *, inventory: str | None = None, lab_name: str | None = None,
                   vault_password: str | None = None, limit: str | None = None, repos: list[str] | None = None,
                   display: DisplayFactory = quiet_display) -> Listing:
    """Every snapshot of the plugin that its hosts can read, newest first (same snapshot listed once)."""
    (plugin,) = resolve_plugins([plugin_name])
    require_step(plugin, "backup")
    debian = "13"
    if lab_name is not None:
        from anl_stack import lab

        host = lab.get(lab_name)
        if host is None:
            raise AnlError(_("no lab host named {lab_name!r}").format(lab_name=lab_name), key="--lab", expected=_("an existing lab host"))
        debian = str(host.release)
    prep = prepare([plugin_name], inventory=inventory, lab_name=lab_name, debian=debian, vault_password=vault_password,
                   limit=limit, step="backup", extra_vars={"anl_backup_repo": repos} if repos else None,
                   playbook=snapshots_playbook(plugin.name))
    require_known_repos(prep, repos)
    reports: dict[str, str] = {}
    result = execute(prep, Options(limit=limit, kind="snapshots", display=display,
                                   on_event=task_reports(REPORT_PREFIX, reports)))
    seen: dict[tuple[str, str], Snapshot] = {}
    errors: list[ErrorRecord] = []
    for host, message in reports.items():
        found, problems = parse_report(host, message)
        for snap in found:
            seen.setdefault((snap.repo, snap.id), snap)
        errors += [ErrorRecord(p, key=host) for p in problems]
    ordered = sorted(seen.values(), key=lambda s: s.time, reverse=True)
    return Listing(ordered, errors, prep, result)


def require_known_repos(prep: Prepared, repos: list[str] | None) -> None:
    """Exit 2 when --repo names a repository the commune settings do not declare."""
    declared = [r.name for r in backup_settings.repositories(prep.inventory.settings())]
    unknown = [r for r in repos or [] if r not in declared]
    if unknown:
        raise AnlError(_("no repository named {unknown}").format(unknown=', '.join(unknown)), file=str(prep.inventory.paths.settings),
                       key="--repo", expected=_("one of: {declared}").format(declared=", ".join(declared)))


def repository_order(settings: dict[str, Any], *, offsite_first: bool) -> list[str]:
    """Repository names in the order a restore looks in: off-host ones first when the server is gone."""
    repos = backup_settings.repositories(settings)
    return [r.name for r in sorted(repos, key=lambda r: (r.kind == "local") == offsite_first)]


def check_snapshot_name(wanted: str) -> None:
    """Exit 2 unless ``wanted`` can name a snapshot (checked before anything is deployed or listed)."""
    if wanted != "latest" and not SNAPSHOT_ID.match(wanted):
        raise AnlError(_("{wanted!r} is not a snapshot id").format(wanted=wanted), key="--from",
                       expected=_("an id of 8 to 64 hex digits as listed by `anl-stack backups`, or latest"))


def choose(snapshots: list[Snapshot], wanted: str, order: list[str]) -> Snapshot:
    """The snapshot ``wanted`` names (an id, a prefix of 8+ characters, or ``latest``); exit 2 otherwise."""
    rank = {name: i for i, name in enumerate(order)}
    candidates = sorted(snapshots, key=lambda s: rank.get(s.repo, len(rank)))
    if wanted == "latest":
        if not candidates:
            raise AnlError(_("no snapshot to restore"), key="--from", expected=_("a backup made first (anl-stack backup)"))
        newest = max(s.time for s in candidates)
        return next(s for s in candidates if s.time == newest)
    check_snapshot_name(wanted)
    matches = [s for s in candidates if s.id.startswith(wanted)]
    if not matches:
        raise AnlError(_("no snapshot {wanted}").format(wanted=wanted), key="--from",
                       expected=_("one of: {names}")
                                .format(names=", ".join(s.short_id for s in candidates[:10]) or _("(no snapshot yet)")))
    if len({s.id for s in matches}) > 1:
        raise AnlError(_("{wanted} names several snapshots").format(wanted=wanted), key="--from", expected=_("more hex digits of the id"))
    return matches[0]


def refuse_newer(snapshot: Snapshot, plugin: Any, installed: str) -> None:
    """Exit 2 when the snapshot was made by a newer application than the INSTALLED version
    (the one the target host runs: its ``<plugin>_version`` setting, else the recipe's)."""
    if not snapshot.app_version:
        return
    try:
        newer = Version(snapshot.app_version) > Version(installed)
    except InvalidVersion:
        newer = False
    if newer:
        raise AnlError(_("snapshot {short_id} was made by {app} {app_version}, newer than the {installed} the "
                         "server runs; nothing was changed")
                       .format(short_id=snapshot.short_id, app=plugin.manifest.app.name,
                               app_version=snapshot.app_version, installed=installed), key="--from",
                       expected=_("a snapshot made by {installed} or older, or a server that runs {app_version} or "
                                  "newer").format(installed=installed, app_version=snapshot.app_version))
