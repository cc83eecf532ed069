"""An upgrade that can go back: backup, upgrade step, checks, and a rollback when they fail.

Sequence (each step recorded in the upgrade's run folder, ``upgrade.json``):

1. the recipe the hosts run now (recorded by the last deploy) is copied into
   the run folder; no record, or hosts on different recipes: exit 2;
   then, before anything changes, the upgrade step's read-only checks (its
   tasks tagged ``precheck``: a failed one refuses, exit 2) and the releases
   it needs (missing from the artifact cache: exit 2);
2. a fresh backup labelled ``pre-upgrade`` into the on-host repository,
   whose snapshot anl-backup reads back before anything changes; a failed
   backup stops here (exit 1, nothing changed);
3. the plugin's upgrade step (``upgrade.yml`` of the current recipe);
4. the plugin's checks (given by the caller: verify is a layer above);
5. when 3 or 4 fails, unless ``rollback=False``: the kept recipe is deployed
   again, the pre-upgrade snapshot restored, and the checks run again.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from anl_stack import lab
from anl_stack.core.errors import AnlError, ErrorRecord, ExitCode, WorkFailedError
from anl_stack.core.files import write_file
from anl_stack.core.i18n import N_, Text, _, current_language
from anl_stack.deploy import recipes
from anl_stack.deploy.engine import Options, execute, new_run_folder
from anl_stack.deploy.events import DisplayFactory, quiet_display
from anl_stack.deploy.lifecycle import require_step, run_lifecycle_step
from anl_stack.deploy.prepare import prepare, resolve_plugins
from anl_stack.deploy.recovery import backup
from anl_stack.inventory import backup_settings
from anl_stack.plugin_api import PRECHECK_TAG
from anl_stack.plugins.digest import content_digest

#: the caller's checks: hosts -> (passed, one-line summary)
Checks = Callable[[list[str]], tuple[bool, str]]


@dataclass
class StepRecord:
    name: str
    ok: bool
    detail: str
    run: str | None = None


@dataclass
class UpgradeReport:
    plugin: str
    hosts: list[str]
    previous: dict[str, str]
    target: dict[str, str]
    folder: Path
    steps: list[StepRecord] = field(default_factory=list)
    outcome: str = "not started"       # upgraded | up to date | rolled back | failed | rollback failed
    exit_code: ExitCode = ExitCode.OK

    def add(self, name: str, ok: bool, detail: str, run: Any = None) -> bool:
        self.steps.append(StepRecord(name, ok, detail, str(run) if run else None))
        self.write()
        return ok

    def to_dict(self) -> dict[str, Any]:
        return {"plugin": self.plugin, "hosts": self.hosts, "previous": self.previous, "target": self.target,
                "folder": str(self.folder), "outcome": self.outcome, "exit_code": int(self.exit_code),
                "steps": [asdict(s) for s in self.steps]}

    def write(self) -> None:
        write_file(self.folder / "upgrade.json", json.dumps(self.to_dict(), indent=2) + "\n", mode=0o600)


def refuse_unsupported(plugin: Any, previous_version: str) -> None:
    """Exit 2 when the recipe's upgrade step does not upgrade from the version the hosts run."""
    allowed = plugin.manifest.deployment.upgrades_from
    if not allowed:
        return
    try:
        accepted = Version(previous_version) in SpecifierSet(allowed)
    except InvalidVersion:
        accepted = False
    if not accepted:
        notes = plugin.manifest.deployment.upgrade_notes
        raise AnlError(_("recipe {plugin} {manifest_version} does not upgrade from {previous_version}{notes}")
                       .format(plugin=plugin.name, manifest_version=plugin.manifest.version,
                               previous_version=previous_version, notes=f": {notes.get(current_language())}" if notes else ""), file=str(Path(plugin.path) / "plugin.yml"),
                       key="deployment.upgrades_from", expected=_("hosts on a recipe version matching {allowed}")
                                                                .format(allowed=allowed))


def refuse_other_target(plugin: Any, to_version: str | None) -> None:
    """Exit 2 when the operator asked for a recipe version (--to) this anl-stack does not carry."""
    carried = str(plugin.manifest.version)
    if to_version is None:
        return
    try:
        same = Version(to_version) == Version(carried)
    except InvalidVersion:
        raise AnlError(_("{to_version!r} is not a version").format(to_version=to_version), key="--to", expected=_("a recipe version such as {carried}")
                                                                                .format(carried=carried)) from None
    if not same:
        raise AnlError(_("this anl-stack carries recipe {plugin} {carried}, not {to_version}; nothing was changed")
                       .format(plugin=plugin.name, carried=carried, to_version=to_version),
                       file=str(Path(plugin.path) / "plugin.yml"), key="--to",
                       expected=_("--to {carried}, or the anl-stack release that carries {plugin} {to_version}")
                                .format(carried=carried, plugin=plugin.name, to_version=to_version))


def refuse_by_precheck(plugin_name: str, where: dict[str, Any], display: DisplayFactory) -> None:
    """The upgrade step's read-only checks alone (tag ``precheck``); exit 2 with their messages when one fails.

    A host that cannot be reached, or a check that changed something, is a failure (exit 1), not a refusal.
    """
    _prep, result = run_lifecycle_step(plugin_name, "upgrade", **where, display=display, tags=PRECHECK_TAG,
                                       kind="upgrade-precheck")
    if result.exit_code == ExitCode.OK:
        return
    models = [r.model for r in result.reports]
    refused = [e for m in models for e in m.errors if not e.get("unreachable")]
    if result.exit_code != ExitCode.FAILED or not refused or any(m.changes for m in models) \
            or any(e.get("unreachable") for m in models for e in m.errors):
        raise WorkFailedError(result.records or [ErrorRecord(_first_failure(result))])
    folder = str(result.reports[0].folder / "log") if result.reports else None
    raise AnlError([ErrorRecord(_("upgrade of {plugin} refused on {host} before any change: {message}")
                                .format(plugin=plugin_name, host=e["host"], message=e["message"]), folder, None,
                                e["task"], _("what the message asks for, then the upgrade again"))
                    for e in refused])


def _first_failure(result: Any) -> str:
    return "; ".join(r.message for r in result.records[:3]) or f"exit {int(result.exit_code)}"


def upgrade(plugin_name: str, checks: Checks, *, inventory: str | None = None, lab_name: str | None = None,
            vault_password: str | None = None, limit: str | None = None, rollback: bool = True,
            to_version: str | None = None, display: DisplayFactory = quiet_display) -> UpgradeReport:
    (plugin,) = resolve_plugins([plugin_name])
    require_step(plugin, "upgrade")
    require_step(plugin, "backup")
    refuse_other_target(plugin, to_version)
    if lab_name is not None and lab.get(lab_name) is None:
        raise AnlError(_("no lab host named {lab_name!r}").format(lab_name=lab_name), key="--lab", expected=_("an existing lab host"))
    where = {"inventory": inventory, "lab_name": lab_name, "vault_password": vault_password, "limit": limit}
    debian = str(lab.get(lab_name).release) if lab_name else "13"  # type: ignore[union-attr]
    probe = prepare([plugin_name], **where, debian=debian, step="backup")
    hosts = probe.hosts
    previous = recipes.deployed(probe.target.paths, plugin_name, hosts)
    digest = content_digest(plugin.path)
    if previous["digest"] == digest:
        # Nothing to upgrade: no backup, no run folder, nothing changed.
        return UpgradeReport(plugin_name, hosts, {k: previous[k] for k in ("digest", "version", "app_version")},
                             {k: previous[k] for k in ("digest", "version", "app_version")}, Path(previous["folder"]),
                             outcome="up to date")
    refuse_unsupported(plugin, previous["version"])
    local = next((r.name for r in backup_settings.repositories(probe.inventory.settings()) if r.kind == "local"), None)
    if local is None:
        raise AnlError(_("an upgrade needs an on-host repository for its pre-upgrade backup"),
                       file=str(probe.inventory.paths.settings), key="anl_backup_repositories",
                       expected=_("a repository with a path (on the host)"))
    # Before any change: the step's own checks on the hosts, then the releases it pushes.
    refuse_by_precheck(plugin_name, where, display)
    prepare([plugin_name], **where, debian=debian, step="upgrade")
    folder = new_run_folder(probe.target.paths, "upgrade")
    kept = folder / "previous-recipe"
    shutil.copytree(previous["folder"], kept)
    target = {"digest": digest, "version": str(plugin.manifest.version),
              "app_version": str(plugin.manifest.app.version)}
    report = UpgradeReport(plugin_name, hosts, {k: previous[k] for k in ("digest", "version", "app_version")},
                           target, folder)
    report.write()

    # 2. The pre-upgrade backup, read back by anl-backup before anything changes.
    saved = backup(plugin_name, **where, repos=[local], labels=["pre-upgrade"], display=display)
    snapshots = {h: r["snapshots"][0]["snapshot"] for h, r in saved.reports.items() if r.get("snapshots")}
    if saved.result.exit_code != ExitCode.OK or set(snapshots) != set(hosts):
        report.add("backup", False, _first_failure(saved.result), saved.result.reports[0].folder
                   if saved.result.reports else None)
        report.outcome, report.exit_code = "failed", ExitCode.FAILED
        report.write()
        return report
    report.add("backup", True, Text(N_("{snapshots} (repository {repository})"), repository=local,
                                    snapshots=", ".join(f"{h}: {s[:8]}" for h, s in sorted(snapshots.items()))),
               saved.result.reports[0].folder)

    # 3. and 4. The upgrade step, then the checks.
    _result, stepped = run_lifecycle_step(plugin_name, "upgrade", **where, display=display)
    upgraded = report.add("upgrade step", stepped.exit_code == ExitCode.OK,
                          Text(N_("done")) if stepped.exit_code == ExitCode.OK else _first_failure(stepped),
                          stepped.reports[0].folder if stepped.reports else None)
    if upgraded:
        passed, summary = checks(hosts)
        if report.add("checks", passed, summary):
            # The hosts run the new recipe now: the next upgrade (and its rollback) starts from it.
            recipes.keep(probe.target.paths, plugin, hosts)
            report.outcome = "upgraded"
            report.write()
            return report
    report.exit_code = ExitCode.FAILED
    if not rollback:
        report.outcome = "failed"
        report.add("rollback", False, Text(N_("not attempted (--no-rollback): the hosts are left for inspection")))
        return report

    # 5. Rollback: the kept recipe again, then the pre-upgrade data, then the checks.
    dirs = {plugin_name: kept}
    prep = prepare([plugin_name], **where, debian=debian, recipe_dirs=dirs)
    redeployed = execute(prep, Options(limit=limit, display=display))
    ok = report.add("rollback: deploy the previous recipe", redeployed.exit_code == ExitCode.OK,
                    Text(N_("recipe {version} ({digest})"), version=previous["version"], digest=previous["digest"][:19])
                    if redeployed.exit_code == ExitCode.OK
                    else _first_failure(redeployed), redeployed.reports[0].folder if redeployed.reports else None)
    for host in hosts if ok else []:
        _result, restored = run_lifecycle_step(plugin_name, "restore", **{**where, "limit": host}, display=display,
                                         extra_vars={"anl_restore_from": snapshots[host], "anl_backup_repo": [local]},
                                         recipe_dirs=dirs)
        ok = report.add(f"rollback: restore {host}", restored.exit_code == ExitCode.OK,
                        Text(N_("snapshot {snapshot}"), snapshot=snapshots[host][:8]) if restored.exit_code == ExitCode.OK
                        else _first_failure(restored), restored.reports[0].folder if restored.reports else None)
        if not ok:
            break
    if ok:
        passed, summary = checks(hosts)
        ok = report.add("rollback: checks", passed, summary)
    report.outcome = "rolled back" if ok else "rollback failed"
    report.write()
    return report
