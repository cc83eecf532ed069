"""The layers of anl_stack hold: import-linter's contracts pass, and fail on a planted violation.

The contracts live in pyproject.toml (``[tool.importlinter]``). Each
planted case copies the package into a temporary folder, adds one import
there and runs the linter on the copy, so the real tree is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(package_parent: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", str(config)], capture_output=True, text=True,
                          cwd=package_parent, env=env, timeout=300)


def test_contracts_pass_on_the_tree() -> None:
    result = _lint(PROJECT_ROOT, PROJECT_ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _planted(tmp_path: Path, module: str, line: str) -> subprocess.CompletedProcess[str]:
    """Lint a copy of anl_stack where ``module`` (a path under it) gains ``line`` at its end."""
    copy = tmp_path / "anl_stack"
    shutil.copytree(PROJECT_ROOT / "anl_stack", copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    config = tmp_path / "pyproject.toml"
    shutil.copy(PROJECT_ROOT / "pyproject.toml", config)
    return _lint(tmp_path, config)


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # core imports a feature package: an upward import.
        ("core/errors.py", "from anl_stack.deploy import engine  # noqa", "cli -> feature packages"),
        # the plugin contract imports what it describes.
        ("plugin_api/__init__.py", "import anl_stack.plugins.discovery  # noqa", "cli -> feature packages"),
        # an adapter reaches into a feature package, inside a function.
        ("adapters/ssh.py", "def _planted():\n    from anl_stack.lab import state  # noqa", "adapters import no feature"),
        # two modules of one package import each other: a cycle.
        ("deploy/targets.py", "def _planted():\n    from anl_stack.deploy import engine  # noqa", "no import cycle"),
        # records read more of verify than its result schema.
        ("records/quality.py", "from anl_stack.verify import plan  # noqa", "cli -> feature packages"),
        # a feature package talks to ansible-runner without its adapter.
        ("deploy/events.py", "import ansible_runner  # noqa", "stay in adapters and the CLI"),
    ],
    ids=["core-upward", "contract-upward", "adapter-to-feature", "cycle", "records-beyond-result", "runner"],
)
def test_a_planted_violation_fails(tmp_path: Path, module: str, line: str, broken: str) -> None:
    result = _planted(tmp_path, module, line)
    assert result.returncode != 0, result.stdout
    assert f"{broken}" in result.stdout and "BROKEN" in result.stdout, result.stdout
    # The report names the planted import: "anl_stack.core.errors -> ..." (or ".targets -> .engine" for a cycle).
    planted = module.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    assert f"{planted} ->" in result.stdout or f".{planted.rsplit('.', 1)[-1]} ->" in result.stdout, result.stdout


def _cycles(graph: grimp.ImportGraph) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[set[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_no_module_level_import_cycle() -> None:
    # Every import counts, at the top of a module or inside a function.
    graph = grimp.build_graph("anl_stack", cache_dir=None)
    # An import inside a function (the CLI's lazy ones) is in the graph.
    assert graph.direct_import_exists(importer="anl_stack.cli.deploy_cmd", imported="anl_stack.deploy.engine")
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(name)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert _cycles(graph) == [{"pkg.a", "pkg.b", "pkg.c"}]
