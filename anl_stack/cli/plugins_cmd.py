"""``anl-stack plugins``: list, show and compare plugins (the catalog).

Thin: discovery and the catalog do the work. Nothing here imports Ansible;
``rich`` is imported only when printing a table to a terminal.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from anl_stack.cli.i18n_click import Group
from anl_stack.cli.output import echo_json
from anl_stack.core.errors import AnlError
from anl_stack.core.i18n import LANGS, N_, Lang, _, current_language, label, translate

# Feature packages are imported inside each command (start-up speed): `--help` and
# `plugins list` import neither Ansible, testinfra nor pydantic (tests/unit/test_startup.py).

LANG_OPTION = click.option(
    "--lang", type=click.Choice(list(LANGS)), default=None,
    help="Language of the output (default: from the locale, fr for fr_* locales, else en).",
)

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _lang(value: str | None) -> Lang:
    return value if value in LANGS else current_language()  # type: ignore[return-value]


def print_table(headers: list[str], rows: list[list[str]], *, title: str | None = None) -> None:
    """A table: rich on a terminal, aligned plain text otherwise (pipes, files, tests)."""
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(*headers, title=title, show_lines=False)
        for row in rows:
            table.add_row(*row)
        Console().print(table)
        return
    if title:
        click.echo(title)
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows)]
    for line in [headers] + rows:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip())


#: ``plugins check``'s statuses and reasons for skipping a check (kept in English in --json).
CHECK_STATUSES = {"ok": N_("ok"), "failed": N_("failed"), "skipped": N_("skipped")}
SKIP_REASONS = {"manifest invalid": N_("manifest invalid"), "--no-lint": N_("--no-lint")}


@click.group("plugins", cls=Group)
def plugins() -> None:
    """List, show and compare plugins (the catalog of fiches).

    Plugins are found in the project's plugins/ folder, then in installed
    Python packages (entry points `anl_stack.plugins`), then in the folders
    of ANL_STACK_PLUGINS_PATH. The first found under a name wins.
    """


def _quality_text(quality: Any, language: Lang) -> list[str]:
    def _(message: str) -> str:
        return translate(message, language)

    # Babel does not read inside f-strings: translated texts are taken out first.
    digest, missing, not_counted = _("digest"), _("missing for level"), _("not counted")
    lines = ["", _("Quality (computed from evidence)")]
    lines.append(f"  {label('level', language)}: {quality.level}  ({digest} {quality.digest})")
    for level, files in sorted(quality.met.items()):
        lines.append(f"    {level}: {', '.join(files)}")
    if quality.next_level() is not None:
        lines.append(f"  {missing} {quality.next_level()}: {quality.missing(language)}")
    if quality.reviews:
        lines.append("  " + _("reviews") + ":")
        for r in quality.reviews:
            signed = _("signed by {signer}").format(signer=r.signer) if r.signature == "signed" \
                else _(r.signature)
            evidence = f", {'/'.join(r.evidence_environments)} Debian {'/'.join(r.releases)}" \
                if r.evidence_environments else ""
            lines.append(f"    {r.date} {r.by} ({r.reviewer}): {_(r.status)}, {signed}{evidence}")
    for file, why in quality.ignored:
        lines.append(f"  {not_counted}: {file}: {_(why)}")
    return lines


@plugins.command("list")
@JSON_OPTION
@LANG_OPTION
def list_cmd(as_json: bool, lang: str | None) -> None:
    """Every plugin: versions, platforms, recipe status and where it comes from.

    A plugin that fails to load is listed with its error; the command still succeeds.
    """
    from anl_stack.catalog import list_cache

    cache_key = list_cache.key()
    listing = list_cache.load(cache_key)
    if listing is None:
        # Only on a cache miss: the listing loads manifests (pydantic) and records.
        from anl_stack.catalog.listing import build_listing, quality_levels
        from anl_stack.plugins import discover_plugins

        found = discover_plugins()
        listing = build_listing(found, quality_levels(found))
        list_cache.save(cache_key, listing)
    if as_json:
        echo_json(listing["json"])
        return
    language = _lang(lang)
    view = listing["text"][language]
    if not view["rows"]:
        click.echo(label("no_plugins", language))
        return
    print_table(view["headers"], view["rows"])
    click.echo("")
    for line in view["next_steps"]:
        click.echo(line)
    click.echo("")
    for line in view.get("legend", []):
        click.echo(line)
    if view["notes"]:
        click.echo("")
        for note in view["notes"]:
            click.echo(note)


@plugins.command("show")
@click.argument("name")
@LANG_OPTION
@JSON_OPTION
def show_cmd(name: str, lang: str | None, as_json: bool) -> None:
    """The fiche of plugin NAME for a decision-maker, each fact with its source."""
    from anl_stack.catalog import fiche as catalog
    from anl_stack.plugins import get_plugin
    from anl_stack.records.quality import safe_compute

    plugin = get_plugin(name)
    if as_json:
        data = catalog.fiche_data(plugin)
        quality = safe_compute(plugin)
        echo_json({**data, "quality": quality.to_dict() if quality else None})
        return
    language = _lang(lang)
    click.echo(catalog.render_fiche(plugin, language), nl=False)
    quality = safe_compute(plugin)
    if quality is not None:
        from anl_stack.records.quality import legend

        click.echo("\n".join(_quality_text(quality, language) + [""] + legend(language)))


@plugins.command("compare")
@click.argument("names", nargs=-1, required=True)
@LANG_OPTION
@JSON_OPTION
def compare_cmd(names: tuple[str, ...], lang: str | None, as_json: bool) -> None:
    """The facts of two or more plugins side by side (* = fact without a source)."""
    from anl_stack.catalog import fiche as catalog
    from anl_stack.plugins import discover_plugins, get_plugin

    if len(names) < 2:
        raise AnlError(_("compare needs at least two plugins"), key="names", expected="NAME NAME...")
    found = discover_plugins()
    chosen = [get_plugin(n, found) for n in dict.fromkeys(names)]
    language = _lang(lang)
    rows = catalog.compare_rows(chosen, language)
    if as_json:
        echo_json({"plugins": [p.name for p in chosen], "lang": language, "rows": rows})
        return

    def cell(c: dict[str, Any]) -> str:
        return c["value"] + ("" if c["verified"] else " *")

    headers = [""] + [p.name for p in chosen]
    print_table(headers, [[r["label"]] + [cell(r["values"][p.name]) for p in chosen] for r in rows])
    if any(not c["verified"] for r in rows for c in r["values"].values()):
        click.echo(label("unverified_legend", language))


@plugins.command("check")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--no-lint", is_flag=True, help="Skip ansible-lint (the slowest check).")
@click.option("--record", is_flag=True,
              help="Also write the result as evidence/DATE-check.yml (level 1 needs a clean check with lint).")
@click.option("--max-fact-age", type=click.IntRange(min=0), default=24, show_default=True,  # plugins.facts.DEFAULT_MAX_AGE_MONTHS (not imported: start-up)
              envvar="ANL_STACK_MAX_FACT_AGE", show_envvar=True, metavar="MONTHS",
              help="Warn about decision facts whose source is older than MONTHS (a warning never fails the check).")
@JSON_OPTION
def check_cmd(path: Path, no_lint: bool, record: bool, max_fact_age: int, as_json: bool) -> None:
    """Check the plugin folder PATH: manifest, facts, fiches, artifacts, settings, syntax, lint, verify tests.

    Exit 0 when clean, 1 when there are findings (each with file and line).
    Old facts are warnings: they are printed and do not change the exit code.
    """
    from anl_stack.core.errors import ExitCode
    from anl_stack.plugins.check import check_plugin

    report = check_plugin(path, lint=not no_lint, max_fact_age=max_fact_age)
    if record:
        from anl_stack.records.evidence import record_check

        written = record_check(path, report)
        if not as_json:
            click.echo(_("recorded {path}").format(path=written))
    if as_json:
        echo_json(report.to_dict())
    else:
        for result in report.results:
            status = _(CHECK_STATUSES[result.status]) if result.status in CHECK_STATUSES else result.status
            skipped = _(SKIP_REASONS[result.skipped]) if result.skipped in SKIP_REASONS else result.skipped
            click.echo(_("{check}: {status}").format(check=result.name, status=status)
                       + (f" ({skipped})" if skipped else ""))
            for finding in result.findings:
                click.echo(f"  {finding.format()}")
            for warning in result.warnings:
                click.echo("  " + _("warning: {message}").format(message=warning.format()))
        click.echo(_("clean") if report.ok else
                   _("findings: {count}").format(count=sum(len(r.findings) for r in report.results)))
    if not report.ok:
        sys.exit(int(ExitCode.FAILED))


@plugins.command("new")
@click.argument("name")
@click.option("--dir", "parent", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder in which to create the plugin folder NAME.")
@JSON_OPTION
def new_cmd(name: str, parent: Path, as_json: bool) -> None:
    """Create a plugin skeleton NAME that deploys and verifies a real (small) web page.

    It has every manifest field, a role with argument specs, a playbook, a
    verify test, fiches in French and English, a reviews folder and a
    pyproject.toml to publish it as a Python package.
    """
    from anl_stack.plugins.scaffold import create_plugin

    folder = create_plugin(name, parent)
    if as_json:
        echo_json({"name": name, "path": str(folder.resolve())})
        return
    click.echo(_("created {path}").format(path=folder))
    click.echo(_("next: {command}").format(command=f"anl-stack plugins check {folder}"))


@plugins.command("evidence")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--from-report", "report", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A passing verify report in JSON (anl-stack verify NAME --lab HOST --report FILE.json).")
@click.option("--idempotence-run", type=click.Path(exists=True, path_type=Path),
              help="Run folder of the idempotence re-run (deploy --idempotence): proves level 3.")
@click.option("--backup-run", type=click.Path(exists=True, path_type=Path), help="Run folder of a backup step.")
@click.option("--restore-run", type=click.Path(exists=True, path_type=Path), help="Run folder of a restore step.")
@click.option("--upgrade-run", type=click.Path(exists=True, path_type=Path), help="Run folder of an upgrade step.")
@JSON_OPTION
def evidence_cmd(path: Path, report: Path, idempotence_run: Path | None, backup_run: Path | None,
                 restore_run: Path | None, upgrade_run: Path | None, as_json: bool) -> None:
    """Record lab evidence for the plugin folder PATH from a real verify report (and run folders).

    Writes evidence/DATE-KIND.yml with the recipe's digest and copies its
    sources (the report, the run summaries) next to it with their sha256.
    Refused (exit 2) when the report did not pass, is not from lab hosts, or
    verified another digest. Commit the evidence/ folder with the plugin.
    """
    from anl_stack.records.evidence import record_evidence

    written = record_evidence(path, report, idempotence_run=idempotence_run, backup_run=backup_run,
                              restore_run=restore_run, upgrade_run=upgrade_run)
    if as_json:
        echo_json({"records": [str(p) for p in written.records], "sources": [str(p) for p in written.sources]})
        return
    for record in written.records:
        click.echo(_("recorded {path}").format(path=record))


@plugins.command("review")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--by", required=True, help='The reviewing commune, e.g. "Commune de Brioux".')
@click.option("--reviewer", required=True, help="Who reviewed (name, role).")
@click.option("--evidence", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A verify report in JSON from the commune's servers (verify -i ... --report FILE.json).")
@click.option("--sign", "key_id", metavar="KEYID", help="Sign the record with this OpenPGP key (gpg --detach-sign).")
@click.option("--comment", help="A short comment stored in the record.")
@JSON_OPTION
def review_cmd(path: Path, by: str, reviewer: str, evidence: Path | None, key_id: str | None,
               comment: str | None, as_json: bool) -> None:
    """Record that commune BY reviewed the plugin folder PATH as it is now (its content digest).

    Writes reviews/DATE-COMMUNE.yml (plus the evidence report, and with
    --sign the signature .asc and the signer's public key). Editing the
    recipe afterwards shows the review as "changed since review".
    """
    from anl_stack.records.reviews import record_review

    written = record_review(path, by=by, reviewer=reviewer, evidence=evidence, sign=key_id, comment=comment)
    if as_json:
        echo_json({"record": str(written), "signed": key_id is not None})
        return
    click.echo((_("recorded {path} (signed)") if key_id else _("recorded {path} (unsigned)")).format(path=written))


#: Named options of ``plugins cost`` and the assumption each sets (the rest go through --set).
COST_OPTIONS = {"viewers": "viewers", "hours_per_month": "hours_per_month", "accounts": "accounts",
                "quota_gb": "quota_gb", "bitrate_kbps": "bitrate_kbps", "hourly_cost": "hourly_cost_eur"}


@plugins.command("cost")
@click.argument("name")
@click.option("--inhabitants", type=click.IntRange(min=1), help="Size of the commune (default: 2,000, 10,000 "
                                                                  "and 50,000 inhabitants).")
@click.option("--viewers", metavar="N", help="Simultaneous viewers of the council stream.")
@click.option("--hours-per-month", metavar="H", help="Hours streamed per month.")
@click.option("--accounts", metavar="N", help="Accounts (Nextcloud, Mastodon).")
@click.option("--quota-gb", metavar="GB", help="Quota per account (Nextcloud).")
@click.option("--bitrate-kbps", metavar="KBPS", help="Bitrate of the stream or videos.")
@click.option("--hourly-cost", metavar="EUR", help="Cost of one hour of the staff's work.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Change any assumption the output lists (repeatable), e.g. --set egress_eur_per_gb=0.")
@LANG_OPTION
@JSON_OPTION
def cost_cmd(name: str, inhabitants: int | None, settings: tuple[str, ...], lang: str | None, as_json: bool,
             **named: str | None) -> None:
    """What plugin NAME costs a commune: hosting, storage, traffic and people's time.

    Every figure shows its formula and every assumption its source; change
    them with the named options or --set. An unknown assumption leaves the
    figures that need it unknown, and says so. Exit 2 on a bad value.
    """
    from anl_stack.cli.cost_view import render_cost
    from anl_stack.costs.model import DEFAULT_SIZES
    from anl_stack.costs.params import parse_override
    from anl_stack.costs.report import cost_report
    from anl_stack.plugins import get_plugin
    from anl_stack.plugins.discovery import require_loaded

    plugin = get_plugin(name)
    overrides: dict[str, str | float] = dict(parse_override(text) for text in settings)
    for option, key in COST_OPTIONS.items():
        if named.get(option) is not None:
            overrides[key] = named[option]  # type: ignore[assignment]
    sizes = (inhabitants,) if inhabitants else DEFAULT_SIZES
    report = cost_report(plugin.path, require_loaded(plugin), sizes=sizes, overrides=overrides)
    if as_json:
        echo_json(report)
        return
    click.echo(render_cost(report, _lang(lang)), nl=False)
