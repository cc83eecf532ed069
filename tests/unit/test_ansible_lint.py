"""ansible-lint at the production profile over the shared roles and the plugins' recipes.

Real ansible-lint, real findings: the test fails on any violation and
prints them. Offline (the config sets ``offline: true``), no root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# ansible-lint and ansible-playbook runs: seconds to minutes each.
pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent.parent


def _ansible_lint() -> str:
    found = Path(sys.executable).with_name("ansible-lint")
    if found.exists():
        return str(found)
    which = shutil.which("ansible-lint")
    if which is None:
        pytest.fail("ansible-lint is not installed (pip install -e '.[test]')", pytrace=False)
    return which


def _lint(project: Path, paths: list[str], tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """ansible-lint over ``paths`` of ``project`` with the project's configuration (profile, kinds, exclusions)."""
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(project / "playbooks" / "roles"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"), ANSIBLE_HOME=str(tmp_path / "ansible"),
               NO_COLOR="1", ANSIBLE_NOCOLOR="1")
    return subprocess.run(
        [_ansible_lint(), "--offline", "-c", str(project / ".ansible-lint"), "--nocolor", "-q", *options, *paths],
        cwd=project, capture_output=True, text=True, env=env, timeout=900,
    )


PLANTED = """
- name: Install a planted package
  apt:
    name: curl
    state: present
"""


@pytest.mark.slow
def test_the_configuration_reports_a_production_profile_finding(tmp_path: Path) -> None:
    """A copy of playbooks/ with one task naming its module without FQCN (a rule of the production profile
    only), linted with nothing but the project's .ansible-lint: the task is reported, file and line."""
    project = tmp_path / "project"
    shutil.copytree(PROJECT / "playbooks", project / "playbooks")
    shutil.copy(PROJECT / ".ansible-lint", project / ".ansible-lint")
    tasks = project / "playbooks" / "roles" / "redis" / "tasks" / "main.yml"
    tasks.write_text(tasks.read_text() + PLANTED)
    module_line = tasks.read_text().splitlines().index("  apt:") + 1
    proc = _lint(project, ["playbooks"], tmp_path, "-f", "codeclimate")
    assert proc.returncode != 0, proc.stdout + proc.stderr
    found = {(issue["check_name"], issue["location"]["path"], issue["location"]["positions"]["begin"]["line"])
             for issue in json.loads(proc.stdout)}
    assert ("fqcn[action-core]", "playbooks/roles/redis/tasks/main.yml", module_line) in found, found


@pytest.mark.slow
def test_ansible_lint_passes_plainly_from_the_root(tmp_path: Path) -> None:
    """`ansible-lint --profile production` from the root, no ANSIBLE_* variable: the whole tree is clean
    (the shared roles are found through the tree's own ansible.cfg)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["HOME"] = str(tmp_path)  # nothing of the user's own Ansible settings
    proc = subprocess.run([_ansible_lint(), "--profile", "production", "--nocolor"], capture_output=True, text=True,
                          cwd=PROJECT, env=env, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Profile 'production' was required, and it passed" in proc.stdout + proc.stderr
