"""The plugin contract: declared once, provided as declared, documented, and its context version checked."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from anl_stack import plugin_api
from anl_stack.cli import cli
from anl_stack.core.errors import AnlError, ExitCode
from anl_stack.plugin_api import fixtures
from anl_stack.plugins.discovery import Plugin

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _fixture_names() -> set[str]:
    # pytest marks a decorated fixture function with this attribute (pytest 8).
    return {name for name, value in vars(fixtures).items()
            if getattr(value, "_fixture_function_marker", None) is not None and not name.startswith("_")}


def test_the_pytest_plugin_provides_exactly_the_declared_fixtures() -> None:
    assert _fixture_names() == set(plugin_api.FIXTURES)


def test_every_lifecycle_step_but_deploy_has_a_command() -> None:
    commands = set(cli.list_commands(None))  # type: ignore[arg-type]
    steps = {s.name for s in plugin_api.LIFECYCLE}
    assert steps - {"deploy"} <= commands
    assert {"deploy", "plan"} <= commands


def test_a_step_is_found_by_its_declared_playbook(tmp_path: Path) -> None:
    (tmp_path / "playbook.yml").write_text("---\n")
    (tmp_path / "upgrade.yml").write_text("---\n")
    plugin = Plugin(name="demo", path=tmp_path, source="path", origin=str(tmp_path))
    assert plugin.steps == {"deploy": tmp_path / "playbook.yml", "upgrade": tmp_path / "upgrade.yml"}
    assert plugin.recipe_available


def test_an_unknown_step_is_refused() -> None:
    with pytest.raises(AnlError) as caught:
        plugin_api.step_named("migrate")
    assert caught.value.exit_code == ExitCode.REFUSED
    assert "deploy, backup, restore, upgrade, remove" in str(caught.value)


@pytest.mark.parametrize("doc", ["docs/architecture.md", "docs/architecture.fr.md"])
def test_the_architecture_guide_documents_every_name_of_the_contract(doc: str) -> None:
    text = (PROJECT_ROOT / doc).read_text(encoding="utf-8")
    names = [*plugin_api.FIXTURES, *plugin_api.RUN_VARIABLES, *plugin_api.MARKERS, *plugin_api.COMMUNE_SETTINGS,
             *(s.name for s in plugin_api.LIFECYCLE), *(s.playbook for s in plugin_api.LIFECYCLE),
             *(v for s in plugin_api.LIFECYCLE for v in s.variables), plugin_api.PYTEST_PLUGIN]
    missing = [n for n in names if f"`{n}`" not in text]
    assert missing == [], f"{doc} does not name {missing}"


def _context(tmp_path: Path, **changes: object) -> Path:
    path = plugin_api.write_context(tmp_path / "context.json", results=tmp_path / "results.json", suites=[],
                                    hosts={}, secret_names=[])
    data = json.loads(path.read_text())
    data.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del data[key]
    path.write_text(json.dumps(data))
    return path


def test_a_context_of_this_version_is_read(tmp_path: Path) -> None:
    data = plugin_api.read_context(_context(tmp_path))
    assert data["version"] == plugin_api.CONTEXT_VERSION and data["results"] == str(tmp_path / "results.json")


@pytest.mark.parametrize(("changes", "key"), [({"version": 2}, "version"), ({"version": None}, "version"),
                                              ({"hosts": None}, "hosts")])
def test_a_context_of_another_version_or_shape_is_refused(tmp_path: Path, changes: dict, key: str) -> None:
    path = _context(tmp_path, **changes)
    with pytest.raises(AnlError) as caught:
        plugin_api.read_context(path)
    record = caught.value.records[0]
    assert record.file == str(path) and record.key == key


def test_the_checks_process_refuses_a_context_of_another_version(tmp_path: Path) -> None:
    # The real pytest plugin, in a real pytest process, as verify runs it.
    path = _context(tmp_path, version=99)
    (tmp_path / "test_any.py").write_text("def test_nothing():\n    assert 1 + 1 == 2\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", plugin_api.PYTEST_PLUGIN, "-p", "no:cacheprovider",
                           "--anl-context", str(path), str(tmp_path / "test_any.py")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 4, proc.stdout + proc.stderr  # pytest's usage error
    assert "verify context version 99 is not supported" in proc.stderr
    assert "1 passed" not in proc.stdout


def test_the_generated_inventory_takes_only_declared_variables() -> None:
    from anl_stack.deploy.prepare import generated_inventory

    with pytest.raises(ValueError, match="undeclared run variables: anl_surprise"):
        generated_inventory({}, {}, {"anl_surprise": "x"})
    text = generated_inventory({"srv1": [{"port": 443, "protocol": "tcp"}]}, {}, {"anl_restore_from": "ab" * 32},
                               partners=["voisine1"])
    doc = yaml.safe_load(text)
    assert doc["all"]["hosts"]["srv1"]["anl_firewall_ports"] == [{"port": 443, "protocol": "tcp"}]
    assert doc["all"]["vars"]["anl_restore_from"] == "ab" * 32
    assert doc["all"]["children"] == {"anl_backup_partners": {"hosts": {"voisine1": {}}}}


def test_upgrade_and_remove_are_refused_for_a_plugin_without_the_step(isolated_dirs: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # The test plugin hello without its remove step (every plugin of the tree may have one).
    shutil.copytree(PROJECT_ROOT / "tests" / "plugins" / "hello", isolated_dirs / "plugins" / "hello")
    (isolated_dirs / "plugins" / "hello" / "remove.yml").unlink()
    monkeypatch.setenv("ANL_STACK_PLUGINS_PATH", str(isolated_dirs / "plugins"))
    for args in (["upgrade", "hello", "--lab", "nolab"], ["remove", "hello", "--lab", "nolab", "--yes"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, result.output
        assert f"has no {args[0]} step ({args[0]}.yml is missing)" in result.stderr


def test_remove_asks_before_it_runs(isolated_dirs: Path) -> None:
    result = CliRunner().invoke(cli, ["remove", "streaming", "--lab", "nolab", "--purge"], input="n\n")
    assert result.exit_code == 2 and "not confirmed" in result.stderr
