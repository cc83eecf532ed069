"""Fiches are Markdown written by plugin authors: untrusted. Rendered here with raw HTML off.

Raw HTML in a fiche is shown as text, images are not loaded (the site loads
nothing from another host), and links into the plugin's repository (relative
ones) become plain text: the site does not carry those files.
"""

from __future__ import annotations

import functools
import re

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore

_EXTERNAL = re.compile(r"^(https?:|mailto:)", re.IGNORECASE)


def _unlink_relative(state: StateCore) -> None:
    """Links that point into the repository keep their text and lose their target."""
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        dropped = False
        for token in block.children:
            if token.type == "link_open":
                dropped = not _EXTERNAL.match(token.attrGet("href") or "")
            if token.type in ("link_open", "link_close") and dropped:
                token.type, token.tag, token.nesting, token.attrs = "text", "", 0, {}
                token.content = ""
            if token.type == "link_close":
                dropped = False


@functools.cache
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.disable("image")  # an image would be a request to another host
    md.core.ruler.push("unlink_relative", _unlink_relative)
    return md


def render_markdown(text: str, *, shift: int = 0) -> str:
    """Safe HTML for a fiche's Markdown (every character of the source escaped or parsed).

    ``shift`` moves headings down (1: ``##`` becomes ``<h3>``) under the page's own headings.
    """
    md = _parser()
    tokens = md.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + shift)}"
    return md.renderer.render(tokens, md.options, {})
