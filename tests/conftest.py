"""Shared test configuration.

Fixture modules live in tests/fixtures/ (one per area) and are loaded here,
so each area owns its fixtures without editing this file twice.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = [
    name
    for name in (
        "tests.fixtures.lab",
        "tests.fixtures.deploy",
        "tests.fixtures.verify",
        "tests.fixtures.browser",
    )
    if (PROJECT_ROOT / (name.replace(".", "/") + ".py")).exists()
]


@pytest.fixture
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point anl-stack's state, cache and config folders into tmp_path."""
    for name in ("STATE", "CACHE", "CONFIG"):
        folder = tmp_path / name.lower()
        folder.mkdir()
        monkeypatch.setenv(f"ANL_STACK_{name}_DIR", str(folder))
    return tmp_path


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


# Lab modules, longest first (the per-module times printed at the end of a
# run). With `-n 2 --dist loadfile --no-loadscope-reorder`, each worker takes
# the next whole module in this order when it is free, so starting with the
# long ones lets both workers finish close together. Other modules follow in
# collection order.
LONGEST_FIRST = (
    "test_nextcloud.py", "test_streaming.py", "test_lifecycle.py", "test_backup.py", "test_peertube.py",
    "test_framadate.py", "test_deploy_hello.py", "test_mastodon.py", "test_roles.py", "test_nextcloud_drill.py",
    "test_contributing.py", "test_verify_lab.py", "test_collection.py", "test_fleet.py", "test_acme.py",
    "test_lab.py", "test_backup_tool.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Time per test module (setup, call and teardown), to keep LONGEST_FIRST in order."""
    seconds: dict[str, float] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if isinstance(report, pytest.TestReport):
                module = report.nodeid.split("::")[0]
                seconds[module] = seconds.get(module, 0.0) + report.duration
    slow = sorted(((s, m) for m, s in seconds.items() if s >= 30), reverse=True)
    if slow:
        terminalreporter.write_sep("=", "time per test module (30 s or more)")
        for spent, module in slow:
            terminalreporter.write_line(f"{spent / 60:6.1f} min  {module}")
