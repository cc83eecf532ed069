"""Plugin roles use the shared roles' handlers instead of defining copies of them.

A plugin that changes nginx's configuration notifies the web role's
``Reload nginx`` (``nginx -t``, then the reload); it does not define its own
handler for a service a shared role's handlers already reload or restart,
nor reuse one of their names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SERVICE_MODULES = ("ansible.builtin.systemd_service", "ansible.builtin.systemd", "ansible.builtin.service")


def _handlers(role: Path) -> list[dict[str, Any]]:
    """Every handler of ``role``, blocks flattened."""
    file = role / "handlers" / "main.yml"
    found: list[dict[str, Any]] = []

    def walk(items: Any) -> None:
        for item in items or []:
            if "block" in item:
                walk(item["block"])
            else:
                found.append(item)

    walk(yaml.safe_load(file.read_text(encoding="utf-8")) if file.is_file() else [])
    return found


def _topics(handler: dict[str, Any]) -> set[str]:
    listen = handler.get("listen") or []
    return {handler.get("name", "")} | ({listen} if isinstance(listen, str) else set(listen))


def _action(handler: dict[str, Any]) -> str | None:
    """What the handler does to a service, e.g. ``nginx reloaded``, or ``nginx -t``; None otherwise."""
    for module in SERVICE_MODULES:
        args = handler.get(module)
        if isinstance(args, dict) and args.get("name") and args.get("state"):
            return f"{args['name']} {args['state']}"
    command = handler.get("ansible.builtin.command")
    if isinstance(command, str) and command.strip() == "nginx -t":
        return "nginx -t"
    return None


SHARED = [h for role in sorted(PROJECT_ROOT.glob("playbooks/roles/*")) for h in _handlers(role)]
PLUGIN_ROLES = sorted(PROJECT_ROOT.glob("plugins/*/roles/*"))


def test_shared_handlers_are_found() -> None:
    assert any(_action(h) == "nginx reloaded" for h in SHARED), SHARED


@pytest.mark.parametrize("role", PLUGIN_ROLES, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_plugin_role_does_not_copy_a_shared_handler(role: Path) -> None:
    shared_topics = set().union(*(_topics(h) for h in SHARED))
    shared_actions = {a for a in map(_action, SHARED) if a}
    problems = []
    for handler in _handlers(role):
        name = handler.get("name")
        if _topics(handler) & shared_topics:
            problems.append(f"{name!r} reuses the shared handler name(s) {sorted(_topics(handler) & shared_topics)}")
        if _action(handler) in shared_actions:
            problems.append(f"{name!r} does what a shared handler does ({_action(handler)}): notify that one")
    assert not problems, f"{role.relative_to(PROJECT_ROOT)}/handlers/main.yml:\n" + "\n".join(problems)
