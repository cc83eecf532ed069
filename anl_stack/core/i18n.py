"""Language of human-facing output: French for fr_* locales, else English.

Texts are written in English in the code and translated through gettext
catalogs (``anl_stack/locale/<lang>/LC_MESSAGES/anl_stack.po``, compiled to
``.mo``), extracted and compiled with Babel (docs/contributing-a-recipe.md,
"Translations"). ``N_`` marks a text for extraction where it is defined;
``translate`` gives it in a language where it is shown.
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


def detect_language(environ: Mapping[str, str] | None = None) -> Lang:
    """The language the locale asks for, with POSIX precedence.

    LC_ALL overrides LC_MESSAGES, which overrides LANG; the first one set
    decides. "fr", "fr_FR.UTF-8", "fr_BE@euro"... give French.
    """
    env = os.environ if environ is None else environ
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            return "fr" if value.split(".")[0].split("@")[0].split("_")[0].lower() == "fr" else "en"
    return "en"


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


def translate(message: str, lang: Lang) -> str:
    """``message`` (English, as written in the code) in ``lang``."""
    return _catalog(lang).gettext(message)


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
