"""Lifecycle steps other than deploy (backup, restore, upgrade, remove).

Each runs the plugin's own playbook for that step, found by the file name
the plugin contract declares (:data:`anl_stack.plugin_api.LIFECYCLE`),
through the same preparation and engine as a deploy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from anl_stack import lab
from anl_stack.core.errors import AnlError
from anl_stack.core.i18n import _
from anl_stack.deploy.engine import Options, Result, execute
from anl_stack.deploy.events import DisplayFactory, quiet_display
from anl_stack.deploy.prepare import Prepared, prepare, resolve_plugins
from anl_stack.plugin_api import DEPLOY, LIFECYCLE, provided_steps, step_named
from anl_stack.plugins import discover_plugins


def require_step(plugin: Any, step: str) -> Path:
    """The plugin's playbook for ``step``; exit 2 naming the plugins that have one otherwise."""
    playbook = step_named(step).playbook
    file = Path(plugin.path) / playbook
    if file.is_file():
        return file
    having = sorted(p.name for p in discover_plugins() if step in provided_steps(Path(p.path)))
    raise AnlError(_("plugin {plugin!r} has no {step} step ({playbook} is missing)")
                   .format(plugin=plugin.name, step=step, playbook=playbook), file=str(file.parent),
                   key=step, expected=_("a plugin that provides {playbook}{plugins}")
                                      .format(playbook=playbook,
                                              plugins=": " + ", ".join(having) if having else ""))


def run_lifecycle_step(plugin_name: str, step: str, *, inventory: str | None = None, lab_name: str | None = None,
                       vault_password: str | None = None, limit: str | None = None,
                       extra_vars: dict[str, Any] | None = None,
                       display: DisplayFactory = quiet_display,
                       on_event: Callable[[dict[str, Any]], None] | None = None,
                       recipe_dirs: dict[str, Path] | None = None,
                       validate: Callable[[Prepared], None] | None = None,
                       tags: str | None = None, kind: str | None = None) -> tuple[Prepared, Result]:
    """Run one plugin's lifecycle playbook (``backup.yml``...) on its hosts, like a deploy.

    Refused (exit 2) before any host is touched when the plugin has no such
    step, when ``--lab NAME`` names no existing lab host (a lifecycle step
    never boots a fresh host), or when ``validate`` refuses the prepared run.
    ``tags`` limits the run to those tasks; ``kind`` names its run folder (default: the step).
    """
    if step_named(step) is DEPLOY:
        raise AnlError(_("deploy is not a lifecycle step of its own here"), key="step",
                       expected=", ".join(s.name for s in LIFECYCLE if s is not DEPLOY))
    (plugin,) = resolve_plugins([plugin_name], recipe_dirs)
    require_step(plugin, step)
    debian = "13"
    if lab_name is not None:
        host = lab.get(lab_name)
        if host is None:
            raise AnlError(_("no lab host named {lab_name!r}").format(lab_name=lab_name), key="--lab",
                           expected=_("an existing lab host (deploy first: anl-stack deploy {plugin} --lab "
                                      "{lab_name})").format(plugin=plugin.name, lab_name=lab_name))
        debian = str(host.release)
    prep = prepare([plugin_name], inventory=inventory, lab_name=lab_name, debian=debian,
                   vault_password=vault_password, limit=limit, step=step, extra_vars=extra_vars,
                   recipe_dirs=recipe_dirs, tags=tags)
    if validate is not None:
        validate(prep)
    options = Options(limit=limit, tags=tags, kind=kind or step, display=display, on_event=on_event)
    return prep, execute(prep, options)

