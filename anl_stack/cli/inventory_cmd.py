"""``anl-stack init`` and ``anl-stack inventory check``: commune inventories.

Thin: :mod:`anl_stack.inventory.model` and :mod:`anl_stack.inventory.check` do the work.
"""

from __future__ import annotations

from pathlib import Path

import click

from anl_stack.cli.i18n_click import Command, Group
from anl_stack.cli.output import echo_json, fail
from anl_stack.core.errors import AnlError, ExitCode
from anl_stack.core.i18n import N_, _

INVENTORY_OPTION = click.option(
    "-i", "--inventory", "inventory", required=True, metavar="PATH",
    help="The commune inventory folder (inventories/COMMUNE) or its hosts.yml.",
)

# Feature packages are imported inside each command (start-up speed): `--help` and
# `plugins list` import neither Ansible, testinfra nor pydantic (tests/unit/test_startup.py).


TLS_MODE_NOTES = {
    "acme": N_("certificates: acme (Let's Encrypt): each site's name must resolve to its server from the internet; "
               "for a trial, --tls-mode selfsigned"),
    "selfsigned": N_("certificates: selfsigned (browsers warn): for trials and lab hosts, not for the public"),
    "provided": N_("certificates: provided: name the commune's certificate and key files in anl.yml "
                   "(anl_tls_certificate, anl_tls_key)"),
}


@click.command("init", cls=Command)
@click.argument("commune")
@click.option("--domain", required=True, help="The commune's domain, e.g. mairie-exemple.fr.")
@click.option("--email", required=True, help="Administrator e-mail (certificates, alerts).")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder holding inventories/ (default: the current folder).")
@click.option("--tls-mode", type=click.Choice(["selfsigned", "acme", "provided"]), default="acme",
              show_default=True,
              help="How web certificates are obtained: acme (Let's Encrypt: the names must resolve to the "
                   "servers from the internet), selfsigned (trials, lab hosts), provided (the commune's own "
                   "certificate and key files, named in anl.yml).")
@click.option("--vault-password-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              envvar="ANL_STACK_VAULT_PASSWORD_FILE",
              help="Existing vault password file or script (default: a new one under the config folder).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def init(commune: str, domain: str, email: str, directory: Path | None, tls_mode: str,
         vault_password_file: Path | None, as_json: bool) -> None:
    """Create inventories/COMMUNE/, a standard Ansible inventory.

    It holds hosts.yml (groups named after plugins), group_vars/all/anl.yml
    (commune settings) and, later, the encrypted vault. The vault password
    stays outside the inventory, so the inventory can be versioned and
    shared. Refuses to overwrite an existing inventory.
    """
    from anl_stack.inventory.check import check_inventory
    from anl_stack.inventory.model import COMMUNE_EXPECTED, create_inventory, valid_commune

    # The name becomes a folder and a file name: checked before it is used in any path.
    if not valid_commune(commune):
        raise AnlError(_("{commune!r} is not a commune name").format(commune=commune[:80]), file=str(directory or Path.cwd()), key="COMMUNE",
                       expected=_(COMMUNE_EXPECTED))
    root = (directory or Path.cwd()) / "inventories" / commune
    if vault_password_file is not None:
        vault_password_file = vault_password_file.expanduser().resolve()
        if not vault_password_file.is_file():
            raise AnlError(_("vault password file not found"), file=str(vault_password_file),
                           key="--vault-password-file", expected=_("an existing file or executable script"))
    # Validate the values before writing anything.
    from anl_stack.inventory.check import _EMAIL, valid_domain

    if not valid_domain(domain):
        raise AnlError(_("{domain!r} is not a domain name").format(domain=domain), key="--domain", expected=_("a DNS name such as mairie.fr"))
    if not _EMAIL.match(email) or not valid_domain(email.rpartition("@")[2]):
        raise AnlError(_("{email!r} is not an e-mail address").format(email=email), key="--email", expected=_("an address such as dsi@mairie.fr"))
    paths = create_inventory(root, commune=commune, domain=domain, email=email, tls_mode=tls_mode,
                             vault_password_file=vault_password_file)
    _inv, records = check_inventory(paths, plugins=[])
    if as_json:
        echo_json({"inventory": str(paths.root), "hosts": str(paths.hosts), "settings": str(paths.settings),
                   "problems": [r.to_dict() for r in records]})
        return
    click.echo(_("Created {path}").format(path=paths.root))
    click.echo(f"  {paths.hosts.relative_to(paths.root)}: " + _("add your servers under the group of each plugin"))
    click.echo(f"  {paths.settings.relative_to(paths.root)}: " + _("commune settings and plugin variables"))
    click.echo("  " + _(TLS_MODE_NOTES[tls_mode]))
    if records:
        # Not errors yet (nothing is deployed), but a deploy would refuse them: said now, not hidden.
        click.echo(_("To do before a deploy (`inventory check` refuses the inventory until then):"))
        for record in records:
            click.echo(f"  - {record.format()}")
    click.echo(_("Next: {command}").format(command=f"anl-stack inventory check -i {paths.root}"))


@click.group("inventory", cls=Group)
def inventory() -> None:
    """Check a commune inventory."""


@inventory.command("check")
@INVENTORY_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def check(inventory: str, as_json: bool) -> None:
    """Validate an inventory before any host is touched (exit 2 on any problem).

    Checks YAML syntax, groups that name no known plugin, plugin settings
    against each role's meta/argument_specs.yml, domains, e-mails, TLS mode
    and SSH ports.
    """
    from anl_stack.inventory.acme_names import acme_name_warnings
    from anl_stack.inventory.check import check_inventory
    from anl_stack.plugins.discovery import discover_plugins

    inv, records = check_inventory(inventory)
    if records:
        fail(AnlError(records, exit_code=ExitCode.REFUSED), json_output=as_json)
    assert inv is not None
    warnings = acme_name_warnings(inv, discover_plugins())
    if as_json:
        echo_json({"valid": True, "inventory": str(inv.paths.root), "hosts": inv.hosts,
                   "groups": {g: m for g, m in inv.groups.items() if g != "all"},
                   "warnings": [w.to_dict() for w in warnings]})
        return
    for warning in warnings:
        click.echo(_("warning: {message}").format(message=warning.format()), err=True)
    groups = ", ".join(f"{g} ({len(m)})" for g, m in inv.groups.items() if g not in ("all", "ungrouped"))
    click.echo(_("ok: {path}: {count} host(s); plugins: {groups}").format(
        path=inv.paths.root, count=len(inv.hosts), groups=groups or _("none yet")))
