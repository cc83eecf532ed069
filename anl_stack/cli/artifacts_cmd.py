"""``anl-stack artifacts``: fetch, add, bundle, import, verify and list application releases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from anl_stack.cli.i18n_click import Group
from anl_stack.cli.output import echo_json
from anl_stack.core.errors import ExitCode
from anl_stack.core.i18n import _, shown

# Feature packages are imported inside each command (start-up speed): `--help` and
# `plugins list` import neither Ansible, testinfra nor pydantic (tests/unit/test_startup.py).

inventory_option = click.option(
    "-i", "--inventory", "inventory", type=click.Path(path_type=Path),
    help="Commune inventory whose settings apply (anl_artifact_pins, anl_artifact_versions).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _settings(inventory: Path | None) -> dict[str, Any]:
    if inventory is None:
        return {}
    from anl_stack.inventory.model import load_inventory

    return load_inventory(inventory).settings()


def _short(entry: dict[str, Any]) -> str:
    return f"{entry['filename']}  sha256:{entry['sha256']}"


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
def artifacts() -> None:
    """Application releases Debian does not package, verified and cached.

    \b
    Trust comes from a checksum or an OpenPGP key fingerprint pinned in the
    plugin's manifest, or a checksum the commune pins in
    group_vars/all/anl.yml:  anl_artifact_pins: {NAME: "sha256:HEX"}.
    Files that fail a check are never cached. See docs/artifacts.md.
    """


@artifacts.command()
@click.argument("plugin")
@click.option("--version", "version", help="Artifact version to fetch (default: the one a deploy uses).")
@inventory_option
@json_option
def fetch(plugin: str, version: str | None, inventory: Path | None, as_json: bool) -> None:
    """Download PLUGIN's artifacts, check them and keep them in the cache.

    A file already cached is not downloaded again; an interrupted download
    resumes where it stopped.
    """
    from anl_stack.artifacts import fetch as do_fetch
    from anl_stack.artifacts import select
    from anl_stack.artifacts.trust import check_note
    from anl_stack.cli.progress import DownloadBars

    settings = _settings(inventory)
    with DownloadBars() as bars:
        results = [do_fetch(ref, settings, progress=bars) for ref in select(plugin, settings, version)]
    if as_json:
        echo_json([r.to_dict() for r in results])
        return
    if not results:
        click.echo(_("plugin {plugin} needs no artifact").format(plugin=plugin))
    for r in results:
        state = _("cache hit") if r.cached else _("fetched and verified")
        click.echo(f"{r.ref.name} {r.ref.version}: {state}: {_short(r.entry)}")
        for check in r.entry.get("checks", []):
            click.echo(f"  ok: {check_note(check)}")


@artifacts.command()
@click.argument("plugin")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--signature", type=click.Path(path_type=Path), help="Detached OpenPGP signature of FILE.")
@click.option("--name", "name", help="Artifact name, when the plugin has several.")
@click.option("--version", "version", help="Artifact version (default: guessed from FILE's name, else the deploy's).")
@inventory_option
@json_option
def add(plugin: str, file: Path, signature: Path | None, name: str | None, version: str | None,
        inventory: Path | None, as_json: bool) -> None:
    """Put a release obtained elsewhere (USB key, colleague) into the cache, if it passes the checks."""
    from anl_stack.artifacts import add as do_add
    from anl_stack.artifacts import find_ref
    from anl_stack.artifacts.service import plugin_refs
    from anl_stack.artifacts.sources import expected_filename
    from anl_stack.artifacts.trust import check_note

    settings = _settings(inventory)
    by_filename = [r for r in plugin_refs(plugin)
                   if expected_filename(r) == file.name and (name is None or r.name == name)
                   and (version is None or r.version == version)]
    ref = by_filename[0] if len(by_filename) == 1 else find_ref(plugin, name, version, settings)
    result = do_add(ref, file, settings, signature=signature)
    if as_json:
        echo_json(result.to_dict())
        return
    click.echo(f"{ref.name} {ref.version}: " + _("added to the cache: {file}").format(file=_short(result.entry)))
    for check in result.entry.get("checks", []):
        click.echo(f"  ok: {check_note(check)}")


@artifacts.command()
@click.option("-i", "--inventory", "inventory", type=click.Path(path_type=Path), required=True,
              help="Commune inventory: every artifact its plugins need goes into the bundle.")
@click.option("-o", "--output", "output", type=click.Path(path_type=Path), required=True, help="Bundle file to write.")
@json_option
def bundle(inventory: Path, output: Path, as_json: bool) -> None:
    """Write every verified artifact an inventory needs into one file, for a controller without internet."""
    from anl_stack.artifacts.bundle import make_bundle
    from anl_stack.cli.progress import DownloadBars

    with DownloadBars() as bars:
        document = make_bundle(inventory, output, progress=bars)
    if as_json:
        echo_json(dict(document, output=str(output)))
        return
    for item in document["artifacts"]:
        click.echo(f"{item['plugin']}: {item['name']} {item['version']}: {item['filename']}  sha256:{item['sha256']}")
    click.echo(_("bundle written: {output} ({count} artifacts)").format(output=output, count=len(document["artifacts"])))


@artifacts.command()
@click.argument("plugins", nargs=-1, required=True)
@click.option("-o", "--output", "output", type=click.Path(path_type=Path), required=True,
              help="Folder to write (new or empty): the files and artifacts.yml.")
@inventory_option
@json_option
def export(plugins: tuple[str, ...], output: Path, inventory: Path | None, as_json: bool) -> None:
    """Copy the verified artifacts of PLUGINS into a folder, for the collection's playbooks (AWX).

    \b
    Set anl_artifacts_dir to that folder where the playbook runs; each file is
    hashed there again before it is pushed (docs/awx.md).
    """
    from anl_stack.artifacts.export import export as do_export

    index = do_export(list(plugins), output, _settings(inventory))
    if as_json:
        echo_json(dict(index, output=str(output)))
        return
    for name, item in index["artifacts"].items():
        click.echo(f"{item['plugin']}: {name} {item['version']}: {item['filename']}  sha256:{item['sha256']}")
    click.echo(_("artifacts exported: {output} ({count} artifacts); set anl_artifacts_dir to it").format(
        output=output, count=len(index["artifacts"])))


@artifacts.command(name="import")
@click.argument("file", type=click.Path(path_type=Path))
@inventory_option
@json_option
def import_(file: Path, inventory: Path | None, as_json: bool) -> None:
    """Check a bundle against the plugins installed here and load it into the cache (all or nothing)."""
    from anl_stack.artifacts.bundle import import_bundle

    entries = import_bundle(file, _settings(inventory))
    if as_json:
        echo_json(entries)
        return
    for entry in entries:
        click.echo(f"{entry['plugin']}: {entry['name']} {entry['version']}: "
                   + _("imported: {file}").format(file=_short(entry)))


@artifacts.command()
@click.argument("plugin", required=False)
@inventory_option
@json_option
def verify(plugin: str | None, inventory: Path | None, as_json: bool) -> None:
    """Re-check the cached files (hashes, pins, signatures). Exit 1 if one fails."""
    from anl_stack.artifacts import verify_cache

    findings = verify_cache(plugin, _settings(inventory))
    if as_json:
        echo_json([f.to_dict() for f in findings])
    else:
        if not findings:
            click.echo(_("the artifact cache holds nothing for plugin {plugin}").format(plugin=plugin) if plugin
                       else _("the artifact cache holds nothing"))
        for f in findings:
            mark = _("ok  ") if f.ok else _("FAIL")
            click.echo(f"{mark} {f.key}: {shown(f.message)}")
    if any(not f.ok for f in findings):
        raise SystemExit(int(ExitCode.FAILED))


@artifacts.command(name="list")
@json_option
def list_(as_json: bool) -> None:
    """Show what the artifact cache holds."""
    from anl_stack.artifacts import Cache

    cache = Cache()
    entries = cache.entries()
    if as_json:
        echo_json({"cache": str(cache.root), "artifacts": list(entries.values())})
        return
    if not entries:
        click.echo(_("the artifact cache is empty ({root})").format(root=cache.root))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(_("plugin"), _("artifact"), _("version"), _("file"), _("size"), "sha256", _("trust"))
    for e in entries.values():
        trust = _("signature") if e.get("fingerprint") else _("checksum")
        table.add_row(e["plugin"], e["name"], e["version"], e["filename"], _size(int(e.get("size", 0))),
                      e["sha256"][:16] + "…", trust)
    Console().print(table)
    click.echo(_("cache: {root}").format(root=cache.root))


def _size(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)

