"""Review and evidence records, content digests, quality levels and the deploy refusal."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from anl_stack.cli.plugins_cmd import _quality_text
from anl_stack.core.errors import AnlError
from anl_stack.plugins.check import CheckReport, CheckResult
from anl_stack.plugins.digest import content_digest
from anl_stack.plugins.scaffold import create_plugin
from anl_stack.records import quality
from anl_stack.records.evidence import load_evidence, read_report, record_check, record_evidence
from anl_stack.records.reviews import load_reviews, record_review, require_reviewed
from anl_stack.verify.report import render
from anl_stack.verify.result import VerifyResult

NAME = "demo"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    return create_plugin(NAME, tmp_path / "plugins")


def edit(plugin: Path) -> None:
    """A contributor changes the recipe after it was reviewed."""
    page = next((plugin / "roles" / NAME / "templates").glob("*.j2"))
    page.write_text(page.read_text() + "\n<!-- changed -->\n")


def report_file(tmp_path: Path, plugin: Path, *, environment: str = "lab", release: str = "13.1",
                passed: bool = True, name: str = "r.json", not_run: int = 0) -> Path:
    """A verify report in JSON, written by the report module from a verify result on ``plugin``."""
    lab = environment == "lab"
    result = VerifyResult(
        date="2026-11-28T10:00:00+01:00", inventory=str(tmp_path / "inv"), label="lab q1" if lab else "exemple",
        marker_expr="not live",
        hosts=[{"name": "q1", "plugins": [NAME], "debian_version": release, "codename": "trixie", "lab": lab,
                "environment": environment, "facts": {}}],
        plugins=[{"name": NAME, "recipe_version": "0.1.0", "app_version": "unknown",
                  "digest": content_digest(plugin), "path": str(plugin)}],
        checks=[{"host": "q1", "suite": NAME, "check": "test_page", "outcome": "passed" if passed else "failed",
                 "message": "", "explanation": "", "nodeid": "x"}]
        + [{"host": "q1", "suite": NAME, "check": f"test_app_{i}", "outcome": "not run", "message": "",
            "explanation": "", "nodeid": f"y{i}"} for i in range(not_run)],
        summary={"passed": int(passed), "failed": int(not passed), "error": 0, "n/a": 0, "skipped": 0,
                 "not run": not_run},
        notes=[], run_dir=str(tmp_path), junit="j.xml", log="l.log")
    out = tmp_path / name
    out.write_text(render(result, ".json"))
    return out


def run_summary(tmp_path: Path, plugin: Path, kind: str, changed: int = 0) -> Path:
    """A run folder holding the summary.json shape the deploy engine writes."""
    folder = tmp_path / f"run-{kind}"
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps({
        "kind": kind, "plugins": [NAME], "status": "successful", "rc": 0, "check_mode": False,
        "digests": {NAME: content_digest(plugin)},
        "hosts": {"q1": {"ok": 5, "changed": changed, "failed": 0, "unreachable": 0}}}))
    return folder


def files_of(folder: Path) -> list[str]:
    """Every file under ``folder``, as sorted relative paths (to see that nothing was written)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def clean_check(plugin: Path) -> CheckReport:
    return CheckReport(plugin, [CheckResult(n) for n in ("manifest", "fiches", "artifacts", "settings", "syntax",
                                                         "lint", "verify")])


# --- digests ----------------------------------------------------------------------------

def test_digest_leaves_out_records_and_packaging(plugin: Path) -> None:
    first = content_digest(plugin)
    for rel in ("reviews/2026-01-01-x.yml", "evidence/2026-01-01-lab.yml", "build/lib/x", "dist/x.whl",
                "anl_plugin_demo.egg-info/PKG-INFO"):
        (plugin / rel).parent.mkdir(parents=True, exist_ok=True)
        (plugin / rel).write_text("x")
    (plugin / "pyproject.toml").write_text("# changed packaging\n")
    assert content_digest(plugin) == first
    edit(plugin)
    assert content_digest(plugin) != first


def test_json_report_round_trip(tmp_path: Path, plugin: Path) -> None:
    data = read_report(report_file(tmp_path, plugin))
    assert data["hosts"][0]["environment"] == "lab" and data["exit_code"] == 0
    (tmp_path / "r.md").write_text("# not json")
    with pytest.raises(AnlError) as caught:
        read_report(tmp_path / "r.md")
    assert caught.value.exit_code == 2


# --- review records ---------------------------------------------------------------------------

def test_review_record_carries_digest_versions_and_evidence(tmp_path: Path, plugin: Path) -> None:
    report = report_file(tmp_path, plugin, environment="production", release="12.9")
    file = record_review(plugin, by="Commune de Saint-Étienne-d'Ici", reviewer="A. Martin", evidence=report)
    assert file.parent == plugin / "reviews" and file.name.endswith("-commune-de-saint-etienne-d-ici.yml")
    data = yaml.safe_load(file.read_text())
    assert data["digest"] == digest_of(plugin)
    assert (data["recipe_version"], data["app_version"], data["plugin"]) == ("0.1.0", "unknown", NAME)
    ev = data["evidence"]
    assert ev["debian_releases"] == ["12"] and ev["environments"] == ["production"]
    assert ev["result"] == "passed" and ev["summary"]["passed"] == 1
    stored = plugin / "reviews" / ev["file"]
    assert stored.read_bytes() == report.read_bytes()
    assert ev["sha256"].startswith("sha256:")
    (review,) = load_reviews(plugin, NAME)
    assert (review.status, review.signature, review.production_evidence) == ("current", "unsigned", True)


def test_changed_since_review(tmp_path: Path, plugin: Path) -> None:
    record_review(plugin, by="Commune de A", reviewer="R")
    assert [r.status for r in load_reviews(plugin, NAME)] == ["current"]
    edit(plugin)
    (review,) = load_reviews(plugin, NAME)
    assert review.status == "changed since review" and not review.counts


def test_two_reviews_the_same_day_do_not_overwrite(plugin: Path) -> None:
    first = record_review(plugin, by="Commune de A", reviewer="R")
    second = record_review(plugin, by="Commune de A", reviewer="S")
    assert first != second and first.is_file() and second.is_file()


@pytest.fixture
def gnupg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A throw-away GNUPGHOME with one fresh signing key; returns its fingerprint."""
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Reviewer <dsi@exemple.fr>",
                    "ed25519", "sign", "never"], check=True, capture_output=True)
    out = subprocess.run(["gpg", "--batch", "--with-colons", "--list-secret-keys"], check=True,
                         capture_output=True, text=True).stdout
    fpr = next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr"))
    yield fpr
    subprocess.run(["gpgconf", "--kill", "all"], capture_output=True, check=False)


def test_signed_review_verifies_and_tampering_is_seen(plugin: Path, gnupg_home: str) -> None:
    file = record_review(plugin, by="Commune de B", reviewer="R", sign=gnupg_home)
    assert file.with_name(file.name + ".asc").is_file() and file.with_name(file.stem + ".key.asc").is_file()
    (review,) = load_reviews(plugin, NAME)
    assert (review.signature, review.signer) == ("signed", gnupg_home.upper())
    file.write_text(file.read_text().replace("reviewer: R", "reviewer: Someone else"))
    (review,) = load_reviews(plugin, NAME)
    assert review.signature == "bad signature" and not review.counts


def test_changed_since_review_keeps_the_signer(plugin: Path, gnupg_home: str) -> None:
    record_review(plugin, by="Commune de B", reviewer="R", sign=gnupg_home)
    edit(plugin)
    (review,) = load_reviews(plugin, NAME)
    assert (review.status, review.signature, review.signer) == ("changed since review", "signed", gnupg_home.upper())
    assert not review.counts
    shown = "\n".join(_quality_text(quality.compute(plugin, NAME), "en"))
    assert f"Commune de B (R): changed since review, signed by {gnupg_home.upper()}" in shown


def test_sign_with_unknown_key_is_refused(plugin: Path, gnupg_home: str) -> None:
    with pytest.raises(AnlError) as caught:
        record_review(plugin, by="Commune de B", reviewer="R", sign="nobody@nowhere.example")
    assert caught.value.exit_code == 2 and not list((plugin / "reviews").glob("*.yml"))


# --- evidence and levels ------------------------------------------------------------------------

def test_levels_climb_with_evidence_on_the_current_digest(tmp_path: Path, plugin: Path) -> None:
    assert quality.compute(plugin, NAME).level == 0
    record_check(plugin, clean_check(plugin))
    assert quality.compute(plugin, NAME).level == 1
    record_evidence(plugin, report_file(tmp_path, plugin))
    q = quality.compute(plugin, NAME)
    assert q.level == 2 and q.next_level() == 3 and "idempotent" in (q.missing("en") or "")
    record_evidence(plugin, report_file(tmp_path, plugin, name="r2.json"),
                    idempotence_run=run_summary(tmp_path, plugin, "idempotence"))
    assert quality.compute(plugin, NAME).level == 3
    # Reviews alone do not skip the backup rung.
    production = report_file(tmp_path, plugin, environment="production", name="prod.json")
    record_review(plugin, by="Commune de A", reviewer="R", evidence=production)
    record_review(plugin, by="Commune de B", reviewer="S")
    assert quality.compute(plugin, NAME).level == 3
    record_evidence(plugin, report_file(tmp_path, plugin, name="r3.json"),
                    backup_run=run_summary(tmp_path, plugin, "backup"),
                    restore_run=run_summary(tmp_path, plugin, "restore"))
    assert quality.compute(plugin, NAME).level == 6
    record_evidence(plugin, report_file(tmp_path, plugin, name="r4.json"),
                    upgrade_run=run_summary(tmp_path, plugin, "upgrade"))
    q = quality.compute(plugin, NAME)
    assert q.level == 7 and q.next_level() is None
    # Any change to the recipe: nothing counts any more.
    edit(plugin)
    q = quality.compute(plugin, NAME)
    assert q.level == 0 and any(why == "changed since review" for _, why in q.ignored)


def test_check_without_lint_does_not_reach_level_1(plugin: Path) -> None:
    report = clean_check(plugin)
    report.results[5] = CheckResult("lint", skipped="--no-lint")
    record_check(plugin, report)
    q = quality.compute(plugin, NAME)
    assert q.level == 0 and "did not run" in q.ignored[0][1]


def test_hand_typed_or_altered_evidence_does_not_count(tmp_path: Path, plugin: Path) -> None:
    record_check(plugin, clean_check(plugin))
    (written,) = record_evidence(plugin, report_file(tmp_path, plugin)).records
    assert quality.compute(plugin, NAME).level == 2
    data = yaml.safe_load(written.read_text())
    stored = plugin / "evidence" / data["report"]["file"]
    stored.write_text(stored.read_text().replace('"failed": 0', '"failed": 0 '))
    q = quality.compute(plugin, NAME)
    assert q.level == 1 and "does not match the recorded sha256" in dict(q.ignored)[written.name]
    # A record typed by hand with a report it does not match.
    typed = plugin / "evidence" / "2026-01-01-lab.yml"
    typed.write_text(yaml.safe_dump({**data, "report": {**data["report"], "file": "missing.json"}}))
    assert "missing" in dict(quality.compute(plugin, NAME).ignored)[typed.name]


def test_two_lab_records_the_same_day_both_count(tmp_path: Path, plugin: Path) -> None:
    """The second record's report gets its own file: the first record's source is not rewritten."""
    first = record_evidence(plugin, report_file(tmp_path, plugin, release="13.1", name="a.json"))
    second = record_evidence(plugin, report_file(tmp_path, plugin, release="13.2", name="b.json"))
    lab = [e for e in load_evidence(plugin, NAME, content_digest(plugin)) if e.kind == "lab"]
    assert {e.file: e.problem for e in lab} == {first.records[0]: None, second.records[0]: None}
    assert len({*first.records, *second.records}) == 2 and len({*first.sources, *second.sources}) == 2


@pytest.mark.parametrize("case", ["failed", "production", "stale", "changed-run", "partial"])
def test_evidence_refused(tmp_path: Path, plugin: Path, case: str) -> None:
    kwargs: dict[str, Any] = {}
    if case == "failed":
        report = report_file(tmp_path, plugin, passed=False)
    elif case == "partial":  # checks left out (deploy --tags stack, verify --mark 'not app')
        report = report_file(tmp_path, plugin, not_run=2)
    elif case == "production":
        report = report_file(tmp_path, plugin, environment="production")
    elif case == "stale":
        report = report_file(tmp_path, plugin)
        edit(plugin)
    else:
        report = report_file(tmp_path, plugin)
        kwargs["idempotence_run"] = run_summary(tmp_path, plugin, "idempotence", changed=2)
    before = files_of(plugin)
    with pytest.raises(AnlError) as caught:
        record_evidence(plugin, report, **kwargs)
    assert caught.value.exit_code == 2
    assert files_of(plugin) == before, "a refused record wrote into the plugin"


# --- commune settings: required reviews -----------------------------------------------------------

class _P:
    def __init__(self, path: Path) -> None:
        self.path, self.name = path, NAME


def test_require_reviewed(tmp_path: Path, plugin: Path) -> None:
    settings_file = tmp_path / "anl.yml"
    require_reviewed([_P(plugin)], {}, settings_file)  # not required: nothing to do
    with pytest.raises(AnlError) as caught:
        require_reviewed([_P(plugin)], {"anl_require_reviews": True}, settings_file)
    record = caught.value.records[0]
    assert caught.value.exit_code == 2 and record.key == "anl_require_reviews" and record.file == str(settings_file)
    assert "0 review(s) on its current digest, 1 required" in record.message
    record_review(plugin, by="Commune de A", reviewer="R")
    require_reviewed([_P(plugin)], {"anl_require_reviews": True}, settings_file)
    with pytest.raises(AnlError, match="1 review"):
        require_reviewed([_P(plugin)], {"anl_require_reviews": 2}, settings_file)
    record_review(plugin, by="Commune de B", reviewer="S")
    require_reviewed([_P(plugin)], {"anl_require_reviews": 2}, settings_file)
    edit(plugin)
    with pytest.raises(AnlError, match="changed since review"):
        require_reviewed([_P(plugin)], {"anl_require_reviews": 1}, settings_file)


def test_deploy_refuses_unreviewed_recipe(isolated_dirs: Path, plugin: Path) -> None:
    """The CLI exits 2 naming why, before touching the (unreachable) host."""
    from anl_stack.inventory.model import create_inventory

    paths = create_inventory(
        isolated_dirs / "inventories" / "exemple", commune="exemple", domain="exemple.fr", email="dsi@exemple.fr",
        tls_mode="selfsigned", extra_settings={"anl_require_reviews": True},
        hosts={"hosts": {"srv1": {"ansible_host": "192.0.2.10"}}, "children": {NAME: {"hosts": {"srv1": {}}}}})
    env = {**os.environ, "ANL_STACK_PLUGINS_PATH": str(plugin.parent)}
    before = files_of(paths.root)
    done = subprocess.run([sys.executable, "-m", "anl_stack", "deploy", NAME, "-i", str(paths.root)],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "anl_require_reviews" in done.stderr and "0 review(s) on its current digest" in done.stderr
    # Refused before any run: no run folder, no secret generated, nothing written in the inventory.
    assert files_of(paths.root) == before


def test_inventory_check_validates_the_setting(isolated_dirs: Path) -> None:
    from anl_stack.inventory.check import check_inventory
    from anl_stack.inventory.model import create_inventory

    paths = create_inventory(isolated_dirs / "inv", commune="exemple", domain="exemple.fr", email="dsi@exemple.fr",
                             tls_mode="selfsigned", extra_settings={"anl_require_reviews": "yes", "anl_lab": 1})
    _, problems = check_inventory(paths)
    keys = {p.key for p in problems}
    assert {"anl_require_reviews", "anl_lab"} <= keys


# --- CLI ---------------------------------------------------------------------------------------

def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "anl_stack", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300, check=False)


def test_cli_review_evidence_and_show(tmp_path: Path, plugin: Path) -> None:
    env = {"ANL_STACK_PLUGINS_PATH": str(plugin.parent)}
    done = _cli("plugins", "evidence", str(plugin), "--from-report", str(report_file(tmp_path, plugin)), "--json")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["records"]) == 1
    done = _cli("plugins", "review", str(plugin), "--by", "Commune de A", "--reviewer", "R")
    assert done.returncode == 0 and "(unsigned)" in done.stdout
    shown = _cli("plugins", "show", NAME, "--lang", "en", env=env)
    assert "Quality (computed from evidence)" in shown.stdout
    assert "Commune de A (R): current, unsigned" in shown.stdout
    # lab evidence without a check record: level 0, the missing rung is named
    assert "level: 0" in shown.stdout and "missing for level 1" in shown.stdout
    edit(plugin)
    shown = _cli("plugins", "show", NAME, "--json", env=env)
    data = json.loads(shown.stdout)["quality"]
    assert data["reviews"][0]["status"] == "changed since review"


# --- levels in `plugins list`, against an oracle of this file ------------------------------------

def digest_of(folder: Path) -> str:
    """The content digest as docs/contributing-a-recipe.md and anl_stack/plugins/digest.py define it,
    computed here: sha256 over ``path NUL sha256(content) LF`` of the recipe's files, by sorted path."""
    def part_of_recipe(rel: Path) -> bool:
        top = rel.parts[0]
        return not (any(p.startswith(".") or p == "__pycache__" for p in rel.parts) or rel.suffix in (".pyc", ".pyo")
                    or top in ("reviews", "evidence", "build", "dist", "pyproject.toml") or top.endswith(".egg-info"))

    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                   if p.is_file() and part_of_recipe(p.relative_to(folder)))
    total = hashlib.sha256()
    for rel in files:
        total.update(rel.encode() + b"\0" + hashlib.sha256((folder / rel).read_bytes()).hexdigest().encode() + b"\n")
    return "sha256:" + total.hexdigest()


def level_of(folder: Path) -> int:
    """The level the plugin's records prove, read here from the YAML: the ladder's rungs
    (check, lab, idempotence, backup-restore, a production review, two communes, upgrade), each met by a
    record on the current digest whose source files still have their recorded sha256."""
    digest, name = digest_of(folder), folder.name

    def sources_intact(record: dict) -> bool:
        sources = [s for s in (record.get("check"), record.get("report"), *(record.get("runs") or [])) if s]
        return bool(sources) and all(
            "sha256:" + hashlib.sha256((folder / "evidence" / s["file"]).read_bytes()).hexdigest() == s["sha256"]
            for s in sources)

    def records(subfolder: str, tag: str) -> list[dict]:
        found = [yaml.safe_load(f.read_text(encoding="utf-8")) for f in sorted((folder / subfolder).glob("*.yml"))]
        return [r for r in found if isinstance(r, dict) and r.get("anl_stack_record") == tag
                and r.get("plugin") == name and r.get("digest") == digest]

    kinds = {r["kind"] for r in records("evidence", "evidence") if sources_intact(r)}
    reviews = records("reviews", "review")
    rungs = ["check" in kinds, "lab" in kinds, "idempotence" in kinds, "backup-restore" in kinds,
             any("production" in (r.get("evidence") or {}).get("environments", []) for r in reviews),
             len({r.get("by") for r in reviews}) >= 2, "upgrade" in kinds]
    return next((level for level, met in enumerate(rungs) if not met), len(rungs))


def first_party() -> list[str]:
    """The plugins shipped in the project's plugins/ folder."""
    return sorted(p.name for p in (PROJECT_ROOT / "plugins").iterdir() if p.is_dir() and not p.name.startswith("."))


def test_listing_shows_the_level_its_records_prove(tmp_path: Path) -> None:
    """Plugins with known records: level 3 (check, lab, idempotence), 1 (check only), 0 (changed since)."""
    plugins = tmp_path / "plugins"
    three, one, stale = (create_plugin(name, plugins) for name in (NAME, "demoone", "demostale"))
    record_check(three, clean_check(three))
    record_evidence(three, report_file(tmp_path, three), idempotence_run=run_summary(tmp_path, three, "idempotence"))
    record_check(one, clean_check(one))
    record_check(stale, clean_check(stale))
    edit_page = next((stale / "roles" / "demostale" / "templates").glob("*.j2"))
    edit_page.write_text(edit_page.read_text() + "\n<!-- changed -->\n")
    done = _cli("plugins", "list", "--json", env={"ANL_STACK_PLUGINS_PATH": str(plugins)})
    assert done.returncode == 0, done.stderr
    listed = {p["name"]: p["quality"] for p in json.loads(done.stdout)["plugins"] if p["source"] == "path"}
    assert {name: q["level"] for name, q in listed.items()} == {NAME: 3, "demoone": 1, "demostale": 0}
    assert {name: level_of(plugins / name) for name in listed} == {NAME: 3, "demoone": 1, "demostale": 0}
    assert listed[NAME]["next_level"] == 4 and "backup" in listed[NAME]["missing"]
    assert {name: q["digest"] for name, q in listed.items()} == {name: digest_of(plugins / name) for name in listed}


def test_first_party_plugins_show_the_level_their_records_prove() -> None:
    """Fast: `plugins list --json` gives each plugin of plugins/ the level its evidence and reviews prove."""
    names = first_party()
    assert names, "no plugin in plugins/"
    done = _cli("plugins", "list", "--json", env={"ANL_STACK_PLUGINS_PATH": ""})
    assert done.returncode == 0, done.stderr
    listed = {p["name"]: p for p in json.loads(done.stdout)["plugins"]}
    assert set(names) <= set(listed)
    for name in names:
        q = listed[name]["quality"]
        folder = PROJECT_ROOT / "plugins" / name
        assert (q["level"], q["digest"]) == (level_of(folder), digest_of(folder)), name
        assert q["next_level"] is None or q["missing"]
    text = _cli("plugins", "list", "--lang", "fr", env={"ANL_STACK_PLUGINS_PATH": ""}).stdout
    assert "niveau" in text.splitlines()[0]
    assert all(f"{name}: niveau" in text for name in names)
