"""The gettext catalogs: every marked text translated in French, the .mo compiled from the .po."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import click
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from click.testing import CliRunner

from anl_stack.cli import i18n_click
from anl_stack.core.i18n import DOMAIN, LOCALE_DIR, help_messages, label, translate, translate_help
from anl_stack.core.i18n_extract import click_help_texts

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
    """Each text of the French catalog with its translation (the singular form for plural texts)."""
    with PO.open("rb") as handle:
        return {m.id[0] if isinstance(m.id, tuple) else m.id: m.string[0] if isinstance(m.string, tuple) else m.string
                for m in read_po(handle, locale="fr") if m.id and not m.fuzzy}


def test_every_marked_text_has_a_french_translation() -> None:
    marked = _marked()
    assert "Quality (computed from evidence)" in marked and "no evidence" in marked  # the extraction sees N_ and _
    assert "Verification report" in marked  # ... the report templates
    assert "Show what a deploy would change (check mode)." in marked and "Write JUnit XML here." in marked  # ... help
    catalog = _catalog()
    missing = sorted(m for m in marked if not catalog.get(m))
    assert missing == [], f"untranslated in {PO} (run scripts/translations.sh, then translate): {missing}"


def test_the_mo_file_is_compiled_from_the_po_file() -> None:
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    with PO.open("rb") as handle:
        plurals = {m.id[0]: m.id[1] for m in read_po(handle, locale="fr") if isinstance(m.id, tuple)}

    def shown(k: str) -> str:
        return compiled.ngettext(k, plurals[k], 1) if k in plurals else compiled.gettext(k)

    stale = {k: (v, shown(k)) for k, v in _catalog().items() if shown(k) != v}
    assert stale == {}, f"{MO} is older than {PO}: run scripts/translations.sh"


def test_texts_are_translated_through_the_catalog() -> None:
    assert translate("digest", "fr") == "empreinte" and translate("digest", "en") == "digest"
    assert label("recipe_version", "fr") == "version recette" and label("recipe_version", "en") == "recipe version"
    assert label("no such label", "fr") == "no such label"


# --- the whole catalog, Click's help included -------------------------------------------------

PLACEHOLDER = re.compile(r"\{[^{}]*\}|%\([a-z_]+\)s")


def _entries() -> list:
    with PO.open("rb") as handle:
        return [m for m in read_po(handle, locale="fr") if m.id]


def test_the_french_catalog_has_no_empty_or_fuzzy_entry() -> None:
    entries = _entries()
    assert len(entries) > 300  # help texts, Click's own texts, messages and report labels
    empty = [m.id for m in entries if not (all(m.string) if isinstance(m.string, tuple) else m.string)]
    fuzzy = [m.id for m in entries if m.fuzzy]
    assert empty == [] and fuzzy == [], f"in {PO}: empty {empty[:10]}, fuzzy {fuzzy[:10]}"


def test_translations_keep_the_placeholders_of_their_text() -> None:
    wrong = []
    for m in _entries():
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        for form, text in enumerate(strings):  # French plural forms: 0 for 0 and 1, 1 beyond
            if set(PLACEHOLDER.findall(text)) != set(PLACEHOLDER.findall(ids[min(form, len(ids) - 1)])):
                wrong.append((ids[0], text))
    assert wrong == [], wrong[:10]


def _commands() -> list[tuple[str, click.Command]]:
    """Every command of the CLI with its path, the lazily imported ones included."""
    from anl_stack.cli import cli

    found: list[tuple[str, click.Command]] = []

    def walk(path: str, command: click.Command) -> None:
        found.append((path, command))
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None, f"{path} {name}"
                walk(f"{path} {name}", sub)

    walk("anl-stack", cli)
    return found


def _help_texts(command: click.Command) -> list[tuple[str, str]]:
    texts = [("help", command.help or ""), ("short help", command.short_help or "")]
    texts += [(p.name or "?", p.help or "") for p in command.params if isinstance(p, click.Option)]
    return [(where, text) for where, text in texts if text]


def test_every_command_and_option_help_is_in_the_french_catalog() -> None:
    commands = _commands()
    assert {"anl-stack deploy", "anl-stack verify", "anl-stack plugins list", "anl-stack lab up"} <= {p for p, _c in commands}
    catalog = _catalog()
    untranslated = [(path, where, message) for path, command in commands for where, text in _help_texts(command)
                    for message in help_messages(text) if not catalog.get(message)]
    assert untranslated == [], f"help without French translation (run scripts/translations.sh): {untranslated[:10]}"
    # Every option of every command has help, and every command shows it translated.
    no_help = [(path, p.name) for path, c in commands for p in c.params
               if isinstance(p, click.Option) and not p.help and not p.hidden]
    assert no_help == []
    plain = [path for path, c in commands if not isinstance(c, (i18n_click.Command, i18n_click.Group))]
    assert plain == [], f"commands whose help would stay English (use anl_stack.cli.i18n_click classes): {plain}"


def test_french_help_of_every_command_shows_the_translation() -> None:
    from anl_stack.cli import cli

    runner = CliRunner()
    for path, command in _commands():
        args = ["--lang", "fr", *path.split()[1:], "--help"]
        result = runner.invoke(cli, args, prog_name="anl-stack")
        assert result.exit_code == 0, (path, result.output)
        assert result.output.startswith("Utilisation : anl-stack"), (path, result.output[:200])
        assert "Options :" in result.output and "Afficher ce message et quitter." in result.output, path
        first = help_messages(command.help or "")[:1]
        if first:
            shown = " ".join(result.output.split())
            assert " ".join(translate(first[0], "fr").split()) in shown, (path, first[0])


def test_click_still_has_the_texts_the_catalog_translates_for_it() -> None:
    method_map = [("**.py", "python")]
    found = extract_from_dir(str(Path(click.__file__).parent), method_map=method_map)
    click_ids = {m if isinstance(m, str) else m[0] for _f, _l, m, _c, _x in found}
    assert set(i18n_click.CLICK_TEXTS) - {"required"} <= click_ids  # "required" is passed to Click's _ as a variable


def test_help_texts_are_extracted_paragraph_by_paragraph() -> None:
    source = '''
import click

@click.command("x", short_help="Short.")
@click.option("--a", help="Option "
              "help.")
def x() -> None:
    """First paragraph
    on two lines.

    \\b
    Kept: line one
    line two.
    """
'''
    assert sorted(m for _line, m in click_help_texts(source)) == sorted(
        ["Short.", "Option help.", "First paragraph on two lines.", "Kept: line one\nline two."])
    assert translate_help("Show this\n   message and exit.", "fr") == "Afficher ce message et quitter."
