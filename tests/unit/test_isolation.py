"""No unit test writes anl-stack's real state, cache or config folders (tests/unit/conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from anl_stack.core import paths
from tests.unit.conftest import FOLDER_VARIABLES, STARTING_ENVIRONMENT

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def real_folder(variable: str) -> Path:
    """Where anl-stack would write without the suite's folders: the rule of docs/architecture.md, applied
    to the environment the suite started with (root: /var/lib, /var/cache; others: the XDG folders)."""
    env = STARTING_ENVIRONMENT
    if env.get(variable):
        return Path(env[variable])
    kind = FOLDER_VARIABLES[variable]
    if kind != "config" and os.geteuid() == 0:
        return Path("/var/lib/anl-stack" if kind == "state" else "/var/cache/anl-stack")
    xdg, default = {"state": ("XDG_STATE_HOME", ".local/state"), "cache": ("XDG_CACHE_HOME", ".cache"),
                    "config": ("XDG_CONFIG_HOME", ".config")}[kind]
    return Path(env.get(xdg) or Path(env.get("HOME") or Path.home()) / default) / "anl-stack"


@pytest.mark.parametrize("variable", sorted(FOLDER_VARIABLES))
def test_each_folder_is_a_temporary_one_of_this_test(variable: str, tmp_path_factory: pytest.TempPathFactory,
                                                     anl_folders: dict[str, Path]) -> None:
    used = {"ANL_STACK_STATE_DIR": paths.state_dir, "ANL_STACK_CACHE_DIR": paths.cache_dir,
            "ANL_STACK_CONFIG_DIR": paths.config_dir}[variable]()
    assert used == anl_folders[variable]
    assert used.is_relative_to(tmp_path_factory.getbasetemp())
    assert used != real_folder(variable) and not used.is_relative_to(real_folder(variable))


def test_plugins_list_writes_its_cache_here_and_not_in_the_real_folder(anl_folders: dict[str, Path]) -> None:
    """The CLI in a subprocess, as many tests run it: its listing cache lands in this test's folder."""
    real_cache = real_folder("ANL_STACK_CACHE_DIR") / "plugins-list.json"
    done = subprocess.run([sys.executable, "-m", "anl_stack", "plugins", "list", "--json"], capture_output=True,
                          text=True, cwd=PROJECT_ROOT, timeout=120, env={**os.environ, "ANL_STACK_PLUGINS_PATH": ""})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["plugins"], "the listing is empty: nothing shows the cache was written"
    ours = anl_folders["ANL_STACK_CACHE_DIR"] / "plugins-list.json"
    assert ours.is_file(), "plugins list wrote no cache in the suite's cache folder"
    # Another process (a lab run) may write the real cache meanwhile, but never with this run's key.
    assert _key(real_cache) != _key(ours), f"{real_cache} holds this test's listing"


def _key(cache_file: Path) -> str | None:
    """The key a listing cache file was written for (None when there is no such file)."""
    try:
        return json.loads(cache_file.read_text(encoding="utf-8"))["key"]
    except FileNotFoundError:
        return None
