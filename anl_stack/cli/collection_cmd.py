"""``anl-stack collection``: the Ansible collection for AWX / Ansible Automation Platform."""

from __future__ import annotations

from pathlib import Path

import click

from anl_stack.cli.i18n_click import Group
from anl_stack.cli.output import echo_json
from anl_stack.core.i18n import _

# The feature package is imported inside the command (start-up speed, tests/unit/test_startup.py).


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
def collection() -> None:
    """The recipes as an Ansible collection, for AWX or Ansible Automation Platform.

    \b
    The collection holds the shared roles, every plugin's roles and its
    lifecycle playbooks (anl.communes.streaming, anl.communes.streaming_backup...),
    run with plain ansible-playbook. See docs/awx.md.
    """


@collection.command()
@click.option("--namespace", default="anl", show_default=True, help="Collection namespace.")
@click.option("--name", "name", default="communes", show_default=True, help="Collection name.")
@click.option("--output", "output", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Folder that receives the archive (created when missing).")
@click.option("--force", is_flag=True, help="Replace an archive of the same version already in the folder.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def build(namespace: str, name: str, output: Path, force: bool, as_json: bool) -> None:
    """Build the collection archive (NAMESPACE-NAME-VERSION.tar.gz) with ansible-galaxy.

    The version is anl-stack's. Nothing is written in the output folder
    unless the whole archive was built.
    """
    from anl_stack.collection.build import build as do_build

    built = do_build(namespace=namespace, name=name, output=output, force=force)
    if as_json:
        echo_json(built.to_dict())
        return
    click.echo(_("built {archive} ({count} playbooks, {roles} roles, requires ansible-core {range})").format(
        archive=built.archive, count=len(built.staged.playbooks), roles=len(built.staged.roles),
        range=built.requires_ansible))
    click.echo(_("install it offline: ansible-galaxy collection install {archive} -p DIR").format(
        archive=built.archive))
