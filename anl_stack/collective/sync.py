"""``anl-stack collective sync``: a commune's federation settings from the other members' instances.

The collective is read as ``collective verify`` reads it (signatures checked,
included indexes through their pins): only trusted commune files count, and
of their instances only those whose last verification passed and whose
address is a plain ``https://`` web name. For each federated tool the
commune runs (a group of its inventory has hosts), the other members'
instances of the same tool fill the settings below; the commune's own
instances are left out.

The values go into one file that sync owns, ``group_vars/all/collective.yml``,
rewritten whole on each run; the commune's own files are never touched. A
key the commune already sets elsewhere (anl.yml, a group or a host) is
refused (exit 2): Ansible would keep one of the two values without a word.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.files import write_file
from anl_stack.core.i18n import _

#: plugin -> {setting: "url" (https://name) or "host" (the name alone)}
FEDERATION: dict[str, dict[str, str]] = {
    "nextcloud": {"nextcloud_trusted_servers": "url"},
    "peertube": {"peertube_follow_hosts": "host", "peertube_redundancy_hosts": "host"},
    "mastodon": {"mastodon_allowed_domains": "host"},
}
SYNC_FILE = "collective.yml"
HOST_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$")
HEADER = ("# Written by `anl-stack collective sync` from the collective {collective} (members version {version})\n"
          "# on {date}; rewritten whole on each sync: do not edit, set nothing of it elsewhere.\n")


@dataclass
class SyncResult:
    file: Path
    written: bool
    before: dict[str, list[str]]
    after: dict[str, list[str]]
    #: instances left out, with the reason (an address that is not a web name, for example)
    ignored: list[ErrorRecord] = field(default_factory=list)

    def changes(self) -> dict[str, dict[str, list[str]]]:
        out = {}
        for key in sorted(set(self.before) | set(self.after)):
            old, new = set(self.before.get(key, [])), set(self.after.get(key, []))
            if old != new or key not in self.before or key not in self.after:
                out[key] = {"added": sorted(new - old), "removed": sorted(old - new)}
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"file": str(self.file), "written": self.written, "settings": self.after, "changes": self.changes(),
                "ignored": [r.to_dict() for r in self.ignored]}


def _host(address: str) -> str | None:
    """The web name of an ``https://name[/]`` address, or None for anything else (untrusted input)."""
    parts = urlsplit(address)
    if parts.scheme != "https" or parts.path not in ("", "/") or parts.query or parts.fragment \
            or parts.username or parts.password or parts.port is not None:
        return None
    name = (parts.hostname or "").lower()
    return name if HOST_NAME.match(name) else None


def federation_values(communes: list[tuple[str, dict[str, Any]]], own_insee: str,
                      plugins: set[str]) -> tuple[dict[str, list[str]], list[ErrorRecord]]:
    """Settings for ``plugins`` from (origin, commune file data) pairs, the commune ``own_insee`` left out."""
    values: dict[str, set[str]] = {key: set() for p in plugins for key in FEDERATION.get(p, {})}
    ignored: list[ErrorRecord] = []
    for origin, data in communes:
        if data["insee"] == own_insee:
            continue
        for entry in data.get("instances", []):
            plugin = entry.get("plugin")
            if plugin not in plugins or plugin not in FEDERATION or entry.get("result") != "passed":
                continue
            name = _host(str(entry.get("address") or ""))
            if name is None:
                ignored.append(ErrorRecord(_("not a web address: left out"), f"{origin}: {data['commune']}", None,
                                           f"instances.{plugin}.address", "https://NAME"))
                continue
            for key, form in FEDERATION[plugin].items():
                values[key].add(f"https://{name}" if form == "url" else name)
    return {key: sorted(found) for key, found in values.items()}, ignored


def _set_elsewhere(inventory: Any, keys: set[str], own: Path) -> list[ErrorRecord]:
    records = []
    for source in inventory.var_sources:
        file = Path(source.doc.file)
        if file.resolve() == own.resolve():
            continue
        for key in sorted(keys & set(source.values)):
            records.append(ErrorRecord(_("set by the commune, and managed by `collective sync`"),
                                       str(file), source.line(key), key,
                                       _("remove it here: sync keeps it in {file}").format(file=own)))
    return records


def sync(folder: Path, inventory: Path, *, insee: str, dry_run: bool = False) -> SyncResult:
    """Compute and (unless ``dry_run``) write the commune's federation settings; exit 2 on bad input."""
    from anl_stack.collective.verify import verify
    from anl_stack.inventory.model import load_inventory

    result = verify(folder)
    current = result.chain.current
    if current is None:
        raise AnlError(result.chain.problems or [ErrorRecord(_("no accepted members version"), str(folder))])
    if insee.upper() not in current.by_insee():
        raise AnlError(_("not a member of the collective"), key="--insee",
                       expected=_("the INSEE code of a current member"))
    inv = load_inventory(inventory)
    if inv.problems:
        raise AnlError(inv.problems)
    own = inv.paths.root / "group_vars" / "all" / SYNC_FILE
    runs = {plugin for plugin in FEDERATION if inv.groups.get(plugin)}
    communes = [(current.collective, c.data) for c in result.communes] + \
               [(i.collective, data) for i in result.included for data in i.communes]
    after, ignored = federation_values(communes, insee.upper(), runs)
    if problems := _set_elsewhere(inv, {key for keys in FEDERATION.values() for key in keys}, own):
        raise AnlError(problems)
    before: dict[str, list[str]] = {}
    if own.is_file():
        loaded = yaml.safe_load(own.read_text(encoding="utf-8")) or {}
        before = {k: [str(v) for v in values] for k, values in loaded.items() if isinstance(values, list)} \
            if isinstance(loaded, dict) else {}
    outcome = SyncResult(own, False, before, after, ignored)
    if not dry_run and (after != before or not own.is_file()):
        header = HEADER.format(collective=current.collective, version=current.version,
                               date=dt.date.today().isoformat())
        write_file(own, header + yaml.safe_dump(after, sort_keys=True, allow_unicode=True, default_flow_style=False),
                   root=inv.paths.root)
        outcome.written = True
    return outcome


def synced_settings(inventory: Any, plugins: list[str]) -> dict[str, list[str]]:
    """The federation settings of ``plugins`` that ``collective sync`` wrote in the inventory (for plan)."""
    own = (inventory.paths.root / "group_vars" / "all" / SYNC_FILE).resolve()
    keys = {key for plugin in plugins for key in FEDERATION.get(plugin, {})}
    for source in inventory.var_sources:
        if Path(source.doc.file).resolve() == own:
            return {k: [str(v) for v in source.values[k]] for k in sorted(keys & set(source.values))
                    if isinstance(source.values[k], list)}
    return {}


__all__ = ["FEDERATION", "SYNC_FILE", "SyncResult", "federation_values", "sync", "synced_settings"]
