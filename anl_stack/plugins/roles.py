"""A role's declared options: its ``meta/argument_specs.yml``, the one source of its variables.

Ansible validates them at run time; anl-stack reads them before any run to
check a commune's settings (``inventory check``) and a plugin's manifest
(``plugins check``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


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
    data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    main = ((data.get("argument_specs") or {}).get("main") or {})
    return RoleSpec(role, file, dict(main.get("options") or {}))
