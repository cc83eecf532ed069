"""The ``anl-stack`` command line.

Subcommands live in their own modules and are imported only when invoked,
so ``--help`` and ``plugins list`` never pay for Ansible or testinfra.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from anl_stack import __version__
from anl_stack.cli.i18n_click import Group
from anl_stack.cli.output import fail
from anl_stack.core.errors import AnlError, ExitCode
from anl_stack.core.i18n import CHILD_LOCALE_VARS, LANGS, N_, Lang, _, detect_language, set_language
from anl_stack.plugin_api import DEPLOY, LIFECYCLE

# name -> (module, attribute, one-line help shown by the root --help)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "plugins": ("anl_stack.cli.plugins_cmd", "plugins", N_("List, show and compare plugins (the catalog of fiches).")),
    "lab": ("anl_stack.cli.lab_cmd", "lab", N_("Disposable Debian lab hosts on this machine (root).")),
    "init": ("anl_stack.cli.inventory_cmd", "init", N_("Create a commune inventory.")),
    "inventory": ("anl_stack.cli.inventory_cmd", "inventory", N_("Check a commune inventory.")),
    "secrets": ("anl_stack.cli.secrets_cmd", "secrets", N_("List or reveal generated secrets.")),
    "plan": ("anl_stack.cli.deploy_cmd", "plan", N_("Show what a deploy would change (check mode).")),
    "deploy": ("anl_stack.cli.deploy_cmd", "deploy", N_("Deploy plugins to a commune's servers.")),
    "verify": ("anl_stack.cli.verify_cmd", "verify", N_("Verify an installation with testinfra checks.")),
    "artifacts": ("anl_stack.cli.artifacts_cmd", "artifacts", N_("Fetch, verify and bundle application releases.")),
    "catalog": ("anl_stack.cli.catalog_cmd", "catalog", N_("Build the catalog site a collective publishes.")),
    "collection": ("anl_stack.cli.collection_cmd", "collection",
                   N_("Build the Ansible collection for AWX / Automation Platform.")),
    "collective": ("anl_stack.cli.collective_cmd", "collective",
                   N_("Share with other communes what you run, signed (a collective's folder).")),
}
# Every lifecycle step the plugin contract declares has a command; deploy has its own (with plan).
SUBCOMMANDS.update({step.name: ("anl_stack.cli.lifecycle_cmd", step.name, step.summary)
                    for step in LIFECYCLE if step is not DEPLOY})
SUBCOMMANDS["backups"] = ("anl_stack.cli.lifecycle_cmd", "backups", N_("List a plugin's backup snapshots."))


class LazyGroup(Group):
    """A group whose subcommands are imported on first use."""

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        """Choose the language before anything is parsed or shown, and give child processes a locale that exists.

        ``--lang`` is read first wherever it is (``anl-stack --help --lang fr``
        shows French help); else the locale decides. The locale variables of
        child processes become C.UTF-8 for the run, and come back afterwards
        (core/i18n.py, child_locale_env).
        """
        argv = list(sys.argv[1:] if args is None else args)
        saved = {k: v for k, v in os.environ.items() if k == "LANGUAGE" or k.startswith("LC_") or k == "LANG"}
        set_language(requested_language(argv) or detect_language())
        for var in saved:
            del os.environ[var]
        os.environ.update(CHILD_LOCALE_VARS)
        try:
            return super().main(argv, *rest, **kwargs)
        finally:
            for var in CHILD_LOCALE_VARS:
                os.environ.pop(var, None)
            os.environ.update(saved)
            set_language(None)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._available())

    def _available(self) -> dict[str, tuple[str, str, str]]:
        # A subcommand module not written yet is simply not offered.
        return {
            name: spec
            for name, spec in SUBCOMMANDS.items()
            if importlib.util.find_spec(spec[0]) is not None
        }

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        spec = self._available().get(name)
        if spec is None:
            return None
        module = importlib.import_module(spec[0])
        return getattr(module, spec[1])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Root help shows short help without importing every subcommand.
        rows = [(name, spec[2]) for name, spec in sorted(self._available().items())]
        rows = [(name, _(summary)) for name, summary in rows]
        if rows:
            with formatter.section(_("Commands")):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AnlError as error:
            fail(error, json_output=_wants_json(ctx))
        except KeyboardInterrupt:
            click.echo(_("Interrupted."), err=True)
            sys.exit(ExitCode.INTERRUPTED)


def _wants_json(ctx: click.Context) -> bool:
    return "--json" in sys.argv[1:]


def requested_language(args: list[str]) -> Lang | None:
    """The language ``--lang`` asks for anywhere on the command line (the last one wins), if valid."""
    found: Lang | None = None
    for position, arg in enumerate(args):
        if arg == "--":
            break
        value = args[position + 1] if arg == "--lang" and position + 1 < len(args) else \
            arg.partition("=")[2] if arg.startswith("--lang=") else None
        if value in LANGS:
            found = value  # type: ignore[assignment]
    return found


def _choose_language(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        set_language(value)  # type: ignore[arg-type]


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="anl-stack")
@click.option("--lang", type=click.Choice(list(LANGS)), default=None, expose_value=False, is_eager=True,
              callback=_choose_language,
              help="Language of messages, help and reports: fr or en (default: fr on a French locale "
                   "(LANGUAGE, LC_ALL, LC_MESSAGES or LANG starting with fr), else en).")
@click.option("--allow-lookups", is_flag=True,
              help="Let the inventory's templates run Ansible lookups on this controller (refused by default: "
                   "a shared inventory is untrusted).")
def cli(allow_lookups: bool) -> None:
    """anl-stack: deploy, verify and share the free software communes run together.

    \b
    Exit codes: 0 success; 1 the work ran and something failed;
    2 refused before touching any host; 130 interrupted.
    """
    if allow_lookups:
        from anl_stack.core.operator import ALLOW_LOOKUPS_ENV

        os.environ[ALLOW_LOOKUPS_ENV] = "1"  # child processes (verify's pytest) see it too


def main() -> None:
    cli(prog_name="anl-stack")
