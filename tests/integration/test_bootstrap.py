"""scripts/bootstrap.sh waits for another apt run holding apt's lock, instead of failing at once.

Slow (not lab): it runs the real bootstrap, apt-get and pip included, on this
machine, while a child process holds dpkg's frontend lock for a minute as apt
does. On a machine already bootstrapped that costs little beyond the minute.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FRONTEND_LOCK = Path("/var/lib/dpkg/lock-frontend")
HOLD_SECONDS = 60

# Takes the lock as apt does (an fcntl lock on the whole file; it waits for a real apt run
# first), says so, keeps it HOLD_SECONDS, then exits 0.
HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o640)
fcntl.lockf(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "bootstrap.sh installs Debian packages: it needs root"
    if not (shutil.which("apt-get") and shutil.which("dpkg-query") and FRONTEND_LOCK.parent.is_dir()):
        return "not a Debian machine with apt and dpkg"
    return None


def test_bootstrap_waits_for_the_apt_lock_and_succeeds() -> None:
    reason = _unavailable()
    if reason:
        pytest.skip(reason)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(FRONTEND_LOCK), str(HOLD_SECONDS)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = subprocess.run(["bash", "scripts/bootstrap.sh"], cwd=ROOT, capture_output=True, text=True,
                                timeout=1500)
        # Whether the holder had let go by itself when bootstrap ended: bootstrap's install cannot end first.
        released_first = holder.poll() == 0
    finally:
        holder.kill()
        holder.wait()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"waiting for the apt lock {FRONTEND_LOCK}: another apt or dpkg run holds it (process {holder.pid}" \
        in result.stdout, output
    assert "the apt lock was released after" in result.stdout, output
    assert released_first, output
    assert "anl-stack is ready" in result.stdout and "export PATH=" in result.stdout, output
    # pip's own chatter (setuptools' deprecation warnings...) stays in its log.
    assert "Deprecat" not in output, output
