"""Decision facts: their dates and ages, the old-fact warning, openable sources, schema errors, the legend."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from anl_stack.catalog.fiche import reference_url, render_fiche
from anl_stack.cli import cli
from anl_stack.core.errors import AnlError
from anl_stack.plugins import facts
from anl_stack.plugins.check import check_facts
from anl_stack.plugins.discovery import discover_plugins
from anl_stack.plugins.manifest import load_manifest, source_date_bounds
from anl_stack.records.quality import LADDER
from tests.unit.plugin_samples import manifest_data, write_plugin

TODAY = dt.date(2026, 12, 3)


def test_source_dates_keep_their_precision() -> None:
    assert source_date_bounds("2022") == (dt.date(2022, 1, 1), dt.date(2022, 12, 31))
    assert source_date_bounds("2020-02") == (dt.date(2020, 2, 1), dt.date(2020, 2, 29))
    assert source_date_bounds("2022-12") == (dt.date(2022, 12, 1), dt.date(2022, 12, 31))
    assert source_date_bounds("2025-09-15") == (dt.date(2025, 9, 15),) * 2


def test_age_in_months() -> None:
    assert facts.age_months(dt.date(2024, 12, 3), TODAY) == 24
    assert facts.age_months(dt.date(2024, 12, 4), TODAY) == 23
    assert facts.age_months(dt.date(2027, 1, 1), TODAY) == 0


def _plugin(tmp_path: Path, **fact_changes: dict) -> Path:
    data = manifest_data("agefx")
    data["facts"]["references"]["wikidata"].update(fact_changes.get("wikidata", {}))
    data["facts"]["users"][0].update(fact_changes.get("user", {}))
    return write_plugin(tmp_path, "agefx", data=data)


def test_age_counts_from_the_source_date_else_the_check(tmp_path: Path) -> None:
    folder = _plugin(tmp_path, wikidata={"dated": "2022"})
    manifest = load_manifest(folder)
    wikidata = manifest.facts.references.wikidata
    assert facts.as_of(wikidata) == dt.date(2022, 12, 31)  # the last day of 2022: never overstated
    assert facts.fact_age(wikidata, TODAY) == 47
    assert facts.as_of(manifest.facts.users[0]) == manifest.facts.users[0].checked  # undated source


def test_old_facts_warn_and_never_fail(tmp_path: Path) -> None:
    folder = _plugin(tmp_path, wikidata={"dated": "2022-05"})
    manifest = load_manifest(folder)
    findings, warnings = check_facts(folder, manifest, 24, TODAY)
    assert findings == []
    [warning] = warnings
    assert warning.key == "facts.references.wikidata" and "54 months old" in warning.message
    assert "source dated 2022-05" in warning.message and warning.line is not None
    assert "24 months" in warning.expected
    from anl_stack.core.i18n import set_language

    set_language("fr")
    try:
        [warning] = check_facts(folder, manifest, 24, TODAY)[1]
    finally:
        set_language(None)
    assert warning.message == "le fait a 54 mois (source datée du 2022-05)", warning.message
    _, warnings = check_facts(folder, manifest, 60, TODAY)
    assert warnings == []
    # An 'unknown' fact states nothing: it never warns, however old.
    _, warnings = check_facts(folder, manifest, 0, TODAY)
    assert "facts.references.sill_id" not in {w.key for w in warnings}


def test_check_command_prints_warnings_and_takes_the_age_from_option_or_setting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _plugin(tmp_path, wikidata={"dated": "2019"})
    result = CliRunner().invoke(cli, ["plugins", "check", str(folder), "--no-lint", "--max-fact-age", "12"])
    assert "warning: " in result.output and "facts.references.wikidata: fact is" in result.output
    assert "facts: ok" in result.output  # a warning is not a finding
    monkeypatch.setenv("ANL_STACK_MAX_FACT_AGE", "1200")
    result = CliRunner().invoke(cli, ["plugins", "check", str(folder), "--no-lint"])
    assert "facts.references.wikidata: fact is" not in result.output
    bad = CliRunner().invoke(cli, ["plugins", "check", str(folder), "--max-fact-age", "-1"])
    assert bad.exit_code == 2


def test_default_age_is_the_documented_one() -> None:
    from anl_stack.cli.plugins_cmd import check_cmd

    option = next(p for p in check_cmd.params if p.name == "max_fact_age")
    assert option.default == facts.DEFAULT_MAX_AGE_MONTHS == 24
    assert "24 months" in (Path(__file__).resolve().parents[2] / "docs" / "manifest.md").read_text()


def test_a_source_a_reader_cannot_open_is_a_finding(tmp_path: Path) -> None:
    folder = _plugin(tmp_path, user={"source": "our research notes, page 3"})
    findings, _ = check_facts(folder, load_manifest(folder), 24, TODAY)
    [finding] = findings
    assert finding.key == "facts.users[0].source" and "public URL" in finding.expected
    # A file of the repository is a source a reader can open.
    (folder / "docs").mkdir()
    (folder / "docs" / "notes.md").write_text("notes\n")
    folder = _plugin(tmp_path, user={"source": "docs/notes.md §2"})
    assert check_facts(folder, load_manifest(folder), 24, TODAY)[0] == []


@pytest.mark.parametrize(("where", "value", "key", "expected"), [
    ("dated", "2022-13", "facts.references.wikidata.dated", "a date of the source such as 2022"),
    ("dated", "last year", "facts.references.wikidata.dated", "a date of the source such as 2022"),
    ("kind", "town", "facts.users[0].kind", "'commune'"),
    ("period", "week", "facts.cost.prices[0].period", "'month'"),
])
def test_bad_fact_entries_name_file_key_and_expectation(tmp_path: Path, where: str, value: str, key: str,
                                                        expected: str) -> None:
    data = manifest_data("badfx")
    data["facts"]["cost"]["prices"] = [{"offer": {"fr": "Offre", "en": "Offer"}, "amount": 5, "period": "month"}]
    if where == "dated":
        data["facts"]["references"]["wikidata"]["dated"] = value
    elif where == "kind":
        data["facts"]["users"][0]["kind"] = value
    else:
        data["facts"]["cost"]["prices"][0]["period"] = value
    folder = write_plugin(tmp_path, "badfx", data=data)
    with pytest.raises(AnlError) as error:
        load_manifest(folder)
    [record] = error.value.records
    assert record.file == str(folder / "plugin.yml") and record.key == key and record.line is not None
    assert expected in (record.expected or record.message)
    assert error.value.exit_code == 2
    result = CliRunner().invoke(cli, ["plugins", "check", str(folder), "--no-lint"])
    assert key in result.output


def test_reference_links() -> None:
    manifest = load_manifest(Path(__file__).resolve().parents[2] / "plugins" / "nextcloud")
    refs = manifest.facts.references
    assert reference_url("wikidata", refs.wikidata) == "https://www.wikidata.org/wiki/Q25874683"
    assert reference_url("comptoir_du_libre_id", refs.comptoir_du_libre_id) == \
        "https://comptoir-du-libre.org/fr/softwares/117"
    assert reference_url("sill_id", refs.sill_id) == refs.sill_id.url


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_fiche_shows_each_fact_with_its_age(lang: str) -> None:
    plugin = next(p for p in discover_plugins() if p.name == "nextcloud")
    text = render_fiche(plugin, lang)  # type: ignore[arg-type]
    months = "mois" if lang == "fr" else "months old"
    assert re.search(rf"\] .*sill-softwares\.json.*\((dated|daté du) 2022-05, \d+ {months}", text)
    assert "<https://www.wikidata.org/wiki/Q25874683>" in text
    assert "Échirolles (commune)" in text
    assert "2000, 10000, 50000" in text  # the cost model's server for each commune size


@pytest.mark.parametrize(("lang", "title"), [("en", "Quality levels"), ("fr", "Niveaux de qualité")])
def test_the_legend_is_shown_wherever_a_level_is(lang: str, title: str) -> None:
    for args in (["plugins", "list", "--lang", lang], ["plugins", "show", "streaming", "--lang", lang]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        legend = result.output[result.output.index(title):]
        for level, _ in LADDER:
            assert f"\n  {level}: " in legend
    listing = CliRunner().invoke(cli, ["plugins", "list", "--json"]).output
    assert '"levels"' in listing
