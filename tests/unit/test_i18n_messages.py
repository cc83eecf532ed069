"""French output of the messages commands print (--lang fr), area by area.

Each test runs a real command through Click's runner and checks that a
French phrase is there and its English original is not; the same command
with --lang en gives the English text, so a message left out of the
catalogs, or printed without going through it, fails.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from anl_stack.cli import cli

LOCALE_VARS = ("ANL_STACK_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


@pytest.fixture(autouse=True)
def neutral_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in LOCALE_VARS:
        monkeypatch.delenv(var, raising=False)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), prog_name="anl-stack")


def both(*args: str, code: int = 0) -> tuple[str, str]:
    """The output of a command in French and in English (the same exit code)."""
    french, english = invoke("--lang", "fr", *args), invoke("--lang", "en", *args)
    assert french.exit_code == code, french.output
    assert english.exit_code == code, english.output
    assert "Traceback" not in french.output + english.output
    return french.output, english.output


def assert_french(french: str, english: str, pairs: list[tuple[str, str]]) -> None:
    for fr, en in pairs:
        assert fr in french and en not in french, (fr, en, french)
        assert en in english, (en, english)


# --- inventory --------------------------------------------------------------------------------

def test_inventory_init_and_check_speak_french(tmp_path: Path, isolated_dirs: Path, test_plugins: Path) -> None:
    french = invoke("--lang", "fr", "init", "brioux", "--domain", "brioux.fr", "--email", "dsi@brioux.fr",
                    "--dir", str(tmp_path / "fr"), "--tls-mode", "provided")
    english = invoke("--lang", "en", "init", "brioux", "--domain", "brioux.fr", "--email", "dsi@brioux.fr",
                     "--dir", str(tmp_path / "en"), "--tls-mode", "provided")
    assert french.exit_code == english.exit_code == 0, french.output + english.output
    assert_french(french.output, english.output, [
        ("Créé : ", "Created "),
        ("ajoutez vos serveurs sous le groupe de chaque plugin", "add your servers under the group of each plugin"),
        ("réglages de la commune et variables des plugins", "commune settings and plugin variables"),
        ("certificats : provided : indiquez dans anl.yml", "certificates: provided: name the commune's"),
        ("À faire avant un déploiement", "To do before a deploy"),
        ("Ensuite : anl-stack inventory check -i ", "Next: anl-stack inventory check -i "),
    ])
    root = tmp_path / "fr" / "inventories" / "brioux"
    (root / "group_vars" / "all" / "anl.yml").write_text(
        (root / "group_vars" / "all" / "anl.yml").read_text().replace("anl_tls_mode: provided", "anl_tls_mode: acme"))
    fr_check, en_check = both("inventory", "check", "-i", str(root))
    assert_french(fr_check, en_check, [(" hôte(s) ; plugins : aucun pour l'instant", " host(s); plugins: none yet")])


# --- artifacts --------------------------------------------------------------------------------

def test_artifact_cache_messages_speak_french(isolated_dirs: Path) -> None:
    french, english = both("artifacts", "list")
    assert_french(french, english, [("le cache des artefacts est vide (", "the artifact cache is empty (")])
    french, english = both("artifacts", "verify")
    assert_french(french, english, [("le cache des artefacts ne contient rien", "the artifact cache holds nothing")])


# --- lab ----------------------------------------------------------------------------------------

def test_lab_list_without_hosts_speaks_french(isolated_dirs: Path) -> None:
    french, english = both("lab", "list")
    assert_french(french, english, [("aucun hôte de labo", "no lab hosts")])


def test_lab_states_and_progress_lines_speak_french(monkeypatch: pytest.MonkeyPatch) -> None:
    from anl_stack.core import i18n
    from anl_stack.lab import service

    i18n.set_language("fr")
    try:
        assert service.status_label("stale") == "orphelin"
        assert service.status_label("weird") == "weird"  # an unknown state is shown as it is
    finally:
        i18n.set_language(None)
    assert service.status_label("stale") == "stale"


# --- plugins ----------------------------------------------------------------------------------

def test_plugins_new_and_check_speak_french(tmp_path: Path) -> None:
    french = invoke("--lang", "fr", "plugins", "new", "frplug", "--dir", str(tmp_path / "fr"))
    english = invoke("--lang", "en", "plugins", "new", "frplug", "--dir", str(tmp_path / "en"))
    assert french.exit_code == english.exit_code == 0, french.output + english.output
    assert_french(french.output, english.output, [
        ("créé : ", "created "), ("ensuite : anl-stack plugins check ", "next: anl-stack plugins check "),
    ])
    french_check, english_check = both("plugins", "check", "--no-lint", str(tmp_path / "fr" / "frplug"))
    assert_french(french_check, english_check, [
        ("lint : ignoré (--no-lint)", "lint: skipped (--no-lint)"), ("aucun problème", "clean"),
    ])


# --- lifecycle (backups, upgrade), with the service replaced by its result --------------------

def test_backups_without_snapshot_speaks_french(monkeypatch: pytest.MonkeyPatch, isolated_dirs: Path) -> None:
    from anl_stack.deploy import snapshots

    listing = SimpleNamespace(snapshots=[], errors=[SimpleNamespace(key="repo off", message="unreachable")],
                              result=SimpleNamespace(exit_code=0), prep=None)
    monkeypatch.setattr(snapshots, "list_snapshots", lambda *a, **k: listing)
    french, english = both("backups", "hello", "--lab", "demo", code=1)
    assert_french(french, english, [
        ("dépôt", "repository"), ("étiquettes", "labels"),
        ("aucun instantané de hello pour l'instant (anl-stack backup hello", "no snapshot of hello yet"),
        ("avertissement : repo off : unreachable", "warning: repo off: unreachable"),
    ])


def test_upgrade_report_speaks_french(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, isolated_dirs: Path) -> None:
    from anl_stack.deploy import upgrade

    steps = [SimpleNamespace(name="backup", ok=True, detail="h1: 1234abcd in local"),
             SimpleNamespace(name="upgrade step", ok=False, detail="task failed"),
             SimpleNamespace(name="rollback: restore h1", ok=True, detail="done")]
    report = SimpleNamespace(outcome="rolled back", hosts=["h1"], steps=steps, folder=tmp_path, exit_code=1,
                             previous={"version": "1.0.0"}, target={"version": "1.1.0", "digest": "sha256:0"})
    monkeypatch.setattr(upgrade, "upgrade", lambda *a, **k: report)
    french, english = both("upgrade", "hello", "--lab", "demo", code=1)
    assert_french(french, english, [
        ("mise à jour de hello de la recette 1.0.0 à la recette 1.1.0 sur h1 :",
         "upgrade of hello from recipe 1.0.0 to 1.1.0 on h1:"),
        ("ok   sauvegarde : h1", "ok   backup: h1"), ("ÉCHEC étape de mise à jour : task failed", "FAIL upgrade step:"),
        ("retour arrière : restauration de h1 : done", "rollback: restore h1: done"),
        ("revenu en arrière (rapport : ", "rolled back (report: "),
    ])


# --- manifest validation ----------------------------------------------------------------------

def test_manifest_problems_speak_french(tmp_path: Path) -> None:
    created = invoke("plugins", "new", "mfplug", "--dir", str(tmp_path))
    assert created.exit_code == 0, created.output
    manifest = tmp_path / "mfplug" / "plugin.yml"
    manifest.write_text(manifest.read_text().replace(
        "  secrets: []", '  secrets:\n    - {name: other_password, kind: password, length: 32, description: "x"}'))
    french, english = both("plugins", "check", "--no-lint", str(tmp_path / "mfplug"), code=1)
    assert_french(french, english, [
        ("le secret 'other_password' n'est pas préfixé par le nom du plugin",
         "secret 'other_password' is not prefixed with the plugin name"),
        ("(attendu : un nom commençant par 'mfplug_')", "(expected: a name starting with 'mfplug_')"),
    ])
