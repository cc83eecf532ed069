"""Click in the user's language: help texts and Click's own messages translated when shown.

Help texts stay plain English strings in the code (docstrings, ``help=``);
Babel finds them with the project's extractor (:mod:`anl_stack.core.i18n_extract`).
They are translated at display time, in the language ``--lang`` or the
locale chose, by:

- :class:`HelpFormatter`, which translates the texts it writes (a command's
  help, paragraph by paragraph; the help column of options and commands);
- :class:`Command` and :class:`Group`, which translate the short help shown
  in a group's list of commands, and give their contexts that formatter;
- :func:`install_click_translations`, which routes Click's own texts
  ("Usage:", "Show this message and exit.", usage errors...) through the
  project's catalogs: Click calls ``gettext`` from each of its modules, and
  those names are replaced by the project's translator.

Every command of the CLI uses these classes (a test walks the tree).
"""

from __future__ import annotations

import gettext
import re
from typing import Any

import click

from anl_stack.core.i18n import N_, _, ngettext, translate_help

#: Click's own texts that anl-stack users see (help and usage errors), for the catalogs;
#: tests/unit/test_translations.py checks that Click still has each of them.
CLICK_TEXTS = (
    N_("Usage:"), N_("Options"), N_("Commands"), N_("Show this message and exit."),
    N_("Show the version and exit."), N_("default: {default}"), N_("required"), N_("env var: {var}"),
    N_("Error: {message}"), N_("Try '{command} {option}' for help."), N_("Aborted!"),
    N_("Missing argument"), N_("Missing option"), N_("Missing parameter"), N_("Missing command."),
    N_("No such command {name!r}."), N_("No such option {name!r}."),
    N_("Invalid value: {message}"), N_("Invalid value for {param_hint}: {message}"),
    N_("Option {name!r} does not take a value."), N_("Argument {name!r} takes {nargs} values."),
    N_("{value!r} is not a valid {number_type}."), N_("{value} is not in the range {range}."),
    N_("{name} {filename!r} does not exist."), N_("{name} {filename!r} is a directory."),
    N_("{name} {filename!r} is a file."), N_("{name} {filename!r} is not readable."),
    N_("file"), N_("directory"), N_("path"), N_("deprecated"),
    N_("Do you want to continue?"), N_("Confirm the action without prompting."), N_("Positional arguments"),
    N_("%(prog)s, version %(version)s"),
)


def _click_plurals() -> None:  # pragma: no cover - never called: marks Click's plural texts for Babel
    ngettext("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)", 1)
    ngettext("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments.", 1)
    ngettext("{value!r} is not {choice}.", "{value!r} is not one of {choices}.", 1)
    ngettext("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})", 1)


_CLICK_MODULES = ("core", "exceptions", "formatting", "parser", "types", "decorators", "termui", "utils",
                  "shell_completion")
# An option's help cell: its text, then Click's "  [default: ...; required]".
_EXTRA = re.compile(r"(?s)^(.*?)(\s{2}\[[^\[\]]*\])?$")


def install_click_translations() -> None:
    """Make Click's own texts go through the project's catalogs (idempotent)."""
    import importlib

    for name in _CLICK_MODULES:
        module = importlib.import_module(f"click.{name}")
        if getattr(module, "_", None) is gettext.gettext:
            module._ = _  # type: ignore[attr-defined]
        if getattr(module, "ngettext", None) is gettext.ngettext:
            module.ngettext = ngettext  # type: ignore[attr-defined]


def translate_cell(text: str) -> str:
    """The help column of a definition list: the text translated, Click's bracketed extras kept."""
    match = _EXTRA.match(text)
    if match is None or not match.group(1).strip():
        return text
    return translate_help(match.group(1)) + (match.group(2) or "")


class HelpFormatter(click.HelpFormatter):
    """Writes help texts in the current language."""

    def write_text(self, text: str) -> None:
        super().write_text(translate_help(text))

    def write_heading(self, heading: str) -> None:
        # "Options:" in English, "Options :" in French (typography of the catalog).
        text = _("{heading}:").format(heading=heading)
        self.write(f"{'':>{self.current_indent}}{text}\n")

    def write_dl(self, rows: Any, col_max: int = 30, col_spacing: int = 2) -> None:
        super().write_dl([(first, translate_cell(second)) for first, second in rows], col_max, col_spacing)


class Context(click.Context):
    formatter_class = HelpFormatter


def _first_sentence(text: str, limit: int) -> str:
    """Click's short help made from a (translated) help: its first sentence, shortened to ``limit``."""
    import textwrap

    words = text.partition("\n\n")[0].split()
    if words and words[0] == "\b":
        words = words[1:]
    for i, word in enumerate(words):
        if word.endswith(".") and (i == len(words) - 1 or not words[i + 1][0].islower()):
            words = words[: i + 1]
            break
    sentence = " ".join(words)
    if len(sentence) <= limit:
        return sentence
    return textwrap.shorten(sentence, max(limit, 3), placeholder="...", break_on_hyphens=False)


def _short_help(command: click.Command, limit: int) -> str:
    if command.short_help:
        text = translate_help(command.short_help)
    elif command.help:
        text = _first_sentence(translate_help(command.help), limit)
    else:
        text = ""
    return text.strip()


class Command(click.Command):
    """A command whose help is shown in the current language."""

    context_class = Context

    def get_short_help_str(self, limit: int = 45) -> str:
        return _short_help(self, limit)


class Group(click.Group):
    """A group whose help, and whose commands' help, is shown in the current language."""

    context_class = Context
    command_class = Command
    group_class = type  # subgroups are of this class too

    def get_short_help_str(self, limit: int = 45) -> str:
        return _short_help(self, limit)


install_click_translations()
