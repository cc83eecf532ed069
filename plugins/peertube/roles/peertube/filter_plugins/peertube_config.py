"""The keys of a PeerTube configuration file, for the upgrade step's comparison.

Upstream's manual upgrade diffs the new release's ``config/production.yaml.example``
against the instance's ``production.yaml``. The recipe renders production.yaml from
its settings, so the upgrade step compares keys instead: the keys the new example has
that the example of the installed release did not have, and that production.yaml does
not set either, are what the new release asks an administrator to look at; keys
production.yaml sets that the new example no longer has are keys PeerTube may ignore.
"""

from __future__ import annotations

from typing import Any


def peertube_config_keys(data: Any, prefix: str = "") -> list[str]:
    """Dotted paths of a parsed YAML document's leaves, sorted (a list or an empty mapping is a leaf)."""
    if isinstance(data, dict) and data:
        return sorted({p for key, value in data.items() for p in peertube_config_keys(value, f"{prefix}{key}.")})
    return [prefix.rstrip(".")] if prefix else []


def peertube_config_changes(new_example: Any, old_example: Any, production: Any) -> dict[str, list[str]]:
    """``added``: keys new in the new example that production.yaml lacks; ``dropped``: keys production.yaml
    sets that the new example no longer has (a key under a set parent counts as set)."""
    new, old = set(peertube_config_keys(new_example)), set(peertube_config_keys(old_example))
    ours = set(peertube_config_keys(production))

    def covered(key: str, keys: set[str]) -> bool:
        return key in keys or any(key.startswith(k + ".") or k.startswith(key + ".") for k in keys)

    return {"added": sorted(k for k in new - old if not covered(k, ours)),
            "dropped": sorted(k for k in ours if not covered(k, new))}


class FilterModule:
    """Filters ``peertube_config_keys`` and ``peertube_config_changes``."""

    def filters(self) -> dict[str, Any]:
        return {"peertube_config_keys": peertube_config_keys, "peertube_config_changes": peertube_config_changes}
