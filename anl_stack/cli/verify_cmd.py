"""``anl-stack verify``: testinfra checks of plugins and the security baseline."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from anl_stack.cli.fleet_cli import fleet_options, refuse_fleet_conflicts, run_fleet_command
from anl_stack.cli.i18n_click import Command
from anl_stack.cli.output import echo_json
from anl_stack.core.i18n import _, check_text

# Feature packages are imported inside each command (start-up speed): `--help` and
# `plugins list` import neither Ansible, testinfra nor pydantic (tests/unit/test_startup.py).

WIDTH = 44


@click.command("verify", cls=Command)
@click.argument("plugins", nargs=-1)
@click.option("-i", "--inventory", type=click.Path(path_type=Path), help="Commune inventory folder (or its hosts.yml).")
@click.option("--lab", "lab_name", metavar="NAME", help="Verify lab host NAME (its own inventory).")
@click.option("--live-test", is_flag=True, help="Also run checks marked `live` (they change something or push traffic).")
@click.option("--mark", metavar="EXPR", help="pytest marker expression, e.g. 'not app'.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write JUnit XML here.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a dated report: FILE.md (Markdown), FILE.html or FILE.json (for plugins evidence/review).")
@click.option("--vault-password-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Vault password file (default: the inventory's setting).")
@click.option("--limit", metavar="HOSTS", help="Only these hosts (comma-separated names of the inventory).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@fleet_options
def verify(plugins: tuple[str, ...], inventory: Path | None, lab_name: str | None, live_test: bool,
           mark: str | None, junit: Path | None, report: Path | None, vault_password_file: Path | None,
           limit: str | None, as_json: bool, fleet: Path | None, communes: str | None, parallel: int) -> None:
    """Check that PLUGIN(s) are installed right and that hosts meet the security baseline.

    \b
    Without PLUGIN, every plugin whose inventory group holds a host is
    checked on that host, plus the baseline on every host.
    Exit codes: 0 every check passed; 1 a check failed (or none ran);
    2 invalid input (nothing was touched).
    """
    refuse_fleet_conflicts(fleet, communes, **{"-i": inventory, "--lab": lab_name, "--junit": junit,
                                               "--report": report, "--vault-password-file": vault_password_file})
    if fleet is not None:
        command = ["verify", *plugins] + (["--live-test"] if live_test else []) + (["--mark", mark] if mark else [])
        run_fleet_command(command + (["--limit", limit] if limit else []), fleet, communes, parallel, as_json)
        return
    from anl_stack.verify.plan import VerifyOptions
    from anl_stack.verify.report import check_report_path
    from anl_stack.verify.run import run

    if report is not None:
        check_report_path(report)
    if junit is not None:
        from anl_stack.core.files import check_writable

        check_writable(junit, key="--junit")
    options = VerifyOptions(plugins=list(plugins), inventory=inventory, lab=lab_name, live=live_test, mark=mark,
                            junit=junit, report=report, vault_password_file=vault_password_file,
                            limit=[h.strip() for h in limit.split(",") if h.strip()] if limit else None)
    result = run(options)
    if as_json:
        echo_json(result.to_dict())
    else:
        _print(result)
    sys.exit(result.exit_code)


def _print(result: Any) -> None:
    from anl_stack.verify.report import label

    for host in result.hosts:
        codename = f" {host['codename']}" if host.get("codename") else ""
        plugins = ", ".join(host["plugins"]) or _("none")
        click.echo(f"{host['name']} (Debian {host['debian_version']}{codename}) - "
                   + _("plugins: {names}").format(names=plugins))
        check, result_title = _("check"), _("result")
        click.echo(f"  {check:<{WIDTH}} {result_title}")
        for row in (r for r in result.checks if r.get("host") == host["name"]):
            _row(row, label)
        click.echo("")
    for row in (r for r in result.checks if r.get("host") not in {h["name"] for h in result.hosts}):
        _row(row, label)
    for note in result.notes:
        click.echo(_("note: {note}").format(note=note))
    s = result.summary
    verdict = _("PASSED") if result.exit_code == 0 else _("FAILED")
    parts = [_("{count} passed").format(count=s["passed"]), _("{count} failed").format(count=s["failed"] + s["error"]),
             _("{count} n/a").format(count=s["n/a"])]
    if s["not run"]:
        parts.append(_("{count} not run").format(count=s["not run"]))
    click.echo(f"{verdict}: " + ", ".join(parts))
    click.echo(_("junit: {path}").format(path=result.junit))
    if result.report:
        click.echo(_("report: {path}").format(path=result.report))
    click.echo(_("log: {path}").format(path=result.log))


def _row(row: dict[str, Any], label: Any) -> None:
    name = f"{row['suite']}/{row['check']}"
    click.echo(f"  {name:<{WIDTH}} {label(row['outcome'])}")
    if row["outcome"] in ("failed", "error"):
        click.echo(f"      {row['message']}")
        if row.get("hint"):
            click.echo("      " + _("hint: {hint}").format(hint=check_text(row["hint"])))
    elif row["outcome"] in ("n/a", "not run", "skipped") and row.get("message"):
        click.echo(f"      {row['message']}")
