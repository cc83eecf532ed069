"""The plugin contract: every name a recipe can rely on, declared once.

This module is to anl-stack what hookspecs are to datasette: a recipe
author reads it to know what anl-stack looks for in a plugin folder, what
it hands to the recipe's playbooks and checks, and what it reads back.
Everything else in anl-stack takes these names from here.

A plugin folder::

    plugin.yml           the manifest (MANIFEST_FILE; model: anl_stack.plugins.manifest)
    playbook.yml         the deploy step; other steps: see LIFECYCLE
    roles/<name>/        defaults/ tasks/ handlers/ templates/ meta/argument_specs.yml
    verify/test_*.py     testinfra checks (CHECKS_DIR, CHECKS_GLOB), given the FIXTURES
    docs/fr.md docs/en.md    the fiche, in both languages
    evidence/ reviews/   records (anl_stack.records)

This module imports nothing from the rest of anl-stack but ``core``, so
that every layer may use it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anl_stack.core.errors import AnlError, WorkFailedError
from anl_stack.core.i18n import N_, _

# --- files anl-stack looks for in a plugin folder ----------------------------------------

MANIFEST_FILE = "plugin.yml"
ROLES_DIR = "roles"
CHECKS_DIR = "verify"
CHECKS_GLOB = "test_*.py"
#: Sections every fiche must have, in this order, in each language.
FICHE_SECTIONS: dict[str, tuple[str, ...]] = {
    "en": ("Overview", "Who uses it", "Requirements", "Sizing", "Costs", "Providers", "Deployment method",
           "Upgrades and backups", "Known limits", "What CI does not exercise"),
    "fr": ("Présentation", "Qui l'utilise", "Prérequis", "Dimensionnement", "Coûts", "Prestataires",
           "Méthode de déploiement", "Mises à jour et sauvegardes", "Limites connues",
           "Ce que les tests n'exécutent pas"),
}
FICHE_LANGUAGES: tuple[str, ...] = tuple(FICHE_SECTIONS)


def fiche_file(plugin_dir: Path, lang: str) -> Path:
    """Where a plugin's fiche in ``lang`` lives (``docs/fr.md``, ``docs/en.md``)."""
    return plugin_dir / "docs" / f"{lang}.md"


# --- the lifecycle, declared once ---------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One lifecycle step: a playbook the plugin may provide, found by its file name."""

    name: str
    playbook: str
    #: whether the step pushes application releases (the ``anl_artifacts`` variable)
    uses_artifacts: bool
    #: variables anl-stack hands to this step's playbook (besides those of every run)
    variables: tuple[str, ...]
    summary: str


#: The sequence a commune's tool goes through, in order (as Molecule declares its
#: scenario steps). The CLI offers a step for a plugin only when the plugin ships
#: the step's playbook, and refuses it (exit 2) otherwise.
LIFECYCLE: tuple[Step, ...] = (
    Step("deploy", "playbook.yml", True, (), N_("Deploy the tool (installs or converges it).")),
    Step("backup", "backup.yml", False, ("anl_backup_repo", "anl_backup_labels"),
         N_("Back up a plugin's data into its repositories.")),
    Step("restore", "restore.yml", False, ("anl_restore_from", "anl_backup_repo"),
         N_("Restore a plugin's data from a snapshot.")),
    Step("upgrade", "upgrade.yml", True, (), N_("Upgrade a plugin's application on its hosts.")),
    Step("remove", "remove.yml", False, ("anl_remove_purge",), N_("Remove a plugin's service from its hosts.")),
)
DEPLOY = LIFECYCLE[0]
STEP_NAMES: tuple[str, ...] = tuple(s.name for s in LIFECYCLE)
#: Tag of an upgrade step's read-only checks. ``anl-stack upgrade`` runs the tasks of
#: ``upgrade.yml`` that carry it alone, before its pre-upgrade backup and before it asks for
#: the releases: a failed one refuses the upgrade (exit 2, nothing changed), with its message.
#: Such tasks must change nothing; they run again at the head of the full upgrade step.
PRECHECK_TAG = "precheck"


def step_named(name: str) -> Step:
    """The declared step called ``name``; exit 2 listing the steps otherwise."""
    for step in LIFECYCLE:
        if step.name == name:
            return step
    raise AnlError(_("unknown lifecycle step {name!r}").format(name=name), key="step", expected=", ".join(STEP_NAMES))


def provided_steps(plugin_dir: Path) -> dict[str, Path]:
    """The steps a plugin folder provides, by name, with their playbooks."""
    return {s.name: plugin_dir / s.playbook for s in LIFECYCLE if (plugin_dir / s.playbook).is_file()}


# --- variables anl-stack hands to recipes ------------------------------------------------

#: Commune settings (``group_vars/all/anl.yml``), validated before any run; the first three are required.
COMMUNE_SETTINGS = ("anl_commune", "anl_domain", "anl_admin_email", "anl_tls_mode", "anl_tls_certificate",
                    "anl_tls_key", "anl_acme_server", "anl_acme_ca_file", "anl_artifact_pins",
                    "anl_artifact_versions", "anl_require_reviews", "anl_lab", "anl_backup_repositories",
                    "anl_backup_schedule", "anl_backup_retention", "anl_backup_check_schedule", "anl_engine")
REQUIRED_SETTINGS = COMMUNE_SETTINGS[:3]
#: Values of ``anl_engine`` and ``anl-stack --engine``: the Ansible strategy a run uses (anl_stack.deploy.engines).
ENGINES = ("ansible", "mitogen")

#: Variables of one run, written to the run's generated inventory (never secrets).
RUN_VARIABLES: dict[str, str] = {
    "anl_firewall_ports": "per host: the ports every plugin of the host declares "
                          "(list of {port, protocol, purpose[, allow]}); the base role opens them",
    "anl_artifacts": "per artifact name: {path, sha256, filename, version, plugin} of a verified release "
                     "on the controller; the shared role `artifact` pushes it and re-checks its sha256",
    "anl_recipes": "per plugin of the run: {version, digest, app_version} of the recipe being run "
                   "(recorded in each snapshot)",
    "anl_backup_repo": "backup and restore steps: the repositories to use (names); every declared one when unset",
    "anl_backup_labels": "backup step: extra labels on the snapshot (e.g. pre-upgrade)",
    "anl_restore_from": "restore step: the snapshot to restore (its full id)",
    "anl_remove_purge": "remove step: also delete the plugin's data and its on-host snapshots",
}

# --- backups ---------------------------------------------------------------------------

#: Shared role a plugin includes to be backed up (tasks: main at deploy, run, restore, remove).
BACKUP_ROLE = "backup"
#: Where that role writes, on each host, what a plugin keeps: ``plugins/<plugin>.json`` with its
#: ``paths`` (the plugin's data folders, which the baseline also checks). The role's default
#: ``backup_config_dir``; an inventory may set another.
BACKUP_CONFIG_DIR = "/etc/anl-stack/backup"
#: Vault secrets of the commune's backups, generated once: the repositories' password, and the SSH
#: key of the off-host (SFTP) repositories with its public half.
BACKUP_PASSWORD_SECRET = "anl_backup_password"
BACKUP_SSH_KEY_SECRET = "anl_backup_ssh_key"
BACKUP_SSH_PUBLIC_SECRET = "anl_backup_ssh_key_public"
#: Group of the generated inventory holding the managed partner servers of a deploy, and the
#: playbook that creates their chrooted SFTP accounts (imported first by a deploy).
BACKUP_PARTNERS_GROUP = "anl_backup_partners"
BACKUP_PARTNER_PLAYBOOK = "backup-partner.yml"

# --- the release gate ----------------------------------------------------------------------

#: Group of the generated inventory holding the hosts a run targets, the playbook every run
#: imports first (anl_stack.deploy.release_gate), and the host variable listing the Debian major
#: releases the run's recipes can run on that host. Reserved names: recipes only read them.
RUN_HOSTS_GROUP = "anl_run"
RELEASE_GATE_PLAYBOOK = "release-gate.yml"
SUPPORTED_RELEASES_VARIABLE = "anl_supported_releases"

#: Variable names that hold secrets by their look (``*_password``, ``*_secret``, ``*_token``, ``*_key``...),
#: besides the vault secrets the manifests declare: never handed to checks as settings, never on a
#: command line in a recipe (tests/unit/test_secrets_off_command_lines.py).
SECRET_NAME = re.compile(r"(pass(word|wd)?|secret|token|private_key|_keys?)$|^ansible_(ssh_|become_)?pass", re.I)


def ssh_error_lines(stderr: str) -> list[str]:
    """A remote command's error lines, without ssh's own known-hosts notice (lab hosts are new to it)."""
    return [line.strip() for line in stderr.splitlines()
            if line.strip() and not line.startswith("Warning: Permanently added")]

#: Where the run's variables are written, inside the ansible-runner private data dir
#: (by :func:`anl_stack.deploy.prepare.generated_inventory`).
GENERATED_INVENTORY = "inventory/anl-generated.yml"


# --- what verify hands to checks, and reads back -------------------------------------------

#: The pytest plugin loaded into the checks' process (``-p``); it provides FIXTURES.
PYTEST_PLUGIN = "anl_stack.plugin_api.fixtures"

#: Fixtures a check may ask for, besides testinfra's ``host``.
FIXTURES: dict[str, str] = {
    "anl_host_name": "the host's name in the commune inventory",
    "anl_hostvars": "every variable of the host, secrets filtered out, templates resolved",
    "anl_settings": "the commune settings (the anl_* variables)",
    "anl_host_context": "what verify computed for the host: its plugins and declared ports",
    "host_address": "the address the controller reaches the host at (ansible_host)",
    "ssh_port": "the host's SSH port",
    "declared_ports": "ports the host may expose: its plugins' ports plus SSH",
    "web_domains": "the domain of each web plugin on the host (the check is n/a when there is none)",
    "plugin_name": "the plugin whose verify/ folder holds the running check",
    "plugin_vars": "the running plugin's variables (role defaults overlaid with the inventory), no secrets",
    "anl_secret": "anl_secret(NAME): one secret as a value that never prints itself (.reveal())",
    "anl_basic_auth": "anl_basic_auth(USER, SECRET_NAME): an HTTP Basic Authorization value, itself a secret",
    "https_get": "https_get(domain, path='/', headers=None, port=443): (status, headers, body) from the controller",
    "anl_fact": "anl_fact(NAME, VALUE): a fact recorded in the verify report",
}

#: Markers a check may carry.
MARKERS: dict[str, str] = {
    "live": "changes something or pushes traffic; runs only with --live-test",
    "app": "needs the application itself installed (leave out with -m 'not app')",
}

#: A skip whose reason starts with this is "not applicable", never "passed".
NOT_APPLICABLE = "n/a:"

#: Name of the security baseline suite, which runs on every host.
BASELINE = "baseline"

#: Version of the context file verify writes for the checks' process. The
#: fixtures refuse a context of another version rather than misread it.
CONTEXT_VERSION = 1
CONTEXT_KEYS = ("version", "results", "suites", "hosts", "secret_names")


def write_context(path: Path, *, results: Path, suites: list[dict[str, Any]], hosts: dict[str, Any],
                  secret_names: list[str]) -> Path:
    """The context of one verify run (never a secret value: only secret names)."""
    data = {"version": CONTEXT_VERSION, "results": str(results), "suites": suites, "hosts": hosts,
            "secret_names": secret_names}
    path.write_text(json.dumps(data, indent=2))
    return path


def read_context(path: Path) -> dict[str, Any]:
    """A context file of this version; an error naming the file and key otherwise."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise WorkFailedError(_("cannot read the verify context: {error}").format(error=error), file=str(path)) from None
    if not isinstance(data, dict):
        raise WorkFailedError(_("the verify context is not an object"), file=str(path),
                              expected=_("a JSON object with {context_keys}")
                                       .format(context_keys=', '.join(CONTEXT_KEYS)))
    version = data.get("version")
    if version != CONTEXT_VERSION:
        raise WorkFailedError(_("verify context version {version!r} is not supported").format(version=version), file=str(path),
                              key="version", expected=str(CONTEXT_VERSION))
    missing = [k for k in CONTEXT_KEYS if k not in data]
    if missing:
        raise WorkFailedError(_("the verify context lacks {missing}").format(missing=", ".join(missing)), file=str(path),
                              key=missing[0], expected=", ".join(CONTEXT_KEYS))
    return data
