"""``collective verify``: every file of the collective checked against the members file.

A commune file (``communes/<INSEE>.yml``) is trusted only when it is signed
(``communes/<INSEE>.yml.asc``) by the key the current members file gives
that commune, and its content is well formed and names that commune. Each
other case is reported and the file ignored: unsigned, tampered, signed by
another key, a removed member, a commune that is not a member, a link.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anl_stack.collective import signatures
from anl_stack.collective.members import Chain, read_chain
from anl_stack.collective.model import (
    COMMUNE_TAG,
    COMMUNES_DIR,
    INSEE,
    check_commune,
    collective_root,
    contained,
    listing,
    read_mapping,
)
from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.i18n import N_, _

REMOVED = N_("a removed member: its file is no longer trusted")
NOT_MEMBER = N_("not a member of the collective")


@dataclass
class CommuneFile:
    file: Path
    insee: str
    data: dict[str, Any]


@dataclass
class Verified:
    root: Path
    chain: Chain
    communes: list[CommuneFile] = field(default_factory=list)
    #: (file, why), one per file not trusted
    ignored: list[ErrorRecord] = field(default_factory=list)
    #: other collectives' indexes this one includes and trusts (anl_stack.collective.index)
    included: list[Any] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.ignored and not self.chain.problems and self.chain.current is not None

    def to_dict(self) -> dict[str, Any]:
        current = self.chain.current
        pending = self.chain.pending
        return {
            "collective": current.collective if current else None,
            "members_version": current.version if current else None,
            "quorum": current.quorum if current else None,
            "members": [m.to_dict() for m in current.members] if current else [],
            "pending": {"version": pending[0].version, "file": str(pending[0].file), "signed_by": pending[1],
                        "needed": pending[2]} if pending else None,
            "trusted": [{"file": str(c.file), "insee": c.insee, "commune": c.data["commune"]}
                        for c in self.communes],
            "included": [{"folder": i.name, "collective": i.collective, "members_version": i.members_version,
                          "date": i.date, "communes": [c["insee"] for c in i.communes]} for i in self.included],
            "problems": [r.to_dict() for r in self.chain.problems + self.ignored],
            "ok": self.ok,
        }


def commune_file(root: Path, file: Path, chain: Chain) -> CommuneFile | ErrorRecord:
    insee = file.name[: -len(".yml")]
    if (problem := contained(root, str(file.relative_to(root)))) is not None:
        return problem
    if not INSEE.match(insee):
        return ErrorRecord(_("not a commune file name"), str(file), None, None, _("communes/<INSEE code>.yml"))
    current = chain.current.by_insee() if chain.current else {}
    member = current.get(insee)
    if member is None:
        why = REMOVED if insee in chain.removed() else NOT_MEMBER
        return ErrorRecord(_(why), str(file), None, "insee", _("a commune of the current members file"))
    result = signatures.check(root, file, file.with_name(file.name + ".asc"), member.fingerprint)
    if result.problem is not None:
        detail = f" ({result.detail})" if result.detail else ""
        return ErrorRecord(_(result.problem) + detail, str(file), None, "signature",
                           _("a signature by {fingerprint}").format(fingerprint=member.fingerprint))
    try:
        data = check_commune(file, read_mapping(root, file, COMMUNE_TAG))
    except AnlError as error:
        first = error.records[0]
        return ErrorRecord(first.message, str(file), first.line, first.key, first.expected)
    if data["insee"] != insee or data["fingerprint"] != member.fingerprint:
        return ErrorRecord(_("the file names another commune or key than its member's"), str(file), None,
                           "insee", f"{insee} / {member.fingerprint}")
    return CommuneFile(file, insee, data)


def verify(folder: Path) -> Verified:
    """The collective with every signature checked; what is not trusted is in ``ignored``."""
    root = collective_root(folder)
    chain = read_chain(root)
    result = Verified(root, chain)
    for file in listing(root, COMMUNES_DIR):
        if file.name.endswith(".yml.asc") and file.with_name(file.name[: -len(".asc")]).exists():
            continue
        if not file.name.endswith(".yml"):
            result.ignored.append(ErrorRecord(_("not a commune file"), str(file), None, None,
                                              _("communes/<INSEE code>.yml and its .asc signature")))
            continue
        outcome = commune_file(root, file, chain)
        if isinstance(outcome, ErrorRecord):
            result.ignored.append(outcome)
        else:
            result.communes.append(outcome)
    from anl_stack.collective.index import read_included

    result.included, problems = read_included(root, chain)
    result.ignored += problems
    return result


def review_signers(folder: Path) -> dict[str, str]:
    """Fingerprint -> commune of the current members: whose signed reviews count (exit 2 on no collective)."""
    chain = read_chain(collective_root(folder))
    if chain.current is None:
        raise AnlError(chain.problems or [ErrorRecord(_("no accepted members version"), str(folder))])
    return chain.signers()
