"""A role's declared options: its ``meta/argument_specs.yml``, the one source of its variables.

Ansible validates them at run time; anl-stack reads them before any run to
check a commune's settings (``inventory check``) and a plugin's manifest
(``plugins check``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anl_stack.core.errors import AnlError
from anl_stack.core.i18n import _
from anl_stack.core.yamlfile import read_yaml


@dataclass
class RoleSpec:
    """The options of one role's ``main`` entry point."""

    role: str
    file: Path
    options: dict[str, dict[str, Any]] = field(default_factory=dict)


def spec_file(role_dir: Path) -> Path:
    """Where the role declares its options (``.yml``, or ``.yaml`` when only that exists)."""
    for name in ("argument_specs.yml", "argument_specs.yaml"):
        if (role_dir / "meta" / name).is_file():
            return role_dir / "meta" / name
    return role_dir / "meta" / "argument_specs.yml"


def load_role_spec(role: str, role_dir: Path) -> RoleSpec | None:
    """Options from ``meta/argument_specs.yml`` (None when the role has none)."""
    file = spec_file(role_dir)
    if not file.is_file():
        return None
    doc = read_yaml(file)
    # A plugin comes from someone else: every level must be the mapping Ansible expects.
    node: Any = doc.data or {}
    path: list[str] = []
    for key in ("argument_specs", "main", "options"):
        if not isinstance(node, dict):
            break
        node = node.get(key) or {}
        path.append(key)
    options = node if isinstance(node, dict) else None
    bad = next((k for k, v in (options or {}).items() if not isinstance(v, dict)), None)
    if options is None or bad is not None:
        where = (path or ["argument_specs"]) if options is None else [*path, str(bad)]
        raise AnlError(_("not a mapping"), file=str(file), line=doc.line(*where), key=".".join(where),
                       expected="argument_specs: {main: {options: {NAME: {type: ..., description: ...}}}}")
    return RoleSpec(role, file, {str(k): v for k, v in options.items()})
