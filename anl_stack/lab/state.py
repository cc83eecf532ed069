"""Where the lab keeps each host: one folder per host under the state dir.

    <state_dir>/lab/
      .lock                    global lock: subnets, /etc/hosts
                               (subnets are also reserved machine-wide: reservations.py)
      hosts/NAME/
        state.json             release, subnet, PIDs, names, status
        .lock                  per-host lock: up/down of this host
        id_ed25519(.pub)       the host's SSH key (0600)
        vault-password         the host inventory's vault password (0600)
        inventory/             commune-style inventory for the host
        root/{upper,work,merged}   overlay on the release image
        apt-upper/             packages this host downloaded
        console.log            systemd-nspawn output
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from anl_stack.core.files import write_file
from anl_stack.core.paths import state_dir


def lab_dir() -> Path:
    return state_dir() / "lab"


def hosts_dir() -> Path:
    return lab_dir() / "hosts"


def host_dir(name: str) -> Path:
    return hosts_dir() / name


def global_lock() -> Path:
    return lab_dir() / ".lock"


def host_lock(name: str) -> Path:
    return lab_dir() / "locks" / f"{name}.lock"


def state_file(name: str) -> Path:
    return host_dir(name) / "state.json"


def read(name: str) -> dict[str, Any] | None:
    try:
        return json.loads(state_file(name).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write(name: str, data: dict[str, Any]) -> None:
    folder = host_dir(name)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_file(state_file(name), json.dumps(data, indent=2, sort_keys=True) + "\n", mode=0o600)


def names() -> list[str]:
    folder = hosts_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def used_subnet_indexes() -> set[int]:
    used = set()
    for name in names():
        data = read(name)
        if data and isinstance(data.get("subnet_index"), int):
            used.add(data["subnet_index"])
    return used
