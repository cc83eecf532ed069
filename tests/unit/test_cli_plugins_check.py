"""`plugins new` and `plugins check`: the skeleton passes; each planted defect is found with file and line."""

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
from anl_stack.plugins.check import check_plugin
from anl_stack.plugins.scaffold import create_plugin

# ansible-lint and ansible-playbook runs: seconds to minutes each.
pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def skeleton(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_plugin("skel", tmp_path_factory.mktemp("skeleton"))


@pytest.fixture
def copy(skeleton: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(skeleton, tmp_path / "skel"))


def _findings(plugin: Path, check: str) -> list:
    report = check_plugin(plugin, lint=(check == "lint"))
    assert not report.ok
    failed = {r.name: r.findings for r in report.results if r.findings}
    assert list(failed) == [check], failed
    return failed[check]


def _line(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_new_creates_every_part(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["plugins", "new", "myplug", "--dir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    folder = Path(json.loads(result.output)["path"])
    for rel in ("plugin.yml", "playbook.yml", "roles/myplug/meta/argument_specs.yml", "roles/myplug/tasks/main.yml",
                "roles/myplug/defaults/main.yml", "roles/myplug/handlers/main.yml", "verify/test_myplug.py",
                "docs/fr.md", "docs/en.md", "reviews", "pyproject.toml"):
        assert (folder / rel).exists(), rel
    again = CliRunner().invoke(cli, ["plugins", "new", "myplug", "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "already exists" in again.stderr
    bad = CliRunner().invoke(cli, ["plugins", "new", "My-Plug", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "invalid plugin name" in bad.stderr


def test_skeleton_passes_check_without_lint(skeleton: Path) -> None:
    result = CliRunner().invoke(cli, ["plugins", "check", str(skeleton), "--no-lint", "--json"])
    assert result.exit_code == 0, result.output
    statuses = {c["check"]: c["status"] for c in json.loads(result.output)["checks"]}
    assert statuses == {"manifest": "ok", "facts": "ok", "fiches": "ok", "artifacts": "ok", "settings": "ok",
                        "syntax": "ok", "lint": "skipped", "verify": "ok"}


@pytest.mark.slow
def test_skeleton_passes_ansible_lint_production(skeleton: Path) -> None:
    report = check_plugin(skeleton, lint=True)
    assert [r.name for r in report.results if r.status != "ok"] == [], report.to_dict()


def test_planted_manifest_defect(copy: Path) -> None:
    manifest = copy / "plugin.yml"
    manifest.write_text(manifest.read_text().replace("category: other", "category: games"))
    [finding] = _findings(copy, "manifest")
    assert (finding.file, finding.line, finding.key) == (str(manifest), _line(manifest, "category:"), "category")


def test_planted_missing_fiche_section(copy: Path) -> None:
    fiche = copy / "docs" / "fr.md"
    fiche.write_text(fiche.read_text().replace("## Limites connues", "## Limites"))
    [finding] = _findings(copy, "fiches")
    assert finding.file == str(fiche) and finding.line and "Limites connues" in finding.message


def test_planted_unpinned_artifact(copy: Path) -> None:
    manifest = copy / "plugin.yml"
    manifest.write_text(manifest.read_text().replace(
        "  artifacts: []", "  artifacts:\n    - {name: page, version: \"1\", url: \"https://example.org/page.tgz\"}"))
    [finding] = _findings(copy, "artifacts")
    assert (finding.file, finding.line, finding.key) == (
        str(manifest), _line(manifest, "name: page"), "deployment.artifacts[0]")


def test_planted_setting_not_in_argument_specs(copy: Path) -> None:
    manifest = copy / "plugin.yml"
    manifest.write_text(manifest.read_text().replace(
        'purpose: "HTTPS"}', 'purpose: "HTTPS", allow_from_setting: skel_allowed}'))
    [finding] = _findings(copy, "settings")
    assert finding.line == _line(manifest, "allow_from_setting")
    assert finding.key == "deployment.ports[0].allow_from_setting" and "skel_allowed" in finding.message


def test_planted_port_opened_by_a_setting_that_is_not_a_bool(copy: Path) -> None:
    manifest = copy / "plugin.yml"
    manifest.write_text(manifest.read_text().replace(
        'purpose: "HTTPS"}', 'purpose: "HTTPS", open_when_setting: skel_domain}'))
    specs = copy / "roles" / "skel" / "meta" / "argument_specs.yml"
    assert "skel_domain:" in specs.read_text()
    [finding] = _findings(copy, "settings")
    assert (finding.line, finding.key) == (_line(manifest, "open_when_setting"), "deployment.ports[0].open_when_setting")
    assert "bool" in finding.message and "default: false" in finding.expected


def test_planted_secret_not_in_argument_specs(copy: Path) -> None:
    manifest = copy / "plugin.yml"
    manifest.write_text(manifest.read_text().replace(
        "  secrets: []", '  secrets:\n    - {name: skel_api_key, kind: token, description: "API key"}'))
    [finding] = _findings(copy, "settings")
    assert (finding.file, finding.line, finding.key) == (
        str(manifest), _line(manifest, "skel_api_key"), "deployment.secrets[0].name")
    assert "secret 'skel_api_key'" in finding.message and "argument_specs.yml" in finding.expected


def test_planted_syntax_error(copy: Path) -> None:
    tasks = copy / "roles" / "skel" / "tasks" / "main.yml"
    tasks.write_text(tasks.read_text() + "\n- name: Broken\n  ansible.builtin.nosuchmodule:\n    x: 1\n")
    [finding] = _findings(copy, "syntax")
    assert finding.file and finding.file.endswith("main.yml") and finding.line


def test_planted_verify_defects(copy: Path) -> None:
    test = copy / "verify" / "test_skel.py"
    test.write_text("import nosuchmodule_xyz\n")
    [finding] = _findings(copy, "verify")
    assert finding.file == str(test) and finding.line == 1
    test.unlink()
    [finding] = _findings(copy, "verify")
    assert finding.message == "no verify test"


def test_planted_verify_syntax_error(copy: Path) -> None:
    """Named at the test file and line with the word SyntaxError, not at pytest's own frame."""
    test = copy / "verify" / "test_skel.py"
    test.write_text(test.read_text() + "\n\ndef test_broken(:\n    pass\n")
    other = copy / "verify" / "test_other.py"
    other.write_text("import nosuchmodule_xyz\n")
    findings = {Path(f.file).name: f for f in _findings(copy, "verify")}
    assert set(findings) == {"test_skel.py", "test_other.py"}
    assert findings["test_skel.py"].line == _line(test, "def test_broken(:")
    assert findings["test_skel.py"].message.startswith("SyntaxError: ")
    assert (findings["test_other.py"].line, findings["test_other.py"].message) == (
        1, "ModuleNotFoundError: No module named 'nosuchmodule_xyz'")


@pytest.mark.slow
def test_planted_lint_defect(copy: Path) -> None:
    tasks = copy / "roles" / "skel" / "tasks" / "main.yml"
    tasks.write_text(tasks.read_text() + "\n- name: Run something\n  ansible.builtin.shell: echo hi\n")
    findings = _findings(copy, "lint")
    assert any(f.file == str(tasks) and f.line and f.line > 30 for f in findings), findings


def test_check_cli_exit_1_on_findings(copy: Path) -> None:
    (copy / "docs" / "en.md").unlink()
    result = CliRunner().invoke(cli, ["plugins", "check", str(copy), "--no-lint"])
    assert result.exit_code == 1
    assert f"  {copy / 'docs' / 'en.md'}: fiche.en: fiche missing" in result.output


@pytest.mark.slow
def test_skeleton_as_installed_distribution_is_discovered(skeleton: Path, tmp_path: Path) -> None:
    source = Path(shutil.copytree(skeleton, tmp_path / "src"))
    site = tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "pip", "install", "-v", "--no-deps", "--no-build-isolation",
                            "--no-index", "--target", str(site), str(source)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    assert "SetuptoolsDeprecationWarning" not in build.stdout + build.stderr
    (metadata,) = site.glob("anl_plugin_skel-*.dist-info/METADATA")
    assert "License-Expression: AGPL-3.0-or-later" in metadata.read_text().splitlines()
    env = {**os.environ, "PYTHONPATH": str(site), "ANL_STACK_PLUGINS_PATH": ""}
    listed = subprocess.run([sys.executable, "-m", "anl_stack", "plugins", "list", "--json"], capture_output=True,
                            text=True, env=env, cwd=PROJECT_ROOT, timeout=120)
    plugins = {p["name"]: p for p in json.loads(listed.stdout)["plugins"]}
    assert plugins["skel"]["source"] == "entry point" and plugins["skel"]["loaded"]
    installed = Path(plugins["skel"]["path"])
    assert installed == site / "anl_plugin_skel"
    assert (installed / "roles" / "skel" / "meta" / "argument_specs.yml").is_file()
    assert yaml.safe_load((installed / "plugin.yml").read_text())["name"] == "skel"
