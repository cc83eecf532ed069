"""What a templated inventory value would do on the controller when Ansible renders it.

Ansible renders inventory values on the controller, unsandboxed: a lookup
runs there (``lookup('pipe', ...)`` runs a command, ``lookup('file', ...)``
reads a file), ``{% include %}`` reads a file, and a ``__`` attribute walks
into Python's internals. A commune inventory is shared, so such a value is
untrusted code: :func:`controller_effects` names what a value would do,
from the template's syntax tree (never by rendering it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jinja2
from jinja2 import nodes

from anl_stack.core.i18n import _

#: Calls that run an Ansible lookup plugin on the controller.
LOOKUP_CALLS = frozenset({"lookup", "query", "q"})

_PARSER = jinja2.Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"])


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value or "{#" in value)


def controller_effects(text: str) -> list[str]:
    """What rendering ``text`` would do on the controller beyond computing a value (empty: nothing)."""
    if not is_template(text):
        return []
    try:
        tree = _PARSER.parse(text)
    except jinja2.TemplateSyntaxError as error:
        return [_("is not a template Ansible can render ({error})").format(error=error.message)]
    found: list[str] = []
    for node in tree.find_all((nodes.Call, nodes.Getattr, nodes.Getitem, nodes.Include, nodes.Import,
                               nodes.FromImport, nodes.Extends, nodes.Filter)):
        effect = _effect(node)
        if effect and effect not in found:
            found.append(effect)
    return found


def _effect(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name in LOOKUP_CALLS:
        plugin = _first_constant(node)
        return (_("runs the lookup {plugin!r} on the controller").format(plugin=plugin) if plugin
                else _("runs a lookup on the controller"))
    if isinstance(node, (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        return _("reads a template file on the controller")
    if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
        return _("reaches the Python internal {name!r}").format(name=node.attr)
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and str(node.arg.value).startswith("_"):
        return _("reaches the Python internal {name!r}").format(name=node.arg.value)
    if isinstance(node, nodes.Filter) and node.name.rsplit(".", 1)[-1] in ("lookup", "query"):
        return _("runs a lookup on the controller")
    return None


def _first_constant(call: nodes.Call) -> str | None:
    if call.args and isinstance(call.args[0], nodes.Const):
        return str(call.args[0].value)
    return None


def walk_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string inside a value, with its dotted key path below the variable."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from walk_strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk_strings(item, f"{path}[{index}]")
