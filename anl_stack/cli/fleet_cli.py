"""``--fleet DIR``: plan, deploy, verify or back up every commune of a fleet folder (anl_stack.fleet).

The options of the command are passed on to each commune's run, except
those that name one commune's files (its inventory, vault password, report),
which each commune takes from its own inventory.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from anl_stack.cli.output import echo_json
from anl_stack.core.errors import AnlError
from anl_stack.core.i18n import _

DEFAULT_PARALLEL = 2


def fleet_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--fleet", "fleet", default=None, type=click.Path(path_type=Path), metavar="DIR",
                     help="A folder of commune inventories (one per sub-folder): run the command for each commune."),
        click.option("--commune", "communes", default=None, metavar="NAMES",
                     help="With --fleet: only these communes (sub-folder names, comma-separated)."),
        click.option("--parallel", default=DEFAULT_PARALLEL, show_default=True, type=click.IntRange(1, 64),
                     help="With --fleet: how many communes run at a time."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def refuse_fleet_conflicts(fleet: Path | None, communes: str | None, **given: Any) -> None:
    """Options that name one commune's files cannot go with --fleet; --commune needs --fleet (exit 2)."""
    if fleet is None:
        if communes:
            raise AnlError(_("needs --fleet"), key="--commune", expected=_("--fleet DIR --commune NAMES"))
        return
    for option, value in given.items():
        if value:
            raise AnlError(_("cannot be used with --fleet: each commune uses its own inventory, vault and files"),
                           key=option, expected=_("--fleet alone"))


def _snapshots(summary: dict[str, Any]) -> int | None:
    """How many snapshots a backup's JSON summary reports (one plugin's, or each of several), else None."""
    documents = summary["plugins"] if isinstance(summary.get("plugins"), list) else [summary]
    if not all(isinstance(d, dict) and isinstance(d.get("reports"), dict) for d in documents):
        return None
    return sum(len(report.get("snapshots", [])) for d in documents for report in d["reports"].values()
               if isinstance(report, dict))


def _detail(summary: dict[str, Any] | None) -> str:
    """A commune's figures from its command's JSON summary: changes for deploy, checks for verify,
    snapshots for backup."""
    if not summary:
        return ""
    if (count := _snapshots(summary)) is not None:
        return _("{count} snapshots written").format(count=count)
    runs = summary.get("runs")
    if isinstance(runs, list) and runs:
        hosts = runs[-1].get("hosts", {})
        changed = sum(h.get("changed", 0) for h in hosts.values())
        failed = sum(h.get("failed", 0) + h.get("unreachable", 0) for h in hosts.values())
        return _("{hosts} hosts, changed={changed} failed={failed}").format(hosts=len(hosts), changed=changed,
                                                                          failed=failed)
    checks = summary.get("summary")
    if isinstance(checks, dict) and "passed" in checks:
        return _("{passed} checks passed, {failed} failed").format(
            passed=checks.get("passed", 0), failed=checks.get("failed", 0) + checks.get("error", 0))
    return ""


def _progress() -> Callable[[str, Any], None]:
    def show(commune: str, result: Any) -> None:
        if result is None:
            line = _("{commune}: started").format(commune=commune)
        else:
            line = _("{commune}: {outcome} in {seconds:.0f} s").format(
                commune=commune, outcome=_(result.outcome), seconds=result.elapsed)
            if detail := _detail(result.summary):
                line += f" ({detail})"
        click.echo(line, err=True)  # progress on stderr: stdout stays the summary (text or JSON)
    return show


def run_fleet_command(command: Sequence[str], fleet: Path, communes: str | None, parallel: int,
                      as_json: bool) -> None:
    """Run ``command`` for the fleet's communes, print the summary, exit with the fleet's code."""
    from anl_stack.fleet.communes import fleet_communes
    from anl_stack.fleet.run import run_fleet

    names = [n.strip() for n in communes.split(",") if n.strip()] if communes else None
    chosen, skipped = fleet_communes(fleet, names)
    for record in skipped:
        click.echo(_("warning: {message}").format(message=record.format()), err=True)
    result = run_fleet(Path(fleet).expanduser().absolute(), chosen, list(command), parallel=parallel,
                       skipped=skipped, progress=_progress())
    if as_json:
        echo_json(result.to_dict())
        sys.exit(result.exit_code)
    width = max(len(r.commune) for r in result.results) if result.results else 10
    click.echo(_("Fleet {action}: {count} communes — {folder}").format(
        action=command[0], count=len(result.results), folder=result.folder))
    for r in sorted(result.results, key=lambda r: r.commune):
        line = f"  {r.commune:<{width}}  {_(r.outcome):<10} {r.elapsed:>6.0f} s"
        if detail := _detail(r.summary):
            line += f"  {detail}"
        click.echo(line)
        for text in r.message.splitlines():
            click.echo(f"      {text}")
    counts = result.counts()
    click.echo(_("ok: {ok}, failed: {failed}, refused: {refused}, interrupted: {interrupted}").format(
        ok=counts["ok"], failed=counts["failed"], refused=counts["refused"], interrupted=counts["interrupted"]))
    sys.exit(result.exit_code)
