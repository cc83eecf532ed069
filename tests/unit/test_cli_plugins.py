"""`anl-stack plugins list|show|compare`: text and JSON output, errors and exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from anl_stack.cli import cli
from anl_stack.core.i18n import detect_language
from tests.unit.plugin_samples import manifest_data, write_plugin

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def extra_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three plugins on ANL_STACK_PLUGINS_PATH: one with a recipe, one without, one broken."""
    write_plugin(tmp_path, "tcla", recipe=True)
    data = manifest_data("tclb")
    data["app"]["version"] = "1.9.0"
    data["facts"]["upstream_health"].update(value="unmaintained", since="2021-05-01", alternatives=["tcla"])
    write_plugin(tmp_path, "tclb", data=data)
    bad = manifest_data("tclbad")
    bad["deployment"]["ports"][0]["port"] = "https"
    write_plugin(tmp_path, "tclbad", data=bad)
    monkeypatch.setenv("ANL_STACK_PLUGINS_PATH", str(tmp_path))
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="anl-stack")


def _row(output: str, name: str) -> list[str]:
    for line in output.splitlines():
        cells = line.split()
        if cells and cells[0] == name:
            return cells
    raise AssertionError(f"no row for {name} in:\n{output}")


def test_list_text(extra_plugins: Path) -> None:
    result = run("plugins", "list", "--lang", "en")
    assert result.exit_code == 0, result.output
    assert result.output.split()[:3] == ["name", "recipe", "version"]
    assert _row(result.output, "tcla") == ["tcla", "0.1.0", "1.4.2", "debian-13", "available", "0", "path"]
    assert _row(result.output, "tclb")[4:] == ["not", "yet", "available", "0", "path"]
    assert _row(result.output, "tclbad")[-3:] == ["error", "-", "path"]
    # The broken plugin's error is printed with file, line and key; the command still succeeds.
    bad = extra_plugins / "tclbad" / "plugin.yml"
    assert any(line.startswith(f"error: tclbad: {bad}:") and "deployment.ports[0].port" in line
               for line in result.output.splitlines())


def test_list_reports_shadowed(extra_plugins: Path, tmp_path_factory: pytest.TempPathFactory,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    other = write_plugin(tmp_path_factory.mktemp("other"), "tcla")
    monkeypatch.setenv("ANL_STACK_PLUGINS_PATH", os.pathsep.join([str(extra_plugins), str(other)]))
    result = run("plugins", "list")
    assert result.exit_code == 0
    assert f"shadowed: tcla from path ({other}) is ignored" in result.output
    french = run("plugins", "list", "--lang", "fr")
    assert f"masqué : tcla venant de path ({other}) est ignoré ; path ({extra_plugins / 'tcla'}) passe en premier" \
        in french.output, french.output
    assert "shadowed: " not in french.output


def test_list_json(extra_plugins: Path) -> None:
    result = run("plugins", "list", "--json")
    assert result.exit_code == 0
    plugins = {p["name"]: p for p in json.loads(result.output)["plugins"]}
    assert {k: plugins["tcla"][k] for k in ("recipe_version", "app_version", "platforms", "recipe_status",
                                            "source", "loaded")} == {
        "recipe_version": "0.1.0", "app_version": "1.4.2", "platforms": {"debian-13": True, "debian-12": False},
        "recipe_status": "available", "source": "path", "loaded": True}
    assert plugins["tclb"]["recipe_status"] == "not yet available"
    assert plugins["tclbad"]["loaded"] is False
    assert plugins["tclbad"]["error"][0]["key"] == "deployment.ports[0].port"


def test_show_text_english(extra_plugins: Path) -> None:
    result = run("plugins", "show", "tclb", "--lang", "en")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("Demo tclb (tclb) - recipe 0.1.0 - recipe: not yet available\n")
    for heading in ("Overview", "Who uses it", "Requirements", "Sizing", "Costs (estimate)", "Providers",
                    "References", "Upstream health", "Deployment", "Sources"):
        assert f"\n{heading}\n" in out
    # Facts carry numbered sources; the one without a source is flagged.
    number = re.search(r"\n  Memory \(MB\): 512 \[(\d+)\]\n", out).group(1)
    assert f"\n  [{number}] https://example.org/facts (undated source; checked 2026-11-28)\n" in out
    assert "  Disk (GB): 2 [unverified]\n" in out
    assert "  unmaintained (since 2021-05-01) [" in out
    assert "  Alternatives: tcla" in out
    assert "  - Exemple SARL (SIREN 123456789) https://example.com [" in out
    assert "  - Commune d'Exemple (public body) [" in out


def test_show_text_french_from_locale(extra_plugins: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    result = run("plugins", "show", "tcla")
    assert result.exit_code == 0
    assert "recette: disponible" in result.output.splitlines()[0]
    assert "\nPrérequis\n" in result.output
    assert "  Disque (Go): 2 [non vérifié]\n" in result.output
    assert "Démo tcla" in result.output


def test_show_json(extra_plugins: Path) -> None:
    result = run("plugins", "show", "tcla", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["name"] == "tcla" and data["recipe_status"] == "available" and data["steps"] == ["deploy"]
    assert data["unverified_facts"] == ["facts.requirements.disk_gb"]
    assert data["manifest"]["facts"]["requirements"]["ram_mb"] == {
        "value": 512, "source": "https://example.org/facts", "checked": "2026-11-28", "dated": None}
    assert data["manifest"]["platforms"]["debian-13"]["app_versions"] == ">=1,<2"


def test_show_broken_plugin_refuses_with_its_error(extra_plugins: Path) -> None:
    result = run("plugins", "show", "tclbad")
    assert result.exit_code == 2
    assert "deployment.ports[0].port" in result.stderr and "plugin.yml:" in result.stderr


def test_compare_text(extra_plugins: Path) -> None:
    result = run("plugins", "compare", "tcla", "tclb", "--lang", "en")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["tcla", "tclb"]
    assert [line.split() for line in lines if line.startswith("Disk (GB)")] == [["Disk", "(GB)", "2", "*", "2", "*"]]
    assert any(line.startswith("Upstream health") and "unmaintained (since 2021-05-01)" in line for line in lines)
    assert any(line.startswith("app ") and "1.4.2" in line and "1.9.0" in line for line in lines)
    assert lines[-1] == "* fact without a source: unverified"


def test_compare_json(extra_plugins: Path) -> None:
    result = run("plugins", "compare", "tcla", "tclb", "--json", "--lang", "fr")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["plugins"] == ["tcla", "tclb"] and data["lang"] == "fr"
    rows = {r["key"]: r for r in data["rows"]}
    assert rows["facts.requirements.disk_gb"]["values"]["tcla"]["verified"] is False
    assert rows["facts.requirements.ram_mb"]["values"]["tclb"] == {
        "value": "512", "source": "https://example.org/facts", "checked": "2026-11-28", "verified": True}
    assert rows["facts.upstream_health"]["label"] == "Santé du projet amont"


def test_compare_needs_two(extra_plugins: Path) -> None:
    result = run("plugins", "compare", "tcla")
    assert result.exit_code == 2
    assert "at least two" in result.stderr


@pytest.mark.parametrize("args", [["show", "tclx"], ["compare", "tcla", "tclx"]])
def test_unknown_name_did_you_mean(extra_plugins: Path, args: list[str]) -> None:
    result = run("plugins", *args)
    assert result.exit_code == 2
    assert "unknown plugin 'tclx'; did you mean" in result.stderr
    assert "tcla" in result.stderr.split("did you mean")[1]


def test_unknown_name_json_error_shape(extra_plugins: Path) -> None:
    env = {**os.environ, "ANL_STACK_PLUGINS_PATH": str(extra_plugins)}
    result = subprocess.run([sys.executable, "-m", "anl_stack", "plugins", "show", "tclx", "--json"],
                            capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=120)
    assert result.returncode == 2
    data = json.loads(result.stdout)
    assert data["error"] is True and data["exit_code"] == 2
    assert data["errors"][0]["key"] == "plugin" and "did you mean" in data["errors"][0]["message"]


@pytest.mark.parametrize("args", [[], ["list"], ["show"], ["compare"]])
def test_help(args: list[str]) -> None:
    result = run("plugins", *args, "--help")
    assert result.exit_code == 0
    assert "Usage: anl-stack plugins" in result.output


@pytest.mark.parametrize(
    ("env", "lang"),
    [({"LANG": "fr_FR.UTF-8"}, "fr"), ({"LANG": "fr"}, "fr"), ({"LANG": "en_GB.UTF-8"}, "en"), ({}, "en"),
     ({"LANG": "fr_FR.UTF-8", "LC_ALL": "C"}, "en"), ({"LANG": "C", "LC_MESSAGES": "fr_CA.UTF-8"}, "fr"),
     ({"LC_ALL": "fr_BE@euro"}, "fr"), ({"LANG": "fy_NL"}, "en")],
)
def test_language_from_locale(env: dict[str, str], lang: str) -> None:
    assert detect_language(env) == lang


def _write_fiches(plugin_dir: Path) -> None:
    (plugin_dir / "docs").mkdir()
    (plugin_dir / "docs" / "en.md").write_text(
        "# Demo\n\n## Known limits\n\nSmall.\n\n## What CI does not exercise\n\n- the real camera;\n"
        "- long sessions.\n\n```\n## not a heading\n```\n", encoding="utf-8")
    (plugin_dir / "docs" / "fr.md").write_text(
        "# Démo\n\n## Ce que les tests n'exécutent pas\n\n- la vraie caméra.\n\n## Annexe\n\nAutre.\n",
        encoding="utf-8")


def test_show_quotes_what_ci_does_not_exercise_from_the_fiche(extra_plugins: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _write_fiches(extra_plugins / "tcla")
    english = run("plugins", "show", "tcla", "--lang", "en").output
    section = english.split("\nWhat CI does not exercise (from the fiche)\n", 1)[1]
    assert section.startswith("  - the real camera;\n  - long sessions.\n\n  ```\n  ## not a heading\n  ```\n")
    assert "Small." not in section
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    french = run("plugins", "show", "tcla").output
    section = french.split("\nCe que les tests n'exécutent pas (d'après la fiche)\n", 1)[1]
    assert section.startswith("  - la vraie caméra.\n\n") and "Autre." not in section
    data = json.loads(run("plugins", "show", "tcla", "--json").output)
    assert data["not_in_ci"] == {"fr": "- la vraie caméra.",
                                 "en": "- the real camera;\n- long sessions.\n\n```\n## not a heading\n```"}


def test_show_without_fiches_has_no_such_section(extra_plugins: Path) -> None:
    result = run("plugins", "show", "tcla", "--lang", "en")
    assert result.exit_code == 0 and "What CI does not exercise" not in result.output
    assert json.loads(run("plugins", "show", "tcla", "--json").output)["not_in_ci"] == {}


def test_show_names_a_release_with_its_own_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = manifest_data("tclpkg")
    data["platforms"]["debian-12"] = {"supported": True, "app_version": "1.2.0", "app_versions": "==1.2.0"}
    write_plugin(tmp_path, "tclpkg", data=data)
    monkeypatch.setenv("ANL_STACK_PLUGINS_PATH", str(tmp_path))
    assert "debian-12: yes (==1.2.0, installs 1.2.0)" in run("plugins", "show", "tclpkg", "--lang", "en").output
    assert "debian-12: oui (==1.2.0, installe 1.2.0)" in run("plugins", "show", "tclpkg", "--lang", "fr").output
    assert "debian-13: yes (>=1,<2) - " in run("plugins", "show", "tclpkg", "--lang", "en").output


def test_show_gives_a_web_address_only_for_web_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin without HTTPS (tcp/443), e.g. an XMPP server, has no web address in its fiche."""
    web = manifest_data("tclweb")
    chat = manifest_data("tclchat")
    chat["deployment"]["ports"] = [{"port": 5222, "protocol": "tcp", "purpose": "XMPP clients"}]
    write_plugin(tmp_path, "tclweb", data=web)
    write_plugin(tmp_path, "tclchat", data=chat)
    monkeypatch.setenv("ANL_STACK_PLUGINS_PATH", str(tmp_path))
    address = f"{web['deployment']['subdomain']}.<anl_domain>"
    assert f"Default web address: {address}" in run("plugins", "show", "tclweb", "--lang", "en").output
    assert "Adresse web par défaut" in run("plugins", "show", "tclweb", "--lang", "fr").output
    for lang in ("en", "fr"):
        shown = run("plugins", "show", "tclchat", "--lang", lang).output
        assert "web address" not in shown.lower() and "adresse web" not in shown.lower() and "<anl_domain>" not in shown
    assert json.loads(run("plugins", "show", "tclweb", "--json").output)["web_address"] == address
    assert json.loads(run("plugins", "show", "tclchat", "--json").output)["web_address"] is None
