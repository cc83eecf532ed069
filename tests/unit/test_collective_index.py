"""A collective's signed index, included by another collective, and what a catalog built from it shows.

Real throw-away OpenPGP keys and real gpg/gpgv (fixtures of test_collective.py):
Savoie (members A and D) publishes an index signed by D; ANL (A, B, C, D)
includes it, pinning D's key. A is in both: its entry appears once with both
origins. A tampered index, an index signed by a key the pin does not name, a
pin signed by a key that is not a member's, and an index entry for a commune
that is not one of the index's members are each reported and ignored.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from anl_stack.catalog.site.collective import read_collectives
from anl_stack.cli import cli
from anl_stack.collective import members as members_mod
from anl_stack.collective.index import include
from anl_stack.collective.index_write import make_index
from anl_stack.collective.verify import verify
from anl_stack.core.errors import AnlError
from anl_stack.plugins.scaffold import create_plugin
from tests.unit.test_collective import NAME, build_collective, keys, member, publish_for  # noqa: F401


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, str]) -> tuple[Path, Path]:  # noqa: F811
    """Savoie with its index, and ANL, built once (signing takes time); each test works on copies."""
    base = tmp_path_factory.mktemp("collectives")
    plugin = create_plugin(NAME, base / "plugins")
    savoie = base / "savoie"
    members_mod.init(savoie, name="Savoie", quorum=2, founders=[member("A", keys)], key=keys["A"])
    members_mod.join(savoie, member("D", keys), key=keys["D"])
    members_mod.sign(savoie, key=keys["A"])
    publish_for(base / "p-savoie", savoie, plugin, keys, "A")
    publish_for(base / "p-savoie", savoie, plugin, keys, "D")
    make_index(savoie, key=keys["D"])
    anl = build_collective(base / "anl", keys, "ABC")
    publish_for(base / "p-anl", anl, plugin, keys, "A")
    publish_for(base / "p-anl", anl, plugin, keys, "B")
    return savoie, anl


@pytest.fixture
def savoie(tmp_path: Path, made: tuple[Path, Path]) -> Path:
    return Path(shutil.copytree(made[0], tmp_path / "savoie"))


@pytest.fixture
def anl(tmp_path: Path, made: tuple[Path, Path]) -> Path:
    return Path(shutil.copytree(made[1], tmp_path / "anl"))


def origins(root: Path) -> dict[str, list[str]]:
    view = read_collectives([root])
    return {row["commune"]: row["origins"] for row in view.instances.get(NAME, [])}


def test_an_included_index_feeds_the_catalog_with_its_origin(anl: Path, savoie: Path, keys: dict[str, str]) -> None:  # noqa: F811
    index = yaml.safe_load((savoie / "index.yml").read_text())
    assert index["collective"] == "Savoie" and [c["insee"] for c in index["communes"]] == ["73001", "73004"]
    include(anl, savoie, key=keys["B"], signers=[keys["D"]])
    result = verify(anl)
    assert result.ok, result.to_dict()["problems"]
    assert [(i.collective, [c["insee"] for c in i.communes]) for i in result.included] == \
        [("Savoie", ["73001", "73004"])]
    assert origins(anl) == {"Commune de Aiguebelle": ["ANL", "Savoie"], "Commune de Bessans": ["ANL"],
                            "Commune de Doucy": ["Savoie"]}
    view = read_collectives([anl])
    assert view.collectives[0]["included"] == [{"name": "Savoie", "date": index["date"], "trusted": 2}]


def test_a_tampered_index_or_an_unpinned_signer_is_reported_and_ignored(anl: Path, savoie: Path,
                                                                        keys: dict[str, str]) -> None:  # noqa: F811
    include(anl, savoie, key=keys["B"], signers=[keys["D"]])
    copied = anl / "included" / "savoie" / "index.yml"
    copied.write_text(copied.read_text().replace("Commune de Doucy", "Commune de Doucy-la-Fausse"))
    result = verify(anl)
    assert not result.included and not result.ok
    assert any("signatures it needs" in r.message for r in result.ignored), result.ignored
    assert "Commune de Doucy-la-Fausse" not in origins(anl) and "Commune de Doucy" not in origins(anl)
    # Including needs the pinned keys' signatures: A did not sign Savoie's index (D did).
    with pytest.raises(AnlError) as refused:
        include(anl, savoie, key=keys["B"], signers=[keys["A"]], name="savoie-bis")
    assert refused.value.exit_code == 2 and "0 of the 1" in refused.value.records[0].message
    assert not (anl / "included" / "savoie-bis").exists()


def test_a_pin_by_a_non_member_and_a_commune_outside_the_index_are_ignored(anl: Path, savoie: Path,
                                                                          keys: dict[str, str]) -> None:  # noqa: F811
    include(anl, savoie, key=keys["B"], signers=[keys["D"]])
    # A pin made by a key that is not one of ANL's members (X) is not ANL's choice.
    other = anl.parent / "anl-x"
    shutil.copytree(anl, other)
    with pytest.raises(AnlError):
        include(other, savoie, key=keys["X"], signers=[keys["D"]])
    pin = other / "included" / "savoie" / "pin.yml"
    pin.write_text(pin.read_text().replace(keys["B"], keys["X"]))
    result = verify(other)
    assert not result.included
    assert any("not a current member" in r.message for r in result.ignored), result.ignored
    # An index (signed by D) listing a commune that is not one of Savoie's members: that entry is ignored.
    forged = yaml.safe_load((savoie / "index.yml").read_text())
    forged["members"] = [m for m in forged["members"] if m["insee"] != "73001"]
    (savoie / "index.yml").write_text(yaml.safe_dump(forged, sort_keys=False, allow_unicode=True))
    (savoie / f"index.{keys['D']}.asc").unlink()
    from anl_stack.collective import signatures

    signature, _key = signatures.sign_bytes((savoie / "index.yml").read_bytes(), keys["D"])
    (savoie / f"index.{keys['D']}.asc").write_bytes(signature)
    include(anl, savoie, key=keys["B"], signers=[keys["D"]])
    result = verify(anl)
    assert [c["insee"] for c in result.included[0].communes] == ["73004"]
    assert any("not a member of the included collective" in r.message for r in result.ignored)


def test_cli_index_include_verify(anl: Path, savoie: Path, keys: dict[str, str]) -> None:  # noqa: F811
    runner = CliRunner()
    made = runner.invoke(cli, ["--lang", "fr", "collective", "index", str(anl), "--key", keys["C"]])
    assert made.exit_code == 0 and "index.yml" in made.output, made.output
    assert (anl / f"index.{keys['C']}.asc").is_file()
    done = runner.invoke(cli, ["--lang", "en", "collective", "include", str(anl), str(savoie), "--signer", keys["D"],
                               "--key", keys["A"], "--json"])
    assert done.exit_code == 0 and "included/savoie" in done.output, done.output
    shown = runner.invoke(cli, ["--lang", "en", "collective", "verify", str(anl)])
    assert shown.exit_code == 0 and "included: Savoie (included/savoie)" in shown.output, shown.output
    bad = runner.invoke(cli, ["--lang", "en", "collective", "include", str(anl), str(savoie), "--signer", "ABC",
                              "--key", keys["A"]])
    assert bad.exit_code == 2 and "--signer" in bad.output and "Traceback" not in bad.output, bad.output
