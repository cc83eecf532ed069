"""The manifest model and its located errors (file, line, key, expected)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from anl_stack.core.errors import AnlError, ExitCode
from anl_stack.plugins.manifest import Manifest, load_manifest
from tests.unit.plugin_samples import manifest_data, write_plugin


def _errors(path: Path, **kwargs) -> list:
    with pytest.raises(AnlError) as caught:
        load_manifest(path, **kwargs)
    assert caught.value.exit_code == ExitCode.REFUSED
    return caught.value.records


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def test_valid_manifest_loads_with_types(tmp_path: Path) -> None:
    folder = write_plugin(tmp_path, "demo")
    manifest = load_manifest(folder, folder_name="demo")
    assert isinstance(manifest, Manifest)
    assert manifest.name == "demo"
    assert manifest.facts.requirements.cpu_cores.checked == dt.date(2026, 11, 28)
    # Identifiers written as numbers become text; a SIREN keeps its 9 digits.
    assert manifest.facts.references.comptoir_du_libre_id.value == "1234"
    assert [k for k, p in manifest.platforms.items() if p.supported] == ["debian-13"]
    assert manifest.model_dump(mode="json", by_alias=True)["platforms"]["debian-13"]["supported"] is True


def test_unknown_key_names_file_line_key_and_allowed_keys(tmp_path: Path) -> None:
    data = manifest_data()
    data["app"]["colour"] = "red"
    folder = write_plugin(tmp_path, data=data)
    [record] = _errors(folder)
    assert record.file == str(folder / "plugin.yml")
    assert record.key == "app.colour"
    assert record.line == _line_of(folder / "plugin.yml", "colour:")
    assert "unknown key" in record.message
    assert "licence" in record.expected


def test_missing_key_names_dotted_path_and_parent_line(tmp_path: Path) -> None:
    data = manifest_data()
    del data["facts"]["cost"]["setup_days"]
    folder = write_plugin(tmp_path, data=data)
    [record] = _errors(folder)
    assert record.key == "facts.cost.setup_days"
    assert record.line == _line_of(folder / "plugin.yml", "cost:")
    assert "missing" in record.message


def test_wrong_values_each_get_a_record(tmp_path: Path) -> None:
    data = manifest_data()
    data["facts"]["requirements"]["ram_mb"]["value"] = "lots"
    data["deployment"]["ports"][0]["port"] = 99999
    data["facts"]["providers"][0]["checked"] = "2026-13-40"
    data["category"] = "games"
    folder = write_plugin(tmp_path, data=data)
    records = {r.key: r for r in _errors(folder)}
    assert set(records) == {"facts.requirements.ram_mb.value", "deployment.ports[0].port",
                            "facts.providers[0].checked", "category"}
    assert records["facts.requirements.ram_mb.value"].expected == "a number or 'unknown'"
    assert records["deployment.ports[0].port"].line == _line_of(folder / "plugin.yml", "port: 99999")
    assert "ISO date" in records["facts.providers[0].checked"].expected
    assert "collaboration" in records["category"].expected
    assert all(r.file == str(folder / "plugin.yml") and r.line for r in records.values())


def test_unquoted_version_is_refused_with_hint(tmp_path: Path) -> None:
    text = yaml.safe_dump(manifest_data(), sort_keys=False).replace("version: 0.1.0", "version: 1.0")
    folder = write_plugin(tmp_path, text=text)
    [record] = _errors(folder)
    assert record.key == "version"
    assert "quote" in record.expected


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda d: d["facts"]["upstream_health"].update(value="unmaintained"), "facts.upstream_health"),
        (lambda d: d["deployment"]["artifacts"].append(
            {"name": "x", "version": "1", "url": "https://e.org/x", "npm": "x@1"}), "deployment.artifacts[0]"),
        (lambda d: d["deployment"]["artifacts"].append(
            {"name": "x", "version": "1", "url": "https://e.org/x",
             "signature": {"url": "https://e.org/x.asc", "fingerprint": "AB" * 20}}),
         "deployment.artifacts[0].signature"),
        (lambda d: d["platforms"]["debian-13"].pop("app_versions"), "platforms.debian-13"),
        (lambda d: d["platforms"]["debian-13"].update(app_versions="version one"),
         "platforms.debian-13.app_versions"),
        (lambda d: d["facts"]["providers"][0].update(siren="12345"), "facts.providers[0].siren"),
        (lambda d: d["deployment"]["secrets"][0].update(name="admin_password"), "deployment.secrets[0].name"),
        (lambda d: d["app"].update(version="3.0.0"), "app.version"),
        (lambda d: d["deployment"]["depends_on"].append("demo"), "deployment.depends_on"),
        (lambda d: d["platforms"]["debian-13"].update(app_version="2.1.0"), "platforms.debian-13"),
        (lambda d: d["platforms"].update({"debian-12": {"supported": True, "app_versions": "==3.0.0",
                                                        "app_version": "3.0.0"}}) or
         d["platforms"]["debian-13"].update(app_versions="==2.0"), "app.version"),
    ],
    ids=["unmaintained-without-alternatives", "artifact-two-origins", "signature-without-key",
         "supported-without-versions", "bad-specifier", "bad-siren", "unprefixed-secret",
         "default-version-unsupported", "depends-on-itself", "release-version-outside-its-range",
         "default-version-only-on-a-release-with-its-own"],
)
def test_rules_name_the_key(tmp_path: Path, change, key: str) -> None:
    data = manifest_data()
    change(data)
    folder = write_plugin(tmp_path, data=data)
    records = _errors(folder)
    assert [r.key for r in records] == [key]
    assert records[0].line is not None and records[0].expected


def test_release_with_its_own_version(tmp_path: Path) -> None:
    """A Debian-packaged application: Debian 12 ships another version than app.version."""
    data = manifest_data()
    data["platforms"]["debian-12"] = {"supported": True, "app_version": "1.2.0", "app_versions": "==1.2.0"}
    manifest = load_manifest(write_plugin(tmp_path, data=data))
    platforms = dict(manifest.platforms.items())
    assert platforms["debian-12"].default_version(manifest.app.version) == "1.2.0"
    assert platforms["debian-13"].default_version(manifest.app.version) == "1.4.2"


def test_name_must_match_folder_when_asked(tmp_path: Path) -> None:
    folder = write_plugin(tmp_path, "demo", folder="other")
    assert load_manifest(folder).name == "demo"
    [record] = _errors(folder, folder_name="other")
    assert (record.key, record.line, record.expected) == ("name", 2, "name: other")


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    folder = write_plugin(tmp_path, text="schema_version: 1\nname: demo\ntitle: {fr: [\n")
    [record] = _errors(folder)
    assert record.file.endswith("plugin.yml") and record.line and "YAML" in record.message


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    text = yaml.safe_dump(manifest_data(), sort_keys=False) + "name: demo2\n"
    folder = write_plugin(tmp_path, text=text)
    [record] = _errors(folder)
    assert record.key == "name"
    assert record.line == len(text.splitlines())


@pytest.mark.parametrize("text", ["", "- a list\n", "just text\n"])
def test_not_a_mapping(tmp_path: Path, text: str) -> None:
    [record] = _errors(write_plugin(tmp_path, text=text))
    assert "mapping" in record.expected


def test_missing_file(tmp_path: Path) -> None:
    [record] = _errors(tmp_path / "nothing")
    assert record.file == str(tmp_path / "nothing" / "plugin.yml")
    assert record.message == "manifest not found"


def test_cli_prints_one_line_per_record(tmp_path: Path) -> None:
    data = manifest_data()
    data["summary"] = {"fr": "texte"}
    folder = write_plugin(tmp_path, data=data)
    [record] = _errors(folder)
    assert record.format().startswith(f"{folder / 'plugin.yml'}:{record.line}: summary.en: ")
