"""What the operator of this controller allows that a shared inventory may not decide for itself.

A commune inventory travels between communes, so the few choices that lower
the controller's guard are read only from the operator's own configuration
folder (``controller.yml`` there) or from the command line, never from a
file inside an inventory::

    # ~/.config/anl-stack/controller.yml (or /root/.config/... for root)
    allow_lookups:              # inventories whose templates may run lookups here
      - /srv/communes/gieres
    allow_no_host_key_checking: # inventories that may turn SSH host key checks off
      - /srv/communes/gieres

Each key also takes ``true`` (every inventory). ``anl-stack --allow-lookups``
allows lookups for one command.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from anl_stack.core.errors import AnlError
from anl_stack.core.i18n import _
from anl_stack.core.paths import config_dir
from anl_stack.core.yamlfile import read_yaml

FILE_NAME = "controller.yml"
#: Set by ``anl-stack --allow-lookups`` for the command it runs (and its child processes).
ALLOW_LOOKUPS_ENV = "ANL_STACK_ALLOW_LOOKUPS"
KEYS = ("allow_lookups", "allow_no_host_key_checking")


@dataclass(frozen=True)
class Allowance:
    everywhere: bool
    inventories: frozenset[Path]

    def covers(self, inventory: Path) -> bool:
        return self.everywhere or inventory.resolve() in self.inventories


def operator_file() -> Path:
    return config_dir() / FILE_NAME


def _allowance(key: str) -> Allowance:
    file = operator_file()
    if not file.is_file():
        return Allowance(False, frozenset())
    doc = read_yaml(file)
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise AnlError(_("is not a mapping"), file=str(file), expected="keys: " + ", ".join(KEYS))
    for unknown in sorted(set(map(str, data)) - set(KEYS)):
        raise AnlError(_("unknown key"), file=str(file), line=doc.line(unknown), key=unknown,
                       expected=_("one of: {keys}").format(keys=", ".join(KEYS)))
    value = data.get(key, False)
    if isinstance(value, bool):
        return Allowance(value, frozenset())
    if isinstance(value, list) and all(isinstance(item, str) and item for item in value):
        return Allowance(False, frozenset(Path(item).expanduser().resolve() for item in value))
    raise AnlError(_("{value!r} is not usable").format(value=value), file=str(file), line=doc.line(key), key=key,
                   expected=_("true, false or a list of inventory folders"))


def allows_lookups(inventory: Path) -> bool:
    """Whether templates of ``inventory`` may run lookups on this controller."""
    return os.environ.get(ALLOW_LOOKUPS_ENV) == "1" or _allowance("allow_lookups").covers(inventory)


def allows_no_host_key_checking(inventory: Path) -> bool:
    """Whether ``inventory`` may turn SSH host key checking off."""
    return _allowance("allow_no_host_key_checking").covers(inventory)
