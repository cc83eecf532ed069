"""``anl-stack backup``, ``restore``, ``upgrade`` and ``remove``: a plugin's lifecycle steps.

Generic: each runs the plugin's own playbook for the step (``backup.yml``,
``restore.yml``..., as :data:`anl_stack.plugin_api.LIFECYCLE` declares) through
the deploy engine's runner (:func:`anl_stack.deploy.lifecycle.run_lifecycle_step`) and
refuses (exit 2) a plugin that has no such step. The backup name (a UTC
time stamp) is chosen here and handed to the playbook as ``anl_backup_name``;
the restore source as ``anl_restore_from``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Callable
from typing import Any

import click

from anl_stack.core.errors import AnlError, ExitCode

# Feature packages are imported inside each command (start-up speed): `--help` and
# `plugins list` import neither Ansible, testinfra nor pydantic (tests/unit/test_startup.py).

BACKUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _target_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.argument("plugin"),
        click.option("-i", "--inventory", default=None, metavar="PATH",
                     help="The commune inventory folder or its hosts.yml."),
        click.option("--lab", "lab_name", default=None, metavar="NAME", help="An existing lab host instead of an inventory."),
        click.option("--limit", default=None, help="Only these hosts or groups (Ansible pattern)."),
        click.option("--vault-password-file", default=None, envvar="ANL_STACK_VAULT_PASSWORD_FILE",
                     help="Vault password file or script (default: from the inventory's settings)."),
        click.option("--json", "as_json", is_flag=True, help="One JSON object per line (events), then a summary object."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _run(step: str, plugin: str, inventory: str | None, lab_name: str | None, limit: str | None,
         vault_password_file: str | None, as_json: bool, extra_vars: dict[str, str]) -> Any:
    from anl_stack.cli.deploy_cmd import _print_report
    from anl_stack.cli.progress import display_factory
    from anl_stack.deploy.lifecycle import run_lifecycle_step

    prep, result = run_lifecycle_step(plugin, step, inventory=inventory, lab_name=lab_name,
                                      vault_password=vault_password_file, limit=limit, extra_vars=extra_vars,
                                      display=display_factory(json_output=as_json))
    if as_json:
        click.echo(json.dumps({**result.summary(), "step": step, **extra_vars}, ensure_ascii=False, default=str))
        sys.exit(int(result.exit_code))
    for report in result.reports:
        _print_report(report, prep.scrub, check=False)
    if result.exit_code != ExitCode.OK:
        raise AnlError(result.records, exit_code=result.exit_code)
    return prep


def _where(inventory: str | None, lab_name: str | None) -> str:
    return f"--lab {lab_name}" if lab_name else f"-i {inventory}"


@click.command("backup")
@_target_options
@click.option("--name", default=None, help="Backup name (default: the UTC time, YYYYmmdd-HHMMSS).")
def backup(plugin: str, inventory: str | None, lab_name: str | None, limit: str | None,
           vault_password_file: str | None, as_json: bool, name: str | None) -> None:
    """Back up PLUGIN's data on each of its hosts, with the plugin's backup.yml.

    \b
    The backup stays on the host, in a folder named after the UTC time
    (e.g. nextcloud: /var/backups/anl-stack/nextcloud/20261128-101500/) with
    a SHA256SUMS manifest; copy it off the host with your usual tools.
    Refused (exit 2) when PLUGIN has no backup step. Exit 1 when a host fails.
    """
    name = name or dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    if not BACKUP_NAME.match(name):
        raise AnlError(f"{name!r} is not a backup name", key="--name",
                       expected="letters, digits, dots, dashes and underscores")
    _run("backup", plugin, inventory, lab_name, limit, vault_password_file, as_json, {"anl_backup_name": name})
    click.echo(f"\nbackup {name} written on the hosts of {plugin}; restore it with:\n"
               f"  anl-stack restore {plugin} {_where(inventory, lab_name)} --from {name}")


@click.command("restore")
@_target_options
@click.option("--from", "source", required=True, metavar="NAME", help="The backup to restore (its folder name).")
def restore(plugin: str, inventory: str | None, lab_name: str | None, limit: str | None,
            vault_password_file: str | None, as_json: bool, source: str) -> None:
    """Restore PLUGIN's data from backup NAME on each of its hosts, with the plugin's restore.yml.

    \b
    The plugin checks the backup's checksums before it changes anything, then
    replaces the current data with the backup's.
    Refused (exit 2) when PLUGIN has no restore step. Exit 1 when a host fails
    (for example a backup that failed its checksum check).
    """
    if not BACKUP_NAME.match(source):
        raise AnlError(f"{source!r} is not a backup name", key="--from",
                       expected="letters, digits, dots, dashes and underscores (as printed by backup)")
    _run("restore", plugin, inventory, lab_name, limit, vault_password_file, as_json, {"anl_restore_from": source})
    click.echo(f"\nrestored {plugin} from backup {source}")


@click.command("upgrade")
@_target_options
def upgrade(plugin: str, inventory: str | None, lab_name: str | None, limit: str | None,
            vault_password_file: str | None, as_json: bool) -> None:
    """Upgrade PLUGIN's application on each of its hosts, with the plugin's upgrade.yml.

    \b
    The release comes from the artifact cache, as for a deploy.
    Refused (exit 2) when PLUGIN has no upgrade step. Exit 1 when a host fails.
    """
    _run("upgrade", plugin, inventory, lab_name, limit, vault_password_file, as_json, {})
    click.echo(f"\nupgraded {plugin}")


@click.command("remove")
@_target_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def remove(plugin: str, inventory: str | None, lab_name: str | None, limit: str | None,
           vault_password_file: str | None, as_json: bool, yes: bool) -> None:
    """Remove PLUGIN's service from each of its hosts, with the plugin's remove.yml.

    \b
    What is removed (and what data is kept) is the plugin's own choice,
    stated in its fiche. Asks for confirmation unless --yes.
    Refused (exit 2) when PLUGIN has no remove step. Exit 1 when a host fails.
    """
    if not yes and not click.confirm(f"Remove {plugin} from its hosts ({_where(inventory, lab_name)})?"):
        raise AnlError("not confirmed", key="--yes", expected="an answer yes, or --yes")
    _run("remove", plugin, inventory, lab_name, limit, vault_password_file, as_json, {})
    click.echo(f"\nremoved {plugin}")
