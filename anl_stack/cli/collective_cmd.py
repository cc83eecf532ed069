"""``anl-stack collective``: a folder the communes of a collective share, signed by its members.

Thin: anl_stack.collective does the work (docs/collective.md).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from anl_stack.cli.i18n_click import Group
from anl_stack.cli.output import echo_json
from anl_stack.core.errors import AnlError, ExitCode
from anl_stack.core.i18n import _

# Feature packages are imported inside each command (start-up speed).

COLLECTIVE = click.argument("folder", type=click.Path(path_type=Path), metavar="COLLECTIVE")
KEY_OPTION = click.option("--key", required=True, metavar="KEYID",
                          help="Your commune's OpenPGP key (a key id or fingerprint of `gpg --list-secret-keys`).")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _identity(func: Any) -> Any:
    for option in reversed([
        click.option("--commune", required=True, help="The commune's name, as in the members file."),
        click.option("--insee", required=True, help="The commune's INSEE code (5 characters)."),
        click.option("--contact", required=True, help="A contact address (e-mail or web page)."),
    ]):
        func = option(func)
    return func


def _member(commune: str, insee: str, contact: str, key: str) -> Any:
    from anl_stack.collective.model import Member
    from anl_stack.collective.signatures import own_fingerprint

    return Member(commune.strip(), insee.strip().upper(), contact.strip(), own_fingerprint(key))


def _written(path: Path, as_json: bool, message: str) -> None:
    if as_json:
        echo_json({"written": str(path)})
    else:
        click.echo(message.format(file=path))


@click.group("collective", cls=Group)
def collective() -> None:
    """Share with other communes what you run: a members file and one file per commune, all signed."""


@collective.command("init")
@COLLECTIVE
@click.option("--name", required=True, help="The collective's name.")
@click.option("--quorum", type=int, default=2, show_default=True,
              help="How many members must sign every later change of the members file.")
@_identity
@click.option("--founder", "founders", multiple=True, metavar="COMMUNE;INSEE;CONTACT;FINGERPRINT",
              help="Another founding member (repeatable): version 1 then waits for each founder's signature.")
@KEY_OPTION
@JSON_OPTION
def init_cmd(folder: Path, name: str, quorum: int, commune: str, insee: str, contact: str,
             founders: tuple[str, ...], key: str, as_json: bool) -> None:
    """Create a collective in COLLECTIVE with your commune as a founding member (members/0001.yml, signed).

    \b
    With --founder, the other founding communes are listed too; each of them
    then signs version 1 with `anl-stack collective sign`, and the
    collective exists once every founder has signed.
    """
    from anl_stack.collective import members

    others = [_founder(text) for text in founders]
    written = members.init(folder, name=name, quorum=quorum,
                           founders=[_member(commune, insee, contact, key), *others], key=key)
    _written(written, as_json, _("collective created: {file}") if not others else
             _("collective proposed: {file} (each founder signs it with `anl-stack collective sign`)"))


def _founder(text: str) -> Any:
    """``COMMUNE;INSEE;CONTACT;FINGERPRINT`` from --founder (each field checked with the members file)."""
    from anl_stack.collective.model import Member

    parts = [part.strip() for part in text.split(";")]
    if len(parts) != 4 or not all(parts):
        raise AnlError(_("{value!r} is not a founding member").format(value=text), key="--founder",
                       expected="COMMUNE;INSEE;CONTACT;FINGERPRINT")
    commune, insee, contact, fingerprint = parts
    return Member(commune, insee.upper(), contact, fingerprint.replace(" ", "").upper())


@collective.command("join")
@COLLECTIVE
@_identity
@KEY_OPTION
@JSON_OPTION
def join_cmd(folder: Path, commune: str, insee: str, contact: str, key: str, as_json: bool) -> None:
    """Add your commune to the members file: a new version signed with your key, which then needs the quorum."""
    from anl_stack.collective import members

    written = members.join(folder, _member(commune, insee, contact, key), key=key)
    _written(written, as_json, _("members version proposed: {file} (members sign it with `collective sign`)"))


@collective.command("sign")
@COLLECTIVE
@KEY_OPTION
@JSON_OPTION
def sign_cmd(folder: Path, key: str, as_json: bool) -> None:
    """Sign the members version that waits for signatures (read it first: your signature accepts it)."""
    from anl_stack.collective import members

    _written(members.sign(folder, key=key), as_json, _("signature written: {file}"))


@collective.command("remove")
@COLLECTIVE
@click.option("--insee", required=True, help="The INSEE code of the member to remove.")
@KEY_OPTION
@JSON_OPTION
def remove_cmd(folder: Path, insee: str, key: str, as_json: bool) -> None:
    """Propose a members version without a member; it takes effect once the quorum signed it."""
    from anl_stack.collective import members

    written = members.remove(folder, insee.strip().upper(), key=key)
    _written(written, as_json, _("members version proposed: {file} (members sign it with `collective sign`)"))


@collective.command("publish")
@COLLECTIVE
@click.option("-i", "--inventory", "inventory", required=True, type=click.Path(path_type=Path), metavar="PATH",
              help="The commune inventory folder or its hosts.yml.")
@click.option("--report", type=click.Path(path_type=Path), default=None, metavar="FILE.json",
              help="The verify report to publish (default: the newest one under the inventory's .anl-stack/runs/).")
@click.option("--notes", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="Experience notes to publish, a YAML list (default: the ones published before).")
@click.option("--vault-password-file", default=None, envvar="ANL_STACK_VAULT_PASSWORD_FILE",
              help="Vault password file or script (default: from the inventory's settings).")
@KEY_OPTION
@JSON_OPTION
def publish_cmd(folder: Path, inventory: Path, report: Path | None, notes: Path | None,
                vault_password_file: str | None, key: str, as_json: bool) -> None:
    """Write and sign your commune's file: what it runs, at which digest and level, since when; never a secret."""
    from anl_stack.collective.publish import publish

    target, record = publish(folder, inventory, key=key, report=report, notes=notes,
                             vault_password=vault_password_file)
    if as_json:
        echo_json({"written": str(target), "record": record})
        return
    click.echo(_("commune file written and signed: {file} ({count} instances)").format(
        file=target, count=len(record["instances"])))


def _print_problems(data: dict[str, Any]) -> None:
    for problem in data["problems"]:
        from anl_stack.core.errors import ErrorRecord

        click.echo(_("ignored: {problem}").format(problem=ErrorRecord(**problem).format()), err=True)


@collective.command("verify")
@COLLECTIVE
@JSON_OPTION
def verify_cmd(folder: Path, as_json: bool) -> None:
    """Check every signature against the members file; what does not verify is reported and ignored (exit 1)."""
    from anl_stack.collective.verify import verify

    result = verify(folder)
    data = result.to_dict()
    if as_json:
        echo_json(data)
    else:
        if data["collective"]:
            click.echo(_("{name}: members version {version}, {count} members, quorum {quorum}").format(
                name=data["collective"], version=data["members_version"], count=len(data["members"]),
                quorum=data["quorum"]))
        if data["pending"]:
            click.echo(_("members version {version} waits for signatures: {signed} of {needed}").format(
                version=data["pending"]["version"], signed=len(data["pending"]["signed_by"]),
                needed=data["pending"]["needed"]))
        for trusted in data["trusted"]:
            click.echo(_("trusted: {commune} ({file})").format(commune=trusted["commune"], file=trusted["file"]))
        for included in data["included"]:
            click.echo(_("included: {collective} (included/{folder}), index of {date}, {count} communes").format(
                collective=included["collective"], folder=included["folder"], date=included["date"],
                count=len(included["communes"])))
        _print_problems(data)
    sys.exit(int(ExitCode.OK if result.ok else ExitCode.FAILED))


@collective.command("index")
@COLLECTIVE
@KEY_OPTION
@JSON_OPTION
def index_cmd(folder: Path, key: str, as_json: bool) -> None:
    """Write and sign index.yml: the members and the commune files this collective trusts, for others to include."""
    from anl_stack.collective.index_write import make_index

    _written(make_index(folder, key=key), as_json, _("index written and signed: {file}"))


@collective.command("include")
@COLLECTIVE
@click.argument("source", type=click.Path(path_type=Path), metavar="OTHER")
@click.option("--signer", "signers", multiple=True, required=True, metavar="FINGERPRINT",
              help="A key that may sign the other collective's index (repeatable): one of its members'.")
@click.option("--required", type=click.IntRange(1, 99), default=1, show_default=True,
              help="How many of those keys must have signed the index.")
@click.option("--name", default=None, help="The folder name under included/ (default: from the collective's name).")
@KEY_OPTION
@JSON_OPTION
def include_cmd(folder: Path, source: Path, signers: tuple[str, ...], required: int, name: str | None, key: str,
                as_json: bool) -> None:
    """Include the signed index of the collective in OTHER (a copy of its folder) into COLLECTIVE.

    \b
    The index, its signatures by the keys given with --signer and those keys
    go into included/NAME/, with pin.yml (who may sign that index), signed
    with your key. Refused (exit 2, nothing written) unless --required of
    those keys signed the index. Run it again to take a newer index.
    """
    from anl_stack.collective.index import include

    written = include(folder, source, key=key, signers=list(signers), required=required, name=name)
    _written(written, as_json, _("included: {file}"))


@collective.command("sync")
@COLLECTIVE
@click.option("-i", "--inventory", required=True, type=click.Path(path_type=Path), metavar="PATH",
              help="Your commune's inventory folder.")
@click.option("--insee", required=True, help="Your commune's INSEE code, as in the members file.")
@click.option("--dry-run", is_flag=True, help="Show the settings and what would change; write nothing.")
@JSON_OPTION
def sync_cmd(folder: Path, inventory: Path, insee: str, dry_run: bool, as_json: bool) -> None:
    """Fill your federation settings from the other members' verified instances.

    \b
    For each federated tool your inventory runs: nextcloud_trusted_servers,
    peertube_follow_hosts and peertube_redundancy_hosts,
    mastodon_allowed_domains, from the trusted commune files (and included
    indexes) whose last verification passed. Written to
    group_vars/all/collective.yml, which sync owns; `anl-stack plan` then
    shows what a deploy would change.
    """
    from anl_stack.collective.sync import sync

    result = sync(folder, inventory, insee=insee, dry_run=dry_run)
    if as_json:
        echo_json(result.to_dict())
        return
    click.echo(_("federation settings ({file}):").format(file=result.file))
    changes = result.changes()
    for key, values in sorted(result.after.items()):
        click.echo(f"  {key}: {', '.join(values) if values else '-'}")
        if key in changes:
            change = changes[key]
            click.echo("    " + _("added: {added}; removed: {removed}").format(
                added=", ".join(change["added"]) or "-", removed=", ".join(change["removed"]) or "-"))
    for record in result.ignored:
        click.echo(_("ignored: {problem}").format(problem=record.format()), err=True)
    if dry_run:
        click.echo(_("dry run: nothing written"))
    else:
        click.echo(_("written") if result.written else _("unchanged"))


@collective.command("status")
@COLLECTIVE
@JSON_OPTION
def status_cmd(folder: Path, as_json: bool) -> None:
    """Who runs what, at which level, and which member is behind the current recipe (trusted files only)."""
    from anl_stack.collective.status import status

    result = status(folder)
    if as_json:
        echo_json(result.to_dict())
        return
    for row in result.rows:
        level = "-" if row["quality_level"] is None else str(row["quality_level"])
        click.echo(_("{plugin}: {commune} runs {version} ({digest}) at {address}, level {level}, since {since}: "
                     "{state}").format(plugin=row["plugin"], commune=row["commune"], version=row["recipe_version"],
                                       digest=row["digest"][:19], address=row["address"] or "-", level=level,
                                       since=row["since"], state=_(row["state"])))
    for name, recipe in sorted(result.recipes.items()):
        click.echo(_("{plugin}: current recipe {digest}, level {level} with this collective's reviews").format(
            plugin=name, digest=recipe["digest"][:19], level=recipe["level"]))
    if not result.rows:
        click.echo(_("no trusted commune file yet"))
    _print_problems(result.verified.to_dict())
