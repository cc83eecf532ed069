"""Symbolic links in a folder someone else gave us: only to files and folders of that folder.

A plugin or a shared inventory comes from someone else and is read by a
controller that often runs as root. A link planted in it (``plugin.yml ->
/etc/shadow``, ``group_vars/all/anl.yml`` pointing at the operator's SSH key)
would make anl-stack or Ansible read, print, hash, cache or push a file of
the controller; a link to a folder above it (``roles/loop -> ..``) makes
every walk that follows links endless. So a link must resolve, without a
loop, to a path inside the folder, and a link to a folder must not point at
one of the folders holding it.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.i18n import _


def _expected(what: str) -> str:
    return (_("no symbolic link, or a link to a file or folder inside the {what} (not one of the folders "
              "holding it)").format(what=what))


def _problem(link: Path, root: Path, what: str) -> str | None:
    """What is wrong with the link ``link`` of the folder ``root`` (resolved), or None."""
    try:
        target = Path(os.path.realpath(link, strict=True))
    except FileNotFoundError:
        return _("is a symbolic link to nothing ({target})").format(target=os.readlink(link))
    except (OSError, RuntimeError):
        return _("is a symbolic link loop")
    if not target.is_relative_to(root):
        return _("is a symbolic link to {target}, outside the {what}").format(target=target, what=what)
    if target.is_dir() and Path(os.path.realpath(link.parent)).is_relative_to(target):
        return _("is a symbolic link to {target}, a folder holding it (a loop)").format(target=target)
    return None


def link_problems(folder: Path, what: str = "plugin", skip: Collection[str] = ()) -> list[ErrorRecord]:
    """One record per link of ``folder`` (walked without following any link) that leaves it or loops.

    ``skip``: names of top-level entries not walked (anl-stack's own run folders, written by the
    safe file writer, which refuses links itself).
    """
    try:
        root = Path(os.path.realpath(folder, strict=True))
    except (OSError, RuntimeError):
        return [ErrorRecord(_("{what} folder cannot be resolved (a link loop?)").format(what=what), str(folder), None, what,
                            _("a {what} folder").format(what=what))]
    records = []
    for current, dirs, files in os.walk(folder, followlinks=False):
        if Path(current) == Path(folder):
            # Only a real folder is skipped: a link by that name is checked like any other.
            dirs[:] = [d for d in dirs if d not in skip or (Path(current) / d).is_symlink()]
        for name in sorted(dirs + files):
            path = Path(current) / name
            if path.is_symlink() and (problem := _problem(path, root, what)) is not None:
                records.append(ErrorRecord(problem, str(path), None, str(path.relative_to(folder)), _expected(what)))
    return records


def require_contained(folder: Path, what: str = "plugin", skip: Collection[str] = ()) -> None:
    """AnlError (exit 2) naming every link of ``folder`` that leaves it or loops."""
    records = link_problems(folder, what, skip)
    if records:
        raise AnlError(records)
