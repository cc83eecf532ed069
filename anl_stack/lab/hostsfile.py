"""Names of lab hosts on the controller: a marked block per host in /etc/hosts.

Each host owns exactly the lines between ``# BEGIN anl-stack lab NAME`` and
``# END anl-stack lab NAME``; ``down`` removes them and nothing else. The file
is rewritten atomically (temporary file + rename), or in place when
/etc/hosts is a bind mount that cannot be replaced.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path


def hosts_file() -> Path:
    return Path(os.environ.get("ANL_STACK_HOSTS_FILE", "/etc/hosts"))


def lock_path() -> Path:
    """One lock per hosts file, shared by every anl-stack state dir on the machine."""
    run_lock = Path("/run/lock")
    folder = run_lock if run_lock.is_dir() and os.access(run_lock, os.W_OK) else Path(tempfile.gettempdir())
    return folder / ("anl-stack-hosts-" + str(hosts_file()).strip("/").replace("/", "-") + ".lock")


def _markers(name: str) -> tuple[str, str]:
    return f"# BEGIN anl-stack lab {name}", f"# END anl-stack lab {name}"


def strip_block(text: str, name: str) -> str:
    begin, end = _markers(name)
    out, inside = [], False
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped == begin:
            inside = True
            continue
        if inside and stripped == end:
            inside = False
            continue
        if not inside:
            out.append(line)
    return "".join(out)


def with_block(text: str, name: str, address: str, names: list[str]) -> str:
    """text with the host's block replaced (appended if absent)."""
    base = strip_block(text, name)
    if base and not base.endswith("\n"):
        base += "\n"
    begin, end = _markers(name)
    unique = list(dict.fromkeys(names))
    return base + f"{begin}\n{address} {' '.join(unique)}\n{end}\n"


def block_names(text: str, name: str) -> list[str]:
    begin, end = _markers(name)
    inside, found = False, []
    for line in text.splitlines():
        if line.strip() == begin:
            inside = True
        elif line.strip() == end:
            inside = False
        elif inside and line.strip():
            found += line.split()[1:]
    return found


def set_block(name: str, address: str, names: list[str], path: Path | None = None) -> None:
    path = path or hosts_file()
    _write(path, with_block(_read(path), name, address, names))


def remove_block(name: str, path: Path | None = None) -> None:
    path = path or hosts_file()
    text = _read(path)
    new = strip_block(text, name)
    if new != text:
        _write(path, new)


def has_block(name: str, path: Path | None = None) -> bool:
    return _markers(name)[0] in _read(path or hosts_file())


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".anl-stack-hosts.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        try:
            os.replace(tmp, path)
            return
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.EXDEV, errno.EPERM):
                raise
        path.write_text(text)  # bind-mounted /etc/hosts: replace the content in place
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
