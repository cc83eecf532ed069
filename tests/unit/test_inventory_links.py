"""A shared inventory holding a symbolic link out of itself is refused before anything reads it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from anl_stack.cli import cli

EXAMPLE = Path(__file__).resolve().parents[2] / "inventories" / "exemple"


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    folder = tmp_path / "commune"
    shutil.copytree(EXAMPLE, folder)
    return folder


def _check(folder: Path) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["inventory", "check", "-i", str(folder), "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, json.loads(result.output)


@pytest.mark.parametrize("plant", ["group_vars/all/zz.yml", "host_vars/cloud1.yml", "hosts.yml"])
def test_link_to_a_controller_file_is_refused(inventory: Path, tmp_path: Path, plant: str) -> None:
    secret = tmp_path / "controller-secret.yml"
    secret.write_text("anl_domain: stolen.example\n")
    target = inventory / plant
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    target.symlink_to(secret)
    code, payload = _check(inventory)
    assert code == 2
    [record] = [r for r in payload["errors"] if r["file"] == str(target)]
    assert record["key"] == plant and "outside the inventory" in record["message"] and str(secret) in record["message"]
    assert "inside the inventory" in record["expected"]


def test_link_inside_the_inventory_is_accepted(inventory: Path) -> None:
    (inventory / "group_vars" / "streaming.yml").symlink_to(inventory / "group_vars" / "all" / "anl.yml")
    code, payload = _check(inventory)
    assert code == 0, payload


def test_link_to_the_folder_above_is_a_loop(inventory: Path) -> None:
    (inventory / "group_vars" / "loop").symlink_to(inventory)
    code, payload = _check(inventory)
    assert code == 2 and any("a folder holding it" in r["message"] for r in payload["errors"])


def test_run_folders_are_not_walked_but_a_planted_link_in_their_place_is(inventory: Path, tmp_path: Path) -> None:
    runs = inventory / ".anl-stack" / "runs" / "old"
    runs.mkdir(parents=True)
    (runs / "link").symlink_to(tmp_path)  # anl-stack's own folder: its writer refuses links itself
    assert _check(inventory)[0] == 0
    shutil.rmtree(inventory / ".anl-stack")
    (inventory / ".anl-stack").symlink_to(tmp_path)
    code, payload = _check(inventory)
    assert code == 2 and any(r["key"] == ".anl-stack" for r in payload["errors"])
