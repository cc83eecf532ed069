"""The communes of a fleet folder: each sub-folder that holds a commune inventory (``hosts.yml``).

A fleet folder is shared by the people who run it: it is untrusted input.
A link is never followed (it could point at another service's inventory),
and a name given with ``--commune`` that is not in the folder is refused
before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.i18n import _

HOSTS_FILE = "hosts.yml"
#: Where a fleet keeps its own records (each commune keeps its runs in its own inventory).
FLEET_STATE = ".anl-stack"


@dataclass(frozen=True)
class Commune:
    name: str          # the sub-folder's name
    inventory: Path    # the sub-folder, absolute


def _candidates(root: Path) -> tuple[list[Commune], list[ErrorRecord]]:
    found, skipped = [], []
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            skipped.append(ErrorRecord(_("is a symbolic link: links are never followed in a fleet"), str(entry),
                                       None, None, _("a commune inventory folder")))
        elif entry.is_dir() and (entry / HOSTS_FILE).is_file() and not (entry / HOSTS_FILE).is_symlink():
            found.append(Commune(entry.name, entry))
    return found, skipped


def fleet_communes(folder: Path, names: list[str] | None = None) -> tuple[list[Commune], list[ErrorRecord]]:
    """The communes to run, in name order, and the entries skipped (links); exit 2 on a bad folder or name."""
    root = Path(folder).expanduser().absolute()
    expected = _("a folder with one commune inventory per sub-folder (each with its hosts.yml)")
    if root.is_symlink() or not root.is_dir():
        raise AnlError(_("not a fleet folder"), file=str(root), key="--fleet", expected=expected)
    communes, skipped = _candidates(root)
    if not communes:
        raise AnlError(_("holds no commune inventory"), file=str(root), key="--fleet", expected=expected)
    if names:
        known = {c.name: c for c in communes}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise AnlError(_("no commune named {names} in the fleet").format(names=", ".join(unknown)),
                           file=str(root), key="--commune",
                           expected=_("names of its sub-folders: {names}").format(names=", ".join(known)))
        communes = [known[n] for n in dict.fromkeys(names)]
    return communes, skipped
