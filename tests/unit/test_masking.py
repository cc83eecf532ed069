"""A vault secret that surfaces in a failed task's message is masked everywhere anl-stack shows or keeps it."""

from __future__ import annotations

import io
import json
import sys
import threading
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from anl_stack.cli.output import fail
from anl_stack.cli.progress import display_factory
from anl_stack.core import masking
from anl_stack.core.errors import AnlError
from anl_stack.deploy import ansible_cfg
from anl_stack.deploy.engine import Options, run_once
from anl_stack.deploy.prepare import Prepared, Scrubber
from anl_stack.deploy.targets import Target
from anl_stack.inventory.model import create_inventory, load_inventory
from anl_stack.plugin_api import GENERATED_INVENTORY

SECRET = "Zq8-vault-secret-9f2c"


def _prepared(tmp_path: Path) -> Prepared:
    paths = create_inventory(tmp_path / "inv", commune="gieres", domain="gieres.fr", email="dsi@gieres.fr",
                             vault_password_file=tmp_path / "pw")
    play = [{"hosts": "localhost", "gather_facts": False, "vars": {"db_password": SECRET}, "tasks": [
        {"name": "Connect to the database", "ansible.builtin.fail": {"msg": "login refused for {{ db_password }}"}}]}]
    local = {"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                             "ansible_python_interpreter": sys.executable}}}}
    cfg = ansible_cfg.write(tmp_path / "ansible.cfg", host_key_checking=False)
    return Prepared(target=Target(paths, tmp_path / "pw"), inventory=load_inventory(paths), plugins=[], hosts=[],
                    env=ansible_cfg.ansible_env(cfg, host_key_checking=False),
                    files={"project/site.yml": yaml.safe_dump(play), GENERATED_INVENTORY: yaml.safe_dump(local)},
                    scrub=Scrubber([SECRET]), generated_secrets=[])


@pytest.mark.slow
@pytest.mark.parametrize("json_output", [True, False])
def test_failed_task_message_is_masked(tmp_path: Path, json_output: bool) -> None:
    out = io.StringIO()
    report = run_once(_prepared(tmp_path), "deploy", Options(display=display_factory(json_output=json_output, out=out)),
                      threading.Event())
    assert report.failed_hosts == ["localhost"] or report.model.errors
    shown = out.getvalue()
    if json_output:  # the text display names the failed host; its message is printed by the CLI at the end
        assert "login refused for" in shown and masking.MASK in shown
    assert "localhost" in shown and SECRET not in shown
    messages = [e["message"] for e in report.model.errors]
    assert messages and all(SECRET not in m and masking.MASK in m for m in messages)
    for kept in (p for p in report.folder.rglob("*") if p.is_file()):
        assert SECRET not in kept.read_text(), kept


def test_errors_the_cli_prints_are_masked() -> None:
    masking.remember([SECRET])
    error = AnlError(f"task failed: password {SECRET} refused", file="inv/hosts.yml", key=f"x_{SECRET}")

    def run(json_output: bool) -> str:
        runner = CliRunner()
        import click

        @click.command()
        def command() -> None:
            fail(error, json_output=json_output)

        return runner.invoke(command).output

    text, data = run(False), run(True)
    assert SECRET not in text and "task failed: password ******** refused" in text
    assert SECRET not in data and json.loads(data)["errors"][0]["message"] == "task failed: password ******** refused"


def test_short_values_and_other_text_are_left_alone() -> None:
    masking.remember(["abc"])
    assert masking.mask("abc def") == "abc def"
    assert masking.mask_data({"k": [1, "x"]}, ["secret-long"]) == {"k": [1, "x"]}
