"""The JSON Schemas of the collective's files (docs/schemas/) agree with what anl-stack writes and reads.

Members versions, commune files, experience notes, a collective's index and
the pin that includes it in another collective.

Files written by the real commands (members versions, a commune file with
notes, signed with throw-away OpenPGP keys) validate against the schemas;
each broken variant below is refused by both the schema and anl-stack's own
check, so the documentation cannot drift from the code unnoticed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from anl_stack.collective import members as members_mod
from anl_stack.collective.index import include
from anl_stack.collective.index_write import make_index
from anl_stack.collective.model import check_commune, check_members
from anl_stack.collective.publish import publish
from anl_stack.core.errors import AnlError
from anl_stack.core.yamlfile import TextDatesLoader
from anl_stack.plugins.discovery import load_folder
from anl_stack.plugins.scaffold import create_plugin
from tests.unit.test_collective import NAME, build_collective, inventory, keys, member  # noqa: F401 (a fixture)
from tests.unit.test_reviews import report_file

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
NOTES = [{"date": "2026-11-30", "plugin": NAME, "context": {"fr": "Conseil municipal retransmis", "en": "Council"},
          "worked": {"fr": "Le direct a tenu deux heures"}, "cost": {"fr": "Une demi-journée de préparation"}}]


def validator(name: str) -> jsonschema.Draft202012Validator:
    resources = [(p.name, Resource.from_contents(json.loads(p.read_text()))) for p in SCHEMAS.glob("*.schema.json")]
    registry: Registry = Registry().with_resources(resources)
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def load(file: Path) -> dict[str, Any]:
    return yaml.load(file.read_text(), Loader=TextDatesLoader)  # dates stay text, as anl-stack reads them


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, str]) -> tuple[list[Path], Path]:  # noqa: F811
    """Members versions and a commune file written once for the module (each test works on a copy)."""
    tmp_path = tmp_path_factory.mktemp("schemas")
    plugin = create_plugin(NAME, tmp_path / "plugins")
    root = build_collective(tmp_path / "anl", keys, "ABC")
    notes = tmp_path / "notes.yml"
    notes.write_text(yaml.safe_dump(NOTES, allow_unicode=True))
    report = report_file(tmp_path, plugin, environment="production", name="report-a.json")
    commune, _ = publish(root, inventory(tmp_path, "A"), key=keys["A"], report=report, notes=notes,
                         plugins=[load_folder(plugin, NAME)])
    return sorted((root / "members").glob("*.yml")), commune


def test_what_the_commands_write_validates(written: tuple[list[Path], Path]) -> None:
    versions, commune = written
    members = validator("collective-members")
    assert len(versions) == 3  # founded by A, then B and C joined
    for file in versions:
        members.validate(load(file))
    data = load(commune)
    assert data["notes"] == NOTES and data["instances"]
    validator("collective-commune").validate(data)
    validator("collective-notes").validate(data["notes"])


BROKEN_COMMUNE: dict[str, Callable[[dict[str, Any]], None]] = {
    "insee": lambda d: d.update(insee="7300"),
    "fingerprint": lambda d: d.update(fingerprint=d["fingerprint"].lower()),
    "published": lambda d: d.update(published="le 30 novembre"),
    "instances[0].digest": lambda d: d["instances"][0].update(digest="md5:abc"),
    "instances[0].quality_level": lambda d: d["instances"][0].update(quality_level=9),
    "instances[0].result": lambda d: d["instances"][0].update(result="ok"),
    "instances[0].plugin": lambda d: d["instances"][0].update(plugin="Demo!"),
    "instances[0].since": lambda d: d["instances"][0].pop("since"),
    "notes[0].context": lambda d: d["notes"][0]["context"].pop("fr"),
    "notes[0].cost": lambda d: d["notes"][0]["cost"].update(de="Kosten"),
    "commune": lambda d: d.update(commune="   "),
}


@pytest.mark.parametrize("key", sorted(BROKEN_COMMUNE))
def test_a_broken_commune_file_is_refused_by_both(key: str, written: tuple[list[Path], Path]) -> None:
    data = copy.deepcopy(load(written[1]))
    BROKEN_COMMUNE[key](data)
    assert list(validator("collective-commune").iter_errors(data)), f"the schema accepts a broken {key}"
    with pytest.raises(AnlError) as caught:
        check_commune(written[1], data)
    assert key in {r.key for r in caught.value.records}, caught.value.records


BROKEN_MEMBERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "quorum": lambda d: d.update(quorum=0),
    "previous": lambda d: d.update(previous=None),
    "version": lambda d: d.update(version="deux"),
    "members": lambda d: d.update(members=[]),
    "members[0].insee": lambda d: d["members"][0].update(insee="2C001"),
    "members[0].fingerprint": lambda d: d["members"][0].update(fingerprint="ABC"),
    "members[0].contact": lambda d: d["members"][0].pop("contact"),
}


@pytest.mark.parametrize("key", sorted(BROKEN_MEMBERS))
def test_a_broken_members_version_is_refused_by_both(key: str, written: tuple[list[Path], Path]) -> None:
    file = written[0][-1]  # version 3: it has a previous version
    data = copy.deepcopy(load(file))
    BROKEN_MEMBERS[key](data)
    assert list(validator("collective-members").iter_errors(data)), f"the schema accepts a broken {key}"
    with pytest.raises(AnlError) as caught:
        check_members(file, data)
    assert key in {r.key for r in caught.value.records}, caught.value.records


def test_an_index_and_the_pin_that_includes_it_validate(tmp_path: Path, keys: dict[str, str],  # noqa: F811
                                                        written: tuple[list[Path], Path]) -> None:
    source = written[1].parent.parent  # the module's collective (A, B, C), A's file published
    index = make_index(source, key=keys["B"])
    validator("collective-index").validate(load(index))
    other = tmp_path / "other"
    members_mod.init(other, name="Autre", quorum=1, founders=[member("D", keys)], key=keys["D"])
    included = include(other, source, key=keys["D"], signers=[keys["B"]])
    validator("collective-include").validate(load(included / "pin.yml"))
    validator("collective-index").validate(load(included / "index.yml"))
