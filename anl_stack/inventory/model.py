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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.files import write_file
from anl_stack.core.paths import config_dir
from anl_stack.core.yamlfile import YamlDoc, is_vault_file, read_yaml

TLS_MODES = ("selfsigned", "acme", "provided")

# Written at the top of a new commune's hosts.yml, so the operator sees the
# shape to fill in without opening the docs.
HOSTS_TEMPLATE_HELP = """\
# One group per plugin: a host in a plugin's group runs that plugin.
# `anl-stack plugins list` names the plugins. Any SSH user with sudo and any
# SSH port work. Example:
#
# all:
#   children:
#     streaming:
#       hosts:
#         diffusion1:
#           ansible_host: 192.0.2.10
#           ansible_user: debian
#           ansible_port: 22
#     nextcloud:
#       hosts:
#         cloud1:
#           ansible_host: 192.0.2.11
"""
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
    header = "" if hosts else HOSTS_TEMPLATE_HELP
    write_file(paths.hosts, header + yaml.safe_dump(hosts_doc, sort_keys=False), root=paths.root)
    settings: dict[str, Any] = {
        "anl_commune": commune,
        "anl_domain": domain,
        "anl_admin_email": email,
        "anl_tls_mode": tls_mode,
    }
    settings.update(extra_settings or {})
    write_file(paths.settings,
        "# Commune settings read by every anl-stack plugin. Per-plugin variables\n"
        "# are role variables prefixed with the plugin name (see each fiche).\n"
        + yaml.safe_dump(settings, sort_keys=False, allow_unicode=True), root=paths.root,
    )
    write_file(paths.private_settings, yaml.safe_dump({"vault_password_file": str(vault_password_file)},
                                                      sort_keys=False), root=paths.root)
    write_file(paths.private / ".gitignore", "runs/\n", root=paths.root)
    return paths


# --- reading ------------------------------------------------------------------

def _vars_files(folder: Path, name: str) -> list[Path]:
    """Ansible's vars files for one host or group: NAME.yml or NAME/*.yml (sorted)."""
    out: list[Path] = []
    for suffix in ("", ".yml", ".yaml", ".json"):
        candidate = folder / f"{name}{suffix}"
        if candidate.is_file():
            out.append(candidate)
    directory = folder / name
    if directory.is_dir():
        out += sorted(
            p for p in directory.rglob("*")
            if p.is_file() and not p.name.startswith(".") and p.suffix in ("", ".yml", ".yaml", ".json")
        )
    return out


@dataclass
class VarSource:
    """Variables from one place: a vars file or a ``vars:`` block of hosts.yml."""

    doc: YamlDoc
    path: tuple[Any, ...]        # where the mapping sits inside doc
    values: dict[str, Any]
    scope: str                   # "all", "group:NAME" or "host:NAME"

    def line(self, key: str) -> int | None:
        return self.doc.line(*self.path, key)


@dataclass
class Inventory:
    """A commune inventory as anl-stack sees it: hosts, plugin groups, variables."""

    paths: InventoryPaths
    hosts_doc: YamlDoc
    #: group name -> host names (direct and through child groups)
    groups: dict[str, list[str]] = field(default_factory=dict)
    #: host name -> its inline vars in hosts.yml (merged over its appearances)
    host_vars: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: every variable source, in Ansible's precedence order (lowest first)
    var_sources: list[VarSource] = field(default_factory=list)
    #: problems of shape found while loading (checked later by inventory check)
    problems: list[ErrorRecord] = field(default_factory=list)

    @property
    def hosts(self) -> list[str]:
        return list(self.host_vars)

    def groups_of(self, host: str) -> list[str]:
        return [g for g, members in self.groups.items() if host in members]

    def settings(self) -> dict[str, Any]:
        """Variables of the ``all`` scope (anl.yml and all.vars), merged."""
        merged: dict[str, Any] = {}
        for source in self.var_sources:
            if source.scope == "all":
                merged.update(source.values)
        return merged

    def host_settings(self, host: str) -> dict[str, Any]:
        """Variables one host sees (all < groups < host), without secrets."""
        groups = set(self.groups_of(host))
        merged: dict[str, Any] = {}
        for rank in ("all", "group", "host"):
            for source in self.var_sources:
                kind, _, name = source.scope.partition(":")
                if kind != rank:
                    continue
                if kind == "all" or (kind == "group" and name in groups) or (kind == "host" and name == host):
                    merged.update(source.values)
        return merged

    def commune(self) -> str:
        return str(self.settings().get("anl_commune") or self.paths.root.name)


def load_inventory(path: str | os.PathLike[str] | InventoryPaths) -> Inventory:
    """Read hosts.yml and the vars files Ansible would read (vault.yml excepted)."""
    paths = path if isinstance(path, InventoryPaths) else resolve_inventory_path(path)
    doc = read_yaml(paths.hosts)
    inv = Inventory(paths, doc)
    file = str(paths.hosts)
    data = doc.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        inv.problems.append(ErrorRecord("hosts.yml is not a mapping", file, 1, None, "a mapping with the group `all`"))
        data = {}
    elif "all" not in data and data:
        # Top-level groups other than `all` are legal Ansible, but ours start at `all`.
        for name in data:
            inv.problems.append(ErrorRecord("top-level group outside `all`", file, doc.line(name), str(name),
                                            "every group under all.children"))
    _walk_group(inv, "all", data.get("all") if isinstance(data, dict) else None, ("all",))

    # group_vars/ and host_vars/ next to hosts.yml (vault.yml read by Ansible only)
    for folder_name, kind in (("group_vars", "group"), ("host_vars", "host")):
        folder = paths.root / folder_name
        if not folder.is_dir():
            continue
        names = {p.name.split(".")[0] for p in folder.iterdir() if not p.name.startswith(".")}
        for name in sorted(names, key=lambda n: (n != "all", n)):
            for vars_file in _vars_files(folder, name):
                if is_vault_file(vars_file):
                    continue
                vars_doc = read_yaml(vars_file)
                if vars_doc.data is None:
                    continue
                if not isinstance(vars_doc.data, dict):
                    inv.problems.append(ErrorRecord("a vars file must be a mapping", str(vars_file), 1, None,
                                                    "key: value lines"))
                    continue
                scope = "all" if (kind == "group" and name == "all") else f"{kind}:{name}"
                inv.var_sources.append(VarSource(vars_doc, (), vars_doc.data, scope))
                if kind == "host" and name not in inv.host_vars:
                    inv.problems.append(ErrorRecord("host_vars for a host that is not in hosts.yml",
                                                    str(vars_file), 1, name, "a host listed in hosts.yml"))
                if kind == "group" and name != "all" and name not in inv.groups:
                    inv.problems.append(ErrorRecord("group_vars for a group that is not in hosts.yml",
                                                    str(vars_file), 1, name, "a group listed in hosts.yml"))
    # Ansible precedence: all < groups < hosts; hosts.yml vars and files mixed per scope.
    order = {"all": 0, "group": 1, "host": 2}
    inv.var_sources.sort(key=lambda s: order[s.scope.partition(":")[0]])
    return inv


def _walk_group(inv: Inventory, name: str, body: Any, where: tuple[Any, ...]) -> list[str]:
    """Record one group of hosts.yml (recursively); return all its hosts."""
    file = str(inv.paths.hosts)
    doc = inv.hosts_doc
    members: list[str] = []
    if body is None:
        inv.groups.setdefault(name, [])
        return members
    if not isinstance(body, dict):
        inv.problems.append(ErrorRecord("a group must be a mapping", file, doc.line(*where), _dotted(where),
                                        "hosts:, children: and vars: keys"))
        return members
    for key in body:
        if key not in ("hosts", "children", "vars"):
            inv.problems.append(ErrorRecord("unknown key in a group", file, doc.line(*where, key),
                                            _dotted(where + (key,)), "hosts, children or vars"))
    hosts = body.get("hosts") or {}
    if not isinstance(hosts, dict):
        inv.problems.append(ErrorRecord("hosts must be a mapping of host names", file,
                                        doc.line(*where, "hosts"), _dotted(where + ("hosts",)),
                                        "hosts: {NAME: {ansible_host: ...}}"))
        hosts = {}
    for host, host_body in hosts.items():
        host = str(host)
        if host_body is not None and not isinstance(host_body, dict):
            inv.problems.append(ErrorRecord("host variables must be a mapping", file,
                                            doc.line(*where, "hosts", host), _dotted(where + ("hosts", host)),
                                            "NAME: {ansible_host: ..., ansible_user: ...} or NAME: {}"))
            host_body = {}
        inv.host_vars.setdefault(host, {}).update(host_body or {})
        if host_body:
            inv.var_sources.append(VarSource(doc, where + ("hosts", host), host_body, f"host:{host}"))
        members.append(host)
    group_vars = body.get("vars")
    if group_vars is not None:
        if isinstance(group_vars, dict):
            scope = "all" if name == "all" else f"group:{name}"
            inv.var_sources.append(VarSource(doc, where + ("vars",), group_vars, scope))
        else:
            inv.problems.append(ErrorRecord("vars must be a mapping", file, doc.line(*where, "vars"),
                                            _dotted(where + ("vars",)), "key: value lines"))
    children = body.get("children") or {}
    if not isinstance(children, dict):
        inv.problems.append(ErrorRecord("children must be a mapping of groups", file,
                                        doc.line(*where, "children"), _dotted(where + ("children",)),
                                        "children: {PLUGIN: {hosts: {...}}}"))
        children = {}
    for child, child_body in children.items():
        members += _walk_group(inv, str(child), child_body, where + ("children", child))
    known = inv.groups.setdefault(name, [])
    known.extend(h for h in members if h not in known)
    return members


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path)


# --- editing ------------------------------------------------------------------

def add_host_to_group(paths: InventoryPaths, host: str, group: str) -> bool:
    """Put an existing host in a plugin's group in hosts.yml; True if hosts.yml changed.

    The host keeps its connection variables where they are (``all.hosts``);
    the group lists it with no variables of its own.
    """
    data = yaml.safe_load(paths.hosts.read_text(encoding="utf-8")) or {}
    body = data.setdefault("all", {}) or {}
    data["all"] = body
    children = body.setdefault("children", {}) or {}
    body["children"] = children
    group_body = children.get(group) or {}
    children[group] = group_body
    group_hosts = group_body.get("hosts") or {}
    group_body["hosts"] = group_hosts
    if host in group_hosts:
        return False
    if host not in (body.get("hosts") or {}) and not any(
        host in ((c or {}).get("hosts") or {}) for c in children.values() if isinstance(c, dict)
    ):
        raise AnlError("unknown host", file=str(paths.hosts), key=host, expected="a host listed in hosts.yml")
    group_hosts[host] = {}
    write_file(paths.hosts, yaml.safe_dump(data, sort_keys=False), root=paths.root)
    return True


# --- firewall -----------------------------------------------------------------

def firewall_ports(inv: Inventory, manifests: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per host, the ports of every plugin whose group holds it.

    ``manifests`` maps plugin names to manifests (``deployment.ports``).
    ``allow_from_setting`` is resolved from the variables the host sees;
    an empty ``allow_from`` means everyone. Deploying one plugin therefore
    never closes another plugin's ports on a shared host.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for host in inv.hosts:
        seen: dict[tuple[int, str], dict[str, Any]] = {}
        settings = inv.host_settings(host)
        for group in inv.groups_of(host):
            manifest = manifests.get(group)
            if manifest is None:
                continue
            for port in manifest.deployment.ports:
                allow: list[str] = []
                if port.allow_from_setting:
                    value = settings.get(port.allow_from_setting) or []
                    allow = [str(v) for v in (value if isinstance(value, list) else [value])]
                key = (port.port, port.protocol)
                if key not in seen:
                    seen[key] = {"port": port.port, "protocol": port.protocol, "allow_from": allow}
                else:
                    # Empty means everyone: one plugin open to all wins.
                    previous = seen[key]["allow_from"]
                    seen[key]["allow_from"] = (sorted(set(previous) | set(allow))
                                               if previous and allow else [])
        out[host] = sorted(seen.values(), key=lambda e: (e["port"], e["protocol"]))
    return out


# --- vault password -------------------------------------------------------------

VAULT_PASSWORD_ENV = "ANL_STACK_VAULT_PASSWORD_FILE"


def vault_password_file(paths: InventoryPaths, override: str | os.PathLike[str] | None = None) -> Path:
    """The vault password file (or script) for an inventory.

    Order: ``--vault-password-file``, ``ANL_STACK_VAULT_PASSWORD_FILE``, the
    pointer in ``.anl-stack/settings.yml``, the default under the config dir.
    """
    chosen: str | os.PathLike[str] | None = override or os.environ.get(VAULT_PASSWORD_ENV)
    origin = "--vault-password-file" if override else VAULT_PASSWORD_ENV
    if not chosen and paths.private_settings.is_file():
        doc = read_yaml(paths.private_settings)
        if isinstance(doc.data, dict) and doc.data.get("vault_password_file"):
            chosen = str(doc.data["vault_password_file"])
            origin = str(paths.private_settings)
    if not chosen:
        settings_file = paths.settings
        commune = paths.root.name
        if settings_file.is_file():
            data = read_yaml(settings_file).data
            if isinstance(data, dict) and data.get("anl_commune"):
                commune = str(data["anl_commune"])
        chosen = default_vault_password_file(commune)
        origin = "default"
    result = Path(chosen).expanduser()
    if not result.is_absolute():
        result = (paths.root / result).resolve() if origin == str(paths.private_settings) else result.resolve()
    if not result.is_file():
        raise AnlError("vault password file not found", file=str(result), key="vault_password_file",
                       expected=f"the file or script named by {origin}")
    if os.access(result, os.X_OK) and result.resolve().is_relative_to(paths.root.resolve()):
        # Ansible runs an executable password file: one inside a shared inventory is its code.
        raise AnlError("is an executable inside the inventory: Ansible would run it on this controller",
                       file=str(result), key="vault_password_file",
                       expected=f"a password file, or a password script outside {paths.root} (named by {origin})")
    return result
