"""One hostile case, and the small builders the case tables share."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT = Path(__file__).resolve().parents[2]
TEST_PLUGINS = PROJECT / "tests" / "plugins"
#: What a planted link or path tries to read: it must never be printed, hashed, cached or changed.
SECRET = "root:$6$hostile-corpus-secret$do-not-print:19000:0:99999:7:::\n"


@dataclass(frozen=True)
class Where:
    """The three folders of one case (see the package docstring)."""

    root: Path

    @property
    def case(self) -> Path:
        return self.root / "case"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def outside(self) -> Path:
        return self.root / "outside"

    @property
    def inv(self) -> Path:
        """The case's commune inventory (when it has one)."""
        return self.case / "inv"

    @property
    def plugins(self) -> Path:
        """The case's own plugin folders (in ANL_STACK_PLUGINS_PATH, after the test plugins)."""
        return self.case / "plugins"

    def fill(self, text: str) -> str:
        """``text`` with its placeholders replaced (plain replacement: other braces stay as they are)."""
        for name, value in (("inv", self.inv), ("plugins", self.plugins), ("case", self.case), ("home", self.home),
                            ("outside", self.outside), ("project", PROJECT)):
            text = text.replace("{" + name + "}", str(value))
        return text


@dataclass
class Case:
    """One hostile input: how to build it, the command to run, what the refusal must name."""

    name: str
    #: category, for the summary of what the corpus covers
    category: str
    build: Callable[[Where], None]
    #: arguments of ``anl-stack`` (placeholders: {case} {home} {outside} {inv} {plugins} {project})
    argv: list[str]
    #: the file an error record must name (placeholders as argv), or None for a command-line value
    file: str | None
    #: the key that record must name, or None when the problem has no key (a YAML syntax error)
    key: str | None
    #: text the record's message must hold
    text: str | None = None
    #: that record gives a line
    line: bool = False
    #: globs (placeholders) that must match nothing afterwards: files the refused command must not leave
    absent: tuple[str, ...] = ()
    #: resource limits other than the defaults (name -> value), e.g. {"RLIMIT_CPU": 90}
    limits: dict[str, int] = field(default_factory=dict)


# --- builders ---------------------------------------------------------------------

def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def outside_files(where: Where) -> None:
    """What hostile inputs aim at: a shadow-like file, a folder, a password folder, a key."""
    write(where.outside / "shadow", SECRET)
    write(where.outside / "folder" / "inside.txt", SECRET)
    write(where.outside / "vault-passwords" / "stolen.txt", "outside-password\n")
    write(where.outside / "key.asc", "-----BEGIN PGP PUBLIC KEY BLOCK-----\nnot a key\n")


HOSTS = """\
all:
  hosts:
    srv1:
      ansible_host: 127.0.0.1
      ansible_port: 9
  children:
    hello:
      hosts:
        srv1: {}
"""
SETTINGS = """\
anl_commune: exemple
anl_domain: exemple.fr
anl_admin_email: dsi@exemple.fr
anl_tls_mode: selfsigned
"""


def inventory(where: Where, *, hosts: str | bytes = HOSTS, settings: str | bytes = SETTINGS,
              files: dict[str, str | bytes] | None = None, password: bool = True) -> Path:
    """A valid commune inventory (one host, never reachable: port 9 of the loopback), then ``files`` over it."""
    write(where.inv / "hosts.yml", hosts)
    write(where.inv / "group_vars" / "all" / "anl.yml", settings)
    write(where.inv / ".anl-stack" / "settings.yml", "{}\n")
    for rel, content in (files or {}).items():
        write(where.inv / rel, content)
    if password:
        write(where.home / "config" / "vault-passwords" / "exemple.txt", "case-password\n")
    return where.inv


def plugin(where: Where, name: str = "hostile", *, manifest: dict[str, Any] | None = None,
           changes: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """A copy of the test plugin ``hello`` renamed ``name`` (its role too), under the case's plugins."""
    folder = where.plugins / name
    shutil.copytree(TEST_PLUGINS / "hello", folder, ignore=shutil.ignore_patterns("evidence", "__pycache__"))
    data = manifest if manifest is not None else yaml.safe_load((folder / "plugin.yml").read_text())
    data["name"] = name
    data["deployment"]["subdomain"] = name.replace("_", "-")
    data["deployment"]["secrets"] = [dict(s, name=f"{name}_token") for s in data["deployment"]["secrets"]]
    if changes:
        changes(data)
    (folder / "plugin.yml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    if name != "hello":
        (folder / "roles" / "hello").rename(folder / "roles" / name)
        # Playbooks, role files, checks and fiches name the plugin, its group and its variables.
        for path in folder.rglob("*"):
            if path.is_file() and path.name != "plugin.yml":
                path.write_text(path.read_text(encoding="utf-8").replace("hello", name), encoding="utf-8")
    return folder


def link(path: Path, target: str | Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    os.symlink(target, path)
    return path


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes | None]], *, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """An uncompressed tar of the given entries (data None for entries without content)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def entry(name: str, kind: bytes = tarfile.REGTYPE, **attrs: Any) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, 0o644, 1_700_000_000
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


# --- folders anl-stack must not be able to write, even as root -------------------------

#: Folders made unwritable by the cases built in this process (undone by :func:`undo_unwritable`).
UNWRITABLE: list[Path] = []


def make_unwritable(folder: Path) -> None:
    """Root ignores permissions: the folder is made immutable then (chattr +i); others get mode 0555."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"cannot make {folder} immutable for an unwritable-folder case: {done.stderr}")
    else:
        folder.chmod(0o555)
    UNWRITABLE.append(folder)


def undo_unwritable() -> None:
    """Make those folders writable again, so the temporary folders can be removed."""
    while UNWRITABLE:
        folder = UNWRITABLE.pop()
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True, check=False)
        else:
            folder.chmod(0o755)
