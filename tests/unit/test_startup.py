"""Start-up: `--help` and `plugins list` import neither Ansible nor testinfra (nor pytest)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.plugin_samples import write_plugin

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("ansible", "ansible_runner", "testinfra", "pytest", "_pytest", "paramiko")

# Runs the CLI in-process, then writes the imported module names to a file.
WRAPPER = """
import json, sys
from anl_stack.cli import cli
try:
    cli(sys.argv[2:], prog_name="anl-stack")
except SystemExit as exit:
    code = exit.code
else:
    code = 0
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""


@pytest.mark.parametrize(
    "args",
    [["--help"], ["--version"], ["plugins", "--help"], ["plugins", "list"], ["plugins", "list", "--json"],
     ["plugins", "show", "startdemo"]],
    ids=lambda a: " ".join(a),
)
def test_command_imports_no_heavy_module(tmp_path: Path, args: list[str]) -> None:
    write_plugin(tmp_path / "plugins", "startdemo")
    report = tmp_path / "modules.json"
    env = {**os.environ, "ANL_STACK_PLUGINS_PATH": str(tmp_path / "plugins")}
    result = subprocess.run([sys.executable, "-c", WRAPPER, str(report), *args], capture_output=True, text=True,
                            cwd=PROJECT_ROOT, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    data = json.loads(report.read_text())
    assert data["code"] in (0, None), result.stdout + result.stderr
    assert "anl_stack.cli" in data["modules"]  # the wrapper really ran the CLI
    heavy = [m for m in data["modules"] if m.split(".")[0] in FORBIDDEN]
    assert heavy == [], f"`anl-stack {' '.join(args)}` imported {heavy[:10]}"
