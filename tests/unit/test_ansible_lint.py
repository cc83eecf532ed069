"""ansible-lint at the production profile over the shared roles and the plugins' recipes.

Real ansible-lint, real findings: the test fails on any violation and
prints them. Offline (the config sets ``offline: true``), no root.
"""

from __future__ import annotations

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


@pytest.mark.slow
def test_config_asks_for_the_production_profile() -> None:
    import yaml

    config = yaml.safe_load((PROJECT / ".ansible-lint").read_text())
    assert config["profile"] == "production"


@pytest.mark.slow
@pytest.mark.parametrize("target", ["playbooks", "plugins"])
def test_ansible_lint_production_profile(target: str, tmp_path: Path) -> None:
    paths = [str(p.relative_to(PROJECT)) for p in sorted((PROJECT / target).iterdir())
             if p.is_dir() or p.suffix in (".yml", ".yaml")]
    if not paths:
        pytest.fail(f"nothing to lint under {target}/", pytrace=False)
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(PROJECT / "playbooks" / "roles"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path), ANSIBLE_HOME=str(tmp_path / "ansible"),
               NO_COLOR="1", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [_ansible_lint(), "--profile", "production", "--offline", "-c", str(PROJECT / ".ansible-lint"),
         "--nocolor", "-q", *paths],
        cwd=PROJECT, capture_output=True, text=True, env=env, timeout=900,
    )
    assert proc.returncode == 0, f"ansible-lint findings in {target}/:\n{proc.stdout}\n{proc.stderr}"
