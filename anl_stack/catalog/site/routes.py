"""Where each page of the site lives, in each language, and how one page links to another.

The root language's pages are at the top of the site, the other language's
under its code (``en/`` by default). Links are relative, so the site works
from any folder, on any host, and opened from disk (file://).
"""

from __future__ import annotations

import posixpath

from anl_stack.core.i18n import LANGS, Lang

#: The pages every site has, besides one page per tool.
KINDS = ("home", "compare", "cost", "quality", "users")

#: File names of each page in each language (a reader sees them in the address bar).
SLUGS: dict[Lang, dict[str, str]] = {
    "fr": {"home": "index.html", "compare": "comparatif.html", "cost": "couts.html", "quality": "qualite.html",
           "users": "utilisateurs.html", "tool": "outils/{name}.html"},
    "en": {"home": "index.html", "compare": "comparison.html", "cost": "costs.html", "quality": "quality.html",
           "users": "users.html", "tool": "tools/{name}.html"},
}
ASSETS = "assets"


def prefix(lang: Lang, root_lang: Lang) -> str:
    return "" if lang == root_lang else f"{lang}/"


def page_path(kind: str, lang: Lang, root_lang: Lang, name: str | None = None) -> str:
    """The page's path from the site's root, e.g. ``outils/nextcloud.html`` or ``en/tools/nextcloud.html``."""
    slug = SLUGS[lang][kind]
    return prefix(lang, root_lang) + (slug.format(name=name) if kind == "tool" else slug)


def relative(from_path: str, to_path: str) -> str:
    """The link from the page at ``from_path`` to ``to_path`` (both from the site's root)."""
    return posixpath.relpath(to_path, posixpath.dirname(from_path) or ".")


def other_langs(lang: Lang) -> list[Lang]:
    return [other for other in LANGS if other != lang]
