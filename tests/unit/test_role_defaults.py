"""One source per default: each role's ``meta/argument_specs.yml`` agrees with its ``defaults/main.yml``.

``defaults/main.yml`` holds the values Ansible uses. The argument specs
type and describe every variable; where they declare a ``default`` it must
be the very value of ``defaults/main.yml``. A computed default (a Jinja
expression) is not repeated in the specs, whose validation would only see
the literal text: the option's description says where the value comes from.

Roles are found by globbing the shared roles (``playbooks/roles/*``) and the
plugins' roles (``plugins/*/roles/*``); the skeleton of ``plugins new`` is
held to the same rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from anl_stack.plugins.scaffold import create_plugin

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ROLE_GLOBS = ("playbooks/roles/*", "plugins/*/roles/*")


def _roles() -> list[Path]:
    return sorted(p for pattern in ROLE_GLOBS for p in PROJECT_ROOT.glob(pattern) if p.is_dir())


ROLES = _roles()


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None


def _templated(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(_templated(k) or _templated(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_templated(v) for v in value)
    return False


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same YAML type all the way down (``True`` is not ``1``, ``"22"`` is not ``22``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def disagreements(role: Path, root: Path = PROJECT_ROOT) -> list[str]:
    """Every way ``role``'s argument specs and defaults/main.yml disagree, one line each (paths from ``root``)."""
    specs_file = role / "meta" / "argument_specs.yml"
    defaults_file = role / "defaults" / "main.yml"
    specs = _load(specs_file)
    if not isinstance(specs, dict) or not isinstance(specs.get("argument_specs"), dict):
        return [f"{specs_file}: no argument_specs mapping"]
    defaults = _load(defaults_file) or {}
    if not isinstance(defaults, dict):
        return [f"{defaults_file}: not a mapping"]
    found: list[str] = []
    declared: set[str] = set()
    for entry_point, entry in specs["argument_specs"].items():
        for name, option in ((entry or {}).get("options") or {}).items():
            declared.add(name)
            where = f"{specs_file.relative_to(root)} {entry_point}.{name}"
            if "default" in option:
                default = option["default"]
                if _templated(default):
                    found.append(f"{where}: default {default!r} is a Jinja expression; drop it and say in "
                                 "the description where the value comes from")
                elif name not in defaults:
                    found.append(f"{where}: default {default!r} is declared but {name} is missing "
                                 "from defaults/main.yml")
                elif not _same(default, defaults[name]):
                    found.append(f"{where}: default {default!r} differs from defaults/main.yml {defaults[name]!r}")
            elif name in defaults and not _templated(defaults[name]):
                found.append(f"{where}: no default declared, defaults/main.yml sets {defaults[name]!r}")
            if option.get("required") and name in defaults:
                found.append(f"{where}: required, yet defaults/main.yml sets it")
    for name in defaults:
        if name not in declared:
            found.append(f"{defaults_file.relative_to(root)} {name}: not an option of any entry point "
                         "in meta/argument_specs.yml")
    return found


def test_roles_are_found() -> None:
    assert any(r.parent.name == "roles" and r.parent.parent.name == "playbooks" for r in ROLES), ROLES
    assert any(r.parent.parent.parent.name == "plugins" for r in ROLES), ROLES


@pytest.mark.parametrize("role", ROLES, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_argument_specs_agree_with_defaults(role: Path) -> None:
    assert (role / "meta" / "argument_specs.yml").is_file(), f"{role} has no meta/argument_specs.yml"
    problems = disagreements(role)
    assert not problems, "\n".join(problems)


def test_skeleton_of_plugins_new_agrees(tmp_path: Path) -> None:
    plugin = create_plugin("skel", tmp_path)
    problems = disagreements(plugin / "roles" / "skel", root=tmp_path)
    assert not problems, "\n".join(problems)


def test_disagreements_are_found(tmp_path: Path) -> None:
    role = tmp_path / "planted"
    (role / "meta").mkdir(parents=True)
    (role / "defaults").mkdir()
    (role / "meta" / "argument_specs.yml").write_text(yaml.safe_dump({"argument_specs": {"main": {"options": {
        "x_port": {"type": "int", "default": 22},
        "x_flag": {"type": "bool", "default": True},
        "x_name": {"type": "str", "default": "{{ anl_domain }}"},
        "x_gone": {"type": "str", "default": ""},
        "x_bare": {"type": "str"},
        "x_secret": {"type": "str", "required": True},
    }}}}))
    (role / "defaults" / "main.yml").write_text(yaml.safe_dump({
        "x_port": "{{ ansible_port | default(22) }}", "x_flag": 1, "x_name": "{{ anl_domain }}",
        "x_bare": "set", "x_secret": "", "x_extra": 1,
    }))
    text = "\n".join(disagreements(role, root=tmp_path))
    assert "main.x_port: default 22 differs" in text
    assert "main.x_flag: default True differs" in text
    assert "main.x_name: default '{{ anl_domain }}' is a Jinja expression" in text
    assert "main.x_gone: default '' is declared but x_gone is missing" in text
    assert "main.x_bare: no default declared" in text
    assert "main.x_secret: required, yet" in text
    assert "x_extra: not an option" in text
