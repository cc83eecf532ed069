"""No secret reaches a command line in a recipe's tasks: any account on a server reads /proc/PID/cmdline.

Read are the playbooks, task and handler files of every recipe (plugins/*/) and of
the shared roles they all run (playbooks/). Every task whose module runs a command
(command, shell, raw, script, expect) must not name a secret in the Jinja of its
command (free form, ``cmd``, ``argv``): a vault secret a manifest declares, a backup
secret, a name that looks like one (:data:`anl_stack.plugin_api.SECRET_NAME`), or a
variable whose definition names one (role defaults and vars, play, role, include and
task vars, set_fact), nor ``item`` when its loop does. ``stdin:``, ``environment:`` and
files are where secrets go. The names are followed as written, not through a real run:
a variable defined anywhere to hold a secret counts as a secret everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import jinja2.nodes
import pytest
import yaml

from anl_stack.plugin_api import BACKUP_PASSWORD_SECRET, BACKUP_SSH_KEY_SECRET, SECRET_NAME

# Jinja's lexer warns on regex escapes (`\s`) inside Ansible's string literals; Ansible parses them the same.
pytestmark = pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")

PROJECT = Path(__file__).resolve().parents[2]
COMMAND_MODULES = {f"{prefix}{name}" for prefix in ("", "ansible.builtin.", "ansible.legacy.")
                   for name in ("command", "shell", "raw", "script", "expect")}
#: Where a command module's command line comes from (expect names it ``command``).
COMMAND_KEYS = ("_raw_params", "cmd", "argv", "command")
BLOCK_KEYS = ("block", "rescue", "always")
PLAY_TASK_KEYS = ("pre_tasks", "tasks", "post_tasks", "handlers")

_ENV = jinja2.Environment()


def names_in(value: Any) -> set[str]:
    """Variables the Jinja in VALUE (a string, or lists and mappings of them) refers to."""
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return set()
        # Read from the syntax tree: Ansible's filters and tests need not exist here.
        tree = _ENV.parse(value)
        stored = {n.name for n in tree.find_all(jinja2.nodes.Name) if n.ctx in ("store", "param")}
        return {n.name for n in tree.find_all(jinja2.nodes.Name) if n.ctx == "load"} - stored
    if isinstance(value, dict):
        return set().union(*(names_in(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(names_in(v) for v in value)) if value else set()
    return set()


@dataclass
class Command:
    file: Path
    task: str
    names: set[str]
    loop_names: set[str]
    loop_var: str


@dataclass
class Recipes:
    """What the task files define and run, name by name."""

    definitions: dict[str, set[str]] = field(default_factory=dict)
    commands: list[Command] = field(default_factory=list)

    def define(self, variables: Any) -> None:
        if isinstance(variables, dict):
            for name, value in variables.items():
                self.definitions.setdefault(str(name), set()).update(names_in(value))

    def read_tasks(self, file: Path, tasks: Any) -> None:
        for task in tasks or []:
            if not isinstance(task, dict):
                continue
            self.define(task.get("vars"))
            for key in BLOCK_KEYS:
                if key in task:
                    self.read_tasks(file, task[key])
            for key, args in task.items():
                if key.endswith("set_fact") and isinstance(args, dict):
                    self.define({k: v for k, v in args.items() if k != "cacheable"})
                if key in COMMAND_MODULES:
                    self.commands.append(self._command(file, task, args))

    @staticmethod
    def _command(file: Path, task: dict[str, Any], args: Any) -> Command:
        merged = {"_raw_params": args} if isinstance(args, str) else dict(args or {})
        if isinstance(task.get("args"), dict):
            merged.update(task["args"])
        names = set().union(*(names_in(merged.get(k)) for k in COMMAND_KEYS))
        loop = {k: v for k, v in task.items() if k == "loop" or k.startswith("with_")}
        loop_var = (task.get("loop_control") or {}).get("loop_var", "item")
        return Command(file, str(task.get("name", "(unnamed)")), names, names_in(loop), loop_var)

    def read_playbook(self, file: Path, plays: Any) -> None:
        for play in plays or []:
            if not isinstance(play, dict):
                continue
            self.define(play.get("vars"))
            for role in play.get("roles", []) or []:
                if isinstance(role, dict):
                    self.define(role.get("vars"))
            for key in PLAY_TASK_KEYS:
                self.read_tasks(file, play.get(key))


def recipe_files() -> Iterator[tuple[str, Path]]:
    """(kind, file) of every recipe's and shared role's playbooks, tasks, handlers, defaults and vars."""
    for base in (PROJECT / "plugins", PROJECT / "playbooks"):
        playbooks = [p for p in base.glob("*.yml")] + [p for p in base.glob("*/*.yml") if p.name != "plugin.yml"]
        for path in sorted(playbooks):
            if path.parent.name != "roles":
                yield "playbook", path
        for role in sorted(base.glob("**/roles/*")):
            for kind in ("tasks", "handlers"):
                for path in sorted((role / kind).glob("*.yml")):
                    yield "tasks", path
            for kind in ("defaults", "vars"):
                for path in sorted((role / kind).glob("*.yml")):
                    yield "variables", path


def declared_secrets() -> set[str]:
    names = {BACKUP_PASSWORD_SECRET, BACKUP_SSH_KEY_SECRET}
    for manifest in (PROJECT / "plugins").glob("*/plugin.yml"):
        data = yaml.safe_load(manifest.read_text()) or {}
        names |= {s["name"] for s in (data.get("deployment") or {}).get("secrets", [])}
    return names


def secret_holders(recipes: Recipes, secrets: set[str]) -> set[str]:
    """The secrets, and every variable whose definition names one of them, to the end of the chain."""
    held = set(secrets) | {n for n in recipes.definitions if SECRET_NAME.search(n)}
    grown = True
    while grown:
        grown = False
        for name, refs in recipes.definitions.items():
            if name not in held and any(r in held or SECRET_NAME.search(r) for r in refs):
                held.add(name)
                grown = True
    return held


def leaks(recipes: Recipes, secrets: set[str]) -> list[str]:
    """One line per command that names a secret: FILE: TASK: NAME."""
    held = secret_holders(recipes, secrets)
    found = []
    for command in recipes.commands:
        bad = {n for n in command.names if n in held or SECRET_NAME.search(n)}
        if command.loop_var in command.names and any(n in held or SECRET_NAME.search(n) for n in command.loop_names):
            bad.add(command.loop_var)
        for name in sorted(bad):
            found.append(f"{command.file.relative_to(PROJECT)}: {command.task}: {name}")
    return found


def read_recipes(files: Iterator[tuple[str, Path]]) -> Recipes:
    recipes = Recipes()
    for kind, path in files:
        data = yaml.safe_load(path.read_text())
        if kind == "variables":
            recipes.define(data)
        elif kind == "playbook":
            recipes.read_playbook(path, data)
        else:
            recipes.read_tasks(path, data)
    return recipes


def test_no_secret_on_a_command_line_in_any_recipe() -> None:
    recipes = read_recipes(recipe_files())
    tasks = {c.task for c in recipes.commands}
    # The walk reaches the commands it is about (it would pass vacuously otherwise).
    assert {"Install Nextcloud (once)", "Read the system settings", "Build the archive pages once"} <= tasks
    assert len(recipes.commands) >= 20, len(recipes.commands)
    assert not leaks(recipes, declared_secrets()), "secrets on a command line:\n" + "\n".join(
        leaks(recipes, declared_secrets()))


SAMPLES = """
- name: free form
  ansible.builtin.command: mysql -p{{ demo_db_password }}
- name: cmd
  ansible.builtin.shell:
    cmd: "curl -H 'Authorization: {{ demo_api_token }}' http://localhost/"
- name: argv list
  command:
    argv: [tool, "--key={{ demo_secret }}"]
- name: argv expression
  ansible.builtin.command:
    argv: "{{ ['tool'] + ['--pass=' ~ demo_secret] }}"
- name: through a variable
  ansible.builtin.command:
    argv: "{{ demo_tool_args }}"
- name: through a loop
  ansible.builtin.command:
    argv: [tool, "{{ item.value }}"]
  loop: "{{ demo_users }}"
- name: in a block, through args
  block:
    - name: script with args
      ansible.builtin.script:
      args:
        cmd: setup.sh {{ demo_secret }}
- name: by stdin and environment (fine)
  ansible.builtin.command:
    argv: [tool, --password-from-stdin]
    stdin: "{{ demo_secret }}"
  environment:
    DEMO_PASS: "{{ demo_db_password }}"
- name: no secret (fine)
  ansible.builtin.command:
    argv: [tool, "{{ demo_root }}"]
  loop: "{{ demo_plain }}"
"""
VARIABLES = {"demo_tool_args": "{{ ['tool', '-p', demo_hidden] }}", "demo_hidden": "{{ demo_secret }}",
             "demo_users": [{"name": "a", "value": "{{ demo_secret }}"}], "demo_plain": ["x"], "demo_root": "/srv"}


@pytest.fixture
def sample_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    tasks = tmp_path / "tasks.yml"
    tasks.write_text(SAMPLES)
    variables = tmp_path / "vars.yml"
    variables.write_text(yaml.safe_dump(VARIABLES))
    monkeypatch.setattr(f"{__name__}.PROJECT", tmp_path)
    return leaks(read_recipes(iter([("variables", variables), ("tasks", tasks)])), {"demo_secret"})


def test_each_way_of_putting_a_secret_on_a_command_line_is_found(sample_recipe: list[str]) -> None:
    assert sample_recipe == [
        "tasks.yml: free form: demo_db_password",
        "tasks.yml: cmd: demo_api_token",
        "tasks.yml: argv list: demo_secret",
        "tasks.yml: argv expression: demo_secret",
        "tasks.yml: through a variable: demo_tool_args",
        "tasks.yml: through a loop: item",
        "tasks.yml: script with args: demo_secret",
    ]
