"""The one line-aware YAML reader: data and node tree from one parse, so errors name their line.

Inventories, manifests, role specs and records are read with it. Ansible's
``!vault`` and ``!unsafe`` values stay opaque text (an inline-encrypted
value is present but cannot be checked); manifests also keep dates as text,
so that the manifest model reports a bad date with its key and line.

Inventories and plugins come from other people, so a document is measured
before anything walks its data: an alias repeats a node without copying it,
and a few hundred bytes of nested aliases stand for billions of nodes once
pydantic, Ansible or a plain loop walks them (the "billion laughs"). A
document whose aliases expand past :data:`ALIAS_BUDGET` nodes (or four times
its own size), an alias inside the node it names, or nesting deeper than
:data:`MAX_DEPTH` is refused with the key where it happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.i18n import _

#: Placeholder for an inline-encrypted value: present, but not checkable.
VAULTED = "<vaulted>"
#: Nodes that aliases may add to a document, at least (see :func:`check_shape`).
ALIAS_BUDGET = 100_000
#: Aliases may add this many times the document's own number of nodes, when that is more.
ALIAS_FACTOR = 4
#: Largest YAML file read (an inventory of 200,000 hosts takes about 13 MiB).
MAX_BYTES = 32 * 1024 * 1024
#: Deepest nesting of mappings and lists accepted (inventories and manifests use about ten).
MAX_DEPTH = 64


class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML that keeps Ansible's ``!vault`` / ``!unsafe`` values as opaque text."""


def _opaque(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return VAULTED if node.tag == "!vault" else str(loader.construct_scalar(node))  # type: ignore[arg-type]


Loader.add_constructor("!vault", _opaque)
Loader.add_constructor("!unsafe", _opaque)


class TextDatesLoader(Loader):
    """As :class:`Loader`, with dates left as text."""


TextDatesLoader.add_constructor("tag:yaml.org,2002:timestamp", TextDatesLoader.construct_yaml_str)


def parse(text: str, file: str, *, loader: type = Loader, expected: str = "valid YAML") -> tuple[Any, yaml.Node | None]:
    """YAML data and its node tree, from one parse; a syntax error becomes an AnlError with its line."""
    instance = loader(text)
    try:
        node = instance.get_single_node()
        if node is not None:
            check_shape(node, file)
        data = instance.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise AnlError(_("not valid YAML: {problem}").format(problem=error.problem or error), file=file,
                       line=mark.line + 1 if mark else None, expected=expected) from None
    except yaml.YAMLError as error:
        raise AnlError(_("not valid YAML: {error}").format(error=error), file=file, expected=expected) from None
    finally:
        instance.dispose()
    return data, node


def _children(node: yaml.Node) -> list[tuple[Any, yaml.Node]]:
    """(path part, child) of a mapping (keys and values) or a list; nothing for a scalar."""
    if isinstance(node, yaml.MappingNode):
        out: list[tuple[Any, yaml.Node]] = []
        for key, value in node.value:
            part = key.value if isinstance(key, yaml.ScalarNode) else "?"
            out += [(part, key), (part, value)]
        return out
    if isinstance(node, yaml.SequenceNode):
        return list(enumerate(node.value))
    return []


@dataclass
class _Measure:
    """Per node (by id): its size with aliases expanded, its depth, how many places refer to it."""

    size: dict[int, int]
    depth: dict[int, int]
    refs: dict[int, int]


def _loop(root: yaml.Node, node: yaml.Node, on_path: set[int], file: str) -> AnlError:
    """The error for ``node`` holding an alias of one of the nodes on the path to it (``on_path``)."""
    def along(children: list[tuple[Any, yaml.Node]]) -> tuple[Any, yaml.Node] | None:
        return next(((p, c) for p, c in children if id(c) in on_path), None)

    path, line = _descend(root, along, len(on_path))
    return AnlError(_("an alias refers to the node that holds it (a loop)"), file=file, line=line, key=_dotted(path),
                    expected=_("aliases (*name) of nodes outside themselves"))


def _kids(node: yaml.Node) -> list[yaml.Node]:
    """The child nodes of a mapping (keys and values) or a list."""
    if node.__class__ is yaml.MappingNode:
        return [part for pair in node.value for part in pair]
    return list(node.value)


def _measure(root: yaml.Node, file: str) -> _Measure:
    """Measure every node once (memoised, iterative): linear in the document, whatever it expands to.

    Aliases make the node tree a graph whose shared parts are measured once.
    Scalars are measured where they are met, without going through the stack.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    refs: dict[int, int] = {}
    open_nodes: set[int] = set()  # the nodes on the current path: meeting one again is a loop
    stack: list[tuple[yaml.Node, list[yaml.Node] | None]] = [(root, None)]
    scalar = yaml.ScalarNode
    if root.__class__ is scalar:
        return _Measure({id(root): 1}, {id(root): 1}, {})
    while stack:
        node, kids = stack.pop()
        ident = id(node)
        if kids is not None:
            total, deepest = 1, 0
            for kid in kids:
                total += size[id(kid)]
                deepest = max(deepest, depth[id(kid)])
            size[ident], depth[ident] = total, deepest + 1
            open_nodes.discard(ident)
            continue
        if ident in size:
            continue
        open_nodes.add(ident)
        kids = _kids(node)
        stack.append((node, kids))
        for kid in kids:
            kid_id = id(kid)
            refs[kid_id] = refs.get(kid_id, 0) + 1
            if kid_id in size:
                continue
            if kid.__class__ is scalar:
                size[kid_id] = depth[kid_id] = 1
            elif kid_id in open_nodes:
                raise _loop(root, node, open_nodes, file)
            else:
                stack.append((kid, None))
    return _Measure(size, depth, refs)


def _descend(root: yaml.Node, pick: Any, steps: int) -> tuple[list[Any], int]:
    """Path and line reached by following ``pick(children)`` from the root, at most ``steps`` times."""
    node, path = root, []
    for _step in range(steps):
        chosen = pick(_children(node))
        if chosen is None:
            break
        part, node = chosen
        path.append(part)
    return path, node.start_mark.line + 1


def _dotted(path: list[Any]) -> str | None:
    text = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")
    return text or None


def check_shape(root: yaml.Node, file: str) -> None:
    """Refuse alias bombs, self-referring aliases and too deep nesting, before the data is built."""
    m = _measure(root, file)
    distinct, expanded = len(m.size), m.size[id(root)]
    budget = max(ALIAS_BUDGET, ALIAS_FACTOR * distinct)
    if expanded - distinct > budget:
        # Name the outermost key holding the expansion: follow big children that are not aliased
        # elsewhere (below them is the repetition itself); at the top, an aliased one if nothing else.
        def big(children: list[tuple[Any, yaml.Node]]) -> tuple[Any, yaml.Node] | None:
            large = [(p, c) for p, c in children if m.size[id(c)] > budget]
            return next(((p, c) for p, c in large if m.refs[id(c)] == 1), None)

        path, line = _descend(root, big, expanded)
        if not path:
            path, line = _descend(root, lambda ch: next(((p, c) for p, c in ch if m.size[id(c)] > budget), None), 1)
        raise AnlError(_("aliases expand this document to {expanded:.3g} nodes").format(expanded=expanded), file=file, line=line,
                       key=_dotted(path),
                       expected=_("aliases (*name) that add at most {budget} nodes").format(budget=budget))
    if m.depth[id(root)] > MAX_DEPTH:
        def deepest(children: list[tuple[Any, yaml.Node]]) -> tuple[Any, yaml.Node] | None:
            return max(children, key=lambda pc: m.depth[id(pc[1])], default=None)

        path, line = _descend(root, deepest, MAX_DEPTH)
        key = f"{_dotted(path[:6])}..."  # the first levels say where; all 64 would say nothing more
        raise AnlError(_("nested {depth} levels deep").format(depth=m.depth[id(root)]), file=file, line=line, key=key,
                       expected=_("at most {max_depth} levels of mappings and lists").format(max_depth=MAX_DEPTH))


def duplicate_keys(root: yaml.Node | None) -> list[tuple[str, int]]:
    """(dotted key, line) of every key given twice in one mapping: YAML silently keeps the last one."""
    found: list[tuple[str, int]] = []
    seen_nodes: set[int] = set()
    # (parent entry, path part) per container met: a path is spelt out only for a duplicate.
    trail: list[tuple[int, Any]] = [(-1, None)]
    stack: list[tuple[yaml.Node, int]] = [(root, 0)] if root is not None else []
    scalar = yaml.ScalarNode

    def path_of(entry: int) -> list[Any]:
        parts = []
        while entry > 0:
            entry, part = trail[entry]
            parts.append(part)
        return parts[::-1]

    while stack:
        node, entry = stack.pop()
        if id(node) in seen_nodes:
            continue  # a shared (aliased) node is checked once
        seen_nodes.add(id(node))
        if node.__class__ is yaml.MappingNode:
            keys: set[str] = set()
            for key, value in node.value:
                part = key.value if key.__class__ is scalar else "?"
                if key.__class__ is scalar:
                    if part in keys:
                        found.append((_dotted([*path_of(entry), part]) or part, key.start_mark.line + 1))
                    keys.add(part)
                if value.__class__ is not scalar:
                    trail.append((entry, part))
                    stack.append((value, len(trail) - 1))
        elif node.__class__ is yaml.SequenceNode:
            for index, item in enumerate(node.value):
                if item.__class__ is not scalar:
                    trail.append((entry, index))
                    stack.append((item, len(trail) - 1))
    return sorted(found, key=lambda item: item[1])


def refuse_duplicate_keys(doc: "YamlDoc") -> None:
    """AnlError naming file, line and key of every key given twice."""
    duplicates = duplicate_keys(doc.node)
    if duplicates:
        raise AnlError([ErrorRecord(_("key given twice"), str(doc.file), line, key, _("each key once"))
                        for key, line in duplicates])


def locate(node: yaml.Node | None, path: tuple[Any, ...]) -> tuple[int | None, tuple[Any, ...]]:
    """Line (1-based) of the deepest node reached along ``path``, and the part of ``path`` that matched.

    For a key that is missing, this is the line of its parent mapping; for a
    key that is present, the line of the key (its value may start below it).
    """
    line = node.start_mark.line + 1 if node is not None else None
    matched: list[Any] = []
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    line, node = key.start_mark.line + 1, value
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
        matched.append(part)
    return line, tuple(matched)


@dataclass
class YamlDoc:
    """One parsed YAML file with its node tree, to locate keys by line."""

    file: Path
    data: Any
    node: yaml.Node | None

    def line(self, *path: Any) -> int | None:
        """1-based line of the deepest node reached along ``path``."""
        return locate(self.node, path)[0]


def read_yaml(file: Path, *, loader: type = Loader, expected: str = "valid YAML") -> YamlDoc:
    """Read and parse one YAML file; an unreadable or invalid file becomes an AnlError naming it."""
    try:
        size = file.stat().st_size
        if size > MAX_BYTES:
            raise AnlError(_("is {size} bytes").format(size=size), file=str(file), key="size",
                           expected=_("a YAML file of at most {max_bytes} bytes").format(max_bytes=MAX_BYTES))
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise AnlError(_("cannot read: {error}").format(error=error), file=str(file), expected=_("a readable UTF-8 YAML file")) from None
    data, node = parse(text, str(file), loader=loader, expected=expected)
    return YamlDoc(file, data, node)


def is_vault_file(file: Path) -> bool:
    """Whether ``file`` is an ansible-vault encrypted file."""
    try:
        with file.open("rb") as handle:
            return handle.read(14) == b"$ANSIBLE_VAULT"
    except OSError:
        return False
