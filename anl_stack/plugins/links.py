"""Symbolic links in a plugin folder: only to files and folders of the plugin itself.

A plugin comes from someone else and is read by a controller that often runs
as root. A link planted in it (``plugin.yml -> /etc/shadow``, a role file
pointing at the operator's vault password) would make anl-stack print,
hash, cache or push a file of the controller; a link to a folder above it
(``roles/loop -> ..``) makes every walk that follows links endless. So a
link must resolve, without a loop, to a path inside the plugin folder, and a
link to a folder must not point at one of the folders holding it.
"""

from __future__ import annotations

import os
from pathlib import Path

from anl_stack.core.errors import AnlError, ErrorRecord

EXPECTED = "no symbolic link, or a link to a file or folder inside the plugin (not one of the folders holding it)"


def _problem(link: Path, root: Path) -> str | None:
    """What is wrong with the link ``link`` of the plugin folder ``root`` (resolved), or None."""
    try:
        target = Path(os.path.realpath(link, strict=True))
    except FileNotFoundError:
        return f"is a symbolic link to nothing ({os.readlink(link)})"
    except (OSError, RuntimeError):
        return "is a symbolic link loop"
    if not target.is_relative_to(root):
        return f"is a symbolic link to {target}, outside the plugin"
    if target.is_dir() and Path(os.path.realpath(link.parent)).is_relative_to(target):
        return f"is a symbolic link to {target}, a folder holding it (a loop)"
    return None


def link_problems(folder: Path) -> list[ErrorRecord]:
    """One record per link of ``folder`` (walked without following any link) that leaves it or loops."""
    try:
        root = Path(os.path.realpath(folder, strict=True))
    except (OSError, RuntimeError):
        return [ErrorRecord("plugin folder cannot be resolved (a link loop?)", str(folder), None, "plugin",
                            "a plugin folder")]
    records = []
    for current, dirs, files in os.walk(folder, followlinks=False):
        for name in sorted(dirs + files):
            path = Path(current) / name
            if path.is_symlink() and (problem := _problem(path, root)) is not None:
                records.append(ErrorRecord(problem, str(path), None, str(path.relative_to(folder)), EXPECTED))
    return records


def require_contained(folder: Path) -> None:
    """AnlError (exit 2) naming every link of the plugin folder that leaves it or loops."""
    records = link_problems(folder)
    if records:
        raise AnlError(records)
