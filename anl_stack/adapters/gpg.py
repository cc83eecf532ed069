"""OpenPGP checks through Debian's gnupg: ``gpg`` to read keys, ``gpgv`` to verify.

No cryptography is written here. A key file is first read in a throw-away
GNUPGHOME to list its fingerprints; only the key whose fingerprint is pinned
is exported into a one-key keyring, and ``gpgv`` checks the detached
signature against that keyring alone. ``gpgv`` reports the signer's primary
fingerprint on its status line (VALIDSIG), which must equal the pin.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from anl_stack.core.i18n import _


class GpgError(Exception):
    """A check failed; ``check`` names which, ``expected``/``actual`` say how."""

    def __init__(self, check: str, message: str, *, expected: str | None = None, actual: str | None = None) -> None:
        super().__init__(message)
        self.check = check
        self.message = message
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class SignatureResult:
    """A good signature: who made it (primary key fingerprint) and with which (sub)key."""

    primary_fingerprint: str
    signing_fingerprint: str


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise GpgError("tools", _("{name} is not installed").format(name=name), expected=_("Debian package providing {name} "
                                                                       "(gnupg/gpgv)").format(name=name))
    return path


def normalize_fingerprint(value: str) -> str:
    return value.replace(" ", "").upper()


def key_fingerprints(key_file: Path) -> list[str]:
    """Primary-key fingerprints found in a key file (armored or binary)."""
    gpg = _tool("gpg")
    with tempfile.TemporaryDirectory(prefix="anl-gpg-") as home:
        proc = subprocess.run(
            [gpg, "--homedir", home, "--batch", "--no-tty", "--with-colons",
             "--import-options", "show-only", "--import", str(key_file)],
            capture_output=True, text=True, check=False,
        )
    fingerprints: list[str] = []
    expect_primary_fpr = False
    for line in proc.stdout.splitlines():
        fields = line.split(":")
        if fields[0] == "pub":
            expect_primary_fpr = True
        elif fields[0] == "sub":
            expect_primary_fpr = False
        elif fields[0] == "fpr" and expect_primary_fpr:
            fingerprints.append(fields[9].upper())
            expect_primary_fpr = False
    if not fingerprints:
        raise GpgError("key", _("no OpenPGP public key found in {key_file}").format(key_file=key_file.name),
                       expected=_("an OpenPGP public key file"), actual=(proc.stderr.strip().splitlines() or ["empty"])[-1])
    return fingerprints


def check_key(key_file: Path, fingerprint: str) -> None:
    """Refuse a key file that does not hold the pinned key."""
    pin = normalize_fingerprint(fingerprint)
    found = key_fingerprints(key_file)
    if pin not in found:
        raise GpgError("key fingerprint", _("the signing key does not match the pinned fingerprint"),
                       expected=pin, actual=", ".join(found))


def verify_detached(data: Path, signature: Path, key_file: Path, fingerprint: str) -> SignatureResult:
    """Check ``signature`` over ``data`` with the pinned key only; raise GpgError otherwise."""
    pin = normalize_fingerprint(fingerprint)
    check_key(key_file, pin)
    gpg, gpgv = _tool("gpg"), _tool("gpgv")
    with tempfile.TemporaryDirectory(prefix="anl-gpg-") as home:
        keyring = Path(home) / "pinned.gpg"
        imported = subprocess.run(
            [gpg, "--homedir", home, "--batch", "--no-tty", "--import", str(key_file)],
            capture_output=True, text=True, check=False,
        )
        exported = subprocess.run(
            [gpg, "--homedir", home, "--batch", "--no-tty", "--export", pin],
            capture_output=True, check=False,
        )
        if imported.returncode != 0 or exported.returncode != 0 or not exported.stdout:
            raise GpgError("key", _("the pinned key could not be read from the key file"),
                           expected=pin, actual=imported.stderr.strip()[-300:] or "nothing exported")
        keyring.write_bytes(exported.stdout)
        proc = subprocess.run(
            [gpgv, "--homedir", home, "--status-fd", "1", "--keyring", str(keyring), str(signature), str(data)],
            capture_output=True, text=True, check=False,
        )
    valid = [line.split() for line in proc.stdout.splitlines() if line.startswith("[GNUPG:] VALIDSIG ")]
    if proc.returncode != 0 or not valid:
        reason = _status_reason(proc.stdout) or (proc.stderr.strip().splitlines() or ["gpgv failed"])[-1]
        raise GpgError("signature", _("the OpenPGP signature does not verify with the pinned key"),
                       expected=_("a good signature by {pin}").format(pin=pin), actual=reason)
    fields = valid[0]
    signing, primary = fields[2].upper(), fields[-1].upper()
    if primary != pin:
        raise GpgError("signature", _("the signature was made by another key"), expected=pin, actual=primary)
    return SignatureResult(primary_fingerprint=primary, signing_fingerprint=signing)


def _status_reason(status: str) -> str | None:
    """A short reason from gpgv's machine-readable status lines."""
    for line in status.splitlines():
        parts = line.split()
        if len(parts) < 2 or parts[0] != "[GNUPG:]":
            continue
        if parts[1] == "BADSIG":
            return "bad signature (the file or the signature was altered)"
        if parts[1] == "ERRSIG":
            # ERRSIG keyid pkalgo hashalgo class time rc [fpr]; rc 9 = no public key
            if len(parts) > 7 and parts[7] == "9":
                return f"signature made by another key ({parts[2]}), not the pinned one"
            return "signature could not be checked"
        if parts[1] == "NODATA":
            return "no OpenPGP signature found in the signature file"
    return None


# --- signing with the user's own keyring (review records) ------------------------------------

def secret_key_fingerprint(key_id: str) -> str | None:
    """Primary fingerprint of the secret key ``key_id`` in the user's keyring, or None."""
    proc = subprocess.run([_tool("gpg"), "--batch", "--with-colons", "--list-secret-keys", key_id],
                          capture_output=True, text=True, check=False)
    lines = [line.split(":") for line in proc.stdout.splitlines()]
    for i, fields in enumerate(lines):
        if fields[0] == "sec":
            fpr = next((f[9] for f in lines[i + 1:] if f[0] == "fpr"), None)
            if fpr:
                return fpr.upper()
    return None


def sign_detached(file: Path, fingerprint: str, *, signature: Path, public_key: Path) -> None:
    """An armored detached signature of ``file`` by ``fingerprint``, and that public key exported."""
    gpg = _tool("gpg")
    proc = subprocess.run([gpg, "--batch", "--yes", "--local-user", fingerprint, "--detach-sign", "--armor",
                           "--output", str(signature), str(file)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise GpgError("sign", proc.stderr.strip()[-300:] or f"gpg exited {proc.returncode}")
    exported = subprocess.run([gpg, "--batch", "--armor", "--export", fingerprint], capture_output=True, check=False)
    public_key.write_bytes(exported.stdout)
