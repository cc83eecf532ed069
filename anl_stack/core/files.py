"""The one way anl-stack writes a file: no symbolic link followed, never a half-written file.

Inventories are shared between communes and a lab host's root file system
belongs to the lab host: both may hold links planted to make a root process
write elsewhere (``ansible.cfg -> /etc/passwd``). Every write therefore:

- walks the folders below a trusted ``root`` one at a time with
  ``O_NOFOLLOW``, so a linked folder is refused, not entered;
- creates an exclusive temporary file (``O_EXCL``) next to the target, with
  its mode set before any byte is written;
- renames it over the target atomically, so a reader sees the old file or
  the new one, and a planted link at the target is refused by name;
  :func:`write_new_file` links it to a free name instead, so a record never
  replaces a file another record points to.

Without ``root`` the folder holding the file is the trusted starting point.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from anl_stack.core.errors import AnlError
from anl_stack.core.i18n import _

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _refuse_link(path: Path) -> AnlError:
    return AnlError(_("is a symbolic link: anl-stack does not write through links"), file=str(path),
                    expected=_("a regular file or folder, or nothing at that path"))


def _open_folder(folder: Path, root: Path | None, *, create: bool, mode: int) -> int:
    """A descriptor of ``folder``, reached from ``root`` without following any link below it."""
    start = root if root is not None else folder
    try:
        rel = folder.relative_to(start)
    except ValueError:
        raise AnlError(_("is outside the folder it must be written in"), file=str(folder),
                       expected=_("a path inside {start}").format(start=start)) from None
    if create:
        start.mkdir(parents=True, exist_ok=True)
    fd = os.open(start, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    current = start
    try:
        for part in rel.parts:
            current = current / part
            if part in ("..", "."):
                raise AnlError(_("names a parent folder"), file=str(folder), expected=_("a path without '..'"))
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, mode, dir_fd=fd)
                child = _open_child_folder(part, fd, current)
            except OSError as error:
                if os.path.islink(current):
                    raise _refuse_link(current) from None
                raise AnlError(_("cannot open the folder: {strerror}").format(strerror=error.strerror), file=str(current),
                               expected=_("a folder anl-stack may write in")) from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_child_folder(part: str, fd: int, current: Path) -> int:
    try:
        return os.open(part, _DIR_FLAGS, dir_fd=fd)
    except OSError:
        raise _refuse_link(current) if os.path.islink(current) else AnlError(
            _("is not a folder"), file=str(current), expected=_("a folder")) from None


def ensure_folder(folder: Path, *, root: Path | None = None, mode: int = 0o755) -> None:
    """Create ``folder`` (and the missing ones above it, below ``root``) without following links."""
    os.close(_open_folder(folder, root if root is not None else folder.parent, create=True, mode=mode))


@contextlib.contextmanager
def _replacing(path: Path, root: Path | None, mode: int, folder_mode: int, *,
               exclusive: bool = False) -> Iterator[IO[bytes]]:
    dir_fd = _open_folder(path.parent, root, create=True, mode=folder_mode)
    tmp = f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        try:
            existing = os.lstat(path.name, dir_fd=dir_fd)
        except FileNotFoundError:
            existing = None
        if existing is not None and stat.S_ISLNK(existing.st_mode):
            raise _refuse_link(path)
        try:
            fd = os.open(tmp, _NEW_FLAGS, 0o600, dir_fd=dir_fd)
        except OSError as error:
            raise AnlError(_("cannot write: {strerror}").format(strerror=error.strerror), file=str(path),
                           expected=_("a folder anl-stack may write in")) from None
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            if exclusive:
                _publish_new(tmp, path, dir_fd)
            else:
                os.replace(tmp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise
    finally:
        os.close(dir_fd)


def _publish_new(tmp: str, path: Path, dir_fd: int) -> None:
    """Give the whole temporary file its name only if that name is free (link(2) never replaces)."""
    try:
        os.link(tmp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    except FileExistsError:
        raise (_refuse_link(path) if path.is_symlink() else AnlError(
            _("already exists"), file=str(path), expected=_("a new file"))) from None
    os.unlink(tmp, dir_fd=dir_fd)


def write_file(path: Path, data: str | bytes, *, mode: int = 0o644, root: Path | None = None,
               folder_mode: int = 0o755) -> Path:
    """Replace ``path`` with ``data`` atomically; folders below ``root`` are created with ``folder_mode``."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with _replacing(path, root, mode, folder_mode) as handle:
            handle.write(payload)
    except OSError as error:
        # A full disk, a file size limit, a folder that cannot be made: the old file stays, untouched.
        raise AnlError(_("cannot write: {strerror}").format(strerror=error.strerror or error), file=str(path),
                       expected=_("a folder anl-stack may write in, with free space")) from None
    return path


def write_new_file(path: Path, data: str | bytes, *, mode: int = 0o644, root: Path | None = None) -> Path:
    """Write ``path`` whole, or refuse (exit 2) when it exists: a record never replaces another's file."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with _replacing(path, root, mode, 0o755, exclusive=True) as handle:
            handle.write(payload)
    except OSError as error:
        raise AnlError(_("cannot write: {strerror}").format(strerror=error.strerror or error), file=str(path),
                       expected=_("a folder anl-stack may write in, with free space")) from None
    return path


@contextlib.contextmanager
def new_file(path: Path, *, mode: int = 0o644, root: Path | None = None) -> Iterator[IO[str]]:
    """A text file that must not exist yet (a run's log), opened without following links."""
    dir_fd = _open_folder(path.parent, root, create=True, mode=0o755)
    try:
        try:
            fd = os.open(path.name, _NEW_FLAGS, mode, dir_fd=dir_fd)
        except FileExistsError:
            raise (_refuse_link(path) if path.is_symlink() else AnlError(
                _("already exists"), file=str(path), expected=_("a new file"))) from None
        os.fchmod(fd, mode)
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        yield handle


def streamed_file(path: Path, *, mode: int = 0o644, root: Path | None = None) -> contextlib.AbstractContextManager[IO[bytes]]:
    """A binary handle whose bytes replace ``path`` when the block ends, or vanish if it fails (large files)."""
    return _replacing(path, root, mode, 0o755)


def check_writable(path: Path, *, key: str | None = None) -> None:
    """Refuse (exit 2), before any work, a file anl-stack could not write at ``path``.

    A long run (fetching every release, checking every host) must not fail at
    its very end for want of a writable folder. The nearest existing folder
    is tried for real, with a probe file removed at once: permissions, a
    read-only or immutable folder and a full disk all show, even for root.
    """
    expected = _("a file name in a folder anl-stack may write in")
    if path.is_symlink():
        raise AnlError([dataclasses.replace(r, key=key) for r in _refuse_link(path).records])
    if path.is_dir():
        raise AnlError(_("is a folder"), file=str(path), key=key, expected=expected)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise AnlError(_("is not in a folder"), file=str(path), key=key, expected=expected)
    probe = f".anl-probe.{secrets.token_hex(4)}"
    try:
        fd = os.open(folder / probe, _NEW_FLAGS, 0o600)
    except OSError as error:
        raise AnlError(_("cannot write in {folder}: {strerror}").format(folder=folder, strerror=error.strerror), file=str(path), key=key,
                       expected=expected) from None
    os.close(fd)
    os.unlink(folder / probe)
