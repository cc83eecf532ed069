"""Language of human-facing output: French for fr_* locales, else English.

Texts are written in English in the code and translated through gettext
catalogs (``anl_stack/locale/<lang>/LC_MESSAGES/anl_stack.po``, compiled to
``.mo``), extracted and compiled with Babel (docs/contributing-a-recipe.md,
"Translations"). ``N_`` marks a text for extraction where it is defined;
``_`` gives it in the current language where it is shown, ``translate`` in
a given one.

The current language is the one ``--lang`` chose (:func:`set_language`),
else ``ANL_STACK_LANG`` (how a child process such as verify's pytest learns
it), else the locale's (:func:`detect_language`). The language of messages
never depends on the locale being installed: catalogs are read directly, and
child processes run under :data:`CHILD_LOCALE` (:func:`child_locale_env`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

Lang = Literal["fr", "en"]
LANGS: tuple[Lang, ...] = ("fr", "en")
DOMAIN = "anl_stack"
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"


#: Set by ``--lang`` for the child processes anl-stack starts (verify's pytest).
LANG_ENV = "ANL_STACK_LANG"
#: The locale every child process runs under (Ansible, ssh, testinfra, tools whose output is
#: parsed): it exists on every Debian system, is UTF-8 (Ansible refuses anything else) and
#: gives untranslated, parsable output. anl-stack's own messages keep the user's language.
CHILD_LOCALE = "C.UTF-8"
#: What a child process's environment gets (``LANGUAGE`` and every other ``LC_*`` removed).
CHILD_LOCALE_VARS = {"LANG": CHILD_LOCALE, "LC_ALL": CHILD_LOCALE}

_chosen: Lang | None = None


def _language_of(value: str) -> Lang | None:
    """"fr", "fr_FR.UTF-8", "fr_BE@euro"... give French; "C", "POSIX", "" give nothing."""
    base = value.split(".")[0].split("@")[0].split("_")[0].split("-")[0].strip().lower()
    if base in ("", "c", "posix"):
        return None
    return "fr" if base == "fr" else "en"


def detect_language(environ: Mapping[str, str] | None = None) -> Lang:
    """The language the environment asks for, with gettext's precedence.

    ``ANL_STACK_LANG`` (fr or en) first, then LANGUAGE (a colon-separated
    list: its first French or English entry), then LC_ALL, LC_MESSAGES and
    LANG: the first one set decides. "fr", "fr_FR.UTF-8", "fr_BE@euro"...
    give French, anything else English. Whether the locale is installed does
    not matter.
    """
    env = os.environ if environ is None else environ
    forced = env.get(LANG_ENV, "").strip().lower()
    if forced in LANGS:
        return forced  # type: ignore[return-value]
    for entry in env.get("LANGUAGE", "").split(":"):
        if (found := _language_of(entry)) is not None:
            return found
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            return _language_of(value) or "en"
    return "en"


def set_language(lang: Lang | None) -> None:
    """Choose the language of this process's output (``--lang``); None goes back to the environment's."""
    global _chosen
    _chosen = lang


def current_language() -> Lang:
    """The language output is shown in now."""
    return _chosen if _chosen is not None else detect_language()


def child_locale_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with the locale of child processes set to :data:`CHILD_LOCALE`.

    A locale the user asks for may not be installed here or on the servers:
    Ansible then stops ("could not initialize the preferred locale"), ssh
    forwards it (``SendEnv LANG LC_*``) and remote tools print warnings or
    translated output that checks parse. LANGUAGE goes too (it would
    translate tools' messages); the user's language reaches our own child
    processes through ``ANL_STACK_LANG``.
    """
    result = {k: v for k, v in (os.environ if env is None else env).items()
              if k != "LANGUAGE" and not k.startswith("LC_")}
    result.update(CHILD_LOCALE_VARS)
    result[LANG_ENV] = current_language()
    return result


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated where it is shown (gettext's convention)."""
    return message


@functools.cache
def _catalog(lang: str) -> Any:
    import gettext  # lazily: a warm `plugins list` prints cached text and never translates

    if lang == "en":
        return gettext.NullTranslations()
    # A missing catalog falls back to English rather than failing (tests keep the catalogs complete).
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)


class Text(str):
    """A message with its values, kept in English and translated where it is shown.

    For texts made before the language of their reader is known (why a
    record does not count, shown by ``plugins show`` and by the catalog site
    in both languages): ``Text(N_("its source {file} is missing"), file=name)``
    is the English text (a ``str``, for JSON and comparisons), and
    :func:`translate` or :func:`_` give it in a language, the values
    included when they are ``Text`` too. The message stays a literal for
    Babel; it is never built at run time.
    """

    message: str
    values: dict[str, Any]

    def __new__(cls, message: str, **values: Any) -> Text:
        made = super().__new__(cls, message.format(**values) if values else message)
        made.message, made.values = message, values
        return made

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle keep the message and its values
        return _text_again, (self.message, self.values)

    def shown(self, lang: Lang) -> str:
        text = _catalog(lang).gettext(self.message)
        if not self.values:
            return text
        return text.format(**{k: v.shown(lang) if isinstance(v, Text) else v for k, v in self.values.items()})


def _text_again(message: str, values: dict[str, Any]) -> Text:
    return Text(message, **values)


class Joined(Text):
    """Texts joined by a separator (``N_("; ")``, which French writes " ; "), each translated where shown."""

    parts: tuple[str, ...]

    def __new__(cls, separator: str, parts: Any) -> Joined:
        parts = tuple(parts)
        made = str.__new__(cls, separator.join(parts))
        made.message, made.values, made.parts = separator, {}, parts
        return made

    def __reduce__(self) -> tuple[Any, ...]:
        return Joined, (self.message, self.parts)

    def shown(self, lang: Lang) -> str:
        separator = _catalog(lang).gettext(self.message)
        return separator.join(translate(part, lang) if isinstance(part, Text) else part for part in self.parts)


def translate(message: str, lang: Lang) -> str:
    """``message`` (English, as written in the code, or a :class:`Text`) in ``lang``."""
    return message.shown(lang) if isinstance(message, Text) else _catalog(lang).gettext(message)


def _(message: str) -> str:
    """``message`` in the current language (gettext's ``_``; Babel extracts its argument)."""
    return translate(message, current_language())


def shown(value: Any) -> Any:
    """A :class:`Text` in the current language; any other value (a name, an error already translated) as it is."""
    return value.shown(current_language()) if isinstance(value, Text) else value


def parse_text(text: str, messages: tuple[str, ...], **inner: tuple[str, ...]) -> str:
    """``text`` (English, read back from a file) as the :class:`Text` of the first of ``messages`` it matches.

    For notes stored in English (the artifact cache's index): each ``{name}``
    of a message matches any text, itself parsed with ``inner[name]`` when
    given. A text that matches none is returned as it is.
    """
    import re

    for message in messages:
        pattern = "".join(f"(?P<{part[1:-1]}>.+?)" if part.startswith("{") else re.escape(part)
                          for part in re.split(r"(\{[a-z_]+\})", message) if part)
        found = re.fullmatch(pattern, text)
        if found:
            values = {k: parse_text(v, inner[k]) if k in inner else v for k, v in found.groupdict().items()}
            return Text(message, **values)
    return text


def ngettext(singular: str, plural: str, count: int) -> str:
    """The singular or plural form for ``count``, in the current language."""
    return _catalog(current_language()).ngettext(singular, plural, count)


#: Labels of the catalog (fiches, lists, comparisons) by key, in English.
LABELS: dict[str, str] = {
    "name": N_("name"),
    "recipe_version": N_("recipe version"),
    "recipe_status": N_("recipe status"),
    "app_version": N_("app"),
    "platforms": N_("platforms"),
    "recipe": N_("recipe"),
    "source": N_("source"),
    "available": N_("available"),
    "not_yet_available": N_("not yet available"),
    "broken": N_("error"),
    "shadowed": N_("shadowed by"),
    "overview": N_("Overview"),
    "category": N_("Category"),
    "licence": N_("Licence"),
    "homepage": N_("Home page"),
    "code": N_("Source code"),
    "default_version": N_("Installed version"),
    "web_address": N_("Default web address"),
    "who_uses_it": N_("Who uses it"),
    "nobody_recorded": N_("no public user recorded with a source"),
    "requirements": N_("Requirements"),
    "cpu_cores": N_("CPU cores"),
    "ram_mb": N_("Memory (MB)"),
    "disk_gb": N_("Disk (GB)"),
    "notes": N_("Notes"),
    "sizing": N_("Sizing"),
    "no_sizing": N_("no published sizing"),
    "cost": N_("Costs (estimate)"),
    "hosting_eur_per_month": N_("Hosting (EUR/month)"),
    "setup_days": N_("Set-up (days)"),
    "admin_days_per_month": N_("Administration (days/month)"),
    "providers": N_("Providers"),
    "no_providers": N_("no provider recorded with a source"),
    "references": N_("References"),
    "sill_id": N_("SILL"),
    "comptoir_du_libre_id": N_("Comptoir du Libre"),
    "wikidata": N_("Wikidata"),
    "upstream_health": N_("Upstream health"),
    "active": N_("active"),
    "maintained": N_("maintained (fixes only)"),
    "unmaintained": N_("unmaintained"),
    "since": N_("since"),
    "alternatives": N_("Alternatives"),
    "deployment": N_("Deployment"),
    "ports": N_("Open ports"),
    "depends_on": N_("Depends on"),
    "artifacts": N_("Verified downloads"),
    "supported": N_("yes"),
    "unsupported": N_("no"),
    "installs": N_("installs"),
    "unknown": N_("unknown"),
    "unverified": N_("unverified"),
    "checked": N_("checked"),
    "sources": N_("Sources"),
    "unverified_legend": N_("* fact without a source: unverified"),
    "fiche": N_("Full fiche"),
    "not_in_ci": N_("What CI does not exercise (from the fiche)"),
    "users_count": N_("Public users recorded"),
    "providers_count": N_("Providers recorded"),
    "no_plugins": N_("No plugin found."),
    "level": N_("level"),
    "commune": N_("commune"),
    "intercommunal": N_("intercommunal body"),
    "region": N_("region"),
    "state": N_("State"),
    "other": N_("public body"),
    "dated": N_("dated"),
    "undated": N_("undated source"),
    "months_old": N_("months old"),
    "prices": N_("Published prices"),
    "paid_before": N_("Paid before"),
    "per_month": N_("per month"),
    "per_year": N_("per year"),
    "once": N_("once"),
    "cost_by_size": N_("Hosting by commune size (cost model)"),
    "inhabitants": N_("inhabitants"),
    "cost_details": N_("every assumption, its source and the other costs"),
    "no_offer": N_("no listed offer is large enough"),
    "cost_model_missing": N_("no cost parameters"),
    "next": N_("next"),
}


def label(key: str, lang: Lang) -> str:
    """A catalog label; the key itself when it has none."""
    return translate(LABELS[key], lang) if key in LABELS else key


def check_doc_parts(doc: str) -> tuple[str, str]:
    """A check's explanation (the first line of its docstring) and hint (the paragraph starting ``Hint:``).

    Reports show them translated (:func:`check_text`); the extractor gives
    those of anl-stack's own checks to Babel.
    """
    lines = [line.strip() for line in doc.splitlines()]
    explanation = lines[0] if lines else ""
    hint_lines: list[str] = []
    for line in lines:
        if hint_lines and line and not line.lower().startswith(("hint:",)):
            hint_lines.append(line)
        elif line.lower().startswith("hint:"):
            hint_lines = [line[5:].strip()]
        elif hint_lines and not line:
            break
    return explanation, " ".join(hint_lines)


def check_text(text: str | None) -> str:
    """A check's explanation or hint in the current language (a plugin's own checks: as they are written)."""
    return _(text) if text else ""


def help_messages(text: str) -> list[str]:
    """The messages of a Click help text, as catalogs hold them: one per paragraph.

    Click's own cleaning first (indentation removed, cut at a form feed);
    then each paragraph with its lines joined (Click wraps it again when
    shown), except a ``\\b`` paragraph, kept line by line without the
    marker. :func:`translate_help` shows them; the extractor
    (:mod:`anl_stack.core.i18n_extract`) gives them to Babel.
    """
    return [message for _marker, message in _paragraphs(text) if message]


def _paragraphs(text: str) -> list[tuple[str, str]]:
    import inspect
    import re

    text = inspect.cleandoc(text).partition("\f")[0]
    result: list[tuple[str, str]] = []
    for paragraph in re.split(r"\n[ \t]*\n", text):
        if paragraph.startswith("\b\n"):
            result.append(("\b\n", paragraph[2:]))
        else:
            result.append(("", " ".join(paragraph.split())))
    return result


def translate_help(text: str, lang: Lang | None = None) -> str:
    """A Click help text in ``lang`` (default: the current language), paragraph by paragraph."""
    catalog = _catalog(lang or current_language())
    return "\n\n".join(marker + (catalog.gettext(message) if message else "")
                       for marker, message in _paragraphs(text))
