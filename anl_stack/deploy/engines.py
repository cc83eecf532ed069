"""Which Ansible strategy runs a recipe: Ansible's own ``linear`` or Mitogen's.

Mitogen replaces Ansible's per-task SSH round trips (copy a module, run it,
read the result, clean up) by one long-lived Python process per host that
receives modules over the connection: the same tasks, the same results,
far less waiting (figures in docs/performance.md). Its strategy plugins
hook into Ansible internals, so each Mitogen release supports a known range
of ansible-core; a pair outside :data:`SUPPORTED` is refused before any run
rather than failing in the middle of a deploy.

The engine is chosen, first match wins, by ``anl-stack --engine`` (which
sets :data:`ENGINE_ENV` for the command and its child processes), by the
commune setting ``anl_engine`` (``group_vars/all/anl.yml``), else
:data:`DEFAULT`. Mitogen is not the default: with it the lab suite failed
where an inventory turns host key checks off in its SSH arguments while
Ansible's ``host_key_checking`` stays on (Mitogen then enforces the check
itself; docs/deploy.md, "The engine").
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from anl_stack.core.errors import AnlError
from anl_stack.core.i18n import _
from anl_stack.plugin_api import ENGINES

ANSIBLE, MITOGEN = ENGINES
DEFAULT = ANSIBLE
ENGINE_ENV = "ANL_STACK_ENGINE"
SETTING = "anl_engine"

#: Mitogen release -> the ansible-core series it supports (its changelog; pinned in pyproject.toml).
SUPPORTED: dict[str, tuple[str, ...]] = {"0.3.54": ("2.19", "2.20")}


@dataclass(frozen=True)
class Engine:
    name: str
    #: ``strategy`` for ansible.cfg (None: Ansible's default, linear)
    strategy: str | None = None
    #: folder of the strategy plugins, for ``strategy_plugins``
    strategy_plugins: Path | None = None


def chosen(settings: dict[str, object], settings_file: Path | None = None) -> str:
    """The engine name from the command line, else the commune's settings, else the default."""
    from_cli = os.environ.get(ENGINE_ENV)
    if from_cli:
        if from_cli not in ENGINES:
            raise AnlError(_("{from_cli!r} is not an engine").format(from_cli=from_cli), key=f"--engine ({ENGINE_ENV})",
                           expected=_("one of: {engines}").format(engines=", ".join(ENGINES)))
        return from_cli
    value = settings.get(SETTING, DEFAULT)
    if value not in ENGINES:
        raise AnlError(_("{value!r} is not an engine").format(value=value), file=str(settings_file) if settings_file else None,
                       key=SETTING, expected=_("one of: {engines}").format(engines=", ".join(ENGINES)))
    return str(value)


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def check_pair(mitogen_version: str | None, core_version: str | None) -> None:
    """Refuse a Mitogen and ansible-core pair that is not known to work together."""
    expected = "; ".join(_("mitogen {mitogen} with ansible-core {core}").format(mitogen=m, core=", ".join(c))
                         for m, c in SUPPORTED.items())
    if mitogen_version is None:
        raise AnlError(_("the mitogen engine is chosen but Mitogen is not installed"), key=SETTING,
                       expected=_("{expected} (`bash scripts/bootstrap.sh` installs it), or --engine ansible")
                                .format(expected=expected))
    series = ".".join((core_version or "").split(".")[:2])
    if series not in SUPPORTED.get(mitogen_version, ()):
        raise AnlError(_("mitogen {mitogen_version} is not known to work with ansible-core {core_version}")
                       .format(mitogen_version=mitogen_version, core_version=core_version),
                       key=SETTING, expected=_("{expected}, or --engine ansible").format(expected=expected))


def resolve(name: str) -> Engine:
    """The engine's ansible.cfg settings; the Mitogen pair is checked here, before any run."""
    if name == ANSIBLE:
        return Engine(ANSIBLE)
    check_pair(_version("mitogen"), _version("ansible-core"))
    spec = importlib.util.find_spec("ansible_mitogen")  # found, not imported: it hooks Ansible's loaders
    if spec is None or spec.origin is None:
        raise AnlError(_("the mitogen engine is chosen but ansible_mitogen cannot be found"), key=SETTING,
                       expected=_("a complete Mitogen installation (`bash scripts/bootstrap.sh`), or --engine "
                                  "ansible"))
    plugins = Path(spec.origin).parent / "plugins" / "strategy"
    return Engine(MITOGEN, strategy="mitogen_linear", strategy_plugins=plugins)
