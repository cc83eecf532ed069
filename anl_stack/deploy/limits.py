"""``--limit``: Ansible's host patterns, resolved against the inventory before any host is touched.

Ansible treats a pattern that matches nothing as a warning and runs on the
rest, so a typo in ``--limit srv-1,srv2`` silently drops a server. Each part
must match a host or a group of the inventory, or the run is refused naming
it. Patterns follow Ansible: ``a,b`` or ``a:b`` (union), ``&g`` (and also in
g), ``!g`` (except g), ``*``/``?``/``[...]`` wildcards, ``~regex``, ``all``.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from anl_stack.core.errors import AnlError
from anl_stack.core.i18n import _


def parts(limit: str) -> list[str]:
    """The parts of a limit, in order (``,`` or ``:`` between them)."""
    return [p.strip() for p in limit.replace(":", ",").split(",") if p.strip()]


def _matcher(pattern: str, file: str | None) -> Any:
    if pattern.startswith("~"):
        try:
            return re.compile(pattern[1:]).match
        except re.error as error:
            raise AnlError(_("{pattern!r} is not a regular expression: {error}").format(pattern=pattern, error=error), file=file, key="--limit",
                           expected=_("~REGEX, a Python regular expression")) from None
    if any(c in pattern for c in "*?["):
        return re.compile(fnmatch.translate(pattern)).match
    return pattern.__eq__


def _hosts_of(pattern: str, hosts: list[str], groups: dict[str, list[str]], file: str | None) -> set[str]:
    if pattern in ("all", "*"):
        return set(hosts)
    match = _matcher(pattern, file)
    found = {h for h in hosts if match(h)}
    for group, members in groups.items():
        if match(group):
            found.update(members)
    return found


def select(limit: str, hosts: list[str], groups: dict[str, list[str]], *, file: str | None = None) -> set[str]:
    """The hosts ``limit`` selects; AnlError (exit 2) naming a part that matches no host nor group."""
    union: set[str] | None = None
    both: list[set[str]] = []
    without: set[str] = set()
    for part in parts(limit):
        pattern = part.lstrip("!&")
        found = _hosts_of(pattern, hosts, groups, file)
        if not found and not (pattern in groups or pattern == "all"):
            raise AnlError(_("{part!r} matches no host nor group of the inventory").format(part=part), file=file, key="--limit",
                           expected="hosts: " + (", ".join(sorted(hosts)[:20]) or _("(none)"))
                           + ("..." if len(hosts) > 20 else ""))
        if part.startswith("!"):
            without |= found
        elif part.startswith("&"):
            both.append(found)
        else:
            union = found if union is None else union | found
    selected = set(hosts) if union is None else union
    for extra in both:
        selected &= extra
    return selected - without
