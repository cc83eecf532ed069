"""Ansible's own tools and pytest, run as subprocesses of this interpreter's virtualenv.

``ansible-playbook --syntax-check``, ``ansible-lint`` and ``pytest
--collect-only`` are found next to the running Python (the virtualenv's bin
folder), never on a PATH the operator may have changed. Callers read the
outcome; turning it into findings is their job.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class ToolRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def text(self) -> str:
        return self.stderr + self.stdout


def _run(argv: list[str], *, env: dict[str, str], cwd: Path, timeout: float) -> ToolRun:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    return ToolRun(proc.returncode, proc.stdout, proc.stderr)


def syntax_check(playbook: Path, *, env: dict[str, str], cwd: Path) -> ToolRun:
    """``ansible-playbook --syntax-check`` of one playbook (against a dummy inventory)."""
    return _run([str(BIN / "ansible-playbook"), "--syntax-check", "-i", "localhost,", str(playbook)],
                env=env, cwd=cwd, timeout=600)


def ansible_lint(project_dir: Path, targets: list[str], *, config: Path, env: dict[str, str]) -> ToolRun:
    """``ansible-lint`` of ``targets`` (relative to ``project_dir``), findings as codeclimate JSON."""
    return _run([str(BIN / "ansible-lint"), "-c", str(config), "-f", "codeclimate", "-q", "--nocolor",
                 "--project-dir", str(project_dir), *targets], env=env, cwd=project_dir, timeout=1200)


def pytest_collect(tests: list[Path], *, env: dict[str, str]) -> ToolRun:
    """``pytest --collect-only`` of some test files, in an empty root of its own."""
    with tempfile.TemporaryDirectory() as tmp:
        ini = Path(tmp) / "pytest.ini"
        ini.write_text("[pytest]\n")
        return _run([sys.executable, "-m", "pytest", "-c", str(ini), "--rootdir", tmp, "-p", "no:cacheprovider",
                     "--import-mode=importlib", "--collect-only", "-q", *map(str, tests)],
                    env=env, cwd=Path(tmp), timeout=600)
