"""HTML for a page: Jinja templates with autoescaping, so every manifest value is escaped.

Only two things reach the page unescaped, both made safe before: the
fiche's Markdown rendered with raw HTML off (:mod:`.markdown`), and the data
block of the calculator, JSON with ``<``, ``>`` and ``&`` escaped.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import jinja2
from markupsafe import Markup, escape

from anl_stack import __version__
from anl_stack.catalog.site.pages import Page
from anl_stack.catalog.site.routes import ASSETS, other_langs, page_path, relative
from anl_stack.core.i18n import Lang, translate

#: Each language's name in itself, for the language switch.
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}
_URL = re.compile(r"https?://[^\s<>\"'`()\[\]{};,]+")


def is_web_url(value: Any) -> bool:
    """Only http(s) addresses become links (never javascript:, data:, file:...)."""
    return isinstance(value, str) and _URL.fullmatch(value) is not None


def linked(text: Any) -> Markup:
    """Text with its http(s) addresses as links, everything else escaped."""
    text, out, pos = str(text), [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".:")
        out.append(escape(text[pos:match.start()]))
        out.append(Markup('<a href="{0}">{0}</a>').format(url))
        pos = match.start() + len(url)
    out.append(escape(text[pos:]))
    return Markup("").join(out)


def json_script(data: Any) -> Markup:
    """JSON safe inside <script type="application/json">: no '</script>' or '<!--' can close or open anything."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                       ("\u2029", "\\u2029")):
        text = text.replace(char, code)
    return Markup(text)


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("anl_stack.catalog.site", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters.update(linked=linked, json_script=json_script, safe_html=Markup)
    env.tests["web_url"] = is_web_url
    return env


def render_page(page: Page, root_lang: Lang, pages_by_key: dict[tuple[str, str | None, str], str]) -> str:
    """The page's HTML; ``pages_by_key`` maps (kind, name, lang) to paths, for the language switch."""

    def _(message: str) -> str:
        return translate(message, page.lang)

    def url(kind: str, name: str | None = None) -> str:
        return relative(page.path, page_path(kind, page.lang, root_lang, name))

    switch = [{"lang": lang, "name": LANGUAGE_NAMES[lang],
               "href": relative(page.path, pages_by_key[(page.kind, page.name, lang)])}
              for lang in other_langs(page.lang) if (page.kind, page.name, lang) in pages_by_key]
    root = relative(page.path, "index.html")[: -len("index.html")]
    context = {**page.data, "_": _, "lang": page.lang, "kind": page.kind, "version": __version__, "url": url,
               "switch": switch, "root": root, "asset": lambda name: f"{root}{ASSETS}/{name}"}
    return environment().get_template(page.template).render(context)
