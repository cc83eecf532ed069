"""OpenPGP signatures of the collective's files, made and checked with gnupg (adapters/gpg).

A member signs with the secret key of its own keyring (``GNUPGHOME``); the
signature is detached and armored, and the member's public key is stored
once under ``keys/<FINGERPRINT>.asc``. A check uses ``gpgv`` against the
one key the members file pins for that member, never any other key.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from anl_stack.adapters import gpg
from anl_stack.collective.model import KEYS_DIR, contained
from anl_stack.core.errors import AnlError
from anl_stack.core.files import write_file
from anl_stack.core.i18n import N_, _
from anl_stack.records.reviews import signer_fingerprint

#: Why a signature is not trusted (English; translated where shown).
UNSIGNED = N_("unsigned")
TAMPERED = N_("tampered: the signature does not match the file")
UNKNOWN_KEY = N_("signed by a key that is not the member's")
KEY_MISSING = N_("the member's public key is missing or does not match its fingerprint")


def own_fingerprint(key_id: str) -> str:
    """The primary fingerprint of the user's secret key ``key_id``, given by ``--key`` (exit 2 when there is none)."""
    return signer_fingerprint(key_id, "--key")


def sign_bytes(data: bytes, fingerprint: str) -> tuple[bytes, bytes]:
    """(detached armored signature of ``data``, armored public key) made by ``fingerprint``."""
    with tempfile.TemporaryDirectory(prefix="anl-collective-") as tmp:
        source, signature, key = Path(tmp) / "data", Path(tmp) / "data.asc", Path(tmp) / "key.asc"
        source.write_bytes(data)
        try:
            gpg.sign_detached(source, fingerprint, signature=signature, public_key=key)
        except gpg.GpgError as error:
            raise AnlError(_("gpg could not sign: {reason}").format(reason=error.message), key="--key",
                           expected=_("a usable secret key (and its passphrase agent)")) from None
        return signature.read_bytes(), key.read_bytes()


def key_file(root: Path, fingerprint: str) -> Path:
    return root / KEYS_DIR / f"{fingerprint}.asc"


def store_key(root: Path, fingerprint: str, public_key: bytes) -> None:
    """``keys/<FINGERPRINT>.asc`` (replaced: a key file is checked against its pinned fingerprint anyway)."""
    write_file(key_file(root, fingerprint), public_key, root=root)


@dataclass(frozen=True)
class Check:
    """The outcome of one signature check: ``problem`` is None for a good signature."""

    problem: str | None
    detail: str | None = None


def check(root: Path, data: Path, signature: Path, fingerprint: str) -> Check:
    """Whether ``signature`` is a good signature of ``data`` by the key ``fingerprint`` pins."""
    for path in (data, signature, key_file(root, fingerprint)):
        if (problem := contained(root, str(path.relative_to(root)))) is not None:
            return Check(problem.message, str(path))
    if not signature.is_file():
        return Check(UNSIGNED)
    key = key_file(root, fingerprint)
    if not key.is_file():
        return Check(KEY_MISSING, str(key))
    try:
        gpg.verify_detached(data, signature, key, fingerprint)
    except gpg.GpgError as error:
        actual = error.actual or ""
        if error.check in ("key", "key fingerprint"):
            return Check(KEY_MISSING, actual)
        if "another key" in actual or "another key" in error.message:
            return Check(UNKNOWN_KEY, actual)
        return Check(TAMPERED, actual or error.message)
    return Check(None)
