"""Who created a lab host: the person behind root, recorded in the host's state.

Lab commands run as root, so the effective user says nothing about who typed
them. Under sudo the person is SUDO_UID; after ``su`` or a root login, the
kernel's login uid (``/proc/self/loginuid``, kept across ``su``). This lets
``lab down --all`` keep the hosts of other people sharing the machine. It is
a courtesy between colleagues, not a security boundary: root can remove any
host, and ``lab down NAME`` or ``--all --everyone`` do.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anl_stack.lab import state

LOGINUID = Path("/proc/self/loginuid")
#: The kernel's "no login uid" (a service, a container without audit).
UNSET_LOGINUID = 4294967295


@dataclass(frozen=True)
class Operator:
    """A person on this machine; two records are the same person when their uids are equal."""

    uid: int
    user: str = field(compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"uid": self.uid, "user": self.user}


def current(environ: Mapping[str, str] | None = None, loginuid: Path = LOGINUID) -> Operator:
    """The person running this process: sudo's caller, else the login user, else the effective user."""
    env = os.environ if environ is None else environ
    sudo_uid = _int(env.get("SUDO_UID")) if os.geteuid() == 0 else None
    if sudo_uid is not None:
        return Operator(sudo_uid, _user_name(sudo_uid, env.get("SUDO_USER")))
    try:
        login_uid = _int(loginuid.read_text().strip())
    except OSError:
        login_uid = None
    uid = login_uid if login_uid is not None and login_uid != UNSET_LOGINUID else os.geteuid()
    return Operator(uid, _user_name(uid, None))


def from_record(data: Mapping[str, Any]) -> Operator | None:
    """The creator a host's state records; None for hosts made before anl-stack recorded it."""
    creator = data.get("creator")
    if not isinstance(creator, Mapping):
        return None
    uid, user = creator.get("uid"), creator.get("user")
    if not isinstance(uid, int) or isinstance(uid, bool) or not isinstance(user, str):
        return None
    return Operator(uid, user)


@dataclass(frozen=True)
class Selection:
    """The hosts of this state dir, split by who created them."""

    mine: list[str]
    #: Host name -> the user who created it, None when the lab did not record it.
    others: dict[str, str | None]


def select_all(me: Operator | None = None) -> Selection:
    """Split every host folder of this state dir: created by ``me`` (default: whoever runs this), or not."""
    me = me or current()
    mine: list[str] = []
    others: dict[str, str | None] = {}
    for name in state.names():
        creator = from_record(state.read(name) or {})
        if creator == me:
            mine.append(name)
        else:
            others[name] = creator.user if creator else None
    return Selection(mine, others)


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _user_name(uid: int, fallback: str | None) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without an account (a deleted user, another machine's namespace)
        return fallback or str(uid)
