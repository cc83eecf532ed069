"""Helpers for the shared-role lab tests: run a playbook, read its recap, probe ports."""

from __future__ import annotations

import errno
import os
import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from anl_stack.adapters import ssh as lab_ssh

PROJECT = Path(__file__).resolve().parent.parent.parent
ROLES_PATH = PROJECT / "playbooks" / "roles"
DATA = Path(__file__).resolve().parent / "roles_data"
ANSIBLE_PLAYBOOK = PROJECT / ".venv" / "bin" / "ansible-playbook"
# The lab's own SSH options (disposable hosts: host keys neither checked nor kept).
SSH_OPTIONS = lab_ssh.OPTIONS
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@dataclass
class PlaybookRun:
    rc: int
    output: str

    def recap(self, host: str) -> dict[str, int]:
        for m in RECAP.finditer(self.output):
            if m.group(1) == host:
                return {"ok": int(m.group(2)), "changed": int(m.group(3)),
                        "unreachable": int(m.group(4)), "failed": int(m.group(5))}
        raise AssertionError(f"no recap for {host}:\n{self.output[-4000:]}")

    def changed_tasks(self) -> list[str]:
        """Names of the tasks that reported a change (for idempotence messages)."""
        names, current = [], ""
        for line in self.output.splitlines():
            if line.startswith(("TASK [", "RUNNING HANDLER [")):
                current = line.split("[", 1)[1].rsplit("]", 1)[0]
            elif line.startswith("changed:"):
                names.append(current)
        return names


def write_inventory(path: Path, name: str, address: str, user: str, key: Path,
                    variables: dict[str, object]) -> Path:
    """A one-host inventory; ``become`` so a non-root user gets root through sudo."""
    host = {
        "ansible_host": address, "ansible_user": user,
        "ansible_ssh_private_key_file": str(key),
        "ansible_ssh_common_args": " ".join(SSH_OPTIONS[:6]),
        "ansible_become": user != "root",
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    path.write_text(yaml.safe_dump({"all": {"hosts": {name: host}, "vars": variables}}))
    return path


def run_playbook(inventory: Path, playbook: Path, *, extra_vars: list[str] = (),
                 engine_env: dict[str, str] | None = None, timeout: int = 1500) -> PlaybookRun:
    """``ansible-playbook``; ``engine_env`` selects the strategy (tests.fixtures.lab.engine_env)."""
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(ROLES_PATH), ANSIBLE_HOST_KEY_CHECKING="False",
               ANSIBLE_PIPELINING="True", ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_RETRY_FILES_ENABLED="False",
               **(engine_env or {}))
    cmd = [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(playbook)]
    for item in extra_vars:
        cmd += ["-e", item]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=PROJECT)
    return PlaybookRun(proc.returncode, proc.stdout + proc.stderr)


def ssh(address: str, user: str, key: Path, command: str, *, extra: list[str] = (),
        timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ssh", "-i", str(key), *SSH_OPTIONS, *extra, f"{user}@{address}", "--", command],
                          capture_output=True, text=True, timeout=timeout)


def probe_tcp(address: str, port: int, timeout: float = 3.0) -> str:
    """'open', 'closed' (refused: reached the host, nothing listens) or 'filtered' (dropped)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            code = sock.connect_ex((address, port))
        except TimeoutError:
            return "filtered"
    if code == 0:
        return "open"
    if code == errno.ECONNREFUSED:
        return "closed"
    if code in (errno.EAGAIN, errno.ETIMEDOUT, errno.EINPROGRESS):
        return "filtered"
    return f"error {errno.errorcode.get(code, code)}"
