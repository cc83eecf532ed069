"""The first-party plugins shipped in plugins/ load, and their fiches have every required section."""

from __future__ import annotations

from pathlib import Path

import pytest

from anl_stack.plugin_api import FICHE_SECTIONS
from anl_stack.plugins import discover_plugins
from anl_stack.plugins.fiches import fiche_path, missing_sections

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
#: Every folder of plugins/ is a first-party plugin.
FIRST_PARTY = sorted(p.name for p in PLUGINS.iterdir() if p.is_dir() and not p.name.startswith("."))


def _in_tree():
    return {p.name: p for p in discover_plugins(plugins_path="", entry_points=False)}


def test_first_party_plugins_are_all_present() -> None:
    assert FIRST_PARTY, f"no plugin folder in {PLUGINS}"
    assert sorted(_in_tree()) == FIRST_PARTY


@pytest.mark.parametrize("name", FIRST_PARTY)
def test_first_party_plugin_loads(name: str) -> None:
    plugin = _in_tree()[name]
    assert plugin.source == "in-tree"
    assert plugin.error is None, str(plugin.error)
    assert plugin.manifest.name == name


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("name", FIRST_PARTY)
def test_first_party_fiche_has_required_sections(name: str, lang: str) -> None:
    path = fiche_path(_in_tree()[name], lang)
    assert path.is_file(), f"missing fiche {path}"
    missing = missing_sections(path.read_text(encoding="utf-8"), lang)
    assert not missing, f"{path} lacks sections: {missing} (required: {FICHE_SECTIONS[lang]})"
