"""Read the controller's own Debian apt sources.

Lab images and lab hosts use the same Debian mirror as the controller (never
a hard-coded host name). Both formats are read: deb822 ``*.sources`` files
and one-line ``sources.list`` entries. Repositories that are not Debian's
(third-party vendors, disabled files) are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from anl_stack.core.errors import AnlError
from anl_stack.core.i18n import _

APT_DIR = Path("/etc/apt")
#: Archive suites that mark a source as Debian's own.
_DEBIAN_CODENAMES = {
    "buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid",
    "stable", "oldstable", "testing", "unstable",
}


@dataclass(frozen=True)
class AptSource:
    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]
    types: tuple[str, ...] = ("deb",)

    @property
    def is_security(self) -> bool:
        return any(s.endswith("-security") or s.endswith("/updates") for s in self.suites)

    @property
    def host(self) -> str:
        return urlsplit(self.uri).hostname or ""


@dataclass(frozen=True)
class DebianMirrors:
    """The controller's Debian archive and security archive URIs."""

    archive: str
    security: str | None

    @property
    def hosts(self) -> list[str]:
        """Host names lab hosts may reach over HTTP/HTTPS."""
        names = []
        for uri in (self.archive, self.security):
            host = urlsplit(uri).hostname if uri else None
            if host and host not in names:
                names.append(host)
        return names

    def security_or_default(self) -> str:
        """The security archive; next to the main archive if none is configured."""
        if self.security:
            return self.security
        return self.archive.rstrip("/") + "-security"


def _is_debian(source: AptSource) -> bool:
    if "deb" not in source.types:
        return False
    base = {re.split(r"[-/]", s)[0] for s in source.suites}
    if not base & _DEBIAN_CODENAMES:
        return False
    if not {"main"} & set(source.components):
        return False
    path = urlsplit(source.uri).path.rstrip("/")
    # Debian's archive layout ends in debian or debian-security; proxies and
    # local mirrors keep that last component.
    return path.endswith("debian") or path.endswith("debian-security")


def parse_deb822(text: str) -> list[AptSource]:
    """Parse a deb822 ``.sources`` file (stanzas separated by blank lines)."""
    sources: list[AptSource] = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        current = None
        for raw in stanza.splitlines():
            if raw.lstrip().startswith("#") or not raw.strip():
                continue
            if raw[:1] in (" ", "\t") and current:
                fields[current] += " " + raw.strip()
                continue
            key, sep, value = raw.partition(":")
            if not sep:
                continue
            current = key.strip().lower()
            fields[current] = value.strip()
        if not fields.get("uris") or fields.get("enabled", "yes").lower() == "no":
            continue
        types = tuple(fields.get("types", "deb").split())
        suites = tuple(fields.get("suites", "").split())
        components = tuple(fields.get("components", "").split())
        for uri in fields["uris"].split():
            sources.append(AptSource(uri, suites, components, types))
    return sources


def parse_one_line(text: str) -> list[AptSource]:
    """Parse one-line ``sources.list`` entries (``deb [opts] URI SUITE COMP...``)."""
    sources: list[AptSource] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        line = re.sub(r"\[[^\]]*\]", " ", line)
        parts = line.split()
        if len(parts) < 3 or parts[0] not in ("deb", "deb-src"):
            continue
        sources.append(AptSource(parts[1], (parts[2],), tuple(parts[3:]), (parts[0],)))
    return sources


def read_sources(apt_dir: Path = APT_DIR) -> list[AptSource]:
    """Every enabled source of the controller, in apt's reading order."""
    sources: list[AptSource] = []
    main_list = apt_dir / "sources.list"
    if main_list.is_file():
        sources += parse_one_line(main_list.read_text(errors="replace"))
    folder = apt_dir / "sources.list.d"
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.suffix == ".list":
                sources += parse_one_line(path.read_text(errors="replace"))
            elif path.suffix == ".sources":
                sources += parse_deb822(path.read_text(errors="replace"))
    return sources


def debian_mirrors(apt_dir: Path = APT_DIR) -> DebianMirrors:
    """The Debian archive and security URIs the controller uses."""
    debian = [s for s in read_sources(apt_dir) if _is_debian(s)]
    archive = next((s.uri for s in debian if not s.is_security), None)
    security = next((s.uri for s in debian if s.is_security), None)
    if archive is None:
        raise AnlError(
            _("no Debian mirror found in the controller's apt sources"),
            file=str(apt_dir / "sources.list.d"),
            expected=_("a Debian source (deb822 .sources or sources.list) whose URI ends in /debian"),
        )
    return DebianMirrors(archive=archive.rstrip("/"), security=security.rstrip("/") if security else None)
