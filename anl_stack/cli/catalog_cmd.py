"""``anl-stack catalog``: the static site a collective of communes publishes (anl_stack.catalog.site)."""

from __future__ import annotations

from pathlib import Path

import click

from anl_stack.cli.i18n_click import Group
from anl_stack.cli.output import echo_json
from anl_stack.core.i18n import LANGS, _


@click.group("catalog", cls=Group)
def catalog() -> None:
    """The catalog site a collective of communes publishes: fiches, comparison, costs, users, quality."""


@catalog.command("build")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), metavar="DIR",
              help="Folder to write the site into: new, empty, or a catalog built before (it is replaced whole).")
@click.option("--lang", "root_lang", type=click.Choice(list(LANGS)), default="fr", show_default=True,
              help="Language of the pages at the site's root; the other language goes in its own folder (en/ or fr/).")
@click.option("--collective", "collectives", multiple=True, type=click.Path(path_type=Path), metavar="FOLDER",
              help="A collective folder: its members' verified files say who runs each tool, with their reviews "
                   "and experience notes. Repeat it to merge several collectives.")
@click.option("--json", "as_json", is_flag=True, help="Print a summary in JSON for scripts.")
def build_cmd(out: Path, root_lang: str, collectives: tuple[Path, ...], as_json: bool) -> None:
    """Write the catalog as a static site in French and English, with catalog.json and publiccode.yml files.

    The site needs no server and loads nothing from another host: publish the
    folder as it is, or open its index.html from disk. Exit 2 when DIR cannot
    be used; the folder is then left as it was.
    """
    from anl_stack.catalog.site.build import build_site

    summary = build_site(out, root_lang, collectives=collectives)  # type: ignore[arg-type]
    if as_json:
        echo_json(summary)
        return
    click.echo(_("catalog written to {out}: {pages} pages, {plugins} plugins").format(
        out=summary["out"], pages=len(summary["pages"]), plugins=len(summary["plugins"])))
    for skipped in summary["skipped"]:
        click.echo(_("left out {name}: {error}").format(name=skipped["name"], error=skipped["error"]))
    for collective in summary["collectives"]:
        click.echo(_("collective {name}: {trusted} commune files trusted, {ignored} ignored").format(
            name=collective["name"], trusted=collective["trusted"], ignored=len(collective["ignored"])))
        for ignored in collective["ignored"]:
            click.echo(_("  ignored {file}: {why}").format(file=ignored["file"], why=ignored["why"]))
    click.echo(_("open {index}").format(index=Path(summary["out"]) / "index.html"))
