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


# --- records: why a piece of evidence or a review does not count -------------------------------

def test_records_that_do_not_count_say_why_in_french(tmp_path: Path) -> None:
    from anl_stack.cli.plugins_cmd import _quality_text
    from anl_stack.core.errors import AnlError
    from anl_stack.core.i18n import set_language
    from anl_stack.plugins.scaffold import create_plugin
    from anl_stack.records import quality
    from anl_stack.records.evidence import record_evidence
    from anl_stack.records.reviews import record_review
    from tests.unit.test_reviews import report_file, run_summary

    plugin = create_plugin("demo", tmp_path / "plugins")
    report = report_file(tmp_path, plugin)
    written = record_evidence(plugin, report)
    next(p for p in written.sources if p.suffix == ".json").unlink()  # the stored report goes missing
    record_review(plugin, by="Brioux", reviewer="dsi")
    french = "\n".join(_quality_text(quality.compute(plugin, "demo"), "fr"))
    english = "\n".join(_quality_text(quality.compute(plugin, "demo"), "en"))
    stored = next(p.name for p in written.sources if p.suffix == ".json")
    assert_french(french, english, [
        (f"sa source {stored} est absente", f"its source {stored} is missing"),
        (": à jour, non signée", ": current, unsigned"),
    ])
    # Scripts keep the English texts.
    assert quality.compute(plugin, "demo").to_dict()["ignored"][0]["why"] == f"its source {stored} is missing"

    page = next((plugin / "roles" / "demo" / "templates").glob("*.j2"))
    page.write_text(page.read_text() + "\n<!-- changed -->\n")
    french = "\n".join(_quality_text(quality.compute(plugin, "demo"), "fr"))
    english = "\n".join(_quality_text(quality.compute(plugin, "demo"), "en"))
    assert_french(french, english, [
        ("modifiée depuis cette preuve", "changed since this evidence"),
        ("modifiée depuis la relecture", "changed since review"),
    ])

    # A run that does not prove what it is given for is refused in the chosen language.
    report = report_file(tmp_path, plugin, name="again.json")
    set_language("fr")
    try:
        with pytest.raises(AnlError) as caught:
            record_evidence(plugin, report, idempotence_run=run_summary(tmp_path, plugin, "deploy"))
    finally:
        set_language(None)
    assert "l'exécution est de type 'deploy', pas 'idempotence'" in caught.value.records[0].message


def test_site_quality_block_speaks_french(tmp_path: Path) -> None:
    from anl_stack.catalog.site.content import quality_data
    from anl_stack.plugins.discovery import Plugin
    from anl_stack.plugins.manifest import load_manifest
    from anl_stack.plugins.scaffold import create_plugin
    from anl_stack.records.reviews import record_review

    folder = create_plugin("demo", tmp_path / "plugins")
    (folder / "evidence").mkdir(exist_ok=True)
    (folder / "evidence" / "2026-01-01-lab.yml").write_text("anl_stack_record: evidence\nkind: lab\nplugin: other\n"
                                                            "digest: sha256:0\n")
    record_review(folder, by="Brioux", reviewer="dsi")
    plugin = Plugin(name="demo", path=folder, source="test", origin=str(folder),
                    manifest=load_manifest(folder / "plugin.yml"))
    french, english = quality_data(plugin, "fr"), quality_data(plugin, "en")
    assert french is not None and english is not None
    assert [r["why"] for r in french["ignored"]] == ["elle porte sur le plugin 'other'"]
    assert [r["why"] for r in english["ignored"]] == ["it is about plugin 'other'"]
    assert (french["reviews"][0]["status"], french["reviews"][0]["signature"]) == ("à jour", "non signée")


# --- deploy: host key warnings ------------------------------------------------------------------

def test_host_key_checking_warning_speaks_french(tmp_path: Path, isolated_dirs: Path) -> None:
    from anl_stack.core.i18n import set_language
    from anl_stack.deploy.targets import host_key_checking
    from anl_stack.inventory.model import create_inventory

    paths = create_inventory(tmp_path / "inv", commune="brioux", domain="brioux.fr", email="dsi@brioux.fr")
    paths.private_settings.write_text(paths.private_settings.read_text() + "host_key_checking: false\n")
    said: dict[str, list[str]] = {"fr": [], "en": []}
    for lang in ("fr", "en"):
        set_language(lang)  # type: ignore[arg-type]
        try:
            assert host_key_checking(paths, log=said[lang].append) is True  # refused: no operator allows it
        finally:
            set_language(None)
    assert_french("\n".join(said["fr"]), "\n".join(said["en"]), [
        ("avertissement : ", "warning: "),
        ("est ignoré : les clés d'hôte restent vérifiées", "is ignored: host keys stay checked"),
    ])


# --- upgrade: the details of each step -------------------------------------------------------------

def test_upgrade_step_details_speak_french_and_stay_english_in_upgrade_json(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, isolated_dirs: Path) -> None:
    import json

    from anl_stack.core.errors import ExitCode
    from anl_stack.deploy import upgrade

    captured: dict[str, Any] = {}

    def fake_upgrade(plugin: str, checks: Any, **kwargs: Any) -> Any:
        # The report the upgrade writes, with the details its steps give (deploy/upgrade.py).
        report = upgrade.UpgradeReport("hello", ["h1"], {"version": "1.0.0", "digest": "sha256:" + "a" * 64},
                                       {"version": "1.1.0", "digest": "sha256:" + "b" * 64}, tmp_path)
        report.add("backup", True, upgrade.Text(upgrade.N_("{snapshots} (repository {repository})"),
                                                snapshots="h1: 1234abcd", repository="local"))
        report.add("upgrade step", False, "task failed")
        report.add("rollback", False,
                   upgrade.Text(upgrade.N_("not attempted (--no-rollback): the hosts are left for inspection")))
        report.outcome, report.exit_code = "failed", ExitCode.FAILED
        report.write()
        captured["json"] = json.loads((tmp_path / "upgrade.json").read_text())
        return report

    monkeypatch.setattr(upgrade, "upgrade", fake_upgrade)
    french, english = both("upgrade", "hello", "--lab", "demo", code=1)
    assert_french(french, english, [
        ("ok   sauvegarde : h1: 1234abcd (dépôt local)", "ok   backup: h1: 1234abcd (repository local)"),
        ("non tenté (--no-rollback) : les hôtes sont laissés en l'état pour examen",
         "not attempted (--no-rollback): the hosts are left for inspection"),
    ])
    assert [s["detail"] for s in captured["json"]["steps"]] == [
        "h1: 1234abcd (repository local)", "task failed",
        "not attempted (--no-rollback): the hosts are left for inspection"]


# --- costs: units and prose formulas, in the terminal and on the site --------------------------------

def test_cost_units_speak_french_in_the_command_and_the_calculator() -> None:
    import datetime as dt

    from anl_stack.catalog.site.content import calculator_data
    from anl_stack.plugins.discovery import get_plugin

    french, english = both("plugins", "cost", "nextcloud")
    assert_french(french, english, [("au moins 1 Go (", "at least 1 GB ("), (" EUR/mois", " EUR/month"),
                                    ("= non modélisé", "= not modelled"), ("12 mois", "12 months")])
    data = calculator_data([get_plugin("nextcloud")], "fr", dt.date(2026, 12, 7))
    assert data["texts"]["unit.GB/month"] == "Go/mois" and ["not modelled", "non modélisé"] in data["formulas"]
    units = {a["key"]: a["unit"] for a in data["tools"][0]["assumptions"]}
    assert units["hourly_cost_eur"] == "EUR/h" and units["admin_hours_per_month"] == "h/mois"
    assert units["quota_gb"] == "Go/compte", units


def test_manifest_type_errors_speak_french_instead_of_pydantic_english(tmp_path: Path) -> None:
    created = invoke("plugins", "new", "typlug", "--dir", str(tmp_path))
    assert created.exit_code == 0, created.output
    manifest = tmp_path / "typlug" / "plugin.yml"
    manifest.write_text(manifest.read_text().replace("{port: 443, protocol: tcp", "{port: https, protocol: tcp")
                        .replace("    supported: true", "    supported: maybe", 1))
    french, english = both("plugins", "check", "--no-lint", str(tmp_path / "typlug"), code=1)
    assert_french(french, english, [
        ("deployment.ports[0].port : pas un entier (attendu : un entier", "deployment.ports[0].port: not an integer"),
        ("supported : ni true ni false (attendu : true ou false)", "supported: not true or false"),
    ])
    assert "Input should be" not in french + english


# --- the verify report: anl-stack's own checks explain themselves in French ----------------------

def test_verify_report_explains_the_baseline_checks_in_french(tmp_path: Path) -> None:
    import json

    from anl_stack.core.i18n import set_language
    from anl_stack.plugin_api.fixtures import _doc_parts
    from anl_stack.verify.baseline import test_baseline
    from anl_stack.verify.report import render
    from anl_stack.verify.result import VerifyResult

    explanation, hint = _doc_parts(test_baseline.test_firewall_default_deny)  # as the verify run records them
    plugin_check = ("The page answers.", "restart nginx.")  # a plugin's own check: shown as it is written
    result = VerifyResult(
        date="2026-12-07T10:00:00+01:00", inventory=str(tmp_path), label="brioux", marker_expr="not live",
        hosts=[{"name": "web1", "plugins": ["hello"], "debian_version": "13.1", "codename": "trixie", "lab": False,
                "environment": "production", "facts": {}}],
        plugins=[{"name": "hello", "recipe_version": "0.1.0", "app_version": "unknown", "digest": "sha256:0",
                  "path": str(tmp_path)}],
        checks=[{"host": "web1", "suite": "baseline", "check": "test_firewall_default_deny", "outcome": "failed",
                 "message": "no input chain", "explanation": explanation, "hint": hint, "nodeid": "a"},
                {"host": "web1", "suite": "hello", "check": "test_page", "outcome": "failed", "message": "503",
                 "explanation": plugin_check[0], "hint": plugin_check[1], "nodeid": "b"}],
        summary={"passed": 0, "failed": 2, "error": 0, "n/a": 0, "skipped": 0, "not run": 0},
        notes=[], run_dir=str(tmp_path), junit="j.xml", log="l.log")
    shown: dict[str, dict[str, str]] = {}
    for lang in ("fr", "en"):
        set_language(lang)  # type: ignore[arg-type]
        try:
            shown[lang] = {fmt: render(result, fmt) for fmt in (".md", ".html", ".json")}
        finally:
            set_language(None)
    for fmt in (".md", ".html"):
        assert_french(shown["fr"][fmt], shown["en"][fmt], [
            ("Le pare-feu nftables est chargé, activé au démarrage", "The nftables firewall is loaded, enabled at boot"),
            ("relancez le déploiement (le rôle base écrit /etc/nftables.conf", "re-run the deploy (the base role writes"),
        ])
        assert "The page answers." in shown["fr"][fmt] and "restart nginx." in shown["fr"][fmt]
    # JSON, for tools and records, keeps the checks' own texts.
    checks = json.loads(shown["fr"][".json"])["checks"]
    assert checks[0]["explanation"] == explanation and checks[0]["hint"] == hint
