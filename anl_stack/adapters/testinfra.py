"""pytest-testinfra in a subprocess, the way its pitfalls require (docs/architecture.md, "A run").

- ``python -m pytest`` in a child process: ``pytest.main`` cannot run twice
  in one process, and testinfra caches the inventory per process;
- ``-p no:cacheprovider`` (no ``.pytest_cache`` written into plugins),
  ``--import-mode=importlib`` (plugins may share test file names), a
  generated empty ini (no stray project configuration is picked up);
- testinfra's ansible backend with the commune inventory and the same
  generated ``ansible.cfg`` as the deploy (``ANSIBLE_CONFIG``), so its SSH
  ControlPath/ControlPersist gives one SSH connection per host;
- the vault password reaches Ansible only as a file path
  (``ANSIBLE_VAULT_PASSWORD_FILE``), never on a command line or in output.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anl_stack.core.i18n import CHILD_LOCALE, child_locale_env


@dataclass
class PytestRequest:
    """One pytest-testinfra run against some hosts of one inventory."""

    test_paths: list[Path]
    hosts: list[str]
    #: the pytest plugin (module name) that gives the checks their fixtures and writes results
    pytest_plugin: str
    #: inventory sources, absolute (the commune folder first)
    inventories: list[Path]
    context_file: Path
    junit_file: Path
    log_file: Path
    workdir: Path
    ansible_cfg: Path | None = None
    vault_password_file: Path | None = None
    marker_expr: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 3600.0


@dataclass
class PytestOutcome:
    returncode: int
    command: list[str]
    log_file: Path


def build_command(request: PytestRequest) -> list[str]:
    """The exact ``python -m pytest`` command line (no secret on it)."""
    ini = request.workdir / "pytest.ini"
    cmd = [
        sys.executable, "-m", "pytest",
        "-c", str(ini), "--rootdir", str(request.workdir),
        "-p", "no:cacheprovider", "-p", "no:randomly", "-p", request.pytest_plugin,
        "--import-mode=importlib",
        "--anl-context", str(request.context_file),
        "--junitxml", str(request.junit_file), "-o", "junit_family=xunit2",
        "--hosts", ",".join(f"ansible://{h}" for h in request.hosts),
        "-q", "--tb=short", "--color=no",
    ]
    if len(request.inventories) == 1:
        cmd += ["--ansible-inventory", str(request.inventories[0])]
    if request.marker_expr:
        cmd += ["-m", request.marker_expr]
    cmd += [str(p) for p in request.test_paths]
    return cmd


def build_env(request: PytestRequest) -> dict[str, str]:
    """Environment of the child: our interpreter's tools first on PATH, Ansible settings."""
    env = child_locale_env()  # a locale that exists (core/i18n.py); the language as ANL_STACK_LANG
    env.update(request.env)
    bin_dir = str(Path(sys.executable).parent)
    if not env.get("PATH", "").startswith(bin_dir + os.pathsep):
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    if request.ansible_cfg:
        env["ANSIBLE_CONFIG"] = str(request.ansible_cfg)
    if len(request.inventories) > 1:
        # testinfra takes one --ansible-inventory; Ansible reads a list from here.
        env["ANSIBLE_INVENTORY"] = ",".join(str(p) for p in request.inventories)
    if request.vault_password_file:
        env["ANSIBLE_VAULT_PASSWORD_FILE"] = str(request.vault_password_file)
    env["ANSIBLE_VERBOSITY"] = "0"
    env["PYTHONDONTWRITEBYTECODE"] = "1"   # no __pycache__ inside plugin folders
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_PLUGINS", None)
    return env


#: Put before every command a check runs on a host: checks parse what commands print.
REMOTE_LOCALE = f"LC_ALL={CHILD_LOCALE} LANG={CHILD_LOCALE}; export LC_ALL LANG; "


def parsable_remote_locale() -> None:
    """Run every command checks send to a host under ``LC_ALL=C.UTF-8``, whatever the host's locale.

    ssh forwards the controller's locale only where sshd accepts it: a
    server set to French would otherwise print translated (or, for a
    locale it lacks, warning-laden) output that checks parse. The prefix
    goes inside testinfra's ``sudo /bin/sh -c`` wrapping.
    """
    from testinfra.backend import base

    original = base.BaseBackend.get_command
    if getattr(original, "anl_locale", False):
        return

    def get_command(self: Any, command: str, *args: str) -> str:
        if not command.startswith(REMOTE_LOCALE):  # testinfra's ansible backend calls it twice
            command = REMOTE_LOCALE + command
        return str(original(self, command, *args))

    get_command.anl_locale = True  # type: ignore[attr-defined]
    base.BaseBackend.get_command = get_command  # type: ignore[method-assign]


def control_path_dir(cfg_file: Path | None) -> Path:
    """The folder testinfra requires to exist before it uses the ControlPath."""
    parser = configparser.ConfigParser(interpolation=None)
    if cfg_file and cfg_file.is_file():
        parser.read(cfg_file)
    value = parser.get("persistent_connection", "control_path_dir", fallback="~/.ansible/cp")
    return Path(os.path.expanduser(value))


def skip_host_key_checking(cfg_file: Path) -> None:
    """Make testinfra's own ssh skip host keys too, as Ansible does with host_key_checking off.

    testinfra builds its ssh command from ``[ssh_connection] ssh_args`` and
    ignores ``host_key_checking``; without this every check would fail on
    an unknown host key where the deploy succeeded.
    """
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(cfg_file)
    args = parser.get("ssh_connection", "ssh_args", fallback="")
    if "stricthostkeychecking" not in args.lower():
        args = (args + " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null").strip()
        if not parser.has_section("ssh_connection"):
            parser.add_section("ssh_connection")
        parser.set("ssh_connection", "ssh_args", args)
        with cfg_file.open("w") as handle:
            handle.write("# Generated by anl-stack; rewritten on every run.\n")
            parser.write(handle)


def run(request: PytestRequest) -> PytestOutcome:
    """Run the checks; pytest's own output goes to ``log_file`` only."""
    request.workdir.mkdir(parents=True, exist_ok=True)
    (request.workdir / "pytest.ini").write_text("[pytest]\n")
    control_path_dir(request.ansible_cfg).mkdir(parents=True, exist_ok=True, mode=0o700)
    cmd = build_command(request)
    with request.log_file.open("w") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        try:
            proc = subprocess.run(cmd, env=build_env(request), cwd=request.workdir, stdout=log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  timeout=request.timeout, check=False)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            log.write(f"\ntimed out after {request.timeout:.0f} s\n")
            rc = -1
    return PytestOutcome(rc, cmd, request.log_file)


def read_results(path: Path) -> dict[str, Any] | None:
    """The JSON the verify plugin writes at the end of the session, if it got there."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
