"""Where a run goes: a commune's inventory, or a lab host booted on this machine.

A target bundles the inventory folder, the vault password file and the SSH
host key policy, so that deploy, lifecycle steps and verify reach hosts
the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anl_stack import lab
from anl_stack.core.errors import AnlError
from anl_stack.core.i18n import _
from anl_stack.core.operator import allows_no_host_key_checking, operator_file
from anl_stack.core.yamlfile import read_yaml
from anl_stack.inventory.model import (
    InventoryPaths,
    add_host_to_group,
    load_inventory,
    resolve_inventory_path,
    vault_password_file,
)
from anl_stack.lab import state as lab_state


@dataclass
class Target:
    """Where a run goes: an inventory, its vault password, and the lab host if any."""

    paths: InventoryPaths
    password_file: Path
    host_key_checking: bool = True
    lab: Any = None



def plugin_domain(plugin: Any, settings: dict[str, Any]) -> str | None:
    """The name a plugin's web UI answers to (``<plugin>_domain`` or subdomain.anl_domain)."""
    value = settings.get(f"{plugin.name}_domain")
    if isinstance(value, str) and "{{" not in value:
        return value
    domain = settings.get("anl_domain")
    return f"{plugin.manifest.deployment.subdomain}.{domain}" if domain else None


def inventory_target(inventory: str | os.PathLike[str], vault_password: str | None = None,
                     *, log: Callable[[str], None] | None = None) -> Target:
    paths = resolve_inventory_path(inventory)
    return Target(paths, vault_password_file(paths, vault_password), host_key_checking(paths, log=log))


def host_key_checking(paths: InventoryPaths, *, log: Callable[[str], None] | None = None) -> bool:
    """On unless the inventory turns it off *and* that inventory is a lab host's or the operator allows it.

    A shared inventory must not silently disable the check that stops a
    man in the middle; the setting is honoured only where the controller's
    operator said so (``allow_no_host_key_checking`` in controller.yml).
    """
    if not paths.private_settings.is_file():
        return True
    doc = read_yaml(paths.private_settings)
    data = doc.data if isinstance(doc.data, dict) else {}
    value = data.get("host_key_checking", True)
    if not isinstance(value, bool):
        raise AnlError(_("{value!r} is not true or false").format(value=value), file=str(paths.private_settings),
                       line=doc.line("host_key_checking"), key="host_key_checking", expected=_("true or false"))
    if value:
        return True
    where = f"{paths.private_settings}: host_key_checking: false"  # a file and a setting: not translated
    if paths.root.resolve().is_relative_to(lab_state.hosts_dir().resolve()) or \
            allows_no_host_key_checking(paths.root):
        if log:
            log(_("warning: {where}: SSH host keys are not checked for this inventory").format(where=where))
        return False
    if log:
        log(_("warning: {where} is ignored: host keys stay checked (the operator may allow it with "
              "allow_no_host_key_checking in {operator_file})").format(where=where, operator_file=operator_file()))
    return True


def lab_target(name: str, release: str, plugins: list[Any], *, log: Callable[[str], None] | None = None) -> Target:
    """Boot (or reuse) a lab host and put it in each plugin's group of its inventory.

    ``log`` receives the lab's progress lines (image build, boot).
    """
    host = lab.get(name)
    if host is None or str(host.release) != str(release):
        host = lab.up(name, release=release, log=log)
    paths = resolve_inventory_path(host.inventory)
    for plugin in plugins:
        add_host_to_group(paths, name, plugin.name)
    settings = load_inventory(paths).host_settings(name)
    names = [d for p in plugins if (d := plugin_domain(p, settings))]
    if names:
        lab.add_names(name, names)
    return Target(paths, Path(host.vault_password_file), host_key_checking=False, lab=host)

