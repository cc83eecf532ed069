"""Backups and restores of a plugin, onto the same server or a new one.

backup: the plugin's backup step into the repositories (every declared one,
or those named), reporting each snapshot written.

restore: (``--to-host``: deploy the new server first) -> list the snapshots
its hosts can read -> choose one (off-host repositories first when the
server is gone) -> refuse (exit 2, nothing changed) a snapshot made by a
newer application than the recipe installs -> the plugin's restore step on
that one host. The CLI then runs the plugin's checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from anl_stack.core.errors import AnlError, ExitCode
from anl_stack.core.i18n import _
from anl_stack.deploy.engine import Options, Result, execute
from anl_stack.deploy.events import DisplayFactory, quiet_display, task_reports
from anl_stack.deploy.lifecycle import require_step, run_lifecycle_step
from anl_stack.deploy.platforms import app_version
from anl_stack.deploy.prepare import Prepared, prepare, resolve_plugins
from anl_stack.deploy.snapshots import (
    Snapshot,
    check_snapshot_name,
    choose,
    list_snapshots,
    refuse_newer,
    repository_order,
    require_known_repos,
)
from anl_stack.inventory import backup_settings

BACKUP_REPORT = "anl-backup: "
RESTORE_REPORT = "anl-restore: "


@dataclass
class Outcome:
    prep: Prepared
    result: Result
    #: what the hosts reported (anl-backup's JSON), per host
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    snapshot: Snapshot | None = None
    deploy: Result | None = None


def _decoded(prefix: str, raw: dict[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for host, msg in raw.items():
        try:
            out[host] = json.loads(msg[len(prefix):])
        except ValueError:
            out[host] = {"raw": msg}
    return out


def backup(plugin_name: str, *, inventory: str | None = None, lab_name: str | None = None,
           vault_password: str | None = None, limit: str | None = None, repos: list[str] | None = None,
           labels: list[str] | None = None, display: DisplayFactory = quiet_display) -> Outcome:
    """The plugin's backup step on each of its hosts; the snapshots each wrote."""
    extra: dict[str, Any] = {}
    if repos:
        extra["anl_backup_repo"] = repos
    if labels:
        extra["anl_backup_labels"] = labels
    raw: dict[str, str] = {}
    prep, result = run_lifecycle_step(plugin_name, "backup", inventory=inventory, lab_name=lab_name,
                                      vault_password=vault_password, limit=limit, extra_vars=extra,
                                      display=display, on_event=task_reports(BACKUP_REPORT, raw),
                                      validate=lambda prepared: require_known_repos(prepared, repos))
    return Outcome(prep, result, _decoded(BACKUP_REPORT, raw))


def restore(plugin_name: str, wanted: str, *, inventory: str | None = None, lab_name: str | None = None,
            vault_password: str | None = None, limit: str | None = None, repos: list[str] | None = None,
            to_host: str | None = None, tags: str | None = None,
            display: DisplayFactory = quiet_display) -> Outcome:
    """Restore PLUGIN from snapshot WANTED; with TO_HOST, deploy that new server first (TAGS: only those tasks)."""
    (plugin,) = resolve_plugins([plugin_name])
    require_step(plugin, "restore")
    check_snapshot_name(wanted)  # before a new server is deployed for it
    if tags is not None and to_host is None:
        raise AnlError(_("--tags applies to the deploy of a new server"), key="--tags",
                       expected=_("--to-host HOST with it, or no --tags"))
    deployed: Result | None = None
    if to_host is not None:
        if inventory is None:
            raise AnlError(_("--to-host needs a commune inventory"), key="--to-host",
                           expected=_("-i inventories/COMMUNE with the new server in the plugin's group"))
        deployed = _deploy_new_server(plugin_name, inventory, vault_password, to_host, tags, display)
        if deployed.exit_code != ExitCode.OK:
            prep = prepare([plugin_name], inventory=inventory, vault_password=vault_password, limit=to_host,
                           step="restore")
            return Outcome(prep, deployed, deploy=deployed)
        limit = to_host
    listing = list_snapshots(plugin_name, inventory=inventory, lab_name=lab_name, vault_password=vault_password,
                             limit=limit, repos=repos, display=display)
    if listing.result.exit_code != ExitCode.OK:
        return Outcome(listing.prep, listing.result, deploy=deployed)
    hosts = listing.prep.hosts
    if len(hosts) != 1:
        raise AnlError(_("{plugin_name} runs on {count} hosts ({hosts}); a restore goes to one")
                       .format(plugin_name=plugin_name, count=len(hosts), hosts=', '.join(hosts)),
                       key="--limit", expected=_("--limit HOST (or --to-host HOST for a new server)"))
    order = repository_order(listing.prep.inventory.settings(), offsite_first=to_host is not None)
    snapshot = choose(listing.snapshots, wanted, [r for r in order if not repos or r in repos])
    refuse_newer(snapshot, plugin, app_version(listing.prep.inventory, plugin, hosts[0]))
    raw: dict[str, str] = {}
    prep, result = run_lifecycle_step(
        plugin_name, "restore", inventory=inventory, lab_name=lab_name, vault_password=vault_password,
        limit=limit, extra_vars={"anl_restore_from": snapshot.id, "anl_backup_repo": [snapshot.repo]},
        display=display, on_event=task_reports(RESTORE_REPORT, raw))
    return Outcome(prep, result, _decoded(RESTORE_REPORT, raw), snapshot, deployed)


def _deploy_new_server(plugin_name: str, inventory: str, vault_password: str | None, host: str,
                       tags: str | None, display: DisplayFactory) -> Result:
    """Deploy the plugin on the new server only; refused (exit 2) when it is not in the plugin's group."""
    prep = prepare([plugin_name], inventory=inventory, vault_password=vault_password, limit=host, tags=tags)
    if host not in prep.hosts:
        raise AnlError(_("host {host!r} is not in the {plugin_name} group")
                       .format(host=host, plugin_name=plugin_name), file=str(prep.inventory.paths.hosts),
                       key=f"all.children.{plugin_name}.hosts", expected=_("{host} listed there (in place of the "
                                                                           "lost server)").format(host=host))
    # The partner servers take part: the new server learns their host keys from them.
    partners = backup_settings.partner_hosts(prep.inventory.settings())
    return execute(prep, Options(limit=",".join([host, *partners]), tags=tags, display=display))
