"""``anl-stack backup``, ``restore``, ``upgrade`` and ``remove``: a plugin's lifecycle steps.

Each runs the plugin's own playbook for the step (``backup.yml``,
``restore.yml``..., as :data:`anl_stack.plugin_api.LIFECYCLE` declares) through
the deploy engine's runner and refuses (exit 2) a plugin that has no such
step. Backups go into restic repositories declared in the commune settings
(:mod:`anl_stack.deploy.recovery`); a restore is followed by the plugin's
checks (verify).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import Any

import click

from anl_stack.cli.engine_option import ENGINE_OPTION
from anl_stack.cli.fleet_cli import fleet_options, refuse_fleet_conflicts, run_fleet_command
from anl_stack.cli.i18n_click import Command
from anl_stack.core.errors import AnlError, ExitCode
from anl_stack.core.i18n import N_, Text, _

# Feature packages are imported inside each command (start-up speed): `--help` and
# `plugins list` import neither Ansible, testinfra nor pydantic (tests/unit/test_startup.py).

LABEL = re.compile(r"^[a-z0-9][a-z0-9.-]{0,31}$")
REPO_OPTION = click.option("--repo", "repos", multiple=True, metavar="NAME",
                           help="Only this repository of the commune settings (repeatable; default: every one).")
#: What upgrade.json's outcome (kept in English, for scripts) says, shown in the chosen language.
UPGRADE_OUTCOMES = {
    "upgraded": N_("upgraded"),
    "up to date": N_("up to date"),
    "rolled back": N_("rolled back"),
    "failed": N_("failed"),
    "rollback failed": N_("rollback failed"),
    "not started": N_("not started"),
}
#: upgrade.json's step names (kept in English), shown in the chosen language.
UPGRADE_STEPS = {
    "backup": N_("backup"),
    "upgrade step": N_("upgrade step"),
    "checks": N_("checks"),
    "rollback": N_("rollback"),
    "rollback: deploy the previous recipe": N_("rollback: deploy the previous recipe"),
    "rollback: checks": N_("rollback: checks"),
}


def _step_name(name: str) -> str:
    if name in UPGRADE_STEPS:
        return _(UPGRADE_STEPS[name])
    if name.startswith("rollback: restore "):
        return _("rollback: restore {host}").format(host=name.removeprefix("rollback: restore "))
    return name


def _target_options(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.argument("plugin")(_target_options_without_plugin(func))


def _target_options_without_plugin(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("-i", "--inventory", default=None, metavar="PATH",
                     help="The commune inventory folder or its hosts.yml."),
        click.option("--lab", "lab_name", default=None, metavar="NAME", help="An existing lab host instead of an inventory."),
        click.option("--limit", default=None, help="Only these hosts or groups (Ansible pattern)."),
        click.option("--vault-password-file", default=None, envvar="ANL_STACK_VAULT_PASSWORD_FILE",
                     help="Vault password file or script (default: from the inventory's settings)."),
        click.option("--json", "as_json", is_flag=True, help="One JSON object per line (events), then a summary object."),
        ENGINE_OPTION,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _run(step: str, plugin: str, inventory: str | None, lab_name: str | None, limit: str | None,
         vault_password_file: str | None, as_json: bool, extra_vars: dict[str, str]) -> Any:
    from anl_stack.cli.deploy_cmd import _print_report
    from anl_stack.cli.progress import display_factory
    from anl_stack.deploy.lifecycle import run_lifecycle_step

    prep, result = run_lifecycle_step(plugin, step, inventory=inventory, lab_name=lab_name,
                                      vault_password=vault_password_file, limit=limit, extra_vars=extra_vars,
                                      display=display_factory(json_output=as_json))
    if as_json:
        click.echo(json.dumps({**result.summary(), "step": step, **extra_vars}, ensure_ascii=False, default=str))
        sys.exit(int(result.exit_code))
    for report in result.reports:
        _print_report(report, prep.scrub, check=False)
    if result.exit_code != ExitCode.OK:
        raise AnlError(result.records, exit_code=result.exit_code)
    return prep


def _where(inventory: str | None, lab_name: str | None) -> str:
    return f"--lab {lab_name}" if lab_name else f"-i {inventory}"


def _fail_on(prep: Any, result: Any, as_json: bool, extra: dict[str, Any]) -> None:
    from anl_stack.cli.deploy_cmd import _print_report

    if as_json:
        click.echo(json.dumps({**result.summary(), **extra}, ensure_ascii=False, default=str))
        sys.exit(int(result.exit_code))
    for report in result.reports:
        _print_report(report, prep.scrub, check=False)
    if result.exit_code != ExitCode.OK:
        raise AnlError(result.records, exit_code=result.exit_code)


def _fleet_backup_command(plugins: tuple[str, ...], limit: str | None, repos: tuple[str, ...],
                          labels: tuple[str, ...]) -> list[str]:
    """The command each commune of a fleet runs: the same backup and options, without -i."""
    command = ["backup", *plugins, *(["--limit", limit] if limit else [])]
    for repo in repos:
        command += ["--repo", repo]
    for label in labels:
        command += ["--label", label]
    return command


@click.command("backup", cls=Command)
@click.argument("plugins", nargs=-1, required=True)
@_target_options_without_plugin
@REPO_OPTION
@click.option("--label", "labels", multiple=True, metavar="TEXT", help="A label on the snapshot (repeatable).")
@fleet_options
def backup(plugins: tuple[str, ...], inventory: str | None, lab_name: str | None, limit: str | None,
           vault_password_file: str | None, as_json: bool, repos: tuple[str, ...], labels: tuple[str, ...],
           fleet: Any, communes: str | None, parallel: int) -> None:
    """Back up PLUGINS into the commune's repositories (restic: encrypted, deduplicated).

    \b
    Each plugin's backup step puts its service in a safe state (maintenance
    mode, units stopped), dumps its databases with their own tools, and sends
    them with its folders to every repository of anl_backup_repositories (on
    the host and off-host over SFTP), or only those given with --repo.
    Refused (exit 2) when a plugin has no backup step. Exit 1 when a host or a
    repository fails (the service is put back as it was); 130 on Ctrl-C.
    With --fleet: every commune into its own repositories; exit 1 when any
    commune failed or was refused while others ran.
    """
    from anl_stack.cli.progress import display_factory
    from anl_stack.deploy.recovery import backup as run_backup

    refuse_fleet_conflicts(fleet, communes, **{"-i": inventory, "--lab": lab_name,
                                               "--vault-password-file": vault_password_file})
    bad = [label for label in labels if not LABEL.match(label)]
    if bad:
        raise AnlError(_("{label!r} is not a label").format(label=bad[0]), key="--label", expected=_("lower-case letters, digits, '.' and '-'"))
    if fleet is not None:
        run_fleet_command(_fleet_backup_command(plugins, limit, repos, labels), fleet, communes, parallel, as_json)
        return
    from anl_stack.cli.deploy_cmd import _print_report
    from anl_stack.deploy.lifecycle import require_step
    from anl_stack.deploy.prepare import resolve_plugins

    names = list(dict.fromkeys(plugins))
    for found in resolve_plugins(names):  # every name and step checked before any backup runs
        require_step(found, "backup")
    worst, records, documents = ExitCode.OK, [], []
    for plugin in names:
        outcome = run_backup(plugin, inventory=inventory, lab_name=lab_name, vault_password=vault_password_file,
                             limit=limit, repos=list(repos), labels=list(labels),
                             display=display_factory(json_output=as_json))
        code = outcome.result.exit_code
        worst = max(worst, code)
        if as_json:
            documents.append({**outcome.result.summary(), "plugin": plugin, "reports": outcome.reports})
        else:
            for report in outcome.result.reports:
                _print_report(report, outcome.prep.scrub, check=False)
            records += outcome.result.records
            for host, report in sorted(outcome.reports.items()):
                written = ", ".join(_("{snapshot} in {repo}").format(snapshot=str(s["snapshot"])[:8], repo=s["repo"])
                                    for s in report.get("snapshots", []))
                if written:
                    click.echo(_("{plugin} on {host}: snapshot {written}").format(plugin=plugin, host=host, written=written))
        if code == ExitCode.INTERRUPTED:
            break  # Ctrl-C stops the whole command, not one plugin's backup
    if as_json:
        # One document for the whole command; a single plugin's is the one `backup PLUGIN --json` always gave.
        click.echo(json.dumps(documents[0] if len(documents) == 1 else
                              {"step": "backup", "exit_code": int(worst), "plugins": documents},
                              ensure_ascii=False, default=str))
        sys.exit(int(worst))
    if worst != ExitCode.OK:
        raise AnlError(records, exit_code=worst)
    click.echo("\n" + _("list them with: {command}").format(
        command=f"anl-stack backups {names[0]} {_where(inventory, lab_name)}"))


@click.command("backups", cls=Command)
@click.argument("plugin")
@_target_options_without_plugin
@REPO_OPTION
def backups(plugin: str, inventory: str | None, lab_name: str | None, limit: str | None,
            vault_password_file: str | None, as_json: bool, repos: tuple[str, ...]) -> None:
    """List PLUGIN's snapshots in every repository its hosts can read.

    \b
    Date (UTC), id, repository, the host it was made on, the application and
    recipe versions that made it, its size once restored, and its labels.
    Newest first. Reading changes nothing. With --json, one JSON object.
    """
    from anl_stack.cli.progress import display_factory
    from anl_stack.deploy.events import quiet_display
    from anl_stack.deploy.snapshots import list_snapshots

    # The play's progress goes to stderr (nothing with --json): stdout is the listing alone.
    display = quiet_display if as_json else display_factory(json_output=False, out=sys.stderr)
    listing = list_snapshots(plugin, inventory=inventory, lab_name=lab_name, vault_password=vault_password_file,
                             limit=limit, repos=list(repos), display=display)
    if as_json:
        click.echo(json.dumps({"plugin": plugin, "snapshots": [s.to_dict() for s in listing.snapshots],
                               "errors": [e.to_dict() for e in listing.errors],
                               "exit_code": int(listing.result.exit_code)}, ensure_ascii=False))
        sys.exit(int(listing.result.exit_code) or (1 if listing.errors else 0))
    if listing.result.exit_code != ExitCode.OK:
        _fail_on(listing.prep, listing.result, False, {})
    date, ident, repo, host, app, recipe, size = (_("date (UTC)"), _("id"), _("repository"), _("host"), _("app"),
                                                  _("recipe"), _("size"))
    click.echo(f"{date:<20} {ident:<9} {repo:<12} {host:<14} {app:<10} {recipe:<8} {size:>10}  " + _("labels"))
    for s in listing.snapshots:
        size = _size(s.size)
        click.echo(f"{s.time[:19].replace('T', ' '):<20} {s.short_id:<9} {s.repo:<12} {s.host or '?':<14} "
                   f"{s.app_version or '?':<10} {s.recipe_version or '?':<8} {size:>10}  {', '.join(s.labels)}")
    if not listing.snapshots:
        click.echo(_("no snapshot of {plugin} yet ({command})").format(
            plugin=plugin, command=f"anl-stack backup {plugin} {_where(inventory, lab_name)}"))
    for error in listing.errors:
        click.echo(_("warning: {key}: {message}").format(key=error.key, message=error.message), err=True)
    if listing.errors:
        sys.exit(int(ExitCode.FAILED))


def _size(value: int | None) -> str:
    if value is None:
        return "?"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)


@click.command("restore", cls=Command)
@_target_options
@click.option("--from", "source", required=True, metavar="SNAPSHOT",
              help="The snapshot id (or its first 8 hex digits, as listed by backups), or latest.")
@REPO_OPTION
@click.option("--to-host", default=None, metavar="HOST",
              help="A new server of the inventory (in the plugin's group): deployed first, then restored.")
@click.option("--tags", default=None, help="With --to-host: only the deploy's tasks with these tags (comma-separated).")
@click.option("--mark", default=None, metavar="EXPR", help="Only the checks this pytest marker expression selects.")
def restore(plugin: str, inventory: str | None, lab_name: str | None, limit: str | None,
            vault_password_file: str | None, as_json: bool, source: str, repos: tuple[str, ...],
            to_host: str | None, tags: str | None, mark: str | None) -> None:
    """Restore PLUGIN from SNAPSHOT, on its server or on a new one, then run its checks.

    \b
    Without --repo the snapshot is looked up in every repository, off-host
    ones first with --to-host (the server is gone). The snapshot is restored
    beside the live data and checked before anything is replaced; if a step
    fails after that, the previous data is put back.
    Refused (exit 2, nothing changed): no restore step, an unknown snapshot,
    a snapshot made by a newer application than the server runs.
    Exit 1 when the restore or a check fails; 130 on Ctrl-C.
    """
    from anl_stack.cli.progress import display_factory
    from anl_stack.deploy.recovery import restore as run_restore
    from anl_stack.verify.plan import VerifyOptions, validate_marker_expression
    from anl_stack.verify.run import run as run_verify

    if mark:
        validate_marker_expression(mark)  # refused before anything is restored
    outcome = run_restore(plugin, source, inventory=inventory, lab_name=lab_name, vault_password=vault_password_file,
                          limit=limit, repos=list(repos), to_host=to_host, tags=tags,
                          display=display_factory(json_output=as_json))
    chosen = outcome.snapshot.to_dict() if outcome.snapshot else None
    if outcome.result.exit_code != ExitCode.OK or outcome.snapshot is None:
        _fail_on(outcome.prep, outcome.result, as_json, {"step": "restore", "snapshot": chosen})
    host = outcome.prep.hosts[0]
    checks = run_verify(VerifyOptions(plugins=[plugin], inventory=None if lab_name else inventory, lab=lab_name,
                                      vault_password_file=vault_password_file, limit=[host], mark=mark))
    if as_json:
        click.echo(json.dumps({**outcome.result.summary(), "step": "restore", "snapshot": chosen, "host": host,
                               "verify": checks.to_dict()}, ensure_ascii=False, default=str))
        sys.exit(int(checks.exit_code))
    snap = outcome.snapshot
    click.echo(_("restored {plugin} on {host} from snapshot {snapshot} ({repo}, made {time} UTC on {origin})").format(
        plugin=plugin, host=host, snapshot=snap.short_id, repo=snap.repo, time=snap.time[:19].replace("T", " "),
        origin=snap.host))
    s = checks.summary
    counts = _("{passed} passed, {failed} failed, {na} n/a").format(
        passed=s["passed"], failed=s["failed"] + s["error"], na=s["n/a"])
    verdict = _("checks passed: {counts} (report: {report})") if checks.exit_code == 0 else \
        _("checks FAILED: {counts} (report: {report})")
    click.echo(verdict.format(counts=counts, report=checks.junit))
    sys.exit(int(checks.exit_code))


@click.command("upgrade", cls=Command)
@_target_options
@click.option("--no-rollback", is_flag=True, help="On failure, leave the hosts as they are for inspection.")
@click.option("--to", "to_version", default=None, metavar="VERSION",
              help="The recipe version to reach; refused when it is not the one this anl-stack carries.")
def upgrade(plugin: str, inventory: str | None, lab_name: str | None, limit: str | None,
            vault_password_file: str | None, as_json: bool, no_rollback: bool, to_version: str | None) -> None:
    """Upgrade PLUGIN to the current recipe, going back automatically if it fails.

    \b
    1. a pre-upgrade backup into the on-host repository, read back first;
    2. the plugin's upgrade step (upgrade.yml: new recipe, new release,
       Debian package updates);
    3. the plugin's checks (verify).
    If 2 or 3 fails: the recipe the hosts ran before (kept since its deploy,
    copied into the upgrade's run folder) is deployed again, the pre-upgrade
    snapshot restored, and the checks run again. upgrade.json in the run
    folder says what happened.
    --to states the recipe version the operator reviewed: if this anl-stack
    carries another one, nothing is done (a script does not go further than
    what was reviewed).
    Exit 0 upgraded; 1 failed (rolled back or not); 2 refused before any
    change (no upgrade or backup step, no recorded deploy to go back to,
    another version than --to, an upgrade the recipe does not support).
    """
    from anl_stack.cli.progress import display_factory
    from anl_stack.deploy.upgrade import upgrade as run_upgrade
    from anl_stack.verify.plan import VerifyOptions
    from anl_stack.verify.run import run as run_verify

    def checks(hosts: list[str]) -> tuple[bool, str]:
        result = run_verify(VerifyOptions(plugins=[plugin], inventory=None if lab_name else inventory, lab=lab_name,
                                          vault_password_file=vault_password_file, limit=hosts))
        s = result.summary
        failed = [f"{r['check']}: {r['message'][:200]}" for r in result.checks if r["outcome"] in ("failed", "error")]
        counts = _("{passed} passed, {failed} failed, {na} n/a").format(
            passed=s["passed"], failed=s["failed"] + s["error"], na=s["n/a"])
        return result.exit_code == 0, counts + (" (" + "; ".join(failed[:3]) + ")" if failed else "")

    report = run_upgrade(plugin, checks, inventory=inventory, lab_name=lab_name, vault_password=vault_password_file,
                         limit=limit, rollback=not no_rollback, to_version=to_version,
                         display=display_factory(json_output=as_json))
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        sys.exit(int(report.exit_code))
    if report.outcome == "up to date":
        click.echo(_("{plugin} on {hosts} already runs recipe {version} ({digest}): nothing to upgrade").format(
            plugin=plugin, hosts=", ".join(report.hosts), version=report.target["version"],
            digest=report.target["digest"][:19]))
        sys.exit(0)
    click.echo("\n" + _("upgrade of {plugin} from recipe {previous} to {target} on {hosts}:").format(
        plugin=plugin, previous=report.previous["version"], target=report.target["version"],
        hosts=", ".join(report.hosts)))
    for step in report.steps:
        mark = _("ok  ") if step.ok else _("FAIL")
        click.echo(f"  {mark} " + _("{step}: {detail}").format(
            step=_step_name(step.name), detail=_(step.detail) if isinstance(step.detail, Text) else step.detail))
    outcome = _(UPGRADE_OUTCOMES[report.outcome]) if report.outcome in UPGRADE_OUTCOMES else report.outcome
    click.echo(_("{outcome} (report: {report})").format(outcome=outcome, report=report.folder / "upgrade.json"))
    sys.exit(int(report.exit_code))


@click.command("remove", cls=Command)
@_target_options
@click.option("--purge", is_flag=True, help="Also delete the plugin's data and its snapshots on the host.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def remove(plugin: str, inventory: str | None, lab_name: str | None, limit: str | None,
           vault_password_file: str | None, as_json: bool, purge: bool, yes: bool) -> None:
    """Remove PLUGIN's service from each of its hosts, with the plugin's remove.yml.

    \b
    Stops and removes the service, its web site, its firewall ports and its
    timers. Its data and backups are kept unless --purge (snapshots in
    off-host repositories are always kept). Running it again changes nothing.
    Take the host out of the plugin's group in hosts.yml afterwards, or the
    next deploy installs it again. --purge asks for confirmation unless --yes.
    Refused (exit 2) when PLUGIN has no remove step. Exit 1 when a host fails.
    """
    if purge and not yes and not click.confirm(
            _("Remove {plugin} and DELETE its data on its hosts ({where})?").format(
                plugin=plugin, where=_where(inventory, lab_name))):
        raise AnlError(_("not confirmed"), key="--yes", expected=_("an answer yes, or --yes"))
    _run("remove", plugin, inventory, lab_name, limit, vault_password_file, as_json, {"anl_remove_purge": purge})
    click.echo("\n" + (_("removed {plugin} and its data") if purge else
                       _("removed {plugin} (its data and backups are kept)")).format(plugin=plugin))
