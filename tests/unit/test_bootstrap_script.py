"""scripts/bootstrap.sh with apt, dpkg and pip stood in by fakes: what it asks apt, what it shows of pip.

The real run, with a real apt lock held, is tests/integration/test_bootstrap.py (slow).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOISE = "SetuptoolsDeprecationWarning: License classifiers are deprecated.\n" * 200


def _fake(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout holding bootstrap.sh, with fake id (root), apt-get, dpkg-query, and a fake .venv."""
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "bootstrap.sh", project / "scripts" / "bootstrap.sh")
    (project / "pyproject.toml").write_text('[project]\nname = "anl-stack"\n')
    bin_dir = tmp_path / "bin"
    _fake(bin_dir / "id", "echo 0\n")
    _fake(bin_dir / "apt-get", f'echo "$*" >> {tmp_path}/apt-get.calls\n')
    _fake(bin_dir / "dpkg-query", "echo installed\n")
    # `python -I -` answers where the venv's anl-stack was installed from ($INSTALLED_FROM).
    _fake(project / ".venv" / "bin" / "python", 'cat >/dev/null; [ -z "$INSTALLED_FROM" ] || echo "$INSTALLED_FROM"\n')
    _fake(project / ".venv" / "bin" / "pip",
          f'echo "$*" >> {tmp_path}/pip.calls\ncat <<"EOF" >&2\n{NOISE}EOF\n'
          'case "$*" in *" -e "*) [ -z "$PIP_FAILS" ] || { echo "ERROR: no matching distribution for ansible"; exit 1; };; esac\n')
    _fake(project / ".venv" / "bin" / "anl-stack", "echo 'anl-stack, version 0.1.0'\n")
    return project


def bootstrap(project: Path, **env: str) -> subprocess.CompletedProcess[str]:
    tmp = project.parent
    return subprocess.run(["bash", str(project / "scripts" / "bootstrap.sh")], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PATH": f"{tmp / 'bin'}:{os.environ['PATH']}",
                                           "TMPDIR": str(tmp), **env})


def test_apt_waits_for_its_lock_and_pip_stays_quiet(checkout: Path) -> None:
    result = bootstrap(checkout)
    assert result.returncode == 0, result.stderr
    calls = (checkout.parent / "apt-get.calls").read_text().splitlines()
    assert len(calls) == 2 and calls[0].endswith(" update") and calls[1].startswith("install "), calls
    assert all("-o DPkg::Lock::Timeout=900" in c for c in calls), calls
    assert "Deprecation" not in result.stdout + result.stderr
    assert "anl-stack is ready" in result.stdout
    assert "Debian packages: all" in result.stdout and "already installed" in result.stdout
    root = checkout.resolve()
    assert f'export PATH="{root}/.venv/bin:$PATH"' in result.stdout
    assert f"{root}/.venv (anl-stack 0.1.0 and its test tools)" in result.stdout
    assert not list(checkout.parent.glob("anl-stack-bootstrap-pip.*")), "pip's log is removed after a success"


def test_a_pip_failure_shows_the_end_of_its_log(checkout: Path) -> None:
    result = bootstrap(checkout, PIP_FAILS="1")
    assert result.returncode == 1
    assert "pip install -e .[test] failed; the end of its log" in result.stderr
    assert "ERROR: no matching distribution for ansible" in result.stderr
    assert result.stderr.count("Deprecation") <= 40  # the end only, not the 400 lines of noise
    assert "anl-stack is ready" not in result.stdout


def test_a_virtualenv_of_another_checkout_is_left_alone(checkout: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-checkout"
    other.mkdir()
    result = bootstrap(checkout, INSTALLED_FROM=str(other))
    assert result.returncode == 0, result.stderr
    assert f"left as it is: it holds anl-stack from {other}" in result.stdout
    assert not (tmp_path / "pip.calls").exists()


def test_the_venv_of_this_checkout_is_updated(checkout: Path, tmp_path: Path) -> None:
    result = bootstrap(checkout, INSTALLED_FROM=str(checkout))
    assert result.returncode == 0, result.stderr
    assert "install -e .[test]" in (tmp_path / "pip.calls").read_text()


def test_a_bad_lock_timeout_is_refused(checkout: Path, tmp_path: Path) -> None:
    result = bootstrap(checkout, ANL_STACK_APT_LOCK_TIMEOUT="ten")
    assert result.returncode == 2
    assert "ANL_STACK_APT_LOCK_TIMEOUT=ten: expected a number of seconds" in result.stderr
    assert not (tmp_path / "apt-get.calls").exists()


def test_an_up_to_date_virtualenv_is_not_reinstalled(checkout: Path, tmp_path: Path) -> None:
    calls = tmp_path / "pip.calls"
    assert bootstrap(checkout, INSTALLED_FROM=str(checkout)).returncode == 0
    assert "install -e .[test]" in calls.read_text()
    calls.unlink()
    again = bootstrap(checkout, INSTALLED_FROM=str(checkout))
    assert again.returncode == 0 and "virtualenv: up to date" in again.stdout
    assert not calls.exists()
    # A changed pyproject.toml (new dependencies) and a venv that lost anl-stack both reinstall.
    (checkout / "pyproject.toml").write_text('[project]\nname = "anl-stack"\ndependencies = ["click"]\n')
    assert bootstrap(checkout, INSTALLED_FROM=str(checkout)).returncode == 0
    assert calls.exists()
    calls.unlink()
    assert bootstrap(checkout).returncode == 0
    assert calls.exists()
