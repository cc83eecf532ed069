"""The language of the CLI (--lang, the locale) and the locale of child processes.

French is chosen by ``--lang fr`` anywhere on the command line, else by a
French locale (LANGUAGE, LC_ALL, LC_MESSAGES, LANG), installed or not;
child processes always get C.UTF-8, which exists everywhere, so a French
locale missing on the machine no longer stops Ansible.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from anl_stack.cli import cli
from anl_stack.core import i18n
from anl_stack.core.errors import ErrorRecord

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCALE_VARS = ("ANL_STACK_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


@pytest.fixture(autouse=True)
def neutral_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in LOCALE_VARS:
        monkeypatch.delenv(var, raising=False)


def invoke(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), prog_name="anl-stack", env=env)


@pytest.mark.parametrize(("args", "env", "french"), [
    (["--lang", "fr", "plan", "--help"], None, True),
    (["--lang=fr", "plan", "--help"], None, True),
    (["plan", "--help"], {"LANG": "fr_FR.UTF-8"}, True),
    (["plan", "--help"], {"LC_ALL": "fr_BE@euro"}, True),
    (["plan", "--help"], {"LANGUAGE": "fr:en", "LANG": "C.UTF-8"}, True),
    (["plan", "--help"], {"LC_MESSAGES": "fr_CA.UTF-8", "LANG": "en_US.UTF-8"}, True),
    (["--lang", "en", "plan", "--help"], {"LANG": "fr_FR.UTF-8"}, False),
    (["plan", "--help"], {"LANG": "de_DE.UTF-8"}, False),
    (["plan", "--help"], {"LC_ALL": "C.UTF-8", "LANG": "fr_FR.UTF-8"}, False),  # LC_ALL wins, as gettext does
    (["plan", "--help"], None, False),
])
def test_language_of_help(args: list[str], env: dict[str, str] | None, french: bool) -> None:
    result = invoke(*args, env=env)
    assert result.exit_code == 0, result.output
    english = "Show what deploying PLUGINS would change, per host (check mode with diff)."
    if french:
        assert result.output.startswith("Utilisation : anl-stack plan")
        assert "Montrer ce que le déploiement de PLUGINS changerait" in result.output
        assert "Afficher ce message et quitter." in result.output and english not in result.output
    else:
        assert result.output.startswith("Usage: anl-stack plan") and english in result.output


@pytest.mark.parametrize("args", [["--lang", "fr", "--help"], ["--help", "--lang", "fr"]])  # even after --help
def test_lang_applies_to_the_root_help_and_its_command_list(args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 0
    assert "Commandes :" in result.output and "Déployer des plugins sur les serveurs d'une commune." in result.output
    assert "--lang [fr|en]" in result.output


def test_errors_speak_the_chosen_language_without_traceback(isolated_dirs: Path) -> None:
    french = invoke("--lang", "fr", "verify", "--lab", "nosuchhost")
    assert french.exit_code == 2 and "Traceback" not in french.output
    assert "erreur : --lab : aucun hôte de labo nommé 'nosuchhost' (attendu : un hôte de labo démarré" in french.output
    english = invoke("verify", "--lab", "nosuchhost", env={"LANG": "fr_FR.UTF-8", "LC_ALL": "en_GB.UTF-8"})
    assert english.exit_code == 2 and "error: --lab: no lab host named 'nosuchhost' (expected: a running" in english.output


def test_an_inventory_error_found_deep_in_the_checks_speaks_the_chosen_language(
        tmp_path: Path, test_plugins: Path, isolated_dirs: Path) -> None:
    folder = tmp_path / "inv"
    shutil.copytree(PROJECT_ROOT / "tests" / "data" / "bad_inventories" / "plugin_setting_unknown", folder)
    settings = folder / "group_vars" / "all" / "anl.yml"
    french = invoke("--lang", "fr", "inventory", "check", "-i", str(folder))
    assert french.exit_code == 2 and "Traceback" not in french.output
    assert (f"erreur : {settings}:5 : hello_mesage : réglage inconnu pour hello ; vouliez-vous dire hello_message ?"
            " (attendu : l'un de : ") in french.output
    english = invoke("--lang", "en", "inventory", "check", "-i", str(folder), env={"LANG": "fr_FR.UTF-8"})
    assert english.exit_code == 2
    assert (f"error: {settings}:5: hello_mesage: unknown setting for hello; did you mean hello_message?"
            " (expected: one of: ") in english.output


def test_an_artifact_refusal_speaks_the_chosen_language(tmp_path: Path, isolated_dirs: Path) -> None:
    missing = tmp_path / "nothing.tar"
    french = invoke("--lang", "fr", "artifacts", "import", str(missing))
    assert french.exit_code == 2 and "Traceback" not in french.output
    assert (f"erreur : {missing} : FILE : lot introuvable (attendu : un fichier créé par "
            "`anl-stack artifacts bundle`)") in french.output
    english = invoke("--lang", "en", "artifacts", "import", str(missing), env={"LANG": "fr_FR.UTF-8"})
    assert english.exit_code == 2
    assert (f"error: {missing}: FILE: bundle not found (expected: a file made by "
            "`anl-stack artifacts bundle`)") in english.output


def test_usage_errors_from_click_are_translated() -> None:
    result = invoke("--lang", "fr", "deploy")
    assert result.exit_code == 2
    assert "Erreur : Argument manquant 'PLUGINS...'." in result.output
    assert "Essayez « anl-stack deploy --help » pour l'aide." in result.output
    wrong = invoke("lab", "up", "x", "--debian", "11", env={"LANG": "fr_FR.UTF-8"})
    assert "Valeur non valide pour '--debian' : '11' ne fait pas partie de '13', '12'." in wrong.output
    bad_lang = invoke("--lang", "de", "--help")
    assert bad_lang.exit_code == 2 and "'de' is not one of 'fr', 'en'" in bad_lang.output


def test_the_language_does_not_outlive_a_command() -> None:
    invoke("--lang", "fr", "plan", "--help")
    assert i18n.current_language() == "en"
    assert invoke("plan", "--help").output.startswith("Usage:")


def test_a_failing_record_reads_in_french() -> None:
    record = ErrorRecord("message", "hosts.yml", 3, "all.hosts", "a value")
    assert record.format() == "hosts.yml:3: all.hosts: message (expected: a value)"
    i18n.set_language("fr")
    try:
        assert record.format() == "hosts.yml:3 : all.hosts : message (attendu : a value)"
    finally:
        i18n.set_language(None)


def test_plugins_list_follows_the_top_level_lang(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.unit.plugin_samples import write_plugin

    write_plugin(tmp_path, "tlang", recipe=True)
    monkeypatch.setenv("ANL_STACK_PLUGINS_PATH", str(tmp_path))
    monkeypatch.setenv("ANL_STACK_CACHE_DIR", str(tmp_path / "cache"))
    french = invoke("plugins", "list", "--lang", "fr")
    assert french.output == invoke("--lang", "fr", "plugins", "list").output
    english = invoke("plugins", "list")
    assert french.exit_code == english.exit_code == 0
    assert "version recette" in french.output and "recipe version" in english.output


# --- child processes ------------------------------------------------------------------------

def test_child_processes_get_a_locale_that_exists() -> None:
    env = i18n.child_locale_env({"PATH": "/usr/bin", "LANG": "fr_FR.UTF-8", "LC_TIME": "fr_FR.UTF-8",
                                 "LANGUAGE": "fr", "LC_ALL": "fr_FR"})
    assert env == {"PATH": "/usr/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "ANL_STACK_LANG": "en"}
    i18n.set_language("fr")
    try:
        assert i18n.child_locale_env({})["ANL_STACK_LANG"] == "fr"  # verify's pytest speaks the user's language
    finally:
        i18n.set_language(None)
    assert i18n.detect_language({"ANL_STACK_LANG": "fr", "LANG": "C.UTF-8"}) == "fr"


def _installed(locale_name: str) -> bool:
    listed = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False).stdout.split()
    wanted = locale_name.lower().replace("utf-8", "utf8")
    return any(name.lower().replace("utf-8", "utf8") == wanted for name in listed)


def test_ansible_runs_under_a_french_locale_missing_on_the_machine() -> None:
    """The cause of "host runs an unknown system": Ansible stops on a locale it cannot set."""
    ansible = str(Path(sys.executable).parent / "ansible")
    asked = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "LANG": "fr_FR.UTF-8",
             "LC_ALL": "fr_FR.UTF-8"}
    if not _installed("fr_FR.UTF-8"):
        raw = subprocess.run([ansible, "--version"], capture_output=True, text=True, env=asked, timeout=120, check=False)
        assert raw.returncode != 0 and "locale" in raw.stderr
    fixed = subprocess.run([ansible, "--version"], capture_output=True, text=True, env=i18n.child_locale_env(asked),
                           timeout=120, check=False)
    assert fixed.returncode == 0, fixed.stderr


def test_the_runner_and_testinfra_children_run_under_c_utf8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from anl_stack.adapters import testinfra

    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    monkeypatch.setenv("LC_MESSAGES", "fr_FR.UTF-8")
    request = testinfra.PytestRequest(test_paths=[], hosts=["h"], pytest_plugin="x", inventories=[tmp_path],
                                      context_file=tmp_path / "c", junit_file=tmp_path / "j", log_file=tmp_path / "l",
                                      workdir=tmp_path)
    env = testinfra.build_env(request)
    assert env["LANG"] == env["LC_ALL"] == "C.UTF-8" and "LC_MESSAGES" not in env
    assert env["ANL_STACK_LANG"] == "fr"  # the locale asked for French: the checks' messages follow it


def test_commands_checks_run_on_a_host_are_under_c_utf8(monkeypatch: pytest.MonkeyPatch) -> None:
    from testinfra.backend import base

    from anl_stack.adapters.testinfra import REMOTE_LOCALE, parsable_remote_locale

    monkeypatch.setattr(base.BaseBackend, "get_command", base.BaseBackend.get_command)  # restored afterwards
    parsable_remote_locale()
    parsable_remote_locale()  # once only
    backend = base.BaseBackend("h")
    assert backend.get_command("ls %s", "a b") == REMOTE_LOCALE + "ls 'a b'"
    assert backend.get_command(REMOTE_LOCALE + "ls") == REMOTE_LOCALE + "ls"
    root = base.BaseBackend("h", sudo=True)
    wrapped = root.get_command("ls")
    assert wrapped.startswith("sudo ") and REMOTE_LOCALE + "ls" in wrapped  # inside the root shell
    done = subprocess.run(["sh", "-c", backend.get_command("locale | grep LC_ALL")], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "LC_ALL": "fr_FR.UTF-8"}, check=False)
    assert done.stdout.strip() == "LC_ALL=C.UTF-8"


def test_the_cli_gives_child_processes_c_utf8_and_restores_the_environment(tmp_path: Path) -> None:
    script = ("import os, sys\nfrom anl_stack.cli import cli\n"
              "try:\n    cli(['--help'], prog_name='anl-stack', standalone_mode=False)\n"
              "finally:\n    print(os.environ.get('LANG'), os.environ.get('LC_ALL'))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT_ROOT,
                          env={**os.environ, "LANG": "fr_FR.UTF-8", "PYTHONPATH": str(PROJECT_ROOT)}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Utilisation : anl-stack")
    assert done.stdout.strip().endswith("fr_FR.UTF-8 None")  # the user's own environment back after the run


# --- the verify report a commune files ------------------------------------------------------

@pytest.mark.parametrize("fmt", [".md", ".html"])
def test_the_verify_report_for_the_council_reads_in_french(sample_result, fmt: str) -> None:  # type: ignore[no-untyped-def]
    import json

    from anl_stack.verify.report import render

    english = render(sample_result, fmt)
    i18n.set_language("fr")
    try:
        french = render(sample_result, fmt)
        data = json.loads(render(sample_result, ".json"))
    finally:
        i18n.set_language(None)
    for text in ("Rapport de vérification", "Hôtes", "Vérifications sur srv1", "ÉCHEC", "sans objet",
                 "Conseil :", "détails / correction", "« sans objet » signifie"):
        assert text in french, text
    assert "Verification report" in english and "Verification report" not in french
    assert ('<html lang="fr">' in french) if fmt == ".html" else ("**Inventaire :**" in french)
    assert {c["outcome"] for c in data["checks"]} == {"passed", "failed", "n/a", "not run"}  # JSON stays English
