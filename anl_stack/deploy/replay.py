"""What a run folder keeps to replay its run with plain ansible-playbook (no secret in it).

``RUN/replay/`` holds the generated inventory (firewall ports, staged artifacts, run
variables), the run's playbook, a copy of its ansible.cfg and ``replay.sh``, which
sets the same environment and runs ``ansible-playbook`` with the same options. The
vault is the inventory's own (its password file is named, never copied), so a replay
reads the secrets as the run did. Extra arguments go to ansible-playbook
(``replay.sh --check``).
"""

from __future__ import annotations

import shlex
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from anl_stack.core.files import ensure_folder, write_file
from anl_stack.plugin_api import GENERATED_INVENTORY

REPLAY_DIR = "replay"
PLAYBOOK = "project/site.yml"


def write(folder: Path, *, root: Path, files: Mapping[str, str], env: Mapping[str, str], inventory: Path,
          options: list[str], scrub: Callable[[str], str]) -> Path:
    """Write ``folder/replay``; return the path of its script."""
    replay = folder / REPLAY_DIR
    ensure_folder(replay, root=root, mode=0o700)
    generated = write_file(replay / Path(GENERATED_INVENTORY).name, scrub(files[GENERATED_INVENTORY]), mode=0o600,
                           root=root)
    playbook = write_file(replay / "site.yml", scrub(files[PLAYBOOK]), mode=0o600, root=root)
    environment = dict(env)
    config = Path(environment.get("ANSIBLE_CONFIG", ""))
    if config.is_file():
        # The inventory's ansible.cfg is rewritten by each run: the replay keeps this run's.
        environment["ANSIBLE_CONFIG"] = str(write_file(replay / "ansible.cfg", scrub(config.read_text()),
                                                       mode=0o600, root=root))
    argv = [_ansible_playbook(), "-i", str(inventory), "-i", str(generated), *options, str(playbook)]
    lines = ["#!/bin/sh", "# Replays this anl-stack run with plain ansible-playbook; arguments are added to it",
             "# (for example --check). The vault password file is the inventory's; no secret is here.",
             "set -e"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in sorted(environment.items())]
    lines.append(f'exec {shlex.join(argv)} "$@"')
    return write_file(replay / "replay.sh", scrub("\n".join(lines) + "\n"), mode=0o700, root=root)


def _ansible_playbook() -> str:
    # The one installed beside anl-stack (its virtualenv is often not on PATH).
    beside = Path(sys.executable).parent / "ansible-playbook"
    return str(beside) if beside.is_file() else (shutil.which("ansible-playbook") or "ansible-playbook")


def options_of(cmdline: list[str], *, limit: str | None, tags: str | None, skip_tags: str | None) -> list[str]:
    """ansible-playbook's options for the run's own choices (what ansible-runner passes)."""
    argv = list(cmdline)
    for flag, value in (("--limit", limit), ("--tags", tags), ("--skip-tags", skip_tags)):
        if value:
            argv += [flag, value]
    return argv
