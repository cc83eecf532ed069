"""The gettext catalogs: every marked text translated in French, the .mo compiled from the .po."""

from __future__ import annotations

import gettext
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from anl_stack.core.i18n import DOMAIN, LOCALE_DIR, label, translate

PROJECT = Path(__file__).resolve().parents[2]
PO = LOCALE_DIR / "fr" / "LC_MESSAGES" / f"{DOMAIN}.po"
MO = PO.with_suffix(".mo")


def _marked() -> set[str]:
    """What Babel extracts from the package with the project's own mapping (babel.cfg)."""
    with (PROJECT / "babel.cfg").open(encoding="utf-8") as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    found = extract_from_dir(str(PROJECT / "anl_stack"), method_map=method_map, options_map=options_map)
    return {message if isinstance(message, str) else message[0] for _file, _line, message, _comments, _ctx in found}


def _catalog() -> dict[str, str]:
    with PO.open("rb") as handle:
        return {m.id: m.string for m in read_po(handle, locale="fr") if m.id and not m.fuzzy}


def test_every_marked_text_has_a_french_translation() -> None:
    marked = _marked()
    assert "Quality (computed from evidence)" in marked and "no evidence" in marked  # the extraction sees N_ and _
    catalog = _catalog()
    missing = sorted(m for m in marked if not catalog.get(m))
    assert missing == [], f"untranslated in {PO} (run scripts/translations.sh, then translate): {missing}"


def test_the_mo_file_is_compiled_from_the_po_file() -> None:
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = {k: (v, compiled.gettext(k)) for k, v in _catalog().items() if compiled.gettext(k) != v}
    assert stale == {}, f"{MO} is older than {PO}: run scripts/translations.sh"


def test_texts_are_translated_through_the_catalog() -> None:
    assert translate("digest", "fr") == "empreinte" and translate("digest", "en") == "digest"
    assert label("recipe_version", "fr") == "version recette" and label("recipe_version", "en") == "recipe version"
    assert label("no such label", "fr") == "no such label"
