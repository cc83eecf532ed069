"""The members file: numbered versions, each signed, and the quorum rule that accepts them.

``members/0001.yml`` is the first version, signed by every member it lists
(the founding members). Every later version names the sha256 of the one
before (``previous``) and is accepted only when signed by at least
``quorum`` members of the previous accepted version (``quorum`` is a field
of that version: changing it needs the old quorum), or by all of them when
fewer remain; a member it adds must sign it too (its key is then known to
work). Signatures sit next to the version: ``members/0002.<FPR>.asc``.

The chain is read from 0001 up and stops at the first version that is not
accepted: if it is the last one it is *pending* (waiting for signatures),
otherwise it and every later one are refused. The current members are those
of the last accepted version; a commune listed in an earlier accepted
version and no longer in the current one is a *removed* member.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anl_stack.collective import signatures
from anl_stack.collective.model import (
    DEFAULT_QUORUM,
    MEMBERS_DIR,
    MEMBERS_TAG,
    RECORD_TAG,
    SCHEMA,
    VERSION_FILE,
    VERSION_SIGNATURE,
    Member,
    MembersVersion,
    check_members,
    collective_root,
    contained,
    dump,
    listing,
    read_bytes,
    read_mapping,
    sha256_bytes,
    signature_name,
    version_name,
)
from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.files import write_file, write_new_file
from anl_stack.core.i18n import _

HEADER = "# Members of the collective, written by `anl-stack collective`; every change is signed by a quorum.\n"


@dataclass
class Chain:
    """What the members files say once every signature is checked."""

    accepted: list[MembersVersion] = field(default_factory=list)
    #: the last version when it still waits for signatures: (version, signers so far, signatures needed)
    pending: tuple[MembersVersion, list[str], int] | None = None
    problems: list[ErrorRecord] = field(default_factory=list)

    @property
    def current(self) -> MembersVersion | None:
        return self.accepted[-1] if self.accepted else None

    def removed(self) -> dict[str, Member]:
        """Members of an earlier accepted version that the current one no longer lists, by INSEE code."""
        now = self.current.by_insee() if self.current else {}
        gone: dict[str, Member] = {}
        for version in self.accepted:
            for member in version.members:
                if member.insee not in now:
                    gone[member.insee] = member
        return gone

    def signers(self) -> dict[str, str]:
        """Fingerprint -> commune of the current members (what makes a review a commune's)."""
        return {m.fingerprint: m.commune for m in self.current.members} if self.current else {}


def needed(previous: MembersVersion | None, version: MembersVersion) -> tuple[set[str], int, set[str]]:
    """(fingerprints whose signature counts, how many must sign, fingerprints that must all sign)."""
    if previous is None:
        everyone = {m.fingerprint for m in version.members}
        return everyone, len(everyone), everyone
    eligible = {m.fingerprint for m in previous.members}
    added = {m.fingerprint for m in version.members} - eligible
    return eligible, min(previous.quorum, len(eligible)), added


def _good_signers(root: Path, version: MembersVersion, candidates: set[str],
                  problems: list[ErrorRecord]) -> set[str]:
    good = set()
    for file in listing(root, MEMBERS_DIR):
        match = VERSION_SIGNATURE.match(file.name)
        if not match or int(match.group(1)) != version.version:
            continue
        fingerprint = match.group(2)
        if fingerprint not in candidates:
            problems.append(ErrorRecord(_("signature by a key that may not sign this version: ignored"),
                                        str(file), None, "signature",
                                        _("a signature by a member of the previous version, or by a member it adds")))
            continue
        result = signatures.check(root, version.file, file, fingerprint)
        if result.problem is None:
            good.add(fingerprint)
        else:
            problems.append(ErrorRecord(_(result.problem) + (f" ({result.detail})" if result.detail else ""),
                                        str(file), None, "signature", _("a good signature of this version")))
    return good


def read_chain(root: Path) -> Chain:
    """Every members version, checked in order (untrusted input: problems are collected, never raised)."""
    chain = Chain()
    files = [f for f in listing(root, MEMBERS_DIR) if VERSION_FILE.match(f.name)]
    previous: MembersVersion | None = None
    previous_bytes = b""
    for expected_number, file in enumerate(files, start=1):
        if int(VERSION_FILE.match(file.name).group(1)) != expected_number:  # type: ignore[union-attr]
            chain.problems.append(ErrorRecord(_("versions must follow each other: this one and later are refused"),
                                              str(file), None, "version", version_name(expected_number)))
            break
        try:
            raw = read_bytes(root, file)
            version = check_members(file, read_mapping(root, file, MEMBERS_TAG))
        except AnlError as error:
            chain.problems += error.records
            chain.problems.append(ErrorRecord(_("later versions are refused"), str(file), None, None, None))
            break
        if version.version != expected_number:
            chain.problems.append(ErrorRecord(_("the version number does not match the file name"), str(file),
                                              None, "version", str(expected_number)))
            break
        if previous is not None and version.previous != sha256_bytes(previous_bytes):
            chain.problems.append(ErrorRecord(_("does not follow the previous version"), str(file), None,
                                              "previous", sha256_bytes(previous_bytes)))
            break
        if previous is not None and version.collective != previous.collective:
            chain.problems.append(ErrorRecord(_("the collective's name changed"), str(file), None, "collective",
                                              previous.collective))
            break
        may_sign, count, must_sign = needed(previous, version)
        good = _good_signers(root, version, may_sign | must_sign, chain.problems)
        counted = good & may_sign
        if len(counted) >= count and must_sign <= good:
            chain.accepted.append(version)
            previous, previous_bytes = version, raw
            continue
        if file is files[-1]:
            chain.pending = (version, sorted(good), count)
        else:
            chain.problems.append(ErrorRecord(
                _("not signed by enough members ({good} of {count}): this version and later ones are refused")
                .format(good=len(counted), count=count), str(file), None, "signatures",
                _("signatures by {count} members of the previous version").format(count=count)))
        break
    if not chain.accepted and not chain.pending and not chain.problems:
        chain.problems.append(ErrorRecord(_("no members file"), str(root / MEMBERS_DIR), None, None,
                                          version_name(1)))
    return chain


def current_members(root: Path) -> Chain:
    """The checked chain; refused (exit 2) when no version is accepted yet."""
    chain = read_chain(root)
    if chain.current is None:
        raise AnlError(chain.problems or [ErrorRecord(
            _("the first members version is not signed by all its founding members yet"),
            str(root / MEMBERS_DIR / version_name(1)), None, "signatures",
            _("a signature by every member it lists (anl-stack collective sign)"))])
    return chain


# --- writing -------------------------------------------------------------------------------------

def _write_signature(root: Path, number: int, data: bytes, fingerprint: str) -> Path:
    signature, public_key = signatures.sign_bytes(data, fingerprint)
    signatures.store_key(root, fingerprint, public_key)
    target = root / MEMBERS_DIR / signature_name(number, fingerprint)
    write_file(target, signature, root=root)
    return target


def _version_data(collective: str, number: int, previous: str | None, quorum: int,
                  members: list[Member]) -> dict[str, Any]:
    return {RECORD_TAG: MEMBERS_TAG, "schema": SCHEMA, "collective": collective, "version": number,
            "previous": previous, "quorum": quorum, "date": dt.date.today().isoformat(),
            "members": [m.to_dict() for m in members]}


def _propose(root: Path, data: dict[str, Any], fingerprint: str) -> Path:
    """Write a new version (refused when the number is taken) and the proposer's signature."""
    number = data["version"]
    target = root / MEMBERS_DIR / version_name(number)
    text = dump(data, HEADER).encode("utf-8")
    check_members(target, data)  # what we write must read back
    # The signature first: a version without it is one nobody proposed; written whole, never over another.
    _write_signature(root, number, text, fingerprint)
    write_new_file(target, text, root=root)
    return target


def init(folder: Path, *, name: str, quorum: int, founders: list[Member], key: str) -> Path:
    """A new collective: ``members/0001.yml`` listing the founders, signed by the one running it."""
    root = collective_root(folder, must_exist=False)
    if (root / MEMBERS_DIR).exists():
        raise AnlError(_("a collective already exists here"), file=str(root / MEMBERS_DIR), key="collective",
                       expected=_("a new or empty folder"))
    if quorum < 1:
        raise AnlError(_("the quorum must be at least 1"), key="--quorum", expected=str(DEFAULT_QUORUM))
    fingerprint = signatures.own_fingerprint(key)
    if fingerprint not in {m.fingerprint for m in founders}:
        raise AnlError(_("the signing key is not a founding member's"), key="--key",
                       expected=_("the key of one of the founding members"))
    data = _version_data(name, 1, None, quorum, founders)
    check_members(root / MEMBERS_DIR / version_name(1), data)  # before anything is written
    root.mkdir(parents=True, exist_ok=True)
    # With several founders, version 1 waits for each one's signature (`collective sign`).
    return _propose(root, data, fingerprint)


def propose(folder: Path, members: list[Member], *, key: str, quorum: int | None = None) -> Path:
    """The next version of the members file, signed by ``key`` (it then waits for the quorum)."""
    root = collective_root(folder)
    chain = read_chain(root)
    if chain.pending is not None:
        raise AnlError(_("a members version is still waiting for signatures"), file=str(chain.pending[0].file),
                       key="signatures", expected=_("anl-stack collective sign, before any other change"))
    if chain.current is None:
        raise AnlError(chain.problems or [ErrorRecord(_("no accepted members version"), str(root))])
    if chain.problems:
        raise AnlError(chain.problems)
    fingerprint = signatures.own_fingerprint(key)
    current = chain.current
    raw = read_bytes(root, current.file)
    data = _version_data(current.collective, current.version + 1, sha256_bytes(raw),
                         current.quorum if quorum is None else quorum, members)
    return _propose(root, data, fingerprint)


def sign(folder: Path, *, key: str) -> Path:
    """Add the user's signature to the version waiting for signatures."""
    root = collective_root(folder)
    chain = read_chain(root)
    if chain.pending is None:
        raise AnlError(_("no members version is waiting for signatures"), file=str(root / MEMBERS_DIR),
                       expected=_("a version proposed by init, join or remove"))
    version = chain.pending[0]
    fingerprint = signatures.own_fingerprint(key)
    may_sign, _count, must_sign = needed(chain.current, version)
    if fingerprint not in may_sign | must_sign:
        raise AnlError(_("this key may not sign this version"), file=str(version.file), key="--key",
                       expected=_("the key of a member of the previous version, or of a member it adds"))
    return _write_signature(root, version.version, read_bytes(root, version.file), fingerprint)


def join(folder: Path, member: Member, *, key: str) -> Path:
    """A commune adds itself: the next version lists it, signed with its own key."""
    root = collective_root(folder)
    current = current_members(root).current
    assert current is not None
    if signatures.own_fingerprint(key) != member.fingerprint:
        raise AnlError(_("the signing key is not the joining commune's"), key="--key",
                       expected=member.fingerprint)
    for other in current.members:
        if other.insee == member.insee or other.fingerprint == member.fingerprint:
            raise AnlError(_("already a member"), file=str(current.file), key="insee",
                           expected=_("a commune and a key not in the members file"))
    return propose(root, [*current.members, member], key=key)


def remove(folder: Path, insee: str, *, key: str) -> Path:
    """Propose the next version without the member ``insee`` (it then needs the quorum)."""
    root = collective_root(folder)
    current = current_members(root).current
    assert current is not None
    kept = [m for m in current.members if m.insee != insee]
    if len(kept) == len(current.members):
        raise AnlError(_("not a member"), file=str(current.file), key="insee",
                       expected=_("the INSEE code of a current member"))
    if not kept:
        raise AnlError(_("the last member cannot be removed"), key="insee", expected=_("another member's code"))
    return propose(root, kept, key=key)


__all__ = ["Chain", "contained", "current_members", "init", "join", "propose", "read_chain", "remove", "sign"]
