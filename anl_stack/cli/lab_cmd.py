"""``anl-stack lab``: disposable Debian lab hosts on this machine (root)."""

from __future__ import annotations

import os
import sys

import click

from anl_stack.cli.i18n_click import Group
from anl_stack.cli.output import echo_json
from anl_stack.core.errors import AnlError
from anl_stack.core.i18n import _

# Feature packages are imported inside each command (start-up speed): `--help` and
# `plugins list` import neither Ansible, testinfra nor pydantic (tests/unit/test_startup.py).


def _err(message: str) -> None:
    click.echo(message, err=True)


@click.group(cls=Group)
def lab() -> None:
    """Disposable Debian 13/12 servers booted with systemd-nspawn (needs root).

    \b
    Each host gets its own address (10.77.x.y), an SSH key made by the lab,
    the name NAME.anl.test on this machine, and a commune-style inventory.
    Lab hosts reach only the Debian mirror and the resolver this machine uses.
    """


@lab.command("up")
@click.argument("name")
@click.option("--debian", "release", type=click.Choice(["13", "12"]), default="13",
              show_default=True, help="Debian release of the host.")
@click.option("--json", "as_json", is_flag=True, help="Print the host as JSON.")
def up_cmd(name: str, release: str, as_json: bool) -> None:
    """Start lab host NAME (nothing changes if it is already up)."""
    from anl_stack import lab as service

    host = service.up(name, release, log=_err)
    if as_json:
        echo_json(host.to_dict())
        return
    click.echo(_("{name}: Debian {release} ({codename}) at {address}, systemd {state}").format(
        name=host.name, release=host.release, codename=host.codename, address=host.address,
        state=host.system_state or _("running")))
    if host.failed_units:
        click.echo("  " + _("failed units: {units}").format(units=", ".join(host.failed_units)))
    rows = [(_("domain:"), host.domain), (_("ssh:"), f"anl-stack lab ssh {host.name}"),
            (_("inventory:"), host.inventory), (_("remove:"), f"anl-stack lab down {host.name}")]
    width = max(len(title) for title, _value in rows)
    for title, value in rows:
        click.echo(f"  {title:<{width}} {value}")


@lab.command("down", help="Stop lab host NAME (or --all) and remove everything made for it.")
@click.argument("name", required=False)
@click.option("--all", "all_hosts", is_flag=True,
              help="Remove every lab host you created (other people's hosts stay, see --everyone).")
@click.option("--everyone", is_flag=True,
              help="With --all: also the hosts other people created on this machine (asks first).")
@click.option("--yes", is_flag=True, help="With --everyone: do not ask for confirmation.")
def down_cmd(name: str | None, all_hosts: bool, everyone: bool, yes: bool) -> None:
    from anl_stack import lab as service

    usage = "anl-stack lab down NAME | --all [--everyone [--yes]]"
    if everyone and not all_hosts:
        raise AnlError(_("--everyone goes with --all"), key="--everyone", expected=usage)
    if yes and not everyone:
        raise AnlError(_("--yes goes with --everyone"), key="--yes", expected=usage)
    if bool(name) == all_hosts:
        raise AnlError(_("give either NAME or --all"), key="down", expected=usage)
    if not all_hosts:
        assert name is not None
        if not service.down(name, log=_err):
            raise AnlError(_("no lab host named {name}").format(name=name), key="name",
                           expected=_("a name from `anl-stack lab list`"))
        return
    selection = service.select_all()
    if everyone and selection.others and not yes:
        _confirm_removal(selection.others)
    removed = service.down_hosts(selection.mine + (list(selection.others) if everyone else []), log=_err)
    if removed:
        click.echo(_("removed {count} lab host(s): {hosts}").format(count=len(removed), hosts=", ".join(removed)))
    else:
        click.echo(_("removed no lab host"))
    if selection.others and not everyone:
        click.echo(_("kept {count} lab host(s) created by other people: {hosts}; "
                     "`anl-stack lab down --all --everyone` removes them too").format(
            count=len(selection.others), hosts=_creators(selection.others)))


def _creators(others: dict[str, str | None]) -> str:
    unknown = _("creator not recorded")
    return ", ".join(f"{name} ({user or unknown})" for name, user in others.items())


def _confirm_removal(others: dict[str, str | None]) -> None:
    """Ask before removing other people's hosts; anything but yes removes nothing (exit 2)."""
    question = _("Remove also the lab hosts other people created: {hosts}?").format(hosts=_creators(others))
    try:
        confirmed = click.confirm(question, default=False)
    except click.Abort:  # no terminal to answer on (a script without --yes)
        confirmed = False
    if not confirmed:
        raise AnlError(_("not confirmed: no lab host was removed"), key="--everyone",
                       expected=_("an answer yes, or --yes"))


@lab.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the hosts as JSON.")
def list_cmd(as_json: bool) -> None:
    """Lab hosts with release, address, state (running, stopped, stale) and creator."""
    from anl_stack import lab as service

    hosts = service.list_hosts()
    if as_json:
        echo_json([h.to_dict() for h in hosts])
        return
    if not hosts:
        click.echo(_("no lab hosts"))
        return
    rows = [(_("NAME"), "DEBIAN", _("ADDRESS"), _("STATE"), _("DOMAIN"), _("CREATED BY"))]
    rows += [(h.name, h.release, h.address, service.status_label(h.status), h.domain, h.creator or "-") for h in hosts]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def _host(name: str):
    from anl_stack import lab as service

    host = service.get(name)
    if host is None:
        raise AnlError(_("no lab host named {name}").format(name=name), key="name",
                       expected=_("a name from `anl-stack lab list`"))
    return host


@lab.command("link")
@click.argument("source")
@click.argument("target")
@click.option("--port", type=int, default=22, show_default=True, help="TCP port opened on TARGET.")
def link_cmd(source: str, target: str, port: int) -> None:
    """Let lab host SOURCE reach TARGET's PORT (e.g. SSH to a backup partner); nothing else opens."""
    from anl_stack import lab as lab_api

    lab_api.link(source, target, port)
    click.echo(_("{source} may now open TCP {port} on {target}").format(source=source, port=port, target=target))


@lab.command("ssh", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def ssh_cmd(name: str, command: tuple[str, ...]) -> None:
    """Open a root shell on NAME, or run COMMAND there (after --)."""
    host = _host(name)
    # Like ssh itself: the words after -- form one remote command line.
    args = host.ssh_command(" ".join(command) if command else None)
    if not command and sys.stdin.isatty():
        args.insert(1, "-t")
    os.execvp(args[0], args)


@lab.command("inventory")
@click.argument("name")
def inventory_cmd(name: str) -> None:
    """Print the path of NAME's commune-style inventory."""
    click.echo(str(_host(name).inventory))
