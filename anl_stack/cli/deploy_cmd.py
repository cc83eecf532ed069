"""``anl-stack plan`` and ``anl-stack deploy``.

Thin: :mod:`anl_stack.deploy` does the work; this module parses options
and prints the summary. Ansible is imported only when a command runs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from anl_stack.cli.engine_option import ENGINE_OPTION
from anl_stack.cli.fleet_cli import fleet_options, refuse_fleet_conflicts, run_fleet_command
from anl_stack.cli.i18n_click import Command
from anl_stack.core.errors import AnlError, ExitCode
from anl_stack.core.i18n import _

# Feature packages are imported inside each command (start-up speed): `--help` and
# `plugins list` import neither Ansible, testinfra nor pydantic (tests/unit/test_startup.py).

DIFF_LINES = 30


def _target_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.argument("plugins", nargs=-1, required=True),
        click.option("-i", "--inventory", default=None, metavar="PATH",
                     help="The commune inventory folder or its hosts.yml."),
        click.option("--lab", "lab_name", default=None, metavar="NAME",
                     help="Use (and boot if needed) the lab host NAME instead of an inventory."),
        click.option("--debian", type=click.Choice(["13", "12"]), default="13", show_default=True,
                     help="Debian release of the lab host (with --lab)."),
        click.option("--limit", default=None, help="Only these hosts or groups (Ansible pattern)."),
        click.option("--vault-password-file", default=None, envvar="ANL_STACK_VAULT_PASSWORD_FILE",
                     help="Vault password file or script (default: from the inventory's settings)."),
        click.option("--json", "as_json", is_flag=True,
                     help="One JSON object per line (events), then a summary object."),
        ENGINE_OPTION,
    ]
    for option in reversed(options):
        func = option(func)
    return fleet_options(func)


def _fleet_command(action: str, plugins: tuple[str, ...], limit: str | None, tags: str | None,
                   skip_tags: str | None, idempotence: bool) -> list[str]:
    """The command each commune of a fleet runs: the same action and options, without -i."""
    command = [action, *plugins]
    for option, value in (("--limit", limit), ("--tags", tags), ("--skip-tags", skip_tags)):
        if value:
            command += [option, value]
    return command + (["--idempotence"] if idempotence else [])


def _run(plugins: tuple[str, ...], inventory: str | None, lab_name: str | None, debian: str, limit: str | None,
         vault_password_file: str | None, as_json: bool, *, check: bool, tags: str | None = None,
         skip_tags: str | None = None, idempotence: bool = False, fleet: Any = None, communes: str | None = None,
         parallel: int = 1) -> None:
    refuse_fleet_conflicts(fleet, communes, **{"-i": inventory, "--lab": lab_name,
                                               "--vault-password-file": vault_password_file})
    if fleet is not None:
        run_fleet_command(_fleet_command("plan" if check else "deploy", plugins, limit, tags, skip_tags, idempotence),
                          fleet, communes, parallel, as_json)
        return
    from anl_stack.cli.progress import display_factory
    from anl_stack.deploy.engine import Options, execute
    from anl_stack.deploy.prepare import prepare

    prep = prepare(list(plugins), inventory=inventory, lab_name=lab_name, debian=debian,
                   vault_password=vault_password_file, limit=limit, tags=tags, skip_tags=skip_tags,
                   log=lambda line: click.echo(line, err=True))
    if prep.generated_secrets and not as_json:
        click.echo(_("generated secrets (values kept in the vault): {names}").format(
            names=", ".join(prep.generated_secrets)))
    if check and not as_json:
        _print_federation(prep)
    if check and lab_name is None:
        from anl_stack.inventory.acme_names import acme_name_warnings

        for warning in acme_name_warnings(prep.inventory, prep.plugins):
            click.echo(_("warning: {message}").format(message=warning.format()), err=True)
    options = Options(limit=limit, tags=tags, skip_tags=skip_tags, idempotence=idempotence, check=check,
                      display=display_factory(json_output=as_json))
    result = execute(prep, options)
    if as_json:
        click.echo(json.dumps(result.summary(), ensure_ascii=False, default=str))
        sys.exit(int(result.exit_code))
    for report in result.reports:
        _print_report(report, prep.scrub, check=check)
    if result.exit_code != ExitCode.OK:
        raise AnlError(result.records, exit_code=result.exit_code)


def _print_federation(prep: Any) -> None:
    """The federation settings `collective sync` wrote for the planned plugins, before the run."""
    from anl_stack.collective.sync import SYNC_FILE, synced_settings

    settings = synced_settings(prep.inventory, [p.name for p in prep.plugins])
    if settings:
        click.echo(_("federation settings from the collective (group_vars/all/{file}):").format(file=SYNC_FILE))
        for key, values in settings.items():
            click.echo(f"  {key}: {', '.join(values) if values else '-'}")


def _print_report(report: Any, scrub: Callable[[str], str], *, check: bool) -> None:
    m = report.model
    title = {"plan": _("Plan (check mode: nothing was changed)"), "deploy": _("Deploy"),
             "idempotence": _("Idempotence re-run")}.get(report.kind, report.kind.capitalize())
    click.echo(f"\n{title} — {m.elapsed:.0f}s — {report.folder}")
    for name, counts in report.model.summary()["hosts"].items():
        line = f"  {name}: " + _("ok={ok} changed={changed} failed={failed} unreachable={unreachable}").format(
            **{k: counts[k] for k in ("ok", "changed", "failed", "unreachable")})
        if counts.get("depends_on_earlier_changes"):
            line += " " + _("depends-on-earlier-changes={count}").format(count=counts["depends_on_earlier_changes"])
        click.echo(line)
        if not check and report.kind != "idempotence":
            continue
        changes = [c for c in m.changes if c.host == name]
        if check and not changes:
            click.echo("    " + _("no change"))
        for change in changes:
            mark = "?" if change.depends_on_earlier else "~"
            note = (" " + _("(depends on earlier changes)") if change.depends_on_earlier
                    else " " + _("(secret: censored)") if change.censored else "")
            click.echo(f"    {mark} {change.label}{note}")
            if check and change.diff:
                lines = scrub(change.diff).splitlines()
                for text in lines[:DIFF_LINES]:
                    click.echo(f"        {text}")
                if len(lines) > DIFF_LINES:
                    click.echo("        ... " + _("{count} more lines in the run's events.jsonl").format(
                        count=len(lines) - DIFF_LINES))
    for error in m.errors:
        click.echo(f"  {error['host']}: {error['task']}: {scrub(error['message'])}", err=True)


@click.command("plan", cls=Command)
@_target_options
@click.option("--tags", default=None, help="Only tasks with these tags (comma-separated).")
@click.option("--skip-tags", default=None, help="Skip tasks with these tags (comma-separated).")
def plan(plugins: tuple[str, ...], inventory: str | None, lab_name: str | None, debian: str, limit: str | None,
         vault_password_file: str | None, as_json: bool, fleet: Any, communes: str | None, parallel: int,
         tags: str | None, skip_tags: str | None) -> None:
    """Show what deploying PLUGINS would change, per host (check mode with diff).

    Never changes a host. Secrets are masked. On a fresh host, tasks that
    need an earlier change (a package not installed yet) are reported as
    depending on earlier changes, not as errors. `--tags stack` plans the
    part of a recipe that needs no release.
    """
    _run(plugins, inventory, lab_name, debian, limit, vault_password_file, as_json, check=True, tags=tags,
         skip_tags=skip_tags, fleet=fleet, communes=communes, parallel=parallel)


@click.command("deploy", cls=Command)
@_target_options
@click.option("--tags", default=None, help="Only tasks with these tags (comma-separated).")
@click.option("--skip-tags", default=None, help="Skip tasks with these tags (comma-separated).")
@click.option("--idempotence", is_flag=True, help="Run twice; exit 1 naming the tasks that changed the second time.")
def deploy(plugins: tuple[str, ...], inventory: str | None, lab_name: str | None, debian: str, limit: str | None,
           vault_password_file: str | None, as_json: bool, fleet: Any, communes: str | None, parallel: int,
           tags: str | None, skip_tags: str | None, idempotence: bool) -> None:
    """Deploy PLUGINS to the hosts of their groups (-i) or to a lab host (--lab).

    \b
    Refused (exit 2) before any change: invalid inventory, unknown plugin,
    recipe not available, missing artifact, a Debian release or app version
    the plugin does not support. Exit 1 when a host fails or is unreachable
    (or something changed on the --idempotence re-run); 130 on Ctrl-C.
    With --fleet: exit 1 when any commune failed or was refused while
    others ran, 2 only when every commune was refused.
    """
    _run(plugins, inventory, lab_name, debian, limit, vault_password_file, as_json, check=False, tags=tags,
         skip_tags=skip_tags, idempotence=idempotence, fleet=fleet, communes=communes, parallel=parallel)
