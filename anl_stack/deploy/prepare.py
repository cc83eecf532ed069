"""Every check that can refuse a run (exit 2) before any host is changed.

prepare: known plugins with a recipe -> a valid inventory -> reviews a
commune requires -> hosts to run on -> artifacts the run needs -> secrets
generated once into the vault -> the run's ansible.cfg, environment and
generated files (site playbook, generated inventory with the variables of
the plugin contract).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from anl_stack import lab
from anl_stack.artifacts import resolve_for_deploy
from anl_stack.core import masking
from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.i18n import _
from anl_stack.core.paths import shared_roles_dir
from anl_stack.deploy import ansible_cfg, engines, limits, release_gate
from anl_stack.deploy.targets import Target, inventory_target, lab_target
from anl_stack.inventory import backup_settings, vault
from anl_stack.inventory.check import require_valid
from anl_stack.inventory.model import Inventory, firewall_ports
from anl_stack.plugin_api import (
    BACKUP_PARTNER_PLAYBOOK,
    BACKUP_PARTNERS_GROUP,
    BACKUP_PASSWORD_SECRET,
    BACKUP_SSH_KEY_SECRET,
    BACKUP_SSH_PUBLIC_SECRET,
    DEPLOY,
    GENERATED_INVENTORY,
    ROLES_DIR,
    RUN_HOSTS_GROUP,
    RUN_VARIABLES,
    SUPPORTED_RELEASES_VARIABLE,
    provided_steps,
    step_named,
)
from anl_stack.plugins import discover_plugins, get_plugin, require_recipe
from anl_stack.plugins.digest import content_digest
from anl_stack.plugins.discovery import load_folder
from anl_stack.plugins.manifest import Secret
from anl_stack.records.reviews import require_reviewed

MASK = masking.MASK


def resolve_plugins(names: list[str], recipe_dirs: dict[str, Path] | None = None) -> list[Any]:
    """Known plugins with a recipe; exit 2 with did-you-mean otherwise.

    ``recipe_dirs`` replaces a plugin's folder by another recipe of it (a kept one, for a rollback).
    """
    if not names:
        raise AnlError(_("no plugin named"), key="plugin", expected=_("one or more plugin names"))
    found = discover_plugins()
    records: list[ErrorRecord] = []
    chosen: list[Any] = []
    for name in dict.fromkeys(names):
        try:
            plugin = get_plugin(name, found)
            if recipe_dirs and name in recipe_dirs:
                plugin = load_folder(recipe_dirs[name], name)
            require_recipe(plugin, found)
            chosen.append(plugin)
        except AnlError as error:
            records.extend(error.records)
    if records:
        raise AnlError(records)
    return chosen


def target_hosts(inv: Inventory, plugins: list[Any], limit: str | None) -> list[str]:
    hosts: list[str] = []
    records: list[ErrorRecord] = []
    for plugin in plugins:
        members = inv.groups.get(plugin.name) or []
        if not members:
            records.append(ErrorRecord(_("no host runs plugin {name!r}").format(name=plugin.name), str(inv.paths.hosts), None,
                                       f"all.children.{plugin.name}",
                                       _("a host under {key}").format(key=f"all.children.{plugin.name}.hosts")))
        hosts += [h for h in members if h not in hosts]
    if records:
        raise AnlError(records)
    if limit:
        selected = limits.select(limit, inv.hosts, inv.groups, file=str(inv.paths.hosts))
        hosts = [h for h in hosts if h in selected]
        if not hosts:
            raise AnlError(_("--limit selects no host that runs these plugins"), file=str(inv.paths.hosts),
                           key="--limit", expected=_("one of: {hosts}").format(hosts=", ".join(sorted(set().union(
                               *(inv.groups.get(p.name, []) for p in plugins))))))
    return hosts


class Scrubber:
    """Replaces known secret values in text we write (second line of defence)."""

    def __init__(self, values: list[str]) -> None:
        self.values = sorted({v for v in values if len(v) >= masking.MIN_LENGTH}, key=len, reverse=True)
        masking.remember(self.values)  # what the CLI prints is masked too

    def __call__(self, text: str) -> str:
        return masking.mask(text, self.values)

    def data(self, value: Any) -> Any:
        return masking.mask_data(value, self.values)


def _flatten_secret_values(data: Any) -> list[str]:
    if isinstance(data, dict):
        return [v for item in data.values() for v in _flatten_secret_values(item)]
    if isinstance(data, list):
        return [v for item in data for v in _flatten_secret_values(item)]
    return [str(data)] if data is not None and not isinstance(data, bool) else []


def site_playbook(plugins: list[Any], step: str = DEPLOY.name, *, partners: bool = False) -> str:
    """The run's playbook: each plugin's playbook for ``step``; a deploy with managed partner
    servers first creates their backup accounts (their host keys are then known to the plugins')."""
    playbook = step_named(step).playbook
    first = [shared_roles_dir().parent / BACKUP_PARTNER_PLAYBOOK] if partners and step == DEPLOY.name else []
    return yaml.safe_dump([{"ansible.builtin.import_playbook": str(path.resolve())}
                           for path in first + [p.path / playbook for p in plugins]], sort_keys=False)


def generated_inventory(host_ports: dict[str, list[dict[str, Any]]], artifacts: dict[str, Any],
                        extra_vars: dict[str, Any] | None = None, *, partners: list[str] | None = None,
                        releases: dict[str, list[str]] | None = None) -> str:
    """The generated inventory of one run: :data:`RUN_VARIABLES`, nothing else, the partner group,
    and the run's hosts (group ``anl_run``) with the releases each may run (the release gate)."""
    unknown = sorted(set(extra_vars or {}) - set(RUN_VARIABLES))
    if unknown:
        # A programming error, not a user's: only declared variables reach recipes.
        raise ValueError(f"undeclared run variables: {', '.join(unknown)}")
    doc: dict[str, Any] = {"all": {"hosts": {h: {"anl_firewall_ports": ports} for h, ports in host_ports.items()}}}
    if artifacts:
        doc["all"]["vars"] = {"anl_artifacts": artifacts}
    if extra_vars:
        doc["all"].setdefault("vars", {}).update(extra_vars)
    children: dict[str, Any] = {}
    if partners:
        children[BACKUP_PARTNERS_GROUP] = {"hosts": {h: {} for h in partners}}
    if releases:
        children[RUN_HOSTS_GROUP] = {"hosts": {h: {SUPPORTED_RELEASES_VARIABLE: r} for h, r in releases.items()}}
    if children:
        doc["all"]["children"] = children
    return "# Generated by anl-stack for one run (not secret).\n" + yaml.safe_dump(doc, sort_keys=False)


@dataclass
class Prepared:
    target: Target
    inventory: Inventory
    plugins: list[Any]
    hosts: list[str]
    env: dict[str, str]
    files: dict[str, str]
    scrub: Scrubber
    generated_secrets: list[str]


def needs_artifacts(tags: str | None, skip_tags: str | None = None) -> bool:
    """Whether a run limited by ``tags``/``skip_tags`` reaches the application (tag ``app``).

    Releases are pushed by tasks tagged ``app``: a ``--tags stack`` run
    prepares a server without them, so it must not require them.
    """
    def split(value: str | None) -> set[str]:
        return {t.strip() for t in (value or "").split(",") if t.strip()}

    wanted, skipped = split(tags), split(skip_tags)
    if "app" in skipped:
        return False
    return not wanted or bool(wanted & {"app", "all"})


def prepare(plugin_names: list[str], *, inventory: str | None = None, lab_name: str | None = None,
            debian: str = "13", vault_password: str | None = None, limit: str | None = None,
            tags: str | None = None, skip_tags: str | None = None, step: str = DEPLOY.name,
            extra_vars: dict[str, Any] | None = None, log: Callable[[str], None] | None = None,
            playbook: str | None = None, recipe_dirs: dict[str, Path] | None = None) -> Prepared:
    """Every check that can refuse (exit 2) before a host is changed.

    ``step`` names the lifecycle step to run (:data:`anl_stack.plugin_api.LIFECYCLE`):
    ``deploy`` by default; only the steps that use artifacts need releases.
    ``extra_vars`` (never secrets) go to the run's generated inventory.
    ``log`` receives progress lines of a lab host being booted.
    ``playbook`` replaces the run's playbook (a read-only play anl-stack writes itself).
    ``recipe_dirs`` runs kept recipes instead of the current ones (a rollback).
    """
    the_step = step_named(step)
    plugins = resolve_plugins(plugin_names, recipe_dirs)
    if (inventory is None) == (lab_name is None):
        raise AnlError(_("give exactly one of -i PATH or --lab NAME"), key="-i/--lab",
                       expected=_("-i inventories/COMMUNE or --lab NAME"))
    wants_artifacts = (the_step.uses_artifacts and any(p.manifest.deployment.artifacts for p in plugins)
                       and needs_artifacts(tags, skip_tags))
    artifacts: dict[str, Any] | None = None
    if wants_artifacts and lab_name and lab.get(lab_name) is None:
        # A lab host not made yet gets an inventory without commune pins: resolve the
        # releases now, so that a missing one is refused before a host is booted for nothing.
        artifacts = resolve_for_deploy(plugins, {})
    if lab_name:
        target = lab_target(lab_name, debian, plugins, log=log)
    else:
        target = inventory_target(inventory, vault_password, log=log)
    everything = discover_plugins()
    inv = require_valid(target.paths, everything)
    if the_step is DEPLOY:
        # Communes may accept only recipes reviewed on their current digest (anl_require_reviews).
        require_reviewed(plugins, inv.settings(), target.paths.settings)
    hosts = target_hosts(inv, plugins, limit)
    if wants_artifacts and artifacts is None:
        artifacts = resolve_for_deploy(plugins, inv.settings())

    settings = inv.settings()
    engine = engines.resolve(engines.chosen(settings, target.paths.settings))
    generated, scrub = _secrets(target, plugins, settings)
    manifests = {p.name: p.manifest for p in everything if p.loaded}
    if the_step.name == "remove":
        # The removed plugins' ports close: the firewall keeps only what the others declare.
        manifests = {n: m for n, m in manifests.items() if n not in {p.name for p in plugins}}
    partners = backup_settings.partner_hosts(settings) if the_step is DEPLOY and _backs_up(plugins) else []
    run_vars = {"anl_recipes": recipes(plugins), **(extra_vars or {})}
    files = {
        GENERATED_INVENTORY: generated_inventory(firewall_ports(inv, manifests), artifacts or {}, run_vars,
                                                 partners=partners,
                                                 releases=release_gate.supported_releases(inv, plugins, hosts)),
        "project/site.yml": release_gate.with_gate(playbook or site_playbook(plugins, step, partners=bool(partners))),
    }
    env = _run_environment(target, plugins, engine)
    return Prepared(target, inv, plugins, hosts, env, files, scrub, generated)


def _backs_up(plugins: list[Any]) -> bool:
    return any("backup" in provided_steps(p.path) for p in plugins)


def recipes(plugins: list[Any]) -> dict[str, dict[str, str]]:
    """What each snapshot records about the recipe that made it (run variable ``anl_recipes``)."""
    return {p.name: {"version": str(p.manifest.version), "digest": content_digest(p.path),
                     "app_version": str(p.manifest.app.version)} for p in plugins}


def _secrets(target: Target, plugins: list[Any], settings: dict[str, Any]) -> tuple[list[str], Scrubber]:
    """Generate the declared secrets still missing (once, into the vault); a scrubber of every secret value.

    A plugin with a backup step also gets the commune's repository password, and the SSH key of
    its off-host repositories when the settings declare one.
    """
    declared = [s for p in plugins for s in p.manifest.deployment.secrets]
    if _backs_up(plugins):
        declared.append(Secret(name=BACKUP_PASSWORD_SECRET, kind="hex", length=64,
                               description="Password of the commune's backup repositories"))
    generated = vault.ensure_secrets(target.paths, target.password_file, declared)
    if _backs_up(plugins) and backup_settings.needs_ssh_key(settings):
        commune = str(settings.get("anl_commune") or target.paths.root.name)
        if vault.ensure_ssh_key_pair(target.paths, target.password_file, BACKUP_SSH_KEY_SECRET,
                                     BACKUP_SSH_PUBLIC_SECRET, f"anl-backup@{commune}"):
            generated += [BACKUP_SSH_KEY_SECRET, BACKUP_SSH_PUBLIC_SECRET]
    return generated, Scrubber(_flatten_secret_values(vault.read_secrets(target.paths, target.password_file)))


def _run_environment(target: Target, plugins: list[Any], engine: engines.Engine) -> dict[str, str]:
    """The run's ansible.cfg (written in the inventory's private folder) and the environment naming it."""
    roles_paths = [p.path / ROLES_DIR for p in plugins]
    runs_cfg = target.paths.private / "ansible.cfg"
    ansible_cfg.write(runs_cfg, root=target.paths.root, roles_paths=roles_paths, host_key_checking=target.host_key_checking,
                      control_tag=ansible_cfg.inventory_tag(target.paths.root), engine=engine)
    env = ansible_cfg.ansible_env(runs_cfg, host_key_checking=target.host_key_checking, roles_paths=roles_paths)
    env["ANSIBLE_VAULT_PASSWORD_FILE"] = str(target.password_file)
    env["ANSIBLE_NOCOLOR"] = "1"
    return env
