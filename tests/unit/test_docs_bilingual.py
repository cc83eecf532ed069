"""Every user-facing document exists in French and English."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


@pytest.mark.parametrize("english", sorted(p.name for p in DOCS.glob("*.md") if not p.name.endswith(".fr.md")))
def test_each_guide_has_a_french_version(english: str) -> None:
    assert (DOCS / english.replace(".md", ".fr.md")).is_file()


@pytest.mark.parametrize("plugin_docs", sorted(p.parent.name for p in (ROOT / "plugins").glob("*/docs/en.md")))
def test_each_plugin_document_has_both_languages(plugin_docs: str) -> None:
    folder = ROOT / "plugins" / plugin_docs / "docs"
    english = {p.name.replace("en.md", "") for p in folder.glob("*en.md")}
    french = {p.name.replace("fr.md", "") for p in folder.glob("*fr.md")}
    assert english == french
