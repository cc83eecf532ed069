"""``inventory check``: everything that can be wrong in a commune inventory, found before any host is touched.

Each problem is an :class:`~anl_stack.core.errors.ErrorRecord` naming the file,
line and key, and what was expected. Plugin settings (``<plugin>_*``
variables) are checked against the one source of truth, the role's
``meta/argument_specs.yml``: types, choices, required options, and unknown
keys with a "did you mean".
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from pathlib import Path
from typing import Any

from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.i18n import N_, _
from anl_stack.core.operator import ALLOW_LOOKUPS_ENV, allows_lookups, operator_file
from anl_stack.core.paths import shared_roles, shared_roles_dir
from anl_stack.core.yamlfile import VAULTED
from anl_stack.inventory import backup_settings
from anl_stack.inventory.model import (
    COMMUNE_EXPECTED,
    COMMUNE_PATTERN,
    TLS_MODES,
    Inventory,
    InventoryPaths,
    VarSource,
    load_inventory,
)
from anl_stack.inventory.templates import controller_effects, walk_strings
from anl_stack.plugin_api import COMMUNE_SETTINGS, ENGINES, REQUIRED_SETTINGS, ROLES_DIR
from anl_stack.plugins import discover_plugins
from anl_stack.plugins.roles import RoleSpec, load_role_spec

#: Commune-wide variables anl-stack knows; other ``anl_`` keys are typos when close to one.
# (the run variables anl-stack itself writes for every run are known too: a commune may override them)
ANL_KEYS = (*COMMUNE_SETTINGS, "anl_firewall_ports", "anl_artifacts")

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_COMMUNE = COMMUNE_PATTERN


def role_specs(plugins: list[Any]) -> dict[str, RoleSpec]:
    """Specs by variable prefix: each loaded plugin's role and the shared roles."""
    specs: dict[str, RoleSpec] = {}
    for role in shared_roles():
        spec = load_role_spec(role, shared_roles_dir() / role)
        if spec:
            specs[role] = spec
    for plugin in plugins:
        spec = load_role_spec(plugin.name, plugin.path / ROLES_DIR / plugin.name)
        specs[plugin.name] = spec or RoleSpec(plugin.name, plugin.path / ROLES_DIR / plugin.name)
    return specs


def _prefix_owner(key: str, specs: dict[str, RoleSpec]) -> RoleSpec | None:
    # The longest matching prefix wins (a plugin "web_x" before the role "web").
    owners = [s for p, s in specs.items() if key.startswith(p + "_")]
    return max(owners, key=lambda s: len(s.role)) if owners else None


def _is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value or value == VAULTED)


_TYPE_CHECKS: dict[str, tuple[Any, str]] = {  # the label is translated where it is shown
    "str": (lambda v: isinstance(v, str), N_("text")),
    "path": (lambda v: isinstance(v, str), N_("a path")),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), N_("an integer")),
    "float": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), N_("a number")),
    "bool": (lambda v: isinstance(v, bool), N_("true or false")),
    "list": (lambda v: isinstance(v, list), N_("a list")),
    "dict": (lambda v: isinstance(v, dict), N_("a mapping")),
}


def check_value(key: str, value: Any, option: dict[str, Any]) -> tuple[str, str] | None:
    """(message, expected) when ``value`` breaks ``option``; None when fine."""
    if _is_template(value):
        return None
    kind = str(option.get("type", "str"))
    check = _TYPE_CHECKS.get(kind)
    if check and not check[0](value):
        return (_("{value!r} is not {kind}").format(value=value, kind=_(check[1])),
                _("{kind} ({type})").format(kind=_(check[1]), type=kind))
    choices = option.get("choices")
    if choices is not None:
        values = value if kind == "list" and isinstance(value, list) else [value]
        for item in values:
            if item not in choices:
                return (_("{item!r} is not an allowed value").format(item=item),
                        _("one of: {choices}").format(choices=", ".join(map(str, choices))))
    if kind == "list" and isinstance(value, list) and option.get("elements") in _TYPE_CHECKS:
        element_check, label = _TYPE_CHECKS[str(option["elements"])]
        label = _(label)
        for index, item in enumerate(value):
            if not _is_template(item) and not element_check(item):
                return (_("item {index} ({item!r}) is not {kind}").format(index=index, item=item, kind=label),
                        _("a list of {kind}").format(kind=label))
    if kind == "dict" and isinstance(value, dict) and option.get("options"):
        sub = option["options"]
        for sub_key, sub_value in value.items():
            if sub_key not in sub:
                return _("unknown key {key!r}").format(key=sub_key), _("one of: {keys}").format(keys=", ".join(sub))
            problem = check_value(f"{key}.{sub_key}", sub_value, sub[sub_key])
            if problem:
                return f"{sub_key}: {problem[0]}", problem[1]
        for sub_key, sub_option in sub.items():
            if sub_option.get("required") and sub_key not in value:
                return (_("required key {key!r} is missing").format(key=sub_key),
                        _("{key} in {mapping}").format(key=sub_key, mapping=key))
    if kind == "list" and isinstance(value, list) and option.get("elements") == "dict" and option.get("options"):
        for index, item in enumerate(value):
            problem = check_value(f"{key}[{index}]", item, {"type": "dict", "options": option["options"]})
            if problem:
                return _("item {index}: {problem}").format(index=index, problem=problem[0]), problem[1]
    return None


def valid_domain(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 253 or "." not in value:
        return False
    return all(_LABEL.match(label) for label in value.lower().split("."))


def _did_you_mean(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return _("; did you mean {name}?").format(name=close[0]) if close else ""


class Checker:
    """Collects every problem of one inventory."""

    def __init__(self, inv: Inventory, plugins: list[Any]) -> None:
        self.inv = inv
        self.plugins = {p.name: p for p in plugins}
        self.specs = role_specs([p for p in plugins if p.loaded])
        self.records: list[ErrorRecord] = list(inv.problems)
        self.lookups_allowed = allows_lookups(inv.paths.root)
        self._group_paths: dict[str, tuple[str, ...]] | None = None

    def add(self, message: str, source: VarSource | None, key: str | None, expected: str | None,
            *, file: Path | None = None, line: int | None = None) -> None:
        if source is not None:
            file = source.doc.file
            line = source.line(key) if key else None
            if source.path:
                key = ".".join(str(p) for p in source.path) + (f".{key}" if key else "")
        self.records.append(ErrorRecord(message, str(file) if file else None, line, key, expected))

    def run(self) -> list[ErrorRecord]:
        self.check_groups()
        self.check_settings()
        self.check_hosts()
        for source in self.inv.var_sources:
            self.check_source(source)
        self.check_required()
        return self.records

    def check_groups(self) -> None:
        hosts_file = self.inv.paths.hosts
        known = sorted(self.plugins)
        for group in self.inv.groups:
            if group in ("all", "ungrouped") or group in self.plugins:
                continue
            where = self._group_path(group)
            self.add(_("group {group!r} names no known plugin{did_you_mean}")
                     .format(group=group, did_you_mean=_did_you_mean(group, known)), None,
                     ".".join(where), _("a plugin name: {known}")
                                      .format(known=", ".join(known) or _("(no plugin found)")),
                     file=hosts_file, line=self.inv.hosts_doc.line(*where))
        for name, plugin in self.plugins.items():
            if name in self.inv.groups and not plugin.loaded and plugin.error:
                self.records.extend(plugin.error.records)

    def _group_path(self, group: str) -> tuple[str, ...]:
        """Where a group first appears in hosts.yml (one walk for all groups: many groups stay linear)."""
        if self._group_paths is None:
            self._group_paths = {}
            data = self.inv.hosts_doc.data if isinstance(self.inv.hosts_doc.data, dict) else {}
            stack: list[tuple[Any, tuple[str, ...]]] = [(data.get("all"), ("all",))]
            while stack:  # depth first, children in order: the first place a group appears wins
                body, where = stack.pop()
                if len(where) > 1:
                    self._group_paths.setdefault(where[-1], where)
                children = body.get("children") if isinstance(body, dict) else None
                if isinstance(children, dict):
                    stack.extend((b, where + ("children", str(c))) for c, b in reversed(children.items()))
        return self._group_paths.get(group) or ("all", "children", group)

    def check_settings(self) -> None:
        settings = self.inv.settings()
        anl_file = self.inv.paths.settings
        source = next((s for s in self.inv.var_sources if s.doc.file == anl_file), None)
        if source is None:
            self.add(_("commune settings file is missing"), None, None, _("group_vars/all/anl.yml from `anl-stack "
                                                                       "init`"),
                     file=anl_file)
        for key in REQUIRED_SETTINGS:
            if key not in settings:
                self.add(_("required setting is missing"), None, key, _("{key} in group_vars/all/anl.yml")
                                                                   .format(key=key),
                         file=anl_file, line=1)

    def _source_of(self, key: str) -> VarSource | None:
        found = None
        for source in self.inv.var_sources:
            if key in source.values:
                found = source
        return found

    def check_hosts(self) -> None:
        if not self.inv.hosts:
            return
        for host, values in self.inv.host_vars.items():
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", host):
                self.add(_("not a usable host name"), None, host, _("letters, digits, '.', '-' or '_'"),
                         file=self.inv.paths.hosts, line=self.inv.hosts_doc.line("all"))

    def check_source(self, source: VarSource) -> None:
        for key, value in source.values.items():
            key = str(key)
            self.check_controller_effects(source, key, value)
            self.check_known_var(source, key, value)

    def check_controller_effects(self, source: VarSource, key: str, value: Any) -> None:
        """A shared inventory's template must not run code or read files on the controller."""
        if self.lookups_allowed:
            return
        for where, text in walk_strings(value):
            for effect in controller_effects(text):
                self.add(_("{where}: {effect}").format(where=where, effect=effect) if where else effect, source, key,
                         _("a plain value; templates that run lookups are allowed only by the operator (anl-stack "
                           "--allow-lookups, or allow_lookups in {operator_file}; {allow_lookups_env}=1)")
                         .format(operator_file=operator_file(), allow_lookups_env=ALLOW_LOOKUPS_ENV))

    def check_known_var(self, source: VarSource, key: str, value: Any) -> None:
        if _is_template(value):
            return
        if key in ("ansible_port", "ansible_ssh_port"):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
                self.add(_("{value!r} is not an SSH port").format(value=value), source, key, _("an integer from 1 to 65535"))
            return
        if key in ("ansible_host", "ansible_user") and (not isinstance(value, str) or not value.strip()):
            self.add(_("{value!r} is not usable").format(value=value), source, key, _("non-empty text"))
            return
        if key == "ansible_host" and " " in value:
            self.add(_("{value!r} is not a host address").format(value=value), source, key, _("an IP address or a DNS name"))
            return
        if key.startswith("anl_"):
            self.check_anl(source, key, value)
            return
        spec = _prefix_owner(key, self.specs)
        if spec is None:
            return
        if key.endswith("_domain") and key[: -len("_domain")] in self.plugins and not valid_domain(value):
            self.add(_("{value!r} is not a domain name").format(value=value), source, key, _("a DNS name such as cloud.example.fr"))
            return
        option = spec.options.get(key)
        if option is None:
            if spec.options or spec.role in self.plugins:
                hint = _did_you_mean(key, list(spec.options))
                self.add(_("unknown setting for {role}{hint}").format(role=spec.role, hint=hint), source, key,
                         _("one of: {options} (from {file})")
                         .format(options=", ".join(spec.options) or _("(this role takes no settings)"),
                                 file=spec.file))
            return
        problem = check_value(key, value, option)
        if problem:
            self.add(problem[0], source, key, problem[1])
        if key.endswith("_allowed_sources") or key.endswith("_allow_from"):
            self.check_networks(source, key, value)

    def check_networks(self, source: VarSource, key: str, value: Any) -> None:
        for item in value if isinstance(value, list) else [value]:
            try:
                ipaddress.ip_network(str(item), strict=False)
            except ValueError:
                self.add(_("{item!r} is not an address or network").format(item=item), source, key, _("addresses such as 192.0.2.0/24"))

    def check_anl(self, source: VarSource, key: str, value: Any) -> None:
        if key == "anl_domain" and not valid_domain(value):
            self.add(_("{value!r} is not a domain name").format(value=value), source, key, _("a DNS name such as mairie-exemple.fr"))
        elif key == "anl_admin_email" and (not isinstance(value, str) or not _EMAIL.match(value)
                                           or not valid_domain(value.rpartition("@")[2])):
            self.add(_("{value!r} is not an e-mail address").format(value=value), source, key, _("an address such as dsi@mairie-exemple.fr"))
        elif key == "anl_tls_mode" and value not in TLS_MODES:
            self.add(_("{value!r} is not a TLS mode").format(value=value), source, key, _("one of: {tls_modes}")
                                                                  .format(tls_modes=", ".join(TLS_MODES)))
        elif key == "anl_commune" and (not isinstance(value, str) or not _COMMUNE.fullmatch(value)):
            self.add(_("{value!r} is not a commune name").format(value=str(value)[:80]), source, key, _(COMMUNE_EXPECTED))
        elif key == "anl_require_reviews" and (not isinstance(value, (bool, int)) or value < 0):
            self.add(_("{value!r} is not a number of reviews").format(value=value), source, key,
                     _("false, true (one review) or a number of communes such as 2"))
        elif key == "anl_engine" and value not in ENGINES:
            self.add(_("{value!r} is not an engine").format(value=str(value)[:80]), source, key, _("one of: {engines}")
                                                                           .format(engines=", ".join(ENGINES)))
        elif key == "anl_lab" and not isinstance(value, bool):
            self.add(_("{value!r} is not true or false").format(value=value), source, key, _("true on lab hosts only"))
        elif key.startswith("anl_backup_"):
            for message, expected in backup_settings.problems(key, value, set(self.inv.hosts)):
                self.add(message, source, key, expected)
        elif key not in ANL_KEYS:
            hint = _did_you_mean(key, list(ANL_KEYS))
            if hint:
                self.add(_("unknown commune setting{hint}").format(hint=hint), source, key, _("one of: {anl_keys}")
                                                                        .format(anl_keys=", ".join(ANL_KEYS)))

    def check_required(self) -> None:
        """Required role options, for plugins that have hosts; secrets are provided by the vault."""
        settings_keys: set[str] = set()
        for source in self.inv.var_sources:
            settings_keys.update(map(str, source.values))
        tls = self.inv.settings().get("anl_tls_mode", "selfsigned")
        if tls == "provided":
            for key in ("anl_tls_certificate", "anl_tls_key"):
                if key not in settings_keys:
                    self.add(_("required when anl_tls_mode is provided"), None, key,
                             _("{key}: path of the PEM file on the controller").format(key=key),
                             file=self.inv.paths.settings, line=1)
        for name, plugin in self.plugins.items():
            if not self.inv.groups.get(name) or not plugin.loaded:
                continue
            spec = self.specs.get(name)
            secrets = {s.name for s in plugin.manifest.deployment.secrets}
            for key, option in (spec.options if spec else {}).items():
                if option.get("required") and key not in settings_keys and key not in secrets:
                    self.add(_("required by plugin {name}").format(name=name), None, key, _("{key} in group_vars/all/anl.yml")
                                                                      .format(key=key),
                             file=self.inv.paths.settings, line=1)


def check_inventory(path: str | Path | InventoryPaths, plugins: list[Any] | None = None) -> tuple[Inventory | None, list[ErrorRecord]]:
    """Load and check an inventory; (inventory or None, problems)."""
    if plugins is None:
        plugins = discover_plugins()
    try:
        inv = load_inventory(path)
    except AnlError as error:
        return None, list(error.records)
    return inv, Checker(inv, plugins).run()


def require_valid(path: str | Path | InventoryPaths, plugins: list[Any] | None = None) -> Inventory:
    """The loaded inventory, or AnlError (exit 2) with every problem."""
    inv, records = check_inventory(path, plugins)
    if records or inv is None:
        raise AnlError(records)
    return inv


__all__ = ["check_inventory", "require_valid", "check_value", "valid_domain"]
