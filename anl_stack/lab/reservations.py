"""Machine-wide record of the lab subnets in use.

Each state folder (ANL_STACK_STATE_DIR) keeps its own hosts, but the
controller's addresses are shared by all of them. A subnet is reserved here,
in /run (emptied at boot, like the veth links), from its allocation until
its host is removed, so two state folders never hand out the same subnet in
the moment before the first one's address exists on an interface.
"""

from __future__ import annotations

import json
from pathlib import Path

RUN_DIR = Path("/run/anl-stack/lab-subnets")


def lock_path() -> Path:
    """The lock held while a subnet is chosen and reserved (all state folders)."""
    return RUN_DIR.parent / "lab-subnets.lock"


def _holds(state_file: Path, index: int) -> bool:
    try:
        return json.loads(state_file.read_text()).get("subnet_index") == index
    except (OSError, ValueError, AttributeError):
        return False


def reserved() -> set[int]:
    """Indexes reserved by a host whose state still records them; stale entries are dropped."""
    live: set[int] = set()
    if not RUN_DIR.is_dir():
        return live
    for entry in RUN_DIR.iterdir():
        try:
            index = int(entry.name)
            state_file = Path(entry.read_text().strip())
        except (OSError, ValueError):
            continue
        if _holds(state_file, index):
            live.add(index)
        else:
            entry.unlink(missing_ok=True)
    return live


def reserve(index: int, state_file: Path) -> None:
    RUN_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    (RUN_DIR / str(index)).write_text(f"{state_file}\n")


def release(index: int, state_file: Path) -> None:
    """Drop the reservation if it is this host's (never another state folder's)."""
    entry = RUN_DIR / str(index)
    try:
        if Path(entry.read_text().strip()) == state_file:
            entry.unlink()
    except (OSError, ValueError):
        pass
