"""A shared inventory cannot run code on the controller nor lower its guard by itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from anl_stack.cli import cli
from anl_stack.core.errors import AnlError
from anl_stack.core.operator import ALLOW_LOOKUPS_ENV, operator_file
from anl_stack.deploy.targets import host_key_checking
from anl_stack.inventory.model import InventoryPaths, create_inventory, vault_password_file
from anl_stack.inventory.templates import controller_effects
from anl_stack.plugin_api.fixtures import _render


def _inventory(tmp_path: Path, host_vars: dict[str, object]) -> InventoryPaths:
    paths = create_inventory(tmp_path / "inv", commune="gieres", domain="gieres.fr", email="dsi@gieres.fr",
                             vault_password_file=tmp_path / "pw",
                             hosts={"children": {"hello": {"hosts": {"srv1": host_vars}}}})
    (tmp_path / "pw").write_text("a password\n")
    return paths


@pytest.mark.parametrize("text, effect", [
    ("{{ lookup('pipe', 'id') }}", "lookup 'pipe'"),
    ("{{ query('file', '/etc/shadow') }}", "lookup 'file'"),
    ("{{ q('env', 'HOME') | first }}", "lookup 'env'"),
    ("{% include '/etc/passwd' %}", "reads a template file"),
    ("{{ cycler.__init__.__globals__.os.popen('id').read() }}", "'__init__'"),
    ("{{ ''['__class__'] }}", "'__class__'"),
    ("{{ x | ansible.builtin.lookup('pipe') }}", "runs a lookup"),
    ("{{ unclosed", "not a template"),
])
def test_effects_are_named(text: str, effect: str) -> None:
    assert any(effect in found for found in controller_effects(text)), controller_effects(text)


@pytest.mark.parametrize("text", ["plain", "{{ anl_domain }}", "{{ 'cloud.' ~ anl_domain | lower }}",
                                  "{{ hello_port | default(8080) }}"])
def test_plain_templates_do_nothing_on_the_controller(text: str) -> None:
    assert controller_effects(text) == []


def test_inventory_check_and_plan_refuse_a_lookup_and_it_never_runs(tmp_path: Path, test_plugins: Path,
                                                                    isolated_dirs: Path) -> None:
    mark = tmp_path / "ran"
    paths = _inventory(tmp_path, {"ansible_host": f"{{{{ lookup('pipe', 'touch {mark}') }}}}"})
    runner = CliRunner()
    checked = runner.invoke(cli, ["inventory", "check", "-i", str(paths.root), "--json"])
    assert checked.exit_code == 2, checked.output
    records = json.loads(checked.output)["errors"]
    assert [(r["file"], r["key"]) for r in records] == [(str(paths.hosts), "all.children.hello.hosts.srv1.ansible_host")]
    assert "runs the lookup 'pipe' on the controller" in records[0]["message"]
    assert records[0]["line"] is not None
    planned = runner.invoke(cli, ["plan", "hello", "-i", str(paths.root)])
    assert planned.exit_code == 2, planned.output
    assert "lookup 'pipe'" in planned.output
    assert not mark.exists()


def test_the_operator_allows_lookups_from_the_command_line_or_its_own_folder(
        tmp_path: Path, test_plugins: Path, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _inventory(tmp_path, {"ansible_host": "{{ lookup('env', 'LAB_ADDRESS') }}"})
    monkeypatch.setenv(ALLOW_LOOKUPS_ENV, "")  # the flag sets it in this process: unset again after the test
    runner = CliRunner()
    assert runner.invoke(cli, ["inventory", "check", "-i", str(paths.root)]).exit_code == 2
    allowed = runner.invoke(cli, ["--allow-lookups", "inventory", "check", "-i", str(paths.root)])
    assert allowed.exit_code == 0, allowed.output
    monkeypatch.setenv(ALLOW_LOOKUPS_ENV, "")
    # A file inside the inventory cannot allow it ...
    (paths.private / "controller.yml").write_text(yaml.safe_dump({"allow_lookups": True}))
    assert runner.invoke(cli, ["inventory", "check", "-i", str(paths.root)]).exit_code == 2
    # ... the operator's own configuration folder can, for that inventory only.
    operator_file().parent.mkdir(parents=True, exist_ok=True)
    operator_file().write_text(yaml.safe_dump({"allow_lookups": [str(tmp_path / "elsewhere")]}))
    assert runner.invoke(cli, ["inventory", "check", "-i", str(paths.root)]).exit_code == 2
    operator_file().write_text(yaml.safe_dump({"allow_lookups": [str(paths.root)]}))
    assert runner.invoke(cli, ["inventory", "check", "-i", str(paths.root)]).exit_code == 0
    operator_file().write_text("allow_lookup: true\n")
    typo = runner.invoke(cli, ["inventory", "check", "-i", str(paths.root)])
    assert typo.exit_code == 2 and f"{operator_file()}:1: allow_lookup: unknown key" in typo.output


def test_verify_renders_host_variables_in_a_sandbox(tmp_path: Path) -> None:
    mark = tmp_path / "ran"
    payload = f"{{{{ cycler.__init__.__globals__.os.system('touch {mark}') }}}}"
    rendered = _render({"hello_message": payload, "hello_url": "https://{{ hello_domain }}",
                        "hello_domain": "hello.gieres.fr"}, {})
    assert not mark.exists()
    assert rendered["hello_message"] == payload  # left as it was, never run
    assert rendered["hello_url"] == "https://hello.gieres.fr"


def _script(path: Path, mark: Path) -> Path:
    path.write_text(f"#!/bin/sh\ntouch {mark}\necho a password\n")
    path.chmod(0o755)
    return path


def test_a_password_script_inside_the_inventory_is_refused(tmp_path: Path, isolated_dirs: Path) -> None:
    mark = tmp_path / "ran"
    paths = _inventory(tmp_path, {})
    _script(paths.root / "pw.sh", mark)
    paths.private_settings.write_text(yaml.safe_dump({"vault_password_file": "pw.sh"}))
    with pytest.raises(AnlError) as caught:
        vault_password_file(paths)
    record = caught.value.records[0]
    assert record.file == str(paths.root / "pw.sh") and record.key == "vault_password_file"
    assert "executable inside the inventory" in record.message
    assert not mark.exists()
    # The same script, kept by the operator outside the inventory, is theirs to run.
    outside = _script(tmp_path / "operator-pw.sh", mark)
    paths.private_settings.write_text(yaml.safe_dump({"vault_password_file": str(outside)}))
    assert vault_password_file(paths) == outside


def test_host_key_checking_off_needs_the_operator(tmp_path: Path, isolated_dirs: Path) -> None:
    paths = _inventory(tmp_path, {})
    data = yaml.safe_load(paths.private_settings.read_text())
    paths.private_settings.write_text(yaml.safe_dump({**data, "host_key_checking": False}))
    said: list[str] = []
    assert host_key_checking(paths, log=said.append) is True
    assert "is ignored" in said[-1] and str(paths.private_settings) in said[-1]
    operator_file().parent.mkdir(parents=True, exist_ok=True)
    operator_file().write_text(yaml.safe_dump({"allow_no_host_key_checking": [str(paths.root)]}))
    assert host_key_checking(paths, log=said.append) is False
    assert "not checked" in said[-1]
    paths.private_settings.write_text(yaml.safe_dump({**data, "host_key_checking": "no"}))
    with pytest.raises(AnlError, match="is not true or false"):
        host_key_checking(paths)

