"""Every inventory of the corpus is refused with exit 2, naming file and key, without a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from anl_stack.cli import cli

CORPUS = Path(__file__).resolve().parent.parent / "data" / "bad_inventories"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES)
def test_bad_inventory_refused(case: str, tmp_path: Path, test_plugins: Path, isolated_dirs: Path) -> None:
    folder = tmp_path / case
    shutil.copytree(CORPUS / case, folder)
    expect = yaml.safe_load((folder / "expect.yml").read_text())
    (folder / "expect.yml").unlink()

    result = CliRunner().invoke(cli, ["inventory", "check", "-i", str(folder), "--json"])
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    payload = json.loads(result.output)
    records = payload["errors"]
    wanted_file = str(folder / expect["file"])
    matching = [r for r in records if r["file"] == wanted_file]
    assert matching, f"no error names {wanted_file}: {records}"
    if expect.get("key"):
        assert any(r["key"] == expect["key"] for r in matching), records
    assert all(r["message"] for r in records)
    located = [r for r in matching if r["line"] is not None]
    assert located, "the error gives a line"


def test_text_output_names_file_and_key_without_traceback(tmp_path: Path, test_plugins: Path) -> None:
    """The real process, as an operator runs it."""
    folder = tmp_path / "inv"
    shutil.copytree(CORPUS / "plugin_setting_unknown", folder)
    env = dict(os.environ, ANL_STACK_CONFIG_DIR=str(tmp_path / "cfg"))
    proc = subprocess.run([sys.executable, "-m", "anl_stack", "inventory", "check", "-i", str(folder / "hosts.yml")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert f"{folder}/group_vars/all/anl.yml:5: hello_mesage: unknown setting for hello; did you mean hello_message?" \
        in proc.stderr


def test_yaml_syntax_error_gives_line(tmp_path: Path, test_plugins: Path) -> None:
    folder = tmp_path / "inv"
    shutil.copytree(CORPUS / "yaml_syntax_hosts", folder)
    result = CliRunner().invoke(cli, ["inventory", "check", "-i", str(folder)])
    assert result.exit_code == 2
    assert f"{folder}/hosts.yml:4: not valid YAML" in result.output
