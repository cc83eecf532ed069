"""Mastodon's upgrade rule, as filters the upgrade step uses (and unit tests read).

Upstream's rule (upgrading.md): patch versions may be skipped, but every minor
series must be deployed in turn (4.3.x, then 4.4.x, then 4.5.x...), because a
release's post-deployment migrations may be removed by the next series.
"""

from __future__ import annotations

import re
from typing import Any

from ansible.errors import AnsibleFilterError

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:[-.]?[0-9A-Za-z.]+)?$")


def mastodon_series(version: str) -> str:
    """The minor series of a Mastodon version: ``4.5.7`` -> ``4.5`` (a leading ``v`` is accepted)."""
    match = _VERSION.match(str(version).strip())
    if not match:
        raise AnsibleFilterError(f"{version!r} is not a Mastodon version (X.Y.Z)")
    return f"{int(match.group(1))}.{int(match.group(2))}"


def mastodon_skipped_series(installed: str, target: str, series: list[str]) -> list[str]:
    """The minor series an upgrade from ``installed`` to ``target`` would skip (empty: allowed).

    ``series`` lists every minor series in order (the role's ``mastodon_minor_series``). A version
    whose series is not listed, or a target older than the installed version, is an error: the
    upgrade step refuses it rather than guess.
    """
    known = [str(s) for s in series]
    first, last = mastodon_series(installed), mastodon_series(target)
    for name, value in (("installed", first), ("target", last)):
        if value not in known:
            raise AnsibleFilterError(f"the {name} series {value} is not in the known series ({', '.join(known)})")
    start, end = known.index(first), known.index(last)
    if end < start or (end == start and _triple(target) < _triple(installed)):
        raise AnsibleFilterError(f"Mastodon {target} is older than the installed {installed}: no downgrade")
    return known[start + 1:end]


def _triple(version: str) -> tuple[int, int, int]:
    match = _VERSION.match(str(version).strip())
    if not match:
        raise AnsibleFilterError(f"{version!r} is not a Mastodon version (X.Y.Z)")
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


class FilterModule:
    """Filters ``mastodon_series`` and ``mastodon_skipped_series``."""

    def filters(self) -> dict[str, Any]:
        return {"mastodon_series": mastodon_series, "mastodon_skipped_series": mastodon_skipped_series}
