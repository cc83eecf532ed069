"""The release gate: the first play of every run reads the hosts' Debian release and stops the
run before any change when a host cannot run the recipes.

It takes the place of a separate setup-only run before each step: one Ansible start and one
round of SSH connections fewer per command, and the facts it gathers serve the whole run (the
recipes' plays do not gather them again). The releases each host may run are computed here,
by the rule of :func:`anl_stack.deploy.platforms.check_platforms`, and handed to the play as the
host variable ``anl_supported_releases``. When the gate stops a run, the facts it read go back
through that same function, so a refusal names the manifest or inventory file, the key and
what was expected, with exit code 2, exactly as when the release was read beforehand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from anl_stack.core.errors import AnlError, ErrorRecord, WorkFailedError
from anl_stack.core.i18n import _
from anl_stack.core.paths import shared_roles_dir
from anl_stack.deploy.platforms import check_platforms
from anl_stack.inventory.model import Inventory
from anl_stack.plugin_api import RELEASE_GATE_PLAYBOOK

#: The play's name in playbooks/release-gate.yml: how its events are told apart.
PLAY = "Anl-stack release gate"
#: Ansible's name for a play's implicit fact gathering.
FACTS_TASK = "Gathering Facts"


def playbook_path() -> Path:
    return (shared_roles_dir().parent / RELEASE_GATE_PLAYBOOK).resolve()


def with_gate(site_yaml: str) -> str:
    """A run's playbook with the gate imported first."""
    plays = yaml.safe_load(site_yaml) or []
    return yaml.safe_dump([{"ansible.builtin.import_playbook": str(playbook_path())}, *plays], sort_keys=False)


def candidate_releases(plugins: list[Any]) -> list[str]:
    """Every Debian major release a manifest of the run names (``platforms.debian-N``)."""
    found = {key.removeprefix("debian-") for p in plugins for key, _platform in p.manifest.platforms.items()
             if key.startswith("debian-")}
    return sorted(found, key=lambda r: (not r.isdigit(), int(r) if r.isdigit() else 0, r))


def supported_releases(inv: Inventory, plugins: list[Any], hosts: list[str]) -> dict[str, list[str]]:
    """For each host of the run, the releases on which every plugin it runs accepts its version."""
    candidates = candidate_releases(plugins)
    supported: dict[str, list[str]] = {}
    for host in hosts:
        allowed = []
        for release in candidates:
            try:
                check_platforms(inv, plugins, {host: release})
            except AnlError:
                continue
            allowed.append(release)
        supported[host] = allowed
    return supported


@dataclass
class GateWatch:
    """What the gate play reported, read from a run's events."""

    facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    unreachable: dict[str, str] = field(default_factory=dict)
    stopped: bool = False
    _in_gate: bool = False

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        data = event.get("event_data") or {}
        if kind == "playbook_on_play_start":
            self._in_gate = (data.get("play") or data.get("name")) == PLAY
            return
        if not self._in_gate:
            return
        host, res = data.get("host", "?"), data.get("res") or {}
        if kind == "runner_on_ok" and res.get("ansible_facts"):
            self.facts[host] = res["ansible_facts"]
        elif kind == "runner_on_unreachable" or (kind == "runner_on_failed" and data.get("task") == FACTS_TASK):
            self.unreachable[host] = str(res.get("msg", "")).strip()
            self.stopped = True
        elif kind == "runner_on_failed":
            self.stopped = True


def raise_refusal(watch: GateWatch, inv: Inventory, plugins: list[Any], hosts: list[str]) -> None:
    """When the gate stopped the run: why, as the errors the command reports (nothing was changed)."""
    if not watch.stopped:
        return
    if watch.unreachable:
        raise WorkFailedError([ErrorRecord(_("cannot read facts: {message}").format(message=msg),
                                           str(inv.paths.hosts), None, host,
                                           _("a reachable host (SSH user with become)"))
                               for host, msg in sorted(watch.unreachable.items())])
    releases: dict[str, str] = {}
    records: list[ErrorRecord] = []
    for host in hosts:
        facts = watch.facts.get(host, {})
        distribution = facts.get("ansible_distribution") or facts.get("distribution")
        if distribution != "Debian":
            system = distribution or _("an unknown system")
            records.append(ErrorRecord(_("host runs {system}").format(system=system),
                                       str(inv.paths.hosts), None, host, _("Debian 13 or 12")))
            continue
        releases[host] = str(facts.get("ansible_distribution_major_version") or facts.get("distribution_major_version"))
    if records:
        raise AnlError(records)
    check_platforms(inv, plugins, releases)
    # The gate and check_platforms follow the same rule; reaching here means they disagree.
    raise AnlError(_("the release gate stopped the run before any change"), file=str(playbook_path()),
                   expected=_("hosts whose Debian release the run's recipes support"))
