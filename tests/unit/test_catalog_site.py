"""The catalog site's pure parts: page model, escaping, catalog.json, publiccode.yml, refusals (exit 2).

Sites are built from small plugin folders written by the tests (one of them
hostile: every manifest value and its fiche try to inject HTML or load
something from another host), and once from the shipped plugins.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from anl_stack.catalog.site.build import MARKER, build_site, check_target
from anl_stack.catalog.site.export import (
    CATALOG_VERSION,
    SHORT_MAX,
    missing_mandatory,
    publiccode_data,
    publiccode_text,
)
from anl_stack.catalog.site.markdown import render_markdown
from anl_stack.catalog.site.render import is_web_url, json_script, linked
from anl_stack.catalog.site.routes import page_path, relative
from anl_stack.cli import cli
from anl_stack.core.errors import AnlError
from anl_stack.plugins.discovery import discover_plugins
from tests.unit.plugin_samples import manifest_data, write_plugin

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = '<script>alert("x")</script><img src=https://evil.example/i.png onerror=alert(1)>'
FICHE_FR = """# Titre

## Présentation

{hostile}

Un lien vers [le dépôt](../../docs/operations.md), [un site](https://example.org/page) et
[un piège](javascript:alert(1)), une image ![logo](https://evil.example/logo.png).

## Ce que les tests n'exécutent pas

Rien de réel : {hostile}
"""


def plugins_in(folder: Path) -> list:
    return discover_plugins(in_tree=folder, plugins_path="", entry_points=False)


@pytest.fixture
def hostile_plugins(tmp_path: Path) -> list:
    root = tmp_path / "plugins"
    data = manifest_data("evil")
    data["title"] = {"fr": HOSTILE, "en": HOSTILE}
    data["summary"] = {"fr": HOSTILE + " résumé", "en": HOSTILE + " summary"}
    data["app"] = {"name": HOSTILE, "version": "1.0", "licence": "MIT", "homepage": "javascript:alert(1)",
                   "source": "https://example.org/src\"onmouseover=alert(1)"}
    data["facts"]["users"] = [{"name": HOSTILE, "kind": "commune", "notes": {"fr": HOSTILE, "en": HOSTILE},
                               "source": "https://example.net/a?b=1&c=<x> ; javascript:alert(2)",
                               "checked": "2026-11-28"}]
    folder = write_plugin(root, "evil", data=data)
    (folder / "docs").mkdir()
    (folder / "docs" / "fr.md").write_text(FICHE_FR.format(hostile=HOSTILE), encoding="utf-8")
    (folder / "docs" / "en.md").write_text(FICHE_FR.format(hostile=HOSTILE).replace(
        "Ce que les tests n'exécutent pas", "What CI does not exercise"), encoding="utf-8")
    write_plugin(root, "calme")
    return plugins_in(root)


@pytest.fixture
def site(tmp_path: Path, hostile_plugins: list) -> Path:
    out = tmp_path / "site"
    build_site(out, plugins=hostile_plugins)
    return out


def html_files(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


# --- page model -----------------------------------------------------------------------------------

def test_french_at_the_root_english_under_en() -> None:
    assert page_path("tool", "fr", "fr", "nextcloud") == "outils/nextcloud.html"
    assert page_path("tool", "en", "fr", "nextcloud") == "en/tools/nextcloud.html"
    assert page_path("cost", "en", "en") == "costs.html"
    assert page_path("cost", "fr", "en") == "fr/couts.html"
    assert relative("en/tools/a.html", "en/costs.html") == "../costs.html"
    assert relative("index.html", "en/index.html") == "en/index.html"


def test_every_page_in_both_languages_with_a_switch(site: Path) -> None:
    pages = {p.relative_to(site).as_posix() for p in html_files(site)}
    expected = {"index.html", "comparatif.html", "couts.html", "qualite.html", "utilisateurs.html",
                "outils/evil.html", "outils/calme.html"}
    assert expected | {"en/index.html", "en/comparison.html", "en/costs.html", "en/quality.html", "en/users.html",
                       "en/tools/evil.html", "en/tools/calme.html"} == pages
    french = (site / "outils" / "calme.html").read_text()
    assert '<html lang="fr">' in french and 'href="../en/tools/calme.html" hreflang="en"' in french
    english = (site / "en" / "tools" / "calme.html").read_text()
    assert '<html lang="en">' in english and 'href="../../outils/calme.html" hreflang="fr"' in english


def test_internal_links_point_at_files_of_the_site(site: Path) -> None:
    for page in html_files(site):
        for href in re.findall(r'(?:href|src)="([^"]+)"', page.read_text()):
            if href.startswith(("https://", "http://", "#", "data:")):
                continue
            target = (page.parent / href.split("#")[0]).resolve()
            assert target.is_file(), f"{page.relative_to(site)}: {href}"


def test_french_pages_are_in_french(site: Path) -> None:
    page = (site / "outils" / "calme.html").read_text()
    for english in ("Quality level", "Who uses it", "Cost calculator", "Skip to content", "Facts and their sources"):
        assert english not in page, english
    for french in ("Niveau de qualité", "Qui l'utilise", "Calculateur de coûts", "Aller au contenu"):
        assert french.replace("'", "&#39;") in page, french
    assert "Cost calculator" in (site / "en" / "tools" / "calme.html").read_text()


def test_tool_page_shows_level_records_and_not_in_ci(site: Path) -> None:
    page = (site / "outils" / "evil.html").read_text()
    assert "Niveau 0 sur 7" in page and 'id="not-in-ci"' in page and "Rien de réel" in page
    # The fiche's last section is shown once, next to the level, not repeated in the fiche.
    assert page.count("Rien de réel") == 1


def test_users_are_listed_with_their_source_link(site: Path) -> None:
    page = (site / "utilisateurs.html").read_text()
    assert "Commune d&#39;Exemple" in page and '<a href="https://example.net">https://example.net</a>' in page


# --- escaping ---------------------------------------------------------------------------------------

def test_no_manifest_or_fiche_value_reaches_a_page_unescaped(site: Path) -> None:
    for page in html_files(site) + [site / "couts.html"]:
        text = page.read_text()
        assert "<script>alert" not in text and "<img" not in text, page
        assert 'href="javascript:' not in text and '"onmouseover' not in text, page
        # The only scripts are the site's own and the calculator's JSON data block.
        scripts = re.findall(r"<script[^>]*>", text)
        assert set(scripts) <= {'<script type="application/json" id="calc-data">', '<script src="assets/cost-model.js">',
                                '<script src="assets/calculator.js">', '<script src="../assets/cost-model.js">',
                                '<script src="../assets/calculator.js">'}, (page, scripts)
    tool = (site / "outils" / "evil.html").read_text()
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in tool
    assert "https://example.org/src&#34;onmouseover=alert(1)" in tool  # shown as text, never a link


def test_markdown_keeps_html_as_text_and_loads_no_image() -> None:
    html = render_markdown("<b>x</b> ![i](https://evil.example/i.png) [r](../x.md) [w](https://ok.example/)")
    assert "<b>" not in html and "&lt;b&gt;" in html and "<img" not in html
    assert 'href="../x.md"' not in html and "r " in html and '<a href="https://ok.example/">w</a>' in html
    assert "<h3>T</h3>" in render_markdown("## T", shift=1)


def test_sources_become_links_only_for_web_addresses() -> None:
    assert str(linked("see https://a.example/x?y=1&z=2. and javascript:alert(1)")) == \
        'see <a href="https://a.example/x?y=1&amp;z=2">https://a.example/x?y=1&amp;z=2</a>. and javascript:alert(1)'
    assert str(linked("<b>")) == "&lt;b&gt;"
    assert is_web_url("https://example.org/a") and not is_web_url("javascript:alert(1)")
    assert not is_web_url('https://example.org/"onmouseover=x')


def test_calculator_data_cannot_close_its_script_element() -> None:
    text = str(json_script({"a": "</script><script>alert(1)</script>", "b": "<!-- & \u2028"}))
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><script>alert(1)</script>", "b": "<!-- & \u2028"}


#: Part of the standard's controlled list of categories (publiccode.yml 0.4, categories-list).
PUBLICCODE_CATEGORIES = {"appointment-scheduling", "collaboration", "communications", "content-management",
                         "digital-asset-management", "digital-citizenship", "document-management",
                         "online-community", "survey", "web-collaboration"}


# --- catalog.json and publiccode.yml ------------------------------------------------------------------

def test_catalog_json_has_a_version_and_every_plugin(site: Path) -> None:
    data = json.loads((site / "catalog.json").read_text())
    assert data["version"] == CATALOG_VERSION and data["root_language"] == "fr"
    evil = next(p for p in data["plugins"] if p["name"] == "evil")
    assert evil["pages"] == {"fr": "outils/evil.html", "en": "en/tools/evil.html"}
    assert evil["publiccode"] == "publiccode/evil/publiccode.yml" and (site / evil["publiccode"]).is_file()
    assert evil["quality"]["level"] == 0 and evil["manifest"]["title"]["fr"] == HOSTILE
    assert "path" not in evil and str(site.parent) not in (site / "catalog.json").read_text()  # no local paths


def test_publiccode_has_what_the_manifest_establishes_and_nothing_else(hostile_plugins: list) -> None:
    calm = next(p for p in hostile_plugins if p.name == "calme")
    data = publiccode_data(calm)
    assert data["publiccodeYmlVersion"] == "0.4"
    assert data["name"] == "Demo Server" and data["url"] == "https://example.org/src"
    assert data["landingURL"] == "https://example.org" and data["softwareVersion"] == "1.4.2"
    assert data["legal"] == {"license": "MIT"} and data["platforms"] == ["web", "linux"]
    assert data["description"]["fr"]["shortDescription"] == "Un service de démonstration."
    # Derived from the manifest: a released version of a live upstream is stable.
    assert data["developmentStatus"] == "stable" and data["softwareType"] == "standalone/web"
    # Not in the manifest: left out, never guessed, and the mandatory ones are named in the header.
    for unknown in ("releaseDate", "maintenance", "logo", "localisation"):
        assert unknown not in data, unknown
    assert {"maintenance", "localisation", "description.*.features"} <= set(missing_mandatory(data))
    assert "# Mandatory in the standard, not established here: " in publiccode_text(calm)
    evil = next(p for p in hostile_plugins if p.name == "evil")
    assert "landingURL" not in publiccode_data(evil)  # javascript: is not a web address
    assert len(publiccode_data(evil)["description"]["fr"]["shortDescription"]) <= SHORT_MAX


def test_shipped_plugins_give_valid_yaml_and_long_descriptions(tmp_path: Path) -> None:
    out = tmp_path / "real"
    summary = build_site(out)
    assert len(summary["plugins"]) >= 5 and summary["skipped"] == []
    for name in summary["plugins"]:
        data = yaml.safe_load((out / "publiccode" / name / "publiccode.yml").read_text())
        assert data["publiccodeYmlVersion"] == "0.4"
        assert 150 <= len(data["description"]["fr"]["longDescription"]) <= 10000, name
        assert len(data["description"]["en"]["shortDescription"]) <= 150, name
        assert data["description"]["fr"]["features"] and data["localisation"]["availableLanguages"][0] == "fr"
        assert set(data["categories"]) <= PUBLICCODE_CATEGORIES, name
        # The people behind the maintenance are the only mandatory key no public fact gives.
        assert set(missing_mandatory(data)) <= {"maintenance", "maintenance.contacts"}, name
    framadate = yaml.safe_load((out / "publiccode" / "framadate" / "publiccode.yml").read_text())
    assert framadate["developmentStatus"] == "obsolete" and framadate["maintenance"] == {"type": "none"}
    nextcloud = yaml.safe_load((out / "publiccode" / "nextcloud" / "publiccode.yml").read_text())
    assert nextcloud["maintenance"] == {"type": "internal"} and "Échirolles" in nextcloud["usedBy"]


# --- refusals and writing all or nothing --------------------------------------------------------------

def run_build(*args: str) -> object:
    return CliRunner().invoke(cli, ["--lang", "en", "catalog", "build", *args], prog_name="anl-stack")


def test_out_is_a_file_refused_with_exit_2(tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("keep me")
    result = run_build("--out", str(target))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert str(target) in result.output and "exists and is not a folder" in result.output
    assert "expected: a new folder" in result.output and target.read_text() == "keep me"
    # The JSON shape of errors is chosen from the real command line: a real process.
    as_json = subprocess.run([sys.executable, "-m", "anl_stack", "catalog", "build", "--out", str(target), "--json"],
                             capture_output=True, text=True, timeout=60, cwd=ROOT)
    error = json.loads(as_json.stdout)
    assert as_json.returncode == 2 and error["errors"][0]["file"] == str(target) and as_json.stderr == ""


def test_a_folder_anl_stack_did_not_build_is_never_replaced(tmp_path: Path) -> None:
    target = tmp_path / "documents"
    target.mkdir()
    (target / "budget.ods").write_text("x")
    result = run_build("--out", str(target))
    assert result.exit_code == 2 and MARKER in result.output and (target / "budget.ods").is_file()


@pytest.mark.parametrize("where", ["missing-parent/site", "/proc/anl-stack-site"])
def test_parent_missing_or_unwritable_refused(tmp_path: Path, where: str) -> None:
    target = tmp_path / where if not where.startswith("/") else Path(where)
    result = run_build("--out", str(target))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and str(target.parent) in result.output
    assert not target.exists()


def test_link_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(AnlError) as error:
        check_target(tmp_path / "link")
    assert error.value.records[0].file == str(tmp_path / "link")


def test_a_site_built_before_is_replaced_whole(tmp_path: Path, hostile_plugins: list) -> None:
    out = tmp_path / "site"
    build_site(out, plugins=hostile_plugins)
    (out / "outils" / "stale.html").write_text("old")
    build_site(out, "en", plugins=[p for p in hostile_plugins if p.name == "calme"])
    assert not (out / "outils").exists() and (out / "tools" / "calme.html").is_file()
    assert (out / "fr" / "outils" / "calme.html").is_file() and not (out / "tools" / "evil.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plugins", "site"]  # no temporary folder left


def test_a_failed_build_leaves_the_old_site_and_no_temporary_folder(tmp_path: Path, hostile_plugins: list) -> None:
    out = tmp_path / "site"
    build_site(out, plugins=hostile_plugins)
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    broken = tmp_path / "plugins" / "calme" / "cost.yml"
    broken.write_text("schema_version: 1\nmodel: nope\nparameters: {}\n")  # the page renders; its cost says none
    (tmp_path / "plugins" / "calme" / "docs").mkdir()
    (tmp_path / "plugins" / "calme" / "docs" / "fr.md").write_bytes(b"\xff\xfe not UTF-8")
    with pytest.raises(UnicodeDecodeError):
        build_site(out, plugins=plugins_in(tmp_path / "plugins"))
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plugins", "site"]


def test_json_summary_for_scripts(tmp_path: Path) -> None:
    result = run_build("--out", str(tmp_path / "s"), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["out"] == str(tmp_path / "s") and "nextcloud" in summary["plugins"]
    assert "index.html" in summary["pages"] and "en/tools/nextcloud.html" in summary["pages"]
    text = CliRunner().invoke(cli, ["--lang", "fr", "catalog", "build", "--out", str(tmp_path / "s")])
    assert text.exit_code == 0 and "catalogue écrit dans" in text.output
