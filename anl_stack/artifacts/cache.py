"""The content-addressed artifact cache on the controller.

Layout under ``anl_stack.core.paths.cache_dir()/artifacts/`` (``ANL_STACK_CACHE_DIR``
moves the whole cache; ``ANL_STACK_ARTIFACTS_DIR`` moves this folder alone,
for example onto a removable disk, leaving lab images in place)::

    blobs/<sha256>     file contents, named by their SHA-256 (read-only)
    index.json         "plugin/name/version" -> entry (filename, hashes, checks...)
    tmp/               downloads in progress (resumable .part files)
    .lock              serialises index updates

Only files that passed their checks are ever moved into ``blobs/``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from anl_stack.core.errors import AnlError
from anl_stack.core.files import write_file
from anl_stack.core.i18n import _
from anl_stack.core.paths import cache_dir

INDEX_FORMAT = 1
SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: Text fields every index entry has (the CLI and the deploy read them).
_ENTRY_TEXT = ("plugin", "name", "version", "filename")
ARTIFACTS_DIR_ENV = "ANL_STACK_ARTIFACTS_DIR"


def default_root() -> Path:
    if env := os.environ.get(ARTIFACTS_DIR_ENV):
        return Path(env)
    return cache_dir() / "artifacts"


def _entry_problem(entry: Any) -> str | None:
    """What makes an index entry unusable, or None."""
    if not isinstance(entry, dict):
        return _("not a mapping")
    for field in _ENTRY_TEXT:
        if not isinstance(entry.get(field), str):
            return _("{field} is not text").format(field=field)
    for field in ("sha256", "signature_sha256", "key_sha256"):
        value = entry.get(field)
        if (field == "sha256" or value is not None) and not (isinstance(value, str) and SHA256.match(value)):
            return _("{field} is not a SHA-256").format(field=field)
    return None


class Cache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else default_root()

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def index_file(self) -> Path:
        return self.root / "index.json"

    def blob(self, sha256: str) -> Path:
        if not isinstance(sha256, str) or not SHA256.match(sha256):
            # Never a path: an index entry reading "../../x" must not name a file outside blobs/.
            raise AnlError(_("{sha256!r} is not a SHA-256").format(sha256=str(sha256)[:80]), file=str(self.index_file), key="sha256",
                           expected=_("64 lower-case hex digits"))
        return self.blobs / sha256

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def entries(self) -> dict[str, dict[str, Any]]:
        """The index, checked: a damaged one is an error naming the file and the entry (exit 2)."""
        if not self.index_file.is_file():
            return {}
        file = str(self.index_file)
        expected = _("the index anl-stack writes; remove the file and fetch again to rebuild it")
        try:
            data = json.loads(self.index_file.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as error:
            raise AnlError(_("the artifact cache index is unreadable: {error}").format(error=str(error)[:200]), file=file, key="index",
                           expected=expected) from None
        entries = data.get("entries", {}) if isinstance(data, dict) else None
        if not isinstance(entries, dict):
            raise AnlError(_("the artifact cache index holds no mapping of entries"), file=file, key="entries",
                           expected=expected)
        for key, entry in entries.items():
            problem = _entry_problem(entry)
            if problem:
                raise AnlError(_("damaged cache entry: {problem}").format(problem=problem), file=file, key=f"entries.{key}", expected=expected)
        return dict(entries)

    def get(self, key: str) -> dict[str, Any] | None:
        entry = self.entries().get(key)
        if entry is None or not self.blob(entry["sha256"]).is_file():
            return None
        return entry

    def put_blob(self, source: Path, sha256: str, *, move: bool = False) -> Path:
        """Place an already-checked file under its hash (atomic rename)."""
        target = self.blob(sha256)
        if target.is_file():
            if move:
                source.unlink(missing_ok=True)
            return target
        self.blobs.mkdir(parents=True, exist_ok=True)
        staging = self.blobs / f".{sha256}.{os.getpid()}"
        if move:
            shutil.move(str(source), staging)
        else:
            shutil.copyfile(source, staging)
        staging.chmod(0o444)
        staging.replace(target)
        return target

    def record(self, key: str, entry: dict[str, Any]) -> dict[str, Any]:
        entry = dict(entry, added=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
        with self._locked():
            entries = self.entries()
            entries[key] = entry
            write_file(self.index_file, json.dumps({"format": INDEX_FORMAT, "entries": dict(sorted(entries.items()))},
                                                   indent=2, ensure_ascii=False) + "\n")
        return entry

    def workdir(self, name: str) -> Path:
        """A folder for one download in progress (kept across runs for resuming)."""
        folder = self.tmp / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder
