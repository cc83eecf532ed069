"""A check whose SSH connection drops runs once more (the verify pytest plugin, in a real pytest process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from anl_stack import plugin_api

CHECKS = '''
from pathlib import Path

from testinfra.backend.base import CommandResult

RUNS = Path(__file__).with_name("runs")


def _count(name):
    RUNS.mkdir(exist_ok=True)
    runs = RUNS / name
    runs.write_text(runs.read_text() + "x" if runs.exists() else "x")
    return len(runs.read_text())


def _lost(host):
    return RuntimeError(CommandResult(host.backend, 255, b"sshd -T", b"",
                                      b"Warning: Permanently added 'h' (ED25519)\\r\\nConnection closed by 10.0.0.9"))


def test_dropped_once(host):
    """Passes once the connection is back."""
    if _count("once") == 1:
        raise _lost(host)


def test_dropped_twice(host):
    """Loses its connection every time."""
    _count("twice")
    raise _lost(host)


def test_other_runtime_error(host):
    """Fails for a reason of its own."""
    _count("other")
    raise RuntimeError("the check's own error")


def test_command_failed(host):
    """A command that failed is a result, not a lost connection."""
    _count("failed")
    raise RuntimeError(CommandResult(host.backend, 1, b"false", b"", b""))
'''


def test_a_lost_connection_is_retried_once_and_nothing_else_is(tmp_path: Path) -> None:
    checks = tmp_path / "baseline"
    checks.mkdir()
    (checks / "test_checks.py").write_text(CHECKS)
    results = tmp_path / "results.json"
    context = plugin_api.write_context(
        tmp_path / "context.json", results=results,
        suites=[{"name": plugin_api.BASELINE, "dir": str(checks)}],
        hosts={"anlhost": {"plugins": [], "declared_ports": [], "web_plugins": []}}, secret_names=[])
    # The host is named through an Ansible inventory, as verify does; nothing listens on its port.
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    anlhost:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", plugin_api.PYTEST_PLUGIN, "-p", "no:cacheprovider",
                           "-p", "no:xdist", "--anl-context", str(context), "--hosts", "ansible://anlhost",
                           "--ansible-inventory", str(inventory), str(checks)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env=dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}"))
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    rows = {r["check"]: r for r in json.loads(results.read_text())["results"]}
    runs = {f.name: len(f.read_text()) for f in (checks / "runs").iterdir()}
    assert runs == {"once": 2, "twice": 2, "other": 1, "failed": 1}
    assert rows["test_dropped_once"]["outcome"] == "passed" and rows["test_dropped_once"]["retried"]
    twice = rows["test_dropped_twice"]
    assert twice["outcome"] == "failed" and twice["retried"]
    assert "exited 255 twice" in twice["message"] and "Connection closed by 10.0.0.9" in twice["message"]
    assert "Permanently added" not in twice["message"]
    assert rows["test_other_runtime_error"]["outcome"] == "failed" and not rows["test_other_runtime_error"]["retried"]
    assert rows["test_command_failed"]["outcome"] == "failed" and not rows["test_command_failed"]["retried"]
