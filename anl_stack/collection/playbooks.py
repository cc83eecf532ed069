"""A plugin's lifecycle playbooks as collection playbooks.

Role references become fully qualified names (``anl.communes.base``), an imported
sibling playbook becomes the collection playbook of that step, and a first play
(the ``gate`` role) does what anl-stack's engine does before a run: it refuses an
unsupported Debian release and computes the firewall ports and the artifacts.
"""

from __future__ import annotations

from typing import Any

import yaml

from anl_stack.plugin_api import LIFECYCLE

#: The role the collection adds for its first play (content/gate).
GATE_ROLE = "gate"
_ROLE_ACTIONS = {"include_role", "import_role", "ansible.builtin.include_role", "ansible.builtin.import_role"}
_IMPORT_PLAYBOOK = {"import_playbook", "ansible.builtin.import_playbook"}


def playbook_name(plugin: str, step: str) -> str:
    """The collection playbook of a plugin's step: ``streaming`` (deploy), ``streaming_backup``..."""
    base = plugin.replace("-", "_")
    return base if step == "deploy" else f"{base}_{step}"


def _qualify(name: Any, roles: set[str], fqcn: str) -> Any:
    return f"{fqcn}.{name}" if isinstance(name, str) and name in roles else name


def _walk_tasks(node: Any, roles: set[str], fqcn: str) -> Any:
    """Every include_role/import_role in tasks, blocks and handlers, with its role qualified."""
    if isinstance(node, list):
        return [_walk_tasks(item, roles, fqcn) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _ROLE_ACTIONS and isinstance(value, dict):
            value = {**value, "name": _qualify(value.get("name"), roles, fqcn)}
        elif key in ("block", "rescue", "always"):
            value = _walk_tasks(value, roles, fqcn)
        out[key] = value
    return out


def _role_entry(entry: Any, roles: set[str], fqcn: str) -> Any:
    if isinstance(entry, str):
        return _qualify(entry, roles, fqcn)
    if isinstance(entry, dict):
        key = "role" if "role" in entry else "name"
        return {**entry, key: _qualify(entry.get(key), roles, fqcn)}
    return entry


def rewrite(plays: list[Any], plugin: str, roles: set[str], fqcn: str) -> list[Any]:
    """The plays of one playbook with every reference resolving inside the collection."""
    steps = {s.playbook: s.name for s in LIFECYCLE}
    out: list[Any] = []
    for play in plays:
        play = dict(play)
        imported = next((k for k in play if k in _IMPORT_PLAYBOOK), None)
        if imported is not None:
            target = str(play[imported])
            if target in steps:
                play[imported] = f"{fqcn}.{playbook_name(plugin, steps[target])}"
            out.append(play)
            continue
        if "roles" in play:
            play["roles"] = [_role_entry(r, roles, fqcn) for r in play["roles"]]
        for section in ("pre_tasks", "tasks", "post_tasks", "handlers"):
            if section in play:
                play[section] = _walk_tasks(play[section], roles, fqcn)
        out.append(play)
    return out


def gate_play(plugin: str, step: str, hosts: str, fqcn: str) -> dict[str, Any]:
    """The first play: what the engine checks and computes before a run (tagged always)."""
    return {
        "name": f"Anl-stack gate for {plugin} ({step})",
        "hosts": hosts,
        "gather_facts": True,
        "any_errors_fatal": True,
        "tasks": [{
            "name": "Check the hosts and compute what anl-stack computes before a run",
            "ansible.builtin.import_role": {"name": f"{fqcn}.{GATE_ROLE}"},
            "vars": {"gate_plugin": plugin, "gate_step": step},
            "tags": ["always"],
        }],
    }


def collection_playbook(text: str, plugin: str, step: str, roles: set[str], fqcn: str) -> str:
    """One plugin playbook (its YAML text) as the collection's playbook for that step."""
    plays = yaml.safe_load(text) or []
    hosts = next((str(p["hosts"]) for p in plays if isinstance(p, dict) and "hosts" in p), plugin)
    body = rewrite(plays, plugin, roles, fqcn)
    header = (f"---\n# {plugin} {step} step, built by `anl-stack collection build` from the plugin's "
              f"playbook; run it as `ansible-playbook {fqcn}.{playbook_name(plugin, step)}`.\n")
    return header + yaml.safe_dump([gate_play(plugin, step, hosts, fqcn), *body], sort_keys=False,
                                   allow_unicode=True, width=100)
