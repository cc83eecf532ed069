"""OpenSSH's client, as root on a lab host: the command line and one run.

Lab hosts are disposable and their keys change at every boot, so host keys
are neither checked nor recorded; commune servers are reached by Ansible
and testinfra with the inventory's own SSH settings, never through here.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from anl_stack.core.i18n import child_locale_env

OPTIONS = [
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
]


def command_line(key: Path, address: str, command: str | list[str] | None = None, *, user: str = "root") -> list[str]:
    """``ssh -i KEY ... user@address [-- command]``."""
    cmd = ["ssh", "-i", str(key), *OPTIONS, f"{user}@{address}"]
    if command is not None:
        cmd += ["--", command if isinstance(command, str) else shlex.join(command)]
    return cmd


def run(argv: list[str], *, timeout: float | None = 600, input: str | None = None,
        check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run an ssh command line; text output captured."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input, check=check,
                          env=child_locale_env())
