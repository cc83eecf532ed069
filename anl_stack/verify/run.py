"""Run a verify plan: pytest-testinfra in a subprocess, results read back per (host, check).

The checks' process gets the plugin contract's pytest plugin
(:data:`anl_stack.plugin_api.PYTEST_PLUGIN`) and a context file
(:func:`anl_stack.plugin_api.write_context`); it writes one result per
(host, check) with its explanation and remediation hint. Reports are
rendered by :mod:`anl_stack.verify.report`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from anl_stack.adapters import testinfra
from anl_stack.core.errors import WorkFailedError
from anl_stack.core.files import ensure_folder, write_file
from anl_stack.core.i18n import _
from anl_stack.deploy import ansible_cfg
from anl_stack.inventory.model import Inventory
from anl_stack.plugin_api import BASELINE, CHECKS_GLOB, PYTEST_PLUGIN, write_context
from anl_stack.verify.plan import Plan, VerifyOptions, plan
from anl_stack.verify.report import write_report
from anl_stack.verify.result import OUTCOMES, VerifyResult


def _run_dir(inv: Inventory) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    folder = inv.paths.runs / f"{stamp}-verify"
    ensure_folder(folder, root=inv.paths.root, mode=0o700)
    return folder


def run(options: VerifyOptions, *, plugins: list[Any] | None = None) -> VerifyResult:
    """Plan, run the checks, read the results; write JUnit and the report if asked."""
    the_plan = plan(options, plugins=plugins)
    run_dir = _run_dir(the_plan.inventory)
    cfg = ansible_cfg.write(run_dir / "ansible.cfg", host_key_checking=the_plan.host_key_checking)
    if not the_plan.host_key_checking:
        testinfra.skip_host_key_checking(cfg)
    results_file = run_dir / "results.json"
    context_file = write_context(
        run_dir / "context.json", results=results_file, suites=[s.to_context() for s in the_plan.suites],
        hosts={h: {"plugins": names, "declared_ports": the_plan.declared_ports.get(h, []),
                   "web_plugins": the_plan.web_plugins.get(h, []), "services": the_plan.services.get(h, [])}
               for h, names in the_plan.hosts.items()},
        secret_names=the_plan.secret_names)
    junit = (options.junit.resolve() if options.junit else run_dir / "junit.xml")
    junit.parent.mkdir(parents=True, exist_ok=True)
    paths = [s.folder for s in the_plan.suites if any(s.folder.glob(CHECKS_GLOB))]
    request = testinfra.PytestRequest(
        test_paths=paths, hosts=sorted(the_plan.hosts), inventories=[the_plan.inventory.paths.root],
        context_file=context_file, junit_file=junit, log_file=run_dir / "pytest.log", workdir=run_dir / "work",
        ansible_cfg=cfg, vault_password_file=the_plan.vault_password_file, marker_expr=the_plan.marker_expr,
        pytest_plugin=PYTEST_PLUGIN)
    outcome = testinfra.run(request)
    data = testinfra.read_results(results_file)
    if data is None:
        tail = "\n".join(outcome.log_file.read_text(errors="replace").splitlines()[-15:])
        raise WorkFailedError(_("the checks did not run (pytest exit {returncode}); see {log_file}:\n{tail}")
                              .format(returncode=outcome.returncode, log_file=outcome.log_file, tail=tail))
    result = _result(the_plan, data, run_dir, junit, outcome.log_file)
    if options.report:
        write_report(result, options.report)
    write_file(run_dir / "result.json", json.dumps(result.to_dict(), indent=2, default=str), mode=0o600)
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
                     "message": _("live check: runs only with --live-test") if "live" in row.get("markers", [])
                     else _("left out by the marker expression {expression!r}").format(
                         expression=the_plan.marker_expr)})
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

