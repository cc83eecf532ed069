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

import contextlib
import os
import re
import secrets as pysecrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.files import check_writable, ensure_folder, new_file, write_file
from anl_stack.core.i18n import N_, _
from anl_stack.core.links import require_contained
from anl_stack.core.paths import config_dir
from anl_stack.core.yamlfile import YamlDoc, duplicate_keys, is_vault_file, read_yaml, refuse_duplicate_keys

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
            _("inventory not found"),
            file=str(p),
            expected=_("a commune inventory folder (from `anl-stack init`) or its hosts.yml"),
        )
    if not (p / "hosts.yml").is_file():
        raise AnlError(_("no hosts.yml in this folder"), file=str(p), expected="hosts.yml")
    return InventoryPaths(p)


#: A commune name: lower-case letters, digits, '-' and '_', at most 63 characters. It names a file
#: under the config folder (the default vault password), so it can hold neither '/' nor '..'.
COMMUNE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
COMMUNE_EXPECTED = N_("lower-case letters, digits, '-' or '_' (at most 63, starting with a letter or digit)")  # translated where shown


def valid_commune(name: Any) -> bool:
    return isinstance(name, str) and COMMUNE_PATTERN.fullmatch(name) is not None


def default_vault_password_file(commune: str) -> Path:
    """The commune's vault password under the config folder; a name that could leave it is refused."""
    if not valid_commune(commune):
        raise AnlError(_("{commune!r} is not a commune name").format(commune=str(commune)[:80]), key="anl_commune", expected=_(COMMUNE_EXPECTED))
    return config_dir() / "vault-passwords" / f"{commune}.txt"


def write_password_file(path: Path) -> None:
    """Create a 0600 file holding a fresh random vault password, once (in a 0700 folder, no link followed)."""
    ensure_folder(path.parent, mode=0o700)
    with new_file(path, mode=0o600) as handle:
        handle.write(pysecrets.token_urlsafe(48) + "\n")


def _first_missing(folder: Path) -> Path | None:
    """The outermost folder of ``folder``'s path that does not exist yet (what creating it would add)."""
    missing = None
    for candidate in [folder, *folder.parents]:
        if candidate.exists() or candidate.is_symlink():
            break
        missing = candidate
    return missing


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

    Every check comes before the first write (the folders can be written, the
    commune name is one), and a write that fails anyway takes back what this
    call wrote: no orphan password file, no half inventory.
    """
    if root.is_symlink():
        raise AnlError(_("is a symbolic link: anl-stack does not write through links"), file=str(root), key="--dir",
                       expected=_("a new or empty folder"))
    paths = InventoryPaths(root.resolve())
    if paths.root.exists() and not paths.root.is_dir():
        raise AnlError(_("is not a folder"), file=str(paths.root), key="--dir", expected=_("a new or empty folder"))
    if paths.root.exists() and any(paths.root.iterdir()):
        raise AnlError(_("refusing to overwrite an existing inventory"), file=str(paths.root), key="--dir",
                       expected=_("a new or empty folder"))
    new_password = None
    if vault_password_file is None:
        vault_password_file = default_vault_password_file(commune)
        if not vault_password_file.exists():
            new_password = vault_password_file
            check_writable(new_password, key="vault_password_file")
    check_writable(paths.hosts, key="--dir")
    created = _first_missing(paths.root)
    try:
        _write_inventory(paths, commune=commune, domain=domain, email=email, tls_mode=tls_mode, hosts=hosts,
                         vault_password_file=vault_password_file, extra_settings=extra_settings)
        if new_password is not None:
            write_password_file(new_password)
    except BaseException as error:
        _undo(paths.root, created)
        if isinstance(error, OSError):
            raise AnlError(_("cannot write: {strerror}").format(strerror=error.strerror or error), file=str(error.filename or paths.root),
                           expected=_("a folder anl-stack may write in")) from None
        raise
    return paths


def _undo(root: Path, created: Path | None) -> None:
    """Remove what a failed create_inventory wrote: the folders it made, or the files it put in ``root``."""
    with contextlib.suppress(OSError):
        if created is not None:
            shutil.rmtree(created)
            return
        for child in root.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


def _write_inventory(paths: InventoryPaths, *, commune: str, domain: str, email: str, tls_mode: str,
                     hosts: dict[str, Any] | None, vault_password_file: Path,
                     extra_settings: dict[str, Any] | None) -> None:
    ensure_folder(paths.settings.parent, root=paths.root)
    ensure_folder(paths.private, root=paths.root)
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

    #: host -> its groups, and scope -> its sources, built on first use (an Inventory is not edited once loaded)
    _by_host: dict[str, list[str]] | None = field(default=None, repr=False, compare=False)
    _by_scope: dict[str, list[tuple[int, VarSource]]] | None = field(default=None, repr=False, compare=False)

    @property
    def hosts(self) -> list[str]:
        return list(self.host_vars)

    def groups_of(self, host: str) -> list[str]:
        # An index, not a scan of every group per host: a large inventory stays linear.
        if self._by_host is None:
            self._by_host = {}
            for group, members in self.groups.items():
                for member in dict.fromkeys(members):
                    self._by_host.setdefault(member, []).append(group)
        return list(self._by_host.get(host, []))

    def _sources(self, scope: str) -> list[tuple[int, VarSource]]:
        if self._by_scope is None:
            self._by_scope = {}
            for rank, source in enumerate(self.var_sources):
                self._by_scope.setdefault(source.scope, []).append((rank, source))
        return self._by_scope.get(scope, [])

    def settings(self) -> dict[str, Any]:
        """Variables of the ``all`` scope (anl.yml and all.vars), merged."""
        merged: dict[str, Any] = {}
        for _rank, source in self._sources("all"):
            merged.update(source.values)
        return merged

    def host_settings(self, host: str) -> dict[str, Any]:
        """Variables one host sees (all < groups < host), without secrets."""
        merged = self.settings()
        # Group sources in their precedence order (var_sources is sorted by rank), whatever the group.
        for _rank, source in sorted((item for g in self.groups_of(host) for item in self._sources(f"group:{g}")),
                                key=lambda item: item[0]):
            merged.update(source.values)
        for _rank, source in self._sources(f"host:{host}"):
            merged.update(source.values)
        return merged

    def host_setting_source(self, host: str, key: str) -> VarSource | None:
        """The source whose value of ``key`` the host sees (the last one in precedence order), if any."""
        # var_sources is sorted by precedence, so the highest rank setting the key wins (as in host_settings).
        ranked = sorted([*self._sources("all"),
                         *(item for g in self.groups_of(host) for item in self._sources(f"group:{g}")),
                         *self._sources(f"host:{host}")], key=lambda item: item[0])
        return next((source for _rank, source in reversed(ranked) if key in source.values), None)

    def commune(self) -> str:
        return str(self.settings().get("anl_commune") or self.paths.root.name)


def load_inventory(path: str | os.PathLike[str] | InventoryPaths) -> Inventory:
    """Read hosts.yml and the vars files Ansible would read (vault.yml excepted)."""
    paths = path if isinstance(path, InventoryPaths) else resolve_inventory_path(path)
    # A shared inventory is untrusted: a link out of it would have anl-stack and Ansible read a
    # file of the controller as the commune's settings.
    require_contained(paths.root, "inventory", skip={PRIVATE_DIR})
    doc = read_yaml(paths.hosts)
    duplicates = duplicate_records(doc)
    inv = Inventory(paths, doc)
    file = str(paths.hosts)
    data = doc.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        inv.problems.append(ErrorRecord(_("hosts.yml is not a mapping"), file, 1, None, _("a mapping with the group `all`")))
        data = {}
    elif "all" not in data and data:
        # Top-level groups other than `all` are legal Ansible, but ours start at `all`.
        for name in data:
            inv.problems.append(ErrorRecord(_("top-level group outside `all`"), file, doc.line(name), str(name),
                                            _("every group under all.children")))
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
                duplicates += duplicate_records(vars_doc)
                if vars_doc.data is None:
                    continue
                if not isinstance(vars_doc.data, dict):
                    inv.problems.append(ErrorRecord(_("a vars file must be a mapping"), str(vars_file), 1, None,
                                                    _("key: value lines")))
                    continue
                scope = "all" if (kind == "group" and name == "all") else f"{kind}:{name}"
                inv.var_sources.append(VarSource(vars_doc, (), vars_doc.data, scope))
                if kind == "host" and name not in inv.host_vars:
                    inv.problems.append(ErrorRecord(_("host_vars for a host that is not in hosts.yml"),
                                                    str(vars_file), 1, name, _("a host listed in hosts.yml")))
                if kind == "group" and name != "all" and name not in inv.groups:
                    inv.problems.append(ErrorRecord(_("group_vars for a group that is not in hosts.yml"),
                                                    str(vars_file), 1, name, _("a group listed in hosts.yml")))
    if duplicates:
        # Ansible keeps the last of two equal keys without a word: which one the commune meant is unknown.
        raise AnlError(duplicates)
    # Ansible precedence: all < groups < hosts; hosts.yml vars and files mixed per scope.
    order = {"all": 0, "group": 1, "host": 2}
    inv.var_sources.sort(key=lambda s: order[s.scope.partition(":")[0]])
    return inv


def duplicate_records(doc: YamlDoc) -> list[ErrorRecord]:
    """One record (file, line, key) per key given twice in one mapping of ``doc``."""
    return [ErrorRecord(_("key given twice"), str(doc.file), line, key, _("each key once (Ansible would keep the last)"))
            for key, line in duplicate_keys(doc.node)]


def _walk_group(inv: Inventory, name: str, body: Any, where: tuple[Any, ...]) -> list[str]:
    """Record one group of hosts.yml (recursively); return all its hosts."""
    file = str(inv.paths.hosts)
    doc = inv.hosts_doc
    members: list[str] = []
    if body is None:
        inv.groups.setdefault(name, [])
        return members
    if not isinstance(body, dict):
        inv.problems.append(ErrorRecord(_("a group must be a mapping"), file, doc.line(*where), _dotted(where),
                                        _("hosts:, children: and vars: keys")))
        return members
    for key in body:
        if key not in ("hosts", "children", "vars"):
            inv.problems.append(ErrorRecord(_("unknown key in a group"), file, doc.line(*where, key),
                                            _dotted(where + (key,)), _("hosts, children or vars")))
    hosts = body.get("hosts") or {}
    if not isinstance(hosts, dict):
        inv.problems.append(ErrorRecord(_("hosts must be a mapping of host names"), file,
                                        doc.line(*where, "hosts"), _dotted(where + ("hosts",)),
                                        "hosts: {NAME: {ansible_host: ...}}"))
        hosts = {}
    for host, host_body in hosts.items():
        host = str(host)
        if host_body is not None and not isinstance(host_body, dict):
            inv.problems.append(ErrorRecord(_("host variables must be a mapping"), file,
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
            inv.problems.append(ErrorRecord(_("vars must be a mapping"), file, doc.line(*where, "vars"),
                                            _dotted(where + ("vars",)), _("key: value lines")))
    children = body.get("children") or {}
    if not isinstance(children, dict):
        inv.problems.append(ErrorRecord(_("children must be a mapping of groups"), file,
                                        doc.line(*where, "children"), _dotted(where + ("children",)),
                                        "children: {PLUGIN: {hosts: {...}}}"))
        children = {}
    for child, child_body in children.items():
        members += _walk_group(inv, str(child), child_body, where + ("children", child))
    members = list(dict.fromkeys(members))
    known = inv.groups.setdefault(name, [])
    # A set beside the list: a membership test per host on a list made large inventories quadratic.
    present = set(known)
    known.extend(h for h in members if h not in present)
    return members


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path)


# --- editing ------------------------------------------------------------------

def add_host_to_group(paths: InventoryPaths, host: str, group: str) -> bool:
    """Put an existing host in a plugin's group in hosts.yml; True if hosts.yml changed.

    The host keeps its connection variables where they are (``all.hosts``);
    the group lists it with no variables of its own.
    """
    data = read_yaml(paths.hosts).data or {}
    if not isinstance(data, dict):
        raise AnlError(_("hosts.yml is not a mapping"), file=str(paths.hosts), line=1, expected=_("a mapping with `all`"))
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
        raise AnlError(_("unknown host"), file=str(paths.hosts), key=host, expected=_("a host listed in hosts.yml"))
    group_hosts[host] = {}
    write_file(paths.hosts, yaml.safe_dump(data, sort_keys=False), root=paths.root)
    return True


# --- firewall -----------------------------------------------------------------

def firewall_ports(inv: Inventory, manifests: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per host, the ports of every plugin whose group holds it.

    ``manifests`` maps plugin names to manifests (``deployment.ports``).
    ``allow_from_setting`` is resolved from the variables the host sees;
    an empty ``allow_from`` means everyone. A port with ``open_when_setting``
    is left out unless the host sees that setting true (a feature the
    commune turns on, such as PeerTube's live). Deploying one plugin
    therefore never closes another plugin's ports on a shared host.
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
                if port.open_when_setting and not _truthy(settings.get(port.open_when_setting)):
                    continue
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


def _truthy(value: Any) -> bool:
    """A boolean setting as Ansible's ``bool`` filter reads it (true, yes, on, 1)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "1", "y", "t")
    return bool(value) if isinstance(value, (bool, int)) else False


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
        refuse_duplicate_keys(doc)  # which of two vault_password_file lines wins is not for a reader to guess
        if isinstance(doc.data, dict) and doc.data.get("vault_password_file"):
            chosen = str(doc.data["vault_password_file"])
            origin = str(paths.private_settings)
    if not chosen:
        settings_file = paths.settings
        commune = paths.root.name
        if settings_file.is_file():
            doc = read_yaml(settings_file)
            if isinstance(doc.data, dict) and doc.data.get("anl_commune"):
                commune = doc.data["anl_commune"]
                if not valid_commune(commune):
                    # A shared inventory must not pick which file of this controller is the vault password.
                    raise AnlError(_("{commune!r} is not a commune name").format(commune=str(commune)[:80]), file=str(settings_file),
                                   line=doc.line("anl_commune"), key="anl_commune", expected=_(COMMUNE_EXPECTED))
        chosen = default_vault_password_file(commune) if valid_commune(commune) else (
            config_dir() / "vault-passwords" / f"{commune}.txt")
        origin = "default"
    result = Path(chosen).expanduser()
    if not result.is_absolute():
        result = (paths.root / result).resolve() if origin == str(paths.private_settings) else result.resolve()
    if not result.is_file():
        raise AnlError(_("vault password file not found"), file=str(result), key="vault_password_file",
                       expected=_("the file or script named by {origin}").format(origin=origin))
    if os.access(result, os.X_OK) and result.resolve().is_relative_to(paths.root.resolve()):
        # Ansible runs an executable password file: one inside a shared inventory is its code.
        raise AnlError(_("is an executable inside the inventory: Ansible would run it on this controller"),
                       file=str(result), key="vault_password_file",
                       expected=_("a password file, or a password script outside {root} (named by {origin})")
                                .format(root=paths.root, origin=origin))
    return result
