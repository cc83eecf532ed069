"""``anl-stack lab``: disposable Debian lab hosts on this machine (root)."""

from __future__ import annotations

import os
import sys

import click

from anl_stack.cli.output import echo_json
from anl_stack.core.errors import AnlError

# Feature packages are imported inside each command (start-up speed): `--help` and
# `plugins list` import neither Ansible, testinfra nor pydantic (tests/unit/test_startup.py).


def _err(message: str) -> None:
    click.echo(message, err=True)


@click.group()
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
    click.echo(f"{host.name}: Debian {host.release} ({host.codename}) at {host.address}, "
               f"systemd {host.system_state or 'running'}")
    if host.failed_units:
        click.echo(f"  failed units: {', '.join(host.failed_units)}")
    click.echo(f"  domain:    {host.domain}")
    click.echo(f"  ssh:       anl-stack lab ssh {host.name}")
    click.echo(f"  inventory: {host.inventory}")
    click.echo(f"  remove:    anl-stack lab down {host.name}")


@lab.command("down")
@click.argument("name", required=False)
@click.option("--all", "all_hosts", is_flag=True, help="Remove every lab host.")
def down_cmd(name: str | None, all_hosts: bool) -> None:
    """Stop lab host NAME (or --all) and remove everything made for it."""
    from anl_stack import lab as service

    if bool(name) == all_hosts:
        raise AnlError("give either NAME or --all", key="down", expected="anl-stack lab down NAME | --all")
    if all_hosts:
        removed = service.down_all(log=_err)
        click.echo(f"removed {len(removed)} lab host(s)" + (f": {', '.join(removed)}" if removed else ""))
        return
    assert name is not None
    if not service.down(name, log=_err):
        raise AnlError(f"no lab host named {name}", key="name", expected="a name from `anl-stack lab list`")


@lab.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the hosts as JSON.")
def list_cmd(as_json: bool) -> None:
    """Lab hosts with release, address and state (running, stopped, stale)."""
    from anl_stack import lab as service

    hosts = service.list_hosts()
    if as_json:
        echo_json([h.to_dict() for h in hosts])
        return
    if not hosts:
        click.echo("no lab hosts")
        return
    rows = [("NAME", "DEBIAN", "ADDRESS", "STATE", "DOMAIN")]
    rows += [(h.name, h.release, h.address, h.status, h.domain) for h in hosts]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def _host(name: str):
    from anl_stack import lab as service

    host = service.get(name)
    if host is None:
        raise AnlError(f"no lab host named {name}", key="name", expected="a name from `anl-stack lab list`")
    return host


@lab.command("link")
@click.argument("source")
@click.argument("target")
@click.option("--port", type=int, default=22, show_default=True, help="TCP port opened on TARGET.")
def link_cmd(source: str, target: str, port: int) -> None:
    """Let lab host SOURCE reach TARGET's PORT (e.g. SSH to a backup partner); nothing else opens."""
    from anl_stack import lab as lab_api

    lab_api.link(source, target, port)
    click.echo(f"{source} may now open TCP {port} on {target}")


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
