"""A cache of what ``plugins list`` prints, so a warm start skips the manifest model.

Loading manifests imports pydantic and builds its validation schemas, which
is most of the command's time. What the command prints depends only on the
files of every plugin folder it can find, on anl-stack's own code and on
the discovery settings, so all of those go into one key:

- anl-stack's version, its source files (path, mtime, size) and Python's
  version;
- ``ANL_STACK_PLUGINS_PATH`` and the ``anl_stack.plugins`` entry points;
- every file under the in-tree plugins folder, the entry points' package
  folders and the ``ANL_STACK_PLUGINS_PATH`` folders (path, mtime, size);
- whether ``gpgv`` is installed (review signatures are checked with it);
- the language of messages (the errors of plugins that fail to load are
  kept in it).

Any change gives another key, and the listing is computed again. A cache
that cannot be read or written is ignored: the command never fails on it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import anl_stack
from anl_stack.core.errors import AnlError
from anl_stack.core.files import write_file
from anl_stack.core.i18n import current_language
from anl_stack.core.paths import cache_dir
from anl_stack.plugins import discovery

FORMAT = 1
SKIPPED_DIRS = {"__pycache__", ".git", ".pytest_cache"}


def cache_file() -> Path:
    return cache_dir() / "plugins-list.json"


def _tree(root: Path) -> list[tuple[str, int, int, str | None]]:
    """(relative path, mtime_ns, size, link target) of every entry under root, in a stable order.

    Links are not followed (a link to a folder above would make the walk endless): a link enters
    the key by its own text and times, and discovery refuses the ones that leave their plugin.
    """
    entries = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        links = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and d not in links)
        for name in sorted(files + links):
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
                target = os.readlink(path) if os.path.islink(path) else None
            except OSError:
                continue
            entries.append((os.path.relpath(path, root), st.st_mtime_ns, st.st_size, target))
    return entries


def _roots() -> tuple[list[dict[str, Any]], list[Path]]:
    """The entry points (as data) and every folder discovery would read."""
    points = []
    folders = [discovery.in_tree_dir()]
    for ep in discovery.plugin_entry_points():
        folder, problem = discovery.package_folder(ep.value)  # type: ignore[attr-defined]
        points.append({"name": ep.name, "value": ep.value,  # type: ignore[attr-defined]
                       "dist": getattr(getattr(ep, "dist", None), "name", None), "problem": problem})
        if folder is not None:
            folders.append(folder)
    for entry in (os.environ.get(discovery.PATH_ENV) or "").split(os.pathsep):
        if entry.strip():
            folders.append(Path(entry.strip()).expanduser())
    return points, folders


def key() -> str:
    """A digest of everything the listing depends on (a few milliseconds)."""
    code = Path(anl_stack.__file__).parent
    points, folders = _roots()
    material = {
        "format": FORMAT,
        "version": anl_stack.__version__,
        "python": sys.version,
        "code": _tree(code),
        "plugins_path": os.environ.get(discovery.PATH_ENV),
        "entry_points": points,
        "folders": [[str(f), _tree(f) if f.is_dir() else None] for f in folders],
        "gpgv": shutil.which("gpgv"),
        # The errors of plugins that fail to load are kept as shown, in the language of the run.
        "lang": current_language(),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def load(current_key: str) -> dict[str, Any] | None:
    """The cached listing for this key, or None."""
    try:
        data = json.loads(cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != current_key:
        return None
    listing = data.get("listing")
    return listing if isinstance(listing, dict) else None


def save(current_key: str, listing: dict[str, Any]) -> None:
    """Store the listing (atomically); silently skipped when the cache folder is not writable."""
    target = cache_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_file(target, json.dumps({"key": current_key, "listing": listing}, ensure_ascii=False), mode=0o600)
    except (OSError, AnlError):
        pass
