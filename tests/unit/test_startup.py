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


def _in_process(tmp_path: Path, args: list[str], **env: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    """Run ``anl-stack ARGS`` through WRAPPER: the process, and what WRAPPER recorded (exit code, modules)."""
    report = tmp_path / "modules.json"
    result = subprocess.run([sys.executable, "-c", WRAPPER, str(report), *args], capture_output=True, text=True,
                            cwd=PROJECT_ROOT, env={**os.environ, **env}, timeout=120)
    return result, json.loads(report.read_text())


@pytest.mark.parametrize(
    "args",
    [["--help"], ["--version"], ["plugins", "--help"], ["plugins", "list"], ["plugins", "list", "--json"],
     ["plugins", "show", "startdemo"]],
    ids=lambda a: " ".join(a),
)
def test_command_imports_no_heavy_module(tmp_path: Path, args: list[str]) -> None:
    write_plugin(tmp_path / "plugins", "startdemo")
    result, data = _in_process(tmp_path, args, ANL_STACK_PLUGINS_PATH=str(tmp_path / "plugins"))
    assert result.returncode == 0, result.stderr
    assert data["code"] in (0, None), result.stdout + result.stderr
    assert "anl_stack.cli" in data["modules"]  # the wrapper really ran the CLI
    heavy = [m for m in data["modules"] if m.split(".")[0] in FORBIDDEN]
    assert heavy == [], f"`anl-stack {' '.join(args)}` imported {heavy[:10]}"


def _list_in_process(tmp_path: Path, plugins: Path, *args: str) -> tuple[str, list[str]]:
    """``plugins list ARGS`` with its own cache folder: (what it printed, the modules it imported)."""
    result, data = _in_process(tmp_path, ["plugins", "list", *args], ANL_STACK_PLUGINS_PATH=str(plugins),
                               ANL_STACK_CACHE_DIR=str(tmp_path / "cache"))
    assert result.returncode == 0 and data["code"] in (0, None), result.stderr
    return result.stdout, data["modules"]


@pytest.mark.parametrize("args", [["--lang", "fr"], ["--lang", "en"], ["--json"]], ids=" ".join)
def test_warm_list_prints_the_same_without_loading_manifests(tmp_path: Path, args: list[str]) -> None:
    write_plugin(tmp_path / "plugins", "startdemo")
    cold, cold_modules = _list_in_process(tmp_path, tmp_path / "plugins", *args)
    warm, warm_modules = _list_in_process(tmp_path, tmp_path / "plugins", *args)
    assert "startdemo" in cold and warm == cold
    assert "anl_stack.plugins.manifest" in cold_modules  # the cold run validated the manifests
    assert "pydantic" not in warm_modules and "anl_stack.plugins.manifest" not in warm_modules


def test_list_cache_follows_every_plugin_file(tmp_path: Path) -> None:
    folder = write_plugin(tmp_path / "plugins", "startdemo")
    _list_in_process(tmp_path, tmp_path / "plugins", "--json")
    manifest = folder / "plugin.yml"
    manifest.write_text(manifest.read_text().replace("version: 0.1.0", "version: 0.2.0", 1))
    listed = json.loads(_list_in_process(tmp_path, tmp_path / "plugins", "--json")[0])["plugins"]
    assert [p["recipe_version"] for p in listed if p["name"] == "startdemo"] == ["0.2.0"]
    # A broken manifest shows at once, and so does a plugin that appears.
    manifest.write_text("name: [")
    write_plugin(tmp_path / "plugins", "another")
    text, modules = _list_in_process(tmp_path, tmp_path / "plugins", "--lang", "en")
    assert "another" in text and "error: startdemo" in text and "pydantic" in modules


def test_unreadable_list_cache_is_ignored(tmp_path: Path) -> None:
    write_plugin(tmp_path / "plugins", "startdemo")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "plugins-list.json").write_text("{not json")
    text, _ = _list_in_process(tmp_path, tmp_path / "plugins", "--lang", "en")
    assert "startdemo" in text
    assert json.loads((tmp_path / "cache" / "plugins-list.json").read_text())["listing"]["json"]["plugins"]
