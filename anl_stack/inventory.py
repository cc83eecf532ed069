"""Commune inventories: a standard Ansible inventory plus anl-stack's own corner.

Layout (``ansible-playbook -i inventories/COMMUNE`` reads it as is)::

    inventories/COMMUNE/
      hosts.yml                  groups named after plugins
      group_vars/all/anl.yml     commune settings and per-plugin variables
      group_vars/all/vault.yml   generated secrets (ansible-vault)
      .anl-stack/settings.yml    where the vault password lives (a path or
                                 command, never the password itself)
      .anl-stack/runs/           one folder per run (log, events, summary)

Ansible skips entries whose name starts with a dot when it reads an
inventory folder, so ``.anl-stack/`` is never taken as an inventory source.
"""

from __future__ import annotations

import os
import secrets as pysecrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from anl_stack.errors import AnlError
from anl_stack.paths import config_dir

TLS_MODES = ("selfsigned", "acme", "provided")
PRIVATE_DIR = ".anl-stack"


@dataclass(frozen=True)
class InventoryPaths:
    """The files of one commune inventory."""

    root: Path

    @property
    def hosts(self) -> Path:
        return self.root / "hosts.yml"

    @property
    def settings(self) -> Path:
        return self.root / "group_vars" / "all" / "anl.yml"

    @property
    def vault(self) -> Path:
        return self.root / "group_vars" / "all" / "vault.yml"

    @property
    def private(self) -> Path:
        return self.root / PRIVATE_DIR

    @property
    def private_settings(self) -> Path:
        return self.private / "settings.yml"

    @property
    def runs(self) -> Path:
        return self.private / "runs"


def resolve_inventory_path(path: str | os.PathLike[str]) -> InventoryPaths:
    """Accept the commune folder or its hosts.yml; return absolute paths."""
    p = Path(path).expanduser().resolve()
    if p.is_file() and p.name in ("hosts.yml", "hosts.yaml"):
        p = p.parent
    if not p.is_dir():
        raise AnlError(
            "inventory not found",
            file=str(p),
            expected="a commune inventory folder (from `anl-stack init`) or its hosts.yml",
        )
    if not (p / "hosts.yml").is_file():
        raise AnlError("no hosts.yml in this folder", file=str(p), expected="hosts.yml")
    return InventoryPaths(p)


def default_vault_password_file(commune: str) -> Path:
    return config_dir() / "vault-passwords" / f"{commune}.txt"


def write_password_file(path: Path) -> None:
    """Create a 0600 file holding a fresh random vault password, once."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(pysecrets.token_urlsafe(48) + "\n")


def create_inventory(
    root: Path,
    *,
    commune: str,
    domain: str,
    email: str,
    tls_mode: str = "selfsigned",
    hosts: dict[str, Any] | None = None,
    vault_password_file: Path | None = None,
    extra_settings: dict[str, Any] | None = None,
) -> InventoryPaths:
    """Write a new commune inventory; refuse to overwrite an existing one.

    ``hosts`` is the body of hosts.yml's ``all`` group (``hosts`` and
    ``children``, the latter holding groups named after plugins). Without ``vault_password_file`` a fresh password is generated
    under the user's config dir, outside the inventory.
    """
    paths = InventoryPaths(root.resolve())
    if paths.root.exists() and any(paths.root.iterdir()):
        raise AnlError("refusing to overwrite an existing inventory", file=str(paths.root),
                       expected="a new or empty folder")
    if vault_password_file is None:
        vault_password_file = default_vault_password_file(commune)
        if not vault_password_file.exists():
            write_password_file(vault_password_file)
    paths.settings.parent.mkdir(parents=True, exist_ok=True)
    paths.private.mkdir(parents=True, exist_ok=True)
    hosts_doc = {"all": hosts or {"children": {}}}
    paths.hosts.write_text(yaml.safe_dump(hosts_doc, sort_keys=False))
    settings: dict[str, Any] = {
        "anl_commune": commune,
        "anl_domain": domain,
        "anl_admin_email": email,
        "anl_tls_mode": tls_mode,
    }
    settings.update(extra_settings or {})
    paths.settings.write_text(
        "# Commune settings read by every anl-stack plugin. Per-plugin variables\n"
        "# are role variables prefixed with the plugin name (see each fiche).\n"
        + yaml.safe_dump(settings, sort_keys=False, allow_unicode=True)
    )
    paths.private_settings.write_text(
        yaml.safe_dump({"vault_password_file": str(vault_password_file)}, sort_keys=False)
    )
    (paths.private / ".gitignore").write_text("runs/\n")
    return paths
