"""The collective folder's layout, the safe reading of its (untrusted) files and their schema checks.

A collective folder is shared between communes, typically as a git
repository: nothing in it is trusted until its signature is checked, and a
file read from it must stay inside it. Every path is therefore checked for
symbolic links from the folder down, and every file for its shape, before
any of its values is used. A problem becomes an :class:`ErrorRecord` naming
the file, the key and what was expected.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.i18n import _
from anl_stack.core.yamlfile import TextDatesLoader, read_yaml

RECORD_TAG = "anl_stack_record"
SCHEMA = 1
MEMBERS_TAG = "collective-members"
COMMUNE_TAG = "collective-commune"

MEMBERS_DIR = "members"
COMMUNES_DIR = "communes"
KEYS_DIR = "keys"
DEFAULT_QUORUM = 2

#: members/0001.yml, members/0002.yml...
VERSION_FILE = re.compile(r"^(\d{4})\.yml$")
#: members/0002.<FINGERPRINT>.asc: one member's signature of version 2
VERSION_SIGNATURE = re.compile(r"^(\d{4})\.([0-9A-F]{40})\.asc$")
FINGERPRINT = re.compile(r"^[0-9A-F]{40}$")
#: INSEE commune code: 5 characters, Corsica's 2A/2B included
INSEE = re.compile(r"^(?:[0-9]{2}|2A|2B)[0-9]{3}$")
PLUGIN_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
RESULT = re.compile(r"^(passed|failed)$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def version_name(number: int) -> str:
    return f"{number:04d}.yml"


def signature_name(number: int, fingerprint: str) -> str:
    return f"{number:04d}.{fingerprint}.asc"


def sha256_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dump(data: dict[str, Any], comment: str) -> str:
    return comment + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


# --- paths inside the collective -------------------------------------------------------------

def collective_root(path: Path, *, must_exist: bool = True) -> Path:
    """The collective folder, absolute; refused (exit 2) when it is a link or not a collective."""
    root = Path(path).expanduser().absolute()
    if root.is_symlink():
        raise AnlError(_("is a symbolic link"), file=str(root), key="collective",
                       expected=_("the collective folder itself"))
    root = root.resolve()
    if must_exist and not (root / MEMBERS_DIR).is_dir():
        raise AnlError(_("not a collective folder"), file=str(root), key="collective",
                       expected=_("a folder made by `anl-stack collective init` (with members/)"))
    return root


def contained(root: Path, rel: str) -> ErrorRecord | None:
    """Why ``root/rel`` may not be read (a link on the way, or outside the folder); None when it may."""
    current = root
    for part in Path(rel).parts:
        if part in ("..", "/"):
            return ErrorRecord(_("leaves the collective folder"), str(root / rel), None, None,
                               _("a path inside the collective folder"))
        current = current / part
        if current.is_symlink():
            return ErrorRecord(_("is a symbolic link: links are never followed in a collective"),
                               str(current), None, None, _("a regular file or folder"))
    return None


def listing(root: Path, folder: str) -> list[Path]:
    """The regular files of ``root/folder`` (links left out by :func:`contained` later), sorted."""
    where = root / folder
    if where.is_symlink() or not where.is_dir():
        return []
    return sorted(p for p in where.iterdir() if not p.name.startswith("."))


def read_bytes(root: Path, file: Path) -> bytes:
    """The bytes of a file of the collective, refused (AnlError) through a link or out of the folder."""
    problem = contained(root, str(file.relative_to(root)))
    if problem is not None:
        raise AnlError(problem)
    if not file.is_file():
        raise AnlError(_("is missing or not a regular file"), file=str(file), expected=_("a regular file"))
    return file.read_bytes()


def read_mapping(root: Path, file: Path, tag: str) -> dict[str, Any]:
    """A YAML record of the collective, checked for its header (``anl_stack_record`` and ``schema``)."""
    problem = contained(root, str(file.relative_to(root)))
    if problem is not None:
        raise AnlError(problem)
    data = read_yaml(file, loader=TextDatesLoader).data
    if not isinstance(data, dict):
        raise AnlError(_("is not a mapping"), file=str(file), expected=_("a YAML mapping"))
    if data.get(RECORD_TAG) != tag:
        raise AnlError(_("wrong record type"), file=str(file), key=RECORD_TAG, expected=tag)
    if data.get("schema") != SCHEMA:
        raise AnlError(_("unknown schema version"), file=str(file), key="schema", expected=str(SCHEMA))
    return data


# --- field checks -----------------------------------------------------------------------------

class _Checker:
    def __init__(self, file: Path) -> None:
        self.file = str(file)
        self.records: list[ErrorRecord] = []

    def add(self, key: str, expected: str, message: str | None = None) -> None:
        self.records.append(ErrorRecord(message or _("missing or invalid"), self.file, None, key, expected))

    def text(self, data: dict[str, Any], key: str, where: str, *, optional: bool = False,
             pattern: re.Pattern[str] | None = None, expected: str | None = None, limit: int = 2000) -> None:
        value = data.get(key)
        if value is None and optional:
            return
        if not isinstance(value, str) or not value.strip() or len(value) > limit or \
                (pattern is not None and not pattern.match(value)):
            self.add(f"{where}{key}", expected or _("a text of at most {limit} characters").format(limit=limit))

    def done(self) -> None:
        if self.records:
            raise AnlError(self.records)


def _list(check: _Checker, data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        check.add(key, _("a list"))
        return []
    return value


@dataclass(frozen=True)
class Member:
    commune: str
    insee: str
    contact: str
    fingerprint: str

    def to_dict(self) -> dict[str, str]:
        return {"commune": self.commune, "insee": self.insee, "contact": self.contact,
                "fingerprint": self.fingerprint}


@dataclass(frozen=True)
class MembersVersion:
    file: Path
    collective: str
    version: int
    previous: str | None
    quorum: int
    date: str
    members: tuple[Member, ...]

    def by_fingerprint(self) -> dict[str, Member]:
        return {m.fingerprint: m for m in self.members}

    def by_insee(self) -> dict[str, Member]:
        return {m.insee: m for m in self.members}


def check_members(file: Path, data: dict[str, Any]) -> MembersVersion:
    """A members version, every field checked (AnlError listing each problem)."""
    check = _Checker(file)
    check.text(data, "collective", "", limit=200)
    for key, low in (("version", 1), ("quorum", 1)):
        value = data.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            check.add(key, _("a whole number of at least {low}").format(low=low))
    previous = data.get("previous")
    if data.get("version") == 1 and previous is not None:
        check.add("previous", _("nothing (the first version has no previous one)"))
    if data.get("version") != 1 and not (isinstance(previous, str) and DIGEST.match(previous)):
        check.add("previous", _("the sha256 of the previous version (sha256:...)"))
    check.text(data, "date", "", pattern=DATE, expected=_("a date (YYYY-MM-DD)"))
    members: list[Member] = []
    entries = _list(check, data, "members")
    if not entries:
        check.add("members", _("at least one member"))
    seen: dict[str, set[str]] = {"insee": set(), "fingerprint": set()}
    for i, entry in enumerate(entries):
        where = f"members[{i}]."
        if not isinstance(entry, dict):
            check.add(f"members[{i}]", _("a mapping with commune, insee, contact and fingerprint"))
            continue
        before = len(check.records)
        check.text(entry, "commune", where, limit=200)
        check.text(entry, "insee", where, pattern=INSEE, expected=_("an INSEE commune code (5 characters)"))
        check.text(entry, "contact", where, limit=200)
        check.text(entry, "fingerprint", where, pattern=FINGERPRINT,
                   expected=_("an OpenPGP fingerprint (40 upper-case hexadecimal digits)"))
        if len(check.records) > before:
            continue
        for key in ("insee", "fingerprint"):
            if entry[key] in seen[key]:
                check.add(f"{where}{key}", _("each member once"), _("given twice"))
            seen[key].add(entry[key])
        members.append(Member(entry["commune"].strip(), entry["insee"], entry["contact"].strip(),
                              entry["fingerprint"]))
    check.done()
    return MembersVersion(file, data["collective"], data["version"], previous, data["quorum"], data["date"],
                          tuple(members))


def _lang_text(check: _Checker, data: dict[str, Any], key: str, where: str) -> None:
    value = data.get(key)
    if not isinstance(value, dict) or not isinstance(value.get("fr"), str) or not value["fr"].strip() \
            or set(value) - {"fr", "en"} or any(not isinstance(v, str) or len(v) > 5000 for v in value.values()):
        check.add(f"{where}{key}", _("a mapping with fr (required) and en (optional) texts"))


def check_commune(file: Path, data: dict[str, Any]) -> dict[str, Any]:
    """A commune file, every field checked (AnlError listing each problem); the data as it is."""
    check = _Checker(file)
    check.text(data, "commune", "", limit=200)
    check.text(data, "insee", "", pattern=INSEE, expected=_("an INSEE commune code (5 characters)"))
    check.text(data, "fingerprint", "", pattern=FINGERPRINT,
               expected=_("an OpenPGP fingerprint (40 upper-case hexadecimal digits)"))
    check.text(data, "published", "", pattern=DATE, expected=_("a date (YYYY-MM-DD)"))
    for i, entry in enumerate(_list(check, data, "instances")):
        where = f"instances[{i}]."
        if not isinstance(entry, dict):
            check.add(f"instances[{i}]", _("a mapping"))
            continue
        check.text(entry, "plugin", where, pattern=PLUGIN_NAME, expected=_("a plugin name"))
        check.text(entry, "address", where, optional=True, limit=300)
        check.text(entry, "recipe_version", where, limit=50)
        check.text(entry, "app_version", where, optional=True, limit=50)
        check.text(entry, "digest", where, pattern=DIGEST, expected=_("a content digest (sha256:...)"))
        check.text(entry, "result", where, optional=True, pattern=RESULT, expected="passed | failed")
        check.text(entry, "since", where, pattern=DATE, expected=_("a date (YYYY-MM-DD)"))
        check.text(entry, "verified", where, pattern=DATE, expected=_("a date (YYYY-MM-DD)"))
        level = entry.get("quality_level")
        if level is not None and (not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 7):
            check.add(f"{where}quality_level", _("a level from 0 to 7, or nothing"))
    for i, entry in enumerate(_list(check, data, "reviews")):
        where = f"reviews[{i}]."
        if not isinstance(entry, dict):
            check.add(f"reviews[{i}]", _("a mapping"))
            continue
        check.text(entry, "plugin", where, pattern=PLUGIN_NAME, expected=_("a plugin name"))
        check.text(entry, "digest", where, pattern=DIGEST, expected=_("a content digest (sha256:...)"))
        check.text(entry, "date", where, pattern=DATE, expected=_("a date (YYYY-MM-DD)"))
        check.text(entry, "file", where, limit=200)
    check_notes(check, _list(check, data, "notes"))
    check.done()
    return data


def check_notes(check: _Checker, notes: list[Any], prefix: str = "notes") -> None:
    for i, entry in enumerate(notes):
        where = f"{prefix}[{i}]."
        if not isinstance(entry, dict):
            check.add(f"{prefix}[{i}]", _("a mapping with date, context, worked and cost"))
            continue
        check.text(entry, "date", where, pattern=DATE, expected=_("a date (YYYY-MM-DD)"))
        check.text(entry, "plugin", where, optional=True, pattern=PLUGIN_NAME, expected=_("a plugin name"))
        for key in ("context", "worked", "cost"):
            _lang_text(check, entry, key, where)


def read_notes(file: Path) -> list[dict[str, Any]]:
    """Experience notes typed by a commune (``publish --notes FILE``): a YAML list, checked."""
    data = read_yaml(file, loader=TextDatesLoader).data
    check = _Checker(file)
    if not isinstance(data, list):
        check.add("notes", _("a YAML list of notes (date, context, worked, cost)"))
        check.done()
    check_notes(check, data, "")
    check.done()
    return data
