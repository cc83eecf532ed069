"""What makes an artifact trustworthy, and the checks that prove it.

Trust comes from at least one of: a checksum pinned in the manifest
(``sha256``/``sha512``), a checksum pinned by the commune in its settings
(``anl_artifact_pins``), or an upstream OpenPGP signature made by the key
whose fingerprint the manifest pins. Every check present must pass; an
artifact with none is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anl_stack.adapters.gpg import GpgError, verify_detached
from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.i18n import N_, Text, _, parse_text, shown

PINS_SETTING = "anl_artifact_pins"
#: The checks a cached file passed, as the cache's index stores them (in English; shown translated).
PIN_ORIGINS = (N_("manifest"), N_("commune setting {setting}"))
CHECK_NOTES = (N_("{algorithm} pinned in {origin}"), N_("OpenPGP signature by {fingerprint} (checked when cached)"),
               N_("OpenPGP signature by {fingerprint}"))


def check_note(note: str) -> str:
    """A check stored in the cache's index, in the current language."""
    return shown(parse_text(note, CHECK_NOTES, origin=PIN_ORIGINS))
VERSIONS_SETTING = "anl_artifact_versions"


@dataclass(frozen=True)
class Ref:
    """One artifact of one plugin at one version."""

    plugin: str
    plugin_dir: Path
    spec: Any  # anl_stack.plugins.manifest.Artifact

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        return self.spec.version

    @property
    def key(self) -> str:
        """Index key: ``plugin/name/version``."""
        return f"{self.plugin}/{self.name}/{self.version}"

    @property
    def label(self) -> str:
        return f"{self.name} {self.version} (plugin {self.plugin})"

    @property
    def where(self) -> str:
        return f"{self.plugin}: deployment.artifacts.{self.name}"


@dataclass(frozen=True)
class Digest:
    algorithm: str  # sha256 | sha512
    hex: str


@dataclass
class Digests:
    sha256: str
    sha512: str
    size: int

    def get(self, algorithm: str) -> str:
        return self.sha256 if algorithm == "sha256" else self.sha512


@dataclass
class Evidence:
    """The checks a file passed, kept in the cache index."""

    digests: Digests
    checks: list[str] = field(default_factory=list)
    fingerprint: str | None = None


def plugin_key_file(ref: Ref) -> Path:
    """The signing key shipped in the plugin (``signature.key_file``), refused unless it is a file inside it."""
    sig = ref.spec.signature
    root = ref.plugin_dir.resolve()
    key = (ref.plugin_dir / sig.key_file).resolve()
    if not key.is_relative_to(root) or not key.is_file():
        raise AnlError(_("key file {key_file} not found in the plugin").format(key_file=sig.key_file), file=str(ref.plugin_dir),
                       key=f"{ref.where}.signature.key_file", expected=_("a key file inside the plugin folder"))
    return key


def hash_file(path: Path) -> Digests:
    sha256, sha512, size = hashlib.sha256(), hashlib.sha512(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            sha256.update(chunk)
            sha512.update(chunk)
            size += len(chunk)
    return Digests(sha256.hexdigest(), sha512.hexdigest(), size)


def parse_digest(value: str, *, key: str, file: str | None = None) -> Digest:
    """``sha256:HEX``, ``sha512:HEX``, npm's ``sha512-BASE64`` (SRI) or bare hex."""
    text = str(value).strip()
    sri = re.fullmatch(r"(sha256|sha512)-([A-Za-z0-9+/=]+)", text)
    if sri:
        try:
            return Digest(sri.group(1), base64.b64decode(sri.group(2), validate=True).hex())
        except binascii.Error:
            pass
    algorithm, _sep, hexpart = text.rpartition(":")
    hexpart = hexpart.lower()
    if not algorithm:
        algorithm = {64: "sha256", 128: "sha512"}.get(len(hexpart), "")
    if algorithm in ("sha256", "sha512") and re.fullmatch(
            "[0-9a-f]{%d}" % (64 if algorithm == "sha256" else 128), hexpart):
        return Digest(algorithm, hexpart)
    raise AnlError(_("{value!r} is not a checksum").format(value=value), file=file, key=key,
                   expected=_("sha256:<64 hex digits>, sha512:<128 hex digits> or sha512-<base64>"))


def commune_pin(ref: Ref, settings: dict[str, Any] | None) -> Digest | None:
    """The commune's pin for this artifact: ``name@version`` first, then ``name``."""
    pins = (settings or {}).get(PINS_SETTING) or {}
    if not isinstance(pins, dict):
        raise AnlError(_("must be a mapping of artifact name to checksum"), key=PINS_SETTING,
                       expected='{name: "sha256:..."}')
    for key in (f"{ref.name}@{ref.version}", ref.name):
        if key in pins:
            return parse_digest(pins[key], key=f"{PINS_SETTING}.{key}")
    return None


def manifest_pins(ref: Ref) -> list[Digest]:
    pins = []
    for algorithm in ("sha256", "sha512"):
        value = getattr(ref.spec, algorithm, None)
        if value:
            pins.append(parse_digest(value, key=f"{ref.where}.{algorithm}"))
    return pins


def require_trust(ref: Ref, settings: dict[str, Any] | None) -> None:
    """Refuse an artifact that nothing pins (before downloading it)."""
    if manifest_pins(ref) or ref.spec.signature or commune_pin(ref, settings):
        return
    raise AnlError(
        _("artifact {artifact} has no pinned checksum nor signature: refusing to trust it")
        .format(artifact=ref.label),
        key=ref.where,
        expected=_("a checksum pinned by the commune in group_vars/all/anl.yml: {pins}; `anl-stack artifacts` "
                   "commands read it with -i INVENTORY").format(pins=f'{PINS_SETTING}: {{{ref.name}: "sha256:<hex>"}}'),
    )


def check_failure(ref: Ref, check: str, expected: str, actual: str, filename: str | None = None) -> AnlError:
    what = f" ({filename})" if filename else ""
    return AnlError(ErrorRecord(_("artifact {artifact}{what}: {check} check failed; actual: {actual}")
                                .format(artifact=ref.label, what=what, check=shown(check), actual=shown(actual)),
                                key=ref.where, expected=shown(expected)))


def check_digests(ref: Ref, digests: Digests, settings: dict[str, Any] | None, filename: str | None = None) -> list[str]:
    """Compare the file's digests with every pin; return the checks passed."""
    passed = []
    pins = [(d, Text(PIN_ORIGINS[0])) for d in manifest_pins(ref)]
    if (pin := commune_pin(ref, settings)) is not None:
        pins.append((pin, Text(PIN_ORIGINS[1], setting=PINS_SETTING)))
    for digest, origin in pins:
        actual = digests.get(digest.algorithm)
        if actual != digest.hex:
            raise check_failure(ref, f"{digest.algorithm} ({shown(origin)})", f"{digest.algorithm}:{digest.hex}",
                                f"{digest.algorithm}:{actual}", filename)
        passed.append(Text(CHECK_NOTES[0], algorithm=digest.algorithm, origin=origin))
    return passed


def check_file(ref: Ref, path: Path, settings: dict[str, Any] | None, *,
               signature: Path | None = None, key: Path | None = None) -> Evidence:
    """Every check that applies to ``path``; raise AnlError naming the one that fails."""
    require_trust(ref, settings)
    digests = hash_file(path)
    evidence = Evidence(digests, check_digests(ref, digests, settings, path.name))
    sig = ref.spec.signature
    if sig is not None:
        if signature is None or not signature.is_file():
            raise check_failure(ref, Text(N_("signature")), Text(N_("a detached signature ({url})"), url=sig.url),
                                Text(N_("no signature file")), path.name)
        if key is None or not key.is_file():
            raise check_failure(ref, Text(N_("signing key")), Text(N_("key {fingerprint}"), fingerprint=sig.fingerprint),
                                Text(N_("no key file")), path.name)
        try:
            result = verify_detached(path, signature, key, sig.fingerprint)
        except GpgError as error:
            raise check_failure(ref, error.check, error.expected or sig.fingerprint,
                                f"{error.message}: {error.actual}", path.name) from None
        evidence.fingerprint = result.primary_fingerprint
        evidence.checks.append(Text(CHECK_NOTES[2], fingerprint=result.primary_fingerprint))
    return evidence


def entry_matches(ref: Ref, entry: dict[str, Any], settings: dict[str, Any] | None) -> list[str]:
    """Check a cache index entry against today's pins, without reading the file again."""
    digests = Digests(entry["sha256"], entry.get("sha512", ""), int(entry.get("size", 0)))
    require_trust(ref, settings)
    passed = check_digests(ref, digests, settings, entry.get("filename"))
    sig = ref.spec.signature
    if sig is not None:
        if entry.get("fingerprint") != sig.fingerprint:
            checked = Text(N_("cached file was checked against {fingerprint}"), fingerprint=entry["fingerprint"]) \
                if entry.get("fingerprint") else Text(N_("cached file was checked against no signature"))
            raise check_failure(ref, Text(N_("signature")), Text(N_("a good signature by {fingerprint}"),
                                                                 fingerprint=sig.fingerprint),
                                checked, entry.get("filename"))
        passed.append(Text(CHECK_NOTES[1], fingerprint=sig.fingerprint))
    return passed
