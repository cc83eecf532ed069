"""Community review records: a commune says it reviewed one exact recipe.

``plugins review PATH --by "Commune de X" --reviewer NAME`` writes
``reviews/<date>-<slug>.yml`` naming the recipe's content digest and
versions and, with ``--evidence REPORT.json``, what that verify report says
(Debian releases, lab or production hosts, result) with the report's sha256;
the report is stored next to the record. ``--sign KEYID`` adds an OpenPGP
detached signature (``<record>.asc``, made with ``gpg``) and the signer's
public key (``<record>.key.asc``); signatures are checked with ``gpgv``
against that key only, and the signer's fingerprint is shown so a commune
can compare it with the one it knows. Unsigned records are shown
"unsigned". A record whose digest is not the current one is shown
"changed since review".

:func:`require_reviewed` is the deploy engine's hook for communes whose
settings say ``anl_require_reviews: true`` (or a number of communes).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anl_stack.adapters import gpg
from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.files import write_new_file
from anl_stack.core.i18n import N_, Text, _
from anl_stack.plugins.digest import content_digest
from anl_stack.records.evidence import (
    RECORD_TAG,
    plugin_identity,
    read_record,
    read_report,
    report_facts,
    report_problem,
    require_plugin_folder,
    sha256_file,
    today,
    unique_stem,
    write_yaml,
)

REVIEWS_DIR = "reviews"
SETTING = "anl_require_reviews"


def slug(text: str) -> str:
    """``Commune de Saint-Étienne`` -> ``commune-de-saint-etienne``."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:60] or "review"


# --- signatures ------------------------------------------------------------------------

def signer_fingerprint(key_id: str, option: str = "--sign") -> str:
    """Primary fingerprint of the secret key ``key_id`` in the user's keyring, given by command-line
    ``option`` (exit 2 when absent)."""
    try:
        fingerprint = gpg.secret_key_fingerprint(key_id)
    except gpg.GpgError as error:
        raise AnlError(error.message, key=option, expected=_("Debian package gnupg")) from None
    if fingerprint is None:
        raise AnlError(_("no secret key {key_id!r} in the OpenPGP keyring").format(key_id=key_id), key=option,
                       expected=_("a key id of `gpg --list-secret-keys` (GNUPGHOME)"))
    return fingerprint


def sign_record(record: Path, fingerprint: str) -> tuple[Path, Path]:
    """Detached armored signature and the exported public key, next to the record."""
    signature = record.with_name(record.name + ".asc")
    key_file = record.with_name(record.stem + ".key.asc")
    try:
        gpg.sign_detached(record, fingerprint, signature=signature, public_key=key_file)
    except gpg.GpgError as error:
        raise AnlError(_("gpg could not sign: {message}").format(message=error.message), file=str(record), key="--sign",
                       expected=_("a usable secret key (and its passphrase agent)")) from None
    return signature, key_file


#: The signature states, in English (translated where shown).
SIGNATURE_STATES = (N_("unsigned"), N_("signed"), N_("bad signature"))


def signature_status(record: Path, data: dict[str, Any]) -> tuple[str, str | None]:
    """("unsigned" | "signed" | "bad signature", detail) for a review record."""
    signature = record.with_name(record.name + ".asc")
    declared = (data.get("signature") or {}).get("fingerprint") if isinstance(data.get("signature"), dict) else None
    if not signature.exists():
        return ("bad signature", Text(N_("the record names a signer but its .asc file is missing"))) if declared \
            else ("unsigned", None)
    key_file = record.with_name(record.stem + ".key.asc")
    if not declared or not key_file.is_file():
        return "bad signature", Text(N_("no signer fingerprint or public key next to the record"))
    try:
        gpg.verify_detached(record, signature, key_file, declared)
    except gpg.GpgError as error:
        return "bad signature", f"{error.message} ({error.actual})" if error.actual else error.message
    return "signed", declared


# --- writing --------------------------------------------------------------------------------

def record_review(path: Path, *, by: str, reviewer: str, evidence: Path | None = None,
                  sign: str | None = None, comment: str | None = None) -> Path:
    """Write a review record for the plugin folder ``path``; return its file."""
    folder = require_plugin_folder(path)
    if not by.strip() or not reviewer.strip():
        raise AnlError(_("a review names the commune and the reviewer"), key="--by/--reviewer",
                       expected=_('--by "Commune de X" --reviewer "Name"'))
    ident = plugin_identity(folder)
    fingerprint = signer_fingerprint(sign) if sign else None
    out = folder / REVIEWS_DIR
    out.mkdir(exist_ok=True)
    stem = unique_stem(out, f"{today()}-{slug(by)}")
    record: dict[str, Any] = {RECORD_TAG: "review", **ident, "by": by.strip(), "reviewer": reviewer.strip(),
                              "date": today(),
                              "created": dt.datetime.now().astimezone().isoformat(timespec="seconds")}
    if comment:
        record["comment"] = comment
    if evidence is not None:
        report = read_report(evidence)
        facts = report_facts(report, ident["plugin"])
        if facts["digest"] is None:
            raise AnlError(_("the report did not verify plugin {plugin!r}").format(plugin=ident['plugin']), file=str(evidence),
                           key="--evidence", expected=_("a verify report that includes this plugin"))
        stored = out / f"{stem}.report.json"
        write_new_file(stored, evidence.read_bytes(), root=stored.parent.parent)
        record["evidence"] = {"file": stored.name, "sha256": sha256_file(stored), **facts}
    if fingerprint:
        record["signature"] = {"fingerprint": fingerprint}
    target = out / f"{stem}.yml"
    write_yaml(target, record, "# Review record written by `anl-stack plugins review`; "
                               "edit nothing (the digest and the signature cover it).\n")
    if fingerprint:
        sign_record(target, fingerprint)
    return target


# --- reading back ----------------------------------------------------------------------------

@dataclass
class Review:
    file: Path
    by: str
    reviewer: str
    date: str
    digest: str | None
    current: bool
    signature: str               # unsigned | signed | bad signature
    signer: str | None
    #: "lab" / "production" / None (no evidence); the evidence's problem when it does not count
    evidence_environments: list[str]
    evidence_problem: str | None
    releases: list[str]

    @property
    def status(self) -> str:
        return Text(N_("current")) if self.current else Text(N_("changed since review"))

    @property
    def counts(self) -> bool:
        """Counts for the current recipe: same digest and no bad signature."""
        return self.current and self.signature != "bad signature"

    @property
    def production_evidence(self) -> bool:
        return self.counts and self.evidence_problem is None and "production" in self.evidence_environments

    def to_dict(self) -> dict[str, Any]:
        return {"file": str(self.file), "by": self.by, "reviewer": self.reviewer, "date": self.date,
                "digest": self.digest, "status": str(self.status), "signature": self.signature,
                "signer": None if self.signer is None else str(self.signer),
                "evidence": {"environments": self.evidence_environments, "debian_releases": self.releases,
                             "problem": None if self.evidence_problem is None else str(self.evidence_problem)}
                if self.evidence_environments or
                self.evidence_problem else None}


def _evidence_problem(folder: Path, ev: Any, name: str, digest: str) -> tuple[str | None, list[str], list[str]]:
    if not isinstance(ev, dict):
        return None, [], []
    source = folder / str(ev.get("file") or "")
    if not ev.get("file") or not source.is_file():
        return Text(N_("its report is missing")), [], []
    if sha256_file(source) != ev.get("sha256"):
        return Text(N_("its report does not match the recorded sha256")), [], []
    facts = report_facts(json.loads(source.read_text(encoding="utf-8")), name)
    return report_problem(facts, digest, name), facts["environments"], facts["debian_releases"]


def load_reviews(folder: Path, name: str, digest: str | None = None) -> list[Review]:
    """Every review record of the plugin folder, checked against ``digest`` (default: the current one)."""
    digest = digest or content_digest(folder)
    found = []
    for file in sorted((folder / REVIEWS_DIR).glob("*.yml")):
        data = read_record(file)
        if data is None or data.get(RECORD_TAG) != "review" or data.get("plugin") != name:
            continue
        current = data.get("digest") == digest
        # The signature covers the record, not the recipe: it is checked, and its signer shown, after an edit too.
        signature, signer = signature_status(file, data)
        problem, environments, releases = _evidence_problem(file.parent, data.get("evidence"), name, digest) \
            if current else (None, [], [])
        found.append(Review(file, str(data.get("by")), str(data.get("reviewer")), str(data.get("date")),
                            data.get("digest"), current, signature, signer, environments, problem, releases))
    return found


# --- the deploy hook -------------------------------------------------------------------------

def required_reviews(settings: dict[str, Any]) -> int:
    """How many communes must have reviewed a recipe (0: no requirement)."""
    value = settings.get(SETTING, False)
    if value is True:
        return 1
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return 0


def require_reviewed(plugins: list[Any], settings: dict[str, Any], settings_file: Path | None = None) -> None:
    """Refuse (exit 2) recipes without enough reviews on their current digest when the commune requires them."""
    needed = required_reviews(settings)
    if not needed:
        return
    records: list[ErrorRecord] = []
    for plugin in plugins:
        digest = content_digest(Path(plugin.path))
        reviews = load_reviews(Path(plugin.path), plugin.name, digest)
        communes = {r.by for r in reviews if r.counts}
        if len(communes) >= needed:
            continue
        why = (_("plugin {plugin!r} has {count} review(s) on its current digest, {needed} required")
               .format(plugin=plugin.name, count=len(communes), needed=needed))
        stale = [r for r in reviews if not r.current]
        bad = [r for r in reviews if r.current and r.signature == "bad signature"]
        if stale:
            why += (_("; changed since review ({file} reviewed {digest})")
                    .format(file=stale[-1].file.name, digest=stale[-1].digest))
        if bad:
            why += _("; bad signature on {names}").format(names=', '.join(r.file.name for r in bad))
        records.append(ErrorRecord(why, str(settings_file) if settings_file else None, None, SETTING,
                                   _("a review of {digest} (anl-stack plugins review {plugin_path} --by ...) or "
                                     "{setting}: false")
                                   .format(digest=digest, plugin_path=plugin.path, setting=SETTING)))
    if records:
        raise AnlError(records)
