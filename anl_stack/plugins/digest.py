"""A plugin's content digest: the evidence that a report names one exact recipe.

sha256 over the plugin's files taken in sorted order of their relative POSIX
paths; each file contributes ``path NUL sha256(content) LF``, so renaming a
file changes the digest as much as editing it. Caches and bytecode
(``__pycache__``, ``*.pyc``) and dot-entries are left out: they are not part
of the recipe and differ from one machine to another. So are the records
*about* the recipe (top-level ``reviews/`` and ``evidence/``: adding a review
must not change what it reviewed) and the packaging files that exist only in
a source checkout (``pyproject.toml``, ``build/``, ``dist/``, ``*.egg-info``),
so a plugin has the same digest in its repository and once pip-installed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from anl_stack.core.links import require_contained

_SKIP_DIRS = {"__pycache__"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}
#: Top-level entries that are records about the recipe or packaging, not the recipe.
RECORD_DIRS = ("reviews", "evidence")
_SKIP_TOP = {*RECORD_DIRS, "build", "dist", "pyproject.toml"}


def _skipped_top(name: str) -> bool:
    return name in _SKIP_TOP or name.endswith(".egg-info")


def plugin_files(folder: Path) -> list[Path]:
    """The files that make up the plugin, sorted by relative POSIX path.

    A link that leaves the plugin or loops is refused (exit 2): the digest
    would otherwise hash a file of the controller as part of the recipe.
    """
    require_contained(folder)
    found = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if any(part.startswith(".") or part in _SKIP_DIRS for part in rel.parts) or _skipped_top(rel.parts[0]):
            continue
        if path.is_file() and path.suffix not in _SKIP_SUFFIXES:
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def content_digest(folder: Path) -> str:
    """``sha256:<hex>`` of the plugin folder (see the module docstring)."""
    total = hashlib.sha256()
    for path in plugin_files(folder):
        rel = path.relative_to(folder).as_posix()
        total.update(rel.encode("utf-8") + b"\0")
        total.update(hashlib.sha256(path.read_bytes()).hexdigest().encode("ascii") + b"\n")
    return "sha256:" + total.hexdigest()
