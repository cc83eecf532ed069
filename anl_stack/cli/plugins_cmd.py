"""``anl-stack plugins``: list, show and compare plugins (the catalog).

Thin: discovery and the catalog do the work. Nothing here imports Ansible;
``rich`` is imported only when printing a table to a terminal.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from anl_stack.cli.output import echo_json
from anl_stack.errors import AnlError
from anl_stack.i18n import Lang, detect_language, label

LANG_OPTION = click.option(
    "--lang", type=click.Choice(["fr", "en"]), default=None,
    help="Language of the output (default: from the locale, fr for fr_* locales, else en).",
)
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _lang(value: str | None) -> Lang:
    return value if value in ("fr", "en") else detect_language()  # type: ignore[return-value]


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


@click.group("plugins")
def plugins() -> None:
    """List, show and compare plugins (the catalog of fiches).

    Plugins are found in the project's plugins/ folder, then in installed
    Python packages (entry points `anl_stack.plugins`), then in the folders
    of ANL_STACK_PLUGINS_PATH. The first found under a name wins.
    """


@plugins.command("list")
@JSON_OPTION
@LANG_OPTION
def list_cmd(as_json: bool, lang: str | None) -> None:
    """Every plugin: versions, platforms, recipe status and where it comes from.

    A plugin that fails to load is listed with its error; the command still succeeds.
    """
    from anl_stack.plugins import discover_plugins

    found = discover_plugins()
    if as_json:
        echo_json({"plugins": [p.to_dict() for p in found]})
        return
    language = _lang(lang)
    if not found:
        click.echo(label("no_plugins", language))
        return
    headers = [label(k, language) for k in ("name", "recipe_version", "app_version", "platforms", "recipe_status", "source")]
    rows = []
    for p in found:
        m = p.manifest
        if m is None:
            rows.append([p.name, "-", "-", "-", label("broken", language), p.source])
            continue
        platforms = ", ".join(k for k, plat in m.platforms.items() if plat.supported) or "-"
        status = label("available" if p.recipe_available else "not_yet_available", language)
        rows.append([p.name, m.version, m.app.version, platforms, status, p.source])
    print_table(headers, rows)
    notes = []
    for p in found:
        if p.error:
            notes += [f"error: {p.name}: {r.format()}" for r in p.error.records]
        for s in p.shadowed:
            notes.append(f"shadowed: {p.name} from {s.source} ({s.origin}) is ignored; "
                         f"{p.source} ({p.origin}) comes first")
    if notes:
        click.echo("")
        for note in notes:
            click.echo(note)


@plugins.command("show")
@click.argument("name")
@LANG_OPTION
@JSON_OPTION
def show_cmd(name: str, lang: str | None, as_json: bool) -> None:
    """The fiche of plugin NAME for a decision-maker, each fact with its source."""
    from anl_stack import catalog
    from anl_stack.plugins import get_plugin

    plugin = get_plugin(name)
    if as_json:
        echo_json(catalog.fiche_data(plugin))
        return
    click.echo(catalog.render_fiche(plugin, _lang(lang)), nl=False)


@plugins.command("compare")
@click.argument("names", nargs=-1, required=True)
@LANG_OPTION
@JSON_OPTION
def compare_cmd(names: tuple[str, ...], lang: str | None, as_json: bool) -> None:
    """The facts of two or more plugins side by side (* = fact without a source)."""
    from anl_stack import catalog
    from anl_stack.plugins import discover_plugins, get_plugin

    if len(names) < 2:
        raise AnlError("compare needs at least two plugins", key="names", expected="NAME NAME...")
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
@JSON_OPTION
def check_cmd(path: Path, no_lint: bool, as_json: bool) -> None:
    """Check the plugin folder PATH: manifest, fiches, artifacts, settings, syntax, lint, verify tests.

    Exit 0 when clean, 1 when there are findings (each with file and line).
    """
    from anl_stack.errors import ExitCode
    from anl_stack.plugin_check import check_plugin

    report = check_plugin(path, lint=not no_lint)
    if as_json:
        echo_json(report.to_dict())
    else:
        for result in report.results:
            click.echo(f"{result.name}: {result.status}" + (f" ({result.skipped})" if result.skipped else ""))
            for finding in result.findings:
                click.echo(f"  {finding.format()}")
        click.echo("clean" if report.ok else "findings: " + str(sum(len(r.findings) for r in report.results)))
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
    from anl_stack.scaffold import create_plugin

    folder = create_plugin(name, parent)
    if as_json:
        echo_json({"name": name, "path": str(folder.resolve())})
        return
    click.echo(f"created {folder}")
    click.echo(f"next: anl-stack plugins check {folder}")
