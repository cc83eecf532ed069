"""Lab host names and Debian releases.

A lab host's name becomes its machine name, the host side of its veth link
(``ve-NAME``, cut by the kernel at 15 characters) and part of its domain
(``NAME.anl.test``), so it is kept short and DNS-safe.
"""

from __future__ import annotations

import re

from anl_stack.core.errors import AnlError
from anl_stack.core.i18n import _

#: "ve-" + 12 characters = 15, the kernel's interface name limit.
MAX_NAME = 12
NAME_RE = re.compile(r"^[a-z](?:[a-z0-9-]{0,10}[a-z0-9])?$")
LAB_DOMAIN = "anl.test"

#: Debian major version -> codename. 13 is the primary target.
RELEASES: dict[str, str] = {"13": "trixie", "12": "bookworm"}
DEFAULT_RELEASE = "13"


def validate_name(name: str) -> str:
    """Return the name if usable for a lab host, else raise AnlError (exit 2)."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise AnlError(
            _("invalid lab host name {name!r}").format(name=name),
            key="name",
            expected=(
                _("1 to {max_name} characters: a lowercase letter first, then lowercase letters, digits or '-', "
                  "not ending with '-' (it names the ve-NAME interface, cut at 15 characters)")
                .format(max_name=MAX_NAME)
            ),
        )
    return name


def validate_release(release: str | int) -> str:
    """Normalise "13"/13/"trixie" to "13"; refuse anything else."""
    value = str(release).strip().lower()
    for number, codename in RELEASES.items():
        if value in (number, codename):
            return number
    raise AnlError(
        _("unsupported Debian release {release!r}").format(release=release),
        key="release",
        expected=" or ".join(f"{n} ({c})" for n, c in RELEASES.items()),
    )


def codename(release: str) -> str:
    return RELEASES[validate_release(release)]


def domain_for(name: str) -> str:
    return f"{name}.{LAB_DOMAIN}"
