"""The one line-aware YAML reader: data and node tree from one parse, so errors name their line.

Inventories and manifests are read with it. Ansible's ``!vault`` and
``!unsafe`` values stay opaque text (an inline-encrypted value is present
but cannot be checked); manifests also keep dates as text, so that the
manifest model reports a bad date with its key and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from anl_stack.core.errors import AnlError

#: Placeholder for an inline-encrypted value: present, but not checkable.
VAULTED = "<vaulted>"


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
        data = instance.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise AnlError(f"not valid YAML: {error.problem or error}", file=file,
                       line=mark.line + 1 if mark else None, expected=expected) from None
    except yaml.YAMLError as error:
        raise AnlError(f"not valid YAML: {error}", file=file, expected=expected) from None
    finally:
        instance.dispose()
    return data, node


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
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise AnlError(f"cannot read: {error}", file=str(file), expected="a readable UTF-8 YAML file") from None
    data, node = parse(text, str(file), loader=loader, expected=expected)
    return YamlDoc(file, data, node)


def is_vault_file(file: Path) -> bool:
    """Whether ``file`` is an ansible-vault encrypted file."""
    try:
        with file.open("rb") as handle:
            return handle.read(14) == b"$ANSIBLE_VAULT"
    except OSError:
        return False
