"""Running a command on the checked host from a baseline check."""

from __future__ import annotations

from typing import Any

from anl_stack.plugin_api import ssh_error_lines


def output(host: Any, command: str) -> str:
    """The command's standard output; the check fails, naming the command and its error, if it fails.

    Over SSH, testinfra takes exit 255 for a lost connection (and the verify plugin runs the check
    again); sshd's own fatal errors exit 255 too, so that code is remapped to 254 and what the
    server printed reaches the report.
    """
    result = host.run(f"{command}; rc=$?; [ $rc -eq 255 ] && exit 254; exit $rc")
    own = " ".join(ssh_error_lines(result.stderr))
    assert result.rc == 0, f"`{command}` failed (rc {result.rc}): {own[:300]}"
    return str(result.stdout)
