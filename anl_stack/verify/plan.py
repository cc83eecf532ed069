"""What a verify run will check, decided before any host is touched.

The plan picks the checks (by default every plugin whose inventory group
holds the host, plus the security baseline on every selected host) and
refuses bad input (exit 2): an unknown plugin, a plugin with no host, an
invalid marker expression, an inventory with problems.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _pytest.mark.expression import Expression

from anl_stack import lab
from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.i18n import _
from anl_stack.deploy.targets import inventory_target
from anl_stack.inventory.model import Inventory, firewall_ports, load_inventory
from anl_stack.plugin_api import BASELINE, CHECKS_DIR, CHECKS_GLOB
from anl_stack.plugins import discover_plugins, get_plugin, require_loaded
from anl_stack.plugins.digest import content_digest
from anl_stack.verify import baseline


@dataclass
class VerifyOptions:
    plugins: list[str] = field(default_factory=list)
    inventory: Path | None = None
    lab: str | None = None
    live: bool = False
    mark: str | None = None
    junit: Path | None = None
    report: Path | None = None
    vault_password_file: Path | None = None
    #: the security baseline runs on every host unless turned off (tests of plugin checks)
    baseline: bool = True
    #: plugins' own checks; off to time or run the baseline alone (ports are still declared)
    plugin_checks: bool = True
    #: only these hosts (names of the inventory), e.g. the new server after a restore
    limit: list[str] | None = None


@dataclass
class Suite:
    """A folder of checks: the baseline, or one plugin's ``verify/``."""

    name: str
    folder: Path
    plugin_dir: Path | None = None
    subdomain: str | None = None
    recipe_version: str | None = None
    app_version: str | None = None
    digest: str | None = None

    def to_context(self) -> dict[str, Any]:
        return {"name": self.name, "dir": str(self.folder),
                "plugin_dir": str(self.plugin_dir) if self.plugin_dir else None, "subdomain": self.subdomain}


@dataclass
class Plan:
    """Everything decided before any host is touched."""

    inventory: Inventory
    label: str
    hosts: dict[str, list[str]]            # host -> plugin names (in its groups, selected)
    suites: list[Suite]
    declared_ports: dict[str, list[dict[str, Any]]]
    web_plugins: dict[str, list[str]]
    secret_names: list[str]
    vault_password_file: Path | None
    marker_expr: str | None
    notes: list[str] = field(default_factory=list)
    host_key_checking: bool = True
    #: hosts that are lab hosts (evidence from them is lab evidence, not production)
    lab_hosts: set[str] = field(default_factory=set)
    #: host -> the services its plugins declare (``deployment.services``), for the baseline's root check
    services: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


# --- choosing what to run -------------------------------------------------------


def marker_expression(live: bool, mark: str | None) -> str | None:
    """``live`` checks run only with --live-test; --mark adds an expression."""
    parts = []
    if mark:
        validate_marker_expression(mark)
        parts.append(f"({mark})")
    if not live:
        parts.append("not live")
    return " and ".join(parts) or None


def validate_marker_expression(expr: str) -> None:
    # pytest's own parser (private but stable since pytest 6): same rules as -m.
    try:
        Expression.compile(expr)
    except SyntaxError as error:
        raise AnlError(_("invalid marker expression: {msg}")
                       .format(msg=error.msg if hasattr(error, 'msg') else error), key="--mark",
                       expected=_("a pytest -m expression such as 'not app' or 'live and not app'")) from None


def baseline_folder() -> Path:
    return Path(baseline.__file__).resolve().parent


def resolve_target(options: VerifyOptions) -> tuple[Inventory, Path | None, str]:
    """The inventory, its vault password file (if it has a vault) and a label."""
    inv, password, label, _extra = _target(options)
    return inv, password, label


def _target(options: VerifyOptions) -> tuple[Inventory, Path | None, str, bool]:
    """As resolve_target, plus host key checking (the same choice as the deploy)."""
    if bool(options.inventory) == bool(options.lab):
        raise AnlError(_("give exactly one of -i PATH or --lab NAME"), key="target",
                       expected=_("-i inventories/COMMUNE or --lab NAME"))
    if options.lab:
        host = lab.get(options.lab)
        if host is None:
            raise AnlError(_("no lab host named {name!r}").format(name=options.lab), key="--lab",
                           expected=_("a running lab host (`anl-stack lab up NAME`)"))
        inv = load_inventory(host.inventory)
        return inv, Path(host.vault_password_file), f"lab {options.lab}", False
    inv = load_inventory(options.inventory)  # type: ignore[arg-type]
    try:
        target = inventory_target(inv.paths.root, str(options.vault_password_file or "") or None,
                                  log=lambda line: print(line, file=sys.stderr))
    except AnlError:
        if inv.paths.vault.exists():
            raise
        return inv, None, inv.commune(), True
    return inv, target.password_file, inv.commune(), target.host_key_checking


def plan(options: VerifyOptions, *, plugins: list[Any] | None = None) -> Plan:
    """Validate the request and decide hosts and suites (exit 2 on bad input)."""
    marker_expr = marker_expression(options.live, options.mark)
    inv, password, label, host_key_checking = _target(options)
    if inv.problems:
        raise AnlError(inv.problems)
    if not inv.hosts:
        raise AnlError(_("the inventory lists no host"), file=str(inv.paths.hosts), expected="all.hosts.NAME")
    found = discover_plugins() if plugins is None else plugins
    requested = list(dict.fromkeys(options.plugins))
    _refuse_bad_requests(inv, requested, found)
    by_name = {p.name: p for p in found}
    chosen = requested or [n for n, p in by_name.items() if p.manifest is not None and inv.groups.get(n)]
    unknown = sorted(set(options.limit or []) - set(inv.hosts))
    if unknown:
        raise AnlError(_("no host named {names}").format(names=", ".join(unknown)), file=str(inv.paths.hosts),
                       key="--limit", expected=_("hosts of the inventory: {names}").format(names=", ".join(inv.hosts)))
    hosts = {host: names for host in inv.hosts if not options.limit or host in options.limit
             if (names := [n for n in chosen if host in inv.groups.get(n, [])]) or not requested}
    suites, notes = _suites([by_name[n] for n in chosen] if options.plugin_checks else [], options.baseline)
    # Declared ports come from every plugin whose group holds the host, selected or not.
    all_manifests = {p.name: p.manifest for p in found if p.manifest is not None}
    ports = firewall_ports(inv, all_manifests)
    declared = {h: [{**p, "plugin": _port_owner(inv, all_manifests, h, p)} for p in ports.get(h, [])]
                for h in hosts}
    web = {h: [n for n in inv.groups_of(h) if n in all_manifests and all_manifests[n].deployment.web]
           for h in hosts}
    secret_names = sorted({s.name for m in all_manifests.values() for s in m.deployment.secrets})
    return Plan(inv, label, hosts, suites, declared, web, secret_names, password, marker_expr, notes,
                host_key_checking=host_key_checking, lab_hosts=lab_hosts(inv, options),
                services={h: declared_services(inv, all_manifests, h) for h in hosts})


def declared_services(inv: Inventory, manifests: dict[str, Any], host: str) -> list[dict[str, Any]]:
    """The services (``deployment.services``) of every plugin whose group holds ``host``, selected or not:
    like ports, what runs there does not depend on which checks were asked for."""
    return [{"plugin": group, **service.model_dump(exclude_none=True)}
            for group in inv.groups_of(host) if group in manifests
            for service in manifests[group].deployment.services]


def _refuse_bad_requests(inv: Inventory, requested: list[str], found: list[Any]) -> None:
    """Every named plugin must load and have a host in its group; all problems at once (exit 2)."""
    errors: list[ErrorRecord] = []
    for name in requested:
        try:
            require_loaded(get_plugin(name, found))
        except AnlError as error:
            errors += error.records
            continue
        if not inv.groups.get(name):
            errors.append(ErrorRecord(_("plugin {name!r}: no host in its inventory group").format(name=name),
                                      str(inv.paths.hosts), None, f"all.children.{name}",
                                      _("a host listed under {key}").format(key=f"all.children.{name}.hosts")))
    if errors:
        raise AnlError(errors)


def _suites(chosen: list[Any], baseline: bool) -> tuple[list[Suite], list[str]]:
    """The baseline (unless turned off) and each chosen plugin's checks, with a note for a plugin without any."""
    notes: list[str] = []
    suites = [Suite(BASELINE, baseline_folder())] if baseline else []
    for plugin in chosen:
        manifest = plugin.manifest
        folder = plugin.path / CHECKS_DIR
        if not any(folder.glob(CHECKS_GLOB)):
            notes.append(_("plugin {name} has no checks (verify/test_*.py); only the baseline applies").format(
                name=plugin.name))
        suites.append(Suite(plugin.name, folder.resolve(), plugin.path.resolve(), manifest.deployment.subdomain,
                            manifest.version, manifest.app.version, content_digest(plugin.path)))
    return suites, notes


def lab_hosts(inv: Inventory, options: VerifyOptions) -> set[str]:
    """Hosts known to be lab hosts: ``--lab``, a lab host's own inventory, or ``anl_lab: true``."""
    if options.lab:
        return set(inv.hosts)
    found = {h for h in inv.hosts if inv.host_settings(h).get("anl_lab") is True}
    try:
        for host in lab.list_hosts():
            if Path(host.inventory).resolve() == inv.paths.root.resolve() and host.name in inv.hosts:
                found.add(host.name)
    except Exception:  # noqa: BLE001 - no lab state here: only the marker counts
        pass
    return found


def _port_owner(inv: Inventory, manifests: dict[str, Any], host: str, port: dict[str, Any]) -> str:
    for group in inv.groups_of(host):
        manifest = manifests.get(group)
        if manifest and any(p.port == port["port"] and p.protocol == port["protocol"]
                            for p in manifest.deployment.ports):
            return group
    return "?"
