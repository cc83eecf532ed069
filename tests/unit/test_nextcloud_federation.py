"""The trusted servers' logic of the nextcloud recipe (tasks/federation.yml), run by Ansible on the controller.

The tasks that call Nextcloud's OCS API need a real Nextcloud, which CI
cannot install. Their address checks and list logic are the task file's own
expressions: this test takes the tasks from the file, keeps the ones that
only compute (assert, set_fact) as they are, turns the API calls into
`debug` tasks with the same `loop` and `when`, and runs them with
ansible-playbook on localhost. The answer of the list call is shaped as the
federation app's `getServers` returns it (url, id, status).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TASKS = ROOT / "plugins" / "nextcloud" / "roles" / "nextcloud" / "tasks" / "federation.yml"
COMPUTING = ("Check the addresses of nextcloud_trusted_servers", "Keep the names of the servers wanted and recorded",
             "Keep the trusted servers by name")
CALLS = ("Add the servers of nextcloud_trusted_servers", "Remove the servers this recipe added that left nextcloud_trusted_servers")

pytestmark = pytest.mark.slow


def _task(tasks: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [t for t in tasks if t.get("name") == name]
    assert len(found) == 1, f"{TASKS.name}: no single task named {name!r}"
    return found[0]


def run_logic(tmp_path: Path, wanted: list[str], recorded: list[str] | None,
              present: list[dict[str, Any]]) -> dict[str, Any]:
    """Which servers the recipe would add and remove; or the failed assertion's item."""
    tasks = yaml.safe_load(TASKS.read_text(encoding="utf-8"))
    play_tasks = [_task(tasks, name) for name in COMPUTING]
    for name in CALLS:
        call = _task(tasks, name)
        play_tasks.append({"name": name, "ansible.builtin.debug": {"msg": "{{ item }}"},
                           **{k: call[k] for k in ("loop", "when", "loop_control") if k in call}})
    facts: dict[str, Any] = {"nextcloud_trusted_servers": wanted,
                             "nextcloud_trusted_read": {"json": {"ocs": {"data": present}}}}
    if recorded is not None:
        facts["nextcloud_recorded"] = {"content": base64.b64encode(json.dumps(recorded).encode()).decode()}
    play = [{"name": "federation logic", "hosts": "localhost", "gather_facts": False, "vars": facts,
             "tasks": play_tasks}]
    playbook = tmp_path / "federation.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_LOCALHOST_WARNING": "false",
           "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false", "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local",
                           str(playbook)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    result = json.loads(proc.stdout[proc.stdout.index("{"):])
    out: dict[str, Any] = {"failed": None}
    for task in result["plays"][0]["tasks"]:
        name, outcome = task["task"]["name"], task["hosts"]["localhost"]
        if outcome.get("failed"):
            bad = [r["item"] for r in outcome.get("results", []) if r.get("failed")]
            out["failed"] = bad
        if name in CALLS:
            done = [r["item"] for r in outcome.get("results", []) if not r.get("skipped")]
            out["add" if name == CALLS[0] else "remove"] = done
    return out


def test_adds_the_missing_servers_and_removes_only_those_it_added(tmp_path: Path) -> None:
    present = [{"url": "https://cloud.b.exemple.fr", "id": 3, "status": 1},
               {"url": "https://cloud.d.exemple.fr/", "id": 4, "status": 1},
               {"url": "https://a-la-main.exemple.fr", "id": 5, "status": 2}]
    out = run_logic(tmp_path, ["https://cloud.b.exemple.fr", "https://cloud.c.exemple.fr/"],
                    ["cloud.b.exemple.fr", "cloud.d.exemple.fr"], present)
    assert out["failed"] is None
    assert out["add"] == ["https://cloud.c.exemple.fr/"]
    # cloud.d left the list and was added by the recipe; the server added by hand stays.
    assert out["remove"] == [{"key": "cloud.d.exemple.fr", "value": 4}]


def test_a_converged_server_adds_and_removes_nothing(tmp_path: Path) -> None:
    present = [{"url": "https://cloud.b.exemple.fr", "id": 3, "status": 1}]
    out = run_logic(tmp_path, ["https://cloud.b.exemple.fr"], ["cloud.b.exemple.fr"], present)
    assert (out["failed"], out["add"], out["remove"]) == (None, [], [])


def test_first_run_without_a_record_removes_nothing(tmp_path: Path) -> None:
    present = [{"url": "https://a-la-main.exemple.fr", "id": 5, "status": 1}]
    out = run_logic(tmp_path, ["https://cloud.b.exemple.fr"], None, present)
    assert (out["add"], out["remove"]) == (["https://cloud.b.exemple.fr"], [])


@pytest.mark.parametrize("address", ["http://cloud.b.exemple.fr", "https://Cloud.B.exemple.fr",
                                     "https://cloud.b.exemple.fr/index.php", "cloud.b.exemple.fr",
                                     "https://cloud.b.exemple.fr:8443"])
def test_an_address_that_is_not_https_name_is_refused(tmp_path: Path, address: str) -> None:
    out = run_logic(tmp_path, ["https://cloud.c.exemple.fr", address], [], [])
    assert out["failed"] == [address]
