"""The catalog site built from collectives: who runs each tool, reviews, experience notes, merged with origins.

Real throw-away OpenPGP keys and real signatures (the fixtures of
test_collective.py); the site is written by ``catalog build`` itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from anl_stack.catalog.site.build import build_site
from anl_stack.cli import cli
from anl_stack.collective import members as members_mod
from anl_stack.collective.publish import publish
from anl_stack.plugins.discovery import load_folder
from tests.unit.test_collective import NAME, build_collective, inventory, keys, member, plugin  # noqa: F401
from tests.unit.test_reviews import report_file

NOTES = [{"date": "2026-10-02", "plugin": NAME,
          "context": {"fr": "Mise en place pour les services techniques", "en": "Set up for the technical services"},
          "worked": {"fr": "Le déploiement s'est répété sans changement"},
          "cost": {"fr": "Deux jours de travail"}}]


def publish_for(tmp_path: Path, root: Path, plugin: Path, keys: dict[str, str], label: str,  # noqa: F811
                notes: Path | None = None, domain: str | None = None) -> Path:
    inv = inventory(tmp_path, label, settings={"demo_domain": domain} if domain else None)
    report = report_file(tmp_path, plugin, environment="production", name=f"report-{label}.json")
    target, _record = publish(root, inv, key=keys[label], report=report, notes=notes,
                              plugins=[load_folder(plugin, NAME)])
    return target


@pytest.fixture
def collectives(tmp_path: Path, keys: dict[str, str], plugin: Path) -> tuple[Path, Path]:  # noqa: F811
    """ANL (A, B, C, D): A publishes with a note, B publishes, C's file is then tampered.
    Savoie (A, D): A publishes there too, and D."""
    anl = build_collective(tmp_path / "anl", keys)
    notes = tmp_path / "notes.yml"
    notes.write_text(yaml.safe_dump(NOTES, allow_unicode=True))
    publish_for(tmp_path / "p-anl", anl, plugin, keys, "A", notes=notes, domain="demo.a.exemple.fr")
    publish_for(tmp_path / "p-anl", anl, plugin, keys, "B")
    tampered = publish_for(tmp_path / "p-anl", anl, plugin, keys, "C")
    tampered.write_text(tampered.read_text().replace("Cevins", "Cevins-le-Faux"))
    savoie = tmp_path / "savoie"
    members_mod.init(savoie, name="Savoie", quorum=2, founders=[member("A", keys)], key=keys["A"])
    members_mod.join(savoie, member("D", keys), key=keys["D"])
    members_mod.sign(savoie, key=keys["A"])
    publish_for(tmp_path / "p-savoie", savoie, plugin, keys, "A", domain="demo.a.exemple.fr")
    publish_for(tmp_path / "p-savoie", savoie, plugin, keys, "D")
    return anl, savoie


def test_the_site_shows_trusted_instances_once_with_every_origin(tmp_path: Path, plugin: Path,  # noqa: F811
                                                                 collectives: tuple[Path, Path]) -> None:
    out = tmp_path / "site"
    summary = build_site(out, "fr", plugins=[load_folder(plugin, NAME)], collectives=list(collectives))
    by_name = {c["name"]: c for c in summary["collectives"]}
    assert by_name["ANL"]["trusted"] == 2 and by_name["Savoie"]["trusted"] == 2
    assert [i["file"] for i in by_name["ANL"]["ignored"]] == ["ANL/communes/73003.yml"]

    catalog = json.loads((out / "catalog.json").read_text())
    rows = catalog["collectives"]["instances"][NAME]
    assert [(r["insee"], r["origins"]) for r in rows] == [
        ("73001", ["ANL", "Savoie"]), ("73002", ["ANL"]), ("73004", ["Savoie"])]
    assert rows[0]["address"] == "https://demo.a.exemple.fr"
    assert str(tmp_path) not in (out / "catalog.json").read_text()  # no local path leaves the machine

    page = (out / "outils" / f"{NAME}.html").read_text()
    assert '<a href="https://demo.a.exemple.fr">https://demo.a.exemple.fr</a>' in page
    assert "Commune de Bessans (73002)" in page and "Commune de Doucy (73004)" in page
    assert "Cevins" not in page  # the tampered file is not trusted, so never shown
    assert "Mise en place pour les services techniques" in page and "Deux jours de travail" in page
    english = (out / "en" / "tools" / f"{NAME}.html").read_text()
    assert "Set up for the technical services" in english
    assert "Written in French by the commune." in english  # "worked" and "cost" exist only in French
    users = (out / "utilisateurs.html").read_text()
    assert "ANL/communes/73003.yml" in users and "Commune de Doucy (73004)" in users


def test_a_folder_that_is_not_a_collective_is_refused_and_nothing_is_written(tmp_path: Path,
                                                                            plugin: Path) -> None:  # noqa: F811
    not_one = tmp_path / "documents"
    not_one.mkdir()
    result = CliRunner().invoke(cli, ["--lang", "en", "catalog", "build", "--out", str(tmp_path / "site"),
                                      "--collective", str(not_one)], prog_name="anl-stack")
    assert result.exit_code == 2, result.output
    assert "not a collective folder" in result.output and str(not_one) in result.output
    assert not (tmp_path / "site").exists()
