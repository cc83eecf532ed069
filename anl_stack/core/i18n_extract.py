"""Babel extraction method for the project (babel.cfg): gettext calls plus Click's help texts.

Besides what Babel's Python extractor finds (``_``, ``N_``, ``ngettext``...),
it yields the help of commands, options and arguments as Click shows them:
the docstring of a function decorated with ``@....command``/``@....group``,
and the literal ``help=``/``short_help=``/``epilog=`` given to Click. They
stay plain strings in the code; the CLI translates them when it shows them
(:mod:`anl_stack.cli.i18n_click`). It also yields the explanation and hint
of anl-stack's own checks (the docstrings of ``test_*`` functions in
``verify/baseline``), which the verify reports show translated.
"""

from __future__ import annotations

import ast
import io
from collections.abc import Iterator
from typing import IO, Any

from anl_stack.core.i18n import check_doc_parts, help_messages

#: Click calls whose help keywords hold a text for the user.
CLICK_CALLS = frozenset({"option", "argument", "command", "group", "version_option", "help_option",
                         "confirmation_option", "password_option", "Option", "Argument", "Command", "Group"})
HELP_KEYWORDS = ("help", "short_help", "epilog")


def _callee(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def click_help_texts(source: str) -> Iterator[tuple[int, str]]:
    """``(line, message)`` for every Click help text in a module's source (and every check's explanation and hint)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _callee(node) in CLICK_CALLS:
            for keyword in node.keywords:
                value = keyword.value
                if keyword.arg in HELP_KEYWORDS and isinstance(value, ast.Constant) and isinstance(value.value, str):
                    for message in help_messages(value.value):
                        yield node.lineno, message
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            # A check of anl-stack's own (verify/baseline): its explanation and hint, as reports show them.
            doc = ast.get_docstring(node, clean=True)
            for message in check_doc_parts(doc) if doc else ():
                if message:
                    yield node.lineno, message
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            commands = [d for d in node.decorator_list
                        if isinstance(d, ast.Call) and _callee(d) in ("command", "group")]
            doc = ast.get_docstring(node, clean=True)
            if commands and doc:
                for message in help_messages(doc):
                    yield node.lineno, message


def extract(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any) -> Iterator[tuple[Any, ...]]:
    """Babel's extraction-method interface (``[anl_stack.core.i18n_extract.extract: **.py]``)."""
    from babel.messages.extract import extract_python

    source = fileobj.read()
    yield from extract_python(io.BytesIO(source), keywords, comment_tags, options)
    for line, message in click_help_texts(source.decode("utf-8")):
        yield line, None, message, []
