"""`ansible-lint --profile production` passes when run plainly from the repository root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_ansible_lint_passes_from_the_root_without_environment() -> None:
    # No ANSIBLE_* variable: the roles are found through the tree's own ansible.cfg.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-lint"), "--profile", "production", "--nocolor"],
                          capture_output=True, text=True, cwd=PROJECT, env=env, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Profile 'production' was required, and it passed" in proc.stdout + proc.stderr
