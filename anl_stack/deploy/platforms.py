"""Which Debian releases and application versions a plugin's manifest lets a host run.

check_platforms refuses (exit 2) a run whose hosts' releases a plugin does not support, or whose
application version (the inventory's ``<plugin>_version``, else the release's or the recipe's)
is outside the release's range; the refusal names the file, the key and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.i18n import _, current_language
from anl_stack.core.yamlfile import read_yaml
from anl_stack.inventory.model import Inventory


def _platform(plugin: Any, release: str | None) -> Any:
    return dict(plugin.manifest.platforms.items()).get(f"debian-{release}") if release else None


def app_version(inv: Inventory, plugin: Any, host: str, release: str | None = None) -> str:
    """The application version a host runs or gets: its ``<plugin>_version`` setting, else its release's
    ``app_version`` (when ``release`` is known and the manifest gives one), else the recipe's."""
    platform = _platform(plugin, release)
    default = platform.default_version(plugin.manifest.app.version) if platform else plugin.manifest.app.version
    return str(inv.host_settings(host).get(f"{plugin.name}_version") or default)


def version_origin(inv: Inventory, plugin: Any, host: str) -> tuple[str, int | None, str]:
    """Where a refused app version is set, as (file, line, key): the inventory variable when it sets
    one, else the recipe's ``app.version`` (a release's own ``app_version`` is always in its range)."""
    key = f"{plugin.name}_version"
    if inv.host_settings(host).get(key):
        source = inv.host_setting_source(host, key)
        if source is not None:
            return str(source.doc.file), source.line(key), key
    manifest_file = Path(plugin.path) / "plugin.yml"
    try:
        line = read_yaml(manifest_file).line("app", "version")
    except AnlError:
        line = None
    return str(manifest_file), line, "app.version"


def _version_refusal(inv: Inventory, plugin: Any, host: str, release: str, requested: str,
                     spec: str) -> ErrorRecord:
    file, line, setting = version_origin(inv, plugin, host)
    key = f"debian-{release}"
    if setting == "app.version":
        expected = _("a version matching {spec} (platforms.{key}.app_versions of {plugin}), "
                     "platforms.{key}.app_version, or {plugin}_version in the inventory for its hosts")
    else:
        expected = _("a version matching {spec} (platforms.{key}.app_versions of {plugin})")
    return ErrorRecord(_("{app} {requested} cannot run on {key} (host {host})").format(
                           app=plugin.manifest.app.name, requested=requested, key=key, host=host),
                       file, line, setting, expected.format(spec=spec, key=key, plugin=plugin.name))


def check_platforms(inv: Inventory, plugins: list[Any], releases: dict[str, str]) -> None:
    """Refuse (exit 2) a plugin or app version the Debian release of a host of this run cannot run.

    Only the run's hosts count (``releases``): a version outside Debian 12's range does not stop a
    run on Debian 13 hosts. The manifest itself only needs one supported release to allow its default.
    """
    records: list[ErrorRecord] = []
    for plugin in plugins:
        manifest = plugin.manifest
        platforms = dict(manifest.platforms.items())
        for host in inv.groups.get(plugin.name, []):
            if host not in releases:
                continue
            release = releases[host]
            key = f"debian-{release}"
            platform = platforms.get(key)
            if platform is None or not platform.supported:
                # The manifest's notes for that release say why (e.g. its runtimes are too old).
                reason = f": {platform.notes.get(current_language())}" if platform and platform.notes else ""
                records.append(ErrorRecord(
                    _("plugin {name!r} does not support {platform} (host {host})").format(
                        name=plugin.name, platform=key, host=host) + reason,
                    str(plugin.path / "plugin.yml"), None, f"platforms.{key}",
                    _("a host on one of: {platforms}").format(
                        platforms=", ".join(k for k, p in platforms.items() if p.supported) or _("none"))))
                continue
            requested = app_version(inv, plugin, host, release)
            spec = platform.app_versions
            if not spec or spec == "unknown" or requested == "unknown" or "{{" in requested:
                continue
            try:
                allowed = Version(requested) in SpecifierSet(spec)
            except (InvalidVersion, InvalidSpecifier):
                continue
            if not allowed:
                records.append(_version_refusal(inv, plugin, host, release, requested, spec))
    if records:
        raise AnlError(records)
