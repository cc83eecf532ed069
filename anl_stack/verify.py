"""Verify an installation: plugin checks and the security baseline, per host.

The service picks the checks (by default every plugin whose inventory group
holds the host, plus the baseline on every selected host), refuses bad
input before touching any host (exit 2), runs pytest-testinfra in a
subprocess (:mod:`anl_stack.adapters.testinfra`) and reads back one result
per (host, check) with its explanation and remediation hint. Reports are
rendered by :mod:`anl_stack.report`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anl_stack.errors import AnlError, ErrorRecord, ExitCode, WorkFailedError
from anl_stack.inventory import Inventory, firewall_ports, load_inventory

BASELINE = "baseline"
OUTCOMES = ("passed", "failed", "error", "n/a", "skipped", "not run")


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


@dataclass
class VerifyResult:
    date: str
    inventory: str
    label: str
    marker_expr: str | None
    hosts: list[dict[str, Any]]
    plugins: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    summary: dict[str, int]
    notes: list[str]
    run_dir: str
    junit: str
    log: str
    report: str | None = None

    @property
    def exit_code(self) -> int:
        ok = self.summary.get("failed", 0) == 0 and self.summary.get("error", 0) == 0
        ran = self.summary.get("passed", 0) + self.summary.get("n/a", 0) > 0
        return int(ExitCode.OK if ok and ran else ExitCode.FAILED)

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.date, "inventory": self.inventory, "label": self.label,
                "marker_expr": self.marker_expr, "hosts": self.hosts, "plugins": self.plugins,
                "checks": self.checks, "summary": self.summary, "notes": self.notes,
                "exit_code": self.exit_code, "run_dir": self.run_dir, "junit": self.junit,
                "log": self.log, "report": self.report}


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
    from _pytest.mark.expression import Expression

    try:
        Expression.compile(expr)
    except SyntaxError as error:
        raise AnlError(f"invalid marker expression: {error.msg if hasattr(error, 'msg') else error}", key="--mark",
                       expected="a pytest -m expression such as 'not app' or 'live and not app'") from None


def baseline_folder() -> Path:
    import anl_stack.baseline

    return Path(anl_stack.baseline.__file__).resolve().parent


def resolve_target(options: VerifyOptions) -> tuple[Inventory, Path | None, str]:
    """The inventory, its vault password file (if it has a vault) and a label."""
    inv, password, label, _ = _target(options)
    return inv, password, label


def _target(options: VerifyOptions) -> tuple[Inventory, Path | None, str, bool]:
    """As resolve_target, plus host key checking (the same choice as the deploy)."""
    if bool(options.inventory) == bool(options.lab):
        raise AnlError("give exactly one of -i PATH or --lab NAME", key="target",
                       expected="-i inventories/COMMUNE or --lab NAME")
    if options.lab:
        from anl_stack import lab

        host = lab.get(options.lab)
        if host is None:
            raise AnlError(f"no lab host named {options.lab!r}", key="--lab",
                           expected="a running lab host (`anl-stack lab up NAME`)")
        inv = load_inventory(host.inventory)
        return inv, Path(host.vault_password_file), f"lab {options.lab}", False
    from anl_stack.deploy import inventory_target

    inv = load_inventory(options.inventory)  # type: ignore[arg-type]
    try:
        target = inventory_target(inv.paths.root, str(options.vault_password_file or "") or None)
    except AnlError:
        if inv.paths.vault.exists():
            raise
        return inv, None, inv.commune(), True
    return inv, target.password_file, inv.commune(), target.host_key_checking


def plan(options: VerifyOptions, *, plugins: list[Any] | None = None) -> Plan:
    """Validate the request and decide hosts and suites (exit 2 on bad input)."""
    from anl_stack.plugins import discover_plugins, get_plugin, require_loaded
    from anl_stack.plugins.digest import content_digest

    marker_expr = marker_expression(options.live, options.mark)
    inv, password, label, host_key_checking = _target(options)
    if inv.problems:
        raise AnlError(inv.problems)
    if not inv.hosts:
        raise AnlError("the inventory lists no host", file=str(inv.paths.hosts), expected="all.hosts.NAME")
    found = discover_plugins() if plugins is None else plugins
    by_name = {p.name: p for p in found}

    requested = list(dict.fromkeys(options.plugins))
    errors: list[ErrorRecord] = []
    for name in requested:
        try:
            require_loaded(get_plugin(name, found))
        except AnlError as error:
            errors += error.records
            continue
        if not inv.groups.get(name):
            errors.append(ErrorRecord(f"plugin {name!r}: no host in its inventory group", str(inv.paths.hosts),
                                      None, f"all.children.{name}", f"a host listed under all.children.{name}.hosts"))
    if errors:
        raise AnlError(errors)

    in_inventory = [n for n, p in by_name.items() if p.manifest is not None and inv.groups.get(n)]
    chosen = requested or in_inventory
    hosts: dict[str, list[str]] = {}
    for host in inv.hosts:
        names = [n for n in chosen if host in inv.groups.get(n, [])]
        if names or not requested:
            hosts[host] = names

    notes: list[str] = []
    suites = [Suite(BASELINE, baseline_folder())] if options.baseline else []
    manifests: dict[str, Any] = {}
    for name in chosen if options.plugin_checks else []:
        plugin = by_name[name]
        manifest = plugin.manifest
        manifests[name] = manifest
        folder = plugin.path / "verify"
        if not any(folder.glob("test_*.py")):
            notes.append(f"plugin {name} has no checks (verify/test_*.py); only the baseline applies")
        suites.append(Suite(name, folder.resolve(), plugin.path.resolve(), manifest.deployment.subdomain,
                            manifest.version, manifest.app.version, content_digest(plugin.path)))
    # Declared ports come from every plugin whose group holds the host, selected or not.
    all_manifests = {p.name: p.manifest for p in found if p.manifest is not None}
    ports = firewall_ports(inv, all_manifests)
    declared = {h: [{**p, "plugin": _port_owner(inv, all_manifests, h, p)} for p in ports.get(h, [])]
                for h in hosts}
    web = {h: [n for n in inv.groups_of(h) if n in all_manifests and any(
        p.port == 443 and p.protocol == "tcp" for p in all_manifests[n].deployment.ports)] for h in hosts}
    secret_names = sorted({s.name for m in all_manifests.values() for s in m.deployment.secrets})
    return Plan(inv, label, hosts, suites, declared, web, secret_names, password, marker_expr, notes,
                host_key_checking=host_key_checking, lab_hosts=lab_hosts(inv, options))


def lab_hosts(inv: Inventory, options: VerifyOptions) -> set[str]:
    """Hosts known to be lab hosts: ``--lab``, a lab host's own inventory, or ``anl_lab: true``."""
    if options.lab:
        return set(inv.hosts)
    found = {h for h in inv.hosts if inv.host_settings(h).get("anl_lab") is True}
    try:
        from anl_stack import lab

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


# --- running ----------------------------------------------------------------------


def _run_dir(inv: Inventory) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    folder = inv.paths.runs / f"{stamp}-verify"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run(options: VerifyOptions, *, plugins: list[Any] | None = None) -> VerifyResult:
    """Plan, run the checks, read the results; write JUnit and the report if asked."""
    from anl_stack import ansible_cfg
    from anl_stack.adapters import testinfra

    the_plan = plan(options, plugins=plugins)
    run_dir = _run_dir(the_plan.inventory)
    cfg = ansible_cfg.write(run_dir / "ansible.cfg", host_key_checking=the_plan.host_key_checking)
    if not the_plan.host_key_checking:
        testinfra.skip_host_key_checking(cfg)
    results_file = run_dir / "results.json"
    context = {
        "version": 1,
        "results": str(results_file),
        "suites": [s.to_context() for s in the_plan.suites],
        "hosts": {h: {"plugins": names, "declared_ports": the_plan.declared_ports.get(h, []),
                      "web_plugins": the_plan.web_plugins.get(h, [])}
                  for h, names in the_plan.hosts.items()},
        "secret_names": the_plan.secret_names,
    }
    context_file = run_dir / "context.json"
    context_file.write_text(json.dumps(context, indent=2))
    junit = (options.junit.resolve() if options.junit else run_dir / "junit.xml")
    junit.parent.mkdir(parents=True, exist_ok=True)
    paths = [s.folder for s in the_plan.suites if any(s.folder.glob("test_*.py"))]
    request = testinfra.PytestRequest(
        test_paths=paths, hosts=sorted(the_plan.hosts), inventories=[the_plan.inventory.paths.root],
        context_file=context_file, junit_file=junit, log_file=run_dir / "pytest.log", workdir=run_dir / "work",
        ansible_cfg=cfg, vault_password_file=the_plan.vault_password_file, marker_expr=the_plan.marker_expr)
    outcome = testinfra.run(request)
    data = testinfra.read_results(results_file)
    if data is None:
        tail = "\n".join(outcome.log_file.read_text(errors="replace").splitlines()[-15:])
        raise WorkFailedError(f"the checks did not run (pytest exit {outcome.returncode}); "
                              f"see {outcome.log_file}:\n{tail}")
    result = _result(the_plan, data, run_dir, junit, outcome.log_file)
    if options.report:
        from anl_stack.report import write_report

        write_report(result, options.report)
        result.report = str(options.report.resolve())
    (run_dir / "result.json").write_text(json.dumps(result.to_dict(), indent=2, default=str))
    return result


def _order(row: dict[str, Any], suites: list[str]) -> tuple[Any, ...]:
    suite = row.get("suite", "")
    return (row.get("host") or "", suites.index(suite) if suite in suites else len(suites),
            row.get("index", 1 << 30), row.get("nodeid", ""))


def _result(the_plan: Plan, data: dict[str, Any], run_dir: Path, junit: Path, log: Path) -> VerifyResult:
    names = [s.name for s in the_plan.suites]
    rows = [dict(r) for r in data.get("results", [])]
    for row in data.get("not_run", []):
        rows.append({**row, "outcome": "not run",
                     "message": "live check: runs only with --live-test" if "live" in row.get("markers", [])
                     else f"left out by the marker expression {the_plan.marker_expr!r}"})
    rows.sort(key=lambda r: _order(r, names))
    summary = {name: 0 for name in OUTCOMES}
    for row in rows:
        summary[row["outcome"]] = summary.get(row["outcome"], 0) + 1
    facts = data.get("facts", {})
    hosts = [{"name": h, "plugins": p, "debian_version": facts.get(h, {}).get("debian_version", "unknown"),
              "lab": h in the_plan.lab_hosts, "environment": "lab" if h in the_plan.lab_hosts else "production",
              "codename": facts.get(h, {}).get("codename"),
              "facts": {k: v for k, v in facts.get(h, {}).items()
                        if k not in ("debian_version", "codename", "distribution")}}
             for h, p in sorted(the_plan.hosts.items())]
    plugins = [{"name": s.name, "recipe_version": s.recipe_version, "app_version": s.app_version,
                "digest": s.digest, "path": str(s.plugin_dir)} for s in the_plan.suites if s.name != BASELINE]
    return VerifyResult(
        date=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        inventory=str(the_plan.inventory.paths.root), label=the_plan.label, marker_expr=the_plan.marker_expr,
        hosts=hosts, plugins=plugins, checks=rows, summary=summary, notes=the_plan.notes,
        run_dir=str(run_dir), junit=str(junit), log=str(log))
