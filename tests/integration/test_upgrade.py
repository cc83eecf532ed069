"""Upgrade with automatic rollback, end to end on a lab host (Debian 13).

The previous recipe of streaming (tests/data/recipes/streaming-0.0.9.yml: 4 s
HLS segments) is deployed from a copy of the project, as an older anl-stack
would have; recordings are written; then:

- an upgrade whose step is planted to delete a recording and then fail
  (from another copy of the project) is rolled back: the previous recipe is
  deployed again, the pre-upgrade snapshot restored (the deleted recording
  is back), the checks pass; exit 1, upgrade.json tells each step;
- then, from that same previous recipe, `anl-stack upgrade streaming` goes
  to the current recipe (2 s segments): pre-upgrade backup, upgrade step,
  checks pass, the recordings are intact.

One host for the module, in this order: the rollback leaves it on the
previous recipe, where the second test starts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.lab

PROJECT = Path(__file__).resolve().parent.parent.parent
PREVIOUS = PROJECT / "tests" / "data" / "recipes" / "streaming-0.0.9.yml"
RTMP_CONF = "/etc/nginx/anl-main.d/streaming-rtmp.conf"
ARCHIVE = "/var/lib/anl-streaming/archive"
RECORDING = "2026-11-30/conseil-2026-11-30T18-30-00.mp4"
HOST = "up13"
PLANTED = """
- name: A planted fault in the upgrade step
  hosts: streaming
  become: true
  tasks:
    - name: Lose a recording, as a broken migration would
      ansible.builtin.file:
        path: /var/lib/anl-streaming/archive/2026-11-30/conseil-2026-11-30T18-30-00.mp4
        state: absent

    - name: Fail after changing the host
      ansible.builtin.fail:
        msg: planted failure of the upgrade step
"""


def anl(*args: str, tree: Path = PROJECT, timeout: int = 2400) -> subprocess.CompletedProcess[str]:
    # `python -m anl_stack` from a tree imports that tree's anl_stack, plugins and roles.
    return subprocess.run([sys.executable, "-m", "anl_stack", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=tree)


def output(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout[-4000:] + proc.stderr[-4000:]


def ssh(host: Any, command: str) -> str:
    proc = host.ssh(command, timeout=300)
    assert proc.returncode == 0, f"{command[:100]}: rc {proc.returncode} {proc.stderr[-500:]}"
    return proc.stdout


def copy_project(into: Path) -> Path:
    for name in ("anl_stack", "plugins", "playbooks"):
        shutil.copytree(PROJECT / name, into / name, ignore=shutil.ignore_patterns("__pycache__", "evidence"))
    shutil.copy2(PROJECT / "ansible.cfg", into / "ansible.cfg")
    return into


def previous_tree(into: Path) -> Path:
    tree = copy_project(into)
    fixture = yaml.safe_load(PREVIOUS.read_text())
    plugin = tree / "plugins" / fixture["plugin"]
    for file, changes in fixture["replace"].items():
        text = (plugin / file).read_text()
        for old, new in changes:
            assert old in text, f"the fixture no longer matches {file}: {old!r}"
            text = text.replace(old, new)
        (plugin / file).write_text(text)
    return tree


def fragment(host: Any) -> str:
    return ssh(host, f"grep -o 'hls_fragment [0-9]*s' {RTMP_CONF}").strip()


def sums(host: Any) -> str:
    return ssh(host, f"cd {ARCHIVE} && find . -name '*.mp4' -print0 | sort -z | xargs -0 sha256sum")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from tests.fixtures.lab import _down_quietly, require_lab

    require_lab()
    from anl_stack import lab

    fetched = anl("artifacts", "fetch", "streaming")
    assert fetched.returncode == 0, output(fetched)
    try:
        host = lab.up(HOST, "13")
        lab.add_names(HOST, [f"live.{host.domain}"])
        old = previous_tree(tmp_path_factory.mktemp("previous"))
        proc = anl("deploy", "streaming", "--lab", HOST, tree=old)
        assert proc.returncode == 0, output(proc)
        assert fragment(host) == "hls_fragment 4s"
        ssh(host, f"cd {ARCHIVE} && mkdir -p 2026-11-30 && head -c 2000000 /dev/urandom > {RECORDING} "
                  "&& chown -R www-data:www-data 2026-11-30")
        yield {"host": host, "previous": old, "sums": sums(host)}
    finally:
        _down_quietly(HOST)


def test_a_failed_upgrade_is_rolled_back(site: dict[str, Any], tmp_path: Path) -> None:
    host = site["host"]
    assert fragment(host) == "hls_fragment 4s"
    broken = copy_project(tmp_path / "broken")
    with (broken / "plugins" / "streaming" / "upgrade.yml").open("a") as playbook:
        playbook.write(PLANTED)
    proc = anl("upgrade", "streaming", "--lab", HOST, "--json", tree=broken)
    assert proc.returncode == 1, output(proc)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    steps = {s["name"]: s for s in report["steps"]}
    assert report["outcome"] == "rolled back", report
    assert not steps["upgrade step"]["ok"] and "planted failure" in steps["upgrade step"]["detail"]
    assert steps["rollback: deploy the previous recipe"]["ok"] and steps[f"rollback: restore {HOST}"]["ok"]
    assert steps["rollback: checks"]["ok"], steps["rollback: checks"]
    assert fragment(host) == "hls_fragment 4s", "the previous recipe's configuration is not back"
    assert sums(host) == site["sums"], "the recording the failed upgrade deleted is not back"
    upgrade_json = json.loads((Path(report["folder"]) / "upgrade.json").read_text())
    assert upgrade_json["outcome"] == "rolled back"


def test_upgrade_to_the_current_recipe(site: dict[str, Any]) -> None:
    host = site["host"]
    proc = anl("upgrade", "streaming", "--lab", HOST, "--json")
    assert proc.returncode == 0, output(proc)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["outcome"] == "upgraded", report
    assert report["previous"]["version"] == "0.0.9" and report["target"]["version"] == "0.1.0"
    assert [s["name"] for s in report["steps"]] == ["backup", "upgrade step", "checks"]
    assert fragment(host) == "hls_fragment 2s", "the current recipe's configuration is not in place"
    assert sums(host) == site["sums"]
    kept = Path(report["folder"]) / "previous-recipe" / "plugin.yml"
    assert 'version: "0.0.9"' in kept.read_text(), "the previous recipe is not kept with the run"
    listed = json.loads(anl("backups", "streaming", "--lab", HOST, "--json").stdout)
    assert any("pre-upgrade" in s["labels"] for s in listed["snapshots"])
