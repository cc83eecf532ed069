"""Find plugins: in-tree, then entry points, then ANL_STACK_PLUGINS_PATH.

A plugin is a folder holding ``plugin.yml``. The first plugin found under a
name wins; later ones with the same name are kept in the winner's
``shadowed`` list so the CLI can report them. A plugin whose manifest does
not load is still listed, with its error: one broken plugin never breaks
the CLI. Discovery reads files and package metadata only; it imports
neither Ansible nor the plugins' Python code (only the parents of a dotted
entry-point package, to locate it).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.i18n import _
from anl_stack.core.links import require_contained
from anl_stack.core.paths import project_root
from anl_stack.plugin_api import DEPLOY, MANIFEST_FILE, provided_steps

if TYPE_CHECKING:
    from anl_stack.plugins.manifest import Manifest

Source = Literal["in-tree", "entry point", "path"]
ENTRY_POINT_GROUP = "anl_stack.plugins"
PATH_ENV = "ANL_STACK_PLUGINS_PATH"


@dataclass
class Plugin:
    """A discovered plugin, loaded or broken."""

    name: str
    path: Path
    source: Source
    #: Where it came from, for humans: the folder, or "dist-name: ep = value".
    origin: str
    manifest: Manifest | None = None
    error: AnlError | None = None
    #: Later plugins with the same name, ignored because this one came first.
    shadowed: list[Plugin] = field(default_factory=list)

    @property
    def loaded(self) -> bool:
        return self.manifest is not None

    @property
    def recipe_available(self) -> bool:
        """A recipe exists when the plugin ships its deploy playbook."""
        return (self.path / DEPLOY.playbook).is_file()

    @property
    def steps(self) -> dict[str, Path]:
        """Lifecycle steps this plugin provides (deploy, backup, ...)."""
        return provided_steps(self.path)

    def to_dict(self) -> dict[str, object]:
        """Summary for ``plugins list --json``."""
        m = self.manifest
        return {
            "name": self.name,
            "source": self.source,
            "origin": self.origin,
            "path": str(self.path),
            "loaded": self.loaded,
            "error": [r.to_dict() for r in self.error.records] if self.error else None,
            "recipe_version": m.version if m else None,
            "app_version": m.app.version if m else None,
            "platforms": {k: p.supported for k, p in m.platforms.items()} if m else {},
            "recipe_available": self.recipe_available,
            "recipe_status": "available" if self.recipe_available else "not yet available",
            "shadowed": [{"source": s.source, "origin": s.origin, "path": str(s.path)} for s in self.shadowed],
        }


def in_tree_dir() -> Path:
    return project_root() / "plugins"


def _load(name: str, folder: Path, source: Source, origin: str, *, strict_name: bool) -> Plugin:
    # Lazily: the manifest model imports pydantic, which a warm `plugins list` never needs.
    from anl_stack.plugins.manifest import load_manifest

    plugin = Plugin(name=name, path=folder, source=source, origin=origin)
    try:
        # Before reading anything: plugin.yml itself may be a link to a file of this controller.
        require_contained(folder)
        plugin.manifest = load_manifest(folder / MANIFEST_FILE, folder_name=name if strict_name else None)
        plugin.name = plugin.manifest.name
    except AnlError as error:
        plugin.error = error
    except Exception as error:  # noqa: BLE001 - a broken plugin must never break the CLI
        plugin.error = AnlError(_("cannot load plugin: {error!r}").format(error=error), file=str(folder / MANIFEST_FILE))
    return plugin


def load_folder(folder: Path, name: str) -> Plugin:
    """The plugin in ``folder`` under its own name (a kept recipe an upgrade rolls back to)."""
    return _load(name, folder, "path", str(folder), strict_name=False)


def _is_candidate(folder: Path) -> bool:
    return folder.is_dir() and not folder.name.startswith((".", "_"))


def _from_in_tree(root: Path) -> list[Plugin]:
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if _is_candidate(p)):
        # In-tree, every folder is meant to be a plugin: the name is the folder.
        found.append(_load(folder.name, folder, "in-tree", str(folder), strict_name=True))
    return found


def plugin_entry_points() -> list[object]:
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (ep.name, ep.value))


def _from_entry_points() -> list[Plugin]:
    found = []
    for ep in plugin_entry_points():
        dist = getattr(getattr(ep, "dist", None), "name", None) or "?"
        origin = f"{dist}: {ep.name} = {ep.value}"
        folder, problem = package_folder(ep.value)
        if problem:
            found.append(Plugin(name=ep.name, path=folder or Path(ep.value), source="entry point", origin=origin,
                                error=AnlError(problem, key=f"entry point {ep.name}",
                                               expected=_("an importable package whose folder holds plugin.yml"))))
            continue
        plugin = _load(ep.name, folder, "entry point", origin, strict_name=False)
        if plugin.manifest is not None and plugin.manifest.name != ep.name:
            plugin.error = AnlError(
                _("entry point name {ep!r} differs from the manifest name {manifest!r}")
                .format(ep=ep.name, manifest=plugin.manifest.name),
                file=str(folder / MANIFEST_FILE), key="name", expected=f"name: {ep.name}")
            plugin.name, plugin.manifest = ep.name, None
        found.append(plugin)
    return found


def package_folder(value: str) -> tuple[Path | None, str | None]:
    """The folder of the package an entry point names, without importing it."""
    if ":" in value:
        return None, _("entry point value {value!r} names an attribute, not a package").format(value=value)
    try:
        spec = importlib.util.find_spec(value.strip())
    except (ImportError, ValueError) as error:
        return None, _("cannot locate package {value!r}: {error}").format(value=value, error=error)
    if spec is None:
        return None, _("package {value!r} is not installed").format(value=value)
    if not spec.submodule_search_locations:
        return None, _("{value!r} is a module, not a package").format(value=value)
    folder = Path(next(iter(spec.submodule_search_locations)))
    if not (folder / MANIFEST_FILE).is_file():
        return folder, (_("package {value!r} has no {manifest_file} in {folder}")
                        .format(value=value, manifest_file=MANIFEST_FILE, folder=folder))
    return folder, None


def _from_path_env(value: str | None) -> list[Plugin]:
    found: list[Plugin] = []
    for entry in (value or "").split(os.pathsep):
        if not entry.strip():
            continue
        folder = Path(entry).expanduser()
        if (folder / MANIFEST_FILE).is_file():
            found.append(_load(folder.name, folder, "path", str(folder), strict_name=False))
        elif folder.is_dir():
            for child in sorted(p for p in folder.iterdir() if _is_candidate(p)):
                if (child / MANIFEST_FILE).is_file():
                    found.append(_load(child.name, child, "path", str(child), strict_name=False))
        else:
            found.append(Plugin(name=folder.name or entry, path=folder, source="path", origin=str(folder),
                                error=AnlError(_("{path_env} names a folder that does not exist")
                                               .format(path_env=PATH_ENV),
                                               file=str(folder), key=PATH_ENV,
                                               expected=_("a plugin folder or a folder of plugin folders"))))
    return found


def discover_plugins(*, in_tree: Path | None = None, plugins_path: str | None = None,
                     entry_points: bool = True) -> list[Plugin]:
    """Every plugin, first-found wins per name, in discovery order.

    ``in_tree`` defaults to the project's ``plugins/`` folder and
    ``plugins_path`` to the ``ANL_STACK_PLUGINS_PATH`` environment variable.
    """
    candidates = _from_in_tree(in_tree if in_tree is not None else in_tree_dir())
    if entry_points:
        candidates += _from_entry_points()
    candidates += _from_path_env(plugins_path if plugins_path is not None else os.environ.get(PATH_ENV))
    winners: dict[str, Plugin] = {}
    for plugin in candidates:
        if plugin.name in winners:
            winners[plugin.name].shadowed.append(plugin)
        else:
            winners[plugin.name] = plugin
    return list(winners.values())


def get_plugin(name: str, plugins: list[Plugin] | None = None) -> Plugin:
    """The plugin called ``name``; exit 2 with "did you mean ...?" otherwise."""
    plugins = discover_plugins() if plugins is None else plugins
    for plugin in plugins:
        if plugin.name == name:
            return plugin
    names = [p.name for p in plugins]
    import difflib  # lazily: only an unknown name needs it, and `plugins list` starts without it

    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = _("did you mean {close}?").format(close=' or '.join(close)) if close else _("see `anl-stack plugins list`")
    raise AnlError(_("unknown plugin {name!r}; {hint}").format(name=name, hint=hint), key="plugin",
                   expected=_("one of: {names}").format(names=", ".join(sorted(names)) or _("(no plugin found)")))


def require_loaded(plugin: Plugin) -> Manifest:
    """The plugin's manifest, or its load error (exit 2)."""
    if plugin.manifest is None:
        records = plugin.error.records if plugin.error else [ErrorRecord(_("plugin did not load"))]
        raise AnlError(records)
    return plugin.manifest


def require_recipe(plugin: Plugin, plugins: list[Plugin] | None = None) -> Manifest:
    """Refuse (exit 2) a plugin that has no deploy playbook yet, saying what exists instead."""
    manifest = require_loaded(plugin)
    if not plugin.recipe_available:
        others = discover_plugins() if plugins is None else plugins
        ready = sorted(p.name for p in others if p.recipe_available and p.name != plugin.name)
        progress = manifest.deployment.progress
        follow = _("; follow its progress: {progress}").format(progress=progress) if progress else ""
        raise AnlError(
            _("not yet available for plugin {plugin!r}, which has only its fiche (`anl-stack plugins show "
              "{plugin}`){follow}").format(plugin=plugin.name, follow=follow),
            file=str(plugin.path / DEPLOY.playbook), key="recipe",
            expected=_("a plugin that ships playbook.yml; plugins with a recipe: {ready}")
                     .format(ready=", ".join(ready) or _("none")))
    return manifest
