"""A collective's signed index, and the indexes of other collectives it includes.

A regional or national catalog is the merge of local ones. A collective
publishes what it trusts as one file, ``index.yml`` (its members and the
commune files ``collective verify`` trusted, copied as they are), signed by
one of its current members (``index.<FINGERPRINT>.asc``, written by
:mod:`anl_stack.collective.index_write`). Another collective includes it
under ``included/<name>/``: the index, its signatures, the signers' public
keys, and ``pin.yml``, which says which keys may sign that index and how
many must; the pin is signed by a current member of the
including collective (``pin.yml.asc``), so the choice of whom to trust is
that collective's own, signed like everything else.

An included index is trusted only when its pin is signed by a current
member, enough of the pinned keys signed the index, and the index names the
collective the pin names; then each commune entry is checked as a commune
file is, and must be one of the index's own members. Anything else is
reported and ignored, never trusted. Indexes are not followed further: an
index lists its own members' files, not what it included.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anl_stack.collective import signatures
from anl_stack.collective.members import Chain, current_members
from anl_stack.collective.model import (
    FINGERPRINT,
    KEYS_DIR,
    RECORD_TAG,
    SCHEMA,
    check_commune,
    collective_root,
    contained,
    dump,
    listing,
    read_bytes,
    read_mapping,
)
from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.files import write_file
from anl_stack.core.i18n import _

INDEX_TAG = "collective-index"
PIN_TAG = "collective-include"
INDEX_FILE = "index.yml"
PIN_FILE = "pin.yml"
INCLUDED_DIR = "included"
INDEX_SIGNATURE = re.compile(r"^index\.([0-9A-F]{40})\.asc$")
INCLUDE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
INDEX_HEADER = ("# A collective's index, written by `anl-stack collective index`: its members and the commune\n"
                "# files it trusts, signed by one of its members (index.<FINGERPRINT>.asc).\n")
PIN_HEADER = ("# Which keys may sign an included collective's index, chosen and signed by a member of this\n"
              "# collective (`anl-stack collective include`).\n")


def signature_name(fingerprint: str) -> str:
    return f"index.{fingerprint}.asc"


def member_fingerprint(chain: Chain, key: str) -> str:
    fingerprint = signatures.own_fingerprint(key)
    if chain.current is None or fingerprint not in chain.current.by_fingerprint():
        raise AnlError(_("the signing key is not a current member's"), key="--key",
                       expected=_("the key the members file gives your commune"))
    return fingerprint


@dataclass
class Included:
    """Another collective's index that the including collective trusts."""

    name: str            # the folder under included/
    collective: str      # the included collective's own name
    members_version: int
    date: str
    communes: list[dict[str, Any]] = field(default_factory=list)


def _good_index_signers(base: Path, index: Path, pinned: list[str]) -> set[str]:
    good = set()
    for fingerprint in pinned:
        check = signatures.check(base, index, base / signature_name(fingerprint), fingerprint)
        if check.problem is None:
            good.add(fingerprint)
    return good


def _check_pin(file: Path, data: dict[str, Any]) -> ErrorRecord | None:
    signers = data.get("signers")
    required = data.get("required")
    if not isinstance(data.get("collective"), str) or not data["collective"].strip():
        return ErrorRecord(_("missing or invalid"), str(file), None, "collective", _("the included collective's name"))
    if not isinstance(signers, list) or not signers or not all(isinstance(s, str) and FINGERPRINT.match(s)
                                                               for s in signers):
        return ErrorRecord(_("missing or invalid"), str(file), None, "signers",
                           _("a list of OpenPGP fingerprints (40 upper-case hexadecimal digits)"))
    if not isinstance(required, int) or isinstance(required, bool) or not 1 <= required <= len(signers):
        return ErrorRecord(_("missing or invalid"), str(file), None, "required",
                           _("a whole number from 1 to the number of signers"))
    if not isinstance(data.get("included_by"), str) or not FINGERPRINT.match(data["included_by"]):
        return ErrorRecord(_("missing or invalid"), str(file), None, "included_by",
                           _("an OpenPGP fingerprint (40 upper-case hexadecimal digits)"))
    return None


def read_one(root: Path, base: Path, chain: Chain) -> tuple[Included | None, list[ErrorRecord]]:
    """One ``included/<name>/`` folder: what is trusted in it, and what is reported and ignored."""
    name = base.name
    if (problem := contained(root, str(base.relative_to(root)))) is not None or not base.is_dir():
        return None, [problem or ErrorRecord(_("not an included collective"), str(base), None, None,
                                             _("a folder made by `anl-stack collective include`"))]
    pin_file, index_file = base / PIN_FILE, base / INDEX_FILE
    try:
        pin = read_mapping(root, pin_file, PIN_TAG)
    except AnlError as error:
        return None, list(error.records)
    if (problem := _check_pin(pin_file, pin)) is not None:
        return None, [problem]
    members = chain.current.by_fingerprint() if chain.current else {}
    if pin["included_by"] not in members:
        return None, [ErrorRecord(_("included by a key that is not a current member's: ignored"), str(pin_file),
                                  None, "included_by", _("the key of a current member of this collective"))]
    pin_check = signatures.check(root, pin_file, base / (PIN_FILE + ".asc"), pin["included_by"])
    if pin_check.problem is not None:
        detail = f" ({pin_check.detail})" if pin_check.detail else ""
        return None, [ErrorRecord(_(pin_check.problem) + detail, str(pin_file), None, "signature",
                                  _("a signature by {fingerprint}").format(fingerprint=pin["included_by"]))]
    good = _good_index_signers(base, index_file, pin["signers"])
    if len(good) < pin["required"]:
        return None, [ErrorRecord(_("the included index has {good} of the {required} signatures it needs: ignored")
                                  .format(good=len(good), required=pin["required"]), str(index_file), None,
                                  "signature", _("signatures by the keys pin.yml names"))]
    try:
        index = read_mapping(base, index_file, INDEX_TAG)
    except AnlError as error:
        return None, list(error.records)
    if index.get("collective") != pin["collective"]:
        return None, [ErrorRecord(_("the index names another collective than its pin"), str(index_file), None,
                                  "collective", str(pin["collective"]))]
    entries = index.get("members")
    listed = {m["insee"]: m["fingerprint"] for m in (entries if isinstance(entries, list) else [])
              if isinstance(m, dict) and isinstance(m.get("insee"), str) and isinstance(m.get("fingerprint"), str)
              and FINGERPRINT.match(m["fingerprint"])}
    version = index.get("members_version")
    included = Included(name, pin["collective"], version if isinstance(version, int) else 0,
                        str(index.get("date") or "")[:10])
    problems: list[ErrorRecord] = []
    communes = index.get("communes")
    for i, entry in enumerate(communes if isinstance(communes, list) else []):
        where = f"{index_file}#communes[{i}]"
        try:
            data = check_commune(Path(where), entry if isinstance(entry, dict) else {})
        except AnlError as error:
            problems.append(error.records[0])
            continue
        if listed.get(data["insee"]) != data["fingerprint"]:
            problems.append(ErrorRecord(_("not a member of the included collective"), where, None, "insee",
                                        _("a commune of the index's members")))
            continue
        included.communes.append(data)
    return included, problems


def read_included(root: Path, chain: Chain) -> tuple[list[Included], list[ErrorRecord]]:
    """Every included collective's trusted content, and the problems (each reported, never trusted)."""
    trusted: list[Included] = []
    problems: list[ErrorRecord] = []
    for base in listing(root, INCLUDED_DIR):
        included, found = read_one(root, base, chain)
        problems += found
        if included is not None:
            trusted.append(included)
    return trusted, problems


def include(folder: Path, source: Path, *, key: str, signers: list[str], required: int = 1,
            name: str | None = None) -> Path:
    """Copy the index of the collective at ``source`` into ``included/<name>/`` with a signed pin.

    Refused (exit 2, nothing written) unless ``required`` of ``signers`` signed that index.
    """
    root = collective_root(folder)
    chain = current_members(root)
    fingerprint = member_fingerprint(chain, key)
    other = collective_root(source, must_exist=False)
    pinned = sorted({s.replace(" ", "").upper() for s in signers})
    bad = [s for s in pinned if not FINGERPRINT.match(s)]
    if not pinned or bad:
        raise AnlError(_("not a fingerprint: {value}").format(value=bad[0] if bad else ""), key="--signer",
                       expected=_("an OpenPGP fingerprint (40 upper-case hexadecimal digits)"))
    if not 1 <= required <= len(pinned):
        raise AnlError(_("more signatures required than signers"), key="--required",
                       expected=_("a whole number from 1 to the number of signers"))
    index_file = other / INDEX_FILE
    index = read_mapping(other, index_file, INDEX_TAG)
    good = _good_index_signers(other, index_file, pinned)
    if len(good) < required:
        raise AnlError(_("the index has {good} of the {required} signatures required").format(
            good=len(good), required=required), file=str(index_file), key="--signer",
            expected=_("signatures of index.yml by the keys given with --signer"))
    label = name or re.sub(r"[^a-z0-9-]+", "-", str(index.get("collective", "")).lower()).strip("-")
    if not INCLUDE_NAME.match(label):
        raise AnlError(_("not a folder name for an included collective"), key="--name",
                       expected=_("lower-case letters, digits and '-'"))
    if other == root or (root / INCLUDED_DIR).is_symlink() or (root / INCLUDED_DIR / label).is_symlink():
        raise AnlError(_("cannot include this folder"), file=str(other), key="source",
                       expected=_("another collective's folder"))
    pin = {RECORD_TAG: PIN_TAG, "schema": SCHEMA, "collective": index["collective"], "signers": pinned,
           "required": required, "included_by": fingerprint, "date": dt.date.today().isoformat()}
    pin_text = dump(pin, PIN_HEADER).encode("utf-8")
    pin_signature, public_key = signatures.sign_bytes(pin_text, fingerprint)
    # Everything is read and checked first; the folder is then replaced whole.
    base = root / INCLUDED_DIR / label
    staging = root / INCLUDED_DIR / f".{label}.new"
    shutil.rmtree(staging, ignore_errors=True)
    write_file(staging / INDEX_FILE, read_bytes(other, index_file), root=root)
    for signer in sorted(good):
        write_file(staging / signature_name(signer), read_bytes(other, other / signature_name(signer)), root=root)
        write_file(staging / KEYS_DIR / f"{signer}.asc", read_bytes(other, signatures.key_file(other, signer)),
                   root=root)
    write_file(staging / PIN_FILE, pin_text, root=root)
    write_file(staging / (PIN_FILE + ".asc"), pin_signature, root=root)
    signatures.store_key(root, fingerprint, public_key)
    if base.exists():
        shutil.rmtree(base)
    staging.rename(base)
    return base


__all__ = ["INDEX_FILE", "INDEX_HEADER", "INDEX_TAG", "Included", "include", "member_fingerprint", "read_included",
           "read_one", "signature_name"]
