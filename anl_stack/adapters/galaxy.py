"""``ansible-galaxy collection build``, run from this interpreter's virtualenv.

Found next to the running Python (as the other Ansible tools, adapters/ansible_tools.py), so
the archive is built by the ansible-core anl-stack pins; it needs no network.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class GalaxyRun:
    returncode: int
    output: str


def build_collection(tree: Path, output_dir: Path, *, timeout: float = 300) -> GalaxyRun:
    """Pack the collection staged in TREE into OUTPUT_DIR (which must exist)."""
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_GALAXY_DISPLAY_PROGRESS": "0"}
    argv = [str(BIN / "ansible-galaxy"), "collection", "build", str(tree), "--output-path", str(output_dir)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tree, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        return GalaxyRun(-1, str(error))
    return GalaxyRun(proc.returncode, (proc.stdout + proc.stderr).strip())
